/* xbar report: placeholder until its issue lands (prints "not implemented yet", exit 2). */
#include "cli/cli.h"

static const char k_help[] =
    "usage: xbar report [options]\n"
    "\n"
    "Not implemented yet.\n";

int xb_cmd_report(int argc, char **argv) { return xb_cli_not_implemented("report", k_help, argc, argv); }
