/* Campaign files: malformed input gives FILE:LINE errors (library and CLI, exit 2); the
 * sweep is the cartesian product of the lists, with the values the file gives; seeds
 * depend on the configuration only; the auto engine resolves by size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "support/xb_test.h"
#include "xbar/characterize.h"

static void expect_error(const char *text, const char *where, const char *needle)
{
    xb_campaign *c = NULL;
    xb_error err;
    xb_error_clear(&err);
    int rc = xb_char_campaign_parse(text, "bad.ini", &c, &err);
    if (rc != XB_EINPUT || !strstr(err.msg, where) || !strstr(err.msg, needle))
        fprintf(stderr, "text:\n%s\nmessage: %s\n", text, err.msg);
    assert_int_equal(rc, XB_EINPUT);
    assert_null(c);
    assert_non_null(strstr(err.msg, where));
    assert_non_null(strstr(err.msg, needle));
    assert_null(strchr(err.msg, '\n'));
}

static void test_malformed(void **state)
{
    expect_error("[array]\nsize = 4x4\nbogus = 1\n", "bad.ini:3:", "unknown key 'bogus'");
    expect_error("; c\n[arr]\nsize = 4\n", "bad.ini:3:", "unknown section [arr]");
    expect_error("[array]\nsize = 4x4\ndevice = rram, memristor\n", "bad.ini:3:", "memristor");
    expect_error("[array]\nsize = 4x4\n\nr_wire_ohm = -1\n", "bad.ini:4:", "r_wire_ohm");
    expect_error("[array]\nsize = 4y4\n", "bad.ini:2:", "size");
    expect_error("[array]\nsize = 0x4\n", "bad.ini:2:", "size");
    expect_error("[array]\nsize = 4x4\nno equals sign here\n", "bad.ini:3:", "syntax error");
    expect_error("[array]\nsize = 4x4\n[inputs]\nsamples = 2, 3\n", "bad.ini:4:", "samples");
    expect_error("[array]\nsize = 4x4\n[inputs]\nsamples = two\n", "bad.ini:4:", "samples");
    expect_error("[array]\nsize = 4x4\nv_read_volt = 0.2x\n", "bad.ini:3:", "v_read_volt");
    expect_error("[array]\nsize = 4x4\n[transient]\nenabled = maybe\n", "bad.ini:4:", "enabled");
    expect_error("[campaign]\nseed = 1\nseed = 2\n[array]\nsize = 4\n", "bad.ini:3:", "seed");
    expect_error("[array]\nsize = 4x4\ng_min_siemens = 1e-6\non_off_ratio = 10\n", "bad.ini:4:", "on_off_ratio");
    expect_error("[array]\nsize = 4x4\ng_min_siemens = 1e-3\n", "bad.ini:", "g_");
    expect_error("key = 1\n[array]\nsize = 4\n", "bad.ini:1:", "outside");
    expect_error("[inputs]\nsamples = 2\n", "bad.ini", "size");
    expect_error("[array]\nsize = 4x4,\n", "bad.ini:2:", "empty");
}

static void test_cli_file_line(void **state)
{
    char *dir = xb_test_tmpdir("charcli");
    char *path = xb_test_write_file(dir, "c.ini", "[campaign]\nname = x\n\n[array]\nsize = 4x4\ncell = 2t2r\n");
    char out_h5[1024];
    snprintf(out_h5, sizeof out_h5, "%s/r.h5", dir);
    char *a[] = {"xbar", "characterize", path, "-o", out_h5, NULL};
    char *out = NULL, *err = NULL;
    int rc = xb_test_run_xbar(a, &out, &err);
    assert_int_equal(rc, 2);
    assert_int_equal(xb_test_count_lines(err), 1);
    char want[1100];
    snprintf(want, sizeof want, "xbar characterize: %s:6: cell", path);
    assert_non_null(strstr(err, want));
    free(out);
    free(err);
    /* missing file and missing -o */
    char *a2[] = {"xbar", "characterize", "/nonexistent/c.ini", "-o", out_h5, NULL};
    rc = xb_test_run_xbar(a2, &out, &err);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "/nonexistent/c.ini"));
    free(out);
    free(err);
    char *good = xb_test_write_file(dir, "g.ini", "[array]\nsize = 4x4\n");
    char *a3[] = {"xbar", "characterize", good, NULL};
    rc = xb_test_run_xbar(a3, &out, &err);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "-o"));
    free(out);
    free(err);
    free(good);
    free(path);
    free(dir);
}

