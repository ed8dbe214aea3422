/* xbar run --time-sweep and xbar report --accuracy-time (docs/drift.md). */
#ifndef XBAR_CLI_RUN_DRIFT_H
#define XBAR_CLI_RUN_DRIFT_H

#include <stddef.h>

#include "xbar/exec.h"

/* The default sweep: 1 s, 1 min, 1 h, 1 d, 1 month, 1 y. */
#define XB_SWEEP_MAX 64
/* Parse "1s,1m,1h" (NULL: the default list) into times (ascending not required). */
int xb_cli_parse_time_list(const char *s, double *times, size_t *n, xb_error *err);

/* Accuracy at every time, without and with global drift compensation, on the same
 * programming (ex calibrated at t0); prints a table to stdout and writes csv_path (may be
 * NULL): time_s,accuracy_no_comp,accuracy_comp,accuracy_ideal. */
int xb_cli_run_time_sweep(xb_exec *ex, const xb_network *net, const xb_dataset *test, size_t batch,
                          const double *times, size_t n_times, const char *csv_path, xb_error *err);

/* accuracy_vs_time.png (gnuplot, log time axis) from that CSV into dir. */
int xb_cli_report_accuracy_time(const char *csv_path, const char *dir, xb_error *err);

#endif
