/* Engine (libngspice in worker processes): single jobs, the pool, batching and failure
 * containment.  Expected values come from closed forms derived here, from K separate
 * single-vector runs, or from the stock `ngspice -b` binary on the same deck. */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "support/xb_test.h"
#include "xbar/engine.h"

static double rel_err(double got, double want)
{
    double d = fabs(got - want), s = fabs(want);
    return s > 0 ? d / s : d;
}

static xb_engine_opts quick_opts(double timeout_s)
{
    xb_engine_opts o;
    xb_engine_opts_default(&o);
    o.timeout_s = timeout_s;
    return o;
}

/* A deck: title, body, the options card of o, analysis, .end. */
static char *make_deck(const xb_engine_opts *o, const char *title, const char *body,
                       const char *analysis)
{
    char *opt = xb_engine_options_card(o);
    assert_non_null(opt);
    size_t n = strlen(title) + strlen(body) + strlen(opt) + strlen(analysis) + 16;
    char *d = malloc(n);
    snprintf(d, n, "%s\n%s%s%s\n.end\n", title, body, opt, analysis);
    free(opt);
    return d;
}

/* ------------------------------------------------------------------ options */
static void test_options_card(void **state)
{
    xb_engine_opts o;
    xb_engine_opts_default(&o);
    assert_true(o.reltol <= 1e-9);
    assert_true(o.timeout_s > 0);
    assert_int_equal(o.n_workers, 0);
    o.reltol = 2.5e-7;
    o.itl1 = 321;
    char *c = xb_engine_options_card(&o);
    assert_non_null(c);
    assert_non_null(strstr(c, ".options "));
    assert_non_null(strstr(c, "reltol=2.5e-07"));
    assert_non_null(strstr(c, "itl1=321"));
    assert_int_equal(c[strlen(c) - 1], '\n');
    free(c);
}

/* ------------------------------------------------------------------ single jobs */
static void test_divider(void **state)
{
    /* V1 = 1.2 V over R1 = 1k, R2 = 3.3k: v(mid) = 1.2 * 3.3/4.3, I = 1.2/4.3k
     * flowing out of the + terminal, so ngspice's i(V1) = -1.2/4300. */
    xb_engine_opts o = quick_opts(30);
    char *deck = make_deck(&o, "divider", "V1 in 0 DC 1.2\nR1 in mid 1k\nR2 mid 0 3.3k\n", ".op");
    const char *names[] = {"v(mid)", "i(V1)"};
    xb_engine_result *r = NULL;
    xb_error err = {0};
    assert_int_equal(xb_engine_run(&o, deck, 2, names, &r, &err), XB_OK);
    assert_int_equal(xb_engine_result_status(r), XB_OK);
    assert_string_equal(xb_engine_result_error(r), "");
    assert_int_equal(xb_engine_result_nvecs(r), 2);
    size_t n = 0;
    const double *v = xb_engine_result_vec(r, "v(mid)", &n);
    assert_non_null(v);
    assert_int_equal(n, 1);
    assert_true(rel_err(v[0], 1.2 * 3.3 / 4.3) < 1e-12);
    /* both spellings of a node and of a branch current resolve */
    assert_ptr_equal(xb_engine_result_vec(r, "MID", NULL), v);
    const double *i = xb_engine_result_vec(r, "i(v1)", &n);
    assert_non_null(i);
    assert_ptr_equal(xb_engine_result_vec(r, "v1#branch", NULL), i);
    assert_true(rel_err(i[0], -1.2 / 4300.0) < 1e-12);
    assert_null(xb_engine_result_vec(r, "v(nosuch)", &n));
    /* the log holds what ngspice printed, nothing else reached us */
    assert_non_null(strstr(xb_engine_result_log(r), "Circuit: divider"));
    assert_true(xb_engine_result_seconds(r) > 0);
    xb_engine_result_free(r);
    free(deck);
}

static void test_all_vectors(void **state)
{
    /* n_vecs == 0: every vector of the plot */
    xb_engine_opts o = quick_opts(30);
    char *deck = make_deck(&o, "all", "V1 a 0 2\nR1 a b 1k\nR2 b 0 1k\n", ".op");
    xb_engine_result *r = NULL;
    xb_error err = {0};
    assert_int_equal(xb_engine_run(&o, deck, 0, NULL, &r, &err), XB_OK);
    assert_int_equal(xb_engine_result_status(r), XB_OK);
    assert_int_equal(xb_engine_result_nvecs(r), 3); /* a, b, v1#branch */
    int seen_b = 0;
    for (size_t k = 0; k < xb_engine_result_nvecs(r); k++)
        if (strcmp(xb_engine_result_vec_name(r, k), "b") == 0) seen_b = 1;
    assert_true(seen_b);
    assert_true(rel_err(xb_engine_result_vec(r, "v(b)", NULL)[0], 1.0) < 1e-12);
    xb_engine_result_free(r);
    free(deck);
}

