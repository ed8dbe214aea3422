/* OpenBLAS thread count switches, each restored by its _end (include/xbar/common.h). */
#include "xbar/common.h"

/* OpenBLAS extensions (cblas.h of OpenBLAS declares them; GSL's headers would clash) */
extern int openblas_get_num_threads(void);
extern void openblas_set_num_threads(int num_threads);

int xb_blas_threads_begin(int n)
{
    int previous = openblas_get_num_threads();
    if (n >= 1 && n != previous) openblas_set_num_threads(n);
    return previous;
}

void xb_blas_threads_end(int previous)
{
    if (previous >= 1 && openblas_get_num_threads() != previous) openblas_set_num_threads(previous);
}

int xb_blas_threads(void) { return openblas_get_num_threads(); }

int xb_blas_serial_begin(void) { return xb_blas_threads_begin(1); }

void xb_blas_serial_end(int previous) { xb_blas_threads_end(previous); }
