/* bench_update: the pulse-update models (docs/fit.md "Update models") against fresh SPICE
 * pulse trains, and the cost of the shipped pulse-train campaign.
 *
 * 1. characterize/write.ini (RRAM, PCM, ECRAM pulse trains) on 2 workers: wall time and the
 *    CPU time of every process it ran.  Target: under 5 minutes on 2 cores.
 * 2. The update models `xbar fit` makes of it (xb_update_set_load + xb_fit_update, law by
 *    held-out error), with the held-out error of every candidate law.
 * 3. Held-out trains (the check): the fitted Monte Carlo devices (the campaign's seed:
 *    the same parameter samples; the first --fresh-devices [4] of each device kind) with new
 *    pulse noise (`c2c_seed`), a new start state (6 up pulses first) and 100 up then 100
 *    down pulses (the fitted cycles are 40).  Per device:
 *    - mean trajectory: the SPICE mean over the trains against the model's mean (each train
 *      run from its first state with its own device's fitted law and the model's c2c noise,
 *      64 runs): rms and largest difference in % of the model's window, and the standard
 *      error of the SPICE mean from the pulse noise.  Target: rms <= 2 %.
 *    - step-noise spread: the rms of the model's cycle-to-cycle sigma over the fresh steps
 *      that move G (not censored at a bound) against the rms residual of those steps about
 *      their device's fitted law (independent of them).  Target: ratio within 20 %.  With
 *      deterministic device models the only step noise is the campaign's pulse-width jitter.
 * 4. Population: new Monte Carlo devices (campaign seed + 1), the same recipe, as many of
 *    each kind as were fitted (a per-device [program] devices list; --population-devices N:
 *    N of each); the model runs every train with every fitted device law; the mean
 *    trajectory against the 2 % target; the noise against the sigma the fresh trains give
 *    fitted alone with the same law (their device laws are not the model's), on the
 *    directions they determine (information).  The standard error printed is that of the
 *    two device samples (fresh and fitted): with 4 devices on each side it is 2-5 % of the
 *    window, so the comparison resolves 2 % only with more devices (write.ini: 16 RRAM).
 * The last lines: MET / NOT MET for the two held-out checks and the population check.
 *
 * usage: bench_update [--campaign FILE] [--jobs N] [--fresh-pulses N] [--fresh-devices N]
 *                     [--c2c SIGMA] [--skip DEVICE] [--population 0|1] [--population-devices N]
 *                     [--noise-seed N (seed + 1000)]
 *                     [--train-h5 F] [--fresh-h5 F] [--population-h5 F]   (reuse records)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "xbar/characterize.h"
#include "xbar/common.h"
#include "xbar/fit.h"

static double cpu_children_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static int run_campaign(const char *text, const char *name, const char *out, int jobs, double *wall, double *cpu)
{
    xb_campaign *c = NULL;
    xb_error err;
    if (xb_char_campaign_parse(text, name, &c, &err)) {
        fprintf(stderr, "bench_update: %s\n", err.msg);
        return 1;
    }
    xb_char_run_opts o = {0};
    o.force = 1;
    o.n_parallel = jobs;
    xb_char_run_stats st;
    const double c0 = cpu_children_s(), t0 = xb_now_s();
    int rc = xb_char_run(c, out, &o, &st, &err);
    *wall = xb_now_s() - t0;
    *cpu = cpu_children_s() - c0;
    xb_char_campaign_free(c);
    if (rc || st.failed) {
        fprintf(stderr, "bench_update: %s: %s (%zu failed points)\n", name, rc ? err.msg : "", st.failed);
        return 1;
    }
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

/* Mean trajectory of the fresh trains (SPICE: the mean over the fresh trains, one per
 * device, each one realisation of the pulse noise) against the model's, both from each fresh
 * train's first state: rms and largest difference over the slots, of the model's window.
 *  - same_devices (the held-out check): the fresh trains are the fitted Monte Carlo devices
 *    with new noise; train t is predicted by its own device's fitted law with the model's
 *    c2c noise (64 runs).  *se_rel: the rms over the slots of the standard error of the
 *    SPICE mean from the pulse noise alone, sqrt(sum_t var_t)/n with var_t the variance of the
 *    model's noisy runs of train t (the model's own noise as the estimate of the SPICE one).
 *  - otherwise (the population check): new devices; every train is run with every fitted
 *    device law in turn (16 noisy runs each).  *se_rel: sqrt(s_f^2/n_f + s_m^2/n_m), s_f the
 *    spread of the fresh trajectories over the fresh devices, s_m that of the model's
 *    device-mean trajectories over its fitted devices: both means sample a few devices. */
