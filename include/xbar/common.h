/*
 * xbar common definitions: status codes, the error object every stage fills,
 * matrices read from CSV, and small helpers shared by all stages.
 *
 * Convention (see docs/architecture.md): library functions return an int status
 * (XB_OK on success) and, on failure, fill a caller-supplied xb_error with a
 * one-line message that names the file, line or field at fault.  Only the CLI prints.
 */
#ifndef XBAR_COMMON_H
#define XBAR_COMMON_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes double as process exit codes (docs/cli.md). */
enum {
    XB_OK = 0,       /* success */
    XB_ERUNTIME = 1, /* runtime failure: solver, I/O, worker crash, timeout */
    XB_EINPUT = 2    /* usage error or bad input (flags, CSV, campaign, HDF5 contents) */
};

#define XB_ERROR_MSG_MAX 1024

/* printf format checking where the compiler has it (GCC, Clang); nothing elsewhere. */
#if defined(__GNUC__)
#define XB_PRINTF_FORMAT(fmt, first) __attribute__((format(printf, fmt, first)))
#else
#define XB_PRINTF_FORMAT(fmt, first)
#endif

typedef struct xb_error {
    int code;                    /* last status stored, XB_OK when clear */
    char msg[XB_ERROR_MSG_MAX];  /* one line, no trailing newline */
} xb_error;

/* Clear an error object (err may be NULL). */
void xb_error_clear(xb_error *err);

/* Store a formatted one-line message and the code; returns code so callers can
 * write `return xb_errorf(err, XB_EINPUT, "%s:%zu: ...", path, line);`.
 * err may be NULL (the message is then dropped). */
int xb_errorf(xb_error *err, int code, const char *fmt, ...) XB_PRINTF_FORMAT(3, 4);

/* Prefix an existing message with context ("reading G.csv: " ...). */
int xb_error_prefix(xb_error *err, const char *fmt, ...) XB_PRINTF_FORMAT(2, 3);

/* xbar's own version string ("0.1.0"). */
const char *xb_version(void);

/* ---- dense row-major matrices (CSV contract of docs/cli.md) ---- */
typedef struct xb_matrix {
    size_t rows, cols;
    double *data; /* rows*cols, row-major */
} xb_matrix;

xb_matrix *xb_matrix_new(size_t rows, size_t cols); /* zero-filled; NULL on OOM */
void xb_matrix_free(xb_matrix *m);
static inline double *xb_matrix_row(const xb_matrix *m, size_t i) { return m->data + i * m->cols; }

/* Read a CSV of numbers: one matrix row per non-empty line, comma separated,
 * '#' starts a comment line.  Every line must have the same number of fields.
 * Errors name path:line (and field number). */
int xb_csv_read_matrix(const char *path, xb_matrix **out, xb_error *err);

/* Same from an in-memory buffer; `name` is used in messages in place of a path. */
int xb_csv_parse_matrix(const char *text, size_t len, const char *name, xb_matrix **out,
                        xb_error *err);

/* Write a matrix as CSV with 17 significant digits (round-trips doubles), through xb_afile
 * (a failed write leaves the previous file).  path "-" or NULL writes to stdout. */
int xb_csv_write_matrix(const char *path, const xb_matrix *m, xb_error *err);
int xb_csv_fwrite_matrix(FILE *f, const xb_matrix *m);

/* ---- a write stream that keeps the errno of its first failure (src/common/atomic.c) ----
 * stdio keeps only an error flag.  The caller owns the struct (it must outlive the stream),
 * sets fd; fclose closes fd; err_no is the first write or close error (0 none). */
typedef struct xb_wstream {
    int fd;
    int err_no;
} xb_wstream;
FILE *xb_wstream_open(xb_wstream *w);

/* ---- output files that appear whole or not at all (src/common/atomic.c, docs/hardening.md) ----
 * A file is written to a temporary in its own directory, every write checked, flushed and
 * fsync'ed, then renamed over the target: a full disk, a write error or a crash never leaves
 * a truncated file and never replaces a good one.  Errors name the target and errno. */
typedef struct xb_afile xb_afile;
/* 1 if `path` is written in place rather than replaced: "-" (stdout), anything under /dev/
 * or /proc/ (/dev/stdout may lead to a regular file behind the caller's descriptor), and an
 * existing file that is not a regular file (a device, a FIFO).  Such outputs get no
 * temporary, no lock file and no derived names (FILE.png). */
int xb_output_in_place(const char *path);
/* Start writing `path`.  "-" is stdout (checked at commit, not closed); outputs of
 * xb_output_in_place (a device such as /dev/null, a FIFO, /dev/stdout) are written in place,
 * there being nothing to rename over; a symbolic link is followed (the file it names is
 * replaced, keeping its mode).  The stream is xb_afile_stream(*out). */
