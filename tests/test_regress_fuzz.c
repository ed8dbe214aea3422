/* Regression tests for the crashes the fuzz targets (tests/fuzz, docs/hardening.md) found.
 * Each minimized input is embedded as an HDF5 recipe (tests/fuzz/fuzz_h5recipe.h: the same
 * builder the fuzz targets use) or as text, and the loader must now reject it with one
 * line naming the object at fault, without touching memory it does not own (the ASan+UBSan
 * build runs this suite too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "fuzz/fuzz_h5recipe.h"
#include "support/xb_test.h"
#include "xbar/characterize.h"
#include "xbar/exec.h"
#include "xbar/fit.h"
#include "xbar/h5.h"

static const char *build(const char *recipe)
{
    const char *p = xb_recipe_file((const uint8_t *)recipe, strlen(recipe), ".regress.h5");
    assert_non_null(p);
    return p;
}

/* A seed of tests/fuzz/corpus/results_h5 (NAME.txt), as text. */
static char *corpus(const char *name)
{
    char src[4096];
    snprintf(src, sizeof src, "%s/tests/fuzz/corpus/results_h5/%s.txt", XB_SOURCE_DIR, name);
    char *text = xb_test_read_file(src);
    assert_non_null(text);
    return text;
}

static void assert_one_line(const xb_error *err, const char *part)
{
    assert_true(err->msg[0] != '\0');
    assert_null(strchr(err->msg, '\n'));
    if (part && !strstr(err->msg, part)) fail_msg("message '%s' lacks '%s'", err->msg, part);
}

/* Fitting the results file at path is rejected (XB_EINPUT, message in *err); no model file
 * is left behind. */
static void fit_rejects(const char *path, xb_error *err)
{
    char model[512];
    snprintf(model, sizeof model, "%s.model.h5", path);
    xb_fit_opts o;
    xb_fit_opts_default(&o);
    xb_fit_summary *s = NULL;
    assert_int_equal(xb_fit_results(path, model, 1, &o, NULL, NULL, &s, err), XB_EINPUT);
    xb_fit_summary_free(s);
    unlink(model);
}

/* fuzz_model_h5: a root attribute 'format' holding an array of fixed-length strings was
 * read into a one-string buffer (heap-buffer-overflow in read_string_obj, src/h5/h5.c). */
static void test_model_format_string_array(void **state)
{
    (void)state;
    const char *path = build("a / format str 4 xbar-model xbar-model a b\n");
    xb_fit_params *models = NULL;
    size_t n = 0;
    xb_error err;
    assert_int_equal(xb_fit_file_read(path, &models, NULL, &n, &err), XB_EINPUT);
    assert_one_line(&err, "'format' is not a string");
    assert_null(models);
    /* the same through the generic helper, for a variable-length string array dataset */
    hid_t f;
    path = build("d /text vstr 3 one two three\nd /ok vstr - a whole line\n");
    assert_int_equal(xb_h5_open(path, 0, &f, &err), XB_OK);
    char *s = NULL;
    assert_int_equal(xb_h5_read_text(f, "text", &s, &err), XB_EINPUT);
    assert_one_line(&err, "/text: not a string dataset");
    assert_int_equal(xb_h5_read_text(f, "ok", &s, &err), XB_OK);
    assert_string_equal(s, "a whole line");
    free(s);
    xb_h5_close(f, &err);
}

/* fuzz_network_h5: a layer 'type' (or root 'format') attribute holding an array of
 * variable-length strings was read into one char* (stack-buffer-overflow in read_str_attr,
 * src/exec/network_h5.c). */
static void test_network_type_string_array(void **state)
{
    (void)state;
    const char *path = build("a / format str - xbar-network\n"
                             "a / version i64 - 1\n"
                             "a / input_shape i64 1 6\n"
                             "g /layers/0\n"
                             "a /layers/0 type vstr 3 relu dense x\n");
    xb_network *net = NULL;
    xb_error err;
    assert_int_equal(xb_network_read(path, &net, &err), XB_EINPUT);
    assert_null(net);
    assert_one_line(&err, "/layers/0: missing string attribute 'type'");
    path = build("a / format vstr 3 xbar-network a b\n");
    assert_int_equal(xb_network_read(path, &net, &err), XB_EINPUT);
    assert_one_line(&err, "'format'");
    /* control: the same file with a scalar type loads */
    path = build("a / format str - xbar-network\n"
                 "a / version i64 - 1\n"
                 "a / input_shape i64 1 6\n"
                 "g /layers/0\n"
                 "a /layers/0 type vstr - relu\n");
    assert_int_equal(xb_network_read(path, &net, &err), XB_OK);
    assert_int_equal(xb_network_n_layers(net), 1);
    xb_network_free(net);
}

