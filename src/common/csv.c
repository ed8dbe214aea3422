/* CSV matrices: the file contract of `xbar mvm` / `xbar netlist` (docs/cli.md).
 * The whole file is read into memory and parsed in place; every error names
 * name:line (and the field), so a user can go straight to the bad value. */
#include "xbar/common.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

xb_matrix *xb_matrix_new(size_t rows, size_t cols)
{
    xb_matrix *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->rows = rows;
    m->cols = cols;
    size_t n = rows * cols;
    if (rows && n / rows != cols) { free(m); return NULL; }
    m->data = calloc(n ? n : 1, sizeof *m->data);
    if (!m->data) { free(m); return NULL; }
    return m;
}

void xb_matrix_free(xb_matrix *m)
{
    if (!m) return;
    free(m->data);
    free(m);
}

static int is_blank_line(const char *s, const char *e)
{
    for (; s < e; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r') return 0;
    return 1;
}

int xb_csv_parse_matrix(const char *text, size_t len, const char *name, xb_matrix **out,
                        xb_error *err)
{
    *out = NULL;
    size_t cap = 0, n = 0, rows = 0, cols = 0;
    double *vals = NULL;
    const char *p = text, *end = text + len;
    size_t lineno = 0;
    char buf[128];

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        lineno++;
        const char *q = p;
        while (q < eol && (*q == ' ' || *q == '\t')) q++;
        if (q == eol || *q == '#' || is_blank_line(q, eol)) { p = eol + 1; continue; }

        size_t fields = 0;
        const char *f = q;
        for (;;) {
            const char *comma = memchr(f, ',', (size_t)(eol - f));
            const char *fe = comma ? comma : eol;
            const char *a = f, *b = fe;
            while (a < b && (*a == ' ' || *a == '\t')) a++;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) b--;
            fields++;
            size_t flen = (size_t)(b - a);
            if (flen == 0) {
                free(vals);
                return xb_errorf(err, XB_EINPUT, "%s:%zu: field %zu is empty", name, lineno, fields);
            }
            if (flen >= sizeof buf) {
                free(vals);
                return xb_errorf(err, XB_EINPUT, "%s:%zu: field %zu is not a number (too long)", name,
                                 lineno, fields);
            }
            memcpy(buf, a, flen);
            buf[flen] = '\0';
            char *ep = NULL;
            errno = 0;
            double v = strtod(buf, &ep);
            if (ep == buf || *ep != '\0') {
                free(vals);
                return xb_errorf(err, XB_EINPUT, "%s:%zu: field %zu '%s' is not a number", name, lineno,
                                 fields, buf);
            }
            if (!isfinite(v) || errno == ERANGE) {
                free(vals);
                return xb_errorf(err, XB_EINPUT, "%s:%zu: field %zu '%s' is out of range", name, lineno,
                                 fields, buf);
            }
            if (n == cap) {
                size_t nc = cap ? 2 * cap : 256;
                double *nv = realloc(vals, nc * sizeof *nv);
                if (!nv) { free(vals); return xb_errorf(err, XB_ERUNTIME, "%s: out of memory", name); }
                vals = nv;
                cap = nc;
            }
            vals[n++] = v;
            if (!comma) break;
            f = comma + 1;
        }
        if (rows == 0) cols = fields;
        else if (fields != cols) {
            free(vals);
            return xb_errorf(err, XB_EINPUT, "%s:%zu: %zu fields, expected %zu like the first row", name,
                             lineno, fields, cols);
        }
        rows++;
        p = eol + 1;
    }
    if (rows == 0) { free(vals); return xb_errorf(err, XB_EINPUT, "%s: no data rows", name); }
    xb_matrix *m = calloc(1, sizeof *m);
    if (!m) { free(vals); return xb_errorf(err, XB_ERUNTIME, "%s: out of memory", name); }
    m->rows = rows;
    m->cols = cols;
    m->data = vals;
    *out = m;
    return XB_OK;
}

int xb_csv_read_matrix(const char *path, xb_matrix **out, xb_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return xb_errorf(err, XB_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) { fclose(f); return xb_errorf(err, XB_ERUNTIME, "%s: out of memory", path); }
    size_t got;
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); fclose(f); return xb_errorf(err, XB_ERUNTIME, "%s: out of memory", path); }
            buf = nb;
            cap *= 2;
        }
    }
    int rd_err = ferror(f);
    fclose(f);
    if (rd_err) { free(buf); return xb_errorf(err, XB_EINPUT, "%s: read error", path); }
    int rc = xb_csv_parse_matrix(buf, len, path, out, err);
    free(buf);
    return rc;
}

int xb_csv_fwrite_matrix(FILE *f, const xb_matrix *m)
{
    for (size_t i = 0; i < m->rows; i++) {
        const double *r = xb_matrix_row(m, i);
        for (size_t j = 0; j < m->cols; j++)
            if (fprintf(f, j ? ",%.17g" : "%.17g", r[j]) < 0) return XB_ERUNTIME;
        if (fputc('\n', f) == EOF) return XB_ERUNTIME;
    }
    return XB_OK;
}

int xb_csv_write_matrix(const char *path, const xb_matrix *m, xb_error *err)
{
    /* through xb_afile: a full disk leaves the previous file (or none), never a partial CSV;
     * "-" or NULL is stdout */
    xb_afile *a;
    int rc = xb_afile_open(path ? path : "-", &a, err);
    if (rc) return rc;
    xb_csv_fwrite_matrix(xb_afile_stream(a), m); /* a failed write is kept by the stream */
    return xb_afile_commit(a, err);
}
