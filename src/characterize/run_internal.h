/* Pieces of the campaign runner (run.c) shared with the MPI runner (mpi.c).  Internal to
 * the characterize stage: not part of the public API in include/xbar/characterize.h. */
#ifndef XBAR_CHARACTERIZE_RUN_INTERNAL_H
#define XBAR_CHARACTERIZE_RUN_INTERNAL_H

#include <stddef.h>

#include "xbar/characterize.h"

/* Open/create the results file, count this run (root "runs"), drop what a killed run left
 * (.incoming links, unfinished groups) and list the points to compute into *todo
 * (malloc'd, max_points applied).  st gets total, skipped and run_number. */
int xb_char_internal_prepare(const xb_campaign *c, const char *out_path, const xb_char_run_opts *o,
                             size_t **todo, size_t *ntodo, xb_char_run_stats *st, xb_error *err);

/* Engine options of a point process and the number of points in flight (capped at ntodo). */
void xb_char_internal_setup(const xb_campaign *c, const xb_char_run_opts *o, size_t ntodo, xb_engine_opts *eo,
                            int *par);

/* Scratch file of point `name`: <out>.parts/<name>.h5. */
void xb_char_internal_part_path(const char *out, const char *name, char *buf, size_t n);

/* Remove the files of a scratch directory, then (remove_dir) the directory itself. */
void xb_char_internal_clean_dir(const char *dir, int remove_dir);

/* Root summary attributes (points_ok, points_failed, complete) after a run. */
int xb_char_internal_finish(const xb_campaign *c, const char *out_path, xb_error *err);

/* Point process body (call in a forked child; never returns): computes point k into the
 * scratch file <out>.parts/pNNNNN.h5 (the directory must exist); exit status 0 ok, 3 failed
 * point, 4/5 could not start or write. */
void xb_char_internal_point_child(const xb_campaign *c, size_t k, const char *out, const xb_engine_opts *eo);

/* Move a finished point from <out>.parts/pNNNNN.h5 into the results file out (wstatus: the
 * point process's wait status); the scratch file is removed. */
int xb_char_internal_collect_point(const char *out, const xb_char_point *P, int wstatus, size_t run_number,
                                   int *point_ok, char *msg, size_t msz, double *elapsed, xb_error *err);

#endif
