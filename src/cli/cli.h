/* Internal interface of the `xbar` command-line front end. */
#ifndef XBAR_CLI_H
#define XBAR_CLI_H

#include "xbar/common.h"
#include "xbar/netlist.h"

/* One subcommand: argv[0] is the subcommand name. Returns the process exit code. */
typedef int (*xb_cli_fn)(int argc, char **argv);

typedef struct {
    const char *name;
    xb_cli_fn fn;
    const char *summary;
} xb_cli_command;

int xb_cmd_netlist(int argc, char **argv);
int xb_cmd_mvm(int argc, char **argv);
int xb_cmd_iv(int argc, char **argv);
int xb_cmd_sneak(int argc, char **argv);
int xb_cmd_program(int argc, char **argv);
int xb_cmd_characterize(int argc, char **argv);
int xb_cmd_report(int argc, char **argv);
int xb_cmd_fit(int argc, char **argv);
int xb_cmd_inspect(int argc, char **argv);
int xb_cmd_train(int argc, char **argv);
int xb_cmd_run(int argc, char **argv);
int xb_cmd_demo(int argc, char **argv);
int xb_cmd_export(int argc, char **argv);

/* Print "xbar CMD: message" on one line to stderr and return err->code
 * (XB_ERUNTIME if the error carries no code). */
int xb_cli_fail(const char *cmd, const xb_error *err);

/* Usage error: print "xbar CMD: <formatted>" plus a hint, return XB_EINPUT (2). */
int xb_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True if argv holds -h or --help (before any "--"). */
int xb_cli_wants_help(int argc, char **argv);
/* xbar train --analog (src/cli/train_analog.c) */
int xb_cli_train_analog(int argc, char **argv);

/* A subcommand that a later stage fills in: prints that it is not implemented
 * yet and returns 2, or its help text for --help. */
int xb_cli_not_implemented(const char *cmd, const char *help, int argc, char **argv);

/* ---- array options shared by netlist, mvm, sneak (docs/cli.md) ---- */
/* Text for --help listing the array options. */
extern const char xb_cli_array_options_help[];

/* Start of a command taking array options: with -h/--help prints help_head and the array
 * options and returns 1 (the command then exits 0); otherwise sets p to the defaults (linear
 * device), clears err and returns 0. */
int xb_cli_array_command(int argc, char **argv, const char *help_head, xb_array_params *p, xb_error *err);

/* Try to consume argv[*i] (and its value) as an array option into p.
 * Returns 1 if consumed, 0 if not an array option, -1 on error (err filled,
 * message names the flag). */
int xb_cli_array_option(int argc, char **argv, int *i, xb_array_params *p, xb_error *err);

/* Fetch the value of flag argv[*i] ("--x VALUE" or "--x=VALUE"), advancing *i. */
const char *xb_cli_flag_value(int argc, char **argv, int *i, const char *flag, xb_error *err);

/* File line (1-based) of data row `row` (0-based; blank and '#' lines skipped) of a CSV,
 * 0 if unknown. */
size_t xb_cli_csv_line_of_row(const char *path, size_t row);

/* Read G.csv (rows x cols conductances) and, if v != NULL, V.csv (K x rows voltages) for
 * an array command: sets p->rows/cols from G (checking --rows/--cols when given), rejects
 * negative conductances and wrong counts with "file:line: ..." messages. */
int xb_cli_read_gv(const char *gpath, const char *vpath, xb_array_params *p, xb_matrix **g,
                   xb_matrix **v, xb_error *err);

/* --max-memory SIZE (every command that estimates memory; docs/cli.md "Memory limit"): the
 * help line, and the option itself: checks SIZE (xb_parse_bytes) and sets XBAR_MAX_MEMORY
 * for this process and its children. */
#define XB_CLI_MAX_MEMORY_HELP                                                                   \
    "  --max-memory SIZE      refuse work estimated to need more memory (bytes, or K/M/G/T)\n"  \
    "                         [$XBAR_MAX_MEMORY, else half the physical memory]\n"
int xb_cli_max_memory(const char *value, xb_error *err);

/* Every value of matrix m (read from CSV `path`) within the limits of quantity q
 * (common.h): otherwise "path:LINE: field F: conductance 2 S is outside the limits ...". */
int xb_cli_check_csv_values(const char *path, const xb_matrix *m, xb_quantity q, xb_error *err);

/* Peak memory (bytes) of `xbar train` with options o (cnn: the CNN of --arch cnn) on images
 * of n_in_side^2 pixels and n_classes classes, estimated before anything is allocated. */
struct xb_train_opts;
double xb_cli_train_memory_estimate(const struct xb_train_opts *o, int cnn, size_t n_in_side, size_t n_classes,
                                    size_t n_train, size_t n_test);

/* Does argv[i] name `flag` (either "--flag" or "--flag=...")? */
int xb_cli_is_flag(const char *arg, const char *flag);

/* ---- outputs (docs/cli.md "Outputs"; mechanisms in src/common/atomic.c, lock.c) ---- */
/* The HDF5 output of a command (fit -o, train --out): refused when it exists and !force
 * ("FILE exists (use --force to overwrite)", exit 2), then locked until *lock is released
 * (xb_lock_release): a second xbar writing it refuses at once, exit 1.  Returns 0 or the
 * exit code, the line printed. */
int xb_cli_claim_output(const char *cmd, const char *path, int force, xb_lock **lock);

/* ---- gnuplot (src/cli/gnuplot.c): the one runner of iv, report, report --accuracy-time ---- */
/* Is a gnuplot executable on PATH? */
int xb_cli_have_gnuplot(void);
/* Run `gnuplot SCRIPT` (a file of the stage) in the staging directory s, its messages in
 * the stage's gnuplot.log, no terminal input, killed with its children after 60 s
 * ($XBAR_GNUPLOT_TIMEOUT); then each of pngs (names in the stage) must be a complete PNG.
 * One-line errors name the output directory's files. */
int xb_cli_gnuplot(xb_stage *s, const char *script, const char *const *pngs, size_t n_pngs, xb_error *err);
/* 1 if path is a whole PNG file (signature, and the IEND chunk at its end). */
int xb_cli_png_complete(const char *path);

/* xbar export aihwkit: the training-device section of the module (aihwkit pulsed devices fitted
 * to the pulse-update model u of update_path; u NULL: none), and its one-line summary
 * (", training device F (residual r)") in buf (src/cli/export_train.c). */
struct xb_update_model;
void xb_cli_export_training(FILE *f, const struct xb_update_model *u, const char *update_path, const char *device);
const char *xb_cli_export_training_summary(const struct xb_update_model *u, char *buf, size_t n);

#endif
