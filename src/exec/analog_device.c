/* In-memory training, the devices (docs/training.md, "Devices and pulses"): the fitted
 * pulse-update model (fit.h, xb_update_model) tabulated for fast pulses with the ablations
 * applied, arrays of differential pairs whose devices draw their own parameters
 * (device-to-device spread), single pulses, closed-loop programming and refresh. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec/train_analog_internal.h"

/* Relative spread of a device's step scale (the simulator's d2d model: device k steps
 * a_k f(G)).  Each Monte Carlo device's own fitted law f_k is projected on the mean law over
 * the states of the window that device reached, a_k = sum f_k f / sum f^2 (least squares),
 * and the spread is the sample standard deviation of a_k / mean(a).  Not the relative spread
 * of the law's parameters: a parameter that is the step at a bound (softbounds, pwl end
 * knots) has a mean near zero there, and its sd/mean (100 % for ECRAM's up law, whose
 * interior steps differ by ~25 % between devices) measures where each device's window ends,
 * which the bounds' own spread (d2d_lo_std, d2d_hi_std) already models. */
double xb_analog_d2d_step_spread(const xb_update_model *m, int dir)
{
    if (!m) return 0.0;
    const double lo = m->g_min_siemens, hi = m->g_max_siemens;
    double a[64], sa = 0;
    size_t n = 0;
    for (size_t k = 0; k < m->n_devices && n < 64; k++) {
        const double dlo = m->dev_g_min_siemens ? m->dev_g_min_siemens[k] : lo;
        const double dhi = m->dev_g_max_siemens ? m->dev_g_max_siemens[k] : hi;
        double num = 0, den = 0;
        for (size_t q = 0; q < XB_AN_GRID; q++) {
            const double x = (double)q / (XB_AN_GRID - 1), g = lo + x * (hi - lo);
            if (!(g >= dlo && g <= dhi)) continue; /* the device's law is extrapolated there */
            const double f = dir > 0 ? fmax(0.0, xb_update_law_eval(m->law, m->up, x, 1))
                                     : fmin(0.0, xb_update_law_eval(m->law, m->down, x, -1));
            double fk = xb_fit_update_device_step(m, k, g, dir);
            if (!isfinite(fk)) break;
            fk = dir > 0 ? fmax(0.0, fk) : fmin(0.0, fk);
            num += fk * f;
            den += f * f;
        }
        if (den > 0 && isfinite(num)) {
            a[n++] = num / den;
            sa += num / den;
        }
    }
    if (n < 2 || !(sa > 0)) return 0.0;
    const double mean = sa / (double)n;
    double v = 0;
    for (size_t k = 0; k < n; k++) v += (a[k] / mean - 1) * (a[k] / mean - 1);
    return sqrt(v / (double)(n - 1));
}

/* The ziggurat of the normal density f(x) = exp(-x^2/2) on XB_AN_ZIG layers of equal area
 * V (Marsaglia & Tsang 2000): x_1 = R, the base layer's width x_0 = V / f(R) (the rectangle
 * below f(R) with the tail beyond R folded in), x_{i+1} = f^-1(V / x_i + f(x_i)), x_256 = 0.
 * R and V for 256 layers as given there. */
static const double k_zig_r = 3.6541528853610088; /* R: the base layer's right edge */

static void zig_init(xb_an_model *am)
{
    const double R = k_zig_r, V = 4.92867323399e-3;
    am->zig_x[0] = V / exp(-0.5 * R * R);
    am->zig_x[1] = R;
    for (size_t i = 1; i < XB_AN_ZIG - 1; i++)
        am->zig_x[i + 1] = sqrt(-2.0 * log(V / am->zig_x[i] + exp(-0.5 * am->zig_x[i] * am->zig_x[i])));
    am->zig_x[XB_AN_ZIG] = 0.0; /* the recursion's last step is the top of the density */
    for (size_t i = 0; i <= XB_AN_ZIG; i++) am->zig_f[i] = exp(-0.5 * am->zig_x[i] * am->zig_x[i]);
}

