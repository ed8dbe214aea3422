/* Device models: the C read equations (src/netlist/device.c) against the SPICE
 * subcircuits of models/ run by the stock ngspice binary, and the dynamic models'
 * SET/RESET/pulse behaviour against closed forms derived here. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/xb_spice_ref.h"
#include "support/xb_test.h"
#include "xbar/netlist.h"

static char *g_dir;

static int setup(void **state)
{
    g_dir = xb_test_tmpdir("devices");
    return g_dir ? 0 : -1;
}

static int teardown(void **state)
{
    free(g_dir);
    return 0;
}

static void assert_rel(double got, double want, double rel, double abs_floor, const char *what)
{
    double tol = rel * fabs(want) + abs_floor;
    if (!(fabs(got - want) <= tol)) {
        print_error("%s: got %.15g want %.15g (tol %.3g)\n", what, got, want, tol);
        fail();
    }
}

/* Sweep a 2-terminal read subcircuit over 20 voltages (-0.95..0.95 V) and compare. */
static void check_read_subckt(const char *lib, const char *inst_params, const xb_array_params *p,
                              double g, int selector)
{
    char body[1024];
    snprintf(body, sizeof body, ".include %s/%s\nX1 a 0 %s\nV1 a 0 DC 0\n", XB_SOURCE_DIR "/models", lib,
             inst_params);
    double *d;
    size_t nr, nc;
    assert_int_equal(xb_spice_ref_run(g_dir, "read", body, ".dc V1 -0.95 0.95 0.1", "i(v1)", &d, &nr, &nc), 0);
    assert_int_equal(nr, 20);
    assert_int_equal(nc, 2);
    for (size_t k = 0; k < nr; k++) {
        double v = d[2 * k], i_spice = -d[2 * k + 1], i_c, didv;
        if (selector) xb_selector_iv(p, v, &i_c, &didv);
        else xb_device_read_iv(p, g, v, &i_c, &didv);
        assert_rel(i_spice, i_c, 1e-6, 1e-18, inst_params);
        /* the derivative against a central difference of the closed form */
        double h = 1e-6, ip, im;
        if (selector) { xb_selector_iv(p, v + h, &ip, NULL); xb_selector_iv(p, v - h, &im, NULL); }
        else { xb_device_read_iv(p, g, v + h, &ip, NULL); xb_device_read_iv(p, g, v - h, &im, NULL); }
        assert_rel(didv, (ip - im) / (2 * h), 1e-5, 1e-15, "dI/dV");
    }
    free(d);
}

static void test_rram_read_iv(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    double gs[] = {p.g_min_siemens, 12.3456789e-6, p.g_max_siemens};
    for (int k = 0; k < 3; k++) {
        char inst[256];
        snprintf(inst, sizeof inst, "rram_read g=%.17g vr=%.17g v0=%.17g", gs[k], p.v_read_volt, p.rram_v0_volt);
        check_read_subckt("rram.lib", inst, &p, gs[k], 0);
    }
    /* G is the chord conductance at v_read (closed form) */
    double i;
    xb_device_read_iv(&p, 7e-6, p.v_read_volt, &i, NULL);
    assert_rel(i, 7e-6 * p.v_read_volt, 1e-14, 0, "chord");
}

static void test_pcm_read_iv(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_PCM);
    double gs[] = {p.g_min_siemens, 5e-6, p.g_max_siemens};
    for (int k = 0; k < 3; k++) {
        char inst[256];
        snprintf(inst, sizeof inst, "pcm_read g=%.17g vr=%.17g v0=%.17g", gs[k], p.v_read_volt,
                 xb_device_v0_volt(&p, gs[k]));
        check_read_subckt("pcm.lib", inst, &p, gs[k], 0);
    }
    /* state-dependent V0: the amorphous end is the most nonlinear */
    assert_rel(xb_device_v0_volt(&p, p.g_min_siemens), p.pcm_v0_low_volt, 1e-15, 0, "v0 low");
    assert_rel(xb_device_v0_volt(&p, p.g_max_siemens), p.pcm_v0_high_volt, 1e-15, 0, "v0 high");
    double mid = 0.5 * (p.g_min_siemens + p.g_max_siemens);
    assert_rel(xb_device_v0_volt(&p, mid), 0.5 * (p.pcm_v0_low_volt + p.pcm_v0_high_volt), 1e-12, 0, "v0 mid");
}