static void test_r2r_ladder(void **state)
{
    /* R-2R ladder of N sections terminated in 2R: every node sees R towards ground
     * downstream, so v(n_k) = Vin / 2^k and the source delivers Vin / (2R). */
    enum { N = 10 };
    const double R = 1000, vin = 1.7;
    char body[4096];
    size_t u = (size_t)snprintf(body, sizeof body, "Vin n0 0 %.17g\n", vin);
    for (int k = 0; k < N; k++) {
        u += (size_t)snprintf(body + u, sizeof body - u, "Rs%d n%d n%d %g\nRp%d n%d 0 %g\n", k, k, k + 1, R,
                              k, k + 1, 2 * R);
    }
    u += (size_t)snprintf(body + u, sizeof body - u, "Rt n%d 0 %g\n", N, 2 * R);
    xb_engine_opts o = quick_opts(30);
    char *deck = make_deck(&o, "r-2r ladder", body, ".op");
    xb_engine_result *r = NULL;
    xb_error err = {0};
    assert_int_equal(xb_engine_run(&o, deck, 0, NULL, &r, &err), XB_OK);
    assert_int_equal(xb_engine_result_status(r), XB_OK);
    for (int k = 1; k <= N; k++) {
        char nm[16];
        snprintf(nm, sizeof nm, "v(n%d)", k);
        const double *v = xb_engine_result_vec(r, nm, NULL);
        assert_non_null(v);
        assert_true(rel_err(v[0], vin / pow(2, k)) < 1e-9);
    }
    assert_true(rel_err(xb_engine_result_vec(r, "i(vin)", NULL)[0], -vin / (2 * R)) < 1e-9);
    xb_engine_result_free(r);
    free(deck);
}

static void test_rc_transient(void **state)
{
    /* 1 V ramp of width tr into R = 1k, C = 1n (tau = 1 us); for t > tr the exact
     * response is v = 1 - tau/tr * (exp(-(t - tr)/tau) - exp(-t/tau)). */
    xb_engine_opts o = quick_opts(60);
    o.reltol = 1e-6;
    char *deck = make_deck(&o, "rc", "V1 in 0 PWL(0 0 1n 1)\nR1 in out 1k\nC1 out 0 1n\n",
                           ".tran 10n 5u 0 5n");
    const char *names[] = {"time", "v(out)"};
    xb_engine_result *r = NULL;
    xb_error err = {0};
    assert_int_equal(xb_engine_run(&o, deck, 2, names, &r, &err), XB_OK);
    assert_int_equal(xb_engine_result_status(r), XB_OK);
    size_t n = 0, n2 = 0;
    const double *t = xb_engine_result_vec(r, "time", &n);
    const double *v = xb_engine_result_vec(r, "out", &n2);
    assert_non_null(t);
    assert_non_null(v);
    assert_int_equal(n, n2);
    assert_true(n > 100);
    const double tau = 1e-6, tr = 1e-9;
    double worst = 0;
    size_t used = 0;
    for (size_t k = 0; k < n; k++) {
        if (t[k] < 20 * tr) continue;
        double ref = 1 - tau / tr * (exp(-(t[k] - tr) / tau) - exp(-t[k] / tau));
        worst = fmax(worst, fabs(v[k] - ref));
        used++;
    }
    assert_true(used > 100);
    assert_true(t[n - 1] > 4.99e-6);
    assert_true(worst < 1e-5);
    xb_engine_result_free(r);
    free(deck);
}