static void test_sweep_product(void **state)
{
    const char *text = "[campaign]\nname = t\nseed = 5\n"
                       "[array]\nsize = 4x4, 8x16\ndevice = linear, rram, pcm\nr_wire_ohm = 0.5, 2\n"
                       "r_driver_ohm = 50\non_off_ratio = 10\n"
                       "[inputs]\ndistribution = sparse\ndensity = 0.5\nsamples = 3\nvectors = 5\n"
                       "[variability]\nprogram = yes\nmonte_carlo = 4\n"
                       "[read]\nschemes = v2\n";
    xb_campaign *c = NULL;
    xb_error err;
    assert_int_equal(xb_char_campaign_parse(text, "t.ini", &c, &err), XB_OK);
    assert_string_equal(xb_char_campaign_name(c), "t");
    assert_int_equal(xb_char_campaign_npoints(c), 2 * 3 * 2);
    /* every (size, device, r_wire) combination exactly once */
    int seen[2][3][2] = {{{0}}};
    for (size_t k = 0; k < xb_char_campaign_npoints(c); k++) {
        const xb_char_point *P = xb_char_campaign_point(c, k);
        const xb_array_params *p = &P->array;
        int si = p->rows == 4 ? 0 : 1;
        if (si == 0) assert_int_equal(p->cols, 4);
        else assert_int_equal(p->cols, 16);
        int ri = p->r_wire_row_ohm == 0.5 ? 0 : 1;
        assert_true(p->r_wire_row_ohm == (ri ? 2.0 : 0.5));
        assert_true(p->r_wire_col_ohm == p->r_wire_row_ohm);
        assert_true(p->r_driver_ohm == 50);
        seen[si][p->device == XB_DEVICE_LINEAR ? 0 : p->device == XB_DEVICE_RRAM ? 1 : 2][ri]++;
        /* on_off_ratio applies to each device's own g_max */
        xb_array_params d;
        xb_array_params_default(&d, p->device);
        assert_true(p->g_max_siemens == d.g_max_siemens);
        assert_true(fabs(p->g_min_siemens - d.g_max_siemens / 10) < 1e-18);
        assert_int_equal(p->var_program, 1);
        assert_int_equal(P->input, XB_CHAR_INPUT_SPARSE);
        assert_true(P->input_density == 0.5);
        assert_int_equal(P->samples, 3);
        assert_int_equal(P->vectors, 5);
        assert_int_equal(P->monte_carlo, 4);
        assert_int_equal(P->read_schemes, 1u << XB_READ_V2);
        assert_int_equal(P->engine, XB_CHAR_ENGINE_SPICE);
        assert_int_equal(P->transient, 0);
        char nm[32];
        snprintf(nm, sizeof nm, "p%05zu", k);
        assert_string_equal(P->name, nm);
    }
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int d = 0; d < 2; d++) assert_int_equal(seen[a][b][d], 1);

    /* the seed of a configuration does not depend on what else is swept */
    const char *text2 = "[campaign]\nname = t\nseed = 5\n"
                        "[array]\nsize = 8x16\ndevice = pcm\nr_wire_ohm = 2\n"
                        "r_driver_ohm = 50\non_off_ratio = 10\n"
                        "[inputs]\ndistribution = sparse\ndensity = 0.5\nsamples = 3\nvectors = 5\n"
                        "[variability]\nprogram = yes\nmonte_carlo = 4\n";
    xb_campaign *c2 = NULL;
    assert_int_equal(xb_char_campaign_parse(text2, "t2.ini", &c2, &err), XB_OK);
    assert_int_equal(xb_char_campaign_npoints(c2), 1);
    const xb_char_point *q = xb_char_campaign_point(c2, 0);
    int found = 0;
    for (size_t k = 0; k < xb_char_campaign_npoints(c); k++) {
        const xb_char_point *P = xb_char_campaign_point(c, k);
        if (strcmp(P->key, q->key) == 0) {
            found = 1;
            assert_true(P->seed == q->seed);
        } else {
            assert_true(P->seed != q->seed);
        }
    }
    assert_int_equal(found, 1);
    xb_char_campaign_free(c2);
    xb_char_campaign_free(c);
}

static void test_auto_engine(void **state)
{
    const char *text = "[campaign]\nengine = auto\nauto_native_above = 8\nauto_spice_check = 0.5\nauto_spice_max = 32\n"
                       "[array]\nsize = 4x4, 16x16, 32x32, 64x64\nr_wire_ohm = 1, 2\n"
                       "[transient]\nenabled = yes\nmax_size = 16\nnative_max_size = 32\n";
    xb_campaign *c = NULL;
    xb_error err;
    assert_int_equal(xb_char_campaign_parse(text, "a.ini", &c, &err), XB_OK);
    assert_int_equal(xb_char_campaign_npoints(c), 8);
    size_t checks = 0;
    for (size_t k = 0; k < 8; k++) {
        const xb_char_point *P = xb_char_campaign_point(c, k);
        size_t n = P->array.rows;
        assert_int_equal(P->use_native, n > 8);
        if (P->spice_check) {
            checks++;
            assert_true(P->use_native && n <= 32);
        }
        /* every circuit point does the single-cell reads (native points on the native engine);
         * transients up to max_size on ngspice, up to native_max_size on the native engine, and
         * the ngspice re-check of a native transient only where ngspice runs them */
        assert_int_not_equal(P->read_schemes, 0);
        assert_int_equal(P->transient, n <= (P->use_native ? 32u : 16u));
        assert_int_equal(P->transient_check, P->spice_check && n <= 16);
    }
    /* 4 native points within auto_spice_max (16x16 and 32x32, two wires), half re-solved */
    assert_int_equal(checks, 2);
    xb_char_campaign_free(c);
}

static void test_shipped_campaigns_parse(void **state)
{
    const char *files[] = {"quick", "sizes", "variability", "transient", "large"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/characterize/%s.ini", XB_SOURCE_DIR, files[k]);
        xb_campaign *c = NULL;
        xb_error err;
        xb_error_clear(&err);
        int rc = xb_char_campaign_load(path, &c, &err);
        if (rc) fprintf(stderr, "%s\n", err.msg);
        assert_int_equal(rc, XB_OK);
        assert_true(xb_char_campaign_npoints(c) >= 1);
        assert_string_equal(xb_char_campaign_name(c), files[k]);
        xb_char_campaign_free(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_cli_file_line),
        cmocka_unit_test(test_sweep_product),
        cmocka_unit_test(test_auto_engine),
        cmocka_unit_test(test_shipped_campaigns_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
