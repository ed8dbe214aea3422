/* The pool of ngspice worker processes (parent side): start up to n_workers jobs at
 * once, read their frames, enforce the per-job timeout, and turn every way a worker
 * can fail (crash, kill, timeout, early exit, garbled output) into an error result.
 * A failed job never stops the pool: the next queued job starts in its slot. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/engine_internal.h"

typedef struct pending {
    size_t id;
    char *deck;
    size_t n_vecs;
    char **names;
} pending;

typedef struct job {
    size_t id;
    pid_t pid;
    int fd_data, fd_raw; /* -1 after EOF */
    double t0, deadline; /* deadline 0: none */
    xb_buf in;           /* frame bytes not parsed yet */
    size_t in_pos;
    xb_engine_result *res;
    int got_status, garbled, timed_out;
} job;

enum { JOB_QUEUED = 0, JOB_RUNNING, JOB_DONE, JOB_RETURNED };

struct xb_engine_pool {
    xb_engine_opts o;
    int n_workers;
    job *slots;          /* n_workers; pid 0 = free */
    size_t n_running;
    pending *queue;      /* FIFO of jobs not started */
    size_t q_head, q_len, q_cap;
    xb_engine_result **results; /* by job id, owned until handed out */
    unsigned char *state;
    size_t n_jobs, cap_jobs;
    size_t *done;        /* FIFO of finished, not yet returned ids (completion order) */
    size_t d_head, d_len;
};

static void pending_free(pending *q)
{
    free(q->deck);
    for (size_t k = 0; k < q->n_vecs; k++) free(q->names ? q->names[k] : NULL);
    free(q->names);
    memset(q, 0, sizeof *q);
}

/* ------------------------------------------------------------------ frames */
static void parse_frames(xb_engine_pool *p, job *j)
{
    xb_engine_result *r = j->res;
    while (!j->garbled && j->in.len - j->in_pos >= 5) {
        const unsigned char *h = (const unsigned char *)j->in.p + j->in_pos;
        uint32_t len;
        memcpy(&len, h + 1, 4);
        if (j->in.len - j->in_pos - 5 < len) break;
        const char *pl = (const char *)h + 5;
        switch (h[0]) {
        case XB_FRAME_LOG:
            if (xb_buf_append(&r->log, pl, len)) j->garbled = 2;
            if (p->o.verbose) {
                fwrite(pl, 1, len, stderr);
                fflush(stderr);
            }
            break;
        case XB_FRAME_VEC: {
            uint32_t nl;
            if (len < 4) {
                j->garbled = 1;
                break;
            }
            memcpy(&nl, pl, 4);
            if (nl == 0 || nl > 4096 || (size_t)nl + 4 > len || (len - 4 - nl) % sizeof(double)) {
                j->garbled = 1;
                break;
            }
            char name[4097];
            memcpy(name, pl + 4, nl);
            name[nl] = '\0';
            size_t n = (len - 4 - nl) / sizeof(double);
            double *d = malloc((n ? n : 1) * sizeof *d);
            if (!d) {
                j->garbled = 2;
                break;
            }
            memcpy(d, pl + 4 + nl, n * sizeof *d);
            if (xb_engine_result_add_vec(r, name, d, n)) j->garbled = 2;
            free(d);
            break;
        }
        case XB_FRAME_STATUS: {
            int32_t st;
            if (len < 4 || j->got_status) {
                j->garbled = 1;
                break;
            }
            memcpy(&st, pl, 4);
            j->got_status = 1;
            if (st != XB_OK) {
                char *m = malloc(len - 4 + 1);
                if (m) {
                    memcpy(m, pl + 4, len - 4);
                    m[len - 4] = '\0';
                    xb_engine_result_fail(r, st == XB_EINPUT ? XB_EINPUT : XB_ERUNTIME, 1, "%s", m);
                    free(m);
                } else {
                    xb_engine_result_fail(r, XB_ERUNTIME, 0, "out of memory");
                }
            }
            break;
        }
        default:
            j->garbled = 1;
            break;
        }
        if (j->garbled) break;
        j->in_pos += 5 + (size_t)len;
    }
    if (j->in_pos > 0 && (j->in_pos == j->in.len || j->in_pos > (1u << 20))) {
        memmove(j->in.p, j->in.p + j->in_pos, j->in.len - j->in_pos);
        j->in.len -= j->in_pos;
        j->in_pos = 0;
    }
}

