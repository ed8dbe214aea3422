/* Campaign runs: stored results equal a direct `xbar mvm --engine spice` of the same G
 * and V; an interrupted campaign rerun computes only the rest (checked through the run
 * number every point records); a SIGKILLed run leaves a file h5py reads, and a rerun
 * completes it; failed points are recorded with their message and the campaign goes on;
 * another campaign's file is not overwritten without force. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/xb_test.h"
#include "xbar/characterize.h"
#include "xbar/h5.h"

static xb_campaign *parse(const char *text)
{
    xb_campaign *c = NULL;
    xb_error err;
    xb_error_clear(&err);
    int rc = xb_char_campaign_parse(text, "t.ini", &c, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    return c;
}

static char *get_str(hid_t f, const char *obj, const char *name)
{
    char *s = NULL;
    xb_error err;
    assert_int_equal(xb_h5_attr_get_string(f, obj, name, &s, &err), XB_OK);
    return s;
}

static int64_t get_int(hid_t f, const char *obj, const char *name)
{
    int64_t v = -1;
    xb_error err;
    assert_int_equal(xb_h5_attr_get_int64(f, obj, name, &v, &err), XB_OK);
    return v;
}

/* Run campaign c with the default options into a fresh temporary directory (*dir, tagged)
 * as r.h5 (path, n bytes): no point fails; the file is opened for reading (*f). */
static void run_ok(xb_campaign *c, const char *tag, char **dir, char *path, size_t n, hid_t *f)
{
    *dir = xb_test_tmpdir(tag);
    assert_non_null(*dir);
    snprintf(path, n, "%s/r.h5", *dir);
    xb_error err;
    xb_error_clear(&err);
    xb_char_run_stats st;
    xb_char_run_opts o = {0};
    int rc = xb_char_run(c, path, &o, &st, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, XB_OK);
    assert_int_equal(st.failed, 0);
    assert_int_equal(xb_h5_open(path, 0, f, &err), XB_OK);
}