static void test_rl_transient(void **state)
{
    /* 2 V ramp (width tr) into R = 100 ohm, L = 10 uH (tau = L/R = 100 ns): for t > tr
     * i = V/R * (1 - tau/tr * (exp(-(t - tr)/tau) - exp(-t/tau))), and ngspice's
     * i(V1) is its negative (current into the + terminal). */
    xb_engine_opts o = quick_opts(60);
    o.reltol = 1e-6;
    char *deck = make_deck(&o, "rl", "V1 in 0 PWL(0 0 0.1n 2)\nR1 in x 100\nL1 x 0 10u\n",
                           ".tran 1n 500n 0 0.5n");
    const char *names[] = {"time", "i(v1)"};
    xb_engine_result *r = NULL;
    xb_error err = {0};
    assert_int_equal(xb_engine_run(&o, deck, 2, names, &r, &err), XB_OK);
    assert_int_equal(xb_engine_result_status(r), XB_OK);
    size_t n = 0;
    const double *t = xb_engine_result_vec(r, "time", &n);
    const double *i = xb_engine_result_vec(r, "i(v1)", NULL);
    assert_non_null(t);
    assert_non_null(i);
    const double tau = 1e-7, tr = 1e-10, imax = 2.0 / 100;
    double worst = 0;
    size_t used = 0;
    for (size_t k = 0; k < n; k++) {
        if (t[k] < 20 * tr) continue;
        double ref = imax * (1 - tau / tr * (exp(-(t[k] - tr) / tau) - exp(-t[k] / tau)));
        worst = fmax(worst, fabs(-i[k] - ref));
        used++;
    }
    assert_true(used > 100);
    assert_true(worst < 1e-5 * imax);
    xb_engine_result_free(r);
    free(deck);
}

/* ------------------------------------------------------------------ batching */
/* A rows x cols crossbar with wire resistors on both lines, a driver resistor per row
 * and a 0 V sense source per column; rows driven by sources "in<i>". */
enum { GR = 3, GC = 4, GK = 5 };

static void grid_body(char *body, size_t cap)
{
    size_t u = 0;
    for (int i = 0; i < GR; i++) {
        u += (size_t)snprintf(body + u, cap - u, "Rdrv%d in%d r%d_0 50\n", i, i, i);
        for (int j = 0; j < GC; j++) {
            double g = 1e-5 * (1 + i + 2.5 * j);
            u += (size_t)snprintf(body + u, cap - u, "Rc%d_%d r%d_%d c%d_%d %.17g\n", i, j, i, j, i, j,
                                  1 / g);
            if (j + 1 < GC)
                u += (size_t)snprintf(body + u, cap - u, "Rwr%d_%d r%d_%d r%d_%d 2.5\n", i, j, i, j, i, j + 1);
            if (i + 1 < GR)
                u += (size_t)snprintf(body + u, cap - u, "Rwc%d_%d c%d_%d c%d_%d 2.5\n", i, j, i, j, i + 1, j);
        }
    }
    for (int j = 0; j < GC; j++)
        u += (size_t)snprintf(body + u, cap - u, "Vs%d c%d_%d 0 0\n", j, GR - 1, j);
    /* a nonlinear (sinh) cell so the batch is not only a linear superposition */
    u += (size_t)snprintf(body + u, cap - u,
                          "Bnl r0_0 c0_0 I=2e-5*0.25*sinh(min(max(v(r0_0,c0_0)/0.25,-40),40))\n");
}

typedef struct grid_batch {
    char body[8192];
    char names[GR][3][16];
    xb_engine_source src[GR];
    char outs[GC + 2][16];
    const char *outp[GC + 2];
    double values[GK * GR];
    xb_engine_batch b;
} grid_batch;

static void grid_batch_init(grid_batch *g)
{
    memset(g, 0, sizeof *g);
    grid_body(g->body, sizeof g->body);
    for (int i = 0; i < GR; i++) {
        snprintf(g->names[i][0], 16, "in%d", i);
        snprintf(g->names[i][1], 16, "in%d", i);
        snprintf(g->names[i][2], 16, "0");
        g->src[i].name = g->names[i][0];
        g->src[i].node_pos = g->names[i][1];
        g->src[i].node_neg = g->names[i][2];
    }
    for (int j = 0; j < GC; j++) snprintf(g->outs[j], 16, "i(vs%d)", j);
    snprintf(g->outs[GC], 16, "v(r1_2)");
    snprintf(g->outs[GC + 1], 16, "i(in2)"); /* a driven source's own current */
    for (int j = 0; j < GC + 2; j++) g->outp[j] = g->outs[j];
    for (int k = 0; k < GK; k++)
        for (int i = 0; i < GR; i++) g->values[k * GR + i] = 0.05 * (k + 1) - 0.03 * i + 0.01 * (k * i % 3);
    g->b.title = "grid batch";
    g->b.body = g->body;
    g->b.n_sources = GR;
    g->b.sources = g->src;
    g->b.k_vectors = GK;
    g->b.values = g->values;
    g->b.n_outputs = GC + 2;
    g->b.outputs = g->outp;
}