/* Read what is available on one fd; returns 1 at EOF/error, 0 otherwise. */
static int drain(xb_engine_pool *p, job *j, int is_data)
{
    char buf[65536];
    int fd = is_data ? j->fd_data : j->fd_raw;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) {
            if (is_data) {
                if (xb_buf_append(&j->in, buf, (size_t)n)) {
                    j->garbled = 2;
                    return 1;
                }
                parse_frames(p, j);
            } else {
                xb_buf_append(&j->res->log, buf, (size_t)n);
                if (p->o.verbose) {
                    fwrite(buf, 1, (size_t)n, stderr);
                    fflush(stderr);
                }
            }
            continue;
        }
        if (n == 0) return 1;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return 1;
    }
}

static void pool_mark_done(xb_engine_pool *p, size_t id, xb_engine_result *r)
{
    p->results[id] = r;
    p->state[id] = JOB_DONE;
    p->done[(p->d_head + p->d_len) % p->cap_jobs] = id;
    p->d_len++;
}

/* The job's worker is finished (both pipes closed) or must be stopped (timeout,
 * garbled output): reap it and settle its result. */
static void finish_job(xb_engine_pool *p, job *j)
{
    if (j->timed_out || j->garbled || j->fd_data >= 0 || j->fd_raw >= 0) kill(j->pid, SIGKILL);
    if (j->fd_data >= 0) close(j->fd_data);
    if (j->fd_raw >= 0) close(j->fd_raw);
    int st = 0;
    pid_t w;
    while ((w = waitpid(j->pid, &st, 0)) < 0 && errno == EINTR) {
    }
    xb_engine_result *r = j->res;
    r->seconds = xb_now_s() - j->t0;
    if (j->timed_out) {
        xb_engine_result_fail(r, XB_ERUNTIME, 1, "ngspice job timed out after %g s (worker killed)",
                              p->o.timeout_s);
    } else if (j->garbled == 2) {
        xb_engine_result_fail(r, XB_ERUNTIME, 0, "out of memory reading worker results");
    } else if (j->garbled) {
        xb_engine_result_fail(r, XB_ERUNTIME, 1, "garbled data from the ngspice worker (pid %d)",
                              (int)j->pid);
    } else if (w == j->pid && WIFSIGNALED(st) && !(j->got_status && WTERMSIG(st) == SIGKILL)) {
        int sig = WTERMSIG(st);
        xb_engine_result_fail(r, XB_ERUNTIME, 1, "ngspice worker killed by signal %d (%s)", sig,
                              strsignal(sig));
    } else if (!j->got_status) {
        if (w == j->pid && WIFEXITED(st))
            xb_engine_result_fail(r, XB_ERUNTIME, 1,
                                  "ngspice worker exited (code %d) without reporting a result",
                                  WEXITSTATUS(st));
        else
            xb_engine_result_fail(r, XB_ERUNTIME, 1, "ngspice worker ended without reporting a result");
    } else if (j->in.len != j->in_pos) {
        xb_engine_result_fail(r, XB_ERUNTIME, 1, "truncated data from the ngspice worker");
    }
    pool_mark_done(p, j->id, r);
    xb_buf_free(&j->in);
    memset(j, 0, sizeof *j);
    j->fd_data = j->fd_raw = -1;
    p->n_running--;
}