static void mean_trajectory(const xb_update_model *m, const xb_update_data *d, int same_devices, double *rms_rel,
                            double *max_rel, double *se_rel)
{
    const size_t K = d->trains[0].n_slots, D = m->n_devices ? m->n_devices : 1, runs = same_devices ? 64 : 16;
    double *obs = calloc(K + 1, sizeof *obs), *obs2 = calloc(K + 1, sizeof *obs2), *mod = calloc(K + 1, sizeof *mod),
           *dmod = calloc(D * (K + 1), sizeof *dmod), *g = malloc((K + 1) * sizeof *g),
           *t1 = calloc(K + 1, sizeof *t1), *t2 = calloc(K + 1, sizeof *t2), *vnoise = calloc(K + 1, sizeof *vnoise);
    size_t n_obs = 0, n_mod = 0, *n_dev = calloc(D, sizeof *n_dev);
    for (size_t t = 0; t < d->n_trains; t++) {
        const xb_update_train *tr = &d->trains[t];
        for (size_t k = 0; k <= K; k++) {
            obs[k] += tr->g_siemens[k];
            obs2[k] += tr->g_siemens[k] * tr->g_siemens[k];
            t1[k] = t2[k] = 0;
        }
        n_obs++;
        size_t nt = 0;
        for (size_t r = 0; r < runs * (same_devices ? 1 : D); r++) {
            xb_error err;
            const size_t dev = same_devices ? tr->device : r % D;
            int st = XB_EINPUT;
            if (m->n_devices)
                st = xb_fit_update_simulate_device(m, dev, tr->g_siemens[0], tr->dir, K, 1, 7919 * t + r, g, &err);
            if (st) st = xb_fit_update_simulate(m, tr->g_siemens[0], tr->dir, K, 1, 7919 * t + r, g, &err);
            if (st) continue;
            for (size_t k = 0; k <= K; k++) {
                mod[k] += g[k];
                dmod[dev % D * (K + 1) + k] += g[k];
                t1[k] += g[k];
                t2[k] += g[k] * g[k];
            }
            n_dev[dev % D]++;
            n_mod++;
            nt++;
        }
        for (size_t k = 0; nt > 1 && k <= K; k++)
            vnoise[k] += fmax(t2[k] - t1[k] * t1[k] / (double)nt, 0) / (double)(nt - 1);
    }
    size_t nd = 0;
    for (size_t j = 0; j < D; j++) nd += n_dev[j] > 0;
    const double W = m->g_max_siemens - m->g_min_siemens;
    double s2 = 0, mx = 0, v2 = 0;
    for (size_t k = 0; k <= K; k++) {
        const double mo = mod[k] / (double)n_mod, ob = obs[k] / (double)n_obs, e = mo - ob;
        s2 += e * e;
        mx = fmax(mx, fabs(e));
        if (same_devices) {
            v2 += vnoise[k] / ((double)n_obs * (double)n_obs);
            continue;
        }
        const double vf = n_obs > 1 ? (obs2[k] - (double)n_obs * ob * ob) / (double)(n_obs - 1) : 0;
        double vm = 0;
        for (size_t j = 0; j < D; j++)
            if (n_dev[j]) {
                const double dm = dmod[j * (K + 1) + k] / (double)n_dev[j] - mo;
                vm += dm * dm;
            }
        vm = nd > 1 ? vm / (double)(nd - 1) : 0;
        v2 += fmax(vf, 0) / (double)n_obs + (nd ? vm / (double)nd : 0);
    }
    *rms_rel = sqrt(s2 / (double)(K + 1)) / W;
    *max_rel = mx / W;
    *se_rel = sqrt(v2 / (double)(K + 1)) / W;
    free(obs);
    free(obs2);
    free(mod);
    free(dmod);
    free(n_dev);
    free(g);
    free(t1);
    free(t2);
    free(vnoise);
}