/* Resume: 2 points, then the rest; the run number of every point says when it ran. */
static void test_resume_computes_only_the_rest(void **state)
{
    const char *text = "[campaign]\nname = resume\nengine = native\n"
                       "[array]\nsize = 4x4, 8x8, 6x5\ndevice = linear, rram\nr_wire_ohm = 2\n"
                       "[inputs]\nsamples = 2\nvectors = 3\n";
    xb_campaign *c = parse(text);
    assert_int_equal(xb_char_campaign_npoints(c), 6);
    char *dir = xb_test_tmpdir("charresume");
    char path[1024];
    snprintf(path, sizeof path, "%s/r.h5", dir);
    xb_error err;
    xb_error_clear(&err);
    xb_char_run_opts o = {0};
    o.max_points = 2;
    o.n_parallel = 2;
    xb_char_run_stats st;
    assert_int_equal(xb_char_run(c, path, &o, &st, &err), XB_OK);
    assert_int_equal(st.total, 6);
    assert_int_equal(st.ran, 2);
    assert_int_equal(st.skipped, 0);
    assert_int_equal(st.run_number, 1);

    hid_t f;
    assert_int_equal(xb_h5_open(path, 0, &f, &err), XB_OK);
    char **names;
    size_t n;
    assert_int_equal(xb_h5_list(f, "points", &names, &n, &err), XB_OK);
    assert_int_equal(n, 2);
    char first[2][32];
    for (size_t k = 0; k < 2; k++) {
        char obj[64];
        snprintf(obj, sizeof obj, "points/%s", names[k]);
        snprintf(first[k], sizeof first[k], "%s", names[k]);
        char *s = get_str(f, obj, "status");
        assert_string_equal(s, "ok");
        free(s);
        assert_int_equal(get_int(f, obj, "run"), 1);
    }
    xb_h5_free_names(names, n);
    xb_h5_close(f, &err);

    /* the rerun computes the 4 others and only them */
    o.max_points = 0;
    assert_int_equal(xb_char_run(c, path, &o, &st, &err), XB_OK);
    assert_int_equal(st.ran, 4);
    assert_int_equal(st.skipped, 2);
    assert_int_equal(st.run_number, 2);
    assert_int_equal(xb_h5_open(path, 0, &f, &err), XB_OK);
    assert_int_equal(xb_h5_list(f, "points", &names, &n, &err), XB_OK);
    assert_int_equal(n, 6);
    size_t in_run1 = 0;
    for (size_t k = 0; k < n; k++) {
        char obj[64];
        snprintf(obj, sizeof obj, "points/%s", names[k]);
        int64_t run = get_int(f, obj, "run");
        int was_first = strcmp(names[k], first[0]) == 0 || strcmp(names[k], first[1]) == 0;
        assert_int_equal(run, was_first ? 1 : 2);
        in_run1 += run == 1;
        /* a finished point carries its data: circuit currents of the right shape */
        char ds[96];
        snprintf(ds, sizeof ds, "%s/mvm/i_circuit", obj);
        double *d;
        int rank;
        hsize_t dims[4];
        assert_int_equal(xb_h5_read_doubles(f, ds, &d, &rank, dims, &err), XB_OK);
        assert_int_equal(rank, 3);
        assert_int_equal(dims[0], 2);
        assert_int_equal(dims[1], 3);
        assert_int_equal(dims[2], (hsize_t)get_int(f, obj, "cols"));
        free(d);
    }
    assert_int_equal(in_run1, 2);
    assert_int_equal(get_int(f, ".", "complete"), 1);
    assert_int_equal(get_int(f, ".", "points_ok"), 6);
    xb_h5_free_names(names, n);
    xb_h5_close(f, &err);

    /* a third run has nothing to do */
    assert_int_equal(xb_char_run(c, path, &o, &st, &err), XB_OK);
    assert_int_equal(st.ran, 0);
    assert_int_equal(st.skipped, 6);

    /* another campaign text: refused without force, recomputed with it */
    xb_campaign *c2 = parse("[campaign]\nname = other\nengine = native\n[array]\nsize = 4x4\n");
    assert_int_equal(xb_char_run(c2, path, &o, &st, &err), XB_EINPUT);
    assert_non_null(strstr(err.msg, "--force"));
    o.force = 1;
    assert_int_equal(xb_char_run(c2, path, &o, &st, &err), XB_OK);
    assert_int_equal(st.ran, 1);
    assert_int_equal(st.run_number, 1);
    /* a file that is not a results file is not overwritten either */
    char *junk = xb_test_write_file(dir, "junk.h5", "precious\n");
    o.force = 0;
    assert_int_equal(xb_char_run(c2, junk, &o, &st, &err), XB_EINPUT);
    FILE *jf = fopen(junk, "r");
    char buf[32] = "";
    assert_non_null(fgets(buf, sizeof buf, jf));
    fclose(jf);
    assert_string_equal(buf, "precious\n");
    free(junk);
    xb_char_campaign_free(c2);
    xb_char_campaign_free(c);
    xb_test_tmpdir_remove(dir);
}