/* Start queued jobs while a slot is free. */
static void start_queued(xb_engine_pool *p)
{
    while (p->q_len > 0 && p->n_running < (size_t)p->n_workers) {
        pending *q = &p->queue[p->q_head];
        job *j = NULL;
        for (int s = 0; s < p->n_workers; s++)
            if (p->slots[s].pid == 0) {
                j = &p->slots[s];
                break;
            }
        if (!j) return;
        xb_engine_result *r = xb_engine_result_alloc();
        size_t id = q->id;
        if (!r) {
            /* no memory for a result object: the job cannot even report; retry later */
            return;
        }
        memset(j, 0, sizeof *j);
        j->id = id;
        j->res = r;
        j->t0 = xb_now_s();
        j->deadline = p->o.timeout_s > 0 ? j->t0 + p->o.timeout_s : 0;
        fflush(stderr);
        if (xb_engine_worker_spawn(&p->o, q->deck, q->n_vecs, (const char *const *)q->names, &j->pid,
                                   &j->fd_data, &j->fd_raw)) {
            xb_engine_result_fail(r, XB_ERUNTIME, 0, "cannot start an ngspice worker: %s",
                                  strerror(errno));
            memset(j, 0, sizeof *j);
            j->fd_data = j->fd_raw = -1;
            pool_mark_done(p, id, r);
        } else {
            p->state[id] = JOB_RUNNING;
            p->n_running++;
        }
        pending_free(q);
        p->q_head = (p->q_head + 1) % p->q_cap;
        p->q_len--;
    }
}

/* Wait (block) until at least one running job finishes or times out. */
static int pump(xb_engine_pool *p, xb_error *err)
{
    start_queued(p);
    if (p->n_running == 0 && p->q_len > 0 && p->d_len == 0)
        return xb_errorf(err, XB_ERUNTIME, "engine pool: out of memory starting a worker");
    size_t done_before = p->d_len;
    while (p->d_len == done_before && p->n_running > 0) {
        struct pollfd fds[2 * 64 + 2];
        struct pollfd *pf = fds;
        struct pollfd *heap = NULL;
        size_t nf = 2 * (size_t)p->n_workers;
        if (nf > sizeof fds / sizeof fds[0]) {
            heap = malloc(nf * sizeof *heap);
            if (!heap) return xb_errorf(err, XB_ERUNTIME, "out of memory");
            pf = heap;
        }
        double now = xb_now_s(), next = 0;
        int timeout_ms = -1;
        for (int s = 0; s < p->n_workers; s++) {
            job *j = &p->slots[s];
            pf[2 * s].fd = j->pid ? j->fd_data : -1;
            pf[2 * s].events = POLLIN;
            pf[2 * s].revents = 0;
            pf[2 * s + 1].fd = j->pid ? j->fd_raw : -1;
            pf[2 * s + 1].events = POLLIN;
            pf[2 * s + 1].revents = 0;
            if (j->pid && j->deadline > 0 && (next == 0 || j->deadline < next)) next = j->deadline;
        }
        if (next > 0) {
            double ms = (next - now) * 1e3;
            timeout_ms = ms < 0 ? 0 : ms > 1e9 ? 1000000000 : (int)ms + 1;
        }
        int rc = poll(pf, (nfds_t)nf, timeout_ms);
        if (rc < 0 && errno != EINTR) {
            int e = errno;
            free(heap);
            return xb_errorf(err, XB_ERUNTIME, "poll on ngspice workers failed: %s", strerror(e));
        }
        for (int s = 0; s < p->n_workers; s++) {
            job *j = &p->slots[s];
            if (!j->pid) continue;
            if (rc > 0) {
                if (j->fd_data >= 0 && pf[2 * s].revents) {
                    if (drain(p, j, 1)) {
                        close(j->fd_data);
                        j->fd_data = -1;
                    }
                }
                if (j->fd_raw >= 0 && pf[2 * s + 1].revents) {
                    if (drain(p, j, 0)) {
                        close(j->fd_raw);
                        j->fd_raw = -1;
                    }
                }
            }
            if (j->deadline > 0 && xb_now_s() >= j->deadline && (j->fd_data >= 0 || j->fd_raw >= 0))
                j->timed_out = 1;
            if (j->garbled || j->timed_out || (j->fd_data < 0 && j->fd_raw < 0)) finish_job(p, j);
        }
        free(heap);
        start_queued(p);
    }
    return XB_OK;
}