/* rms over the fresh steps that move G (by more than 1e-3 of the window: not held at a
 * bound, nor at PCM's RESET state, where both models' noise is a fit of noise-free
 * zeros) of the directions in mask (bit 0 up, bit 1 down) of the c2c sigma of model m. */
static double sigma_at_steps(const xb_update_model *m, const xb_update_data *d, unsigned mask)
{
    double s2 = 0;
    size_t n = 0;
    const double tol = 1e-3 * (m->g_max_siemens - m->g_min_siemens);
    for (size_t t = 0; t < d->n_trains; t++) {
        const xb_update_train *tr = &d->trains[t];
        for (size_t k = 0; k < tr->n_slots; k++) {
            const int q = tr->dir[k];
            const double g0 = tr->g_siemens[k], g1 = tr->g_siemens[k + 1];
            if (!q || !(mask & (q > 0 ? 1u : 2u)) || fabs(g1 - g0) <= tol) continue;
            const double s = xb_fit_update_sigma(m, g0, q);
            s2 += s * s;
            n++;
        }
    }
    return n ? sqrt(s2 / (double)n) : NAN;
}

/* Held-out noise on the fitted devices: over the fresh steps that move G (by more than 1e-3
 * of the window) and do not end at their train's extremes in their direction (censored by
 * the device's bound), the rms residual about the model's own law of the train's device (fitted
 * on the other trains: independent of these) -> *s_fresh, and the rms of the model's c2c
 * sigma at the same steps -> *s_model. */
static void noise_same_devices(const xb_update_model *m, const xb_update_data *d, double *s_model, double *s_fresh)
{
    double r2 = 0, m2 = 0;
    size_t n = 0;
    const double tol = 1e-3 * (m->g_max_siemens - m->g_min_siemens);
    for (size_t t = 0; t < d->n_trains; t++) {
        const xb_update_train *tr = &d->trains[t];
        double lo = INFINITY, hi = -INFINITY;
        for (size_t k = 0; k <= tr->n_slots; k++) {
            lo = fmin(lo, tr->g_siemens[k]);
            hi = fmax(hi, tr->g_siemens[k]);
        }
        for (size_t k = 0; k < tr->n_slots; k++) {
            const int q = tr->dir[k];
            const double g0 = tr->g_siemens[k], g1 = tr->g_siemens[k + 1];
            if (!q || fabs(g1 - g0) <= tol || (q > 0 ? g1 >= hi - tol : g1 <= lo + tol)) continue;
            double f = tr->device < m->n_devices ? xb_fit_update_device_step(m, tr->device, g0, q) : NAN;
            if (!isfinite(f)) f = xb_fit_update_step(m, g0, q);
            /* the device's own sigma (its law's step times rel), as its trains are simulated */
            double sg = tr->device < m->n_devices ? xb_fit_update_device_sigma(m, tr->device, g0, q) : NAN;
            if (!isfinite(sg)) sg = xb_fit_update_sigma(m, g0, q);
            r2 += (g1 - g0 - f) * (g1 - g0 - f);
            m2 += sg * sg;
            n++;
        }
    }
    *s_fresh = n ? sqrt(r2 / (double)n) : NAN;
    *s_model = n ? sqrt(m2 / (double)n) : NAN;
}

/* The directions whose step noise the fresh trains determine: at least 30 steps that move G
 * more than the parameters of their device fits (PCM's down pulse: one RESET per train, the
 * others leave G at the RESET state). */
