/* Helpers shared by the benchmarks (bench_util.h). */
#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double xb_bench_urand_splitmix(unsigned long long *s)
{
    unsigned long long z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

double xb_bench_urand_xorshift(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

double xb_bench_cpu_s(void) { return (double)clock() / CLOCKS_PER_SEC; }

int xb_bench_run(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0) return 127;
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) < 0) return 1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

double xb_bench_rel_l2(const float *a, const float *ref, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        s += (double)ref[i] * ref[i];
    }
    return s > 0 ? sqrt(d / s) : sqrt(d);
}

int xb_bench_cache_load(const char *who, const char *path, const char *magic, const xb_network *net, size_t n,
                        float **acts, double *scalars, size_t n_scalars)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) return 0;
    char m[6] = {0};
    size_t nn = 0, nl = 0, ok = fread(m, 1, 5, f) == 5 && !strncmp(m, magic, 5);
    ok = ok && fread(&nn, sizeof nn, 1, f) == 1 && fread(&nl, sizeof nl, 1, f) == 1 && nn == n &&
         nl == xb_network_n_layers(net);
    for (size_t k = 0; ok && k < nl; k++) {
        size_t sz = 0;
        ok = fread(&sz, sizeof sz, 1, f) == 1 && sz == xb_layer_out_size(xb_network_layer(net, k));
    }
    ok = ok && fread(scalars, sizeof *scalars, n_scalars, f) == n_scalars;
    for (size_t k = 0; ok && k < nl; k++) {
        const size_t sz = n * xb_layer_out_size(xb_network_layer(net, k));
        ok = fread(acts[k], sizeof(float), sz, f) == sz;
    }
    fclose(f);
    if (!ok) fprintf(stderr, "%s: %s: not a cache for these images and network, ignored\n", who, path);
    return (int)ok;
}

void xb_bench_cache_save(const char *who, const char *path, const char *magic, const xb_network *net, size_t n,
                         float *const *acts, const double *scalars, size_t n_scalars)
{
    FILE *f = path ? fopen(path, "wb") : NULL;
    if (!f) return;
    const size_t nl = xb_network_n_layers(net);
    fwrite(magic, 1, 5, f);
    fwrite(&n, sizeof n, 1, f);
    fwrite(&nl, sizeof nl, 1, f);
    for (size_t k = 0; k < nl; k++) {
        const size_t sz = xb_layer_out_size(xb_network_layer(net, k));
        fwrite(&sz, sizeof sz, 1, f);
    }
    fwrite(scalars, sizeof *scalars, n_scalars, f);
    for (size_t k = 0; k < nl; k++) fwrite(acts[k], sizeof(float), n * xb_layer_out_size(xb_network_layer(net, k)), f);
    if (fclose(f)) fprintf(stderr, "%s: %s: write failed\n", who, path);
}
