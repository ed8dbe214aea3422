/* Helpers shared by the benchmarks (bench/bench_*.c): seeded uniform draws, CPU time, a
 * child xbar process, per-layer activation buffers.  Benchmarks only; never in libxbar. */
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
/* One float buffer of n x out_size per layer of net (free with xb_bench_acts_free). */
float **xb_bench_acts_new(const xb_network *net, size_t n);
void xb_bench_acts_free(float **a, size_t n_layers);

#endif