int xb_afile_open(const char *path, xb_afile **out, xb_error *err);
FILE *xb_afile_stream(const xb_afile *a);
/* Check every write (stream error, flush, fsync), then rename over the target; on failure
 * the temporary is removed and the target left as it was.  Frees a. */
int xb_afile_commit(xb_afile *a, xb_error *err);
/* Drop what was written (the target keeps its old contents); frees a; NULL is ignored. */
void xb_afile_abort(xb_afile *a);
/* n bytes to path through xb_afile (an HDF5 file image, a deck). */
int xb_afile_write(const char *path, const void *data, size_t n, xb_error *err);

/* A staging directory for a set of output files of one directory (plots and their data):
 * files are written (or produced by another program) in a hidden directory inside dir and
 * each moved into dir by one rename on commit; xb_stage_free drops everything not moved. */
typedef struct xb_stage xb_stage;
int xb_stage_new(const char *dir, xb_stage **out, xb_error *err);
/* The hidden staging directory, and the output directory it commits into. */
const char *xb_stage_path(const xb_stage *s);
const char *xb_stage_dir(const xb_stage *s);
/* Open `name` in the stage for writing; keep: moved to dir/name on commit (else scratch). */
int xb_stage_fopen(xb_stage *s, const char *name, int keep, FILE **f, xb_error *err);
/* Checked close of a stream of xb_stage_fopen (error names dir/name and errno). */
int xb_stage_fclose(xb_stage *s, FILE *f, xb_error *err);
/* A file another program wrote into the stage (it must exist), moved to dir/final on commit. */
int xb_stage_keep(xb_stage *s, const char *name, const char *final_name, xb_error *err);
/* fsync and move every kept file into dir, then remove the stage; frees s. */
int xb_stage_commit(xb_stage *s, xb_error *err);
/* Remove the stage and everything still in it; frees s; NULL is ignored. */
void xb_stage_free(xb_stage *s);

/* ---- one writer per output at a time (src/common/lock.c) ----
 * An exclusive, non-blocking flock(2) on `path`.lock, which holds the holder's pid.  A second
 * xbar writing the same output refuses at once: XB_ERUNTIME, "path: in use by another xbar
 * process (pid N; lock path.lock)".  The kernel drops the lock when its holder dies (kill -9
 * included); the file is removed on release.  Outputs written in place (xb_output_in_place:
 * devices, /dev/stdout) are not locked: *out is NULL and XB_OK. */
typedef struct xb_lock xb_lock;
int xb_lock_output(const char *path, xb_lock **out, xb_error *err);
void xb_lock_release(xb_lock *l);

/* ---- strict number parsing for flags and fields ---- */
/* Parse a whole string as a finite double / a non-negative integer; returns XB_OK
 * or XB_EINPUT with a message naming `what` (e.g. "--rows"). */
int xb_parse_double(const char *s, const char *what, double *out, xb_error *err);
int xb_parse_size(const char *s, const char *what, size_t *out, xb_error *err);
int xb_parse_long(const char *s, const char *what, long *out, xb_error *err);

/* ---- physical limits of every number xbar reads (src/common/limits.c) ----
 * One table: each quantity has an admissible range and the reason for it (docs/hardening.md
 * "Limits").  Every reader of numbers (CSV G/V, flags and campaign keys through
 * xb_array_params_check, results, model and network files, the fitter's samples) checks
 * against it, so that NaN, Inf and absurd magnitudes are refused where they enter, with a
 * message naming the file, dataset and index. */
typedef enum {
    XB_QTY_CONDUCTANCE = 0, /* S */
    XB_QTY_VOLTAGE,         /* V, signed */
    XB_QTY_RESISTANCE,      /* ohm */
    XB_QTY_CAPACITANCE,     /* F */
    XB_QTY_TIME,            /* s */
    XB_QTY_CURRENT,         /* A, signed */
    XB_QTY_WEIGHT,          /* network weights and biases (dimensionless), signed */
    XB_QTY_COUNT            /* number of quantities, not a quantity */
} xb_quantity;

typedef struct xb_limit {
    const char *name;   /* "conductance" */
    const char *unit;   /* "S" ("" for dimensionless) */
    double lo, hi;      /* admissible closed range */
    const char *reason; /* why (one sentence, for docs and --help) */
} xb_limit;

/* The row of quantity q (NULL when q is not a quantity). */
const xb_limit *xb_limit_get(xb_quantity q);
/* The quantity whose unit is `unit` ("S", "V", "ohm", "F", "s", "A"); XB_EINPUT (no
 * error filled) for other units. */
int xb_limit_from_unit(const char *unit, xb_quantity *q);
/* Check one value: XB_OK, or XB_EINPUT with "WHERE: not finite" / "WHERE: 2e+300 S is
 * outside the conductance limits [0, 1] S". */
