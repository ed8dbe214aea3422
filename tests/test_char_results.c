/* The results-file reader (xb_char_results_*, docs/hdf5-results.md), on files written by an
 * independent writer (python3 h5py) with values from closed forms: every attribute and
 * dataset the consumers use comes back; absent attributes read as NAN / ""; a wrong or
 * missing format, a wrong type, shape or time axis is one line naming the file and the
 * object. */
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

/* The writer: base.h5 (a complete file: ok point p00000 with every section, failed point
 * p00001, a point being moved in) and variants, each with one thing broken. */
static const char k_writer[] =
    "import sys, h5py, numpy as np\n"
    "d = sys.argv[1]\n"
    "S, M, K, R, C, T = 2, 2, 3, 4, 5, 4\n"
    "N = S * M\n"
    "def g(n, i, j): return 1e-6 * (1 + n + 0.1 * i + 0.01 * j)\n"
    "def base(name, fmt='xbar-results', ver=1):\n"
    "    f = h5py.File(f'{d}/{name}', 'w')\n"
    "    if fmt is not None: f.attrs['format'] = np.bytes_(fmt)\n"
    "    if ver is not None: f.attrs['format_version'] = np.int64(ver)\n"
    "    f.attrs['campaign_name'] = np.bytes_('unit')\n"
    "    f.attrs['xbar_version'] = np.bytes_('9.9.9')\n"
    "    f['campaign/text'] = np.bytes_('[campaign]\\nname = unit\\n')\n"
    "    p = f.create_group('points/p00000')\n"
    "    for k, v in dict(status='ok', device='pcm', cell='1t1r', engine='native', input='uniform',\n"
    "                     key='size=4x5 device=pcm').items(): p.attrs[k] = np.bytes_(v)\n"
    "    p.attrs['rows'] = np.int64(R); p.attrs['cols'] = np.int64(C); p.attrs['var_program'] = np.int64(1)\n"
    "    for k, v in dict(r_wire_row_ohm=2.5, r_wire_col_ohm=3.5, r_driver_ohm=120.0, r_sense_ohm=4.0,\n"
    "                     v_read_volt=0.25, g_min_siemens=1e-6, g_max_siemens=3e-5).items(): p.attrs[k] = v\n"
    "    gg = np.array([[[g(n, i, j) for j in range(C)] for i in range(R)] for n in range(N)])\n"
    "    p['mvm/g'] = gg\n"
    "    p['mvm/g_target'] = gg[::M] * 0.5\n"
    "    p['mvm/v'] = np.arange(N * K * R).reshape(N, K, R) * 1e-3\n"
    "    p['mvm/i_circuit'] = np.arange(N * K * C).reshape(N, K, C) * -1e-6\n"
    "    p['mvm/v_cell'] = np.arange(R * C).reshape(R, C) * 0.01\n"
    "    for k, v in dict(err_total_mean=0.125, err_total_max=0.5, err_target_mean=0.25,\n"
    "                     e_read_static_joule=2e-12, e_per_mac_static_joule=1e-14).items(): p['mvm'].attrs[k] = v\n"
    "    r = p.create_group('read'); r.attrs['schemes'] = np.bytes_('float,v2,v3')\n"
    "    r['margin'] = np.array([0.1, 0.2, 0.3])\n"
    "    t = p.create_group('transient')\n"
    "    for k, v in dict(t_settle_max_s=1e-9, e_read_joule=3e-12, e_per_mac_joule=1.5e-13, t_read_s=1e-8,\n"
    "                     t_rise_s=1e-10, c_wire_farad=5e-16).items(): t.attrs[k] = v\n"
    "    t.attrs['input'] = np.bytes_('every row steps to v_read, G of sample 0')\n"
    "    p['program/g'] = np.linspace(1e-6, 2e-6, 7)\n"
    "    p['drift/t_s'] = 20.0 * 2.0 ** np.arange(T)\n"
    "    p['drift/g'] = np.arange(T * R * C).reshape(T, R * C) * 1e-7\n"
    "    q = f.create_group('points/p00001')\n"
    "    q.attrs['status'] = np.bytes_('failed'); q.attrs['error'] = np.bytes_('timed out')\n"
    "    f.create_group('points/.incoming_p00002')\n"
    "    return f\n"
    "base('base.h5').close()\n"
    "base('noformat.h5', fmt=None).close()\n"
    "base('model.h5', fmt='xbar-model').close()\n"
    "base('v2.h5', ver=2).close()\n"
    "base('nover.h5', ver=None).close()\n"
    "f = base('nopoints.h5'); del f['points']; f.close()\n"
    "f = base('rowstr.h5'); f['points/p00000'].attrs['rows'] = np.bytes_('four'); f.close()\n"
    "f = base('badshape.h5'); del f['points/p00000/mvm/i_circuit']\n"
    "f['points/p00000/mvm/i_circuit'] = np.zeros((N, K, C + 1)); f.close()\n"
    "f = base('nodata.h5'); del f['points/p00000/mvm/v']; f.close()\n"
    "f = base('drift.h5'); f['points/p00000/drift/t_s'][2] = 1.0; f.close()\n"
    "f = base('device.h5'); f['points/p00000'].attrs['device'] = np.bytes_('memristor'); f.close()\n"
    "f = base('gmin.h5'); f['points/p00000'].attrs['g_min_siemens'] = 1.0; f.close()\n"
    "print('ok')\n";