static void test_batch_equals_separate_runs(void **state)
{
    grid_batch g;
    grid_batch_init(&g);
    xb_engine_opts o = quick_opts(60);
    xb_error err = {0};
    double out[GK * (GC + 2)];
    assert_int_equal(xb_engine_batch_run(&o, &g.b, out, &err), XB_OK);

    /* reference: GK independent .op runs with plain DC sources, in a pool */
    xb_engine_pool *p = xb_engine_pool_new(&o, &err);
    assert_non_null(p);
    const char *names[GC + 2];
    char nbuf[GC + 2][16];
    for (int j = 0; j < GC; j++) {
        snprintf(nbuf[j], 16, "i(vs%d)", j);
        names[j] = nbuf[j];
    }
    names[GC] = "v(r1_2)";
    names[GC + 1] = "i(vin2)";
    for (int k = 0; k < GK; k++) {
        char body[9000];
        size_t u = (size_t)snprintf(body, sizeof body, "%s", g.body);
        for (int i = 0; i < GR; i++)
            u += (size_t)snprintf(body + u, sizeof body - u, "Vin%d in%d 0 DC %.17g\n", i, i, g.values[k * GR + i]);
        char *deck = make_deck(&o, "grid op", body, ".op");
        size_t id = 99;
        assert_int_equal(xb_engine_pool_submit(p, deck, GC + 2, names, &id, &err), XB_OK);
        assert_int_equal(id, (size_t)k);
        free(deck);
    }
    xb_engine_result *res[GK];
    assert_int_equal(xb_engine_pool_wait_all(p, res, GK, &err), XB_OK);
    double worst = 0;
    for (int k = 0; k < GK; k++) {
        assert_int_equal(xb_engine_result_status(res[k]), XB_OK);
        for (int j = 0; j < GC + 2; j++) {
            const double *d = xb_engine_result_vec(res[k], names[j], NULL);
            assert_non_null(d);
            double e = rel_err(out[k * (GC + 2) + j], d[0]);
            if (e > worst) worst = e;
        }
        xb_engine_result_free(res[k]);
    }
    print_message("batch vs separate .op: worst relative difference %.3g\n", worst);
    assert_true(worst < 1e-9);
    /* the column currents are non-trivial (they grow with the input vector) */
    assert_true(fabs(out[(GK - 1) * (GC + 2)]) > fabs(out[0]));
    xb_engine_pool_free(p);
}

static void test_batch_parallel_split(void **state)
{
    /* the K vectors split over 2 workers (chunks of 3 and 2) equal one batch */
    grid_batch g;
    grid_batch_init(&g);
    xb_engine_opts o = quick_opts(60);
    o.n_workers = 2;
    xb_error err = {0};
    double one[GK * (GC + 2)], split[GK * (GC + 2)];
    assert_int_equal(xb_engine_batch_run(&o, &g.b, one, &err), XB_OK);
    assert_int_equal(xb_engine_batch_run_parallel(&o, &g.b, split, &err), XB_OK);
    for (size_t t = 0; t < (size_t)GK * (GC + 2); t++) assert_true(rel_err(split[t], one[t]) < 1e-10);
}

static void test_batch_single_vector(void **state)
{
    /* K = 1: a pwl table needs two points; the deck duplicates the one vector */
    xb_engine_source s = {"a", "x", "0"};
    double v = 0.3;
    const char *outs[] = {"i(vs)", "v(y)"};
    xb_engine_batch b = {.title = "one", .body = "R1 x y 100\nR2 y z 300\nVs z 0 0\n", .n_sources = 1,
                         .sources = &s, .k_vectors = 1, .values = &v, .n_outputs = 2, .outputs = outs};
    xb_engine_opts o = quick_opts(30);
    double out[2];
    xb_error err = {0};
    assert_int_equal(xb_engine_batch_run(&o, &b, out, &err), XB_OK);
    assert_true(rel_err(out[0], 0.3 / 400) < 1e-12);
    assert_true(rel_err(out[1], 0.3 * 300 / 400) < 1e-12);
}

static void test_batch_many_vectors(void **state)
{
    /* K = 1500 > 1024: run as two analyses; every vector against the closed form */
    enum { K = 1500 };
    xb_engine_source s[2] = {{"a", "x", "0"}, {"b", "w", "0"}};
    double *v = malloc(2 * K * sizeof *v), *out = malloc(2 * K * sizeof *out);
    for (int k = 0; k < K; k++) {
        v[2 * k] = 0.001 * k;
        v[2 * k + 1] = 0.5 - 0.0002 * k;
    }
    /* x -1k- y -1k- w with y -2k- ground through the sense source: v(y) = (va + vb) / 2.5 */
    const char *outs[] = {"v(y)", "i(vs)"};
    xb_engine_batch b = {.title = "many", .body = "R1 x y 1k\nR2 w y 1k\nR3 y z 2k\nVs z 0 0\n",
                         .n_sources = 2, .sources = s, .k_vectors = K, .values = v, .n_outputs = 2,
                         .outputs = outs};
    xb_engine_opts o = quick_opts(120);
    xb_error err = {0};
    assert_int_equal(xb_engine_batch_run(&o, &b, out, &err), XB_OK);
    double worst = 0;
    for (int k = 0; k < K; k++) {
        double vy = (v[2 * k] + v[2 * k + 1]) / 2.5;
        worst = fmax(worst, fabs(out[2 * k] - vy) / 0.5);
        worst = fmax(worst, fabs(out[2 * k + 1] - vy / 2000) / 0.5e-3);
    }
    assert_true(worst < 1e-9);
    free(v);
    free(out);
}

