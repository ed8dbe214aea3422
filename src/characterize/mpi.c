/* MPI scale-out of a campaign (include/xbar/char_mpi.h, docs/cluster.md).  Compiled to
 * nothing unless the build has -DXBAR_MPI=ON.
 *
 * Protocol (rank 0 = the owner of the results file):
 *   1. xb_char_internal_prepare on rank 0 (open/create the file, resume: list the points not
 *      done); broadcast {status, run number, points to run, timeout}.
 *   2. Rank 0 loops: starts its own point processes (as xb_char_run does), answers work
 *      requests (TAG_REQ -> TAG_WORK with a point index, or -1 when the queue is empty),
 *      receives finished points (TAG_RESULT: index, wait status, the scratch file's bytes),
 *      writes each to <out>.parts/pNNNNN.h5 and moves it into the results file with the
 *      serial code (xb_char_internal_collect_point).
 *   3. A worker rank keeps `par` point processes busy, each computing into a scratch file in
 *      $TMPDIR (node-local), and ships each finished file to rank 0.
 * A point is computed by the same function with the same seed whatever rank runs it, so
 * the datasets equal those of a serial run. */
#ifdef XBAR_MPI

#include <errno.h>
#include <mpi.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "characterize/run_internal.h"
#include "xbar/char_mpi.h"
#include "xbar/characterize.h"
#include "xbar/h5.h"

enum { TAG_REQ = 11, TAG_WORK = 12, TAG_RESULT = 13 };

int xb_char_mpi_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_SIZE");
}

int xb_char_mpi_init(int *argc, char ***argv, int *rank, int *size, xb_error *err)
{
    if (MPI_Init(argc, argv) != MPI_SUCCESS) return xb_errorf(err, XB_ERUNTIME, "MPI_Init failed");
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    return XB_OK;
}

void xb_char_mpi_finalize(void)
{
    MPI_Finalize();
}

void xb_char_mpi_abort(int code)
{
    MPI_Abort(MPI_COMM_WORLD, code);
}

int xb_char_mpi_campaign_load(const char *path, xb_campaign **out, xb_error *err)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    *out = NULL;
    int64_t hdr[2] = {0, 0}; /* status, text length */
    xb_campaign *c = NULL;
    if (rank == 0) {
        int rc = xb_char_campaign_load(path, &c, err);
        hdr[0] = rc;
        hdr[1] = rc ? 0 : (int64_t)strlen(xb_char_campaign_text(c)) + 1;
    }
    MPI_Bcast(hdr, 2, MPI_INT64_T, 0, MPI_COMM_WORLD);
    if (hdr[0]) {
        if (rank) xb_errorf(err, (int)hdr[0], "%s: rank 0 could not load the campaign", path);
        return (int)hdr[0];
    }
    char *text = rank == 0 ? (char *)xb_char_campaign_text(c) : malloc((size_t)hdr[1]);
    if (!text) MPI_Abort(MPI_COMM_WORLD, XB_ERUNTIME);
    MPI_Bcast(text, (int)hdr[1], MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rank) {
        int rc = xb_char_campaign_parse(text, path, &c, err);
        free(text);
        if (rc) return rc;
    }
    *out = c;
    return XB_OK;
}


static int read_file(const char *path, char **buf, size_t *n)
{
    *buf = NULL;
    *n = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    if (fseek(fp, 0, SEEK_END) != 0) {
        fclose(fp);
        return -1;
    }
    long sz = ftell(fp);
    rewind(fp);
    if (sz < 0) {
        fclose(fp);
        return -1;
    }
    char *b = malloc((size_t)sz + 1);
    if (!b || fread(b, 1, (size_t)sz, fp) != (size_t)sz) {
        free(b);
        fclose(fp);
        return -1;
    }
    fclose(fp);
    *buf = b;
    *n = (size_t)sz;
    return 0;
}

static int write_file(const char *path, const char *buf, size_t n, xb_error *err)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return xb_errorf(err, XB_ERUNTIME, "%s: cannot create: %s", path, strerror(errno));
    size_t w = fwrite(buf, 1, n, fp);
    int bad = w != n;
    if (fclose(fp) != 0) bad = 1;
    if (bad) {
        unlink(path);
        return xb_errorf(err, XB_ERUNTIME, "%s: cannot write a received point: %s", path, strerror(errno));
    }
    return XB_OK;
}

typedef struct {
    pid_t pid;
    size_t k;
    double t0;
} mflight;

