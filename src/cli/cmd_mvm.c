/* xbar mvm: matrix-vector multiply on a crossbar (CSV contract: docs/cli.md). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "xbar/engine.h"
#include "xbar/fit.h"

static const char k_help_head[] =
    "usage: xbar mvm [array options] --g G.csv --v V.csv [--engine spice|ideal|native|model] [-o I.csv]\n"
    "\n"
    "Multiplies K input vectors by the crossbar's conductance matrix.\n"
    "  G.csv: rows lines of cols comma-separated conductances in siemens (line i = word line i);\n"
    "  V.csv: K lines of rows comma-separated input voltages (one vector per line);\n"
    "  output (stdout or -o): K lines of cols currents in amperes, flowing from each column\n"
    "  into its sense node (with --diff: cols/2 differences I(2k) - I(2k+1)).\n"
    "\n"
    "options:\n"
    "  --engine E             ideal: exact Ohm + Kirchhoff product I = V.G;\n"
    "                         spice: ngspice solves the circuit, one analysis for all K;\n"
    "                         native: exact nodal analysis with SuiteSparse (docs/engine.md);\n"
    "                         model: a fitted behavioural model (--model FILE, docs/fit.md) [spice]\n"
    "  --model FILE           model file for --engine model\n"
    "  --strict               --engine model: fail on extrapolation or inputs outside the\n"
    "                         model's envelope (device window, 0..v_read)\n"
    "  -o FILE                write the currents to FILE instead of stdout\n"
    "  --timeout S            ngspice job time limit in seconds                           [600]\n"
    "  --verbose              echo the ngspice log to stderr\n"
    "  --rows/--cols default to the shape of G.csv.  Variability switches apply to G before\n"
    "  either engine.\n"
    "\n";

/* --engine model: one line when the model is not one fitted for this circuit (the family:
 * interpolation, or a warning for extrapolation) and a warning when the inputs leave the
 * model's envelope; strict: both warnings are errors. */
static int model_checks(const xb_engine *e, const char *model_path, int strict, const xb_array_params *p,
                        const xb_matrix *g, const xb_matrix *v, xb_error *err)
{
    xb_fit_engine_info info;
    int rc = xb_fit_engine_get_info(e, &info, err);
    if (rc) return rc;
    const xb_fit_choice *c = &info.choice;
    if (c->extrapolation && strict)
        return xb_errorf(err, XB_EINPUT, "%s: %s (--strict refuses extrapolation)", model_path, c->line);
    if (c->kind != XB_FIT_CHOICE_FITTED)
        fprintf(stderr, "xbar mvm: %s%s: %s\n", c->extrapolation ? "warning: " : "model: ", model_path, c->line);
    char msg[512];
    if (xb_fit_validity(info.model, p, g, v, msg, sizeof msg)) {
        if (strict) return xb_errorf(err, XB_EINPUT, "%s: outside the model's validity range: %s", model_path, msg);
        fprintf(stderr, "xbar mvm: warning: outside the model's validity range (use --strict to fail): %s\n", msg);
    }
    return XB_OK;
}

/* The currents of v on g (programmed) through the engine chosen by --engine. */
static int engine_mvm(const xb_engine_class *cls, const xb_engine_opts *eo, const char *model_path, int strict,
                      const xb_array_params *p, const xb_matrix *g, const xb_matrix *v, xb_matrix *i_out,
                      xb_error *err)
{
    xb_engine_config cfg;
    xb_engine_config_default(&cfg);
    cfg.opts = eo;
    cfg.array = p;
    cfg.file = model_path;
    cfg.exact = 1; /* the model: its full form per vector */
    xb_engine *e = NULL;
    int rc = xb_engine_new(cls, &cfg, &e, err);
    if (!rc && cls == &xb_fit_engine_class_model) rc = model_checks(e, model_path, strict, p, g, v, err);
    if (!rc) rc = xb_engine_mvm_once(e, p, g, v, i_out, err);
    xb_engine_free(e);
    return rc;
}