/* The stored currents of a point equal `xbar mvm --engine spice` on the stored G and V. */
static void test_stored_equals_direct_spice(void **state)
{
    const char *text = "[campaign]\nname = direct\nengine = spice\n"
                       "[array]\nsize = 4x5\ndevice = rram\nr_wire_ohm = 2.5\nr_driver_ohm = 150\n"
                       "[inputs]\nsamples = 2\nvectors = 3\n[read]\nschemes = none\n";
    xb_campaign *c = parse(text);
    char *dir, path[1024];
    hid_t f;
    run_ok(c, "chardirect", &dir, path, sizeof path, &f);
    xb_error err;
    char *s = get_str(f, "points/p00000", "status");
    assert_string_equal(s, "ok");
    free(s);
    double *g, *v, *ic, *ii;
    int rank;
    hsize_t dg[4], dv[4], di[4];
    assert_int_equal(xb_h5_read_doubles(f, "points/p00000/mvm/g", &g, &rank, dg, &err), XB_OK);
    assert_int_equal(xb_h5_read_doubles(f, "points/p00000/mvm/v", &v, &rank, dv, &err), XB_OK);
    assert_int_equal(xb_h5_read_doubles(f, "points/p00000/mvm/i_circuit", &ic, &rank, di, &err), XB_OK);
    assert_int_equal(xb_h5_read_doubles(f, "points/p00000/mvm/i_ideal", &ii, &rank, di, &err), XB_OK);
    char *deck = NULL;
    assert_int_equal(xb_h5_read_text(f, "points/p00000/mvm/netlist", &deck, &err), XB_OK);
    assert_non_null(strstr(deck, ".end"));
    free(deck);
    xb_h5_close(f, &err);
    assert_int_equal(dg[0], 2);
    assert_int_equal(dg[1], 4);
    assert_int_equal(dg[2], 5);
    for (size_t smp = 0; smp < 2; smp++) {
        xb_matrix gm = {4, 5, g + smp * 20}, vm = {3, 4, v + smp * 12};
        char gp[1100], vp[1100], ip[1100];
        snprintf(gp, sizeof gp, "%s/G%zu.csv", dir, smp);
        snprintf(vp, sizeof vp, "%s/V%zu.csv", dir, smp);
        snprintf(ip, sizeof ip, "%s/I%zu.csv", dir, smp);
        assert_int_equal(xb_csv_write_matrix(gp, &gm, &err), XB_OK);
        assert_int_equal(xb_csv_write_matrix(vp, &vm, &err), XB_OK);
        char *a[] = {"xbar", "mvm", "--engine", "spice", "--device", "rram", "--rows", "4", "--cols", "5",
                     "--r-wire", "2.5", "--r-driver", "150", "--g", gp, "--v", vp, "-o", ip, NULL};
        free(xb_test_xbar_ok(a));
        xb_matrix *im = NULL;
        assert_int_equal(xb_csv_read_matrix(ip, &im, &err), XB_OK);
        assert_int_equal(im->rows, 3);
        assert_int_equal(im->cols, 5);
        double num = 0, den = 0, dev_ideal = 0;
        for (size_t k = 0; k < 15; k++) {
            double a1 = ic[smp * 15 + k], b1 = im->data[k];
            num += (a1 - b1) * (a1 - b1);
            den += b1 * b1;
            dev_ideal += (ii[smp * 15 + k] - b1) * (ii[smp * 15 + k] - b1);
        }
        xb_assert_below(sqrt(num / den), 1e-9);
        /* and the circuit is not the ideal product (wires and sinh read matter here) */
        xb_assert_below(1e-4, sqrt(dev_ideal / den));
        xb_matrix_free(im);
    }
    free(g);
    free(v);
    free(ic);
    free(ii);
    xb_char_campaign_free(c);
    xb_test_tmpdir_remove(dir);
}

/* A point that cannot finish (every simulation times out) is recorded as failed with the
 * message; the other points complete; a rerun skips it unless retry_failed. */
static void test_failed_point_recorded(void **state)
{
    const char *text = "[campaign]\nname = fail\nengine = native, spice\ntimeout_s = 0.001\n"
                       "[array]\nsize = 40x40\n[inputs]\nsamples = 1\nvectors = 2\n[read]\nschemes = none\n";
    xb_campaign *c = parse(text);
    assert_int_equal(xb_char_campaign_npoints(c), 2);
    char *dir = xb_test_tmpdir("charfail");
    char path[1024];
    snprintf(path, sizeof path, "%s/r.h5", dir);
    xb_error err;
    xb_error_clear(&err);
    xb_char_run_stats st;
    xb_char_run_opts o = {0};
    assert_int_equal(xb_char_run(c, path, &o, &st, &err), XB_OK);
    assert_int_equal(st.ran, 2);
    assert_int_equal(st.failed, 1);
    hid_t f;
    assert_int_equal(xb_h5_open(path, 0, &f, &err), XB_OK);
    char *s0 = get_str(f, "points/p00000", "status"), *s1 = get_str(f, "points/p00001", "status");
    assert_string_equal(s0, "ok");
    assert_string_equal(s1, "failed");
    char *msg = get_str(f, "points/p00001", "error");
    assert_true(strlen(msg) > 0);
    assert_null(strchr(msg, '\n'));
    free(msg);
    free(s0);
    free(s1);
    xb_h5_close(f, &err);
    assert_int_equal(xb_char_run(c, path, &o, &st, &err), XB_OK);
    assert_int_equal(st.ran, 0);
    o.retry_failed = 1;
    assert_int_equal(xb_char_run(c, path, &o, &st, &err), XB_OK);
    assert_int_equal(st.ran, 1);
    assert_int_equal(st.failed, 1);
    xb_char_campaign_free(c);
    xb_test_tmpdir_remove(dir);
}

/* kill -9 mid-run: the file stays readable (h5py), holds only complete points, and
 * rerunning the same command finishes the campaign. */
