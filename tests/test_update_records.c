/* Pulse-train records of a campaign (src/characterize/program.c, docs/hdf5-results.md
 * program/train_*), in ngspice on ECRAM: the slot plan of the start states, the single-train
 * datasets = train (0, 0), Monte Carlo devices identical without d2d and different with it,
 * idle slots leave G where it was, and the energy of a gate pulse against the model's own
 * charge balance (the gate charge Q moves the state by Q/qup (1 - gup x), models/ecram.lib;
 * the source delivers E = int v I dt, which is a Q up to the edges where v < a). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/xb_test.h"
#include "xbar/characterize.h"
#include "xbar/h5.h"

enum { DEV = 2, NS = 3, PULSES = 3, CYCLES = 2, NPRE = 2, K = NPRE + 2 * PULSES * CYCLES };
static const long k_starts[NS] = {0, 2, -1};

static double *read_all(hid_t f, const char *p, int rank_want, const hsize_t *dims_want)
{
    double *v = NULL;
    int rk;
    hsize_t d[4];
    xb_error err;
    if (xb_h5_read_doubles(f, p, &v, &rk, d, &err)) fprintf(stderr, "%s: %s\n", p, err.msg);
    assert_non_null(v);
    assert_int_equal(rk, rank_want);
    for (int k = 0; k < rk; k++) assert_int_equal(d[k], dims_want[k]);
    return v;
}

static double dyn_param(const char *name)
{
    size_t n;
    const xb_dyn_param *t = xb_netlist_dyn_params(XB_DEVICE_ECRAM, &n);
    for (size_t k = 0; k < n; k++)
        if (strcmp(t[k].name, name) == 0) return t[k].value;
    fail_msg("no ECRAM parameter %s", name);
    return NAN;
}

static void test_ecram_records(void **state)
{
    (void)state;
    const char *text = "[campaign]\nengine = ideal\n[array]\nsize = 1\ndevice = ecram\n[variability]\nd2d = no, yes\n"
                       "[inputs]\nsamples = 1\nvectors = 1\n[read]\nschemes = none\n"
                       "[program]\nenabled = yes\npulses = 3\ncycles = 2\ndevices = 2\nstart_pulses = 0, 2, -1\n";
    xb_campaign *c = NULL;
    xb_error err;
    assert_int_equal(xb_char_campaign_parse(text, "records.ini", &c, &err), XB_OK);
    assert_int_equal(xb_char_campaign_point(c, 0)->devices, DEV);
    assert_int_equal(xb_char_campaign_point(c, 0)->n_starts, NS);
    char *dir = xb_test_tmpdir("update-records");
    char path[1024];
    snprintf(path, sizeof path, "%s/r.h5", dir);
    xb_char_run_stats st;
    xb_char_run_opts o = {0};
    int rc = xb_char_run(c, path, &o, &st, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    assert_int_equal(st.failed, 0);
    hid_t f;
    assert_int_equal(xb_h5_open(path, 0, &f, &err), XB_OK);
    const hsize_t dg[3] = {DEV, NS, K + 1}, de[3] = {DEV, NS, K}, dd[2] = {NS, K}, d1 = 2 * PULSES * CYCLES + 1;
    double *tg[2], *te[2];
    for (int p = 0; p < 2; p++) {
        char q[128];
        snprintf(q, sizeof q, "points/p%05d/program/train_g", p);
        tg[p] = read_all(f, q, 3, dg);
        snprintf(q, sizeof q, "points/p%05d/program/train_energy", p);
        te[p] = read_all(f, q, 3, de);
    }
    /* the slot plan: idle, then the preset pulses of the start state, then the cycles */
    double *dirs = read_all(f, "points/p00000/program/train_direction", 2, dd);
    for (int s = 0; s < NS; s++)
        for (int k = 0; k < K; k++) {
            int want;
            if (k < NPRE) want = k < NPRE - labs(k_starts[s]) ? 0 : (k_starts[s] > 0 ? 1 : -1);
            else want = ((k - NPRE) % (2 * PULSES)) < PULSES ? 1 : -1;
            assert_int_equal((int)dirs[s * K + k], want);
        }
    /* the single-train datasets are train (0, 0)'s cycles */
    double *g1 = read_all(f, "points/p00000/program/g", 1, &d1);
    for (size_t k = 0; k < d1; k++) assert_true(g1[k] == tg[0][NPRE + k]);
    /* without d2d both devices are the nominal one (no c2c noise): identical trains; with it,
     * different parameter samples and trains */
    assert_memory_equal(tg[0], tg[0] + NS * (K + 1), NS * (K + 1) * sizeof(double));
    double diff = 0;
    for (int k = 0; k < NS * (K + 1); k++) diff = fmax(diff, fabs(tg[1][k] - tg[1][NS * (K + 1) + k]));
    assert_true(diff > 1e-9);
    char *pa = NULL, *pb = NULL;
    assert_int_equal(xb_h5_read_text(f, "points/p00001/program/device_params", &pa, &err), XB_OK);
    assert_int_equal(xb_h5_read_text(f, "points/p00000/program/device_params", &pb, &err), XB_OK);
    fprintf(stderr, "d2d samples:\n%s", pa);
    char *l2 = strchr(pa, '\n');
    assert_non_null(l2);
    assert_true(strcmp(strchr(pa, ':'), strchr(l2 + 1, ':')) != 0);
    /* idle slots read G again: it stays within 1e-3 of a pulse's step; presets move it */
    const double *t0 = tg[0], *t2 = tg[0] + 2 * (K + 1), *t1 = tg[0] + (K + 1);
    const double step = fabs(t0[NPRE + 1] - t0[NPRE]);
    for (int k = 0; k < NPRE; k++) assert_true(fabs(t0[k + 1] - t0[k]) < 1e-3 * step);
    assert_true(fabs(t2[1] - t2[0]) < 1e-3 * step && t2[2] < t2[1]); /* start -1: idle, down */
    assert_true(t1[1] > t1[0] && t1[2] > t1[1]);                      /* start +2: up, up */
    /* energy: zero for idle slots, > 0 for pulses; the first up pulse of train (0, 0) */
    for (int k = 0; k < K; k++) assert_true(dirs[k] == 0 ? te[0][k] == 0 : te[0][k] > 0);
    double gmin, gmax, up;
    assert_int_equal(xb_h5_attr_get_double(f, "points/p00000", "g_min_siemens", &gmin, &err), XB_OK);
    assert_int_equal(xb_h5_attr_get_double(f, "points/p00000", "g_max_siemens", &gmax, &err), XB_OK);
    assert_int_equal(xb_h5_attr_get_double(f, "points/p00000/program", "up_volt", &up, &err), XB_OK);
    const double x0 = (t0[NPRE] - gmin) / (gmax - gmin), dx = (t0[NPRE + 1] - t0[NPRE]) / (gmax - gmin);
    const double Q = dx * dyn_param("qup") / (1 - dyn_param("gup") * (x0 + dx / 2));
    const double E = te[0][NPRE];
    fprintf(stderr, "first up pulse: E %.4g J, a Q %.4g J (ratio %.4f)\n", E, up * Q, E / (up * Q));
    assert_true(E <= up * Q * 1.01 && E >= up * Q * 0.97);
    free(pa);
    free(pb);
    free(dirs);
    free(g1);
    for (int p = 0; p < 2; p++) {
        free(tg[p]);
        free(te[p]);
    }
    xb_h5_close(f, &err);
    xb_char_campaign_free(c);
    free(dir);
}

