/* Test helper: stock `ngspice -b` as the independent reference (see xb_spice_ref.h). */
#include "support/xb_spice_ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/xb_test.h"

#ifndef XB_NGSPICE_EXE
#define XB_NGSPICE_EXE "ngspice"
#endif

int xb_spice_ref_run(const char *dir, const char *name, const char *body, const char *analysis,
                     const char *vectors, double **data, size_t *nrows, size_t *ncols)
{
    *data = NULL;
    *nrows = *ncols = 0;
    size_t n = strlen(body) + strlen(analysis) + strlen(vectors) + 2 * strlen(dir) + 2 * strlen(name) + 512;
    char *deck = malloc(n);
    char outpath[1024];
    snprintf(outpath, sizeof outpath, "%s/%s.out", dir, name);
    snprintf(deck, n,
             "* %s\n%s\n%s\n.control\nset wr_singlescale\nset wr_vecnames\noption numdgt=15\nrun\n"
             "wrdata %s %s\nquit 0\n.endc\n.end\n",
             name, body, analysis, outpath, vectors);
    char fname[256];
    snprintf(fname, sizeof fname, "%s.cir", name);
    char *cir = xb_test_write_file(dir, fname, deck);
    free(deck);
    remove(outpath);
    char *argv[] = {XB_NGSPICE_EXE, "-b", cir, NULL};
    char *out = NULL, *err = NULL;
    int rc = xb_test_run(argv, &out, &err);
    free(cir);
    FILE *f = fopen(outpath, "r");
    if (rc != 0 || !f) {
        fprintf(stderr, "ngspice failed (rc %d):\n%s\n%s\n", rc, out ? out : "", err ? err : "");
        free(out);
        free(err);
        if (f) fclose(f);
        return -1;
    }
    free(out);
    free(err);
    char line[65536];
    size_t cap = 0, rows = 0, cols = 0;
    double *d = NULL;
    int header = 1;
    while (fgets(line, sizeof line, f)) {
        if (header) { header = 0; continue; }
        size_t c = 0;
        char *s = line, *end;
        double vals[256];
        for (;;) {
            double v = strtod(s, &end);
            if (end == s || c >= 256) break;
            vals[c++] = v;
            s = end;
        }
        if (c == 0) continue;
        if (cols == 0) cols = c;
        if (c != cols) break;
        if ((rows + 1) * cols > cap) {
            cap = 2 * (rows + 1) * cols;
            d = realloc(d, cap * sizeof *d);
        }
        memcpy(d + rows * cols, vals, cols * sizeof *d);
        rows++;
    }
    fclose(f);
    *data = d;
    *nrows = rows;
    *ncols = cols;
    return rows > 0 ? 0 : -1;
}
