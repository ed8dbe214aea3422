/* The device descriptor table (src/netlist/device_table.c) is complete: every row has a unique
 * name that round-trips, a valid conductance window, a read law whose V0 copies are the
 * defaults in xb_array_params, subcircuits present in its models/ library (the state node
 * inside the dynamic one), dynamic-parameter rows naming its state and window parameters,
 * statistics laws and recipes with usable numbers.  A new device row that forgets a field
 * fails here. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netlist/netlist_internal.h"
#include "xbar/netlist.h"

static void table_fail(const xb_device_info *di, const char *what)
{
    print_error("device '%s': %s\n", di && di->name ? di->name : "?", what);
    fail();
}
#define CHECK(di, cond) \
    do { \
        if (!(cond)) table_fail(di, #cond); \
    } while (0)

static const xb_dyn_param *find_param(const xb_device_info *di, const char *name)
{
    for (size_t k = 0; name && k < di->n_dyn_params; k++)
        if (strcmp(di->dyn_params[k].name, name) == 0) return &di->dyn_params[k];
    return NULL;
}

static void test_names(void **state)
{
    char list[512];
    xb_device_list(list, sizeof list, 0);
    for (int d = 0; d < XB_DEVICE_COUNT; d++) {
        const xb_device_info *di = xb_device_info_get((xb_device_kind)d);
        assert_non_null(di);
        CHECK(di, di->kind == (xb_device_kind)d);
        CHECK(di, di->name && di->name[0] && di->title && di->title[0]);
        for (const char *c = di->name; *c; c++) CHECK(di, (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9'));
        for (int e = 0; e < d; e++) CHECK(di, strcmp(di->name, xb_device_name((xb_device_kind)e)) != 0);
        xb_device_kind k = XB_DEVICE_COUNT;
        CHECK(di, xb_device_from_name(di->name, &k) == XB_OK && k == (xb_device_kind)d);
        char upper[64];
        size_t n = strlen(di->name);
        for (size_t c = 0; c <= n; c++) upper[c] = (char)(di->name[c] >= 'a' && di->name[c] <= 'z' ? di->name[c] - 32 : di->name[c]);
        CHECK(di, xb_device_from_name_nocase(upper, &k) == XB_OK && k == (xb_device_kind)d);
        CHECK(di, strcmp(xb_device_name((xb_device_kind)d), di->name) == 0);
        CHECK(di, strstr(list, di->name) != NULL);
    }
    xb_device_kind k;
    assert_int_equal(xb_device_from_name("nosuchdevice", &k), XB_EINPUT);
    assert_null(xb_device_info_get(XB_DEVICE_COUNT));
    assert_string_equal(xb_device_name(XB_DEVICE_COUNT), "?");
}

static void test_window_and_read_law(void **state)
{
    for (int d = 0; d < XB_DEVICE_COUNT; d++) {
        const xb_device_info *di = xb_device_info_get((xb_device_kind)d);
        CHECK(di, di->g_min_siemens > 0 && di->g_max_siemens > di->g_min_siemens && di->g_max_siemens < 1);
        xb_array_params p;
        xb_array_params_default(&p, (xb_device_kind)d);
        CHECK(di, p.g_min_siemens == di->g_min_siemens && p.g_max_siemens == di->g_max_siemens);
        p.rows = p.cols = 1;
        xb_error err;
        CHECK(di, xb_array_params_check(&p, &err) == XB_OK);
        const xb_read_law *r = &di->read;
        CHECK(di, r->kind == XB_READ_OHMIC || r->kind == XB_READ_SINH);
        double lo, hi;
        xb_device_v0_knots(&p, &lo, &hi);
        if (r->kind == XB_READ_OHMIC) {
            CHECK(di, xb_device_v0_volt(&p, di->g_max_siemens) == 0 && lo == 0 && hi == 0);
            continue;
        }
        /* the V0 copies are doubles inside xb_array_params, filled with the table's defaults */
        CHECK(di, r->v0_lo_field == XB_V0_TABLE ||
                      (r->v0_lo_field + sizeof(double) <= sizeof(xb_array_params) && r->v0_lo_field % sizeof(double) == 0));
        CHECK(di, r->v0_hi_field == XB_V0_TABLE ||
                      (r->v0_hi_field + sizeof(double) <= sizeof(xb_array_params) && r->v0_hi_field % sizeof(double) == 0));
        CHECK(di, r->v0_lo_volt > 0 && r->v0_hi_volt > 0);
        CHECK(di, lo == r->v0_lo_volt);
        CHECK(di, xb_device_v0_volt(&p, di->g_min_siemens) == r->v0_lo_volt);
        if (r->v0_rule == XB_V0_CONSTANT) {
            CHECK(di, hi == lo && r->v0_hi_volt == r->v0_lo_volt);
            CHECK(di, xb_device_v0_volt(&p, 0.5 * (di->g_min_siemens + di->g_max_siemens)) == lo);
        } else {
            CHECK(di, r->v0_rule == XB_V0_LINEAR_IN_G && hi == r->v0_hi_volt);
            CHECK(di, fabs(xb_device_v0_volt(&p, di->g_max_siemens) - r->v0_hi_volt) <= 1e-15 * r->v0_hi_volt);
        }
        /* a sinh device is its read subcircuit in decks */
        CHECK(di, di->lib && di->read_subckt);
        /* the read law through the C twin: G is the chord conductance at v_read */
        double i;
        xb_device_read_iv(&p, 1e-5, p.v_read_volt, &i, NULL);
        CHECK(di, fabs(i - 1e-5 * p.v_read_volt) <= 1e-12 * i);
    }
}

