/* The one gnuplot runner of `xbar iv`, `xbar report` and `xbar report --accuracy-time`.
 *
 * gnuplot runs in a staging directory (xb_stage, inside the output directory) on a script
 * and data files xbar wrote there and checked, never on a user's path: `xbar iv -o
 * /dev/full` once fed the output path to gnuplot as its data, which then read /dev/full
 * forever.  It runs in its own process group with no terminal input and is killed with
 * its children after a time limit; the PNG files it should have written are checked to be
 * complete (gnuplot exits 0 when the disk is full), and only then moved into place. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

/* Seconds gnuplot may take for one script; XBAR_GNUPLOT_TIMEOUT overrides (docs/cli.md). */
#define XB_GNUPLOT_TIMEOUT_S 60.0

int xb_cli_have_gnuplot(void)
{
    const char *path = getenv("PATH");
    if (!path) return 0;
    char *dup = strdup(path);
    if (!dup) return 0;
    int found = 0;
    for (char *save = NULL, *d = strtok_r(dup, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s/gnuplot", d);
        found = access(buf, X_OK) == 0;
    }
    free(dup);
    return found;
}

int xb_cli_png_complete(const char *path)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    /* the last chunk: length 0, "IEND", its CRC */
    static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char head[8], tail[12];
    int ok = fread(head, 1, 8, f) == 8 && memcmp(head, sig, 8) == 0 && fseek(f, -12, SEEK_END) == 0 &&
             fread(tail, 1, 12, f) == 12 && memcmp(tail, iend, 12) == 0;
    fclose(f);
    return ok;
}

static double timeout_s(void)
{
    const char *v = getenv("XBAR_GNUPLOT_TIMEOUT");
    double t;
    if (v && xb_parse_double(v, "XBAR_GNUPLOT_TIMEOUT", &t, NULL) == XB_OK && t > 0) return t;
    return XB_GNUPLOT_TIMEOUT_S;
}

/* The first non-empty line of gnuplot's messages (for a one-line error), or "". */
static void first_log_line(const char *log, char *buf, size_t n)
{
    buf[0] = '\0';
    FILE *f = fopen(log, "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '^') p++;
        if (!*p) continue;
        p[strcspn(p, "\r\n")] = '\0';
        snprintf(buf, n, "%s", p);
        break;
    }
    fclose(f);
}

/* Child: gnuplot SCRIPT in the stage, messages to gnuplot.log there, nothing to read. */
static void exec_gnuplot(const char *stage, const char *script)
{
    setpgid(0, 0);
    if (chdir(stage) != 0) _exit(126);
    int in = open("/dev/null", O_RDONLY), log = open("gnuplot.log", O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (in < 0 || log < 0) _exit(126);
    dup2(in, 0);
    dup2(log, 1);
    dup2(log, 2);
    execlp("gnuplot", "gnuplot", script, (char *)NULL);
    _exit(127);
}

/* Wait for pid until the deadline; kills its process group then.  1 if it exited in time. */
static int wait_or_kill(pid_t pid, double limit_s, int *status)
{
    const double t_end = xb_now_s() + limit_s;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return 1;
        if (r < 0 && errno != EINTR) return 1;
        if (xb_now_s() > t_end) break;
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {}
    return 0;
}

int xb_cli_gnuplot(xb_stage *s, const char *script, const char *const *pngs, size_t n_pngs, xb_error *err)
{
    const char *stage = xb_stage_path(s), *dir = xb_stage_dir(s);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return xb_errorf(err, XB_ERUNTIME, "fork: %s", strerror(errno));
    if (pid == 0) exec_gnuplot(stage, script); /* does not return */
    setpgid(pid, pid); /* also here: no window in which a kill of the group misses it */
    const double limit = timeout_s();
    int st = 0;
    char log[4200], msg[512];
    snprintf(log, sizeof log, "%s/gnuplot.log", stage);
    if (!wait_or_kill(pid, limit, &st))
        return xb_errorf(err, XB_ERUNTIME, "gnuplot on %s/%s: no result after %g s, killed (XBAR_GNUPLOT_TIMEOUT)", dir,
                         script, limit);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        return xb_errorf(err, XB_ERUNTIME, "gnuplot not found (apt-get install gnuplot-nox)");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        first_log_line(log, msg, sizeof msg);
        return xb_errorf(err, XB_ERUNTIME, "gnuplot failed on %s/%s%s%s", dir, script, msg[0] ? ": " : "", msg);
    }
    for (size_t k = 0; k < n_pngs; k++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", stage, pngs[k]);
        if (!xb_cli_png_complete(p)) {
            first_log_line(log, msg, sizeof msg);
            return xb_errorf(err, XB_ERUNTIME, "%s/%s: gnuplot wrote no complete PNG (disk full?)%s%s", dir, pngs[k],
                             msg[0] ? ": " : "", msg);
        }
    }
    return XB_OK;
}
