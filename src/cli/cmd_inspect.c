/* xbar inspect: summarise any xbar HDF5 file (results, model, network) or, failing a known
 * format, list its tree with shapes and units. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "xbar/characterize.h"
#include "xbar/exec.h"
#include "xbar/fit.h"
#include "xbar/h5.h"

typedef struct {
    hid_t f;
    size_t count;
} tree_walk;

static const char k_help[] =
    "usage: xbar inspect FILE.h5 [--tree]\n"
    "\n"
    "Summarise an xbar HDF5 file: the format and version attributes and provenance; for a\n"
    "results file (xbar characterize) one line per point; for a model file (xbar fit) one line\n"
    "per model with its fitted parameters and goodness of fit; for a network file its layers.\n"
    "Files of another format get the object tree.\n"
    "\n"
    "options:\n"
    "  --tree       also list every group and dataset (shape, units)\n"
    "  -h, --help   this text\n";

/* Root attributes of any HDF5 file (format, version, provenance): not a schema of its own. */
static char *sattr(hid_t loc, const char *name)
{
    char *s = NULL;
    if (xb_h5_attr_exists(loc, ".", name) && xb_h5_attr_get_string(loc, ".", name, &s, NULL) == XB_OK) return s;
    return NULL;
}

static int dattr(hid_t loc, const char *name, double *v)
{
    if (!xb_h5_attr_exists(loc, ".", name)) return 0;
    return xb_h5_attr_get_double(loc, ".", name, v, NULL) == XB_OK;
}

static int tree_cb(void *user, const char *name, int is_group, const xb_h5_info *info)
{
    tree_walk *t = user;
    if (++t->count > 400) {
        printf("  ... (more objects)\n");
        return 1;
    }
    if (is_group) {
        printf("  /%s/\n", strcmp(name, ".") == 0 ? "" : name);
        return 0;
    }
    char shape[128] = "scalar";
    size_t o = 0;
    for (int k = 0; k < info->rank && o < sizeof shape; k++)
        o += (size_t)snprintf(shape + o, sizeof shape - o, "%s%llu", k ? "x" : "", (unsigned long long)info->dims[k]);
    char units[64] = "";
    xb_h5_read_units(t->f, name, units, sizeof units, NULL);
    printf("  /%s  [%s]%s%s\n", name, shape, units[0] ? "  units=" : "", units);
    return 0;
}

static void print_provenance(hid_t f)
{
    const char *keys[] = {"xbar_version", "ngspice_version", "created_utc", "created", "date", "campaign",
                          "campaign_name", "source_file"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        char *s = sattr(f, keys[k]);
        if (s) printf("%s: %s\n", keys[k], s);
        free(s);
    }
}

/* Results file (xb_char_results_*, the characterize stage's reader): one line per point. */
static int inspect_results(const char *path)
{
    xb_char_results *res = NULL;
    xb_error err;
    if (xb_char_results_open(path, &res, &err)) return xb_cli_fail("inspect", &err);
    const size_t n = xb_char_results_npoints(res);
    printf("points: %zu\n", n);
    printf("# %-8s %-7s %-6s %-5s %9s %7s %11s  %s\n", "point", "status", "device", "cell", "size", "r_wire",
           "mvm_err", "key");
    int rc = 0;
    for (size_t k = 0; k < n && !rc; k++) {
        xb_char_result_point pt;
        if (xb_char_results_point(res, k, &pt, &err)) {
            rc = xb_cli_fail("inspect", &err);
            break;
        }
        char size[64];
        snprintf(size, sizeof size, "%.0fx%.0f", isnan(pt.rows) ? 0 : pt.rows, isnan(pt.cols) ? 0 : pt.cols);
        /* a point without status is one being written: "ok" once its mvm/ is there */
        const char *st = pt.status[0] ? pt.status : pt.has_mvm ? "ok" : "-";
        printf("  %-8s %-7s %-6s %-5s %9s %7.3g %11.3e  %s\n", pt.name, st, pt.device[0] ? pt.device : "-",
               pt.cell[0] ? pt.cell : "-", size, pt.r_wire_row_ohm, pt.mvm.err_total_mean, pt.key);
    }
    xb_char_results_close(res);
    return rc;
}

/* One line of held-out errors by input distribution: model/ideal per distribution. */
static void print_inputs(const char *what, const double *rel, const double *ideal)
{
    printf("      %s:", what);
    for (int q = 0; q < XB_FIT_N_INPUTS; q++) printf(" %s %.2e/%.2e", xb_fit_input_name(q), rel[q], ideal[q]);
    printf("\n");
}

