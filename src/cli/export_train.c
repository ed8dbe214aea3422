/* aihwkit training devices from a pulse-update model (`xbar export aihwkit`, docs/interop.md
 * "Training devices").
 *
 * aihwkit's pulsed devices move a weight w in [w_min, w_max] by a step that depends on w; the
 * update model of xbar fit (/update/<device>, docs/fit.md "Update models") moves G in
 * [g_min, g_max] by f_d(x), x = (G - g_min)/W, W = g_max - g_min.  With w = 2x - 1 (w_min =
 * -1, w_max = 1) one pulse moves w by 2 f_d(x)/W.  Each of four step-device families of
 * aihwkit is fitted to that mean step law by least squares on a grid over the window (both
 * directions), and the family with the fewest parameters whose residual is within
 * XB_TRAIN_TIE of the best is chosen.  The step laws of the families (aihwkit 1.1's
 * documentation, step magnitudes, w_max = 1, w_min = -1):
 *   ConstantStepDevice   |dw_d| = dw_min (1 + d up_down)
 *   SoftBoundsDevice     |dw_up| = dw_up (1 - w/w_max), |dw_down| = dw_down (1 - w/w_min)
 *   LinearStepDevice     |dw_up| = dw_up (1 - gamma_up w/w_max), |dw_down| = dw_down (1 - gamma_down w/w_min)
 *                        (allow_increasing when a gamma is negative: steps growing towards a bound)
 *   PiecewiseStepDevice  |dw_d| = dw_min x the linear interpolation of piecewise_d over nodes
 *                        evenly spaced from w_min to w_max
 * with dw_up = dw_min (1 + up_down), dw_down = dw_min (1 - up_down).  The residual is the rms
 * of (family - law) over the grid and both directions relative to the rms of the law. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "xbar/fit.h"

#define XB_TRAIN_GRID 201  /* states of the least-squares grid over the window */
#define XB_TRAIN_NODES 11  /* piecewise nodes: every 0.2 in w, so the update model's pwl knots (every
                            * 0.4 in w) are among them and its linear laws are exact too */
#define XB_TRAIN_TIE 2e-3  /* a simpler family within this residual of the best one is chosen */

enum { FAM_CONSTANT, FAM_SOFTBOUNDS, FAM_LINEAR, FAM_PIECEWISE, N_FAM };
static const char *const k_family[N_FAM] = {"ConstantStepDevice", "SoftBoundsDevice", "LinearStepDevice",
                                            "PiecewiseStepDevice"};
static const int k_nparams[N_FAM] = {2, 2, 4, 2 * XB_TRAIN_NODES};

typedef struct {
    double w[XB_TRAIN_GRID];
    double t[2][XB_TRAIN_GRID]; /* [0] up, [1] down: step magnitudes in weight units */
} train_target;

typedef struct {
    double resid_rel;                    /* INFINITY: the family cannot represent the law */
    double dw_min, up_down, gamma[2];    /* gamma: LinearStep */
    double node[2][XB_TRAIN_NODES];      /* Piecewise: relative to dw_min */
} train_fit;

static void make_target(const xb_update_model *u, train_target *t)
{
    const double W = u->g_max_siemens - u->g_min_siemens;
    for (size_t k = 0; k < XB_TRAIN_GRID; k++) {
        double x = (double)k / (XB_TRAIN_GRID - 1);
        t->w[k] = 2 * x - 1;
        t->t[0][k] = 2 * xb_update_law_eval(u->law, u->up, x, +1) / W;
        t->t[1][k] = -2 * xb_update_law_eval(u->law, u->down, x, -1) / W;
    }
}

/* Least squares y ~ sum_j c_j b_j(w) with n <= XB_TRAIN_NODES basis functions (normal
 * equations, Gaussian elimination with partial pivoting); 0 ok, -1 singular. */