static void test_batch_bad_input(void **state)
{
    xb_engine_source s = {"a", "x", "0"};
    double v[2] = {0.3, NAN};
    const char *outs[] = {"i(vs)"};
    xb_engine_batch b = {.title = "bad", .body = "R1 x 0 100\n", .n_sources = 1, .sources = &s,
                         .k_vectors = 2, .values = v, .n_outputs = 1, .outputs = outs};
    xb_error err = {0};
    assert_null(xb_engine_batch_deck(NULL, &b, &err));
    assert_int_equal(err.code, XB_EINPUT);
    assert_non_null(strstr(err.msg, "values[1][0]"));
    v[1] = 0.1;
    const char *bad_outs[] = {"current(vs)"};
    b.outputs = bad_outs;
    xb_error_clear(&err);
    assert_null(xb_engine_batch_deck(NULL, &b, &err));
    assert_int_equal(err.code, XB_EINPUT);
    /* an output the circuit does not have: the job reports it, collect names it */
    const char *missing[] = {"i(vnosuch)"};
    b.outputs = missing;
    double out[2];
    xb_error_clear(&err);
    xb_engine_opts o = quick_opts(30);
    assert_int_not_equal(xb_engine_batch_run(&o, &b, out, &err), XB_OK);
    assert_non_null(strstr(err.msg, "vnosuch"));
}

/* Parse the data lines of `print` in the stock run: "k <tab> k <tab> outputs...". */
static size_t parse_print(const char *text, size_t nout, double *vals, size_t maxk)
{
    size_t k = 0;
    const char *p = text;
    while (p && *p && k < maxk) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char line[4096];
        if (len < sizeof line && len > 0 && isdigit((unsigned char)p[0])) {
            memcpy(line, p, len);
            line[len] = '\0';
            char *s = line, *end;
            long idx = strtol(s, &end, 10);
            if (end != s && (*end == '\t' || *end == ' ') && idx == (long)k) {
                s = end;
                strtod(s, &end); /* sweep value */
                int ok = end != s;
                for (size_t j = 0; ok && j < nout; j++) {
                    s = end;
                    vals[k * nout + j] = strtod(s, &end);
                    ok = end != s;
                }
                if (ok) k++;
            }
        }
        p = e ? e + 1 : NULL;
    }
    return k;
}

static void test_batch_deck_in_stock_ngspice(void **state)
{
    grid_batch g;
    grid_batch_init(&g);
    xb_engine_opts o = quick_opts(60);
    xb_error err = {0};
    char *deck = xb_engine_batch_deck(&o, &g.b, &err);
    assert_non_null(deck);
    char *dir = xb_test_tmpdir("engine_stock");
    char *path = xb_test_write_file(dir, "batch.cir", deck);
    char *argv[] = {(char *)XB_NGSPICE_EXE, "-b", path, NULL};
    char *sout = NULL, *serr = NULL;
    int st = xb_test_run(argv, &sout, &serr);
    assert_int_equal(st, 0);
    double stock[GK * (GC + 2)], mine[GK * (GC + 2)];
    size_t k = parse_print(sout, GC + 2, stock, GK);
    if (k != GK) print_message("stock ngspice output:\n%s\n", sout);
    assert_int_equal(k, GK);
    assert_int_equal(xb_engine_batch_run(&o, &g.b, mine, &err), XB_OK);
    for (size_t t = 0; t < (size_t)GK * (GC + 2); t++) assert_true(rel_err(mine[t], stock[t]) < 1e-12);
    free(sout);
    free(serr);
    free(path);
    free(dir);
    free(deck);
}

/* ------------------------------------------------------------------ containment */
static const char k_good_fmt[] = "good\nV1 a 0 DC %g\nR1 a b 1k\nR2 b 0 1k\n.op\n.end\n";
/* a healthy deck whose title and node names contain "error" */
static const char k_good_error_words[] = "error free deck: no errors here\nV1 error_node 0 DC 2\n"
                                         "R1 error_node b 1k\nR2 b 0 1k\n.op\n.end\n";
