/*
 * MPI scale-out of characterization campaigns (issue 9, docs/cluster.md).  Built only with
 * -DXBAR_MPI=ON (OpenMPI, Debian libopenmpi-dev); XBAR_MPI is then defined for every user
 * of xbar_core.
 *
 *   mpirun -np K xbar characterize FILE.ini -o results.h5
 *
 * Rank 0 owns the results file (serial HDF5) and hands out sweep points from a dynamic
 * queue; every rank (rank 0 included) computes points in its own forked point processes
 * (`-j` per rank), exactly as a serial run does.  A worker rank computes a point into a
 * scratch file in its node-local $TMPDIR and sends the file's bytes to rank 0, which
 * copies the point into the results file with the serial code (run.c): no shared file
 * system is needed, a kill loses only the points in flight, and the same command resumes
 * across MPI and serial runs.  The file equals a serial run's point for point; only the
 * provenance attributes differ (created_utc, runs, run, elapsed_s, finished_utc, solve_s).
 */
#ifndef XBAR_CHAR_MPI_H
#define XBAR_CHAR_MPI_H

#include "xbar/characterize.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef XBAR_MPI
/* 1 when this process was started by an MPI launcher (mpirun/srun set OMPI_COMM_WORLD_SIZE,
 * PMIX_RANK or PMI_SIZE); a plain `xbar characterize` in an MPI build stays serial. */
int xb_char_mpi_launched(void);

/* MPI_Init; *rank and *size of MPI_COMM_WORLD. */
int xb_char_mpi_init(int *argc, char ***argv, int *rank, int *size, xb_error *err);
void xb_char_mpi_finalize(void);
/* Stop every rank (after rank 0 hit an error of its own mid-run; its workers may be waiting). */
void xb_char_mpi_abort(int code);

/* Rank 0 loads the campaign file and broadcasts its text; every rank parses the same text
 * (the file need exist only on rank 0's node).  Collective. */
int xb_char_mpi_campaign_load(const char *path, xb_campaign **out, xb_error *err);

/* Run the campaign over all ranks (collective; see the top of this file).  On rank 0 the
 * result, stats and progress are those of xb_char_run; o->n_parallel is the number of
 * points in flight per rank.  On other ranks stats->ran/failed count the points that rank
 * computed, no progress is reported, and an error of rank 0 before the run (bad results
 * file) is returned with the message "rank 0 ...". */
int xb_char_run_mpi(const xb_campaign *c, const char *out_path, const xb_char_run_opts *o,
                    xb_char_run_stats *stats, xb_error *err);
#endif

#ifdef __cplusplus
}
#endif
#endif /* XBAR_CHAR_MPI_H */