typedef double (*basis_fn)(int j, double w);
static int lsq(const train_target *t, int dir, basis_fn b, int n, double *c)
{
    double A[XB_TRAIN_NODES][XB_TRAIN_NODES + 1];
    memset(A, 0, sizeof A);
    for (size_t k = 0; k < XB_TRAIN_GRID; k++)
        for (int i = 0; i < n; i++) {
            double bi = b(i, t->w[k]);
            for (int j = 0; j < n; j++) A[i][j] += bi * b(j, t->w[k]);
            A[i][n] += bi * t->t[dir][k];
        }
    for (int col = 0; col < n; col++) {
        int p = col;
        for (int r = col + 1; r < n; r++)
            if (fabs(A[r][col]) > fabs(A[p][col])) p = r;
        if (!(fabs(A[p][col]) > 0)) return -1;
        if (p != col)
            for (int j = 0; j <= n; j++) {
                double s = A[p][j];
                A[p][j] = A[col][j];
                A[col][j] = s;
            }
        for (int r = 0; r < n; r++) {
            if (r == col) continue;
            double q = A[r][col] / A[col][col];
            for (int j = col; j <= n; j++) A[r][j] -= q * A[col][j];
        }
    }
    for (int i = 0; i < n; i++) c[i] = A[i][n] / A[i][i];
    return 0;
}

static double b_line(int j, double w) { return j == 0 ? 1.0 : w; }
static double b_soft_up(int j, double w) { return (void)j, 1.0 - w; }   /* w_max = 1 */
static double b_soft_down(int j, double w) { return (void)j, 1.0 + w; } /* w_min = -1 */
static double b_hat(int j, double w)
{
    const double h = 2.0 / (XB_TRAIN_NODES - 1), d = fabs(w - (-1.0 + j * h)) / h;
    return d < 1 ? 1 - d : 0.0;
}

/* The family's step magnitude at w in direction index di (0 up, 1 down). */
static double family_step(int fam, const train_fit *p, int di, double w)
{
    const double dw = p->dw_min * (di == 0 ? 1 + p->up_down : 1 - p->up_down);
    switch (fam) {
    case FAM_CONSTANT:
        return dw;
    case FAM_SOFTBOUNDS:
        return dw * (di == 0 ? 1 - w : 1 + w);
    case FAM_LINEAR:
        return dw * (di == 0 ? 1 - p->gamma[0] * w : 1 + p->gamma[1] * w);
    default: {
        double s = 0;
        for (int j = 0; j < XB_TRAIN_NODES; j++) s += p->node[di][j] * b_hat(j, w);
        return p->dw_min * s;
    }
    }
}

/* dw_min and up_down of the steps at w = 0 of both directions: dw_d = dw_min (1 + d up_down). */
static int split_updown(double up, double down, train_fit *p)
{
    if (!(up > 0 && down > 0)) return -1;
    p->dw_min = 0.5 * (up + down);
    p->up_down = (up - down) / (up + down);
    return 0;
}

static void fit_family(int fam, const train_target *t, train_fit *p)
{
    memset(p, 0, sizeof *p);
    p->resid_rel = INFINITY;
    double c[2][XB_TRAIN_NODES];
    int ok = 1;
    for (int di = 0; di < 2 && ok; di++) {
        switch (fam) {
        case FAM_CONSTANT: {
            double s = 0;
            for (size_t k = 0; k < XB_TRAIN_GRID; k++) s += t->t[di][k];
            c[di][0] = s / XB_TRAIN_GRID;
            break;
        }
        case FAM_SOFTBOUNDS:
            ok = lsq(t, di, di == 0 ? b_soft_up : b_soft_down, 1, c[di]) == 0;
            break;
        case FAM_LINEAR:
            ok = lsq(t, di, b_line, 2, c[di]) == 0;
            break;
        default:
            ok = lsq(t, di, b_hat, XB_TRAIN_NODES, c[di]) == 0;
        }
    }
    if (!ok) return;
    if (fam == FAM_PIECEWISE) {
        double s = 0;
        for (int di = 0; di < 2; di++)
            for (int j = 0; j < XB_TRAIN_NODES; j++) s += fabs(c[di][j]);
        if (!(s > 0)) return;
        p->dw_min = s / (2 * XB_TRAIN_NODES); /* node values around 1 */
        for (int di = 0; di < 2; di++)
            for (int j = 0; j < XB_TRAIN_NODES; j++) p->node[di][j] = c[di][j] / p->dw_min;
    } else {
        /* the step at w = 0: c[.][0] (constant, linear), the soft-bounds amplitude */
        if (split_updown(c[0][0], c[1][0], p)) return;
        if (fam == FAM_LINEAR) {
            p->gamma[0] = -c[0][1] / c[0][0]; /* |dw_up| = dw_up (1 - gamma_up w) */
            p->gamma[1] = c[1][1] / c[1][0];  /* |dw_down| = dw_down (1 + gamma_down w) */
        }
    }
    double se = 0, sl = 0;
    for (int di = 0; di < 2; di++)
        for (size_t k = 0; k < XB_TRAIN_GRID; k++) {
            double e = family_step(fam, p, di, t->w[k]) - t->t[di][k];
            se += e * e;
            sl += t->t[di][k] * t->t[di][k];
        }
    p->resid_rel = sl > 0 ? sqrt(se / sl) : INFINITY;
}

