/* bench_fit: accuracy and speed of the fitted behavioural MVM model (docs/fit.md).
 *
 * 1. Accuracy on held-out data: for RRAM and PCM (read mode, sinh I-V), sizes 16/32/64 and
 *    wire resistance 0.5 and 5 ohm, fit on random (G, V) sets solved exactly by the native
 *    engine, then score on new random sets never used in the fit: relative L2 of the model
 *    and of the ideal V.G against the exact solution.  Targets: model <= 1%, and >= 20x
 *    below the ideal error wherever that exceeds 2%.
 * 2. Against SPICE at 64x64 (r_wire 5 ohm, both devices): `xbar mvm --engine spice` on
 *    held-out G and K input vectors (one batched analysis), the model on the same inputs:
 *    model error vs SPICE, and the time per input vector of both, side by side.
 *    Target: model >= 1000x faster per vector.  Also the ideal product V.G in the same
 *    timing loop: the model's cost as a multiple of V.G.
 *
 * usage: bench_fit [--sizes 16,32,64] [--k 16] [--no-spice]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xbar/common.h"
#include "xbar/engine.h"
#include "xbar/fit.h"
#include "xbar/netlist.h"
#include "bench_util.h"

static void random_set(const xb_array_params *p, size_t K, uint64_t *rng, xb_matrix **g, xb_matrix **v)
{
    *g = xb_matrix_new(p->rows, p->cols);
    *v = xb_matrix_new(K, p->rows);
    for (size_t q = 0; q < p->rows * p->cols; q++)
        (*g)->data[q] = p->g_min_siemens + xb_bench_urand_xorshift(rng) * (p->g_max_siemens - p->g_min_siemens);
    for (size_t q = 0; q < K * p->rows; q++) (*v)->data[q] = xb_bench_urand_xorshift(rng) * p->v_read_volt;
}

static int native_solve(const xb_array_params *p, const xb_matrix *g, const xb_matrix *v, xb_matrix **i)
{
    xb_engine_native *n;
    xb_error err;
    *i = xb_matrix_new(v->rows, p->cols);
    if (xb_engine_native_new(p, g, &n, &err) || xb_engine_native_mvm(n, v, *i, &err)) {
        fprintf(stderr, "bench_fit: native engine: %s\n", err.msg);
        return 1;
    }
    xb_engine_native_free(n);
    return 0;
}

/* Run `xbar mvm --engine spice` on G, V; returns seconds (wall), or < 0 on failure. */
static double spice_mvm(const xb_array_params *p, const xb_matrix *g, const xb_matrix *v, xb_matrix **i_out)
{
    char dir[] = "/tmp/bench_fit_XXXXXX";
    if (!mkdtemp(dir)) return -1;
    char gp[64], vp[64], ip[64];
    snprintf(gp, sizeof gp, "%s/G.csv", dir);
    snprintf(vp, sizeof vp, "%s/V.csv", dir);
    snprintf(ip, sizeof ip, "%s/I.csv", dir);
    xb_error err;
    if (xb_csv_write_matrix(gp, g, &err) || xb_csv_write_matrix(vp, v, &err)) return -1;
    char n[32], rw[32];
    snprintf(n, sizeof n, "%zu", p->rows);
    snprintf(rw, sizeof rw, "%.17g", p->r_wire_row_ohm);
    char *argv[] = {XB_XBAR_EXE, "mvm", "--engine", "spice", "--device", (char *)xb_device_name(p->device),
                    "--rows", n, "--cols", n, "--r-wire", rw, "--g", gp, "--v", vp, "-o", ip, NULL};
    double t0 = xb_now_s();
    int st = xb_bench_run(argv);
    double t = xb_now_s() - t0;
    if (st != 0 || xb_csv_read_matrix(ip, i_out, &err)) t = -1;
    remove(gp);
    remove(vp);
    remove(ip);
    rmdir(dir);
    return t;
}