static unsigned determined(const xb_update_model *mf, const xb_update_data *d)
{
    const double used = (double)(mf->n_devices ? mf->n_devices : 1) * (double)mf->n_params;
    const double tol = 1e-3 * (mf->g_max_siemens - mf->g_min_siemens);
    size_t n[2] = {0, 0};
    for (size_t t = 0; t < d->n_trains; t++)
        for (size_t k = 0; k < d->trains[t].n_slots; k++)
            if (d->trains[t].dir[k] && fabs(d->trains[t].g_siemens[k + 1] - d->trains[t].g_siemens[k]) > tol)
                n[d->trains[t].dir[k] > 0 ? 0 : 1]++;
    return ((double)n[0] >= used + 30 ? 1u : 0u) | ((double)n[1] >= used + 30 ? 2u : 0u);
}

static const xb_update_data *find_data(const xb_update_set *s, xb_device_kind d)
{
    for (size_t k = 0; k < xb_update_set_count(s); k++)
        if (xb_update_set_data(s, k)->device == d) return xb_update_set_data(s, k);
    return NULL;
}

/* The fresh campaign: the devices of the training set, start state 6 up pulses, one cycle of
 * `pulses` up + `pulses` down.  seed: the campaign seed (the training one: the same Monte
 * Carlo devices); c2c_seed: the noise streams. */
static int run_fresh(const char *devs, unsigned long seed, unsigned long c2c_seed, size_t pulses, const char *devices,
                     double c2c, int jobs, const char *out, const char *reuse, xb_update_set **set)
{
    char ftext[2048];
    snprintf(ftext, sizeof ftext,
             "[campaign]\nname = fresh\nseed = %lu\nengine = ideal\n[array]\nsize = 1\ndevice = %s\n[variability]\n"
             "d2d = yes\n[inputs]\nsamples = 1\nvectors = 1\n[read]\nschemes = none\n[program]\nenabled = yes\n"
             "pulses = %zu\ncycles = 1\ndevices = %s\nstart_pulses = 6\nc2c_sigma = %g\nc2c_seed = %lu\n",
             seed, devs, pulses, devices, c2c, c2c_seed);
    printf("   campaign seed %lu, noise seed %lu, start state 6 up pulses, %zu up + %zu down, devices %s, c2c %g (%s)\n",
           seed, c2c_seed, pulses, pulses, devices, c2c, devs);
    fflush(stdout);
    if (reuse) {
        printf("   the records of %s (not run again)\n", reuse);
        out = reuse;
    } else {
        double fw, fc;
        if (run_campaign(ftext, "fresh", out, jobs, &fw, &fc)) return 1;
        printf("   wall %.1f s, CPU %.1f s\n", fw, fc);
    }
    xb_error err;
    if (xb_update_set_load(out, set, &err)) {
        fprintf(stderr, "bench_update: %s\n", err.msg);
        return 1;
    }
    return 0;
}

/* One table: every device's model against the fresh trains.  Returns bit 0 when every
 * device's mean trajectory is within 2 %, bit 1 when every step-noise ratio is within 20 %. */
