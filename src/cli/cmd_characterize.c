/* xbar characterize: placeholder until its issue lands (prints "not implemented yet", exit 2). */
#include "cli/cli.h"

static const char k_help[] =
    "usage: xbar characterize [options]\n"
    "\n"
    "Not implemented yet.\n";

int xb_cmd_characterize(int argc, char **argv) { return xb_cli_not_implemented("characterize", k_help, argc, argv); }