/* Parse campaign TEXT (named INI in errors), run it into PATH with no point failing, and open
 * the result (the caller closes it). */
static hid_t run_campaign(const char *text, const char *ini, const char *path)
{
    xb_campaign *c = NULL;
    xb_error err;
    assert_int_equal(xb_char_campaign_parse(text, ini, &c, &err), XB_OK);
    xb_char_run_stats st;
    xb_char_run_opts o = {0};
    assert_int_equal(xb_char_run(c, path, &o, &st, &err), XB_OK);
    assert_int_equal(st.failed, 0);
    xb_char_campaign_free(c);
    hid_t f;
    assert_int_equal(xb_h5_open(path, 0, &f, &err), XB_OK);
    return f;
}

/* One ECRAM campaign of 2 Monte Carlo devices (d2d) with 10 % width jitter and the given
 * [program] c2c_seed line; its device_params text and train_pulse_width (2 x 1 x 6). */
static void run_seeded(const char *dir, const char *name, const char *seed_line, char **params, double **widths)
{
    char text[1024], path[1024];
    snprintf(text, sizeof text,
             "[campaign]\nengine = ideal\n[array]\nsize = 1\ndevice = ecram\n[variability]\nd2d = yes\n"
             "[inputs]\nsamples = 1\nvectors = 1\n[read]\nschemes = none\n"
             "[program]\nenabled = yes\npulses = 3\ncycles = 1\ndevices = 2\nc2c_sigma = 0.1\n%s",
             seed_line);
    xb_error err;
    snprintf(path, sizeof path, "%s/%s.h5", dir, name);
    hid_t f = run_campaign(text, "seeded.ini", path);
    assert_int_equal(xb_h5_read_text(f, "points/p00000/program/device_params", params, &err), XB_OK);
    const hsize_t dw[3] = {2, 1, 6};
    *widths = read_all(f, "points/p00000/program/train_pulse_width", 3, dw);
    xb_h5_close(f, &err);
}

