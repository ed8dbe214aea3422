/* Benchmark of the ngspice batching (not a test; run by hand or `make bench`).
 *
 * For N x N resistive crossbars with wire resistors (N = 32, 64 by default) and K = 32
 * input vectors, side by side in one run:
 *   A. K separate stock `ngspice -b` processes, each running one .op (one at a time),
 *   B. the same K processes, n_workers of them at a time,
 *   C. one batched analysis (xb_engine_batch_run: one .dc sweep, one worker),
 *   D. the batch split over the pool's workers (xb_engine_batch_run_parallel),
 * and the ratios A/C, A/D, B/D.  The column currents of C and D are checked against
 * A (relative difference printed).
 *
 * usage: bench_engine [--sizes 32,64] [-k 32] [--workers 0] [--no-sequential]
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xbar/engine.h"

typedef struct grid {
    size_t n;
    char *body;
    xb_engine_source *src;
    char **strs;
    char **outs;
    double *values; /* k x n */
    size_t k;
} grid;

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        fprintf(stderr, "bench_engine: out of memory\n");
        exit(1);
    }
    return d;
}

/* Deterministic pseudo-random numbers (LCG) so every run uses the same circuit. */
static double urand(unsigned long long *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* N x N crossbar: row i driven through 100 ohm from node in<i>, 1 ohm wire segments
 * along rows and columns, cell resistors 1k..40k, a 0 V sense source per column. */
static void grid_make(grid *g, size_t n, size_t k)
{
    memset(g, 0, sizeof *g);
    g->n = n;
    g->k = k;
    size_t cap = n * n * 120 + 4096, u = 0;
    g->body = malloc(cap);
    unsigned long long seed = 12345;
    for (size_t i = 0; i < n; i++) {
        u += (size_t)snprintf(g->body + u, cap - u, "Rdrv%zu in%zu r%zu_0 100\n", i, i, i);
        for (size_t j = 0; j < n; j++) {
            if (j + 1 < n)
                u += (size_t)snprintf(g->body + u, cap - u, "Rwr%zu_%zu r%zu_%zu r%zu_%zu 1\n", i, j, i, j,
                                      i, j + 1);
            if (i + 1 < n)
                u += (size_t)snprintf(g->body + u, cap - u, "Rwc%zu_%zu c%zu_%zu c%zu_%zu 1\n", i, j, i, j,
                                      i + 1, j);
            u += (size_t)snprintf(g->body + u, cap - u, "Rc%zu_%zu r%zu_%zu c%zu_%zu %.6g\n", i, j, i, j, i,
                                  j, 1e3 + 39e3 * urand(&seed));
        }
    }
    for (size_t j = 0; j < n; j++)
        u += (size_t)snprintf(g->body + u, cap - u, "Vs%zu c%zu_%zu 0 0\n", j, n - 1, j);
    g->src = calloc(n, sizeof *g->src);
    g->strs = calloc(2 * n, sizeof *g->strs);
    g->outs = calloc(n, sizeof *g->outs);
    for (size_t i = 0; i < n; i++) {
        char b[64];
        snprintf(b, sizeof b, "in%zu", i);
        g->strs[2 * i] = xstrdup(b);
        g->strs[2 * i + 1] = xstrdup("0");
        g->src[i].name = g->strs[2 * i];
        g->src[i].node_pos = g->strs[2 * i];
        g->src[i].node_neg = g->strs[2 * i + 1];
        snprintf(b, sizeof b, "i(vs%zu)", i);
        g->outs[i] = xstrdup(b);
    }
    g->values = malloc(k * n * sizeof *g->values);
    for (size_t t = 0; t < k * n; t++) g->values[t] = 0.2 * urand(&seed);
}

static void grid_free(grid *g)
{
    free(g->body);
    free(g->src);
    for (size_t i = 0; i < 2 * g->n; i++) free(g->strs[i]);
    for (size_t i = 0; i < g->n; i++) free(g->outs[i]);
    free(g->strs);
    free(g->outs);
    free(g->values);
}

static xb_engine_batch grid_batch(const grid *g)
{
    xb_engine_batch b = {.title = "bench grid", .body = g->body, .n_sources = g->n, .sources = g->src,
                         .k_vectors = g->k, .values = g->values, .n_outputs = g->n,
                         .outputs = (const char *const *)g->outs};
    return b;
}

/* Deck of vector t for stock ngspice: DC sources, one .op, print the column currents. */
static void write_op_deck(const grid *g, size_t t, const xb_engine_opts *o, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_engine: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
    char *opt = xb_engine_options_card(o);
    fprintf(f, "bench grid op %zu\n%s", t, g->body);
    for (size_t i = 0; i < g->n; i++) fprintf(f, "Vin%zu in%zu 0 DC %.17g\n", i, i, g->values[t * g->n + i]);
    fprintf(f, "%s.op\n.control\nset numdgt=17\nrun\nprint", opt);
    for (size_t j = 0; j < g->n; j++) fprintf(f, " i(vs%zu)", j);
    fprintf(f, "\nquit 0\n.endc\n.end\n");
    free(opt);
    fclose(f);
}

static pid_t spawn_ngspice(const char *deck, const char *out)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(XB_NGSPICE_EXE, "ngspice", "-b", deck, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Parse "i(vsJ) = value" lines of one stock run into row (length n). */
static int parse_op_output(const char *path, size_t n, double *row)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    size_t got = 0;
    while (fgets(line, sizeof line, f)) {
        size_t j;
        double v;
        if (sscanf(line, "i(vs%zu) = %lf", &j, &v) == 2 && j < n) {
            row[j] = v;
            got++;
        }
    }
    fclose(f);
    return got == n ? 0 : -1;
}

/* Run the K stock decks, `par` processes at a time; fills ref (k x n). */
static double run_stock(const grid *g, const char *dir, int par, double *ref)
{
    double t0 = xb_now_s();
    size_t next = 0, done = 0;
    pid_t *pids = calloc((size_t)par, sizeof *pids);
    size_t *ids = calloc((size_t)par, sizeof *ids);
    char deck[4096], out[4096];
    while (done < g->k) {
        for (int s = 0; s < par && next < g->k; s++) {
            if (pids[s]) continue;
            snprintf(deck, sizeof deck, "%s/op%zu.cir", dir, next);
            snprintf(out, sizeof out, "%s/op%zu.out", dir, next);
            pids[s] = spawn_ngspice(deck, out);
            ids[s] = next++;
        }
        int st;
        pid_t w = wait(&st);
        for (int s = 0; s < par; s++) {
            if (pids[s] != w) continue;
            snprintf(out, sizeof out, "%s/op%zu.out", dir, ids[s]);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 ||
                parse_op_output(out, g->n, ref + ids[s] * g->n)) {
                fprintf(stderr, "bench_engine: stock ngspice failed on %s\n", out);
                exit(1);
            }
            pids[s] = 0;
            done++;
        }
    }
    free(pids);
    free(ids);
    return xb_now_s() - t0;
}