/* uniform on (0, 1), never 0 (a log's argument) */
static inline double uniform_open(uint64_t *rng) { return ((double)(xb_splitmix64(rng) >> 11) + 0.5) * 0x1.0p-53; }

/* the tail |x| > R (Marsaglia, Ann. Math. Stat. 35, 1964): x = R + E1 / R accepted when
 * 2 E2 > (E1 / R)^2, E1, E2 exponential */
static double zig_tail(int negative, uint64_t *rng)
{
    const double R = k_zig_r;
    for (;;) {
        const double x = -log(uniform_open(rng)) / R, y = -log(uniform_open(rng));
        if (2.0 * y > x * x) return negative ? -(R + x) : R + x;
    }
}

static inline double zig_gauss(const xb_an_model *am, uint64_t *rng)
{
    for (;;) {
        const uint64_t b = xb_splitmix64(rng);
        const size_t i = (size_t)(b & (XB_AN_ZIG - 1));
        /* u uniform on (-1, 1), symmetric, from bits 12..63 (bits 0..7 chose the layer) */
        const double u = ((double)(b >> 12) + 0.5) * 0x1.0p-51 - 1.0, x = u * am->zig_x[i];
        if (fabs(x) < am->zig_x[i + 1]) return x; /* inside the layer's rectangle under f */
        if (i == 0) return zig_tail(u < 0, rng);
        const double y = am->zig_f[i] + (am->zig_f[i + 1] - am->zig_f[i]) * xb_splitmix64_uniform(rng);
        if (y < exp(-0.5 * x * x)) return x;
    }
}

double xb_an_gauss(const xb_an_model *am, uint64_t *rng) { return zig_gauss(am, rng); }

int xb_an_model_init(xb_an_model *am, const xb_update_model *m, unsigned ablate, xb_error *err)
{
    memset(am, 0, sizeof *am);
    zig_init(am);
    if (!m || !(m->g_max_siemens > m->g_min_siemens) || !(m->g_min_siemens >= 0))
        return xb_errorf(err, XB_EINPUT, "update model: no conductance window");
    const double lo = m->g_min_siemens, hi = m->g_max_siemens, h = (hi - lo) / (XB_AN_GRID - 1);
    am->g_min = lo;
    am->g_max = hi;
    am->g_c = 0.5 * (lo + hi);
    am->inv_h = 1.0 / h;
    am->ablate = ablate;
    const int c2c = !(ablate & XB_ANALOG_ABLATE_C2C), state = !(ablate & XB_ANALOG_ABLATE_STATE);
    for (size_t k = 0; k < XB_AN_GRID; k++) {
        const double x = state ? (double)k / (XB_AN_GRID - 1) : 0.5, g = lo + x * (hi - lo);
        /* a law crossing zero inside the window: the state does not move further that way */
        am->up[k] = fmax(0.0, xb_update_law_eval(m->law, m->up, x, 1));
        am->down[k] = fmin(0.0, xb_update_law_eval(m->law, m->down, x, -1));
        am->sup[k] = c2c ? xb_fit_update_sigma(m, g, 1) : 0.0;
        am->sdown[k] = c2c ? xb_fit_update_sigma(m, g, -1) : 0.0;
        if (!(am->up[k] >= 0) || !(am->down[k] <= 0) || !isfinite(am->sup[k]) || !isfinite(am->sdown[k]))
            return xb_errorf(err, XB_EINPUT, "update model %s: step law has the wrong sign or is not finite at "
                             "G = %.4g S", xb_device_name(m->device), g);
        if (ablate & XB_ANALOG_ABLATE_ASYMMETRY) {
            const double a = 0.5 * (am->up[k] - am->down[k]), s = 0.5 * (am->sup[k] + am->sdown[k]);
            am->up[k] = a;
            am->down[k] = -a;
            am->sup[k] = am->sdown[k] = s;
        }
    }
    const size_t c = (XB_AN_GRID - 1) / 2;
    am->step_c = 0.5 * (am->up[c] - am->down[c]);
    am->step_up_c = am->up[c];
    if (!(am->step_c > 0))
        return xb_errorf(err, XB_EINPUT, "update model %s: zero step at the window centre", xb_device_name(m->device));
    if (!(ablate & XB_ANALOG_ABLATE_D2D) && m->n_devices > 1) {
        am->d2d_up_rel = xb_analog_d2d_step_spread(m, 1);
        am->d2d_down_rel = xb_analog_d2d_step_spread(m, -1);
        am->d2d_lo_std = isfinite(m->d2d_g_min_std_siemens) ? m->d2d_g_min_std_siemens : 0.0;
        am->d2d_hi_std = isfinite(m->d2d_g_max_std_siemens) ? m->d2d_g_max_std_siemens : 0.0;
    }
    am->e_up_joule = isfinite(m->energy_up_joule) ? m->energy_up_joule : 0.0;
    am->e_down_joule = isfinite(m->energy_down_joule) ? m->energy_down_joule : 0.0;
    am->width_s = isfinite(m->width_s) ? m->width_s : 0.0;
    return XB_OK;
}