/* Model file (the fit stage's reader): one line per model, then the other sections. */
static int inspect_model(const char *path)
{
    xb_fit_params *ms = NULL;
    xb_fit_metrics *mt = NULL;
    xb_fit_section *sec = NULL;
    size_t n = 0, ns = 0;
    xb_error err;
    if (xb_fit_file_read(path, &ms, &mt, &n, &err)) return xb_cli_fail("inspect", &err);
    printf("models: %zu\n", n);
    printf("# %-3s %-6s %-5s %9s %7s %6s %8s %8s %8s %8s %-22s %10s %10s %10s\n", "id", "device", "cell", "size",
           "r_wire", "sweeps", "r_row", "r_col", "r_drv", "r_series", "V0 knots (V)", "heldout", "ideal", "gain");
    for (size_t k = 0; k < n; k++) {
        const xb_fit_params *m = &ms[k];
        char size[32], knots[96] = "-";
        snprintf(size, sizeof size, "%zux%zu", m->config.rows, m->config.cols);
        size_t o = 0;
        for (size_t q = 0; q < m->n_knots && o < sizeof knots - 12; q++)
            o += (size_t)snprintf(knots + o, sizeof knots - o, "%s%.3g", q ? "," : "", m->knot_v0_volt[q]);
        printf("  %03zu %-6s %-5s %9s %7.3g %6d %8.4g %8.4g %8.4g %8.4g %-22s %10.3e %10.3e %10.6f\n", k,
               xb_device_name(m->config.device), xb_cell_name(m->config.cell), size,
               0.5 * (m->config.r_wire_row_ohm + m->config.r_wire_col_ohm), m->n_sweeps, m->r_row_ohm, m->r_col_ohm,
               m->r_driver_ohm, m->r_series_ohm, knots, mt[k].heldout_rel_l2, mt[k].heldout_ideal_rel_l2, m->gain);
        printf("      envelope: G %.4g..%.4g S, V %.4g..%.4g V; %zu train / %zu held-out vectors\n",
               m->valid_g_min_siemens, m->valid_g_max_siemens, m->valid_v_min_volt, m->valid_v_max_volt,
               mt[k].n_train_vectors, mt[k].n_heldout_vectors);
        if (mt[k].has_inputs) print_inputs("held-out by input", mt[k].input_rel_l2, mt[k].input_ideal_rel_l2);
    }
    free(ms);
    free(mt);
    xb_fit_config_error *ce = NULL;
    size_t nc = 0;
    if (xb_fit_file_config_errors(path, &ce, &nc, &err)) return xb_cli_fail("inspect", &err);
    if (nc) printf("unfitted configurations (rel-L2 vs the native engine; chosen model/ideal, then the family):\n");
    for (size_t k = 0; k < nc; k++) {
        char what[96];
        snprintf(what, sizeof what, "%s/%s %zux%zu r_wire %g", xb_device_name(ce[k].device), xb_cell_name(ce[k].cell),
                 ce[k].rows, ce[k].cols, ce[k].r_wire_ohm);
        print_inputs(what, ce[k].rel_l2, ce[k].ideal_rel_l2);
        printf("        family:");
        for (int q = 0; q < XB_FIT_N_INPUTS; q++) printf(" %s %.2e", xb_fit_input_name(q), ce[k].family_rel_l2[q]);
        printf("\n");
    }
    free(ce);
    if (xb_fit_file_sections(path, &sec, &ns, &err)) return xb_cli_fail("inspect", &err);
    for (size_t k = 0; k < ns; k++) {
        printf("/%s:", sec[k].name);
        for (size_t q = 0; q < sec[k].n_members; q++) printf(" %s", sec[k].members[q]);
        printf("\n");
    }
    xb_fit_sections_free(sec, ns);
    return 0;
}

/* Pulse-update models (/update/<device>): one line per device.  Kept apart from
 * inspect_model: a model file may hold update models only. */
static void update_grid_stats(const xb_update_model *m, int dir, double *mean_abs, double *d2d_rel, double *c2c_rel)
{
    double sa = 0, sc = 0, s2 = 0;
    enum { N = 65 };
    for (int k = 0; k < N; k++) {
        const double g = m->g_min_siemens + (m->g_max_siemens - m->g_min_siemens) * k / (N - 1);
        const double dg = xb_fit_update_step(m, g, dir), sg = xb_fit_update_sigma(m, g, dir);
        sa += fabs(dg);
        s2 += dg * dg;
        sc += sg * sg;
    }
    *mean_abs = sa / N;
    /* the spread of the devices' step scales that `xbar train --analog` draws */
    *d2d_rel = xb_analog_d2d_step_spread(m, dir);
    *c2c_rel = s2 > 0 ? sqrt(sc / s2) : 0;
}