static double max_rel(const double *a, const double *b, size_t n)
{
    double w = 0;
    for (size_t t = 0; t < n; t++) {
        double d = fabs(a[t] - b[t]) / fmax(fabs(b[t]), 1e-30);
        if (d > w) w = d;
    }
    return w;
}

int main(int argc, char **argv)
{
    size_t sizes[8] = {32, 64}, nsizes = 2, k = 32;
    int workers = 0, sequential = 1;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--sizes") == 0 && a + 1 < argc) {
            nsizes = 0;
            for (char *s = strtok(argv[++a], ","); s && nsizes < 8; s = strtok(NULL, ","))
                sizes[nsizes++] = (size_t)strtoul(s, NULL, 10);
        } else if (strcmp(argv[a], "-k") == 0 && a + 1 < argc) {
            k = (size_t)strtoul(argv[++a], NULL, 10);
        } else if (strcmp(argv[a], "--workers") == 0 && a + 1 < argc) {
            workers = atoi(argv[++a]);
        } else if (strcmp(argv[a], "--no-sequential") == 0) {
            sequential = 0;
        } else {
            fprintf(stderr, "usage: bench_engine [--sizes 32,64] [-k 32] [--workers 0] [--no-sequential]\n");
            return 2;
        }
    }
    if (k == 0 || nsizes == 0) return 2;
    xb_engine_opts o;
    xb_engine_opts_default(&o);
    o.n_workers = workers;
    o.timeout_s = 3600;
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    int par = workers > 0 ? workers : (nc > 0 ? (int)nc : 1);
    char dir[] = "/tmp/xbar-bench-engine-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    printf("bench_engine: K = %zu input vectors, %d workers, ngspice %s\n", k, par, XB_NGSPICE_EXE);
    printf("%6s %10s %10s %10s %10s %8s %8s %8s %10s\n", "N", "A_seq_s", "B_par_s", "C_batch_s",
           "D_split_s", "A/C", "A/D", "B/D", "max_rel");
    for (size_t si = 0; si < nsizes; si++) {
        grid g;
        grid_make(&g, sizes[si], k);
        for (size_t t = 0; t < k; t++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/op%zu.cir", dir, t);
            write_op_deck(&g, t, &o, path);
        }
        double *ref = calloc(k * g.n, sizeof *ref), *c = calloc(k * g.n, sizeof *c),
               *d = calloc(k * g.n, sizeof *d);
        double ta = NAN;
        if (sequential) ta = run_stock(&g, dir, 1, ref);
        double tb = run_stock(&g, dir, par, ref);
        xb_engine_batch b = grid_batch(&g);
        xb_error err = {0};
        double t0 = xb_now_s();
        if (xb_engine_batch_run(&o, &b, c, &err)) {
            fprintf(stderr, "bench_engine: batch: %s\n", err.msg);
            return 1;
        }
        double tc = xb_now_s() - t0;
        t0 = xb_now_s();
        if (xb_engine_batch_run_parallel(&o, &b, d, &err)) {
            fprintf(stderr, "bench_engine: split batch: %s\n", err.msg);
            return 1;
        }
        double td = xb_now_s() - t0;
        double mr = fmax(max_rel(c, ref, k * g.n), max_rel(d, ref, k * g.n));
        printf("%6zu %10.2f %10.2f %10.2f %10.2f %8.1f %8.1f %8.1f %10.2g\n", g.n, ta, tb, tc, td, ta / tc,
               ta / td, tb / td, mr);
        fflush(stdout);
        free(ref);
        free(c);
        free(d);
        grid_free(&g);
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_engine: could not remove %s\n", dir);
    return 0;
}
