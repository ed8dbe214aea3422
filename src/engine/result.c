/* Engine results: vectors copied out of a worker, the job's ngspice log and its
 * status; plus the options every ngspice deck of xbar carries. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "engine/engine_internal.h"

/* ------------------------------------------------------------------ buffers */
int xb_buf_append(xb_buf *b, const void *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int xb_buf_puts(xb_buf *b, const char *s) { return xb_buf_append(b, s, strlen(s)); }

int xb_buf_printf(xb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if (xb_buf_append(b, "", 0) || b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void xb_buf_free(xb_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ------------------------------------------------------------------ options */
int xb_engine_opts_workers(const xb_engine_opts *o)
{
    if (o && o->n_workers > 0) return o->n_workers;
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    return nc > 0 ? (int)nc : 1;
}

void xb_engine_opts_default(xb_engine_opts *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->n_workers = 0;      /* number of online cores */
    o->timeout_s = 600;    /* a 64x64 .dc batch of 32 vectors takes ~10 s on 2 loaded cores */
    o->verbose = 0;
    /* ngspice defaults are reltol 1e-3, abstol 1e-12 A, vntol 1e-6 V (ngspice manual,
     * section ".options", "DC solution options").  Tightened so that linear circuits
     * reach 1e-9 relative accuracy: Newton stops when successive iterates differ by
     * less than reltol*|x| + vntol (abstol for currents); a linear circuit converges in
     * the second iteration to round-off, so the tight values cost no extra iterations
     * (docs/engine.md, measured by tests/test_engine.c). */
    o->reltol = 1e-9;
    o->abstol_amp = 1e-18;
    o->vntol_volt = 1e-12;
    o->gmin_siemens = 1e-12; /* ngspice default gmin (manual, ".options") */
    o->itl1 = 200;           /* DC iteration limit; ngspice default 100 */
    o->gminsteps = 10;       /* ngspice default number of gmin steps (manual, ".options") */
    o->srcsteps = 10;        /* source-stepping steps (itl6); ngspice default 1 */
}

char *xb_engine_options_card(const xb_engine_opts *o)
{
    xb_engine_opts d;
    if (!o) {
        xb_engine_opts_default(&d);
        o = &d;
    }
    xb_buf b = {0};
    if (xb_buf_printf(&b, ".options reltol=%.12g abstol=%.12g vntol=%.12g gmin=%.12g", o->reltol,
                      o->abstol_amp, o->vntol_volt, o->gmin_siemens))
        goto oom;
    if (o->itl1 > 0 && xb_buf_printf(&b, " itl1=%d", o->itl1)) goto oom;
    if (o->gminsteps > 0 && xb_buf_printf(&b, " gminsteps=%d", o->gminsteps)) goto oom;
    if (o->srcsteps > 0 && xb_buf_printf(&b, " srcsteps=%d", o->srcsteps)) goto oom;
    if (xb_buf_puts(&b, "\n")) goto oom;
    return b.p;
oom:
    xb_buf_free(&b);
    return NULL;
}

/* ------------------------------------------------------------------ results */
xb_engine_result *xb_engine_result_alloc(void)
{
    xb_engine_result *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->error = strdup("");
    if (!r->error || xb_buf_puts(&r->log, "")) {
        free(r->error);
        free(r);
        return NULL;
    }
    return r;
}

int xb_engine_result_add_vec(xb_engine_result *r, const char *name, const double *data, size_t n)
{
    if (r->nvecs == r->capvecs) {
        size_t cap = r->capvecs ? 2 * r->capvecs : 8;
        char **nn = realloc(r->names, cap * sizeof *nn);
        if (!nn) return -1;
        r->names = nn;
        double **dd = realloc(r->data, cap * sizeof *dd);
        if (!dd) return -1;
        r->data = dd;
        size_t *ll = realloc(r->lens, cap * sizeof *ll);
        if (!ll) return -1;
        r->lens = ll;
        r->capvecs = cap;
    }
    char *nm = strdup(name);
    double *d = malloc((n ? n : 1) * sizeof *d);
    if (!nm || !d) {
        free(nm);
        free(d);
        return -1;
    }
    if (n) memcpy(d, data, n * sizeof *d);
    r->names[r->nvecs] = nm;
    r->data[r->nvecs] = d;
    r->lens[r->nvecs] = n;
    r->nvecs++;
    return 0;
}

/* The last few non-empty lines of the log, joined with " | ", at most ~400 chars. */
static void log_tail(const char *log, char *out, size_t n)
{
    out[0] = '\0';
    if (!log || !*log || n < 8) return;
    const char *end = log + strlen(log);
    const char *starts[4];
    size_t lens[4];
    int nl = 0;
    const char *p = end;
    while (p > log && nl < 4) {
        const char *e = p;
        while (e > log && (e[-1] == '\n' || e[-1] == '\r')) e--;
        const char *s = e;
        while (s > log && s[-1] != '\n') s--;
        p = s;
        /* skip blank lines */
        const char *q = s;
        while (q < e && isspace((unsigned char)*q)) q++;
        if (q == e) continue;
        starts[nl] = q;
        lens[nl] = (size_t)(e - q);
        nl++;
    }
    size_t used = 0;
    for (int k = nl - 1; k >= 0; k--) {
        size_t len = lens[k] > 160 ? 160 : lens[k];
        int w = snprintf(out + used, n - used, "%s%.*s", used ? " | " : "", (int)len, starts[k]);
        if (w < 0 || (size_t)w >= n - used) break;
        used += (size_t)w;
    }
    for (char *c = out; *c; c++)
        if (*c == '\t' || *c == '\n' || *c == '\r') *c = ' ';
}

void xb_engine_result_fail(xb_engine_result *r, int status, int quote_log, const char *fmt, ...)
{
    char msg[768], tail[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tail[0] = '\0';
    if (quote_log) log_tail(r->log.p, tail, sizeof tail);
    size_t need = strlen(msg) + strlen(tail) + 32;
    char *e = malloc(need);
    if (e) {
        if (tail[0])
            snprintf(e, need, "%s; ngspice log: %s", msg, tail);
        else
            snprintf(e, need, "%s", msg);
        for (char *c = e; *c; c++)
            if (*c == '\n' || *c == '\r') *c = ' ';
        free(r->error);
        r->error = e;
    }
    r->status = status ? status : XB_ERUNTIME;
}

int xb_engine_result_status(const xb_engine_result *r) { return r ? r->status : XB_EINPUT; }
const char *xb_engine_result_error(const xb_engine_result *r)
{
    return r && r->error ? r->error : "no result";
}
const char *xb_engine_result_log(const xb_engine_result *r) { return r && r->log.p ? r->log.p : ""; }
size_t xb_engine_result_nvecs(const xb_engine_result *r) { return r ? r->nvecs : 0; }
const char *xb_engine_result_vec_name(const xb_engine_result *r, size_t k)
{
    return r && k < r->nvecs ? r->names[k] : NULL;
}
double xb_engine_result_seconds(const xb_engine_result *r) { return r ? r->seconds : 0; }

int xb_engine_vec_canonical(const char *name, char *buf, size_t n)
{
    size_t len = strlen(name);
    const char *s = name;
    const char *suffix = "";
    if (len > 3 && name[len - 1] == ')' && name[1] == '(' &&
        (name[0] == 'v' || name[0] == 'V' || name[0] == 'i' || name[0] == 'I')) {
        if (name[0] == 'i' || name[0] == 'I') suffix = "#branch";
        s = name + 2;
        len -= 3;
    }
    int w = snprintf(buf, n, "%.*s%s", (int)len, s, suffix);
    if (w < 0 || (size_t)w >= n) return -1;
    for (char *c = buf; *c; c++) *c = (char)tolower((unsigned char)*c);
    return 0;
}

const double *xb_engine_result_vec(const xb_engine_result *r, const char *name, size_t *len)
{
    if (len) *len = 0;
    if (!r || !name) return NULL;
    char canon[512];
    if (xb_engine_vec_canonical(name, canon, sizeof canon)) return NULL;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < r->nvecs; k++) {
            const char *have = r->names[k];
            if (strcasecmp(have, pass == 0 ? name : canon) == 0) {
                if (len) *len = r->lens[k];
                return r->data[k];
            }
            /* ngspice may store node voltages as "v(x)" in some plots */
            char hc[512];
            if (pass == 1 && !xb_engine_vec_canonical(have, hc, sizeof hc) && strcmp(hc, canon) == 0) {
                if (len) *len = r->lens[k];
                return r->data[k];
            }
        }
    }
    return NULL;
}

void xb_engine_result_free(xb_engine_result *r)
{
    if (!r) return;
    for (size_t k = 0; k < r->nvecs; k++) {
        free(r->names[k]);
        free(r->data[k]);
    }
    free(r->names);
    free(r->data);
    free(r->lens);
    free(r->error);
    xb_buf_free(&r->log);
    free(r);
}