/* ------------------------------------------------------------------ pair arrays */
static double gauss(uint64_t *s)
{
    const uint64_t a = xb_splitmix64(s);
    return xb_gauss_from_bits(a, xb_splitmix64(s));
}

int xb_an_pairs_new(xb_an_pairs *p, size_t n, const xb_an_model *am, uint64_t seed, xb_error *err)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    p->gp = malloc((n ? n : 1) * sizeof(double));
    p->gm = malloc((n ? n : 1) * sizeof(double));
    p->moved = calloc((n + 63) / 64 + 1, sizeof(uint64_t));
    const int d2d = am->d2d_up_rel > 0 || am->d2d_down_rel > 0 || am->d2d_lo_std > 0 || am->d2d_hi_std > 0;
    if (d2d) {
        p->a_up = malloc(2 * n * sizeof(float));
        p->a_down = malloc(2 * n * sizeof(float));
        p->lo = malloc(2 * n * sizeof(float));
        p->hi = malloc(2 * n * sizeof(float));
    }
    if (!p->gp || !p->gm || !p->moved || (d2d && (!p->a_up || !p->a_down || !p->lo || !p->hi))) {
        xb_an_pairs_free(p);
        return xb_errorf(err, XB_ERUNTIME, "out of memory (conductance pairs)");
    }
    for (size_t k = 0; k < n; k++) p->gp[k] = p->gm[k] = am->g_c;
    uint64_t s = xb_hash64(seed ^ 0xD2D0D2D0ull);
    const double win = am->g_max - am->g_min;
    for (size_t d = 0; d2d && d < 2 * n; d++) {
        /* a device's step scales are >= 0.05 (a step law keeps its sign); its window keeps
         * at least half of the mean one */
        p->a_up[d] = (float)fmax(0.05, 1.0 + am->d2d_up_rel * gauss(&s));
        p->a_down[d] = (float)fmax(0.05, 1.0 + am->d2d_down_rel * gauss(&s));
        double lo = am->g_min + am->d2d_lo_std * gauss(&s), hi = am->g_max + am->d2d_hi_std * gauss(&s);
        if (lo < am->g_min - 0.25 * win) lo = am->g_min - 0.25 * win;
        if (lo < 0) lo = 0;
        if (hi > am->g_max + 0.25 * win) hi = am->g_max + 0.25 * win;
        if (hi - lo < 0.5 * win) {
            lo = am->g_c - 0.25 * win;
            hi = am->g_c + 0.25 * win;
        }
        p->lo[d] = (float)lo;
        p->hi[d] = (float)hi;
    }
    return XB_OK;
}

void xb_an_pairs_moved(xb_an_pairs *p, size_t k)
{
    if (p && p->moved && k < p->n) p->moved[k >> 6] |= (uint64_t)1 << (k & 63);
}