static void test_ecram_read_iv(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_ECRAM);
    check_read_subckt("ecram.lib", "ecram_read g=3.3e-06", &p, 3.3e-6, 0);
    double i;
    xb_device_read_iv(&p, 3.3e-6, -0.7, &i, NULL);
    assert_rel(i, -0.7 * 3.3e-6, 1e-15, 0, "ecram ohmic");
}

static void test_selector_iv(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    char inst[256];
    snprintf(inst, sizeof inst, "sel_read is=%.17g vs=%.17g", p.sel_is_amp, p.sel_vs_volt);
    check_read_subckt("selector.lib", inst, &p, 0, 1);
}

/* Level-1 NMOS: xb_nmos_iv against ngspice's MOS1 over both signs of vds. */
static void test_nmos_level1(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.nmos_lambda_per_v = 0.05;
    double vgs_list[] = {0.3, 0.8, 1.2};
    for (int m = 0; m < 3; m++) {
        char full[1024];
        snprintf(full, sizeof full,
                 ".model xbnmos nmos level=1 kp=%.17g vto=%.17g lambda=%.17g gamma=0 is=0\n"
                 "M1 d g 0 0 xbnmos w=%.17gu l=1u\nVd d 0 DC 0\nVg g 0 DC %.17g\n",
                 p.nmos_kp_a_per_v2, p.nmos_vt_volt, p.nmos_lambda_per_v, p.nmos_w_over_l, vgs_list[m]);
        double *d;
        size_t nr, nc;
        assert_int_equal(xb_spice_ref_run(g_dir, "nmos", full, ".dc Vd -0.95 0.95 0.1", "i(vd)", &d, &nr, &nc), 0);
        assert_int_equal(nr, 20);
        for (size_t k = 0; k < nr; k++) {
            double vds = d[2 * k], id_spice = -d[2 * k + 1], id, gm, gds;
            xb_nmos_iv(&p, vgs_list[m], vds, &id, &gm, &gds);
            /* ngspice adds gmin (1e-12 S) across each junction: allow 1e-12 A */
            assert_rel(id_spice, id, 1e-6, 2e-12, "nmos id");
            double h = 1e-6, a, b;
            xb_nmos_iv(&p, vgs_list[m], vds + h, &a, NULL, NULL);
            xb_nmos_iv(&p, vgs_list[m], vds - h, &b, NULL, NULL);
            assert_rel(gds, (a - b) / (2 * h), 1e-4, 1e-12, "gds");
            xb_nmos_iv(&p, vgs_list[m] + h, vds, &a, NULL, NULL);
            xb_nmos_iv(&p, vgs_list[m] - h, vds, &b, NULL, NULL);
            assert_rel(gm, (a - b) / (2 * h), 1e-4, 1e-12, "gm");
        }
        free(d);
    }
    /* source/drain symmetry: Id(vgs, -vds) = -Id(vgs + vds... ) i.e. swapping terminals */
    double f, r;
    xb_nmos_iv(&p, 1.2, 0.3, &f, NULL, NULL);
    xb_nmos_iv(&p, 1.2 - 0.3, -0.3, &r, NULL, NULL);
    assert_rel(r, -f, 1e-14, 0, "swap");
}

/* State variables hold their initial value in DC: the dynamic models at their initial
 * states give the closed-form currents, in a .dc point and in a plain .op. */