/* The subcircuits the table names exist in the library it names; the dynamic one holds the
 * state node and takes exactly the table's dynamic parameters. */
static void test_subcircuits(void **state)
{
    int dynamic = 0;
    for (int d = 0; d < XB_DEVICE_COUNT; d++) {
        const xb_device_info *di = xb_device_info_get((xb_device_kind)d);
        xb_error err;
        char *text = NULL;
        CHECK(di, !di->read_subckt || di->lib);
        CHECK(di, !di->dyn_subckt || di->lib);
        if (di->read_subckt) {
            CHECK(di, xb_netlist_model_lib((xb_device_kind)d) == di->lib);
            if (xb_netlist_model_text(di->lib, di->read_subckt, &text, &err)) table_fail(di, err.msg);
            free(text);
        }
        if (!di->dyn_subckt) {
            CHECK(di, di->n_dyn_params == 0 && !di->state_param && !di->dyn_gated);
            continue;
        }
        dynamic++;
        CHECK(di, strcmp(xb_netlist_dyn_subckt((xb_device_kind)d), di->dyn_subckt) == 0);
        if (xb_netlist_model_text(di->lib, di->dyn_subckt, &text, &err)) table_fail(di, err.msg);
        char node[64];
        snprintf(node, sizeof node, "v(%s)", di->state_node);
        CHECK(di, di->state_node && strstr(text, node) != NULL);
        for (size_t k = 0; k < di->n_dyn_params; k++) {
            const xb_dyn_param *q = &di->dyn_params[k];
            char key[64];
            snprintf(key, sizeof key, " %s=", q->name);
            CHECK(di, q->device == (xb_device_kind)d && strstr(text, key) != NULL);
            CHECK(di, isfinite(q->value) && q->d2d_sigma >= 0 && q->d2d_sigma < 1 && q->note && q->note[0]);
            for (size_t m = 0; m < k; m++) CHECK(di, strcmp(q->name, di->dyn_params[m].name) != 0);
        }
        free(text);
        CHECK(di, find_param(di, di->state_param) != NULL);
        CHECK(di, di->state_label && di->state_label[0]);
        for (int w = 0; w < 2; w++) CHECK(di, !di->window_params[w] || find_param(di, di->window_params[w]));
        /* the instance list carries every parameter once */
        xb_array_params p;
        xb_array_params_default(&p, (xb_device_kind)d);
        char *inst = NULL;
        CHECK(di, xb_netlist_dyn_instance(&p, 0, NULL, &inst, &err) == XB_OK);
        for (size_t k = 0; k < di->n_dyn_params; k++) {
            char key[64];
            snprintf(key, sizeof key, "%s=", di->dyn_params[k].name);
            CHECK(di, strstr(inst, key) != NULL);
        }
        free(inst);
    }
    assert_true(dynamic >= 3);
}

