/* xbar fit: behavioural MVM models from characterization results (docs/fit.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "xbar/fit.h"

static const char k_help[] =
    "usage: xbar fit RESULTS.h5 -o MODEL.h5 [options]\n"
    "\n"
    "Fit fast behavioural MVM models to the circuit results of a characterization campaign\n"
    "(one model per array configuration: IR drop on cumulative wire currents with fitted\n"
    "effective resistances, the device read I-V with fitted V0(G), output gain and residual\n"
    "spread), plus programming-error sigma(G) per device, read energy and settling time\n"
    "regressions, and the parameters as functions of size and wire resistance with the error\n"
    "at each size left out of that regression; from pulse-train records ([program] of the\n"
    "campaign) one pulse-update model per device (step law vs state, cycle-to-cycle and\n"
    "device-to-device spread, bounds, pulse energy: /update/<device>).  Schema: docs/hdf5-model.md.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE   model file to write (required)\n"
    "  --force             overwrite an existing model file\n"
    "  --sweeps N          IR-drop sweeps of the model; 0 = fewest within 1e-4 of converged [0]\n"
    "  --knots N           V0 knots over the conductance range, nonlinear devices [3]\n"
    "  --heldout F         fraction of samples held out of each fit for scoring [0.25]\n"
    "  --max-iter N        Levenberg-Marquardt iterations [100]\n"
    "  --update-law LAW    step law of the pulse-update models: auto (by held-out error),\n"
    "                      softbounds, exp, pwl [auto]\n"
    "  --quiet             no progress lines on stderr\n"
    "  -h, --help          this text\n"
    "\n"
    "Evaluate a model with: xbar mvm --engine model --model MODEL.h5 [array options] --g G.csv --v V.csv\n";

static void progress(void *user, size_t k, size_t n, const xb_fit_model_info *m)
{
    (void)user;
    const xb_array_params *c = &m->params.config;
    fprintf(stderr, "xbar fit: %zu/%zu %s %s/%s %zux%zu r_wire %g: held-out error %.3e (ideal %.3e), %.1f s\n", k, n,
            m->point, xb_device_name(c->device), xb_cell_name(c->cell), c->rows, c->cols, c->r_wire_row_ohm,
            m->metrics.heldout_rel_l2, m->metrics.heldout_ideal_rel_l2, m->metrics.seconds);
}

/* One line per pulse-update model: the law and the held-out error of every candidate. */
static void print_update(const xb_fit_summary *s)
{
    for (size_t k = 0; k < s->n_update; k++) {
        const xb_update_model *m = &s->update[k];
        printf("# update model /update/%s: law %s, %zu devices, %zu up + %zu down steps; ", xb_device_name(m->device),
               xb_update_law_name(m->law), m->n_devices, m->n_up_steps, m->n_down_steps);
        int held = 0;
        for (int L = 0; L < XB_UPDATE_N_LAWS; L++) held |= isfinite(m->heldout_traj_rel[L]);
        if (!held) {
            /* one cycle from one start state: nothing is held out (src/fit/update_results.c) */
            printf("no held-out slots (one cycle from one start state): law chosen by AIC on the fitted steps\n");
            continue;
        }
        printf("held-out trajectory error (rms, of the window):");
        for (int L = 0; L < XB_UPDATE_N_LAWS; L++)
            printf(" %s %.2f%%", xb_update_law_name((xb_update_law)L), 100 * m->heldout_traj_rel[L]);
        printf("\n");
    }
    for (size_t k = 0; k < s->n_update_notes; k++) printf("# %s\n", s->update_notes[k]);
}

