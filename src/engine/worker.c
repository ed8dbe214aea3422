/* The worker process of one ngspice job.
 *
 * libngspice keeps one circuit in global state per process and may abort, exit or
 * loop forever on bad input, so each job runs in a child forked from the caller:
 * the child (never the parent) initialises libngspice, loads the deck from memory,
 * runs it, copies the requested vectors out and sends them to the parent through a
 * pipe as frames (engine_internal.h), then _exit()s.  Anything the library prints
 * on the real stdout/stderr goes to a second pipe, so nothing reaches the terminal.
 * The parent side (pool.c) turns a crash, a timeout or garbled output into an error
 * result.  Fork without exec keeps this usable from tests and library users, which
 * are not the xbar binary. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h> /* sharedspice.h uses bool without including it */
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ngspice/sharedspice.h>

#include "engine/engine_internal.h"

/* ------------------------------------------------------------------ .control stripping */
static int is_card(const char *line, const char *card)
{
    while (*line == ' ' || *line == '\t') line++;
    size_t n = strlen(card);
    return strncasecmp(line, card, n) == 0 &&
           (line[n] == '\0' || line[n] == '\n' || line[n] == '\r' || isspace((unsigned char)line[n]));
}

char *xb_engine_strip_control(const char *deck)
{
    xb_buf b = {0};
    if (xb_buf_puts(&b, "")) return NULL;
    int in_control = 0;
    const char *p = deck;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p + 1) : strlen(p);
        if (!in_control && is_card(p, ".control")) {
            in_control = 1;
        } else if (in_control) {
            if (is_card(p, ".endc")) in_control = 0;
        } else if (xb_buf_append(&b, p, len)) {
            xb_buf_free(&b);
            return NULL;
        }
        p += len;
    }
    return b.p;
}

/* ------------------------------------------------------------------ child side */
/* Child-only state: the ngspice callbacks have no other way to reach it (the user
 * pointer is kept by libngspice for the life of the process, which is this child). */
enum { PHASE_INIT, PHASE_PARSE, PHASE_RUN, PHASE_COLLECT };
static struct {
    int fd;
    int phase;
    int parse_error;   /* an "error" line while loading the circuit */
    int run_abort;     /* ngspice reported that the analysis was aborted */
    int no_circuit;    /* ngspice loaded no circuit from the deck */
    int error_more;    /* lines still to append to first_error */
    char first_error[400];
} g_child;

static void child_write_all(const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(g_child.fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            _exit(3); /* parent gone: nothing left to report to */
        }
        c += w;
        n -= (size_t)w;
    }
}

static void child_frame(int kind, const void *a, size_t na, const void *b, size_t nb)
{
    unsigned char hdr[5];
    uint32_t len = (uint32_t)(na + nb);
    hdr[0] = (unsigned char)kind;
    memcpy(hdr + 1, &len, 4);
    child_write_all(hdr, 5);
    if (na) child_write_all(a, na);
    if (nb) child_write_all(b, nb);
}

