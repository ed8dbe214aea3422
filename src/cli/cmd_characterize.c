/* xbar characterize: run a campaign (an INI file of characterize/) into a results HDF5 file. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "xbar/characterize.h"
#ifdef XBAR_MPI
#include <fcntl.h>

#include "xbar/char_mpi.h"
#endif

static const char k_help[] =
    "usage: xbar characterize CAMPAIGN.ini -o RESULTS.h5 [options]\n"
    "\n"
    "Runs every sweep point of a campaign (docs/campaigns.md) and writes each finished point\n"
    "to RESULTS.h5 as it completes (layout: docs/hdf5-results.md).  Rerunning the same command\n"
    "resumes: finished points are skipped.  A failed point (non-convergence, timeout) is\n"
    "recorded with its ngspice log tail and the campaign continues.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE      results file (required)\n"
    "  --force                overwrite FILE even if it holds another campaign, start over\n"
    "  --retry-failed         recompute points recorded as failed\n"
    "  -j, --jobs N           points computed in parallel [campaign `workers`, else cores]\n"
    "  --timeout S            per-simulation time limit in seconds [campaign `timeout_s`, 600]\n"
    "  --max-points N         stop after computing N points (the rest on a later run)\n"
    "  --dry-run              list the sweep points and exit\n"
    "  -q, --quiet            no progress output\n"
    XB_CLI_MAX_MEMORY_HELP
    "\n"
    "Progress: a bar with ETA on a terminal, one line per finished point otherwise (stderr).\n"
    "MPI (build with -DXBAR_MPI=ON): `mpirun -np K xbar characterize ...` spreads the points over\n"
    "K ranks (-j points in flight per rank); rank 0 writes RESULTS.h5 (docs/cluster.md).\n"
    "Exit: 0 every point done, 1 runtime failure or failed points (kept in FILE), 2 bad input.\n";

typedef struct {
    int tty;
    int quiet;
} progress_state;

static void fmt_time(double s, char *buf, size_t n)
{
    if (s < 0) snprintf(buf, n, "--");
    else if (s < 60) snprintf(buf, n, "%.0fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)(s / 3600), ((int)s % 3600) / 60);
}

static void on_progress(void *user, const xb_char_progress *pr)
{
    progress_state *ps = user;
    if (ps->quiet) return;
    char eta[32], el[32];
    fmt_time(pr->eta_s, eta, sizeof eta);
    fmt_time(pr->elapsed_s, el, sizeof el);
    if (!pr->point) {
        fprintf(stderr, "xbar characterize: %zu points, %zu already done, %zu to run\n", pr->total, pr->skipped,
                pr->to_run);
        return;
    }
    if (ps->tty) {
        const int width = 30;
        int fill = pr->to_run ? (int)(width * pr->done / pr->to_run) : width;
        char bar[64];
        for (int k = 0; k < width; k++) bar[k] = k < fill ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] %zu/%zu  %s %s  elapsed %s  ETA %s   ", bar, pr->done, pr->to_run, pr->point,
                pr->status ? "FAILED" : "ok", el, eta);
        if (pr->status) fprintf(stderr, "\n  %s: %s\n", pr->point, pr->message);
        if (pr->done == pr->to_run) fputc('\n', stderr);
    } else {
        fprintf(stderr, "xbar characterize: %zu/%zu %s %s %.1fs (ETA %s) %s%s%s\n", pr->done, pr->to_run, pr->point,
                pr->status ? "FAILED" : "ok", pr->point_s, eta, pr->key, pr->status ? ": " : "",
                pr->status ? pr->message : "");
    }
    fflush(stderr);
}

#ifdef XBAR_MPI
static int g_stderr_fd = -1; /* ranks > 0: the real stderr (fd 2 is /dev/null there) */
#endif

