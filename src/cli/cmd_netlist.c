/* xbar netlist: write the SPICE netlist of a crossbar read. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char k_help_head[] =
    "usage: xbar netlist [array options] --g G.csv --v V.csv -o FILE.cir\n"
    "\n"
    "Writes the netlist that 'xbar mvm --engine spice' solves; it runs unchanged in stock\n"
    "'ngspice -b FILE.cir' and prints the column currents.\n"
    "\n";

int xb_cmd_netlist(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        fputs(k_help_head, stdout);
        fputs(xb_cli_array_options_help, stdout);
        return 0;
    }
    xb_array_params p;
    xb_error err;
    xb_error_clear(&err);
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    for (int i = 1; i < argc; i++) {
        int r = xb_cli_array_option(argc, argv, &i, &p, &err);
        if (r < 0) return xb_cli_fail("netlist", &err);
        if (r > 0) continue;
        if (xb_cli_is_flag(argv[i], "--g") || xb_cli_is_flag(argv[i], "--v") || xb_cli_is_flag(argv[i], "-o")) {
            const char *flag = argv[i][1] == 'o' ? "-o" : (argv[i][2] == 'g' ? "--g" : "--v");
            if (!xb_cli_flag_value(argc, argv, &i, flag, &err)) return xb_cli_fail("netlist", &err);
            continue;
        }
        return xb_cli_usage_error("netlist", "unknown option '%s'", argv[i]);
    }
    fprintf(stderr, "xbar netlist: not implemented yet\n");
    return XB_EINPUT;
}