static unsigned compare(const xb_update_set *train, const xb_update_set *fresh, int same_devices)
{
    printf("\n%-6s %-10s %-34s %10s %10s %9s %8s %11s %11s %7s %8s\n", "device", "law", "held-out (softbounds/exp/pwl)",
           "traj rms", "traj max", "+-SE", "<=2%", "c2c model", "c2c fresh", "ratio", "+-20%");
    int all_t = 1, all_s = 1;
    xb_error err;
    for (size_t k = 0; k < xb_update_set_count(train); k++) {
        const xb_update_data *d = xb_update_set_data(train, k), *fd = find_data(fresh, d->device);
        if (!fd) continue;
        xb_update_model m, mf;
        if (xb_fit_update(d, XB_UPDATE_AUTO, &m, &err)) {
            printf("%-6s no model: %s\n", xb_device_name(d->device), err.msg);
            all_t = all_s = 0;
            continue;
        }
        double rms, mx, se;
        mean_trajectory(&m, fd, same_devices, &rms, &mx, &se);
        double s_model = NAN, s_fresh = NAN;
        unsigned dirs = 0;
        if (same_devices) {
            noise_same_devices(&m, fd, &s_model, &s_fresh);
            dirs = 3;
        } else if (xb_fit_update(fd, (int)m.law, &mf, &err) == XB_OK) {
            dirs = determined(&mf, fd);
            s_model = sigma_at_steps(&m, fd, dirs);
            s_fresh = sigma_at_steps(&mf, fd, dirs);
            xb_fit_update_clear(&mf);
        }
        const double ratio = s_model / s_fresh;
        const int ok_t = rms <= 0.02, ok_s = fabs(ratio - 1) <= 0.2;
        char ho[64];
        snprintf(ho, sizeof ho, "%.2f%% / %.2f%% / %.2f%%", 100 * m.heldout_traj_rel[0], 100 * m.heldout_traj_rel[1],
                 100 * m.heldout_traj_rel[2]);
        printf("%-6s %-10s %-34s %9.2f%% %9.2f%% %8.2f%% %8s %11.3g %11.3g %7.3f %8s\n", xb_device_name(d->device),
               xb_update_law_name(m.law), ho, 100 * rms, 100 * mx, 100 * se, ok_t ? "met" : "NOT met", s_model, s_fresh,
               ratio, ok_s ? "met" : "NOT met");
        printf("       noise%s on the %s steps; window %.4g..%.4g S, %zu devices, %zu up / %zu down steps "
               "(%zu / %zu at a bound), energy %.3g / %.3g J per pulse\n",
               same_devices ? " (fresh: residual about each device's fitted law)" : " (fresh: the fresh trains' own fit)",
               dirs == 3 ? "up and down" : dirs == 1 ? "up" : dirs == 2 ? "down" : "(no)", m.g_min_siemens,
               m.g_max_siemens, m.n_devices, m.n_up_steps, m.n_down_steps, m.n_up_bound_steps, m.n_down_bound_steps,
               m.energy_up_joule, m.energy_down_joule);
        all_t = all_t && ok_t;
        all_s = all_s && ok_s;
        xb_fit_update_clear(&m);
    }
    return (all_t ? 1u : 0u) | (all_s ? 2u : 0u);
}

static unsigned long campaign_seed(const char *text)
{
    const char *p = strstr(text, "\nseed");
    unsigned long v = 1;
    if (p && (p = strchr(p, '=')) && sscanf(p + 1, "%lu", &v) == 1) return v;
    return 1;
}