static void test_dynamic_hold_dc(void **state)
{
    const char *analyses[2] = {".dc V1 0.1 0.1 1", ".op"};
    for (int an = 0; an < 2; an++) {
        char body[2048];
        snprintf(body, sizeof body,
                 ".include %s/rram.lib\n.include %s/pcm.lib\n.include %s/ecram.lib\n"
                 "X1 a 0 0 rram_dyn gini=1.0\nX2 a 0 0 pcm_dyn c0=0.9\nX3 a 0 gg 0 ecram_dyn x0=0.25\n"
                 "Vg gg 0 DC 0.05\nV1 a 0 DC %s\n",
                 XB_SOURCE_DIR "/models", XB_SOURCE_DIR "/models", XB_SOURCE_DIR "/models", an ? "0.1" : "0");
        double *d;
        size_t nr, nc;
        assert_int_equal(xb_spice_ref_run(g_dir, "hold", body, analyses[an], "v(x1.gap) v(x2.c) v(x3.x) i(v1)",
                                          &d, &nr, &nc), 0);
        /* wrdata writes a scale column first (the sweep; for .op a node) */
        const double *x = d + 1;
        assert_int_equal(nc, 5);
        assert_rel(x[0], 1.0, 1e-9, 0, "rram gap held");
        assert_rel(x[1], 0.9, 1e-9, 0, "pcm c held");
        assert_rel(x[2], 0.25, 1e-9, 0, "ecram x held");
        /* total current: RRAM I0 e^{-g/g0} sinh(V/V0) + PCM + ECRAM channel (gmin + (gmax-gmin) x) V;
         * the ECRAM gate current (Vg = V_ch) is 0 */
        double v = 0.1;
        double i_rram = 61.4e-6 * exp(-1.0 / 0.25) * sinh(v / 0.25);
        /* PCM at c = 0.9: crystalline 0.9 Gc V plus the amorphous branch 0.1 Ga0 V0a sinh(V/V0a)
         * thermally activated at the self-heated T = T0 + V I Rth (fixed point; the melt window
         * in c_eff is ~1e-26 at this temperature, and the crystallization window (3e-7) only
         * drives dc/dt, which a DC analysis does not integrate) */
        double i_pcm = 0.9 * 25e-6 * v, trise = 0;
        for (int it = 0; it < 50; it++) {
            double act = exp(-0.3 / 8.617333262e-5 * (1 / (300 + trise) - 1.0 / 300));
            i_pcm = 0.9 * 25e-6 * v + 0.1 * 0.05e-6 * act * 0.15 * sinh(v / 0.15);
            trise = v * i_pcm * 5e6;
        }
        double i_ec = (1e-6 + 9e-6 * 0.25) * v;
        assert_rel(-x[3], i_rram + i_pcm + i_ec, 1e-6, 0, analyses[an]);
        free(d);
    }
}

/* RRAM SET then RESET (+1.6 V then -1.5 V, 10 us each) on the Stanford-PKU v1.0.0 model
 * (Jiang et al., IEEE TED 63(5) 1884, 2016; docs/physics.md "RRAM: the Stanford-PKU model")
 * with xbar's I0 = 61.4 uA (the ASU value, docs/devices.md). */
static void test_rram_set_reset(void **state)
{
    char body[1024];
    snprintf(body, sizeof body,
             ".include %s/rram.lib\nX1 a 0 0 rram_dyn gini=1.7\n"
             "V1 a 0 PWL(0 0.1 1u 0.1 1.01u 1.6 11u 1.6 11.01u 0.1 12u 0.1 12.01u -1.5 22u -1.5 "
             "22.01u 0.1 23u 0.1)\n",
             XB_SOURCE_DIR "/models");
    double *d;
    size_t nr, nc;
    assert_int_equal(xb_spice_ref_run(g_dir, "rram_dyn", body, ".tran 10n 23u", "v(x1.gap) i(v1)", &d, &nr, &nc), 0);
    /* sample at the read plateaus */
    double gap[3] = {0}, cur[3] = {0};
    double at[3] = {0.9e-6, 11.9e-6, 22.9e-6};
    for (int s = 0; s < 3; s++) {
        double best = 1e9;
        for (size_t k = 0; k < nr; k++)
            if (fabs(d[3 * k] - at[s]) < best) { best = fabs(d[3 * k] - at[s]); gap[s] = d[3 * k + 1]; cur[s] = -d[3 * k + 2]; }
    }
    assert_true(gap[1] < gap[0]); /* SET shrinks the gap */
    assert_true(gap[2] > gap[1]); /* RESET grows it */
    /* documented ON/OFF read resistances at 0.1 V: R = 0.1 / (I0 e^{-g/g0} sinh(0.1/V0)) at the
     * gap bounds 0.2 / 1.7 nm = 8.82 kohm / 3.56 Mohm (docs/devices.md) */
    double r_on = 0.1 / (61.4e-6 * exp(-0.2 / 0.25) * sinh(0.1 / 0.25));
    double r_off = 0.1 / (61.4e-6 * exp(-1.7 / 0.25) * sinh(0.1 / 0.25));
    assert_rel(0.1 / cur[1], r_on, 0.10, 0, "R_on");
    assert_rel(0.1 / cur[2], r_off, 0.10, 0, "R_off");
    assert_rel(0.1 / cur[0], r_off, 0.10, 0, "R initial");
    free(d);
}