static void child_status(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void child_status(int status, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int32_t s = status;
    child_frame(XB_FRAME_STATUS, &s, 4, msg, strlen(msg));
}

static int contains_ci(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (; *s; s++)
        if (strncasecmp(s, needle, n) == 0) return 1;
    return 0;
}

static void note_error(const char *line)
{
    if (g_child.first_error[0]) return;
    snprintf(g_child.first_error, sizeof g_child.first_error, "%s", line);
    char *nl = strpbrk(g_child.first_error, "\r\n");
    if (nl) *nl = '\0';
    size_t n = strlen(g_child.first_error);
    while (n && g_child.first_error[n - 1] == ' ') g_child.first_error[--n] = '\0';
    /* "Error on line 3 or its substitute:" is followed by the line and the reason */
    g_child.error_more = n && g_child.first_error[n - 1] == ':' ? 2 : 0;
}

/* Append a continuation line of the first error (collapsed whitespace). */
static void note_error_more(const char *line)
{
    size_t n = strlen(g_child.first_error);
    char *d = g_child.first_error + n;
    size_t room = sizeof g_child.first_error - n;
    if (room < 4) return;
    *d++ = ' ';
    room--;
    int space = 1;
    for (const char *c = line; *c && room > 1; c++) {
        int sp = isspace((unsigned char)*c);
        if (sp && space) continue;
        *d++ = sp ? ' ' : *c;
        room--;
        space = sp;
    }
    while (d > g_child.first_error && d[-1] == ' ') d--;
    *d = '\0';
}

static int cb_print(char *line, int id, void *user)
{
    const char *s = line;
    if (strncmp(s, "stdout ", 7) == 0 || strncmp(s, "stderr ", 7) == 0) s += 7;
    size_t n = strlen(s);
    child_frame(XB_FRAME_LOG, s, n, "\n", 1);
    if (g_child.error_more > 0 && g_child.first_error[0]) {
        g_child.error_more--;
        note_error_more(s);
        return 0;
    }
    /* Failure markers of ngspice 39 (wording from its sources and observed output). */
    if (g_child.phase == PHASE_PARSE) {
        /* ngspice starts its error lines with "Error" ("Error on line 3 ...", "Error:
         * unknown subckt: ..."); matching only there keeps a title or node name that
         * contains the word (echoed as "Circuit: ...") from counting */
        const char *t = s;
        while (*t == ' ' || *t == '\t' || *t == '*') t++;
        if (strncasecmp(t, "error", 5) == 0 || contains_ci(s, "unknown device") ||
            contains_ci(s, "unknown subckt") || contains_ci(s, "could not find a valid")) {
            g_child.parse_error = 1;
            note_error(s);
        }
    } else if (g_child.phase == PHASE_RUN) {
        if (contains_ci(s, "simulation(s) aborted") || contains_ci(s, "simulation aborted") ||
            contains_ci(s, "doanalyses") || contains_ci(s, "no circuit loaded") ||
            contains_ci(s, "there aren't any circuits loaded")) {
            g_child.run_abort = 1;
            if (contains_ci(s, "no circuit loaded") || contains_ci(s, "there aren't any circuits loaded"))
                g_child.no_circuit = 1;
            note_error(s);
        } else if (contains_ci(s, "error") || contains_ci(s, "singular matrix") ||
                   contains_ci(s, "timestep too small") || contains_ci(s, "no convergence") ||
                   contains_ci(s, "iteration limit")) {
            note_error(s);
        }
    }
    return 0;
}

static int cb_exit(int status, NG_BOOL immediate, NG_BOOL quit, int id, void *user)
{
    /* ngspice asks its host to unload it (fatal error or `quit`): report and leave;
     * only this worker ends, never the caller. */
    child_status(XB_ERUNTIME, "ngspice requested exit (status %d)%s%s", status,
                 g_child.first_error[0] ? ": " : "", g_child.first_error);
    _exit(0);
}

/* Copy one vector of the current plot to the parent: 0, -1 absent, -2 out of memory. */
static int send_vector(const char *name)
{
    char nm[512];
    snprintf(nm, sizeof nm, "%s", name);
    pvector_info info = ngGet_Vec_Info(nm);
    if (!info) return -1;
    /* ngGet_Vec_Info returns a pointer to one static struct: copy what we need now. */
    char vname[512];
    snprintf(vname, sizeof vname, "%s", info->v_name ? info->v_name : name);
    size_t n = info->v_length > 0 ? (size_t)info->v_length : 0;
    uint32_t nl = (uint32_t)strlen(vname);
    if (info->v_realdata) {
        double *d = malloc((n ? n : 1) * sizeof *d);
        if (!d) return -2;
        if (n) memcpy(d, info->v_realdata, n * sizeof *d);
        unsigned char *head = malloc(4 + nl);
        if (!head) {
            free(d);
            return -2;
        }
        memcpy(head, &nl, 4);
        memcpy(head + 4, vname, nl);
        child_frame(XB_FRAME_VEC, head, 4 + nl, d, n * sizeof *d);
        free(head);
        free(d);
    } else if (info->v_compdata) {
        /* complex (AC) vectors: real part under the name, imaginary part as "imag(name)" */
        double *re = malloc((n ? n : 1) * sizeof *re), *im = malloc((n ? n : 1) * sizeof *im);
        if (!re || !im) {
            free(re);
            free(im);
            return -2;
        }
        for (size_t k = 0; k < n; k++) {
            re[k] = info->v_compdata[k].cx_real;
            im[k] = info->v_compdata[k].cx_imag;
        }
        char iname[540];
        snprintf(iname, sizeof iname, "imag(%s)", vname);
        uint32_t il = (uint32_t)strlen(iname);
        unsigned char head[4 + 540];
        memcpy(head, &nl, 4);
        memcpy(head + 4, vname, nl);
        child_frame(XB_FRAME_VEC, head, 4 + nl, re, n * sizeof *re);
        memcpy(head, &il, 4);
        memcpy(head + 4, iname, il);
        child_frame(XB_FRAME_VEC, head, 4 + il, im, n * sizeof *im);
        free(re);
        free(im);
    } else {
        return -1;
    }
    return 0;
}

static void child_main(const xb_engine_opts *o, const char *deck, size_t n_vecs,
                       const char *const *vec_names)
{
    /* Load the deck line by line (ngSpice_Circ wants a NULL-terminated array). */
    char *text = xb_engine_strip_control(deck);
    if (!text) {
        child_status(XB_ERUNTIME, "out of memory in worker");
        return;
    }
    size_t nlines = 1;
    for (const char *c = text; *c; c++) nlines += (*c == '\n');
    char **lines = calloc(nlines + 2, sizeof *lines);
    if (!lines) {
        child_status(XB_ERUNTIME, "out of memory in worker");
        return;
    }
    size_t k = 0;
    for (char *p = text; *p;) {
        char *e = strchr(p, '\n');
        if (e) *e = '\0';
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r') p[len - 1] = '\0';
        lines[k++] = p;
        if (!e) break;
        p = e + 1;
    }
    if (k == 0) {
        child_status(XB_EINPUT, "empty netlist");
        return;
    }
    lines[k] = NULL;

    g_child.phase = PHASE_INIT;
    if (ngSpice_Init(cb_print, NULL, cb_exit, NULL, NULL, NULL, NULL) != 0) {
        child_status(XB_ERUNTIME, "ngSpice_Init failed");
        return;
    }
    g_child.phase = PHASE_PARSE;
    int rc = ngSpice_Circ(lines);
    if (rc != 0 || g_child.parse_error) {
        child_status(XB_EINPUT, "ngspice rejected the netlist%s%s",
                     g_child.first_error[0] ? ": " : "", g_child.first_error);
        return;
    }
    char optran[96];
    xb_engine_optran_command(o, optran, sizeof optran);
    ngSpice_Command(optran);
    g_child.phase = PHASE_RUN;
    char *plot_before = ngSpice_CurPlot();
    char before[128];
    snprintf(before, sizeof before, "%s", plot_before ? plot_before : "");
    rc = ngSpice_Command("run");
    char *plot = ngSpice_CurPlot();
    char plotname[128];
    snprintf(plotname, sizeof plotname, "%s", plot ? plot : "");
    if (g_child.no_circuit) {
        child_status(XB_EINPUT, "the deck holds no circuit: %s", g_child.first_error);
        return;
    }
    if (rc != 0 || g_child.run_abort) {
        child_status(XB_ERUNTIME, "ngspice analysis failed%s%s", g_child.first_error[0] ? ": " : "",
                     g_child.first_error);
        return;
    }
    if (!plotname[0] || strcmp(plotname, "const") == 0 || strcmp(plotname, before) == 0) {
        if (g_child.first_error[0])
            child_status(XB_ERUNTIME, "ngspice analysis failed: %s", g_child.first_error);
        else
            child_status(XB_EINPUT, "the deck produced no analysis results (no .op/.dc/.tran card?)");
        return;
    }
    g_child.phase = PHASE_COLLECT;
    if (n_vecs == 0) {
        char **all = ngSpice_AllVecs(plotname);
        size_t n = 0;
        while (all && all[n]) n++;
        char **copy = calloc(n + 1, sizeof *copy);
        if (!copy) {
            child_status(XB_ERUNTIME, "out of memory in worker");
            return;
        }
        for (size_t j = 0; j < n; j++) copy[j] = strdup(all[j]);
        for (size_t j = 0; j < n; j++) {
            if (!copy[j] || send_vector(copy[j]) == -2) {
                child_status(XB_ERUNTIME, "out of memory in worker");
                return;
            }
        }
    } else {
        for (size_t j = 0; j < n_vecs; j++) {
            char canon[512];
            if (!vec_names[j] || xb_engine_vec_canonical(vec_names[j], canon, sizeof canon)) {
                child_status(XB_EINPUT, "bad vector name #%zu", j);
                return;
            }
            int r = send_vector(canon);
            if (r == -1) r = send_vector(vec_names[j]);
            if (r == -2) {
                child_status(XB_ERUNTIME, "out of memory in worker");
                return;
            }
            if (r == -1) {
                child_status(XB_EINPUT, "no vector '%s' in the results of the analysis (plot %s)",
                             vec_names[j], plotname);
                return;
            }
        }
    }
    child_status(XB_OK, "%s", "");
}

/* Close every descriptor but 0, 1, 2 and keep: the child must not hold the pipes of
 * other jobs (their parent would not see EOF while this child lives) or any other
 * file of the caller. */
static void close_other_fds(int keep)
{
    for (;;) { /* in rounds of 256, until a scan finds fewer */
        DIR *d = opendir("/proc/self/fd");
        if (!d) return;
        int dfd = dirfd(d);
        int fds[256];
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d)) && n < sizeof fds / sizeof fds[0]) {
            if (!isdigit((unsigned char)e->d_name[0])) continue;
            int fd = atoi(e->d_name);
            if (fd > 2 && fd != keep && fd != dfd) fds[n++] = fd;
        }
        closedir(d);
        for (size_t k = 0; k < n; k++) close(fds[k]);
        if (n < sizeof fds / sizeof fds[0]) return;
    }
}