/* ------------------------------------------------------------------ public API */
const xb_engine_opts *xb_engine_pool_opts(const xb_engine_pool *p) { return &p->o; }
int xb_engine_pool_workers(const xb_engine_pool *p) { return p->n_workers; }

xb_engine_pool *xb_engine_pool_new(const xb_engine_opts *o, xb_error *err)
{
    xb_engine_pool *p = calloc(1, sizeof *p);
    if (!p) {
        xb_errorf(err, XB_ERUNTIME, "out of memory");
        return NULL;
    }
    if (o)
        p->o = *o;
    else
        xb_engine_opts_default(&p->o);
    if (p->o.n_workers < 0) {
        free(p);
        xb_errorf(err, XB_EINPUT, "engine options: n_workers must be >= 0 (got %d)", o->n_workers);
        return NULL;
    }
    if (p->o.timeout_s < 0 || p->o.timeout_s != p->o.timeout_s) {
        free(p);
        xb_errorf(err, XB_EINPUT, "engine options: timeout_s must be >= 0 (0 = none)");
        return NULL;
    }
    p->n_workers = xb_engine_opts_workers(&p->o);
    if (p->n_workers > 1024) p->n_workers = 1024;
    p->slots = calloc((size_t)p->n_workers, sizeof *p->slots);
    if (!p->slots) {
        free(p);
        xb_errorf(err, XB_ERUNTIME, "out of memory");
        return NULL;
    }
    for (int s = 0; s < p->n_workers; s++) p->slots[s].fd_data = p->slots[s].fd_raw = -1;
    return p;
}

static int grow_jobs(xb_engine_pool *p)
{
    if (p->n_jobs < p->cap_jobs) return 0;
    size_t cap = p->cap_jobs ? 2 * p->cap_jobs : 16;
    xb_engine_result **r = realloc(p->results, cap * sizeof *r);
    if (!r) return -1;
    p->results = r;
    unsigned char *st = realloc(p->state, cap);
    if (!st) return -1;
    p->state = st;
    /* ring buffers are re-linearised into the new capacity */
    size_t *d = malloc(cap * sizeof *d);
    pending *q = malloc(cap * sizeof *q);
    if (!d || !q) {
        free(d);
        free(q);
        return -1;
    }
    for (size_t k = 0; k < p->d_len; k++) d[k] = p->done[(p->d_head + k) % p->cap_jobs];
    for (size_t k = 0; k < p->q_len; k++) q[k] = p->queue[(p->q_head + k) % p->q_cap];
    free(p->done);
    free(p->queue);
    p->done = d;
    p->d_head = 0;
    p->queue = q;
    p->q_head = 0;
    p->q_cap = cap;
    p->cap_jobs = cap;
    return 0;
}

