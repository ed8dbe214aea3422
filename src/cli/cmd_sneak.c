/* xbar sneak: single-cell read with floating, V/2 or V/3 biasing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "xbar/engine.h"

static const char k_help_head[] =
    "usage: xbar sneak [array options] --cell-at I,J --scheme float|v2|v3 [--g G.csv] [--engine spice|native]\n"
    "\n"
    "Reads cell (I,J) (counted from 0: row I, column J) at --v-read with the unselected lines\n"
    "floating (float), held at V/2 (v2), or rows at V/3 and columns at 2V/3 (v3); ngspice (or the\n"
    "native engine) solves each circuit.  Without --g every cell is at g_max (worst-case sneak paths) and --rows/--cols\n"
    "are required.  Prints (name=value, SI units):\n"
    "  read_current_amp    current into the selected column's sense node\n"
    "  cell_current_amp    the selected cell alone (1x1 array, same periphery)\n"
    "  sneak_current_amp   read - cell\n"
    "  read_on_amp, read_off_amp   read current with the selected cell at g_max / g_min\n"
    "  margin              (read_on - read_off) / read_on\n"
    "\n"
    "options:\n"
    "  --cell-at I,J          selected cell (required)\n"
    "  --scheme S             float | v2 | v3 (required)\n"
    "  --g G.csv              conductances (default: all g_max)\n"
    "  --engine E             spice (default): ngspice; native: exact nodal analysis with\n"
    "                         SuiteSparse, the same circuits (docs/native.md), for large arrays\n"
    "  --timeout S            ngspice job time limit in seconds\n"
    "\n";

int xb_cmd_sneak(int argc, char **argv)
{
    xb_array_params p;
    xb_error err;
    if (xb_cli_array_command(argc, argv, k_help_head, &p, &err)) return 0;
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    const char *gpath = NULL, *cell_at = NULL, *scheme_s = NULL, *engine = "spice";
    for (int i = 1; i < argc; i++) {
        int r = xb_cli_array_option(argc, argv, &i, &p, &err);
        if (r < 0) return xb_cli_fail("sneak", &err);
        if (r > 0) continue;
        const char *a = argv[i];
        const char *flag = xb_cli_is_flag(a, "--g") ? "--g" : xb_cli_is_flag(a, "--cell-at") ? "--cell-at"
                           : xb_cli_is_flag(a, "--scheme") ? "--scheme" : xb_cli_is_flag(a, "--timeout") ? "--timeout"
                           : xb_cli_is_flag(a, "--engine") ? "--engine" : NULL;
        if (!flag) return xb_cli_usage_error("sneak", "unknown option '%s'", a);
        const char *v = xb_cli_flag_value(argc, argv, &i, flag, &err);
        if (!v) return xb_cli_fail("sneak", &err);
        if (flag[2] == 'g') gpath = v;
        else if (flag[2] == 'c') cell_at = v;
        else if (flag[2] == 's') scheme_s = v;
        else if (flag[2] == 'e') engine = v;
        else if (xb_parse_double(v, "--timeout", &eo.timeout_s, &err) || !(eo.timeout_s > 0))
            return xb_cli_usage_error("sneak", "--timeout: expected a positive number of seconds, got '%s'", v);
    }
    if (strcmp(engine, "spice") != 0 && strcmp(engine, "native") != 0)
        return xb_cli_usage_error("sneak", "--engine: unknown engine '%s' (spice, native)", engine);
    if (!cell_at) return xb_cli_usage_error("sneak", "--cell-at: missing (I,J)");
    if (!scheme_s) return xb_cli_usage_error("sneak", "--scheme: missing (float, v2, v3)");
    xb_read_scheme scheme;
    if (xb_read_scheme_from_name(scheme_s, &scheme) || scheme == XB_READ_MVM)
        return xb_cli_usage_error("sneak", "--scheme: unknown scheme '%s' (float, v2, v3)", scheme_s);
    size_t ci, cj;
    {
        char buf[64];
        const char *comma = strchr(cell_at, ',');
        if (!comma || (size_t)(comma - cell_at) >= sizeof buf)
            return xb_cli_usage_error("sneak", "--cell-at: expected I,J, got '%s'", cell_at);
        memcpy(buf, cell_at, (size_t)(comma - cell_at));
        buf[comma - cell_at] = 0;
        if (xb_parse_size(buf, "--cell-at", &ci, &err) || xb_parse_size(comma + 1, "--cell-at", &cj, &err))
            return xb_cli_usage_error("sneak", "--cell-at: expected I,J (non-negative integers), got '%s'", cell_at);
    }
    xb_matrix *g = NULL;
    int rc = XB_OK;
    if (gpath) {
        rc = xb_cli_read_gv(gpath, NULL, &p, &g, NULL, &err);
    } else {
        if (!p.rows || !p.cols) return xb_cli_usage_error("sneak", "--rows/--cols: required without --g");
        g = xb_matrix_new(p.rows, p.cols);
        if (!g) rc = xb_errorf(&err, XB_ERUNTIME, "out of memory");
        for (size_t k = 0; !rc && k < p.rows * p.cols; k++) g->data[k] = p.g_max_siemens;
    }
    if (!rc) rc = xb_array_params_check(&p, &err);
    if (!rc && (ci >= p.rows || cj >= p.cols))
        rc = xb_errorf(&err, XB_EINPUT, "--cell-at: cell %zu,%zu is outside the %zux%zu array", ci, cj, p.rows,
                       p.cols);
    if (!rc) rc = xb_netlist_program(&p, g, g, &err);
    xb_engine *eng = NULL;
    if (!rc) {
        xb_engine_config ec;
        xb_engine_config_default(&ec);
        ec.opts = &eo;
        rc = xb_engine_new_by_name(xb_engine_builtins, engine, &ec, &eng, &err);
    }
    double i_read = 0, i_on = 0, i_off = 0, i_cell = 0;
    if (!rc) rc = xb_engine_cell_read_once(eng, &p, g, scheme, ci, cj, &i_read, &err);
    double keep = rc ? 0 : g->data[ci * p.cols + cj];
    if (!rc) {
        g->data[ci * p.cols + cj] = p.g_max_siemens;
        rc = xb_engine_cell_read_once(eng, &p, g, scheme, ci, cj, &i_on, &err);
    }
    if (!rc) {
        g->data[ci * p.cols + cj] = p.g_min_siemens;
        rc = xb_engine_cell_read_once(eng, &p, g, scheme, ci, cj, &i_off, &err);
    }
    if (!rc) {
        xb_array_params p1 = p;
        p1.rows = p1.cols = 1;
        p1.diff_pairs = 0;
        xb_matrix *g1 = xb_matrix_new(1, 1);
        if (!g1) rc = xb_errorf(&err, XB_ERUNTIME, "out of memory");
        else {
            g1->data[0] = keep;
            rc = xb_engine_cell_read_once(eng, &p1, g1, XB_READ_FLOAT, 0, 0, &i_cell, &err);
            xb_matrix_free(g1);
        }
    }
    xb_engine_free(eng);
    xb_matrix_free(g);
    if (rc) return xb_cli_fail("sneak", &err);
    printf("cell=%zu,%zu\nscheme=%s\nv_read_volt=%.17g\n", ci, cj, xb_read_scheme_name(scheme), p.v_read_volt);
    printf("read_current_amp=%.17g\ncell_current_amp=%.17g\nsneak_current_amp=%.17g\n", i_read, i_cell,
           i_read - i_cell);
    printf("read_on_amp=%.17g\nread_off_amp=%.17g\nmargin=%.17g\n", i_on, i_off,
           i_on != 0 ? (i_on - i_off) / i_on : 0.0);
    return 0;
}
