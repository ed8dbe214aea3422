/* xbar fit: placeholder until its issue lands (prints "not implemented yet", exit 2). */
#include "cli/cli.h"

static const char k_help[] =
    "usage: xbar fit [options]\n"
    "\n"
    "Not implemented yet.\n";

int xb_cmd_fit(int argc, char **argv) { return xb_cli_not_implemented("fit", k_help, argc, argv); }
