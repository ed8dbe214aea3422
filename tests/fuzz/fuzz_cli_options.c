/* libFuzzer target: CLI array-option values (xb_cli_array_option), the G/V checks
 * behind every array command.  The input is split at NUL/newline bytes into argv. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *argv[64];
    int argc = 0;
    argv[argc++] = "mvm";
    char *s = buf;
    for (size_t k = 0; k <= size && argc < 63; k++) {
        if (buf[k] == '\n' || buf[k] == '\0') {
            buf[k] = '\0';
            argv[argc++] = s;
            s = buf + k + 1;
        }
    }
    argv[argc] = NULL;
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    xb_error err;
    xb_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        int r = xb_cli_array_option(argc, argv, &i, &p, &err);
        if (r < 0) {
            if (err.code != XB_EINPUT || err.msg[0] == '\0' || strchr(err.msg, '\n')) abort();
            break;
        }
    }
    if (p.rows && p.cols) {
        int rc = xb_array_params_check(&p, &err);
        if (rc != XB_OK && (err.msg[0] == '\0' || strchr(err.msg, '\n'))) abort();
    }
    free(buf);
    return 0;
}
