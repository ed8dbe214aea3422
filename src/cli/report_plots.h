/* xbar report: the plots of the array's physics that read point datasets (report_plots.c):
 * settling waveforms, whole-tile energy per MAC, conductance histograms (programmed, drift). */
#ifndef XBAR_CLI_REPORT_PLOTS_H
#define XBAR_CLI_REPORT_PLOTS_H

#include <stddef.h>
#include <stdio.h>

#include "xbar/characterize.h"

/* Write the data files into the report's staging directory and their gnuplot commands to
 * gp; each PNG's name is appended to names[*n] (at most max in all).  Plots without data in
 * the file are skipped. */
int xb_cli_report_physics(const xb_char_results *res, xb_stage *stage, FILE *gp, char (*names)[64], size_t max,
                          size_t *n, xb_error *err);

/* model_parity.png: the fitted model (MODEL.h5 of `xbar fit`) against the stored circuit
 * currents; nothing when model is NULL or has no model for any point. */
int xb_cli_report_parity(const xb_char_results *res, const char *model, xb_stage *stage, FILE *gp, char (*names)[64],
                         size_t max, size_t *n, xb_error *err);

#endif