int xb_cmd_fit(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        fputs(k_help, stdout);
        return 0;
    }
    const char *in = NULL, *out = NULL;
    int force = 0, quiet = 0;
    xb_fit_opts o;
    xb_fit_opts_default(&o);
    xb_error err;
    xb_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-o") == 0 || xb_cli_is_flag(a, "--output")) {
            if (!(v = xb_cli_flag_value(argc, argv, &i, a[1] == 'o' ? "-o" : "--output", &err)))
                return xb_cli_usage_error("fit", "%s", err.msg);
            out = v;
        } else if (strcmp(a, "--force") == 0) {
            force = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (xb_cli_is_flag(a, "--sweeps") || xb_cli_is_flag(a, "--knots") || xb_cli_is_flag(a, "--max-iter")) {
            const char *flag = xb_cli_is_flag(a, "--sweeps") ? "--sweeps" : xb_cli_is_flag(a, "--knots") ? "--knots" : "--max-iter";
            size_t n;
            if (!(v = xb_cli_flag_value(argc, argv, &i, flag, &err)) || xb_parse_size(v, flag, &n, &err))
                return xb_cli_usage_error("fit", "%s", err.msg);
            if (flag[2] == 's') {
                if (n > 100) return xb_cli_usage_error("fit", "--sweeps: at most 100");
                o.n_sweeps = (int)n;
            } else if (flag[2] == 'k') {
                if (n > XB_FIT_MAX_KNOTS) return xb_cli_usage_error("fit", "--knots: at most %d", XB_FIT_MAX_KNOTS);
                o.n_knots = n;
            } else {
                if (n < 1 || n > 100000) return xb_cli_usage_error("fit", "--max-iter: must be 1..100000");
                o.max_iter = (int)n;
            }
        } else if (xb_cli_is_flag(a, "--update-law")) {
            xb_update_law law;
            if (!(v = xb_cli_flag_value(argc, argv, &i, "--update-law", &err)))
                return xb_cli_usage_error("fit", "%s", err.msg);
            if (strcmp(v, "auto") == 0) o.update_law = XB_UPDATE_AUTO;
            else if (xb_update_law_from_name(v, &law) == XB_OK) o.update_law = (int)law;
            else return xb_cli_usage_error("fit", "--update-law: unknown law '%s' (auto, softbounds, exp, pwl)", v);
        } else if (xb_cli_is_flag(a, "--heldout")) {
            double f;
            if (!(v = xb_cli_flag_value(argc, argv, &i, "--heldout", &err)) || xb_parse_double(v, "--heldout", &f, &err))
                return xb_cli_usage_error("fit", "%s", err.msg);
            if (!(f >= 0 && f < 1)) return xb_cli_usage_error("fit", "--heldout: must be in [0, 1), got %s", v);
            o.heldout_frac = f;
        } else if (a[0] == '-' && a[1] != '\0') {
            return xb_cli_usage_error("fit", "unknown option '%s'", a);
        } else if (!in) {
            in = a;
        } else {
            return xb_cli_usage_error("fit", "unexpected argument '%s' (one results file)", a);
        }
    }
    if (!in) return xb_cli_usage_error("fit", "missing RESULTS.h5");
    if (!out) return xb_cli_usage_error("fit", "missing -o MODEL.h5");
    xb_lock *lock = NULL;
    int rc = xb_cli_claim_output("fit", out, force, &lock);
    if (rc) return rc;
    xb_fit_summary *s = NULL;
    rc = xb_fit_results(in, out, force, &o, quiet ? NULL : progress, NULL, &s, &err);
    xb_lock_release(lock);
    if (rc) return xb_cli_fail("fit", &err);
    printf("# %zu model(s) -> %s\n", s->n_models, out);
    printf("# %-8s %-6s %-5s %9s %7s %6s %11s %11s %11s %8s\n", "point", "device", "cell", "size", "r_wire",
           "sweeps", "train_err", "heldout_err", "ideal_err", "ideal/mdl");
    for (size_t k = 0; k < s->n_models; k++) {
        const xb_fit_model_info *m = &s->models[k];
        const xb_array_params *c = &m->params.config;
        char size[32];
        snprintf(size, sizeof size, "%zux%zu", c->rows, c->cols);
        double ratio = m->metrics.heldout_rel_l2 > 0 ? m->metrics.heldout_ideal_rel_l2 / m->metrics.heldout_rel_l2 : INFINITY;
        printf("  %-8s %-6s %-5s %9s %7.3g %6d %11.3e %11.3e %11.3e %8.3g\n", m->point, xb_device_name(c->device),
               xb_cell_name(c->cell), size, 0.5 * (c->r_wire_row_ohm + c->r_wire_col_ohm), m->params.n_sweeps,
               m->metrics.train_rel_l2, m->metrics.heldout_rel_l2, m->metrics.heldout_ideal_rel_l2, ratio);
    }
    if (s->n_sigma) printf("# programming-error sigma(G) fitted for %zu device(s): /stats/sigma_program\n", s->n_sigma);
    if (s->n_transient)
        printf("# energy and settling regressions over %zu transient points: R^2 %.4f and %.4f\n", s->n_transient,
               s->energy_r2, s->settling_r2);
    if (s->n_drift_devices)
        printf("# PCM drift and read-noise statistics from %zu devices: /stats/pcm_drift\n", s->n_drift_devices);
    print_update(s);
    for (size_t k = 0; k < s->n_leaveout; k++) {
        const xb_fit_leaveout *l = &s->leaveout[k];
        printf("# %s/%s size n=%zu left out of the size/wire regression: model error %.3e (ideal %.3e)\n",
               xb_device_name(l->device), xb_cell_name(l->cell), l->n, l->rel_l2, l->ideal_rel_l2);
    }
    xb_fit_summary_free(s);
    return 0;
}