static pid_t start_point(const xb_campaign *c, size_t k, const char *base, const xb_engine_opts *eo)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) xb_char_internal_point_child(c, k, base, eo); /* does not return */
    return pid;
}

/* ------------------------------------------------------------------ worker ranks */
static int worker(const xb_campaign *c, const xb_char_run_opts *o, size_t ntodo, double timeout_s,
                  xb_char_run_stats *st, xb_error *err)
{
    xb_engine_opts eo;
    int par;
    xb_char_internal_setup(c, o, ntodo, &eo, &par);
    eo.timeout_s = timeout_s;
    const char *tmp = getenv("TMPDIR");
    char dir[4096], base[4200], parts[4300];
    snprintf(dir, sizeof dir, "%s/xbar-mpi-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int rc = XB_OK;
    if (!mkdtemp(dir)) rc = xb_errorf(err, XB_ERUNTIME, "%s: cannot create a scratch directory: %s", dir, strerror(errno));
    snprintf(base, sizeof base, "%s/r", dir);
    snprintf(parts, sizeof parts, "%s.parts", base);
    if (!rc && mkdir(parts, 0777) != 0) rc = xb_errorf(err, XB_ERUNTIME, "%s: cannot create: %s", parts, strerror(errno));
    mflight *fl = calloc((size_t)par, sizeof *fl);
    if (!fl && !rc) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    int stopped = 0, running = 0;
    /* an error here (no scratch directory) returns at once: the caller aborts the MPI job */
    while (!rc) {
        while (!stopped && running < par) {
            int me = 0;
            MPI_Send(&me, 1, MPI_INT, 0, TAG_REQ, MPI_COMM_WORLD);
            int64_t k = -1;
            MPI_Recv(&k, 1, MPI_INT64_T, 0, TAG_WORK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            if (k < 0) {
                stopped = 1;
                break;
            }
            int slot = 0;
            while (fl[slot].pid) slot++;
            pid_t pid = start_point(c, (size_t)k, base, &eo);
            if (pid < 0) {
                /* report the point as failed (no result) rather than losing it */
                int64_t hdr[2] = {k, (int64_t)(1 << 8) * 127};
                MPI_Send(hdr, (int)sizeof hdr, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
                continue;
            }
            fl[slot] = (mflight){pid, (size_t)k, 0};
            running++;
        }
        if (!running) break;
        int ws = 0;
        pid_t pid = waitpid(-1, &ws, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            rc = xb_errorf(err, XB_ERUNTIME, "waitpid: %s", strerror(errno));
            break;
        }
        int slot = 0;
        while (slot < par && fl[slot].pid != pid) slot++;
        if (slot == par) continue;
        const xb_char_point *P = xb_char_campaign_point(c, fl[slot].k);
        char path[4400];
        xb_char_internal_part_path(base, P->name, path, sizeof path);
        char *bytes = NULL;
        size_t nb = 0;
        read_file(path, &bytes, &nb);
        unlink(path);
        size_t total = 2 * sizeof(int64_t) + nb;
        if (total > (size_t)INT32_MAX) {
            /* larger than one MPI message: send no result (rank 0 records the point failed) */
            free(bytes);
            bytes = NULL;
            nb = 0;
            total = 2 * sizeof(int64_t);
            ws = (int)(1 << 8) * 126;
        }
        char *msg = malloc(total);
        if (!msg) {
            free(bytes);
            rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
            break;
        }
        int64_t hdr[2] = {(int64_t)fl[slot].k, (int64_t)ws};
        memcpy(msg, hdr, sizeof hdr);
        if (nb) memcpy(msg + sizeof hdr, bytes, nb);
        free(bytes);
        MPI_Send(msg, (int)total, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
        free(msg);
        st->ran++;
        if (!(WIFEXITED(ws) && WEXITSTATUS(ws) == 0)) st->failed++;
        fl[slot].pid = 0;
        running--;
    }
    if (fl)
        for (int s = 0; s < par; s++)
            if (fl[s].pid) {
                kill(fl[s].pid, SIGKILL);
                waitpid(fl[s].pid, NULL, 0);
            }
    free(fl);
    xb_char_internal_clean_dir(parts, 1);
    rmdir(dir);
    return rc;
}

/* ------------------------------------------------------------------ rank 0 */
typedef struct {
    const xb_campaign *c;
    const char *out;
    const xb_char_run_opts *o;
    xb_char_run_stats *st;
    xb_char_progress *pr;
    size_t ntodo;
    double t_start;
} owner_ctx;

/* Move finished point k (computed on rank src) into the results file; report progress. */
static int owner_collect(owner_ctx *x, size_t k, int ws, double point_s, int src, xb_error *err)
{
    const xb_char_point *P = xb_char_campaign_point(x->c, k);
    int ok = 0;
    char msg[XB_ERROR_MSG_MAX];
    double el = 0;
    int rc = xb_char_internal_collect_point(x->out, P, ws, x->st->run_number, &ok, msg, sizeof msg, &el, err);
    if (!rc) {
        /* provenance: the rank that computed the point */
        hid_t f;
        char pth[96];
        snprintf(pth, sizeof pth, "points/%s", P->name);
        rc = xb_h5_open(x->out, 1, &f, err);
        if (!rc) {
            rc = xb_h5_attr_set_int64(f, pth, "mpi_rank", src, err);
            int rc2 = xb_h5_close(f, err);
            if (!rc) rc = rc2;
        }
    }
    x->st->ran++;
    if (!ok) x->st->failed++;
    xb_char_progress *pr = x->pr;
    pr->done = x->st->ran;
    pr->failed = x->st->failed;
    pr->point = P->name;
    pr->key = P->key;
    pr->status = ok ? XB_OK : XB_ERUNTIME;
    pr->message = ok ? "" : msg;
    pr->point_s = point_s;
    pr->elapsed_s = xb_now_s() - x->t_start;
    pr->eta_s = pr->elapsed_s / (double)pr->done * (double)(x->ntodo - pr->done);
    if (x->o->progress) x->o->progress(x->o->user, pr);
    return rc;
}

static int owner(const xb_campaign *c, const char *out, const xb_char_run_opts *o, size_t *todo, size_t ntodo,
                 xb_char_run_stats *st, double timeout_s, int size, xb_error *err)
{
    const size_t n = xb_char_campaign_npoints(c);
    xb_engine_opts eo;
    int par;
    xb_char_internal_setup(c, o, ntodo, &eo, &par);
    eo.timeout_s = timeout_s;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s.parts", out);
    xb_char_internal_clean_dir(dir, 0);
    int rc = XB_OK;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        rc = xb_errorf(err, XB_ERUNTIME, "%s: cannot create: %s", dir, strerror(errno));

    xb_char_progress pr = {0};
    pr.total = n;
    pr.skipped = st->skipped;
    pr.to_run = ntodo;
    pr.eta_s = -1;
    pr.message = "";
    owner_ctx x = {c, out, o, st, &pr, ntodo, xb_now_s()};
    if (o->progress) o->progress(o->user, &pr);

    mflight *fl = calloc((size_t)par, sizeof *fl);
    double *t_sent = calloc(n ? n : 1, sizeof *t_sent);
    if ((!fl || !t_sent) && !rc) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    size_t next = 0, remote = 0;
    int running = 0, active = size - 1;
    char part[4200];
    while (!rc && (next < ntodo || running || remote || active)) {
        int busy = 0;
        while (next < ntodo && running < par) {
            int slot = 0;
            while (fl[slot].pid) slot++;
            pid_t pid = start_point(c, todo[next], out, &eo);
            if (pid < 0) {
                rc = xb_errorf(err, XB_ERUNTIME, "fork: %s", strerror(errno));
                break;
            }
            fl[slot] = (mflight){pid, todo[next], xb_now_s()};
            next++;
            running++;
            busy = 1;
        }
        if (rc) break;
        int flag = 0;
        MPI_Status ms;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &ms);
        if (flag && ms.MPI_TAG == TAG_REQ) {
            int dummy;
            MPI_Recv(&dummy, 1, MPI_INT, ms.MPI_SOURCE, TAG_REQ, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            int64_t k = -1;
            if (next < ntodo) {
                k = (int64_t)todo[next++];
                t_sent[k] = xb_now_s();
                remote++;
            } else {
                active--;
            }
            MPI_Send(&k, 1, MPI_INT64_T, ms.MPI_SOURCE, TAG_WORK, MPI_COMM_WORLD);
            busy = 1;
        } else if (flag && ms.MPI_TAG == TAG_RESULT) {
            int nbytes = 0;
            MPI_Get_count(&ms, MPI_BYTE, &nbytes);
            char *buf = malloc(nbytes > 0 ? (size_t)nbytes : 1);
            if (!buf) {
                rc = xb_errorf(err, XB_ERUNTIME, "out of memory receiving a point of %d bytes", nbytes);
                break;
            }
            MPI_Recv(buf, nbytes, MPI_BYTE, ms.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            int64_t hdr[2] = {-1, 0};
            if (nbytes >= (int)sizeof hdr) memcpy(hdr, buf, sizeof hdr);
            if (hdr[0] < 0 || (size_t)hdr[0] >= n) {
                free(buf);
                rc = xb_errorf(err, XB_ERUNTIME, "rank %d sent a result for no point (index %lld)", ms.MPI_SOURCE,
                               (long long)hdr[0]);
                break;
            }
            const xb_char_point *P = xb_char_campaign_point(c, (size_t)hdr[0]);
            xb_char_internal_part_path(out, P->name, part, sizeof part);
            size_t nb = (size_t)nbytes - sizeof hdr;
            if (nb) rc = write_file(part, buf + sizeof hdr, nb, err);
            free(buf);
            remote--;
            if (!rc) rc = owner_collect(&x, (size_t)hdr[0], (int)hdr[1], xb_now_s() - t_sent[hdr[0]], ms.MPI_SOURCE, err);
            busy = 1;
        } else if (flag) {
            rc = xb_errorf(err, XB_ERUNTIME, "rank %d sent an unexpected message (tag %d)", ms.MPI_SOURCE, ms.MPI_TAG);
            break;
        }
        if (running) {
            int ws = 0;
            pid_t pid = waitpid(-1, &ws, WNOHANG);
            if (pid < 0 && errno != EINTR) {
                rc = xb_errorf(err, XB_ERUNTIME, "waitpid: %s", strerror(errno));
                break;
            }
            if (pid > 0) {
                int slot = 0;
                while (slot < par && fl[slot].pid != pid) slot++;
                if (slot < par) {
                    fl[slot].pid = 0;
                    running--;
                    rc = owner_collect(&x, fl[slot].k, ws, xb_now_s() - fl[slot].t0, 0, err);
                }
                busy = 1;
            }
        }
        if (!busy) usleep(2000);
    }
    if (fl)
        for (int s = 0; s < par; s++)
            if (fl[s].pid) {
                kill(fl[s].pid, SIGKILL);
                waitpid(fl[s].pid, NULL, 0);
            }
    free(fl);
    free(t_sent);
    xb_char_internal_clean_dir(dir, 1);
    if (!rc) rc = xb_char_internal_finish(c, out, err);
    return rc;
}

int xb_char_run_mpi(const xb_campaign *c, const char *out_path, const xb_char_run_opts *o,
                    xb_char_run_stats *stats, xb_error *err)
{
    xb_char_run_opts dflt = {0};
    if (!o) o = &dflt;
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    xb_char_run_stats st = {0};
    st.total = xb_char_campaign_npoints(c);
    size_t *todo = NULL, ntodo = 0;
    int64_t hdr[3] = {0, 0, 0}; /* status, run number, points to run */
    double timeout_s = o->timeout_s > 0 ? o->timeout_s : xb_char_campaign_timeout_s(c);
    xb_lock *lock = NULL; /* rank 0 writes the file: one run per results file (xb_char_run) */
    if (rank == 0) {
        int rc = xb_lock_output(out_path, &lock, err);
        if (!rc) rc = xb_char_internal_prepare(c, out_path, o, &todo, &ntodo, &st, err);
        hdr[0] = rc;
        hdr[1] = (int64_t)st.run_number;
        hdr[2] = (int64_t)ntodo;
    }
    MPI_Bcast(hdr, 3, MPI_INT64_T, 0, MPI_COMM_WORLD);
    MPI_Bcast(&timeout_s, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (hdr[0]) {
        if (rank) xb_errorf(err, (int)hdr[0], "%s: rank 0 could not prepare the results file", out_path);
        free(todo);
        xb_lock_release(lock);
        return (int)hdr[0];
    }
    int rc;
    if (rank == 0) {
        rc = owner(c, out_path, o, todo, ntodo, &st, timeout_s, size, err);
    } else {
        st.run_number = (size_t)hdr[1];
        rc = worker(c, o, (size_t)hdr[2], timeout_s, &st, err);
    }
    free(todo);
    xb_lock_release(lock);
    if (stats) *stats = st;
    return rc;
}

#else
/* built without MPI (-DXBAR_MPI=OFF): nothing here */
typedef int xb_char_mpi_disabled;
#endif /* XBAR_MPI */