/* PCM: SET reaches the crystalline conductance, RESET drops it by >= 10x. */
static void test_pcm_set_reset(void **state)
{
    char body[1024];
    snprintf(body, sizeof body,
             ".include %s/pcm.lib\nX1 a 0 0 pcm_dyn c0=0\nRl in a 10k\n"
             "V1 in 0 PWL(0 0.2 1u 0.2 1.01u 2.0 1.11u 2.0 1.12u 0.2 2u 0.2 2.001u 3.5 2.011u 3.5 "
             "2.0115u 0.2 3u 0.2)\n",
             XB_SOURCE_DIR "/models");
    double *d;
    size_t nr, nc;
    assert_int_equal(xb_spice_ref_run(g_dir, "pcm_dyn", body, ".tran 1n 3u", "v(x1.c) i(v1)", &d, &nr, &nc), 0);
    double at[3] = {0.9e-6, 1.9e-6, 2.9e-6}, c[3] = {0}, g[3] = {0};
    for (int s = 0; s < 3; s++) {
        double best = 1e9;
        for (size_t k = 0; k < nr; k++)
            if (fabs(d[3 * k] - at[s]) < best) {
                best = fabs(d[3 * k] - at[s]);
                c[s] = d[3 * k + 1];
                double i = -d[3 * k + 2];
                g[s] = 1.0 / (0.2 / i - 10e3); /* cell conductance behind the 10 k load */
            }
    }
    assert_true(c[1] > 0.9 && c[2] < c[1]);
    assert_rel(g[1], 25e-6, 0.10, 0, "SET G = Gc (crystalline)");
    assert_true(g[1] / g[2] >= 10.0);
    assert_true(g[0] < 0.5e-6); /* initial amorphous */
    free(d);
}

/* ECRAM: gate pulse trains give monotone steps whose up/down ratio is the configured
 * asymmetry (qdn/qup)(1 - gup x)/(1 - gdn (1 - x)). */
static void test_ecram_pulses(void **state)
{
    char body[1024];
    snprintf(body, sizeof body,
             ".include %s/ecram.lib\nX1 0 0 gg 0 ecram_dyn x0=0.5\n"
             "Vg gg 0 PWL(0 0 10n 0 10.1n 1 20.1n 1 20.2n 0 40n 0 50n 0 50.1n 1 60.1n 1 60.2n 0 "
             "80n 0 90n 0 90.1n -1 100.1n -1 100.2n 0 120n 0 130n 0 130.1n -1 140.1n -1 140.2n 0 160n 0)\n",
             XB_SOURCE_DIR "/models");
    double *d;
    size_t nr, nc;
    assert_int_equal(xb_spice_ref_run(g_dir, "ecram_dyn", body, ".tran 0.1n 160n", "v(x1.x)", &d, &nr, &nc), 0);
    double at[5] = {5e-9, 40e-9, 80e-9, 120e-9, 159e-9}, x[5] = {0};
    for (int s = 0; s < 5; s++) {
        double best = 1e9;
        for (size_t k = 0; k < nr; k++)
            if (fabs(d[2 * k] - at[s]) < best) { best = fabs(d[2 * k] - at[s]); x[s] = d[2 * k + 1]; }
    }
    /* monotone: two potentiation steps up, two depression steps down */
    assert_true(x[1] > x[0] && x[2] > x[1] && x[3] < x[2] && x[4] < x[3]);
    double up1 = x[1] - x[0], up2 = x[2] - x[1], dn1 = x[2] - x[3];
    /* soft bound: the second up step is smaller by (1 - gup x1)/(1 - gup x0) */
    assert_rel(up2 / up1, (1 - 0.1153 * x[1]) / (1 - 0.1153 * x[0]), 2e-3, 0, "soft bound up");
    /* asymmetry: the same |I_g| pulse moves x by Q/qup (1-gup x) up, Q/qdn (1-gdn(1-x)) down */
    double want = (1.2e-13 / 1.1e-13) * (1 - 0.1153 * x[0]) / (1 - 0.5085 * (1 - x[2]));
    assert_rel(up1 / dn1, want, 5e-3, 0, "up/down asymmetry");
    /* step size: Q = I0g sinh(1/Vg0) * (10 ns + edges) */
    double q = 1e-12 * sinh(1.0 / 0.1) * 10.1e-9;
    assert_rel(up1, q / 1.1e-13 * (1 - 0.1153 * 0.5), 0.02, 0, "step size");
    free(d);
}


