/* libFuzzer target: the CSV matrix parser (G.csv / V.csv contract). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xbar/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xb_matrix *m = NULL;
    xb_error err;
    int rc = xb_csv_parse_matrix((const char *)data, size, "fuzz.csv", &m, &err);
    if (rc == XB_OK) {
        /* Invariants: a parsed matrix is non-empty, rectangular, and every value is finite. */
        if (!m || m->rows == 0 || m->cols == 0) abort();
        for (size_t k = 0; k < m->rows * m->cols; k++)
            if (m->data[k] != m->data[k]) abort();
        xb_matrix_free(m);
    } else {
        if (m) abort();
        if (err.msg[0] == '\0' || strchr(err.msg, '\n')) abort(); /* one line, never empty */
    }
    return 0;
}