int main(int argc, char **argv)
{
    size_t sizes[8] = {16, 32, 64}, ns = 3, K = 16;
    int spice = 1;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--sizes") == 0 && a + 1 < argc) {
            ns = 0;
            for (char *t = strtok(argv[++a], ","); t && ns < 8; t = strtok(NULL, ",")) sizes[ns++] = (size_t)atol(t);
        } else if (strcmp(argv[a], "--k") == 0 && a + 1 < argc) {
            K = (size_t)atol(argv[++a]);
        } else if (strcmp(argv[a], "--no-spice") == 0) {
            spice = 0;
        } else {
            fprintf(stderr, "usage: bench_fit [--sizes 16,32,64] [--k 16] [--no-spice]\n");
            return 2;
        }
    }
    const xb_device_kind devs[2] = {XB_DEVICE_RRAM, XB_DEVICE_PCM};
    const double rws[2] = {0.5, 5.0};
    enum { NTRAIN = 4, NHELD = 2 };
    int all_ok = 1;
    printf("# held-out accuracy vs the exact native solution (%d training sets, %d held-out sets, K=%zu each)\n",
           NTRAIN, NHELD, K);
    printf("# %-5s %5s %6s %6s %11s %11s %9s %8s %6s\n", "dev", "size", "r_wire", "sweeps", "model_err", "ideal_err",
           "ideal/mdl", "fit_s", "ok");
    xb_fit_params keep[2];
    xb_matrix *keep_g[2] = {0}, *keep_v[2] = {0};
    for (int d = 0; d < 2; d++)
        for (size_t s = 0; s < ns; s++)
            for (int r = 0; r < 2; r++) {
                xb_array_params p;
                xb_array_params_default(&p, devs[d]);
                p.rows = p.cols = sizes[s];
                p.r_wire_row_ohm = p.r_wire_col_ohm = rws[r];
                uint64_t rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(d * 1000 + s * 10 + r + 1);
                xb_matrix *g[NTRAIN + NHELD], *v[NTRAIN + NHELD], *i[NTRAIN + NHELD];
                xb_fit_sample smp[NTRAIN + NHELD];
                for (int k = 0; k < NTRAIN + NHELD; k++) {
                    random_set(&p, K, &rng, &g[k], &v[k]);
                    if (native_solve(&p, g[k], v[k], &i[k])) return 1;
                    smp[k] = (xb_fit_sample){g[k], v[k], i[k]};
                }
                xb_fit_opts o;
                xb_fit_opts_default(&o);
                xb_fit_params m;
                xb_fit_metrics met;
                xb_error err;
                double t0 = xb_now_s();
                if (xb_fit_mvm(&p, smp, NTRAIN, &o, &m, &met, &err)) {
                    fprintf(stderr, "bench_fit: %s\n", err.msg);
                    return 1;
                }
                double tf = xb_now_s() - t0, em, ei;
                xb_fit_score(&m, smp + NTRAIN, NHELD, &em, &ei, &err);
                int ok = em <= 0.01 && (ei <= 0.02 || 20 * em <= ei);
                all_ok &= ok;
                printf("  %-5s %5zu %6.1f %6d %11.3e %11.3e %9.3g %8.2f %6s\n", xb_device_name(devs[d]), sizes[s], rws[r],
                       m.n_sweeps, em, ei, ei / em, tf, ok ? "yes" : "NO");
                fflush(stdout);
                if (sizes[s] == 64 && r == 1) {
                    keep[d] = m;
                    keep_g[d] = g[NTRAIN];
                    keep_v[d] = v[NTRAIN];
                    g[NTRAIN] = v[NTRAIN] = NULL;
                }
                for (int k = 0; k < NTRAIN + NHELD; k++) {
                    xb_matrix_free(g[k]);
                    xb_matrix_free(v[k]);
                    xb_matrix_free(i[k]);
                }
            }
    printf("# accuracy targets (model <= 1%%, >= 20x below ideal where ideal > 2%%): %s\n", all_ok ? "met" : "NOT met");

    if (spice) {
        printf("\n# 64x64, r_wire 5 ohm: model vs `xbar mvm --engine spice` on held-out G and K=%zu vectors\n", K);
        printf("# %-5s %11s %11s %13s %13s %10s %13s %9s\n", "dev", "model_err", "ideal_err", "spice_s/vec", "model_s/vec",
               "speedup", "ideal_s/vec", "mdl/ideal");
        for (int d = 0; d < 2; d++) {
            if (!keep_g[d]) continue;
            xb_array_params p = keep[d].config;
            xb_matrix *isp = NULL;
            double ts = spice_mvm(&p, keep_g[d], keep_v[d], &isp);
            if (ts < 0) {
                printf("  %-5s spice path failed (xbar mvm --engine spice not available?)\n", xb_device_name(p.device));
                continue;
            }
            xb_matrix *im = xb_matrix_new(K, p.cols), *ii = xb_matrix_new(K, p.cols);
            xb_error err;
            xb_fit_eval *e;
            xb_fit_eval_new(&keep[d], keep_g[d], &e, &err);
            /* model time per vector: repeat until >= 0.3 s (G preparation included once per pass) */
            size_t reps = 0;
            double t0 = xb_now_s(), tm;
            do {
                xb_fit_eval_free(e);
                xb_fit_eval_new(&keep[d], keep_g[d], &e, &err);
                xb_fit_eval_mvm(e, keep_v[d], im, &err);
                reps++;
                tm = xb_now_s() - t0;
            } while (tm < 0.3);
            xb_fit_eval_free(e);
            /* the ideal product V.G, same inputs, same timing loop */
            size_t ri = 0;
            double ti;
            t0 = xb_now_s();
            do {
                xb_engine_mvm_ideal(keep_g[d], keep_v[d], ii, &err);
                ri++;
                ti = xb_now_s() - t0;
            } while (ti < 0.3);
            double per_m = tm / (double)(reps * K), per_s = ts / (double)K, per_i = ti / (double)(ri * K);
            printf("  %-5s %11.3e %11.3e %13.4g %13.4g %10.0f %13.4g %9.1f\n", xb_device_name(p.device),
                   xb_fit_rel_l2(im, isp), xb_fit_rel_l2(ii, isp), per_s, per_m, per_s / per_m, per_i, per_m / per_i);
            xb_matrix_free(im);
            xb_matrix_free(ii);
            xb_matrix_free(isp);
        }
    }
    for (int d = 0; d < 2; d++) {
        xb_matrix_free(keep_g[d]);
        xb_matrix_free(keep_v[d]);
    }
    return all_ok ? 0 : 1;
}