/* [program] c2c_seed: new pulse noise on the same Monte Carlo devices (bench_update's held-out
 * trains): the device parameter samples are the same text with and without it, the jittered
 * widths differ, and without it (or with the same seed again) they repeat exactly. */
static void test_c2c_seed(void **state)
{
    (void)state;
    char *dir = xb_test_tmpdir("update-c2c-seed");
    char *p0, *p0b, *p7;
    double *w0, *w0b, *w7;
    run_seeded(dir, "a", "", &p0, &w0);
    run_seeded(dir, "b", "c2c_seed = 0\n", &p0b, &w0b);
    run_seeded(dir, "c", "c2c_seed = 7\n", &p7, &w7);
    assert_string_equal(p0, p7);
    assert_string_equal(p0, p0b);
    assert_memory_equal(w0, w0b, 12 * sizeof(double));
    size_t differ = 0;
    for (int k = 0; k < 12; k++) differ += w0[k] != w7[k];
    assert_int_equal(differ, 12);
    free(p0);
    free(p0b);
    free(p7);
    free(w0);
    free(w0b);
    free(w7);
    free(dir);
}

/* [program] keys: bad start_pulses and devices are errors naming FILE:LINE. */
static void test_program_keys(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[array]\nsize = 1\n[program]\nstart_pulses = 1.5\n",
        "[array]\nsize = 1\n[program]\ndevices = 0\n",
        "[array]\nsize = 1\n[program]\nstart_pulses = 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\n",
    };
    static const char *const want[] = {"x.ini:4: start_pulses", "x.ini:4: devices", "x.ini:4: start_pulses"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        xb_campaign *c = NULL;
        xb_error err;
        assert_int_equal(xb_char_campaign_parse(bad[k], "x.ini", &c, &err), XB_EINPUT);
        fprintf(stderr, "%s\n", err.msg);
        assert_non_null(strstr(err.msg, want[k]));
    }
    xb_campaign *c = NULL;
    xb_error err;
    assert_int_equal(xb_char_campaign_parse("[array]\nsize = 1\n[program]\nstart_pulses = -4, 0, 7\n", "x.ini", &c, &err),
                     XB_OK);
    const xb_char_point *P = xb_char_campaign_point(c, 0);
    assert_int_equal(P->n_starts, 3);
    assert_int_equal(P->start_pulses[0], -4);
    assert_int_equal(P->start_pulses[2], 7);
    assert_int_equal(P->devices, 1);
    xb_char_campaign_free(c);
}

/* [program] devices, pulses, cycles, pulse_volt, pulse_width_s, c2c_sigma per device: one value for every
 * [array] device entry, or a list of one per entry in order (other sweep axes keep them);
 * a list of another length is one error naming FILE:LINE and the key. */