int xb_check_value(xb_quantity q, double v, const char *where, xb_error *err);
/* Check n values (doubles or floats): the message names the first bad one as WHERE[k]. */
int xb_check_values(xb_quantity q, const double *v, size_t n, const char *where, xb_error *err);
int xb_check_floats(xb_quantity q, const float *v, size_t n, const char *where, xb_error *err);
/* Finite only (quantities without a physical range: ratios, metrics): "WHERE[k]: not finite". */
int xb_check_finite(const double *v, size_t n, const char *where, xb_error *err);

/* ---- memory budget (docs/cli.md "Memory limit") ----
 * Commands estimate the memory a request needs before allocating it and refuse requests
 * above the limit: $XBAR_MAX_MEMORY (bytes, or with a K, M, G or T suffix: powers of 1024)
 * when set, otherwise half of the physical memory (sysconf). */
int xb_memory_limit(double *bytes, xb_error *err);
/* XB_OK when `bytes` fits the limit; otherwise XB_EINPUT with "WHAT: needs about 12.3 GiB
 * of memory, more than the limit of 11.5 GiB (--max-memory or XBAR_MAX_MEMORY ...)". */
int xb_memory_check(double bytes, const char *what, xb_error *err);
/* "8G", "512M", "1.5T", "4GiB", "1073741824" (K, M, G, T: powers of 1024) -> bytes > 0;
 * XB_EINPUT "WHAT: expected a size in bytes ..." otherwise. */
int xb_parse_bytes(const char *s, const char *what, double *out, xb_error *err);
/* "12.3 GiB" / "512 MiB" / "80 KiB" / "100 B" into buf. */
void xb_format_bytes(double bytes, char *buf, size_t n);

/* splitmix64 (Steele, Lea & Flood, OOPSLA 2014), behind every seeded stream and derived seed
 * outside GSL: xb_splitmix64 advances the state *s by the golden gamma and returns the mixed
 * new state; xb_hash64 is the mixer alone (a seed from a key). */
#define XB_SPLITMIX64_GAMMA 0x9E3779B97F4A7C15ull
static inline uint64_t xb_hash64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline uint64_t xb_splitmix64(uint64_t *s) { return xb_hash64(*s += XB_SPLITMIX64_GAMMA); }
/* Uniform on [0, 1) from the top 53 bits of the next output. */
static inline double xb_splitmix64_uniform(uint64_t *s) { return (double)(xb_splitmix64(s) >> 11) * 0x1.0p-53; }
/* A standard normal from two 64-bit words (Box-Muller on their top 53 bits, each offset by
 * half a step, so never log(0)). */
static inline double xb_gauss_from_bits(uint64_t a, uint64_t b)
{
    double u1 = ((double)(a >> 11) + 0.5) * 0x1.0p-53, u2 = ((double)(b >> 11) + 0.5) * 0x1.0p-53;
    /* 2 pi as a literal: M_PI is not ISO C (this header compiles with -std=c11 alone) */
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925286766559 * u2);
}

/* Monotonic wall clock in seconds. */
double xb_now_s(void);

/* BLAS threads (OpenBLAS): the per-tile GEMMs of the executor and the fast-form fits are
 * small, and OpenBLAS's worker threads cost more than they give there (on a loaded machine
 * several times the work itself, in sched_yield).  xb_blas_serial_begin switches the library
 * to one thread and returns the previous count, xb_blas_serial_end restores it. The count is
 * process-wide: callers that run BLAS in other threads at the same time see it too. */
int xb_blas_serial_begin(void);
void xb_blas_serial_end(int previous);
/* The same for a chosen count (training: xb_train_opts.threads): n >= 1 switches to n
 * threads (0 leaves the count as is); returns the previous count for xb_blas_threads_end. */
int xb_blas_threads_begin(int n);
/* The library's thread count now (what a caller's own worker threads take as theirs). */
int xb_blas_threads(void);
void xb_blas_threads_end(int previous);

/* Worker threads for short parallel loops, kept between loops (one set per owner, no
 * global state).  xb_workers_new(n): n workers, the caller's thread one of them (n - 1
 * threads; fewer when a thread cannot start: count says how many); NULL when out of memory.
 * xb_workers_run(w, fn, arg) calls fn(arg, tid, count) on every worker, tid 0 in the
 * caller's thread, and returns when all have returned; w NULL: fn(arg, 0, 1) here.  A loop
 * that splits its work by tid into fixed chunks gives the same result for any count. */
typedef struct xb_workers xb_workers;
xb_workers *xb_workers_new(size_t n);
void xb_workers_free(xb_workers *w);
size_t xb_workers_count(const xb_workers *w);
void xb_workers_run(xb_workers *w, void (*fn)(void *arg, size_t tid, size_t n), void *arg);

#ifdef __cplusplus
}
#endif
#endif /* XBAR_COMMON_H */
