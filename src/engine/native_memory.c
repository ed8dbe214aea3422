/* Memory of the native engine before it allocates: an estimate from the array's shape, the
 * memory this process may still use, and the early refusal of nv_engine_new
 * (docs/native.md, "Memory").
 *
 * The factor dominates.  With nested dissection of the crossbar grid the factor of an
 * n-unknown circuit has ~c n log2(n) entries; measured (docs/native.md): 128x128 1R
 * 5.9e5 entries for 32 768 unknowns (c = 1.2), 512x512 1R 1.37e7 for 524 288 (c = 1.38),
 * 1024x1024 RRAM read circuit 6.3e7 for 2.1e6 (c = 1.43); c = 1.6 keeps the estimate above
 * them.  KLU (1T1R) stores L and U: 2.9e7 at 512x512, twice CHOLMOD's L.  CHOLMOD's
 * supernodal L costs 8 bytes per value plus its row indices and the update workspace of
 * the numeric factorization: 16 bytes per entry bound the measured peaks (1024x1024 RRAM
 * read: 1446 MB for 6.3e7 entries, the rest of the engine included). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "engine/native_internal.h"
#include "xbar/engine.h"

#define NV_FILL_C 1.6           /* factor entries / (n log2 n), above every measurement */
#define NV_FACTOR_BYTES 16.0    /* per factor entry: value, index share, workspace */
#define NV_RHS_BYTES (128.0 * 1024 * 1024) /* the right-hand-side block (native.c) */

int xb_engine_native_memory_estimate(const xb_array_params *p, double *bytes, double *nnz_factor)
{
    if (!p || !bytes) return XB_EINPUT;
    const double cells = (double)p->rows * (double)p->cols;
    const int three = p->cell != XB_CELL_1R; /* an internal node per cell */
    /* unknowns: a row and a column node per cell (with wire resistance), the internal node */
    double per_cell = (p->r_wire_row_ohm > 0 ? 1 : 0) + (p->r_wire_col_ohm > 0 ? 1 : 0) + (three ? 1 : 0);
    double n = per_cell * cells + (double)p->rows + (double)p->cols;
    double n_el = cells * (three ? 2 : 1) + 2 * cells + (double)p->rows + (double)p->cols;
    double fill = NV_FILL_C * n * log2(n > 2 ? n : 2) * (p->cell == XB_CELL_1T1R ? 2.0 : 1.0);
    double circuit = n_el * 33 + cells * 58 + (n + n_el) * 4 + n * 4; /* native_build.c's arrays */
    double matrix = (n + n_el) * 12 * (p->cell == XB_CELL_1T1R ? 2.0 : 1.0);
    double vectors = 8 * n * 8 + 2 * cells * 8; /* Newton vectors; the tile's and caller's G */
    double rhs = n * 8 * 256 < NV_RHS_BYTES ? n * 8 * 256 : NV_RHS_BYTES;
    /* 1.25: allocator slack and the library's workspaces beyond the factor (measured:
     * 1024x1024 linear, 256 vectors, peak 1677 MB against 1594 MB for the terms above) */
    *bytes = 1.25 * (fill * NV_FACTOR_BYTES + circuit + matrix + vectors + rhs);
    if (nnz_factor) *nnz_factor = fill;
    return XB_OK;
}

double xb_engine_memory_available(void)
{
    double avail = INFINITY;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            double kb;
            if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) {
                avail = kb * 1024.0;
                break;
            }
        }
        fclose(f);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (double)rl.rlim_cur < avail)
        avail = (double)rl.rlim_cur;
    return avail;
}

int xb_engine_native_memory_check(const xb_array_params *p, double avail_bytes, xb_error *err)
{
    double need = 0, fill = 0;
    if (xb_engine_native_memory_estimate(p, &need, &fill)) return xb_errorf(err, XB_EINPUT, "native: no array");
    if (need <= avail_bytes) return XB_OK;
    return xb_errorf(err, XB_ERUNTIME,
                     "native: a %zux%zu %s array needs ~%.1f GB (~%.2g entries in its factor), only %.1f GB of "
                     "memory are available: use smaller tiles",
                     p->rows, p->cols, xb_cell_name(p->cell), need / 1e9, fill, avail_bytes / 1e9);
}
