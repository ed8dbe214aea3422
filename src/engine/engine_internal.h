/* Private interface of the libngspice part of the engine stage (worker processes,
 * results, pool).  Not installed; only the engine sources include it. */
#ifndef XB_ENGINE_INTERNAL_H
#define XB_ENGINE_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

#include "xbar/engine.h"

/* A growable byte buffer (always NUL-terminated when len > 0 or after xb_buf_puts). */
typedef struct xb_buf {
    char *p;
    size_t len, cap;
} xb_buf;

int xb_buf_append(xb_buf *b, const void *data, size_t n); /* 0 ok, -1 out of memory */
int xb_buf_puts(xb_buf *b, const char *s);
int xb_buf_printf(xb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xb_buf_free(xb_buf *b);

/* ---- results (result.c) ---- */
struct xb_engine_result {
    int status;      /* XB_OK or the job's failure */
    char *error;     /* one line, "" when ok */
    xb_buf log;      /* everything ngspice printed */
    size_t nvecs, capvecs;
    char **names;    /* ngspice vector names ("mid", "v1#branch") */
    double **data;
    size_t *lens;
    double seconds;
};

xb_engine_result *xb_engine_result_alloc(void);
int xb_engine_result_add_vec(xb_engine_result *r, const char *name, const double *data, size_t n);
/* Set status and a one-line error; the tail of the log is appended when quote_log. */
void xb_engine_result_fail(xb_engine_result *r, int status, int quote_log, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Map a requested vector name to ngspice's: "v(x)" -> "x", "i(x)" -> "x#branch",
 * anything else unchanged; lower-cased.  Returns 0, or -1 if it does not fit in n. */
int xb_engine_vec_canonical(const char *name, char *buf, size_t n);

/* ---- worker process (worker.c) ---- */
/* Wire protocol on the data pipe, child -> parent; every frame is
 *   1 byte kind, uint32 payload length, payload:
 *   'L' log text (one ngspice line incl. '\n'),
 *   'V' uint32 name length, name, then the doubles of the vector,
 *   'S' int32 status, then the one-line message (final frame). */
enum { XB_FRAME_LOG = 'L', XB_FRAME_VEC = 'V', XB_FRAME_STATUS = 'S' };

/* Start a worker for one deck: fork, the child runs ngspice and writes frames to
 * *fd_data and anything printed on its stdout/stderr to *fd_raw (both read ends,
 * non-blocking, close-on-exec).  Returns 0 or -1 (errno set). */
int xb_engine_worker_spawn(const xb_engine_opts *o, const char *deck, size_t n_vecs,
                           const char *const *vec_names, pid_t *pid, int *fd_data, int *fd_raw);

/* The ngspice command that sets the optran fallback from o ("\n"-less), into buf. */
void xb_engine_optran_command(const xb_engine_opts *o, char *buf, size_t n);

/* Workers (processes of a pool, threads of the native write solver) for options o:
 * o->n_workers, or the online cores when it is 0 (or o is NULL) (result.c). */
int xb_engine_opts_workers(const xb_engine_opts *o);

/* The options a pool was made with (pool.c). */
const xb_engine_opts *xb_engine_pool_opts(const xb_engine_pool *p);
int xb_engine_pool_workers(const xb_engine_pool *p); /* resolved worker count */

/* Remove .control ... .endc blocks (the in-process run issues its own commands);
 * malloc'ed copy or NULL on OOM. */
char *xb_engine_strip_control(const char *deck);

#endif