/* mpi_rank: -1 serial, else this process's MPI rank (under mpirun, docs/cluster.md) */
static int characterize_main(int argc, char **argv, int mpi_rank)
{
    if (xb_cli_wants_help(argc, argv)) {
        fputs(k_help, stdout);
        return 0;
    }
    const char *campaign = NULL, *out = NULL;
    xb_char_run_opts o = {0};
    int dry = 0, quiet = 0;
    xb_error err;
    xb_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (xb_cli_is_flag(a, "-o") || xb_cli_is_flag(a, "--output")) {
            if (!(v = xb_cli_flag_value(argc, argv, &i, a[1] == 'o' ? "-o" : "--output", &err)))
                return xb_cli_fail("characterize", &err);
            out = v;
        } else if (strcmp(a, "--force") == 0) {
            o.force = 1;
        } else if (strcmp(a, "--retry-failed") == 0) {
            o.retry_failed = 1;
        } else if (strcmp(a, "--dry-run") == 0) {
            dry = 1;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (xb_cli_is_flag(a, "-j") || xb_cli_is_flag(a, "--jobs")) {
            const char *flag = a[1] == 'j' ? "-j" : "--jobs";
            size_t n;
            if (!(v = xb_cli_flag_value(argc, argv, &i, flag, &err)) || xb_parse_size(v, flag, &n, &err))
                return xb_cli_fail("characterize", &err);
            if (n < 1 || n > 256) return xb_cli_usage_error("characterize", "%s: must be 1..256", flag);
            o.n_parallel = (int)n;
        } else if (xb_cli_is_flag(a, "--timeout")) {
            if (!(v = xb_cli_flag_value(argc, argv, &i, "--timeout", &err)) ||
                xb_parse_double(v, "--timeout", &o.timeout_s, &err))
                return xb_cli_fail("characterize", &err);
            if (!(o.timeout_s > 0)) return xb_cli_usage_error("characterize", "--timeout: must be > 0");
        } else if (xb_cli_is_flag(a, "--max-points")) {
            if (!(v = xb_cli_flag_value(argc, argv, &i, "--max-points", &err)) ||
                xb_parse_size(v, "--max-points", &o.max_points, &err))
                return xb_cli_fail("characterize", &err);
            if (o.max_points == 0) return xb_cli_usage_error("characterize", "--max-points: must be at least 1");
        } else if (xb_cli_is_flag(a, "--max-memory")) {
            if (!(v = xb_cli_flag_value(argc, argv, &i, "--max-memory", &err)) || xb_cli_max_memory(v, &err))
                return xb_cli_fail("characterize", &err);
        } else if (a[0] == '-' && a[1]) {
            return xb_cli_usage_error("characterize", "unknown option '%s'", a);
        } else if (!campaign) {
            campaign = a;
        } else {
            return xb_cli_usage_error("characterize", "unexpected argument '%s' (one campaign file)", a);
        }
    }
    if (!campaign) return xb_cli_usage_error("characterize", "missing CAMPAIGN.ini");
    xb_campaign *c = NULL;
#ifdef XBAR_MPI
    if (mpi_rank >= 0) {
        if (xb_char_mpi_campaign_load(campaign, &c, &err)) return xb_cli_fail("characterize", &err);
    } else
#endif
    if (xb_char_campaign_load(campaign, &c, &err)) return xb_cli_fail("characterize", &err);
    for (size_t k = 0; mpi_rank <= 0 && k < xb_char_campaign_n_warnings(c); k++)
        fprintf(stderr, "xbar characterize: warning: %s\n", xb_char_campaign_warning(c, k));
    if (dry && mpi_rank > 0) {
        xb_char_campaign_free(c);
        return 0;
    }
    if (dry) {
        printf("# %s: %zu points\n", xb_char_campaign_name(c), xb_char_campaign_npoints(c));
        for (size_t k = 0; k < xb_char_campaign_npoints(c); k++) {
            const xb_char_point *P = xb_char_campaign_point(c, k);
            printf("%s %s%s%s%s\n", P->name, P->key, P->spice_check ? " spice_check=1" : "",
                   P->transient ? " transient=1" : "", P->program ? " program=1" : "");
        }
        xb_char_campaign_free(c);
        return 0;
    }
    if (!out) {
        xb_char_campaign_free(c);
        return xb_cli_usage_error("characterize", "-o: missing results file");
    }
    progress_state ps = {isatty(2), quiet};
    o.progress = on_progress;
    o.user = &ps;
    xb_char_run_stats st = {0};
    int rc;
#ifdef XBAR_MPI
    if (mpi_rank >= 0) {
        rc = xb_char_run_mpi(c, out, &o, &st, &err);
        /* an error after the collective start leaves the other ranks waiting: stop them */
        if (rc && st.run_number) {
            xb_char_campaign_free(c);
            if (mpi_rank > 0 && g_stderr_fd >= 0) dup2(g_stderr_fd, 2);
            xb_cli_fail("characterize", &err);
            xb_char_mpi_abort(rc);
        }
    } else
#endif
    rc = xb_char_run(c, out, &o, &st, &err);
    xb_char_campaign_free(c);
    if (rc) return xb_cli_fail("characterize", &err);
    if (mpi_rank > 0) return 0; /* rank 0 reports for the job */
    if (!quiet)
        fprintf(stderr, "xbar characterize: %s: %zu points, %zu skipped (already done), %zu computed, %zu failed\n", out,
                st.total, st.skipped, st.ran, st.failed);
    /* Failed points are kept in the file (status = failed, with their error) and the other
     * points completed, but the run did not produce everything: exit 1 (issue 9). */
    if (st.failed) {
        xb_errorf(&err, XB_ERUNTIME, "%s: %zu of %zu points failed this run (recorded with status=failed and "
                  "their error; --retry-failed recomputes them)", out, st.failed, st.ran);
        return xb_cli_fail("characterize", &err);
    }
    return 0;
}

int xb_cmd_characterize(int argc, char **argv)
{
#ifdef XBAR_MPI
    /* under mpirun (not for --help): one MPI job; ranks > 0 stay silent, rank 0 reports */
    if (xb_char_mpi_launched() && !xb_cli_wants_help(argc, argv)) {
        int rank = 0, size = 1;
        xb_error err;
        xb_error_clear(&err);
        if (xb_char_mpi_init(&argc, &argv, &rank, &size, &err)) return xb_cli_fail("characterize", &err);
        if (rank > 0) {
            g_stderr_fd = dup(2);
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0) {
                dup2(devnull, 2);
                close(devnull);
            }
        }
        int rc = characterize_main(argc, argv, rank);
        xb_char_mpi_finalize();
        if (g_stderr_fd >= 0) {
            dup2(g_stderr_fd, 2);
            close(g_stderr_fd);
            g_stderr_fd = -1;
        }
        return rc;
    }
#endif
    return characterize_main(argc, argv, -1);
}