void xb_an_pairs_free(xb_an_pairs *p)
{
    if (!p) return;
    free(p->gp);
    free(p->gm);
    free(p->moved);
    free(p->a_up);
    free(p->a_down);
    free(p->lo);
    free(p->hi);
    memset(p, 0, sizeof *p);
}

/* the pulse path (millions of calls per epoch) reads the bounds inline */
static inline double dev_lo(const xb_an_pairs *p, const xb_an_model *am, size_t dv) { return p->lo ? p->lo[dv] : am->g_min; }
static inline double dev_hi(const xb_an_pairs *p, const xb_an_model *am, size_t dv) { return p->hi ? p->hi[dv] : am->g_max; }
double xb_an_lo(const xb_an_pairs *p, const xb_an_model *am, size_t dv) { return dev_lo(p, am, dv); }
double xb_an_hi(const xb_an_pairs *p, const xb_an_model *am, size_t dv) { return dev_hi(p, am, dv); }

static inline double *dev_g(const xb_an_pairs *p, size_t dv) { return dv & 1 ? &p->gm[dv >> 1] : &p->gp[dv >> 1]; }

/* mean step f and spread s of direction dir at G (linear interpolation on the grid, the
 * window's end values outside it) */
static inline void step_at(const xb_an_model *am, double g, int dir, double *f, double *s)
{
    double u = (g - am->g_min) * am->inv_h;
    if (u < 0) u = 0;
    if (u > XB_AN_GRID - 1) u = XB_AN_GRID - 1;
    size_t k = (size_t)u;
    if (k >= XB_AN_GRID - 1) k = XB_AN_GRID - 2;
    const double t = u - (double)k;
    const double *F = dir > 0 ? am->up : am->down, *S = dir > 0 ? am->sup : am->sdown;
    *f = F[k] + t * (F[k + 1] - F[k]);
    *s = S[k] + t * (S[k + 1] - S[k]);
}

double xb_an_mean_step(const xb_an_model *am, double g, int dir)
{
    double f, s;
    step_at(am, g, dir, &f, &s);
    return f;
}

double xb_an_pair_step(const xb_an_pairs *p, const xb_an_model *am, size_t k, int dir)
{
    if (am->one_sided) return fmax(xb_an_mean_step(am, dir > 0 ? p->gp[k] : p->gm[k], 1), 0.0);
    return fmax(xb_an_mean_step(am, p->gp[k], dir) * dir, 0.0) + fmax(-xb_an_mean_step(am, p->gm[k], -dir) * dir, 0.0);
}

/* One pulse of device dv from its mean step f and spread s at its state (d2d not applied):
 * the new state, its pair marked; no counters. */
static inline double pulse_move(const xb_an_pairs *p, const xb_an_model *am, size_t dv, int dir, double f, double s,
                                uint64_t *rng)
{
    double *g = dev_g(p, dv);
    if (p->a_up) {
        const double a = dir > 0 ? p->a_up[dv] : p->a_down[dv];
        f *= a;
        s *= a;
    }
    double gn = *g + f + (s > 0 ? s * zig_gauss(am, rng) : 0.0);
    const double lo = dev_lo(p, am, dv), hi = dev_hi(p, am, dv);
    *g = gn < lo ? lo : gn > hi ? hi : gn;
    if (p->moved) p->moved[dv >> 7] |= (uint64_t)1 << ((dv >> 1) & 63);
    return *g;
}

/* pulse_move, counted */
static inline double pulse_fs(const xb_an_pairs *p, const xb_an_model *am, size_t dv, int dir, double f, double s,
                              uint64_t *rng, xb_an_stats *st)
{
    const double g = pulse_move(p, am, dv, dir, f, s, rng);
    st->pulses += 1;
    st->e_joule += dir > 0 ? am->e_up_joule : am->e_down_joule;
    return g;
}

/* One pulse at the device's state, no counters. */
static inline void pulse_nc(const xb_an_pairs *p, const xb_an_model *am, size_t dv, int dir, uint64_t *rng)
{
    double f, s;
    step_at(am, *dev_g(p, dv), dir, &f, &s);
    pulse_move(p, am, dv, dir, f, s, rng);
}

