/* bench_mvm: `xbar mvm --engine spice` (K vectors, one batched analysis) against K separate
 * `ngspice -b` runs of the equivalent single-vector netlist (`xbar netlist` with one vector),
 * side by side in one run.  RRAM, 1R, 2.5 ohm wires, K = 32, at 32x32 and 64x64.
 *
 * usage: bench_mvm [--sizes 32,64] [--k 32] [--separate N]
 *   --separate N  time only N of the K separate runs and scale by K/N (default: all K) */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <math.h>
#include <unistd.h>

#include "xbar/common.h"
#include "xbar/netlist.h"
#include "bench_util.h"

extern char **environ;

/* Run argv with stdout/stderr to files (or /dev/null); returns the exit status. */
static int run(char *const argv[], const char *out_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return -1;
    int st;
    if (waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Relative difference (max over columns, scaled by the row's max |I|) between the last
 * numeric line of an ngspice -b log (trailing n numbers) and row k of a CSV; -1 on error. */
static double row_diff(const char *log_path, const char *csv_path, size_t k, size_t n)
{
    FILE *f = fopen(log_path, "r");
    if (!f) return -1;
    char line[1 << 16];
    double *last = calloc(n, sizeof *last), *vals = calloc(n + 8, sizeof *vals);
    int found = 0;
    size_t nscalar = 0;
    while (fgets(line, sizeof line, f)) {
        /* K = 1: ngspice prints scalars as "i(vsJ) = value" */
        size_t jj;
        char *eq = strstr(line, " = ");
        if (sscanf(line, "i(vs%zu)", &jj) == 1 && eq && jj < n) {
            last[jj] = strtod(eq + 3, NULL);
            if (++nscalar == n) found = 1;
            continue;
        }
        size_t c = 0;
        char *s = line, *e;
        int ok = 1;
        for (;;) {
            while (*s == ' ' || *s == '\t') s++;
            if (!*s || *s == '\n') break;
            double x = strtod(s, &e);
            if (e == s) { ok = 0; break; }
            if (c < n + 8) vals[c] = x;
            c++;
            s = e;
        }
        if (ok && c == n + 2) {
            memcpy(last, vals + 2, n * sizeof *last);
            found = 1;
        }
    }
    fclose(f);
    xb_matrix *m = NULL;
    xb_error err;
    double worst = -1;
    if (found && xb_csv_read_matrix(csv_path, &m, &err) == XB_OK && m->cols == n && k < m->rows) {
        double scale = 0;
        for (size_t j = 0; j < n; j++) scale = fabs(m->data[k * n + j]) > scale ? fabs(m->data[k * n + j]) : scale;
        worst = 0;
        for (size_t j = 0; j < n; j++) {
            double d = fabs(m->data[k * n + j] - last[j]) / scale;
            if (d > worst) worst = d;
        }
    }
    xb_matrix_free(m);
    free(last);
    free(vals);
    return worst;
}

/* Deterministic uniform numbers (xorshift64*), no dependence on libc rand. */
static int write_matrix(const char *path, const xb_matrix *m)
{
    xb_error err;
    return xb_csv_write_matrix(path, m, &err);
}

/* The largest relative difference between two CSV current files (NaN if unreadable). */
static double max_rel_diff(const char *a, const char *b)
{
    xb_matrix *ma = NULL, *mb = NULL;
    xb_error err;
    double worst = -1;
    if (xb_csv_read_matrix(a, &ma, &err) == XB_OK && xb_csv_read_matrix(b, &mb, &err) == XB_OK &&
        ma->rows == mb->rows && ma->cols == mb->cols) {
        double scale = 0;
        for (size_t k = 0; k < ma->rows * ma->cols; k++)
            if (ma->data[k] > scale || -ma->data[k] > scale) scale = ma->data[k] > 0 ? ma->data[k] : -ma->data[k];
        worst = 0;
        for (size_t k = 0; k < ma->rows * ma->cols; k++) {
            double d = ma->data[k] - mb->data[k];
            if (d < 0) d = -d;
            if (d / scale > worst) worst = d / scale;
        }
    }
    xb_matrix_free(ma);
    xb_matrix_free(mb);
    return worst;
}

int main(int argc, char **argv)
{
    size_t sizes[8] = {32, 64}, nsizes = 2, K = 32, separate = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            nsizes = 0;
            for (char *save = NULL, *t = strtok_r(argv[++i], ",", &save); t && nsizes < 8; t = strtok_r(NULL, ",", &save))
                sizes[nsizes++] = (size_t)strtoul(t, NULL, 10);
        } else if (strcmp(argv[i], "--k") == 0 && i + 1 < argc) {
            K = (size_t)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--separate") == 0 && i + 1 < argc) {
            separate = (size_t)strtoul(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: bench_mvm [--sizes 32,64] [--k 32] [--separate N]\n");
            return 2;
        }
    }
    if (K == 0) K = 1;
    if (separate == 0 || separate > K) separate = K;
    char dir[] = "/tmp/bench_mvm_XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    printf("bench_mvm: rram 1R, r_wire 2.5 ohm, K = %zu vectors; separate runs timed: %zu of %zu\n", K, separate, K);
    printf("%6s %14s %14s %14s %10s\n", "size", "batched_s", "separate_s", "per_vector_s", "speedup");
    uint64_t seed = 12345;
    for (size_t s = 0; s < nsizes; s++) {
        size_t n = sizes[s];
        xb_array_params p;
        xb_array_params_default(&p, XB_DEVICE_RRAM);
        xb_matrix *g = xb_matrix_new(n, n), *v = xb_matrix_new(K, n), *v1 = xb_matrix_new(1, n);
        for (size_t k = 0; k < n * n; k++) g->data[k] = p.g_min_siemens + xb_bench_urand_xorshift(&seed) * (p.g_max_siemens - p.g_min_siemens);
        for (size_t k = 0; k < K * n; k++) v->data[k] = p.v_read_volt * xb_bench_urand_xorshift(&seed);
        char gpath[512], vpath[512], ipath[512], nstr[32];
        snprintf(gpath, sizeof gpath, "%s/G%zu.csv", dir, n);
        snprintf(vpath, sizeof vpath, "%s/V%zu.csv", dir, n);
        snprintf(ipath, sizeof ipath, "%s/I%zu.csv", dir, n);
        snprintf(nstr, sizeof nstr, "%zu", n);
        write_matrix(gpath, g);
        write_matrix(vpath, v);
        char *mvm[] = {XB_XBAR_EXE, "mvm", "--device", "rram", "--r-wire", "2.5", "--g", gpath, "--v", vpath,
                       "--engine", "spice", "-o", ipath, NULL};
        double t0 = xb_now_s();
        int rc = run(mvm, NULL);
        double t_batch = xb_now_s() - t0;
        if (rc != 0) { fprintf(stderr, "xbar mvm failed (exit %d) at %zux%zu\n", rc, n, n); return 1; }
        double t_sep = 0, worst = 0;
        for (size_t k = 0; k < separate; k++) {
            char v1path[512], deck[512], out[512];
            snprintf(v1path, sizeof v1path, "%s/V%zu_%zu.csv", dir, n, k);
            snprintf(deck, sizeof deck, "%s/deck%zu_%zu.cir", dir, n, k);
            snprintf(out, sizeof out, "%s/deck%zu_%zu.out", dir, n, k);
            memcpy(v1->data, v->data + k * n, n * sizeof(double));
            write_matrix(v1path, v1);
            char *nl[] = {XB_XBAR_EXE, "netlist", "--device", "rram", "--r-wire", "2.5", "--g", gpath, "--v", v1path,
                          "-o", deck, NULL};
            if (run(nl, NULL) != 0) { fprintf(stderr, "xbar netlist failed at %zux%zu\n", n, n); return 1; }
            char *ng[] = {XB_NGSPICE_EXE, "-b", deck, NULL};
            t0 = xb_now_s();
            rc = run(ng, out);
            t_sep += xb_now_s() - t0;
            /* ngspice 39 -b exits 1 after a .control block even on success: check the table */
            double diff = row_diff(out, ipath, k, n);
            if (rc > 1 || diff < 0) { fprintf(stderr, "ngspice -b failed (exit %d) at %zux%zu: %s\n", rc, n, n, deck); return 1; }
            if (diff > worst) worst = diff;
        }
        double per = t_sep / (double)separate, t_all = per * (double)K;
        printf("%6zu %14.3f %14.3f %14.3f %9.1fx\n", n, t_batch, t_all, per, t_all / t_batch);
        printf("%6s separate runs vs batched currents: max relative difference %.3g\n", "", worst);
        /* cross-check: the ideal product differs (IR drop); report how much, as a sanity line */
        char ipath2[512];
        snprintf(ipath2, sizeof ipath2, "%s/Iideal%zu.csv", dir, n);
        char *ideal[] = {XB_XBAR_EXE, "mvm", "--device", "rram", "--r-wire", "2.5", "--g", gpath, "--v", vpath,
                         "--engine", "ideal", "-o", ipath2, NULL};
        if (run(ideal, NULL) == 0)
            printf("%6s IR-drop + nonlinearity vs ideal: max |dI|/max|I| = %.3g\n", "", max_rel_diff(ipath, ipath2));
        fflush(stdout);
        xb_matrix_free(g);
        xb_matrix_free(v);
        xb_matrix_free(v1);
    }
    return 0;
}
