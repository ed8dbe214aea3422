/* bench_mpi: wall time of one campaign run serially and with mpirun, side by side
 * (docs/cluster.md).  Same machine, same number of points in flight:
 *   serial   xbar characterize C -o s.h5 -j P
 *   mpi      mpirun -np R xbar characterize C -o m.h5 -j P/R
 * The ratio mpi/serial shows the cost of the MPI path (launch, shipping every point's file
 * to rank 0); the gain on a cluster is R nodes' cores instead of one node's.
 *
 * usage: bench_mpi [CAMPAIGN.ini] [-np R] [-j P] [--reps N]   (defaults: a built-in 8-point campaign of
 * 16x16/24x24 ngspice points with transients, R = 2, P = 2, N = 2: the runs alternate, best time of each).  Needs -DXBAR_MPI=ON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xbar/common.h"

#ifdef XBAR_MPI
static const char k_campaign[] =
    "; bench_mpi built-in campaign\n"
    "[campaign]\nname = bench-mpi\nseed = 5\nengine = spice\n"
    "[array]\nsize = 16x16, 24x24\ndevice = linear, rram\nr_wire_ohm = 1, 2.5\n"
    "[inputs]\nsamples = 2\nvectors = 8\n"
    "[read]\nschemes = float, v2\n"
    "[transient]\nenabled = yes\n";

static int run(char *const argv[])
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execvp(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
#endif

int main(int argc, char **argv)
{
#ifndef XBAR_MPI
    (void)argc;
    (void)argv;
    printf("bench_mpi: built without -DXBAR_MPI=ON, nothing to measure (docs/cluster.md)\n");
    return 0;
#else
    const char *ini = NULL;
    int np = 2, jobs = 2, reps = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-np") == 0 && i + 1 < argc) np = atoi(argv[++i]);
        else if (strcmp(argv[i], "-j") == 0 && i + 1 < argc) jobs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
        else if (argv[i][0] != '-') ini = argv[i];
        else {
            fprintf(stderr, "usage: bench_mpi [CAMPAIGN.ini] [-np R] [-j P] [--reps N]\n");
            return 2;
        }
    }
    if (np < 1 || jobs < np || reps < 1) {
        fprintf(stderr, "bench_mpi: need 1 <= R <= P and N >= 1\n");
        return 2;
    }
    char dir[] = "/tmp/bench_mpi-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char ini_buf[256], s_h5[256], m_h5[256], j_all[16], j_rank[16], np_s[16];
    if (!ini) {
        snprintf(ini_buf, sizeof ini_buf, "%s/campaign.ini", dir);
        FILE *fp = fopen(ini_buf, "w");
        if (!fp || fputs(k_campaign, fp) < 0 || fclose(fp) != 0) {
            perror(ini_buf);
            return 1;
        }
        ini = ini_buf;
    }
    snprintf(s_h5, sizeof s_h5, "%s/serial.h5", dir);
    snprintf(m_h5, sizeof m_h5, "%s/mpi.h5", dir);
    snprintf(j_all, sizeof j_all, "%d", jobs);
    snprintf(j_rank, sizeof j_rank, "%d", jobs / np);
    snprintf(np_s, sizeof np_s, "%d", np);

    char *serial[] = {(char *)XB_XBAR_EXE, "characterize", (char *)ini, "-o", s_h5, "--force", "-q", "-j", j_all, NULL};
    char *mpi[] = {"mpirun", "--allow-run-as-root", "--oversubscribe", "-np", np_s, (char *)XB_XBAR_EXE,
                   "characterize", (char *)ini, "-o", m_h5, "--force", "-q", "-j", j_rank, NULL};
    /* alternate the two runs and keep each one's best time (the machine may be shared) */
    double ts = 1e300, tm = 1e300;
    int rs = 0, rm = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = xb_now_s();
        rs |= run(serial);
        double t = xb_now_s() - t0;
        if (t < ts) ts = t;
        t0 = xb_now_s();
        rm |= run(mpi);
        t = xb_now_s() - t0;
        if (t < tm) tm = t;
    }
    printf("bench_mpi: campaign %s, %d points in flight in both runs, best of %d\n", ini, jobs, reps);
    printf("%-44s %10s %6s\n", "run", "wall_s", "exit");
    printf("serial  xbar characterize -j %-15d %10.2f %6d\n", jobs, ts, rs);
    printf("mpirun -np %d xbar characterize -j %-8d %10.2f %6d\n", np, jobs / np, tm, rm);
    printf("ratio mpi/serial: %.2f\n", tm / ts);

    /* same results? (tests/mpi_compare.py; needs python3-h5py) */
    char *cmp[] = {"/usr/bin/python3", (char *)XB_SOURCE_DIR "/tests/mpi_compare.py", s_h5, m_h5, NULL};
    int rc = run(cmp);
    printf("files identical point for point: %s\n", rc == 0 ? "yes" : "NO");
    unlink(s_h5);
    unlink(m_h5);
    if (ini == ini_buf) unlink(ini_buf);
    rmdir(dir);
    return rs || rm || rc ? 1 : 0;
#endif
}