static char *g_dir;

static int setup(void **state)
{
    (void)state;
    g_dir = xb_test_tmpdir("results");
    char *py = xb_test_write_file(g_dir, "writer.py", k_writer);
    char *a[] = {"/usr/bin/python3", py, g_dir, NULL};
    char *out = NULL, *e = NULL;
    int rc = xb_test_run(a, &out, &e);
    if (rc || !strstr(out, "ok")) fprintf(stderr, "writer: %s%s", out, e);
    free(out);
    free(e);
    free(py);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    free(g_dir);
    return 0;
}

static char *file(const char *name)
{
    static char p[1024];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    return p;
}

static double g_law(size_t n, size_t i, size_t j) { return 1e-6 * (1 + (double)n + 0.1 * (double)i + 0.01 * (double)j); }

static void test_read_everything(void **state)
{
    (void)state;
    xb_char_results *r = NULL;
    xb_error err;
    assert_int_equal(xb_char_results_open(file("base.h5"), &r, &err), XB_OK);
    xb_char_results_prov pv;
    xb_char_results_provenance(r, &pv);
    assert_string_equal(pv.campaign_name, "unit");
    assert_string_equal(pv.xbar_version, "9.9.9");
    assert_null(pv.ngspice_version);
    assert_string_equal(pv.campaign_text, "[campaign]\nname = unit\n");
    /* name order: ".incoming_p00002" < "p00000" < "p00001" */
    assert_int_equal(xb_char_results_npoints(r), 3);
    xb_char_result_point pt;
    assert_int_equal(xb_char_results_point(r, 0, &pt, &err), XB_OK);
    assert_true(pt.in_flight);
    assert_string_equal(pt.status, "");
    assert_true(isnan(pt.rows));
    assert_int_equal(xb_char_results_point(r, 2, &pt, &err), XB_OK);
    assert_false(pt.in_flight);
    assert_string_equal(pt.status, "failed");
    assert_false(pt.has_mvm || pt.has_read || pt.has_transient || pt.has_program || pt.has_drift);
    assert_true(isnan(pt.mvm.err_total_mean) && isnan(pt.transient.e_read_joule));
    assert_int_equal(xb_char_results_point(r, 3, &pt, &err), XB_EINPUT);

    assert_int_equal(xb_char_results_point(r, 1, &pt, &err), XB_OK);
    assert_string_equal(pt.name, "p00000");
    assert_string_equal(pt.status, "ok");
    assert_string_equal(pt.device, "pcm");
    assert_string_equal(pt.cell, "1t1r");
    assert_string_equal(pt.engine, "native");
    assert_string_equal(pt.input, "uniform");
    assert_string_equal(pt.key, "size=4x5 device=pcm");
    assert_true(pt.rows == 4 && pt.cols == 5 && pt.var_program == 1);
    assert_true(pt.r_wire_row_ohm == 2.5 && pt.r_wire_col_ohm == 3.5 && pt.r_driver_ohm == 120);
    assert_true(isnan(pt.c_wire_farad) && isnan(pt.v_gate_volt));
    assert_true(pt.has_mvm && pt.has_ir_map && pt.has_read && pt.has_transient && pt.has_program && pt.has_drift);
    assert_true(pt.mvm.err_total_mean == 0.125 && pt.mvm.err_target_mean == 0.25);
    assert_true(pt.mvm.e_per_mac_static_joule == 1e-14 && isnan(pt.mvm.spice_check_rel_l2));
    assert_true(pt.transient.t_settle_max_s == 1e-9 && pt.transient.c_wire_farad == 5e-16);
    assert_non_null(strstr(pt.transient.input, "v_read"));

    /* configuration: stored values over the PCM defaults */
    xb_array_params p, dflt;
    xb_array_params_default(&dflt, XB_DEVICE_PCM);
    assert_int_equal(xb_char_results_point_config(r, &pt, &p, &err), XB_OK);
    assert_int_equal(p.device, XB_DEVICE_PCM);
    assert_int_equal(p.cell, XB_CELL_1T1R);
    assert_true(p.rows == 4 && p.cols == 5 && p.var_program == 1);
    assert_true(p.r_sense_ohm == 4.0 && p.v_read_volt == 0.25 && p.g_max_siemens == 3e-5);
    assert_true(p.c_wire_farad == dflt.c_wire_farad && p.v_gate_volt == dflt.v_gate_volt);

    xb_char_result_mvm m;
    assert_int_equal(xb_char_results_read_mvm(r, &pt, &m, &err), XB_OK);
    assert_true(m.rows == 4 && m.cols == 5 && m.N == 4 && m.K == 3 && m.S == 2);
    for (size_t n = 0; n < 4; n++)
        for (size_t i = 0; i < 4; i++)
            for (size_t j = 0; j < 5; j++) assert_true(m.g[(n * 4 + i) * 5 + j] == g_law(n, i, j));
    assert_true(m.g_target[(1 * 4 + 3) * 5 + 4] == 0.5 * g_law(2, 3, 4)); /* target s = realisation s*M */
    assert_true(m.v[(3 * 3 + 2) * 4 + 1] == ((3 * 3 + 2) * 4 + 1) * 1e-3);
    assert_true(m.i_circuit[(2 * 3 + 1) * 5 + 4] == ((2 * 3 + 1) * 5 + 4) * -1e-6);
    xb_char_result_mvm_clear(&m);

    double *vc = NULL;
    size_t R = 0, C = 0;
    assert_int_equal(xb_char_results_read_ir_map(r, &pt, &vc, &R, &C, &err), XB_OK);
    assert_true(R == 4 && C == 5 && vc[19] == 19 * 0.01);
    free(vc);
    xb_char_result_read rd;
    assert_int_equal(xb_char_results_read_schemes(r, &pt, &rd, &err), XB_OK);
    assert_int_equal(rd.n, 3);
    assert_string_equal(rd.scheme[1], "v2");
    assert_true(rd.margin[2] == 0.3);
    double *gp = NULL;
    size_t np = 0;
    assert_int_equal(xb_char_results_read_program(r, &pt, &gp, &np, &err), XB_OK);
    assert_int_equal(np, 7);
    assert_true(fabs(gp[3] - 1.5e-6) < 1e-21);
    free(gp);
    xb_char_result_drift dr;
    assert_int_equal(xb_char_results_read_drift(r, &pt, &dr, &err), XB_OK);
    assert_true(dr.T == 4 && dr.n == 20 && dr.t_s[3] == 160.0 && dr.g[2 * 20 + 7] == (2 * 20 + 7) * 1e-7);
    xb_char_result_drift_clear(&dr);
    xb_char_results_close(r);
}

