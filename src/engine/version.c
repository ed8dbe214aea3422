/* Run-time version of the loaded libngspice.  ngspice has no version API in 39;
 * it prints its version through the printf callback on `version -s`. */
#include "xbar/engine.h"

#include <stdbool.h> /* sharedspice.h uses bool without including it */
#include <ngspice/sharedspice.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t n;
} version_capture;

static int capture_cb(char *line, int id, void *user)
{
    version_capture *c = user;
    /* ngspice prefixes callback lines with "stdout " or "stderr " and decorates
     * them with "** "; keep the version line and the build date. */
    const char *s = line;
    if (strncmp(s, "stdout ", 7) == 0) s += 7;
    while (*s == '*' || *s == ' ') s++;
    size_t used = strlen(c->buf);
    if (used == 0 && strncmp(s, "ngspice-", 8) == 0) {
        snprintf(c->buf, c->n, "%s", s);
    } else if (used && !strchr(c->buf, '(') && strncmp(s, "Creation Date: ", 15) == 0) {
        snprintf(c->buf + used, c->n - used, " (built %s)", s + 15);
    }
    return 0;
}

static int exit_cb(int status, NG_BOOL immediate, NG_BOOL quit, int id, void *user) { return 0; }

int xb_engine_ngspice_version_inprocess(char *buf, size_t n)
{
    if (!buf || n == 0) return XB_EINPUT;
    buf[0] = '\0';
    /* libngspice keeps the callback's user pointer for the life of the process,
     * so the capture target must outlive this call. */
    static char line[256];
    static version_capture c = {line, sizeof line};
    line[0] = '\0';
    if (ngSpice_Init(capture_cb, NULL, exit_cb, NULL, NULL, NULL, &c) != 0) return XB_ERUNTIME;
    ngSpice_Command("version -s");
    snprintf(buf, n, "%s", line);
    return buf[0] ? XB_OK : XB_ERUNTIME;
}