/* fuzz_results_h5 / fuzz_network_h5: datasets declaring extents far beyond their storage
 * (never written, chunked) made the readers allocate terabytes (the network reader's
 * element count could also wrap around for large extents). */
static void test_huge_declared_extents(void **state)
{
    (void)state;
    const char *path = build("d /big f64 100000x100000\n"
                             "d /wrap f64 1099511627776x1048576x2x1\n"
                             "d /small f64 2x3 1 2 3 4 5 6\n");
    hid_t f;
    xb_error err;
    assert_int_equal(xb_h5_open(path, 0, &f, &err), XB_OK);
    double *d = NULL;
    int rank = 0;
    hsize_t dims[4];
    assert_int_equal(xb_h5_read_doubles(f, "big", &d, &rank, dims, &err), XB_EINPUT);
    assert_one_line(&err, "/big: more than");
    assert_int_equal(xb_h5_read_doubles(f, "wrap", &d, &rank, dims, &err), XB_EINPUT);
    assert_one_line(&err, "/wrap: more than");
    assert_int_equal(xb_h5_read_doubles(f, "small", &d, &rank, dims, &err), XB_OK);
    assert_int_equal(rank, 2);
    assert_int_equal(dims[0], 2);
    assert_int_equal(dims[1], 3);
    assert_true(d[5] == 6.0);
    free(d);
    xb_h5_close(f, &err);

    xb_network *net = NULL;
    path = build("a / format str - xbar-network\n"
                 "a / version i64 - 1\n"
                 "a / input_shape i64 1 6\n"
                 "g /layers/0\n"
                 "a /layers/0 type str - dense\n"
                 "d /layers/0/weight f32 1099511627776x1048576\n");
    assert_int_equal(xb_network_read(path, &net, &err), XB_EINPUT);
    assert_one_line(&err, "/layers/0 (dense): dataset 'weight' has");
    assert_null(net);
}

/* The results-file reader with the seed that found the extent bug (a point's mvm/g
 * declared 2 x 1e5 x 1e5): a one-line error naming the dataset. */
static void test_results_huge_g(void **state)
{
    (void)state;
    char *text = corpus("huge_g");
    const char *path = build(text);
    free(text);
    xb_error err;
    fit_rejects(path, &err);
    assert_one_line(&err, "/points/p00000/mvm/g: more than");
}

/* fuzz_results_h5: a point whose g_min_siemens attribute was corrupted above g_max was
 * fitted, and the model file written had g_ref_min > g_ref_max, which the model reader
 * (rightly) rejects.  The minimized change to the seed: one attribute value. */
static void test_results_gmin_above_gmax(void **state)
{
    (void)state;
    char *text = corpus("res_2x2");
    const char *line = "a /points/p00000 g_min_siemens f64 - 1e-06\n";
    char *at = strstr(text, line);
    assert_non_null(at);
    memcpy(at + strlen(line) - 6, "1e+00", 5); /* "1e-06" -> "1e+00": 1 S > g_max */
    const char *path = build(text);
    free(text);
    xb_error err;
    fit_rejects(path, &err);
    assert_one_line(&err, "/points/p00000: ");
    assert_one_line(&err, "g_min < g_max");
}

/* fuzz_results_h5: circuit currents of the wrong sign fitted to a model with gain <= 0,
 * written to a model file its own reader rejects.  Minimized: the seed with every
 * /points/p00000/mvm/i_circuit value negated. */
static void test_results_negative_currents(void **state)
{
    (void)state;
    char *text = corpus("res_2x2");
    const size_t n = strlen(text);
    const char *key = "d /points/p00000/mvm/i_circuit f64 ";
    char *at = strstr(text, key);
    assert_non_null(at);
    char *vals = strchr(at + strlen(key), ' '); /* after the dims */
    assert_non_null(vals);
    char *neg = calloc(2 * n + 1, 1), *w = neg;
    memcpy(w, text, (size_t)(vals - text));
    w += vals - text;
    for (const char *r = vals; *r; r++) {
        *w++ = *r;
        if (*r == ' ' && r[1] && r[1] != ' ' && r < strchr(vals, '\n')) *w++ = '-';
    }
    free(text);
    const char *path = build(neg);
    free(neg);
    xb_error err;
    fit_rejects(path, &err);
    assert_one_line(&err, "/points/p00000: fitted model rejected: gain");
}