/* Open errors: one line naming the file and the root attribute or group. */
static void expect_open_error(const char *name, const char *part)
{
    xb_char_results *r = (xb_char_results *)1;
    xb_error err;
    assert_int_equal(xb_char_results_open(file(name), &r, &err), XB_EINPUT);
    assert_null(r);
    if (!strstr(err.msg, part) || !strstr(err.msg, name)) fail_msg("'%s' lacks '%s' or the file", err.msg, part);
    assert_null(strchr(err.msg, '\n'));
}

static void test_format_checks(void **state)
{
    (void)state;
    expect_open_error("noformat.h5", "missing root attribute 'format' (not an xbar results file)");
    expect_open_error("model.h5", "root attribute 'format' is 'xbar-model', expected 'xbar-results'");
    expect_open_error("v2.h5", "root attribute 'format_version' is 2, this xbar reads version 1");
    expect_open_error("nover.h5", "missing root attribute 'format_version'");
    expect_open_error("nopoints.h5", "missing group /points");
    expect_open_error("none.h5", "none.h5: cannot open: No such file or directory");
}

/* A point's first bad object, named with the file. */
static void expect_point_error(const char *name, int what, const char *part)
{
    xb_char_results *r = NULL;
    xb_error err;
    assert_int_equal(xb_char_results_open(file(name), &r, &err), XB_OK);
    xb_char_result_point pt;
    int rc = xb_char_results_point(r, 1, &pt, &err);
    if (!rc && what == 0) {
        xb_array_params p;
        rc = xb_char_results_point_config(r, &pt, &p, &err);
    } else if (!rc && what == 1) {
        xb_char_result_mvm m;
        rc = xb_char_results_read_mvm(r, &pt, &m, &err);
        assert_null(m.g);
    } else if (!rc && what == 2) {
        xb_char_result_drift d;
        rc = xb_char_results_read_drift(r, &pt, &d, &err);
        assert_null(d.t_s);
    }
    assert_int_equal(rc, XB_EINPUT);
    if (!strstr(err.msg, part) || !strstr(err.msg, name)) fail_msg("'%s' lacks '%s' or the file", err.msg, part);
    assert_null(strchr(err.msg, '\n'));
    xb_char_results_close(r);
}

static void test_point_errors(void **state)
{
    (void)state;
    expect_point_error("rowstr.h5", -1, ":/points/p00000: attribute 'rows' is not a numeric scalar");
    expect_point_error("device.h5", 0, ":/points/p00000: unknown device 'memristor'");
    expect_point_error("gmin.h5", 0, "g_min < g_max");
    expect_point_error("badshape.h5", 1, ":/points/p00000/mvm/i_circuit: shape must be (4, 3, 5)");
    expect_point_error("nodata.h5", 1, ":/points/p00000/mvm/v: missing dataset");
    expect_point_error("drift.h5", 2, ":/points/p00000/drift/t_s: times must be positive and increasing");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_everything),
        cmocka_unit_test(test_format_checks),
        cmocka_unit_test(test_point_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