static void test_laws_and_recipes(void **state)
{
    for (int d = 0; d < XB_DEVICE_COUNT; d++) {
        const xb_device_info *di = xb_device_info_get((xb_device_kind)d);
        xb_array_params p;
        xb_array_params_default(&p, (xb_device_kind)d);
        /* sigma(G) >= 0 and finite over the window, positive somewhere */
        const xb_sigma_law *s = &di->sigma_program;
        CHECK(di, s->kind == XB_SIGMA_POLY_HORNER || s->kind == XB_SIGMA_POLY_SUM || s->kind == XB_SIGMA_RANGE_FRACTION);
        if (s->kind == XB_SIGMA_RANGE_FRACTION) CHECK(di, s->range_fraction > 0);
        else CHECK(di, s->degree <= 4 && s->g_ref_siemens > 0);
        double smax = 0;
        for (int k = 0; k <= 20; k++) {
            double g = p.g_min_siemens + (p.g_max_siemens - p.g_min_siemens) * k / 20.0;
            double sg = xb_netlist_sigma_program(&p, g);
            CHECK(di, sg >= 0 && isfinite(sg));
            smax = fmax(smax, sg);
        }
        CHECK(di, smax > 0 && smax < p.g_max_siemens);
        /* drift and read noise */
        const xb_drift_law *dr = &di->drift;
        CHECK(di, dr->kind == XB_DRIFT_NONE || dr->kind == XB_DRIFT_POWER_LAW || dr->kind == XB_DRIFT_LOG_DECAY);
        if (dr->kind == XB_DRIFT_POWER_LAW)
            CHECK(di, dr->nu_mean[2] <= dr->nu_mean[3] && dr->nu_sigma[2] <= dr->nu_sigma[3] && dr->nu_mean[3] > 0);
        if (dr->kind == XB_DRIFT_LOG_DECAY) CHECK(di, dr->spread_siemens_per_ln >= 0);
        const xb_read_noise_law *rn = &di->read_noise;
        if (rn->kind == XB_READ_NOISE_FLICKER) CHECK(di, rn->qs_coef > 0 && rn->qs_max > 0 && rn->t_read_s > 0);
        else if (rn->kind == XB_READ_NOISE_RELATIVE) CHECK(di, rn->rel > 0 && rn->rel < 1);
        else CHECK(di, rn->kind == XB_READ_NOISE_NONE);
        double rs = xb_netlist_read_noise_sigma(&p, 1e-5, 1e-5, 3600);
        CHECK(di, rs >= 0 && isfinite(rs) && (rs > 0) == (rn->kind != XB_READ_NOISE_NONE));
        if (!di->dyn_subckt) continue;
        /* the programming recipe and the iv recipe */
        const xb_program_recipe *pr = &di->program;
        CHECK(di, pr->up_volt != 0 && pr->down_volt != 0 && pr->width_s > 0 && pr->edge_s > 0 && pr->series_ohm >= 0);
        CHECK(di, !pr->gate_pulsed || di->dyn_gated);
        const xb_iv_recipe *iv = &di->iv;
        CHECK(di, iv->t_step_s > 0);
        if (iv->kind == XB_IV_SWEEP) {
            CHECK(di, iv->v_max_volt > 0 && iv->sweep_t_s[0] > 0 && iv->t_stop_s >= iv->sweep_t_s[3]);
            for (int k = 1; k < 4; k++) CHECK(di, iv->sweep_t_s[k] > iv->sweep_t_s[k - 1]);
        } else if (iv->kind == XB_IV_PWL) {
            CHECK(di, iv->pwl_spice && iv->pwl_spice[0] && iv->load_ohm > 0 && iv->t_stop_s > iv->t_step_s);
        } else {
            CHECK(di, iv->kind == XB_IV_GATE_PULSES && di->dyn_gated);
            CHECK(di, iv->pulse_volt != 0 && iv->pulse_width_s > 0 && iv->pulse_period_s > iv->pulse_width_s + 2 * iv->pulse_edge_s);
        }
        CHECK(di, !iv->extra_node || (iv->extra_label && iv->extra_label[0]));
        /* the test decks build (with .include lines: no file read) */
        p.include_models = 1;
        xb_netlist_deck deck;
        xb_error err;
        CHECK(di, xb_netlist_iv_dynamic_deck(&p, 0, 3, &deck, &err) == XB_OK);
        CHECK(di, deck.n_vectors >= 4 && strstr(deck.text, di->dyn_subckt) != NULL);
        xb_netlist_deck_free(&deck);
        CHECK(di, xb_netlist_iv_read_deck(&p, 3, 0.5, 11, &deck, &err) == XB_OK && deck.n_vectors == 4);
        xb_netlist_deck_free(&deck);
        double pwl[4] = {0, 0, 1e-9, 0.1};
        xb_netlist *n;
        CHECK(di, xb_netlist_program_new(&p, pwl, 2, &n, &err) == XB_OK && xb_netlist_n_outputs(n) == 1);
        xb_netlist_free(n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_window_and_read_law),
        cmocka_unit_test(test_subcircuits),
        cmocka_unit_test(test_laws_and_recipes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