static int inspect_update(const char *path)
{
    xb_update_model *ms = NULL;
    size_t n = 0;
    xb_error err;
    if (xb_fit_update_read_all(path, &ms, &n, &err)) return xb_cli_fail("inspect", &err);
    if (n) {
        printf("update models: %zu (mean step of one pulse over the window; c2c: rms of the sigma training draws, "
               "with its state factor, over the window relative to it; d2d: spread of the devices' step scales, as "
               "training draws it)\n", n);
        printf("# %-6s %-10s %-21s %-34s %7s %13s %13s %-19s %s\n", "device", "law", "window (S)", "law parameters",
               "dn/up", "c2c up/down", "d2d up/down", "energy up/down (J)", "held-out rms/max");
    }
    for (size_t k = 0; k < n; k++) {
        const xb_update_model *m = &ms[k];
        char par[128];
        if (m->law == XB_UPDATE_EXP)
            snprintf(par, sizeof par, "a %.3g/%.3g S b %.3g/%.3g", m->up[0], m->down[0], m->up[1], m->down[1]);
        else
            snprintf(par, sizeof par, "up %+.3g..%+.3g dn %+.3g..%+.3g S", m->up[0], m->up[m->n_params - 1],
                     m->down[0], m->down[m->n_params - 1]);
        double au, ad, du, dd, cu, cd;
        update_grid_stats(m, 1, &au, &du, &cu);
        update_grid_stats(m, -1, &ad, &dd, &cd);
        char win[48], c2c[32], d2d[32], en[48], ho[32];
        snprintf(win, sizeof win, "%.3g..%.3g", m->g_min_siemens, m->g_max_siemens);
        snprintf(c2c, sizeof c2c, "%.0f%%/%.0f%%", 100 * cu, 100 * cd);
        snprintf(d2d, sizeof d2d, "%.0f%%/%.0f%%", 100 * du, 100 * dd);
        snprintf(en, sizeof en, "%.3g/%.3g", m->energy_up_joule, m->energy_down_joule);
        snprintf(ho, sizeof ho, "%.2f%%/%.2f%%", 100 * m->heldout_traj_rel[m->law], 100 * m->heldout_traj_max_rel);
        printf("  %-6s %-10s %-21s %-34s %7.3g %13s %13s %-19s %s\n", xb_device_name(m->device),
               xb_update_law_name(m->law), win, par, au > 0 ? ad / au : INFINITY, c2c, d2d, en, ho);
    }
    xb_fit_update_free_all(ms, n);
    return 0;
}

static size_t model_count(hid_t f)
{
    char **names = NULL;
    size_t n = 0;
    if (!xb_h5_exists(f, "models") || xb_h5_list(f, "models", &names, &n, NULL) != XB_OK) return 0;
    xb_h5_free_names(names, n);
    return n;
}

/* Network file (the exec stage's reader): its layers and their weight shapes. */
static int inspect_network(const char *path)
{
    xb_network *net = NULL;
    xb_error err;
    if (xb_network_read(path, &net, &err)) return xb_cli_fail("inspect", &err);
    const size_t n = xb_network_n_layers(net);
    printf("layers: %zu\n", n);
    for (size_t k = 0; k < n; k++) {
        const xb_layer *l = xb_network_layer(net, k);
        printf("  %-4zu %-10s", k, xb_layer_kind_name(l->kind));
        if (l->bias) printf(" bias[%zu]", l->n_out);
        if (l->kind == XB_LAYER_DENSE) printf(" weight[%zux%zu]", l->n_out, l->n_in);
        if (l->kind == XB_LAYER_CONV2D) printf(" weight[%zux%zux%zux%zu]", l->out_c, l->in_c, l->kh, l->kw);
        if (l->kind == XB_LAYER_AFFINE) printf(" weight[%zu]", l->n_out);
        if (l->kind == XB_LAYER_ADD) printf(" source %ld", l->source);
        printf("\n");
    }
    xb_network_free(net);
    return 0;
}

int xb_cmd_inspect(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        fputs(k_help, stdout);
        return 0;
    }
    const char *path = NULL;
    int tree = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tree") == 0) tree = 1;
        else if (argv[i][0] == '-' && argv[i][1]) return xb_cli_usage_error("inspect", "unknown option '%s'", argv[i]);
        else if (!path) path = argv[i];
        else return xb_cli_usage_error("inspect", "unexpected argument '%s' (one file)", argv[i]);
    }
    if (!path) return xb_cli_usage_error("inspect", "missing FILE.h5");
    xb_error err;
    hid_t f;
    if (xb_h5_open(path, 0, &f, &err)) return xb_cli_fail("inspect", &err);
    char *fmt = sattr(f, "format");
    double ver = NAN;
    if (!dattr(f, "version", &ver)) dattr(f, "format_version", &ver);
    printf("file: %s\nformat: %s", path, fmt ? fmt : "(none: not an xbar file)");
    if (!isnan(ver)) printf(" version %.0f", ver);
    printf("\n");
    print_provenance(f);
    int rc = 0;
    if (fmt && strcmp(fmt, XB_FIT_FORMAT) == 0) {
        /* a file of update models only has an empty /models */
        if (!xb_h5_exists(f, "update") || model_count(f) > 0) rc = inspect_model(path);
        if (rc == 0 && xb_h5_exists(f, "update")) rc = inspect_update(path);
    }
    else if (fmt && strcmp(fmt, XB_CHAR_FORMAT) == 0) rc = inspect_results(path);
    else if (fmt && strcmp(fmt, XB_NETWORK_FORMAT) == 0) rc = inspect_network(path);
    else tree = 1;
    if (tree && rc == 0) {
        tree_walk t = {f, 0};
        printf("tree:\n");
        if (xb_h5_visit(f, tree_cb, &t, &err)) rc = xb_cli_fail("inspect", &err);
    }
    free(fmt);
    xb_h5_close(f, NULL);
    return rc;
}
