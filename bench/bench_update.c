/* bench_update: the pulse-update models (docs/fit.md "Update models") against fresh SPICE
 * pulse trains, and the cost of the shipped pulse-train campaign.
 *
 * 1. characterize/write.ini (RRAM, PCM, ECRAM pulse trains) on 2 workers: wall time and the
 *    CPU time of every process it ran.  Target: under 5 minutes on 2 cores.
 * 2. The update models `xbar fit` makes of it (xb_update_set_load + xb_fit_update, law by
 *    held-out error), with the held-out error of every candidate law.
 * 3. A fresh campaign: another seed (new device-to-device samples and pulse jitter), a new
 *    start state (6 up pulses first), 100 up then 100 down pulses, 4 Monte Carlo devices, the
 *    same cycle-to-cycle noise.  Per device:
 *    - mean trajectory: the SPICE mean over the devices after every slot against the model's
 *      (every fresh train run from its first state with every fitted device law in turn, 16
 *      noisy runs each): rms and largest difference in % of the model's window.  Target: rms
 *      <= 2 %.
 *    - step-noise spread: the model's cycle-to-cycle sigma at the states of the fresh steps
 *      against the sigma the fresh trains give fitted alone with the same law (rms over the
 *      steps of each).  Target: ratio within 20 %.  With deterministic device models the
 *      only step noise is the campaign's pulse-width jitter.
 *
 * usage: bench_update [--campaign FILE] [--jobs N] [--fresh-pulses N] [--fresh-devices N]
 *                     [--c2c SIGMA] [--skip DEVICE]
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

/* Mean trajectory of the fresh trains (SPICE) and of the model run from their first states. */
static void mean_trajectory(const xb_update_model *m, const xb_update_data *d, double *rms_rel, double *max_rel)
{
    const size_t K = d->trains[0].n_slots, runs = 16;
    double *obs = calloc(K + 1, sizeof *obs), *mod = calloc(K + 1, sizeof *mod), *g = malloc((K + 1) * sizeof *g);
    size_t n_obs = 0, n_mod = 0;
    for (size_t t = 0; t < d->n_trains; t++) {
        const xb_update_train *tr = &d->trains[t];
        for (size_t k = 0; k <= K; k++) obs[k] += tr->g_siemens[k];
        n_obs++;
        for (size_t r = 0; r < runs * (m->n_devices ? m->n_devices : 1); r++) {
            xb_error err;
            int st = XB_EINPUT;
            if (m->n_devices)
                st = xb_fit_update_simulate_device(m, r % m->n_devices, tr->g_siemens[0], tr->dir, K, 1, 7919 * t + r, g,
                                                   &err);
            if (st) st = xb_fit_update_simulate(m, tr->g_siemens[0], tr->dir, K, 1, 7919 * t + r, g, &err);
            if (st) continue;
            for (size_t k = 0; k <= K; k++) mod[k] += g[k];
            n_mod++;
        }
    }
    const double W = m->g_max_siemens - m->g_min_siemens;
    double s2 = 0, mx = 0;
    for (size_t k = 0; k <= K; k++) {
        const double e = mod[k] / (double)n_mod - obs[k] / (double)n_obs;
        s2 += e * e;
        mx = fmax(mx, fabs(e));
    }
    *rms_rel = sqrt(s2 / (double)(K + 1)) / W;
    *max_rel = mx / W;
    free(obs);
    free(mod);
    free(g);
}

/* rms over the fresh steps (pulses not held at a bound) of the c2c sigma of model m. */
static double sigma_at_steps(const xb_update_model *m, const xb_update_data *d)
{
    double s2 = 0;
    size_t n = 0;
    const double tol = 1e-3 * (m->g_max_siemens - m->g_min_siemens);
    for (size_t t = 0; t < d->n_trains; t++) {
        const xb_update_train *tr = &d->trains[t];
        for (size_t k = 0; k < tr->n_slots; k++) {
            const int q = tr->dir[k];
            const double g0 = tr->g_siemens[k], g1 = tr->g_siemens[k + 1];
            if (!q || (fabs(g1 - g0) <= tol && (q > 0 ? g0 >= m->g_max_siemens - tol : g0 <= m->g_min_siemens + tol)))
                continue;
            const double s = xb_fit_update_sigma(m, g0, q);
            s2 += s * s;
            n++;
        }
    }
    return n ? sqrt(s2 / (double)n) : NAN;
}