static int set_flags(int fd, int nonblock)
{
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0) return -1;
    if (nonblock) {
        fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
    }
    return 0;
}

void xb_engine_optran_command(const xb_engine_opts *o, char *buf, size_t n)
{
    /* "optran noopiter gminsteps srcsteps step final ramp": the first three switch the
     * usual op steps on (they override .options noopiter/gminsteps/srcsteps, so they
     * follow the options); final time 0 disables the transient fallback (ngspice
     * README.optran; checked: a floating capacitor node then gives "run simulation(s)
     * aborted" instead of a made-up operating point). */
    if (o->optran)
        snprintf(buf, n, "optran 1 %d %d 100n 10u 0", o->gminsteps > 0, o->srcsteps > 0);
    else
        snprintf(buf, n, "optran 1 %d %d 0 0 0", o->gminsteps > 0, o->srcsteps > 0);
}

int xb_engine_worker_spawn(const xb_engine_opts *o, const char *deck, size_t n_vecs,
                           const char *const *vec_names, pid_t *pid, int *fd_data, int *fd_raw)
{
    int pd[2], pr[2];
    if (pipe(pd) < 0) return -1;
    if (pipe(pr) < 0) {
        close(pd[0]);
        close(pd[1]);
        return -1;
    }
    pid_t parent = getpid();
    pid_t c = fork();
    if (c < 0) {
        int e = errno;
        close(pd[0]);
        close(pd[1]);
        close(pr[0]);
        close(pr[1]);
        errno = e;
        return -1;
    }
    if (c == 0) {
        /* child: die with the parent, print nothing to the caller's terminal */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(3);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        __fpurge(stdout); /* the parent's unflushed output is not ours to print */
        __fpurge(stderr);
        close(pd[0]);
        close(pr[0]);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, 0);
            if (devnull > 2) close(devnull);
        }
        dup2(pr[1], 1);
        dup2(pr[1], 2);
        if (pr[1] > 2) close(pr[1]);
        close_other_fds(pd[1]);
        memset(&g_child, 0, sizeof g_child);
        g_child.fd = pd[1];
        child_main(o, deck, n_vecs, vec_names);
        fflush(stdout);
        fflush(stderr);
        _exit(0);
    }
    close(pd[1]);
    close(pr[1]);
    if (set_flags(pd[0], 1) || set_flags(pr[0], 1)) {
        int e = errno;
        close(pd[0]);
        close(pr[0]);
        kill(c, SIGKILL);
        while (waitpid(c, NULL, 0) < 0 && errno == EINTR) {
        }
        errno = e;
        return -1;
    }
    *pid = c;
    *fd_data = pd[0];
    *fd_raw = pr[0];
    return 0;
}