/* Every family fitted; the index of the chosen one (-1: none represents the law). */
static int fit_all(const xb_update_model *u, train_fit fit[N_FAM])
{
    train_target t;
    make_target(u, &t);
    int best = -1, pick = -1;
    for (int fam = 0; fam < N_FAM; fam++) {
        fit_family(fam, &t, &fit[fam]);
        if (isfinite(fit[fam].resid_rel) && (best < 0 || fit[fam].resid_rel < fit[best].resid_rel)) best = fam;
    }
    for (int fam = 0; fam < N_FAM && best >= 0; fam++) /* fewest parameters within the tie */
        if (isfinite(fit[fam].resid_rel) && fit[fam].resid_rel <= fit[best].resid_rel + XB_TRAIN_TIE &&
            (pick < 0 || k_nparams[fam] < k_nparams[pick]))
            pick = fam;
    return pick;
}

/* Noise and spreads in aihwkit's relative units (see the module text for the mapping). */
typedef struct {
    double dw_min_std, dw_min_dtod, w_min_dtod, w_max_dtod;
    double abs_rel; /* the absolute c2c part's share (rms abs / rms |step|), for the record */
} train_noise;

static void noise_of(const xb_update_model *u, train_noise *n)
{
    /* over the model's own grid (its tables: d2d_dg_*_std_siemens, sigma_c2c_*) */
    const double W = u->g_max_siemens - u->g_min_siemens;
    double s2 = 0, f2 = 0, a2 = 0, v2 = 0, vf2 = 0;
    for (size_t k = 0; k < XB_UPDATE_GRID; k++) {
        const double x = (double)k / (XB_UPDATE_GRID - 1), g = u->g_min_siemens + x * W;
        for (int d = -1; d <= 1; d += 2) {
            const double f = xb_update_law_eval(u->law, d > 0 ? u->up : u->down, x, d);
            const double ab = d > 0 ? u->c2c_up_abs_siemens : u->c2c_down_abs_siemens;
            const double sg = xb_fit_update_sigma(u, g, d); /* with its state factor */
            s2 += sg * sg;
            a2 += ab * ab;
            f2 += f * f;
            /* device-to-device: sample variance of the devices' own laws at this state */
            double m = 0, q = 0;
            size_t cnt = 0;
            for (size_t dv = 0; dv < u->n_devices; dv++) {
                double fd = xb_fit_update_device_step(u, dv, g, d);
                if (!isfinite(fd)) continue;
                cnt++;
                double dl = fd - m;
                m += dl / (double)cnt;
                q += dl * (fd - m);
            }
            if (cnt >= 2) {
                v2 += q / (double)(cnt - 1);
                vf2 += f * f;
            }
        }
    }
    n->dw_min_std = f2 > 0 ? sqrt(s2 / f2) : 0.0;
    n->abs_rel = f2 > 0 ? sqrt(a2 / f2) : 0.0;
    n->dw_min_dtod = vf2 > 0 ? sqrt(v2 / vf2) : 0.0;
    n->w_min_dtod = isfinite(u->d2d_g_min_std_siemens) ? 2 * u->d2d_g_min_std_siemens / W : 0.0;
    n->w_max_dtod = isfinite(u->d2d_g_max_std_siemens) ? 2 * u->d2d_g_max_std_siemens / W : 0.0;
}