static inline double pulse(const xb_an_pairs *p, const xb_an_model *am, size_t dv, int dir, uint64_t *rng,
                           xb_an_stats *st)
{
    double f, s;
    step_at(am, *dev_g(p, dv), dir, &f, &s);
    return pulse_fs(p, am, dv, dir, f, s, rng, st);
}

double xb_an_pulse(const xb_an_pairs *p, const xb_an_model *am, size_t dv, int dir, uint64_t *rng, xb_an_stats *st)
{
    return pulse(p, am, dv, dir, rng, st);
}

void xb_an_pair_pulses(const xb_an_pairs *p, const xb_an_model *am, size_t base, const int32_t *rows, size_t m,
                       int dir, uint64_t *rng, xb_an_stats *st)
{
    for (size_t u = 0; u < m; u++) {
        const int32_t v = rows[u];
        const size_t k = base + (size_t)(v > 0 ? v : -v) - 1;
        const int d = v > 0 ? dir : -dir;
        if (am->one_sided) {
            pulse_nc(p, am, d > 0 ? 2 * k : 2 * k + 1, 1, rng);
        } else {
            pulse_nc(p, am, 2 * k, d, rng);
            pulse_nc(p, am, 2 * k + 1, -d, rng);
        }
    }
    /* every coincidence: one up pulse (one-sided), or one up and one down (both) */
    const double n_up = (double)m, n_down = am->one_sided ? 0.0 : (double)m;
    st->pulses += n_up + n_down;
    st->e_joule += n_up * am->e_up_joule + n_down * am->e_down_joule;
}

void xb_an_pair_pulse(const xb_an_pairs *p, const xb_an_model *am, size_t k, int dir, uint64_t *rng, xb_an_stats *st)
{
    if (am->one_sided) {
        pulse(p, am, dir > 0 ? 2 * k : 2 * k + 1, 1, rng, st);
        return;
    }
    pulse(p, am, 2 * k, dir, rng, st);
    pulse(p, am, 2 * k + 1, -dir, rng, st);
}

size_t xb_an_program(const xb_an_pairs *p, const xb_an_model *am, size_t dv, double target, size_t max_pulses,
                     uint64_t *rng, xb_an_stats *st)
{
    size_t n = 0, n_up = 0;
    for (; n < max_pulses; n++) {
        const double g = *dev_g(p, dv), e = target - g;
        const int dir = e > 0 ? 1 : -1;
        double f, s;
        step_at(am, g, dir, &f, &s);
        const double f0 = f;
        if (p->a_up) f *= dir > 0 ? p->a_up[dv] : p->a_down[dv];
        if (fabs(e) <= 0.5 * fabs(f) || f == 0) break;
        pulse_move(p, am, dv, dir, f0, s, rng); /* the step just looked up, not again */
        n_up += dir > 0;
    }
    /* the counters once (not a memory update per pulse); verify pulses are sequential */
    st->pulses += (double)n;
    st->e_joule += (double)n_up * am->e_up_joule + (double)(n - n_up) * am->e_down_joule;
    st->t_s += (double)n * am->width_s;
    return n;
}

/* the pair's centre: the middle of its two devices' windows */
static double pair_centre(const xb_an_pairs *p, const xb_an_model *am, size_t k)
{
    return 0.25 * (xb_an_lo(p, am, 2 * k) + xb_an_hi(p, am, 2 * k) + xb_an_lo(p, am, 2 * k + 1) +
                   xb_an_hi(p, am, 2 * k + 1));
}

void xb_an_program_pair(const xb_an_pairs *p, const xb_an_model *am, size_t k, double diff, uint64_t *rng,
                        xb_an_stats *st)
{
    /* a closed loop ends within half a step; bounded for devices that cannot get there */
    const size_t max_pulses = (size_t)(4.0 * (am->g_max - am->g_min) / am->step_c) + 16;
    const double c = pair_centre(p, am, k);
    for (int s = 0; s < 2; s++) {
        const size_t dv = 2 * k + (size_t)s;
        double t = c + (s == 0 ? 0.5 : -0.5) * diff;
        const double lo = xb_an_lo(p, am, dv), hi = xb_an_hi(p, am, dv);
        t = t < lo ? lo : t > hi ? hi : t;
        xb_an_program(p, am, dv, t, max_pulses, rng, st);
    }
}

