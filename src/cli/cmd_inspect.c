/* xbar inspect: placeholder until its issue lands (prints "not implemented yet", exit 2). */
#include "cli/cli.h"

static const char k_help[] =
    "usage: xbar inspect [options]\n"
    "\n"
    "Not implemented yet.\n";

int xb_cmd_inspect(int argc, char **argv) { return xb_cli_not_implemented("inspect", k_help, argc, argv); }