static void test_sigkill_leaves_readable_file(void **state)
{
    char *dir = xb_test_tmpdir("charkill");
    /* spice points with a transient each: long enough to be killed in the middle */
    char *ini = xb_test_write_file(dir, "k.ini",
                                   "[campaign]\nname = kill\nengine = spice\n"
                                   "[array]\nsize = 6x6\nr_wire_ohm = 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5\n"
                                   "[inputs]\nsamples = 2\nvectors = 4\n[read]\nschemes = float\n"
                                   "[transient]\nenabled = yes\n");
    char path[1024], logp[1024];
    snprintf(path, sizeof path, "%s/r.h5", dir);
    snprintf(logp, sizeof logp, "%s/log.txt", dir);
    char *argv[] = {"xbar", "characterize", ini, "-o", path, "-j", "1", NULL};
    int pid = xb_test_xbar_start(argv, logp, NULL, NULL); /* progress lines on stderr */
    assert_true(pid > 0);
    /* wait until at least one point is reported finished, then kill -9 */
    int finished = 0;
    for (int t = 0; t < 6000 && !finished; t++) {
        usleep(10000);
        FILE *lf = fopen(logp, "r");
        if (lf) {
            char line[4096];
            while (fgets(line, sizeof line, lf))
                if (strstr(line, " 1/10 ")) finished = 1;
            fclose(lf);
        }
    }
    assert_true(finished);
    kill(pid, SIGKILL);
    assert_int_equal(xb_test_wait(pid), 128 + SIGKILL);
    usleep(200000); /* point processes die with their parent (PDEATHSIG) */

    char script[4096];
    snprintf(script, sizeof script,
             "import h5py\n"
             "f = h5py.File('%s', 'r')\n"
             "names = [n for n in f['points']]\n"
             "done = 0\n"
             "for n in names:\n"
             "    g = f['points'][n]\n"
             "    assert not n.startswith('.'), n\n"
             "    assert g.attrs['status'].decode() == 'ok', n\n"
             "    assert g['mvm/i_circuit'].shape == (2, 4, 6)\n"
             "    assert 'transient' in g\n"
             "    done += 1\n"
             "assert 1 <= done < 10, done\n"
             "assert f['campaign/text'][()].decode().startswith('[campaign]')\n"
             "print(done)\n",
             path);
    char *a[] = {XB_TEST_PYTHON, "-c", script, NULL};
    char *out = xb_test_run_ok(a);
    int before = atoi(out);
    free(out);

    /* the same command again: computes exactly the rest */
    char *a2[] = {"xbar", "characterize", ini, "-o", path, NULL};
    xb_test_cli r;
    xb_test_cli_run(&r, a2);
    if (r.status) fprintf(stderr, "%s", r.err);
    assert_int_equal(r.status, 0);
    char want[128];
    snprintf(want, sizeof want, "%d skipped (already done), %d computed, 0 failed", before, 10 - before);
    xb_assert_contains(r.err, want);
    xb_test_cli_free(&r);
    free(ini);
    xb_test_tmpdir_remove(dir);
}

/* auto engine: native above the threshold, sample 0 re-solved in ngspice with the
 * disagreement recorded (native and ngspice solve the same circuit: tiny); Monte Carlo:
 * every realisation of one target differs, the targets lie in [g_min, g_max]. */