static const xb_update_data *find_data(const xb_update_set *s, xb_device_kind d)
{
    for (size_t k = 0; k < xb_update_set_count(s); k++)
        if (xb_update_set_data(s, k)->device == d) return xb_update_set_data(s, k);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *campaign = XB_SOURCE_DIR "/characterize/write.ini", *skip = "";
    int jobs = 2;
    size_t fresh_pulses = 100, fresh_devices = 4;
    double c2c = 0.1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--campaign") == 0) campaign = argv[i + 1];
        else if (strcmp(argv[i], "--jobs") == 0) jobs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--fresh-pulses") == 0) fresh_pulses = (size_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--fresh-devices") == 0) fresh_devices = (size_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--c2c") == 0) c2c = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--skip") == 0) skip = argv[i + 1];
        else {
            fprintf(stderr, "usage: bench_update [--campaign FILE] [--jobs N] [--fresh-pulses N] [--fresh-devices N] "
                            "[--c2c SIGMA] [--skip DEVICE]\n");
            return 2;
        }
    }
    char *text = slurp(campaign);
    if (!text) {
        fprintf(stderr, "bench_update: cannot read %s\n", campaign);
        return 2;
    }
    double wall, cpu;
    printf("1. %s on %d workers ...\n", campaign, jobs);
    fflush(stdout);
    if (run_campaign(text, campaign, "bench_update_train.h5", jobs, &wall, &cpu)) return 1;
    printf("   wall %.1f s, CPU %.1f s (every process); on 2 idle cores at least CPU/2 = %.1f s; "
           "target < 300 s wall: %s\n",
           wall, cpu, cpu / 2, wall < 300 ? "met" : "NOT met (see the CPU time: shared machine?)");
    xb_update_set *train = NULL, *fresh = NULL;
    xb_error err;
    if (xb_update_set_load("bench_update_train.h5", &train, &err)) {
        fprintf(stderr, "bench_update: %s\n", err.msg);
        return 1;
    }
    /* the fresh campaign: the devices of the training set */
    char devs[128] = "";
    for (size_t k = 0; k < xb_update_set_count(train); k++) {
        const char *nm = xb_device_name(xb_update_set_data(train, k)->device);
        if (strstr(skip, nm)) continue;
        snprintf(devs + strlen(devs), sizeof devs - strlen(devs), "%s%s", devs[0] ? ", " : "", nm);
    }
    char ftext[2048];
    snprintf(ftext, sizeof ftext,
             "[campaign]\nname = fresh\nseed = 2\nengine = ideal\n[array]\nsize = 1\ndevice = %s\n[variability]\n"
             "d2d = yes\n[inputs]\nsamples = 1\nvectors = 1\n[read]\nschemes = none\n[program]\nenabled = yes\n"
             "pulses = %zu\ncycles = 1\ndevices = %zu\nstart_pulses = 6\nc2c_sigma = %g\n",
             devs, fresh_pulses, fresh_devices, c2c);
    printf("3. fresh trains: seed 2, start state 6 up pulses, %zu up + %zu down, %zu devices, c2c %g (%s) ...\n",
           fresh_pulses, fresh_pulses, fresh_devices, c2c, devs);
    fflush(stdout);
    double fw, fc;
    if (run_campaign(ftext, "fresh", "bench_update_fresh.h5", jobs, &fw, &fc)) return 1;
    printf("   wall %.1f s, CPU %.1f s\n", fw, fc);
    if (xb_update_set_load("bench_update_fresh.h5", &fresh, &err)) {
        fprintf(stderr, "bench_update: %s\n", err.msg);
        return 1;
    }
    printf("\n%-6s %-10s %-34s %10s %10s %8s %11s %11s %7s %8s\n", "device", "law", "held-out (softbounds/exp/pwl)",
           "traj rms", "traj max", "<=2%", "c2c model", "c2c fresh", "ratio", "+-20%");
    int all = 1;
    for (size_t k = 0; k < xb_update_set_count(train); k++) {
        const xb_update_data *d = xb_update_set_data(train, k), *fd = find_data(fresh, d->device);
        if (!fd) continue;
        xb_update_model m, mf;
        if (xb_fit_update(d, XB_UPDATE_AUTO, &m, &err)) {
            printf("%-6s no model: %s\n", xb_device_name(d->device), err.msg);
            all = 0;
            continue;
        }
        double rms, mx;
        mean_trajectory(&m, fd, &rms, &mx);
        double s_model = sigma_at_steps(&m, fd), s_fresh = NAN;
        if (xb_fit_update(fd, (int)m.law, &mf, &err) == XB_OK) {
            s_fresh = sigma_at_steps(&mf, fd);
            xb_fit_update_clear(&mf);
        }
        const double ratio = s_model / s_fresh;
        const int ok_t = rms <= 0.02, ok_s = fabs(ratio - 1) <= 0.2;
        char ho[64];
        snprintf(ho, sizeof ho, "%.2f%% / %.2f%% / %.2f%%", 100 * m.heldout_traj_rel[0], 100 * m.heldout_traj_rel[1],
                 100 * m.heldout_traj_rel[2]);
        printf("%-6s %-10s %-34s %9.2f%% %9.2f%% %8s %11.3g %11.3g %7.3f %8s\n", xb_device_name(d->device),
               xb_update_law_name(m.law), ho, 100 * rms, 100 * mx, ok_t ? "met" : "NOT met", s_model, s_fresh, ratio,
               ok_s ? "met" : "NOT met");
        printf("       window %.4g..%.4g S, %zu devices, %zu up / %zu down steps (%zu / %zu held at a bound), "
               "energy %.3g / %.3g J per pulse\n",
               m.g_min_siemens, m.g_max_siemens, m.n_devices, m.n_up_steps, m.n_down_steps, m.n_up_bound_steps,
               m.n_down_bound_steps, m.energy_up_joule, m.energy_down_joule);
        all = all && ok_t && ok_s;
        xb_fit_update_clear(&m);
    }
    printf("\nall targets met: %s\n", all ? "yes" : "no");
    xb_update_set_free(train);
    xb_update_set_free(fresh);
    free(text);
    return 0;
}