static void py_vec(FILE *f, const double *v, size_t n)
{
    fputc('[', f);
    for (size_t k = 0; k < n; k++) fprintf(f, "%s%.17g", k ? ", " : "", v[k]);
    fputc(']', f);
}

static void emit_params(FILE *f, int fam, const train_fit *p, const train_noise *n)
{
    fprintf(f, "    '%s': dict(w_min=-1.0, w_max=1.0, w_min_dtod=%.17g, w_max_dtod=%.17g,\n", k_family[fam],
            n->w_min_dtod, n->w_max_dtod);
    fprintf(f, "        dw_min=%.17g, up_down=%.17g, up_down_dtod=0.0, dw_min_dtod=%.17g, dw_min_std=%.17g,\n",
            p->dw_min, p->up_down, n->dw_min_dtod, n->dw_min_std);
    if (fam == FAM_LINEAR)
        fprintf(f, "        gamma_up=%.17g, gamma_down=%.17g, gamma_up_dtod=0.0, gamma_down_dtod=0.0,\n"
                   "        allow_increasing=%s, mean_bound_reference=True, mult_noise=True,\n",
                p->gamma[0], p->gamma[1], p->gamma[0] < 0 || p->gamma[1] < 0 ? "True" : "False");
    if (fam == FAM_SOFTBOUNDS) fprintf(f, "        mult_noise=True,\n");
    if (fam == FAM_PIECEWISE) {
        fprintf(f, "        piecewise_up=");
        py_vec(f, p->node[0], XB_TRAIN_NODES);
        fprintf(f, ",\n        piecewise_down=");
        py_vec(f, p->node[1], XB_TRAIN_NODES);
        fprintf(f, ",\n");
    }
    fprintf(f, "        ),\n");
}

static void emit_update_dict(FILE *f, const xb_update_model *u, const char *path)
{
    fprintf(f, "UPDATE = {'file': ");
    fputc('\'', f);
    for (const char *s = path; *s; s++) {
        if (*s == '\\' || *s == '\'') fputc('\\', f);
        if ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f) fputc(*s, f);
    }
    fprintf(f, "', 'law': '%s', 'g_min_s': %.17g, 'g_max_s': %.17g,\n", xb_update_law_name(u->law),
            u->g_min_siemens, u->g_max_siemens);
    fprintf(f, "          'up_params': ");
    py_vec(f, u->up, u->n_params);
    fprintf(f, ", 'down_params': ");
    py_vec(f, u->down, u->n_params);
    fprintf(f, ",\n          'c2c_up_abs_s': %.17g, 'c2c_up_rel': %.17g, 'c2c_down_abs_s': %.17g, 'c2c_down_rel': %.17g,\n",
            u->c2c_up_abs_siemens, u->c2c_up_rel, u->c2c_down_abs_siemens, u->c2c_down_rel);
    fprintf(f, "          'n_devices': %zu, 'energy_per_pulse_j': (%.17g, %.17g), 'pulse_volt': (%.17g, %.17g),\n"
               "          'pulse_width_s': %.17g}\n",
            u->n_devices, u->energy_up_joule, u->energy_down_joule, u->up_volt, u->down_volt, u->width_s);
}