static const char k_syntax[] = "syntax\nV1 in 0 DC 1\nQ1 in mid 0 nosuchmodel\nR2 mid 0 3k\n.op\n.end\n";
static const char k_unknown_subckt[] = "subckt\nV1 in 0 1\nXU1 in 0 nosuchsub\n.op\n.end\n";
/* a current source into a node that only a capacitor touches: no DC solution */
static const char k_nonconv[] = "nonconv\nI1 0 a 1m\nC1 a 0 1p\nR1 b 0 1k\nV1 b 0 1\n.op\n.end\n";
/* 5 us of RC with a 1 fs step: far longer than any timeout used here */
static const char k_endless[] = "endless\nV1 in 0 PWL(0 0 1n 1)\nR1 in out 1k\nC1 out 0 1n\n"
                                ".tran 1f 1 0 1f\n.end\n";

static void check_good(xb_engine_result *r, double v)
{
    assert_non_null(r);
    if (xb_engine_result_status(r) != XB_OK) print_message("unexpected: %s\n", xb_engine_result_error(r));
    assert_int_equal(xb_engine_result_status(r), XB_OK);
    const double *b = xb_engine_result_vec(r, "v(b)", NULL);
    assert_non_null(b);
    assert_true(rel_err(b[0], v / 2) < 1e-12);
}

static void test_pool_failures_and_recovery(void **state)
{
    xb_engine_opts o = quick_opts(2.0);
    o.n_workers = 2;
    xb_error err = {0};
    xb_engine_pool *p = xb_engine_pool_new(&o, &err);
    assert_non_null(p);
    const char *names[] = {"v(b)"};
    char good[6][128];
    for (int k = 0; k < 6; k++) snprintf(good[k], sizeof good[k], k_good_fmt, 1.0 + k);
    const char *decks[] = {good[0], k_syntax, k_good_error_words, k_nonconv, k_endless, good[2],
                           k_unknown_subckt, good[3], good[4], good[5]};
    size_t nd = sizeof decks / sizeof decks[0];
    for (size_t k = 0; k < nd; k++) {
        size_t id;
        assert_int_equal(xb_engine_pool_submit(p, decks[k], 1, names, &id, &err), XB_OK);
        assert_int_equal(id, k);
    }
    xb_engine_result *res[10];
    double t0 = xb_now_s();
    assert_int_equal(xb_engine_pool_wait_all(p, res, nd, &err), XB_OK);
    double dt = xb_now_s() - t0;
    check_good(res[0], 1);
    check_good(res[2], 2); /* "error" in the title is not an error */
    check_good(res[5], 3);
    check_good(res[7], 4);
    check_good(res[8], 5);
    check_good(res[9], 6);
    /* the netlist ngspice rejected */
    assert_int_equal(xb_engine_result_status(res[1]), XB_EINPUT);
    assert_non_null(strstr(xb_engine_result_error(res[1]), "nosuchmodel"));
    /* the message carries ngspice's reason, before the log tail */
    assert_non_null(strstr(xb_engine_result_error(res[1]), "or its substitute: q1 in mid 0 nosuchmodel could not find"));
    assert_int_equal(xb_engine_result_status(res[6]), XB_EINPUT);
    assert_non_null(strstr(xb_engine_result_error(res[6]), "nosuchsub"));
    /* no DC solution */
    assert_int_equal(xb_engine_result_status(res[3]), XB_ERUNTIME);
    assert_non_null(strstr(xb_engine_result_error(res[3]), "failed"));
    assert_non_null(strstr(xb_engine_result_error(res[3]), "ngspice log:"));
    /* timeout: killed after ~2 s, the message says so */
    assert_int_equal(xb_engine_result_status(res[4]), XB_ERUNTIME);
    assert_non_null(strstr(xb_engine_result_error(res[4]), "timed out after 2 s"));
    assert_true(xb_engine_result_seconds(res[4]) >= 1.9);
    assert_true(xb_engine_result_seconds(res[4]) < 10);
    assert_true(dt < 30);
    for (size_t k = 0; k < nd; k++) {
        assert_null(strchr(xb_engine_result_error(res[k]), '\n'));
        xb_engine_result_free(res[k]);
    }
    /* the pool keeps serving */
    size_t id;
    assert_int_equal(xb_engine_pool_submit(p, good[5], 1, names, &id, &err), XB_OK);
    assert_int_equal(id, nd);
    xb_engine_result *r = NULL;
    assert_int_equal(xb_engine_pool_next(p, &id, &r, &err), XB_OK);
    assert_int_equal(id, nd);
    check_good(r, 6);
    xb_engine_result_free(r);
    /* nothing pending */
    xb_error_clear(&err);
    assert_int_equal(xb_engine_pool_next(p, &id, &r, &err), XB_EINPUT);
    assert_null(r);
    xb_engine_pool_free(p);
}

