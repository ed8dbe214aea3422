/* Helpers shared by the benchmarks (bench_util.h). */
#include "bench_util.h"

#include <stdlib.h>
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

float **xb_bench_acts_new(const xb_network *net, size_t n)
{
    size_t nl = xb_network_n_layers(net);
    float **a = calloc(nl, sizeof *a);
    for (size_t k = 0; a && k < nl; k++) a[k] = malloc(n * xb_layer_out_size(xb_network_layer(net, k)) * sizeof(float));
    return a;
}

void xb_bench_acts_free(float **a, size_t n_layers)
{
    if (!a) return;
    for (size_t k = 0; k < n_layers; k++) free(a[k]);
    free(a);
}