static void test_auto_check_and_monte_carlo(void **state)
{
    const char *text = "[campaign]\nname = auto\nengine = auto\nauto_native_above = 4\nauto_spice_check = 1\n"
                       "[array]\nsize = 4x4, 6x6\ndevice = rram\nr_wire_ohm = 2\n"
                       "[variability]\nprogram = yes\nmonte_carlo = 3\n"
                       "[inputs]\nsamples = 2\nvectors = 3\n[read]\nschemes = none\n";
    xb_campaign *c = parse(text);
    char *dir, path[1024];
    hid_t f;
    run_ok(c, "charauto", &dir, path, sizeof path, &f);
    xb_error err;
    char *e0 = get_str(f, "points/p00000", "engine"), *e1 = get_str(f, "points/p00001", "engine");
    assert_string_equal(e0, "spice");
    assert_string_equal(e1, "native");
    free(e0);
    free(e1);
    assert_false(xb_h5_attr_exists(f, "points/p00000/mvm", "spice_check_rel_l2"));
    double d = -1;
    assert_int_equal(xb_h5_attr_get_double(f, "points/p00001/mvm", "spice_check_rel_l2", &d, &err), XB_OK);
    fprintf(stderr, "native vs ngspice on 6x6 rram: %.3g\n", d);
    assert_true(d >= 0 && d < 1e-6);
    double *gt, *g;
    int rank;
    hsize_t dt[4], dg[4];
    assert_int_equal(xb_h5_read_doubles(f, "points/p00001/mvm/g_target", &gt, &rank, dt, &err), XB_OK);
    assert_int_equal(xb_h5_read_doubles(f, "points/p00001/mvm/g", &g, &rank, dg, &err), XB_OK);
    assert_int_equal(dt[0], 2);
    assert_int_equal(dg[0], 6);
    for (size_t k = 0; k < 2 * 36; k++) assert_true(gt[k] >= 1e-6 && gt[k] <= 40e-6);
    for (size_t s = 0; s < 2; s++)
        for (size_t m = 0; m < 3; m++) {
            double diff = 0, other = 0;
            for (size_t k = 0; k < 36; k++) {
                diff += fabs(g[(s * 3 + m) * 36 + k] - gt[s * 36 + k]);
                other += fabs(g[(s * 3 + m) * 36 + k] - g[(s * 3 + (m + 1) % 3) * 36 + k]);
            }
            assert_true(diff > 0);  /* programming error applied */
            assert_true(other > 0); /* realisations differ */
        }
    /* error against the target product, recomputed here from the stored data */
    double *v, *ic, *et;
    hsize_t dv[4], di[4], de[4];
    assert_int_equal(xb_h5_read_doubles(f, "points/p00001/mvm/v", &v, &rank, dv, &err), XB_OK);
    assert_int_equal(xb_h5_read_doubles(f, "points/p00001/mvm/i_circuit", &ic, &rank, di, &err), XB_OK);
    assert_int_equal(xb_h5_read_doubles(f, "points/p00001/mvm/err_total_target", &et, &rank, de, &err), XB_OK);
    assert_int_equal(de[0], 6);
    for (size_t n = 0; n < 6; n++) {
        const double *gtn = gt + (n / 3) * 36, *vn = v + n * 3 * 6, *in = ic + n * 3 * 6;
        double num = 0, den = 0;
        for (size_t k = 0; k < 3; k++)
            for (size_t j = 0; j < 6; j++) {
                double ref = 0;
                for (size_t i = 0; i < 6; i++) ref += vn[k * 6 + i] * gtn[i * 6 + j];
                num += (in[k * 6 + j] - ref) * (in[k * 6 + j] - ref);
                den += ref * ref;
            }
        xb_assert_near(sqrt(num / den), et[n], 0, 1e-12);
    }
    free(v);
    free(ic);
    free(et);
    free(gt);
    free(g);
    xb_h5_close(f, &err);
    xb_char_campaign_free(c);
    xb_test_tmpdir_remove(dir);
}

/* Input statistics: one-hot rows have one v_read entry; bit-serial vectors are bit-planes
 * (0 or v_read) of integers < 2^bits, LSB first; sparse inputs have about `density` non-zeros. */
static void test_input_statistics(void **state)
{
    const char *text = "[campaign]\nengine = native\n[array]\nsize = 50x3\n"
                       "[inputs]\ndistribution = onehot, bitserial, sparse\nbit_levels = 3\ndensity = 0.3\n"
                       "samples = 1\nvectors = 60\n[read]\nschemes = none\n";
    xb_campaign *c = parse(text);
    char *dir, path[1024];
    hid_t f;
    run_ok(c, "charinputs", &dir, path, sizeof path, &f);
    xb_error err;
    double *v;
    int rank;
    hsize_t d[4];
    const double vr = 0.2;
    /* one-hot */
    assert_int_equal(xb_h5_read_doubles(f, "points/p00000/mvm/v", &v, &rank, d, &err), XB_OK);
    for (size_t k = 0; k < 60; k++) {
        int nz = 0;
        for (size_t i = 0; i < 50; i++) {
            double x = v[k * 50 + i];
            assert_true(x == 0 || x == vr);
            nz += x != 0;
        }
        assert_int_equal(nz, 1);
    }
    free(v);
    /* bit-serial: reassemble the integers from 3 consecutive planes */
    assert_int_equal(xb_h5_read_doubles(f, "points/p00001/mvm/v", &v, &rank, d, &err), XB_OK);
    size_t ones = 0;
    for (size_t k0 = 0; k0 < 60; k0 += 3)
        for (size_t i = 0; i < 50; i++) {
            unsigned x = 0;
            for (size_t b = 0; b < 3; b++) {
                double y = v[(k0 + b) * 50 + i];
                assert_true(y == 0 || y == vr);
                x |= (unsigned)(y != 0) << b;
            }
            assert_true(x < 8);
            ones += x == 7;
        }
    assert_true(ones > 0); /* all 3 bits set happens (1/8 of 1000 integers) */
    free(v);
    /* sparse: 3000 entries, density 0.3 -> 900 +- 5 sigma (sigma ~ 25) */
    assert_int_equal(xb_h5_read_doubles(f, "points/p00002/mvm/v", &v, &rank, d, &err), XB_OK);
    size_t nz = 0;
    for (size_t k = 0; k < 3000; k++) {
        assert_true(v[k] >= 0 && v[k] <= vr);
        nz += v[k] != 0;
    }
    xb_assert_near((double)nz, 900.0, 0, 125.0);
    free(v);
    xb_h5_close(f, &err);
    xb_char_campaign_free(c);
    xb_test_tmpdir_remove(dir);
}