void xb_cli_export_training(FILE *f, const xb_update_model *u, const char *update_path, const char *device)
{
    fprintf(f, "\n\n# ---- training devices: aihwkit pulsed devices from the pulse-update model ----\n");
    if (!u) {
        fprintf(f,
                "# %s has no pulse-update model for %s (/update/%s: a campaign with a [program] section,\n"
                "# characterize/write.ini, fitted by xbar fit): no training device.\n"
                "UPDATE = None\nTRAINING_RESIDUAL = None\nTRAINING_FAMILY = None\n_TRAINING_PARAMS = {}\n",
                "the update-model file", device, device);
    } else {
        train_fit fit[N_FAM];
        train_noise n;
        const int pick = fit_all(u, fit);
        noise_of(u, &n);
        fprintf(f,
                "# The update model /update/%s (xbar fit, docs/fit.md \"Update models\"): one pulse of\n"
                "# direction d moves G by f_d(x), x = (G - g_min)/(g_max - g_min), with cycle-to-cycle spread\n"
                "# sqrt(abs^2 + (rel f)^2).  aihwkit weights: w = 2x - 1 in [-1, 1] (conductance_to_weight).\n",
                device);
        emit_update_dict(f, u, update_path);
        fprintf(f,
                "# The mean step law fitted by each aihwkit step-device family (least squares over the\n"
                "# window, both directions): rms(family - law)/rms(law).  TRAINING_FAMILY: the family with\n"
                "# the fewest parameters within %.3g of the best.  Common to all: dw_min_std = the rms\n"
                "# c2c spread over the rms step (xbar's absolute part, %.3g of the step, folded in:\n"
                "# aihwkit's c2c noise is relative); dw_min_dtod = the rms spread of the Monte Carlo\n"
                "# devices' steps over the rms step; w_min/max_dtod = the spread of the extremes each\n"
                "# device reached (relative to the half window).\n",
                XB_TRAIN_TIE, n.abs_rel);
        fprintf(f, "TRAINING_RESIDUAL = {}\n");
        for (int fam = 0; fam < N_FAM; fam++) {
            if (isfinite(fit[fam].resid_rel))
                fprintf(f, "TRAINING_RESIDUAL['%s'] = %.6g\n", k_family[fam], fit[fam].resid_rel);
            else
                fprintf(f, "TRAINING_RESIDUAL['%s'] = float('inf')   # cannot represent the law\n", k_family[fam]);
        }
        if (pick >= 0) fprintf(f, "TRAINING_FAMILY = '%s'\n", k_family[pick]);
        else fprintf(f, "TRAINING_FAMILY = None   # no family represents the law\n");
        fprintf(f, "_TRAINING_PARAMS = {\n");
        for (int fam = 0; fam < N_FAM; fam++)
            if (isfinite(fit[fam].resid_rel)) emit_params(f, fam, &fit[fam], &n);
        fprintf(f, "}\n");
    }
    fprintf(f,
            "\n\n"
            "def training_device(family=None):\n"
            "    \"\"\"The aihwkit pulsed device of the pulse-update model: TRAINING_FAMILY, or another of\n"
            "    TRAINING_RESIDUAL's families.  For analog training: SingleRPUConfig(device=...).\"\"\"\n"
            "    if UPDATE is None:\n"
            "        raise ValueError('no pulse-update model for %s in the model file: no training device')\n"
            "    family = family or TRAINING_FAMILY\n"
            "    if family not in _TRAINING_PARAMS:\n"
            "        raise ValueError(f'{family}: not among the fitted families {sorted(_TRAINING_PARAMS)}')\n"
            "    from aihwkit.simulator.configs import devices\n"
            "    return getattr(devices, family)(**_TRAINING_PARAMS[family])\n"
            "\n\n"
            "def training_rpu_config(family=None):\n"
            "    \"\"\"A SingleRPUConfig with training_device(family) (aihwkit's analog SGD).\"\"\"\n"
            "    from aihwkit.simulator.configs import SingleRPUConfig\n"
            "    return SingleRPUConfig(device=training_device(family))\n"
            "\n\n"
            "def conductance_to_weight(g_s):\n"
            "    \"\"\"aihwkit weight (in [-1, 1]) of conductance g_s (S) in the update model's window.\"\"\"\n"
            "    return 2 * (g_s - UPDATE['g_min_s']) / (UPDATE['g_max_s'] - UPDATE['g_min_s']) - 1\n"
            "\n\n"
            "def weight_to_conductance(w):\n"
            "    \"\"\"Conductance (S) of aihwkit weight w.\"\"\"\n"
            "    return UPDATE['g_min_s'] + (w + 1) / 2 * (UPDATE['g_max_s'] - UPDATE['g_min_s'])\n",
            device);
}

const char *xb_cli_export_training_summary(const xb_update_model *u, char *buf, size_t n)
{
    if (!u) return "";
    train_fit fit[N_FAM];
    const int pick = fit_all(u, fit);
    if (pick < 0) snprintf(buf, n, ", no training device fits the update law");
    else snprintf(buf, n, ", training device %s (residual %.2g)", k_family[pick], fit[pick].resid_rel);
    return buf;
}