static void test_program_per_device(void **state)
{
    (void)state;
    xb_campaign *c = NULL;
    xb_error err;
    const char *text = "[array]\nsize = 1\ndevice = rram, pcm, ecram\n[variability]\nd2d = no, yes\n[program]\n"
                       "enabled = yes\ndevices = 16, 4, 2\npulse_volt = 1.5, 2.5, 0.9\npulse_width_s = 1e-8\n"
                       "c2c_sigma = 0.1, 0, 0.05\npulses = 40, 40, 600\ncycles = 2\n";
    assert_int_equal(xb_char_campaign_parse(text, "x.ini", &c, &err), XB_OK);
    assert_int_equal(xb_char_campaign_npoints(c), 6);
    static const size_t devs[3] = {16, 4, 2};
    static const double volt[3] = {1.5, 2.5, 0.9}, c2c[3] = {0.1, 0, 0.05};
    static const xb_device_kind kind[3] = {XB_DEVICE_RRAM, XB_DEVICE_PCM, XB_DEVICE_ECRAM};
    for (size_t k = 0; k < 6; k++) {
        const xb_char_point *P = xb_char_campaign_point(c, k);
        const size_t d = k / 2; /* device, then d2d: the last axis runs fastest */
        assert_int_equal(P->array.device, kind[d]);
        assert_int_equal(P->devices, devs[d]);
        assert_true(P->pulse_volt == volt[d] && P->c2c_sigma == c2c[d] && P->pulse_width_s == 1e-8);
        assert_int_equal(P->pulses, d == 2 ? 600 : 40);
        assert_int_equal(P->cycles, 2);
    }
    xb_char_campaign_free(c);
    static const char *const bad[] = {
        "[array]\nsize = 1\ndevice = rram, pcm, ecram\n[program]\ndevices = 16, 4\n",
        "[array]\nsize = 1\ndevice = rram, ecram\n[program]\n\npulse_volt = 1, 2, 3\n",
        "[array]\nsize = 1\n[program]\npulse_width_s = 1e-8, 2e-8\n",
        "[array]\nsize = 1\ndevice = rram, pcm\n[program]\nc2c_sigma = 0.1, 0.1, 0.1\n",
        "[array]\nsize = 1\ndevice = rram, pcm, ecram\n[program]\npulses = 40, 600\n",
    };
    static const char *const want[] = {"x.ini:5: devices: 2 values for 3 devices in [array] device",
                                       "x.ini:6: pulse_volt: 3 values for 2 devices",
                                       "x.ini:4: pulse_width_s: 2 values for 1 device in",
                                       "x.ini:5: c2c_sigma: 3 values for 2 devices",
                                       "x.ini:5: pulses: 2 values for 3 devices"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        c = NULL;
        assert_int_equal(xb_char_campaign_parse(bad[k], "x.ini", &c, &err), XB_EINPUT);
        fprintf(stderr, "%s\n", err.msg);
        assert_null(strchr(err.msg, '\n'));
        assert_non_null(strstr(err.msg, want[k]));
    }
    /* the records say what each device ran: 2 ECRAM devices at 1.5x its width, 1 RRAM device
     * at its own recipe with 5 % jitter */
    const double w_ecram = 1.5 * xb_device_info_get(XB_DEVICE_ECRAM)->program.width_s;
    const double w_rram = xb_device_info_get(XB_DEVICE_RRAM)->program.width_s;
    char run_text[1024];
    snprintf(run_text, sizeof run_text,
             "[campaign]\nengine = ideal\n[array]\nsize = 1\ndevice = ecram, rram\n[variability]\nd2d = yes\n"
             "[inputs]\nsamples = 1\nvectors = 1\n[read]\nschemes = none\n[program]\nenabled = yes\npulses = 2\n"
             "cycles = 1\ndevices = 2, 1\npulse_width_s = %.17g, %.17g\nc2c_sigma = 0, 0.05\n",
             w_ecram, w_rram);
    char *dir = xb_test_tmpdir("update-per-device");
    char path[1024];
    snprintf(path, sizeof path, "%s/r.h5", dir);
    hid_t f = run_campaign(run_text, "per-device.ini", path);
    static const char *const pts[2] = {"points/p00000/program", "points/p00001/program"};
    const int64_t want_dev[2] = {2, 1};
    const double want_w[2] = {w_ecram, w_rram}, want_c2c[2] = {0, 0.05};
    for (int k = 0; k < 2; k++) {
        int64_t nd = 0;
        double w = 0, s = -1;
        assert_int_equal(xb_h5_attr_get_int64(f, pts[k], "devices", &nd, &err), XB_OK);
        assert_int_equal(xb_h5_attr_get_double(f, pts[k], "pulse_width_s", &w, &err), XB_OK);
        assert_int_equal(xb_h5_attr_get_double(f, pts[k], "c2c_sigma", &s, &err), XB_OK);
        assert_int_equal(nd, want_dev[k]);
        assert_true(w == want_w[k] && s == want_c2c[k]);
        char gp[128];
        snprintf(gp, sizeof gp, "%s/train_g", pts[k]);
        const hsize_t dg[3] = {(hsize_t)want_dev[k], 1, 5};
        free(read_all(f, gp, 3, dg));
    }
    xb_h5_close(f, &err);
    xb_test_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_program_keys),
        cmocka_unit_test(test_program_per_device),
        cmocka_unit_test(test_ecram_records),
        cmocka_unit_test(test_c2c_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
