/* OpenBLAS thread count switch (include/xbar/common.h). */
#include "xbar/common.h"

/* OpenBLAS extensions (cblas.h of OpenBLAS declares them; GSL's headers would clash) */
extern int openblas_get_num_threads(void);
extern void openblas_set_num_threads(int num_threads);

int xb_blas_serial_begin(void)
{
    int n = openblas_get_num_threads();
    if (n > 1) openblas_set_num_threads(1);
    return n;
}

void xb_blas_serial_end(int previous)
{
    if (previous > 1) openblas_set_num_threads(previous);
}