int xb_cmd_mvm(int argc, char **argv)
{
    xb_array_params p;
    xb_error err;
    if (xb_cli_array_command(argc, argv, k_help_head, &p, &err)) return 0;
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    const char *gpath = NULL, *vpath = NULL, *opath = NULL, *engine = "spice", *model = NULL;
    int strict = 0;
    for (int i = 1; i < argc; i++) {
        int r = xb_cli_array_option(argc, argv, &i, &p, &err);
        if (r < 0) return xb_cli_fail("mvm", &err);
        if (r > 0) continue;
        const char *a = argv[i];
        const char **dst = xb_cli_is_flag(a, "--g") ? &gpath : xb_cli_is_flag(a, "--v") ? &vpath
                           : xb_cli_is_flag(a, "-o") ? &opath : xb_cli_is_flag(a, "--engine") ? &engine
                           : xb_cli_is_flag(a, "--model") ? &model : NULL;
        if (dst) {
            const char *flag = xb_cli_is_flag(a, "--g") ? "--g" : xb_cli_is_flag(a, "--v") ? "--v"
                               : xb_cli_is_flag(a, "-o") ? "-o" : xb_cli_is_flag(a, "--model") ? "--model" : "--engine";
            if (!(*dst = xb_cli_flag_value(argc, argv, &i, flag, &err))) return xb_cli_fail("mvm", &err);
            continue;
        }
        if (xb_cli_is_flag(a, "--timeout")) {
            const char *v = xb_cli_flag_value(argc, argv, &i, "--timeout", &err);
            if (!v || xb_parse_double(v, "--timeout", &eo.timeout_s, &err)) return xb_cli_fail("mvm", &err);
            if (!(eo.timeout_s > 0)) return xb_cli_usage_error("mvm", "--timeout: must be > 0");
            continue;
        }
        if (strcmp(a, "--verbose") == 0) { eo.verbose = 1; continue; }
        if (strcmp(a, "--strict") == 0) { strict = 1; continue; }
        return xb_cli_usage_error("mvm", "unknown option '%s'", a);
    }
    const xb_engine_class *cls = NULL;
    if (xb_engine_class_find(xb_fit_engines, engine, &cls, &err)) return xb_cli_usage_error("mvm", "--engine: %s", err.msg);
    if (cls == &xb_fit_engine_class_model && !model)
        return xb_cli_usage_error("mvm", "--model: --engine model needs a model file");
    if (!gpath) return xb_cli_usage_error("mvm", "--g: missing conductance file (G.csv)");
    if (!vpath) return xb_cli_usage_error("mvm", "--v: missing input voltage file (V.csv)");
    xb_matrix *g = NULL, *v = NULL, *iphys = NULL, *idiff = NULL;
    int rc = xb_cli_read_gv(gpath, vpath, &p, &g, &v, &err);
    if (!rc) rc = xb_array_params_check(&p, &err);
    if (!rc && p.diff_pairs && p.cols % 2)
        rc = xb_errorf(&err, XB_EINPUT, "--diff: %s has %zu columns, differential pairs need an even count",
                       gpath, p.cols);
    if (!rc) rc = xb_netlist_program(&p, g, g, &err);
    if (!rc) {
        iphys = xb_matrix_new(v->rows, p.cols);
        if (!iphys) rc = xb_errorf(&err, XB_ERUNTIME, "out of memory");
    }
    if (!rc) rc = engine_mvm(cls, &eo, model, strict, &p, g, v, iphys, &err);
    xb_matrix *result = iphys;
    if (!rc && p.diff_pairs) {
        idiff = xb_matrix_new(v->rows, p.cols / 2);
        if (!idiff) rc = xb_errorf(&err, XB_ERUNTIME, "out of memory");
        else rc = xb_netlist_diff_combine(iphys, idiff, &err);
        result = idiff;
    }
    if (!rc) rc = xb_csv_write_matrix(opath ? opath : "-", result, &err);
    xb_matrix_free(g);
    xb_matrix_free(v);
    xb_matrix_free(iphys);
    xb_matrix_free(idiff);
    return rc ? xb_cli_fail("mvm", &err) : 0;
}