/* device dv at g within margin m of a bound */
static int near_bound(const xb_an_pairs *p, const xb_an_model *am, size_t dv, double g, double m)
{
    return g > dev_hi(p, am, dv) - m || g < dev_lo(p, am, dv) + m;
}

/* Pairs k0..k1-1 of a refresh, on the stream rng. */
static void refresh_range(const xb_an_pairs *p, const xb_an_model *am, double m, size_t k0, size_t k1, uint64_t *rng,
                          xb_an_stats *st)
{
    for (size_t k = k0; k < k1; k++) {
        const double gp = p->gp[k], gm = p->gm[k];
        if (!near_bound(p, am, 2 * k, gp, m) && !near_bound(p, am, 2 * k + 1, gm, m)) continue;
        /* only when the centred pair is clear of the bounds (a full weight, or devices whose
         * own windows are too narrow, gain nothing) */
        const double c = pair_centre(p, am, k), d = gp - gm;
        if (near_bound(p, am, 2 * k, c + 0.5 * d, 2 * m) || near_bound(p, am, 2 * k + 1, c - 0.5 * d, 2 * m)) continue;
        const double before = st->pulses;
        xb_an_program_pair(p, am, k, d, rng, st);
        st->refreshes += 1;
        st->refresh_pulses += st->pulses - before;
    }
}

/* Pairs in chunks of XB_AN_REFRESH_CHUNK (whole 64-pair words of the pulse marks), chunk c
 * on the stream of (seed, c), chunks spread over threads, counters merged in chunk order:
 * the same for any thread count. */
#define XB_AN_REFRESH_CHUNK 4096
typedef struct {
    const xb_an_pairs *p;
    const xb_an_model *am;
    double m;
    uint64_t seed;
    xb_an_stats *cst;
    size_t n_chunks;
} refresh_job;

static void refresh_job_run(void *arg, size_t tid, size_t nthr)
{
    const refresh_job *jb = arg;
    for (size_t c = tid; c < jb->n_chunks; c += nthr) {
        uint64_t r = xb_hash64(jb->seed + XB_SPLITMIX64_GAMMA * (c + 1));
        const size_t k0 = c * XB_AN_REFRESH_CHUNK, k1 = k0 + XB_AN_REFRESH_CHUNK < jb->p->n ? k0 + XB_AN_REFRESH_CHUNK
                                                                                          : jb->p->n;
        memset(&jb->cst[c], 0, sizeof jb->cst[c]);
        refresh_range(jb->p, jb->am, jb->m, k0, k1, &r, &jb->cst[c]);
    }
}

int xb_an_refresh(const xb_an_pairs *p, const xb_an_model *am, double margin, xb_workers *workers, uint64_t *rng,
                  xb_an_stats *st)
{
    if (!(margin > 0) || !p->n) return 0;
    const size_t n_chunks = (p->n + XB_AN_REFRESH_CHUNK - 1) / XB_AN_REFRESH_CHUNK;
    xb_an_stats *cst = malloc(n_chunks * sizeof *cst);
    if (!cst) return -1;
    refresh_job job = {p, am, margin * (am->g_max - am->g_min), xb_splitmix64(rng), cst, n_chunks};
    xb_workers_run(workers, refresh_job_run, &job);
    for (size_t c = 0; c < n_chunks; c++) {
        st->pulses += cst[c].pulses;
        st->e_joule += cst[c].e_joule;
        st->t_s += cst[c].t_s;
        st->refreshes += cst[c].refreshes;
        st->refresh_pulses += cst[c].refresh_pulses;
    }
    free(cst);
    return 0;
}