int xb_engine_pool_submit(xb_engine_pool *p, const char *deck, size_t n_vecs,
                          const char *const *vec_names, size_t *job_id, xb_error *err)
{
    if (!p || !deck) return xb_errorf(err, XB_EINPUT, "engine pool submit: NULL pool or deck");
    if (n_vecs && !vec_names)
        return xb_errorf(err, XB_EINPUT, "engine pool submit: %zu vector names but no array", n_vecs);
    for (size_t k = 0; k < n_vecs; k++)
        if (!vec_names[k] || !vec_names[k][0])
            return xb_errorf(err, XB_EINPUT, "engine pool submit: vector name #%zu is empty", k);
    if (grow_jobs(p)) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    pending q = {0};
    q.deck = strdup(deck);
    q.n_vecs = n_vecs;
    q.names = n_vecs ? calloc(n_vecs, sizeof *q.names) : NULL;
    int oom = !q.deck || (n_vecs && !q.names);
    for (size_t k = 0; !oom && k < n_vecs; k++)
        if (!(q.names[k] = strdup(vec_names[k]))) oom = 1;
    if (oom) {
        pending_free(&q);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    size_t id = p->n_jobs++;
    q.id = id;
    p->results[id] = NULL;
    p->state[id] = JOB_QUEUED;
    p->queue[(p->q_head + p->q_len) % p->q_cap] = q;
    p->q_len++;
    if (job_id) *job_id = id;
    start_queued(p);
    return XB_OK;
}

int xb_engine_pool_next(xb_engine_pool *p, size_t *job_id, xb_engine_result **r, xb_error *err)
{
    if (r) *r = NULL;
    if (!p) return xb_errorf(err, XB_EINPUT, "engine pool: NULL pool");
    if (p->d_len == 0) {
        if (p->n_running == 0 && p->q_len == 0)
            return xb_errorf(err, XB_EINPUT, "engine pool: no pending job");
        int rc = pump(p, err);
        if (rc) return rc;
        if (p->d_len == 0) return xb_errorf(err, XB_ERUNTIME, "engine pool: no job finished");
    }
    size_t id = p->done[p->d_head];
    p->d_head = (p->d_head + 1) % p->cap_jobs;
    p->d_len--;
    if (job_id) *job_id = id;
    if (r) {
        *r = p->results[id];
    } else {
        xb_engine_result_free(p->results[id]);
    }
    p->results[id] = NULL;
    p->state[id] = JOB_RETURNED;
    return XB_OK;
}

int xb_engine_pool_wait_all(xb_engine_pool *p, xb_engine_result **results, size_t n_results,
                            xb_error *err)
{
    if (!p) return xb_errorf(err, XB_EINPUT, "engine pool: NULL pool");
    if (n_results < p->n_jobs)
        return xb_errorf(err, XB_EINPUT,
                         "engine pool wait_all: results array has %zu entries, %zu jobs submitted",
                         n_results, p->n_jobs);
    if (n_results && !results) return xb_errorf(err, XB_EINPUT, "engine pool wait_all: NULL results");
    while (p->n_running > 0 || p->q_len > 0) {
        int rc = pump(p, err);
        if (rc) return rc;
    }
    for (size_t k = 0; k < n_results; k++) results[k] = NULL;
    for (size_t k = 0; k < p->n_jobs; k++) {
        if (p->state[k] == JOB_DONE) {
            results[k] = p->results[k];
            p->results[k] = NULL;
            p->state[k] = JOB_RETURNED;
        }
    }
    p->d_len = 0;
    p->d_head = 0;
    return XB_OK;
}

void xb_engine_pool_free(xb_engine_pool *p)
{
    if (!p) return;
    for (int s = 0; s < p->n_workers; s++) {
        job *j = &p->slots[s];
        if (!j->pid) continue;
        kill(j->pid, SIGKILL);
        if (j->fd_data >= 0) close(j->fd_data);
        if (j->fd_raw >= 0) close(j->fd_raw);
        while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR) {
        }
        xb_engine_result_free(j->res);
        xb_buf_free(&j->in);
    }
    for (size_t k = 0; k < p->q_len; k++) pending_free(&p->queue[(p->q_head + k) % p->q_cap]);
    for (size_t k = 0; k < p->n_jobs; k++)
        if (p->state[k] == JOB_DONE) xb_engine_result_free(p->results[k]);
    free(p->slots);
    free(p->queue);
    free(p->results);
    free(p->state);
    free(p->done);
    free(p);
}

/* ------------------------------------------------------------------ one job */
int xb_engine_run(const xb_engine_opts *o, const char *deck, size_t n_vecs,
                  const char *const *vec_names, xb_engine_result **out, xb_error *err)
{
    if (!out) return xb_errorf(err, XB_EINPUT, "xb_engine_run: NULL result pointer");
    *out = NULL;
    xb_engine_opts one;
    if (o)
        one = *o;
    else
        xb_engine_opts_default(&one);
    one.n_workers = 1;
    xb_engine_pool *p = xb_engine_pool_new(&one, err);
    if (!p) return err && err->code ? err->code : XB_ERUNTIME;
    size_t id;
    int rc = xb_engine_pool_submit(p, deck, n_vecs, vec_names, &id, err);
    if (!rc) rc = xb_engine_pool_next(p, &id, out, err);
    xb_engine_pool_free(p);
    return rc;
}
