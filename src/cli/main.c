/* xbar: one binary, one subcommand per job.  Exit codes: docs/cli.md. */
#include <errno.h>
#include <gsl/gsl_version.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "xbar/engine.h"
#include "xbar/h5.h"

static const xb_cli_command k_commands[] = {
    {"netlist", xb_cmd_netlist, "write the SPICE netlist of a crossbar read (runs in stock ngspice -b)"},
    {"mvm", xb_cmd_mvm, "matrix-vector multiply on a crossbar: ideal, spice, native or fitted model"},
    {"iv", xb_cmd_iv, "device I-V curves: read mode at several states, dynamic SET/RESET or pulses"},
    {"sneak", xb_cmd_sneak, "single-cell read with floating, V/2 or V/3 biasing: read/sneak current, margin"},
    {"program", xb_cmd_program, "write a target matrix into an array in circuit: V/2 or V/3, write-verify"},
    {"characterize", xb_cmd_characterize, "run a characterization campaign (characterize/*.ini) to HDF5"},
    {"report", xb_cmd_report, "plots (PNG) from campaign results"},
    {"fit", xb_cmd_fit, "fit behavioural MVM models from campaign results, write model HDF5"},
    {"inspect", xb_cmd_inspect, "summarise any xbar HDF5 file"},
    {"train", xb_cmd_train, "train a small network on Fashion-MNIST"},
    {"run", xb_cmd_run, "run a network on crossbar tiles: accuracy, error, energy"},
    {"demo", xb_cmd_demo, "characterize -> fit -> run, end to end on built-in defaults"},
    {"export", xb_cmd_export, "a fitted model as a Python module for IBM aihwkit or Sandia CrossSim"},
};
static const size_t k_ncommands = sizeof k_commands / sizeof k_commands[0];

/* Commands whose SPICE decks .include the device libraries (models/): on an installation
 * where they cannot be found, these stop at once naming every place looked at, instead of
 * failing later inside ngspice. */
static int check_models(const char *cmd, int argc, char **argv)
{
    static const char *const k_need[] = {"netlist", "mvm", "iv", "sneak", "program", "characterize", "run", "demo"};
    int need = 0;
    for (size_t k = 0; k < sizeof k_need / sizeof k_need[0]; k++) need |= strcmp(cmd, k_need[k]) == 0;
    if (!need || xb_cli_wants_help(argc, argv)) return XB_OK;
    const char *dir;
    xb_error err;
    xb_error_clear(&err);
    if (xb_netlist_models_dir_find(&dir, &err) == XB_OK) return XB_OK;
    fprintf(stderr, "xbar %s: %s\n", cmd, err.msg);
    return err.code;
}

static void print_usage(FILE *f)
{
    fprintf(f,
            "usage: xbar [--version] [--help] <command> [options]\n"
            "\n"
            "xbar simulates analog in-memory-computing crossbars with ngspice and fast fitted models.\n"
            "\n"
            "commands:\n");
    for (size_t k = 0; k < k_ncommands; k++) fprintf(f, "  %-13s %s\n", k_commands[k].name, k_commands[k].summary);
    fprintf(f, "\n'xbar <command> --help' describes each command. Exit codes: 0 ok, 1 runtime failure, 2 usage or bad input.\n");
}

static int print_version(void)
{
    char ng[256], h5v[64];
    xb_h5_library_version(h5v, sizeof h5v);
    printf("xbar %s\n", xb_version());
    fflush(stdout);
    if (xb_engine_ngspice_version_inprocess(ng, sizeof ng) == XB_OK) printf("libngspice %s\n", ng);
    else printf("libngspice (version not reported)\n");
    printf("GSL %s\n", gsl_version);
    printf("HDF5 %s\n", h5v);
    return 0;
}

/* Every command's standard output, checked once at the end: a table or CSV printed to a full
 * disk or /dev/full is a failure (exit 1, one line), never a silent truncation.  stdout is a
 * stream that keeps the errno of its first failed write (xb_wstream): the message names the
 * cause even when nothing is left for the final flush to fail on. */
static int finish_stdout(const char *cmd, int rc, const xb_wstream *ws)
{
    errno = 0;
    int bad = fflush(stdout) != 0 || ferror(stdout);
    int e = ws && ws->err_no ? ws->err_no : errno;
    if (fclose(stdout) != 0 && !bad) {
        bad = 1;
        e = ws && ws->err_no ? ws->err_no : errno;
    }
    if (!bad || rc != 0) return rc; /* a failed command has printed its own line */
    fprintf(stderr, "xbar%s%s: writing standard output: %s\n", cmd ? " " : "", cmd ? cmd : "", strerror(e ? e : EIO));
    return XB_ERUNTIME;
}

static int run_command(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return XB_EINPUT;
    }
    /* the binary prints its own errors: HDF5's stack dumps off for the whole process (the
     * library restores the caller's setting after each call; this process is ours) */
    xb_h5_errors_off();
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) return print_version();
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    for (size_t k = 0; k < k_ncommands; k++)
        if (strcmp(cmd, k_commands[k].name) == 0) {
            int rc = check_models(cmd, argc - 1, argv + 1);
            return rc ? rc : k_commands[k].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "xbar: unknown command '%s' (see 'xbar --help')\n", cmd);
    return XB_EINPUT;
}

int main(int argc, char **argv)
{
    const char *cmd = NULL;
    for (size_t k = 0; argc >= 2 && k < k_ncommands; k++)
        if (strcmp(argv[1], k_commands[k].name) == 0) cmd = k_commands[k].name;
    /* glibc's stdout is a variable: this process's own, swapped for a checked stream on
     * descriptor 1 (line-buffered on a terminal, as stdout is); kept as is if that fails */
    xb_wstream ws = {1, 0};
    FILE *out = xb_wstream_open(&ws);
    if (out) {
        if (isatty(1)) setvbuf(out, NULL, _IOLBF, 0);
        stdout = out;
    }
    return finish_stdout(cmd, run_command(argc, argv), out ? &ws : NULL);
}
