/* Transient read: settling time of a single RC line against its closed form, and the read
 * energy of a purely resistive array against sum(V*I)*t_read derived here. */
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

/* 1x1 array, no wire resistance: the driver resistance Rd feeds the row node, which
 * carries the wire capacitance C to ground and the cell G to the column, held at 0 V by the
 * sense source.  One pole: v(t) = V Rc/(Rd+Rc) (1 - exp(-t/tau)), tau = C Rd Rc/(Rd+Rc),
 * so the column current G v(t) is within tol of its final value after tau ln(1/tol). */
static void test_rc_settling_closed_form(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = p.cols = 1;
    p.r_driver_ohm = 1000;
    p.r_wire_row_ohm = p.r_wire_col_ohm = 0;
    p.r_sense_ohm = 0;
    p.c_wire_farad = 1e-12;
    const double G = 1e-4, Rd = 1000, Rc = 1 / G, V = 0.2, tol = 1e-3;
    xb_matrix *g = xb_matrix_new(1, 1);
    g->data[0] = G;
    double v[1] = {V};
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    xb_char_transient t;
    char *deck = NULL;
    xb_error err;
    xb_error_clear(&err);
    const double t_rise = 1e-13, t_read = 20e-9;
    int rc = xb_char_transient_run(&eo, &p, g, v, t_rise, t_read, tol, 2000, &t, &deck, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    assert_non_null(strstr(deck, ".tran"));
    const double tau = p.c_wire_farad * Rd * Rc / (Rd + Rc);
    const double ts = tau * log(1 / tol);
    fprintf(stderr, "settling %.4g s, closed form %.4g s (tau %.4g s)\n", t.t_settle_s[0], ts, tau);
    assert_true(fabs(t.t_settle_s[0] - ts) < 0.05 * ts);
    assert_true(fabs(t.i_final_amp[0] - V / (Rd + Rc)) < 1e-6 * V / (Rd + Rc));
    assert_int_equal(t.settled, 1);
    /* the column current rises monotonically from 0 to its final value */
    assert_true(fabs(t.i_col_amp[0]) < 1e-3 * t.i_final_amp[0]);
    assert_true(fabs(t.i_peak_amp[0] - t.i_final_amp[0]) < 1e-6 * t.i_final_amp[0]);
    free(deck);
    xb_char_transient_clear(&t);
    xb_matrix_free(g);
}

/* 2x3 linear array, no wires, no capacitance: row i draws V_i / (Rd + 1/sum_j G_ij) (the
 * columns sit at the virtual ground), so the energy of a read is sum_i V_i I_i t_read plus
 * the ramp, sum_i V_i I_i t_rise / 3, negligible here (t_rise = 1e-7 t_read). */
static void test_resistive_read_energy(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = 2;
    p.cols = 3;
    p.r_driver_ohm = 200;
    p.r_wire_row_ohm = p.r_wire_col_ohm = 0;
    p.c_wire_farad = 0;
    xb_matrix *g = xb_matrix_new(2, 3);
    const double gv[6] = {10e-6, 20e-6, 5e-6, 40e-6, 1e-6, 30e-6};
    memcpy(g->data, gv, sizeof gv);
    double v[2] = {0.2, 0.13};
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    xb_char_transient t;
    xb_error err;
    xb_error_clear(&err);
    const double t_read = 10e-9, t_rise = 1e-15;
    int rc = xb_char_transient_run(&eo, &p, g, v, t_rise, t_read, 1e-3, 100, &t, NULL, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    double pw = 0;
    for (int i = 0; i < 2; i++) {
        double gs = gv[3 * i] + gv[3 * i + 1] + gv[3 * i + 2];
        double I = v[i] / (p.r_driver_ohm + 1 / gs);
        pw += v[i] * I;
        /* column currents too: I_j = sum_i G_ij V_row_i with V_row_i = I_i / sum_j G_ij */
    }
    const double e_ref = pw * t_read;
    fprintf(stderr, "energy %.10g J, sum(V*I)*t_read %.10g J\n", t.e_read_joule, e_ref);
    assert_true(fabs(t.e_read_joule - e_ref) < 1e-6 * e_ref);
    for (int j = 0; j < 3; j++) {
        double ij = 0;
        for (int i = 0; i < 2; i++) {
            double gs = gv[3 * i] + gv[3 * i + 1] + gv[3 * i + 2];
            double vrow = v[i] / (p.r_driver_ohm + 1 / gs) / gs;
            ij += gv[3 * i + j] * vrow;
        }
        assert_true(fabs(t.i_final_amp[j] - ij) < 1e-6 * ij);
    }
    /* no capacitance: settled at the first step after the rise */
    assert_true(t.t_settle_max_s <= t_read / 50);
    double isum = 0;
    for (int i = 0; i < 2; i++) {
        double gs = gv[3 * i] + gv[3 * i + 1] + gv[3 * i + 2];
        isum += v[i] / (p.r_driver_ohm + 1 / gs);
    }
    assert_true(fabs(t.i_supply_peak_amp - isum) < 1e-6 * isum);
    xb_char_transient_clear(&t);
    xb_matrix_free(g);
}

/* Bad settings are input errors. */
static void test_bad_settings(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = p.cols = 1;
    xb_matrix *g = xb_matrix_new(1, 1);
    g->data[0] = 1e-5;
    double v[1] = {0.1};
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    xb_char_transient t;
    xb_error err;
    assert_int_equal(xb_char_transient_run(&eo, &p, g, v, 0, 1e-9, 1e-3, 100, &t, NULL, &err), XB_EINPUT);
    assert_int_equal(xb_char_transient_run(&eo, &p, g, v, 1e-12, 1e-9, 0, 100, &t, NULL, &err), XB_EINPUT);
    xb_matrix_free(g);
}

/* Two implementations of the read energy of a resistive array at full-scale input: the
 * ngspice transient (c_wire = 0, negligible rise) and the native static solve
 * (v_read * sum of column currents * t_read), through a whole campaign point. */
static void test_campaign_energy_two_ways(void **state)
{
    const char *text = "[campaign]\nengine = spice\n[array]\nsize = 5x4\ndevice = linear\nr_wire_ohm = 3\n"
                       "c_wire_farad = 0\n[inputs]\nsamples = 1\nvectors = 2\n[read]\nschemes = none\n"
                       "[transient]\nenabled = yes\nt_read_s = 10e-9\nt_rise_s = 1e-15\n";
    xb_campaign *c = NULL;
    xb_error err;
    xb_error_clear(&err);
    assert_int_equal(xb_char_campaign_parse(text, "e.ini", &c, &err), XB_OK);
    char *dir = xb_test_tmpdir("charenergy");
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
    double et = 0, es = 0;
    assert_int_equal(xb_h5_attr_get_double(f, "points/p00000/transient", "e_read_joule", &et, &err), XB_OK);
    assert_int_equal(xb_h5_attr_get_double(f, "points/p00000/mvm", "e_read_static_joule", &es, &err), XB_OK);
    fprintf(stderr, "transient %.10g J, static %.10g J\n", et, es);
    assert_true(es > 0);
    assert_true(fabs(et - es) < 1e-6 * es);
    xb_h5_close(f, &err);
    xb_char_campaign_free(c);
    free(dir);
}

/* engine = auto: the 8x8 point runs on the native engine (reads and transient through the
 * engine interface) and is re-checked in ngspice; the 4x4 point stays on ngspice.  The
 * tolerances: reads are the same circuit (docs/native.md: 1e-9 at reltol 1e-10; the
 * campaign runs ngspice at reltol 1e-9); the energy agrees to ~1e-5 and the settling time
 * to a few % against transient.c's deck, whose ngspice error at its default chgtol is that
 * large (docs/native.md, "Read transients"); the waveforms are compared at ngspice's time
 * points with the native ones interpolated linearly between theirs, which on the 10 ps
 * input edge adds ~1e-3 of the final current to the engines' own difference. */
static void test_campaign_auto_native_checked(void **state)
{
    const char *text = "[campaign]\nengine = auto\nauto_native_above = 4\nauto_spice_check = 1\nauto_spice_max = 8\n"
                       "[array]\nsize = 4x4, 8x8\ndevice = rram\nr_wire_ohm = 2\n[inputs]\nsamples = 1\nvectors = 2\n"
                       "[read]\nschemes = float, v2, v3\n[transient]\nenabled = yes\nmax_size = 8\n";
    xb_campaign *c = NULL;
    xb_error err;
    xb_error_clear(&err);
    assert_int_equal(xb_char_campaign_parse(text, "auto.ini", &c, &err), XB_OK);
    assert_int_equal(xb_char_campaign_point(c, 0)->use_native, 0);
    assert_int_equal(xb_char_campaign_point(c, 1)->use_native, 1);
    assert_int_equal(xb_char_campaign_point(c, 1)->transient_check, 1);
    char *dir = xb_test_tmpdir("charauto_tran");
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
    assert_false(xb_h5_attr_exists(f, "points/p00000/read", "spice_check_rel"));
    assert_false(xb_h5_attr_exists(f, "points/p00000/transient", "spice_check_settle_rel"));
    double dr = -1, ds = -1, de = -1, dw = -1, ts = 0, tsn = 0;
    const char *tg = "points/p00001/transient";
    assert_int_equal(xb_h5_attr_get_double(f, "points/p00001/read", "spice_check_rel", &dr, &err), XB_OK);
    assert_int_equal(xb_h5_attr_get_double(f, tg, "spice_check_settle_rel", &ds, &err), XB_OK);
    assert_int_equal(xb_h5_attr_get_double(f, tg, "spice_check_energy_rel", &de, &err), XB_OK);
    assert_int_equal(xb_h5_attr_get_double(f, tg, "spice_check_wave_rel", &dw, &err), XB_OK);
    assert_int_equal(xb_h5_attr_get_double(f, tg, "spice_check_t_settle_max_s", &ts, &err), XB_OK);
    assert_int_equal(xb_h5_attr_get_double(f, tg, "t_settle_max_s", &tsn, &err), XB_OK);
    fprintf(stderr, "8x8 auto point vs ngspice: reads %.3g, settling %.4g s vs %.4g s (%.3g), energy %.3g, "
                    "waveforms %.3g of the final current\n", dr, tsn, ts, ds, de, dw);
    assert_true(dr >= 0 && dr < 1e-7);
    assert_true(ds >= 0 && ds < 0.1);
    assert_true(de >= 0 && de < 1e-4);
    assert_true(dw >= 0 && dw < 3e-3);
    assert_true(tsn > 0);
    xb_h5_close(f, &err);
    xb_char_campaign_free(c);
    xb_test_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rc_settling_closed_form),
        cmocka_unit_test(test_resistive_read_energy),
        cmocka_unit_test(test_bad_settings),
        cmocka_unit_test(test_campaign_energy_two_ways),
        cmocka_unit_test(test_campaign_auto_native_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