/* Children of this process (pids), from /proc. */
static size_t my_children(pid_t *out, size_t max)
{
    size_t n = 0;
    DIR *d = opendir("/proc");
    if (!d) return 0;
    struct dirent *e;
    pid_t me = getpid();
    while ((e = readdir(d)) && n < max) {
        if (!isdigit((unsigned char)e->d_name[0])) continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        char *rp = strrchr(buf, ')'); /* comm may hold spaces */
        if (!rp) continue;
        char stc;
        int ppid;
        if (sscanf(rp + 1, " %c %d", &stc, &ppid) == 2 && ppid == me && stc != 'Z')
            out[n++] = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return n;
}

static void test_worker_sigkill(void **state)
{
    xb_engine_opts o = quick_opts(60);
    o.n_workers = 1;
    xb_error err = {0};
    xb_engine_pool *p = xb_engine_pool_new(&o, &err);
    assert_non_null(p);
    const char *names[] = {"v(b)"};
    size_t id0, id1;
    assert_int_equal(xb_engine_pool_submit(p, k_endless, 0, NULL, &id0, &err), XB_OK);
    char good[128];
    snprintf(good, sizeof good, k_good_fmt, 3.0);
    assert_int_equal(xb_engine_pool_submit(p, good, 1, names, &id1, &err), XB_OK);
    /* the endless job is running in the one worker: kill it from outside */
    usleep(300000);
    pid_t kids[16];
    size_t nk = my_children(kids, 16);
    assert_int_equal(nk, 1);
    assert_int_equal(kill(kids[0], SIGKILL), 0);
    xb_engine_result *r = NULL;
    size_t id;
    assert_int_equal(xb_engine_pool_next(p, &id, &r, &err), XB_OK);
    assert_int_equal(id, id0);
    assert_int_equal(xb_engine_result_status(r), XB_ERUNTIME);
    assert_non_null(strstr(xb_engine_result_error(r), "killed by signal 9"));
    assert_true(xb_engine_result_seconds(r) < 30);
    xb_engine_result_free(r);
    /* the next job still runs */
    assert_int_equal(xb_engine_pool_next(p, &id, &r, &err), XB_OK);
    assert_int_equal(id, id1);
    check_good(r, 3);
    xb_engine_result_free(r);
    xb_engine_pool_free(p);
}

static void test_pool_free_kills_running(void **state)
{
    xb_engine_opts o = quick_opts(60);
    o.n_workers = 2;
    xb_error err = {0};
    xb_engine_pool *p = xb_engine_pool_new(&o, &err);
    assert_non_null(p);
    for (int k = 0; k < 3; k++) assert_int_equal(xb_engine_pool_submit(p, k_endless, 0, NULL, NULL, &err), XB_OK);
    usleep(100000);
    pid_t kids[16];
    assert_int_equal(my_children(kids, 16), 2); /* two workers, one job queued */
    double t0 = xb_now_s();
    xb_engine_pool_free(p);
    assert_true(xb_now_s() - t0 < 5);
    assert_int_equal(my_children(kids, 16), 0);
}

static void test_completion_order(void **state)
{
    /* next() returns jobs as they finish: the slow job (id 0) comes last */
    xb_engine_opts o = quick_opts(60);
    o.n_workers = 2;
    xb_error err = {0};
    xb_engine_pool *p = xb_engine_pool_new(&o, &err);
    assert_non_null(p);
    const char *slow = "slow rc\nV1 in 0 PWL(0 0 1n 1)\nR1 in out 1k\nC1 out 0 1n\n"
                       ".tran 0.2n 60u 0 0.2n\n.end\n";
    const char *names[] = {"v(b)"};
    assert_int_equal(xb_engine_pool_submit(p, slow, 0, NULL, NULL, &err), XB_OK);
    char good[3][128];
    for (int k = 0; k < 3; k++) {
        snprintf(good[k], sizeof good[k], k_good_fmt, 1.0 + k);
        assert_int_equal(xb_engine_pool_submit(p, good[k], 1, names, NULL, &err), XB_OK);
    }
    size_t order[4];
    for (int k = 0; k < 4; k++) {
        xb_engine_result *r = NULL;
        assert_int_equal(xb_engine_pool_next(p, &order[k], &r, &err), XB_OK);
        assert_int_equal(xb_engine_result_status(r), XB_OK);
        if (order[k] > 0) check_good(r, (double)order[k]);
        xb_engine_result_free(r);
    }
    print_message("completion order: %zu %zu %zu %zu\n", order[0], order[1], order[2], order[3]);
    assert_int_equal(order[3], 0);
    xb_engine_pool_free(p);
}

static void test_quiet_unless_verbose(void **state)
{
    /* In a child with stdout/stderr on a pipe: a quiet run prints nothing, a verbose
     * run echoes the ngspice log to stderr. */
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        xb_engine_opts o = quick_opts(30);
        char good[128];
        snprintf(good, sizeof good, k_good_fmt, 1.0);
        xb_engine_result *r = NULL;
        xb_error err = {0};
        int bad = xb_engine_run(&o, good, 0, NULL, &r, &err) || xb_engine_result_status(r);
        xb_engine_result_free(r);
        if (write(1, "MARK\n", 5) != 5) bad = 1;
        o.verbose = 1;
        bad |= xb_engine_run(&o, good, 0, NULL, &r, &err) || xb_engine_result_status(r);
        xb_engine_result_free(r);
        fflush(stdout);
        fflush(stderr);
        _exit(bad ? 1 : 0);
    }
    close(pfd[1]);
    char buf[65536];
    size_t n = 0;
    ssize_t k;
    while ((k = read(pfd[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)k;
    buf[n] = '\0';
    close(pfd[0]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_memory_equal(buf, "MARK\n", 5); /* nothing before the marker */
    assert_non_null(strstr(buf + 5, "Circuit: good"));
}

static void test_bad_requests(void **state)
{
    xb_engine_opts o = quick_opts(30);
    xb_error err = {0};
    xb_engine_result *r = NULL;
    /* a vector the analysis does not have */
    char good[128];
    snprintf(good, sizeof good, k_good_fmt, 1.0);
    const char *names[] = {"v(nosuchnode)"};
    assert_int_equal(xb_engine_run(&o, good, 1, names, &r, &err), XB_OK);
    assert_int_equal(xb_engine_result_status(r), XB_EINPUT);
    assert_non_null(strstr(xb_engine_result_error(r), "nosuchnode"));
    xb_engine_result_free(r);
    /* a deck without an analysis card */
    assert_int_equal(xb_engine_run(&o, "no analysis\nR1 a 0 1k\nV1 a 0 1\n.end\n", 0, NULL, &r, &err), XB_OK);
    assert_int_not_equal(xb_engine_result_status(r), XB_OK);
    assert_true(strlen(xb_engine_result_error(r)) > 0);
    xb_engine_result_free(r);
    /* no .end, CRLF line ends; an empty deck; a deck of one blank line */
    assert_int_equal(xb_engine_run(&o, "noend\r\nV1 a 0 1\r\nR1 a 0 1k\r\n.op\r\n", 0, NULL, &r, &err), XB_OK);
    assert_int_equal(xb_engine_result_status(r), XB_EINPUT);
    assert_non_null(strstr(xb_engine_result_error(r), ".end"));
    xb_engine_result_free(r);
    assert_int_equal(xb_engine_run(&o, "", 0, NULL, &r, &err), XB_OK);
    assert_int_equal(xb_engine_result_status(r), XB_EINPUT);
    xb_engine_result_free(r);
    assert_int_equal(xb_engine_run(&o, "\n", 0, NULL, &r, &err), XB_OK);
    assert_int_equal(xb_engine_result_status(r), XB_EINPUT);
    xb_engine_result_free(r);
    /* bad options */
    o.n_workers = -1;
    assert_null(xb_engine_pool_new(&o, &err));
    assert_int_equal(err.code, XB_EINPUT);
    assert_non_null(strstr(err.msg, "n_workers"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_card),
        cmocka_unit_test(test_divider),
        cmocka_unit_test(test_all_vectors),
        cmocka_unit_test(test_r2r_ladder),
        cmocka_unit_test(test_rc_transient),
        cmocka_unit_test(test_rl_transient),
        cmocka_unit_test(test_batch_equals_separate_runs),
        cmocka_unit_test(test_batch_parallel_split),
        cmocka_unit_test(test_batch_single_vector),
        cmocka_unit_test(test_batch_many_vectors),
        cmocka_unit_test(test_batch_bad_input),
        cmocka_unit_test(test_batch_deck_in_stock_ngspice),
        cmocka_unit_test(test_pool_failures_and_recovery),
        cmocka_unit_test(test_worker_sigkill),
        cmocka_unit_test(test_pool_free_kills_running),
        cmocka_unit_test(test_completion_order),
        cmocka_unit_test(test_quiet_unless_verbose),
        cmocka_unit_test(test_bad_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