int main(int argc, char **argv)
{
    const char *campaign = XB_SOURCE_DIR "/characterize/write.ini", *skip = "", *train_h5 = NULL, *fresh_h5 = NULL,
               *pop_h5 = NULL;
    int jobs = 2, population = 1;
    unsigned long noise_seed = 0; /* 0: the campaign seed + 1000 */
    size_t fresh_pulses = 100, fresh_devices = 4, pop_devices = 0; /* 0: as many as were fitted */
    double c2c = 0.1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--campaign") == 0) campaign = argv[i + 1];
        else if (strcmp(argv[i], "--jobs") == 0) jobs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--fresh-pulses") == 0) fresh_pulses = (size_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--fresh-devices") == 0) fresh_devices = (size_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--population-devices") == 0) pop_devices = (size_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--c2c") == 0) c2c = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--skip") == 0) skip = argv[i + 1];
        else if (strcmp(argv[i], "--train-h5") == 0) train_h5 = argv[i + 1];
        else if (strcmp(argv[i], "--fresh-h5") == 0) fresh_h5 = argv[i + 1];
        else if (strcmp(argv[i], "--population-h5") == 0) pop_h5 = argv[i + 1];
        else if (strcmp(argv[i], "--population") == 0) population = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--noise-seed") == 0) noise_seed = strtoul(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_update [--campaign FILE] [--jobs N] [--fresh-pulses N] [--fresh-devices N] "
                            "[--c2c SIGMA] [--skip DEVICE] [--population 0|1] [--population-devices N] [--noise-seed N] [--train-h5 RESULTS] [--fresh-h5 RESULTS] "
                            "[--population-h5 RESULTS]\n");
            return 2;
        }
    }
    char *text = slurp(campaign);
    if (!text) {
        fprintf(stderr, "bench_update: cannot read %s\n", campaign);
        return 2;
    }
    const unsigned long seed = campaign_seed(text);
    double wall, cpu;
    if (train_h5) {
        printf("1. the records of %s (not run again)\n", train_h5);
    } else {
        train_h5 = "bench_update_train.h5";
        printf("1. %s on %d workers ...\n", campaign, jobs);
        fflush(stdout);
        if (run_campaign(text, campaign, train_h5, jobs, &wall, &cpu)) return 1;
        printf("   wall %.1f s, CPU %.1f s (every process); on 2 idle cores at least CPU/2 = %.1f s; "
               "target < 300 s wall: %s\n",
               wall, cpu, cpu / 2, wall < 300 ? "met" : "NOT met (see the CPU time: shared machine?)");
    }
    xb_update_set *train = NULL, *fresh = NULL, *pop = NULL;
    xb_error err;
    if (xb_update_set_load(train_h5, &train, &err)) {
        fprintf(stderr, "bench_update: %s\n", err.msg);
        return 1;
    }
    /* per device kind (in the order of devs): the held-out trains run the first
     * min(fresh_devices, fitted) fitted devices; the population as many new devices as were
     * fitted (or pop_devices), a per-device [program] devices list */
    char devs[128] = "", held_n[128] = "", pop_n[128] = "";
    for (size_t k = 0; k < xb_update_set_count(train); k++) {
        const xb_update_data *d = xb_update_set_data(train, k);
        size_t D = 0;
        for (size_t t = 0; t < d->n_trains; t++) D = d->trains[t].device + 1 > D ? d->trains[t].device + 1 : D;
        const char *nm = xb_device_name(d->device);
        if (strstr(skip, nm)) continue;
        const char *sep = devs[0] ? ", " : "";
        snprintf(devs + strlen(devs), sizeof devs - strlen(devs), "%s%s", sep, nm);
        snprintf(held_n + strlen(held_n), sizeof held_n - strlen(held_n), "%s%zu", sep,
                 fresh_devices < D ? fresh_devices : D);
        snprintf(pop_n + strlen(pop_n), sizeof pop_n - strlen(pop_n), "%s%zu", sep, pop_devices ? pop_devices : D);
    }
    /* the held-out check: the fitted devices, new noise, a new start state, longer trains */
    printf("2. held-out trains: the fitted Monte Carlo devices (campaign seed %lu) with new noise ...\n", seed);
    if (run_fresh(devs, seed, noise_seed ? noise_seed : seed + 1000, fresh_pulses, held_n, c2c, jobs,
                  "bench_update_fresh.h5", fresh_h5, &fresh))
        return 1;
    const unsigned held = compare(train, fresh, 1);
    unsigned pall = 0;
    if (population) {
        printf("\n3. population: new Monte Carlo devices (campaign seed %lu), new noise: the model's device-to-device "
               "sample against new devices ...\n", seed + 1);
        if (run_fresh(devs, seed + 1, 0, fresh_pulses, pop_n, c2c, jobs, "bench_update_population.h5", pop_h5,
                      &pop))
            return 1;
        pall = compare(train, pop, 0) | 4u;
    }
    printf("\nsummary (every device):\n");
    printf("  held-out mean trajectory <= 2 %% of the window:        %s\n", held & 1u ? "MET" : "NOT MET");
    printf("  held-out step-noise spread within 20 %%:               %s\n", held & 2u ? "MET" : "NOT MET");
    if (pall & 4u) {
        printf("  population (new devices) mean trajectory <= 2 %%:     %s\n", pall & 1u ? "MET" : "NOT MET");
        printf("  population step noise within 20 %% (information):     %s\n", pall & 2u ? "MET" : "NOT MET");
    }
    xb_update_set_free(train);
    xb_update_set_free(fresh);
    xb_update_set_free(pop);
    free(text);
    return 0;
}