/* The .lib defaults of the dynamic subcircuits equal the device table's dynamic-parameter rows
 * (the netlist writer passes the table values, so a drift between the two would go
 * unnoticed), and the subcircuit has no parameter the table lacks. */
static void test_dyn_table_matches_lib(void **state)
{
    int checked = 0;
    for (int d = 0; d < XB_DEVICE_COUNT; d++) {
        const xb_device_info *di = xb_device_info_get((xb_device_kind)d);
        if (!di->dyn_subckt) continue;
        checked++;
        size_t n;
        const xb_dyn_param *t = xb_netlist_dyn_params((xb_device_kind)d, &n);
        char path[512];
        snprintf(path, sizeof path, "%s/models/%s", XB_SOURCE_DIR, di->lib);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        char text[16384];
        size_t len = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[len] = 0;
        char head[64];
        snprintf(head, sizeof head, ".subckt %s ", di->dyn_subckt);
        char *s = strstr(text, head);
        assert_non_null(s);
        /* the header with its '+' continuation lines */
        char hdr[4096] = "";
        char *e = s;
        for (;;) {
            char *nl = strchr(e, '\n');
            if (!nl) break;
            if (nl[1] != '+') { e = nl; break; }
            e = nl + 1;
        }
        size_t hl = (size_t)(e - s) < sizeof hdr - 1 ? (size_t)(e - s) : sizeof hdr - 1;
        memcpy(hdr, s, hl);
        hdr[hl] = 0;
        for (size_t k = 0; k < n; k++) {
            assert_int_equal(t[k].device, d);
            char key[64];
            snprintf(key, sizeof key, " %s=", t[k].name);
            char *q = strstr(hdr, key);
            if (!q) { print_error("%s: %s missing in the .lib\n", path, t[k].name); fail(); }
            double v = strtod(q + strlen(key), NULL);
            const char *unit = q + strlen(key);
            while (*unit && strchr("0123456789.eE+-", *unit)) unit++;
            if (*unit == 'u') v *= 1e-6;
            else if (*unit == 'p') v *= 1e-12;
            else if (*unit == 'n') v *= 1e-9;
            assert_rel(v, t[k].value, 1e-12, 0, t[k].name);
        }
        /* as many parameters in the .lib header as rows in the table */
        size_t eq = 0;
        for (const char *c = strstr(hdr, "params:"); c && *c; c++) eq += *c == '=';
        if (eq != n) { print_error("%s: %s has %zu parameters, the table %zu\n", path, di->dyn_subckt, eq, n); fail(); }
        assert_true(n >= 10);
    }
    assert_true(checked >= 3);
}

