/* xbar netlist: write the SPICE deck that 'xbar mvm --engine spice' solves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "xbar/engine.h"

static const char k_help_head[] =
    "usage: xbar netlist [array options] --g G.csv --v V.csv -o FILE.cir\n"
    "\n"
    "Writes the netlist that 'xbar mvm --engine spice' solves (same options and files); it\n"
    "runs unchanged in stock 'ngspice -b FILE.cir' and prints the column currents, one line\n"
    "per input vector (docs/engine.md gives the format).  The deck is self-contained (layout:\n"
    "docs/netlist.md): parameters, the device subcircuits copied from models/, the cell\n"
    "subcircuit, then rows, columns and cells; it runs on any machine with ngspice.\n"
    "\n"
    "options:\n"
    "  -o FILE                output deck (required; '-' for stdout)\n"
    "  --include-models       .include the models/ libraries (absolute path of the models directory:\n"
    "                         $XBAR_MODELS_DIR or share/xbar/models) instead of copying them\n"
    "\n";

int xb_cmd_netlist(int argc, char **argv)
{
    xb_array_params p;
    xb_error err;
    if (xb_cli_array_command(argc, argv, k_help_head, &p, &err)) return 0;
    const char *gpath = NULL, *vpath = NULL, *opath = NULL;
    int include_models = 0;
    for (int i = 1; i < argc; i++) {
        int r = xb_cli_array_option(argc, argv, &i, &p, &err);
        if (r < 0) return xb_cli_fail("netlist", &err);
        if (r > 0) continue;
        if (strcmp(argv[i], "--include-models") == 0) {
            include_models = 1;
            continue;
        }
        if (xb_cli_is_flag(argv[i], "--g") || xb_cli_is_flag(argv[i], "--v") || xb_cli_is_flag(argv[i], "-o")) {
            const char *flag = argv[i][1] == 'o' ? "-o" : (argv[i][2] == 'g' ? "--g" : "--v");
            const char *val = xb_cli_flag_value(argc, argv, &i, flag, &err);
            if (!val) return xb_cli_fail("netlist", &err);
            if (flag[1] == 'o') opath = val; else if (flag[2] == 'g') gpath = val; else vpath = val;
            continue;
        }
        return xb_cli_usage_error("netlist", "unknown option '%s'", argv[i]);
    }
    if (!gpath) return xb_cli_usage_error("netlist", "--g: missing conductance file (G.csv)");
    if (!vpath) return xb_cli_usage_error("netlist", "--v: missing input voltage file (V.csv)");
    if (!opath) return xb_cli_usage_error("netlist", "-o: missing output file");
    xb_matrix *g = NULL, *v = NULL;
    xb_netlist *n = NULL;
    xb_engine_source *src = NULL;
    char *deck = NULL;
    p.include_models = include_models;
    int rc = xb_cli_read_gv(gpath, vpath, &p, &g, &v, &err);
    if (!rc) rc = xb_array_params_check(&p, &err);
    if (!rc) rc = xb_netlist_program(&p, g, g, &err);
    if (!rc) rc = xb_netlist_mvm_new(&p, g, &n, &err);
    if (!rc) {
        size_t ns = xb_netlist_n_sources(n);
        src = malloc(ns * sizeof *src);
        if (!src) rc = xb_errorf(&err, XB_ERUNTIME, "out of memory");
        for (size_t k = 0; !rc && k < ns; k++) {
            src[k].name = xb_netlist_sources(n)[k].name;
            src[k].node_pos = xb_netlist_sources(n)[k].node_pos;
            src[k].node_neg = xb_netlist_sources(n)[k].node_neg;
        }
    }
    if (!rc) {
        xb_engine_opts eo;
        xb_engine_opts_default(&eo);
        xb_engine_batch b = {
            .title = "xbar mvm",
            .body = xb_netlist_body(n),
            .n_sources = xb_netlist_n_sources(n),
            .sources = src,
            .k_vectors = v->rows,
            .values = v->data,
            .n_outputs = xb_netlist_n_outputs(n),
            .outputs = xb_netlist_outputs(n),
        };
        deck = xb_engine_batch_deck(&eo, &b, &err);
        if (!deck) rc = err.code ? err.code : XB_ERUNTIME;
    }
    if (!rc) rc = xb_afile_write(opath, deck, strlen(deck), &err); /* whole deck or none */
    free(deck);
    free(src);
    xb_netlist_free(n);
    xb_matrix_free(g);
    xb_matrix_free(v);
    return rc ? xb_cli_fail("netlist", &err) : 0;
}