/* fuzz_idx: the IDX reader allocated storage for the image count of the header before
 * reading any image (30 bytes claiming 100000 images of 1820 x 28 asked for 20 GB).
 * Now storage grows with the images read; checked on the minimized input and on a file
 * whose images are large enough (2048 x 4096) that the storage has to grow twice. */
static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void test_idx_header_count_not_trusted(void **state)
{
    static const unsigned char img[] = {0, 0, 8, 3, 0, 1, 0x86, 0xa0, 0, 0, 0x07, 0x1c, 0, 0, 0, 0x1c, 1, 2, 3};
    static const unsigned char lab[] = {0, 0, 8, 1, 0, 1, 0x86, 0xa0, 1};
    const char *dir = *state;
    char ip[4200], lp[4200];
    snprintf(ip, sizeof ip, "%s/i.idx", dir);
    snprintf(lp, sizeof lp, "%s/l.idx", dir);
    write_bytes(ip, img, sizeof img);
    write_bytes(lp, lab, sizeof lab);
    xb_dataset *d = NULL;
    xb_error err;
    assert_int_equal(xb_dataset_read_idx(ip, lp, 0, &d, &err), XB_EINPUT);
    assert_null(d);
    assert_one_line(&err, "truncated at image 0 of 100000");

    /* 3 images of 2048 x 4096 (32 MiB of floats each: storage starts at 2, grows to 3),
     * gzip; pixel (k, k) of image k is 255, the last pixel of image k is k. */
    const size_t R = 2048, C = 4096, px = R * C;
    unsigned char hdr[16] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0x08, 0x00, 0, 0, 0x10, 0x00};
    snprintf(ip, sizeof ip, "%s/big.idx.gz", dir);
    gzFile g = gzopen(ip, "wb1");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, hdr, 16), 16);
    unsigned char *raw = calloc(px, 1);
    for (unsigned k = 0; k < 3; k++) {
        memset(raw, 0, px);
        raw[k * C + k] = 255;
        raw[px - 1] = (unsigned char)k;
        assert_int_equal(gzwrite(g, raw, (unsigned)px), (int)px);
    }
    gzclose(g);
    free(raw);
    unsigned char l3[11] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9};
    write_bytes(lp, l3, sizeof l3);
    assert_int_equal(xb_dataset_read_idx(ip, lp, 0, &d, &err), XB_OK);
    assert_int_equal(d->n, 3);
    assert_int_equal(d->rows, R);
    assert_int_equal(d->cols, C);
    for (unsigned k = 0; k < 3; k++) {
        const float *im = d->images + k * px;
        assert_true(im[k * C + k] == 1.0f);
        assert_true(im[px - 1] == (float)k / 255.0f);
        assert_true(im[(k + 1) * C + k] == 0.0f);
        assert_int_equal(d->labels[k], 7 + k);
    }
    xb_dataset_free(d);
}

/* fuzz_campaign found nothing; its invariants on a tricky accepted input stay checked:
 * every point of an accepted campaign has an array passing xb_array_params_check. */
static void test_campaign_points_valid(void **state)
{
    (void)state;
    xb_campaign *c = NULL;
    xb_error err;
    const char *text = "[campaign]\nname = t\n[array]\nsize = 1x1, 2x3\ndevice = linear, rram\n"
                       "r_wire_ohm = 0, 1e-3\n[inputs]\nsamples = 1\nvectors = 1\n";
    assert_int_equal(xb_char_campaign_parse(text, "t.ini", &c, &err), XB_OK);
    assert_int_equal(xb_char_campaign_npoints(c), 8);
    for (size_t k = 0; k < 8; k++)
        assert_int_equal(xb_array_params_check(&xb_char_campaign_point(c, k)->array, &err), XB_OK);
    xb_char_campaign_free(c);
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_format_string_array),
        cmocka_unit_test(test_network_type_string_array),
        cmocka_unit_test(test_huge_declared_extents),
        cmocka_unit_test(test_results_huge_g),
        cmocka_unit_test(test_results_gmin_above_gmax),
        cmocka_unit_test(test_results_negative_currents),
        cmocka_unit_test(test_idx_header_count_not_trusted),
        cmocka_unit_test(test_campaign_points_valid),
    };
    /* the recipe files are removed at exit; the IDX files with the temporary directory */
    return cmocka_run_group_tests(tests, xb_test_group_tmpdir, xb_test_group_tmpdir_remove);
}