static void test_d2d_instances(void **state)
{
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    char *a, *b, *c;
    xb_error err;
    assert_int_equal(xb_netlist_dyn_instance(&p, 0, "gini=0.5", &a, &err), XB_OK);
    assert_non_null(strstr(a, "gini=0.5"));
    assert_non_null(strstr(a, "vel0=10000000000"));
    free(a);
    p.var_d2d = 1;
    assert_int_equal(xb_netlist_dyn_instance(&p, 3, NULL, &a, &err), XB_OK);
    assert_int_equal(xb_netlist_dyn_instance(&p, 3, NULL, &b, &err), XB_OK);
    assert_int_equal(xb_netlist_dyn_instance(&p, 4, NULL, &c, &err), XB_OK);
    assert_string_equal(a, b);                  /* reproducible */
    assert_true(strcmp(a, c) != 0);             /* per-cell samples */
    assert_null(strstr(a, "vel0=10000000000 ")); /* spread applied */
    assert_non_null(strstr(a, "tox=12 "));       /* no spread on fixed parameters */
    free(a);
    free(b);
    free(c);
    /* the spread of vel0 over many cells is the table's 10 % (lognormal) */
    double s1 = 0, s2 = 0;
    for (size_t k = 0; k < 2000; k++) {
        assert_int_equal(xb_netlist_dyn_instance(&p, k, NULL, &a, &err), XB_OK);
        double v = log(strtod(strstr(a, "vel0=") + 5, NULL) / 1e10);
        s1 += v;
        s2 += v * v;
        free(a);
    }
    double sd = sqrt(s2 / 2000 - (s1 / 2000) * (s1 / 2000));
    assert_true(fabs(sd - 0.10) < 0.01);
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    assert_int_equal(xb_netlist_dyn_instance(&p, 0, NULL, &a, &err), XB_EINPUT);
}

/* PCM threshold switching: a slow triangular sweep through a 10 kohm load snaps back (the
 * cell voltage falls while the current rises) at V_th within the documented 0.8-1.5 V, and
 * the sweep SETs the cell; a RESET pulse afterwards still amorphizes it. */
static void test_pcm_threshold_sweep(void **state)
{
    char body[1024];
    snprintf(body, sizeof body,
             ".include %s/pcm.lib\nX1 a 0 0 pcm_dyn c0=0\nRl in a 10k\n"
             "V1 in 0 PWL(0 0 0.5u 2.0 1u 0 1.5u 0.2 2u 0.2 2.001u 3.5 2.011u 3.5 2.0115u 0.2 3u 0.2)\n",
             XB_SOURCE_DIR "/models");
    double *d;
    size_t nr, nc;
    assert_int_equal(xb_spice_ref_run(g_dir, "pcm_sweep", body, ".tran 1n 3u", "v(a) v(in) v(x1.c)", &d, &nr, &nc), 0);
    double vth = 0, c_set = 0, c_reset = 0;
    int snap = 0;
    for (size_t k = 1; k < nr; k++) {
        double t = d[k * nc], va = d[k * nc + 1], vin = d[k * nc + 2];
        if (t < 0.5e-6) {
            if (va > vth) vth = va;
            /* snapback: the source still rises but the cell voltage falls clearly */
            if (vin > d[(k - 1) * nc + 2] && va < d[(k - 1) * nc + 1] - 1e-3) snap = 1;
        }
        if (t < 1.9e-6) c_set = d[k * nc + 3];
        c_reset = d[k * nc + 3];
    }
    assert_true(snap);
    assert_true(vth > 0.8 && vth < 1.5);
    assert_true(c_set > 0.9);
    assert_true(c_reset < 0.1);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rram_read_iv),    cmocka_unit_test(test_pcm_read_iv),
        cmocka_unit_test(test_ecram_read_iv),   cmocka_unit_test(test_selector_iv),
        cmocka_unit_test(test_nmos_level1),     cmocka_unit_test(test_dynamic_hold_dc),
        cmocka_unit_test(test_rram_set_reset),  cmocka_unit_test(test_pcm_set_reset),
        cmocka_unit_test(test_ecram_pulses),    cmocka_unit_test(test_dyn_table_matches_lib),
        cmocka_unit_test(test_d2d_instances),   cmocka_unit_test(test_pcm_threshold_sweep),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