/* Programming curves: ECRAM potentiation raises G pulse by pulse, depression lowers it;
 * the first step equals the model's closed form (models/ecram.lib): the gate charge of one
 * trapezoidal pulse with drain and source grounded (the device's biasing, vch = 0)
 * Q = i0g [w sinh(a/vg0) + 2 (e vg0 / a)(cosh(a/vg0) - 1)] moves x by Q/qup (1 - gup x) to
 * first order, G by (g_max - g_min) dx. */
static void test_program_curves(void **state)
{
    const char *text = "[campaign]\nengine = native\n[array]\nsize = 2x2\ndevice = ecram, pcm\n"
                       "[inputs]\nsamples = 1\nvectors = 1\n[read]\nschemes = none\n"
                       "[program]\nenabled = yes\npulses = 5\ncycles = 2\n";
    xb_campaign *c = parse(text);
    char *dir, path[1024];
    hid_t f;
    run_ok(c, "charprog", &dir, path, sizeof path, &f);
    xb_error err;
    double *g;
    int rank;
    hsize_t d[4];
    assert_int_equal(xb_h5_read_doubles(f, "points/p00000/program/g", &g, &rank, d, &err), XB_OK);
    assert_int_equal(d[0], 2 * 2 * 5 + 1);
    for (int k = 1; k <= 5; k++) assert_true(g[k] > g[k - 1]);
    for (int k = 6; k <= 10; k++) assert_true(g[k] < g[k - 1]);
    for (hsize_t k = 0; k < d[0]; k++) assert_true(g[k] >= 1e-6 && g[k] <= 10e-6);
    const double i0g = 1e-12, vg0 = 0.1, qup = 1.1e-13, gup = 0.115, a = 1.3, w = 10e-9, e = 1e-9, vch = 0.0;
    const double Q = i0g * (w * sinh((a - vch) / vg0) + 2 * (e * vg0 / a) * (cosh((a - vch) / vg0) - cosh(vch / vg0)));
    const double x0 = (g[0] - 1e-6) / 9e-6;
    const double dx = Q / qup * (1 - gup * x0);
    const double dg = 9e-6 * dx;
    fprintf(stderr, "ECRAM first step %.4g S, closed form %.4g S (x0 %.4f)\n", g[1] - g[0], dg, x0);
    xb_assert_near(x0, 0.5, 0, 1e-3);
    xb_assert_near(g[1] - g[0], dg, 0, 0.04 * dg); /* ngspice integration: ~2% */
    free(g);
    /* PCM: partial SETs raise G, the first RESET drops it by at least 5x */
    assert_int_equal(xb_h5_read_doubles(f, "points/p00001/program/g", &g, &rank, d, &err), XB_OK);
    for (int k = 1; k <= 5; k++) assert_true(g[k] > g[k - 1]);
    assert_true(g[6] < g[5] / 5);
    free(g);
    xb_h5_close(f, &err);
    xb_char_campaign_free(c);
    xb_test_tmpdir_remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_computes_only_the_rest),
        cmocka_unit_test(test_stored_equals_direct_spice),
        cmocka_unit_test(test_failed_point_recorded),
        cmocka_unit_test(test_auto_check_and_monte_carlo),
        cmocka_unit_test(test_input_statistics),
        cmocka_unit_test(test_program_curves),
        cmocka_unit_test(test_sigkill_leaves_readable_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
