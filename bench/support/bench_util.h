/* Helpers shared by the benchmarks (bench/bench_*.c): seeded uniform draws, CPU time, a
 * child xbar process, rel-L2, activation caches.  Benchmarks only; never in libxbar. */
#ifndef XB_BENCH_UTIL_H
#define XB_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "xbar/exec.h"

/* Uniform draw in [0, 1) from a splitmix64 stream (state *s advances). */
double xb_bench_urand_splitmix(unsigned long long *s);
/* Uniform draw in [0, 1) from an xorshift64* stream (state *s advances; must not be 0). */
double xb_bench_urand_xorshift(uint64_t *s);
/* CPU time of the process so far, seconds (clock()). */
double xb_bench_cpu_s(void);
/* Run argv (argv[0] a path) in a child process and wait: its exit status, 1 if it did not
 * exit normally, 127 if it could not be started. */
int xb_bench_run(char *const argv[]);
/* Relative L2 distance ||a - ref|| / ||ref|| (absolute when ref is 0), in double. */
double xb_bench_rel_l2(const float *a, const float *ref, size_t n);
/* A cache of a slow reference run's activations (n images through net), so that later runs
 * skip it.  Binary: the 5-character magic, n, the layer count, every layer's output size, the
 * n_scalars doubles (accuracy, times ...), then every layer's n x out_size floats.  Load
 * returns 1 when path holds a cache for these images and network (acts and scalars filled),
 * 0 otherwise (a present but mismatched file is reported on stderr, tagged `who`). */
int xb_bench_cache_load(const char *who, const char *path, const char *magic, const xb_network *net, size_t n,
                        float **acts, double *scalars, size_t n_scalars);
void xb_bench_cache_save(const char *who, const char *path, const char *magic, const xb_network *net, size_t n,
                         float *const *acts, const double *scalars, size_t n_scalars);

#endif
