/* Batching: one static circuit solved for K input vectors in ONE ngspice analysis.
 *
 * ngspice 39 (Sparse 1.3) reorders the matrix on every `op`, ~90 % of a 64x64 solve;
 * a `.dc` sweep reorders once.  The deck sweeps an index source vxb_idx over
 * 0, 1, ..., K-1, and every driven source is a B-source whose voltage is a pwl()
 * table of v(xb_idx): at sweep point k it equals the k-th input vector.  A resistive
 * `.tran` with PWL sources (one vector per time step) was measured as the other
 * option and was far slower (docs/engine.md).
 *
 * The same deck runs unchanged in stock `ngspice -b`: its .control block prints the
 * outputs with `print`, one line per input vector (format in docs/engine.md); the
 * in-process worker strips the .control block and reads the vectors directly. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/engine_internal.h"

#define IDX_SOURCE "vxb_idx"
#define IDX_NODE "xb_idx"

static int bad_name(const char *s)
{
    if (!s || !*s) return 1;
    for (const char *c = s; *c; c++)
        if (isspace((unsigned char)*c) || *c == '(' || *c == ')' || *c == ',' || *c == '=' ||
            *c == '"' || *c == '\'')
            return 1;
    return 0;
}

static int check_batch(const xb_engine_batch *b, xb_error *err)
{
    if (!b) return xb_errorf(err, XB_EINPUT, "engine batch: NULL batch");
    if (!b->body) return xb_errorf(err, XB_EINPUT, "engine batch: body is NULL");
    if (b->k_vectors == 0) return xb_errorf(err, XB_EINPUT, "engine batch: k_vectors is 0");
    if (b->n_outputs == 0 || !b->outputs)
        return xb_errorf(err, XB_EINPUT, "engine batch: no outputs requested");
    if (b->n_sources && (!b->sources || !b->values))
        return xb_errorf(err, XB_EINPUT, "engine batch: %zu sources but no sources/values array",
                         b->n_sources);
    for (size_t s = 0; s < b->n_sources; s++) {
        const xb_engine_source *src = &b->sources[s];
        if (bad_name(src->name) || bad_name(src->node_pos) || bad_name(src->node_neg))
            return xb_errorf(err, XB_EINPUT,
                             "engine batch: source #%zu: name and nodes must be non-empty words", s);
        for (size_t t = 0; t < s; t++)
            if (strcasecmp(b->sources[t].name, src->name) == 0)
                return xb_errorf(err, XB_EINPUT, "engine batch: source name '%s' used twice",
                                 src->name);
    }
    for (size_t k = 0; k < b->k_vectors * b->n_sources; k++)
        if (!isfinite(b->values[k]))
            return xb_errorf(err, XB_EINPUT, "engine batch: values[%zu][%zu] is not finite",
                             k / b->n_sources, k % b->n_sources);
    for (size_t j = 0; j < b->n_outputs; j++) {
        const char *o = b->outputs[j];
        size_t n = o ? strlen(o) : 0;
        if (n < 4 || o[1] != '(' || o[n - 1] != ')' ||
            !(o[0] == 'i' || o[0] == 'I' || o[0] == 'v' || o[0] == 'V'))
            return xb_errorf(err, XB_EINPUT,
                             "engine batch: output #%zu '%s' is not \"i(NAME)\" or \"v(NODE)\"", j,
                             o ? o : "(null)");
        for (size_t c = 2; c + 1 < n; c++)
            if (isspace((unsigned char)o[c]) || o[c] == ',' || o[c] == '(' || o[c] == ')')
                return xb_errorf(err, XB_EINPUT,
                                 "engine batch: output #%zu '%s' must name one node or element", j, o);
    }
    return XB_OK;
}

/* Index of the driven source an output "i(X)" refers to (X = name or "v"+name), or -1. */
static long driven_source(const xb_engine_batch *b, const char *out)
{
    if (out[0] != 'i' && out[0] != 'I') return -1;
    size_t n = strlen(out) - 3;
    const char *x = out + 2;
    for (size_t s = 0; s < b->n_sources; s++) {
        const char *nm = b->sources[s].name;
        size_t l = strlen(nm);
        if (l == n && strncasecmp(x, nm, n) == 0) return (long)s;
        if (l + 1 == n && (x[0] == 'v' || x[0] == 'V') && strncasecmp(x + 1, nm, l) == 0)
            return (long)s;
    }
    return -1;
}

/* The output as ngspice's print command and as the vector name of the worker. */
static void output_names(const xb_engine_batch *b, size_t j, char *print, size_t np, char *vec,
                         size_t nv)
{
    const char *o = b->outputs[j];
    long s = driven_source(b, o);
    if (s >= 0) {
        snprintf(print, np, "i(b%s)", b->sources[s].name);
        snprintf(vec, nv, "b%s#branch", b->sources[s].name);
    } else {
        snprintf(print, np, "%s", o);
        if (xb_engine_vec_canonical(o, vec, nv)) vec[0] = '\0';
    }
    for (char *c = print; *c; c++) *c = (char)tolower((unsigned char)*c);
    for (char *c = vec; *c; c++) *c = (char)tolower((unsigned char)*c);
}

char *xb_engine_batch_deck(const xb_engine_opts *o, const xb_engine_batch *b, xb_error *err)
{
    if (check_batch(b, err)) return NULL;
    xb_engine_opts d;
    if (!o) {
        xb_engine_opts_default(&d);
        o = &d;
    }
    xb_buf s = {0};
    int bad = 0;
    /* title: the first line of a deck is always the title; keep it on one line */
    const char *title = b->title && *b->title ? b->title : "xbar batch";
    size_t tl = strcspn(title, "\r\n");
    bad |= xb_buf_printf(&s, "%.*s\n", (int)tl, title);
    bad |= xb_buf_puts(&s, b->body);
    if (s.len && s.p[s.len - 1] != '\n') bad |= xb_buf_puts(&s, "\n");
    bad |= xb_buf_printf(&s,
                         "* xbar batch: %zu input vectors, selected by the swept index source " IDX_SOURCE
                         "\n" IDX_SOURCE " " IDX_NODE " 0 0\n",
                         b->k_vectors);
    for (size_t src = 0; src < b->n_sources; src++) {
        const xb_engine_source *x = &b->sources[src];
        bad |= xb_buf_printf(&s, "b%s %s %s v=pwl(v(" IDX_NODE ")", x->name, x->node_pos, x->node_neg);
        size_t npts = b->k_vectors > 1 ? b->k_vectors : 2; /* pwl needs two points */
        for (size_t k = 0; k < npts; k++) {
            size_t kk = k < b->k_vectors ? k : b->k_vectors - 1;
            if (k % 8 == 0) bad |= xb_buf_puts(&s, "\n+");
            bad |= xb_buf_printf(&s, " ,%zu,%.17g", k, b->values[kk * b->n_sources + src]);
        }
        bad |= xb_buf_puts(&s, ")\n");
    }
    char *opt = xb_engine_options_card(o);
    if (!opt) bad = 1;
    else bad |= xb_buf_puts(&s, opt);
    free(opt);
    bad |= xb_buf_printf(&s, ".dc " IDX_SOURCE " 0 %zu 1\n", b->k_vectors - 1);
    /* stock ngspice -b: one line per vector "k <tab> k <tab> out_0 ... out_{n-1}" */
    size_t width = 40 + 26 * (b->n_outputs + 2);
    char optran[96];
    xb_engine_optran_command(o, optran, sizeof optran);
    bad |= xb_buf_printf(&s,
                         ".control\nset numdgt=17\nset width=%zu\nset nobreak\nset noasciiplotvalue\n"
                         "%s\nrun\nprint",
                         width, optran);
    for (size_t j = 0; j < b->n_outputs; j++) {
        char pr[600], vec[600];
        output_names(b, j, pr, sizeof pr, vec, sizeof vec);
        bad |= xb_buf_printf(&s, " %s", pr);
    }
    /* without an explicit quit, ngspice -b exits with status 1 when the deck has no
     * .print/.plot card, even after a good run */
    bad |= xb_buf_puts(&s, "\nquit 0\n.endc\n.end\n");
    if (bad) {
        xb_buf_free(&s);
        xb_errorf(err, XB_ERUNTIME, "out of memory");
        return NULL;
    }
    return s.p;
}

int xb_engine_batch_submit(xb_engine_pool *p, const xb_engine_batch *b, size_t *job_id,
                           xb_error *err)
{
    if (!p) return xb_errorf(err, XB_EINPUT, "engine batch submit: NULL pool");
    char *deck = xb_engine_batch_deck(xb_engine_pool_opts(p), b, err);
    if (!deck) return err && err->code ? err->code : XB_ERUNTIME;
    size_t nv = b->n_outputs + 1;
    char **names = calloc(nv, sizeof *names);
    int rc = XB_OK;
    if (!names) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    for (size_t j = 0; !rc && j < b->n_outputs; j++) {
        char pr[600], vec[600];
        output_names(b, j, pr, sizeof pr, vec, sizeof vec);
        if (!(names[j] = strdup(vec))) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    if (!rc && !(names[b->n_outputs] = strdup("v-sweep")))
        rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (!rc) rc = xb_engine_pool_submit(p, deck, nv, (const char *const *)names, job_id, err);
    for (size_t j = 0; names && j < nv; j++) free(names[j]);
    free(names);
    free(deck);
    return rc;
}

int xb_engine_batch_collect(const xb_engine_batch *b, const xb_engine_result *r, double *out,
                            xb_error *err)
{
    int rc = check_batch(b, err);
    if (rc) return rc;
    if (!r || !out) return xb_errorf(err, XB_EINPUT, "engine batch collect: NULL result or output");
    if (xb_engine_result_status(r) != XB_OK)
        return xb_errorf(err, xb_engine_result_status(r), "%s", xb_engine_result_error(r));
    size_t k = b->k_vectors, len = 0;
    /* the sweep must have visited exactly the points 0, 1, ..., K-1 */
    const double *sw = xb_engine_result_vec(r, "v-sweep", &len);
    if (!sw || len != k)
        return xb_errorf(err, XB_ERUNTIME,
                         "engine batch: the index sweep has %zu points, expected %zu", sw ? len : 0, k);
    for (size_t t = 0; t < k; t++)
        if (fabs(sw[t] - (double)t) > 1e-9 * (double)(t + 1))
            return xb_errorf(err, XB_ERUNTIME, "engine batch: sweep point %zu is at %.17g", t, sw[t]);
    for (size_t j = 0; j < b->n_outputs; j++) {
        char pr[600], vec[600];
        output_names(b, j, pr, sizeof pr, vec, sizeof vec);
        const double *d = xb_engine_result_vec(r, vec, &len);
        if (!d)
            return xb_errorf(err, XB_EINPUT, "engine batch: output '%s' is not in the results",
                             b->outputs[j]);
        if (len != k)
            return xb_errorf(err, XB_ERUNTIME, "engine batch: output '%s' has %zu points, expected %zu",
                             b->outputs[j], len, k);
        for (size_t t = 0; t < k; t++) out[t * b->n_outputs + j] = d[t];
    }
    return XB_OK;
}

/* The B-source pwl() tables grow with K and the per-point cost grows with them:
 * measured with 16 sources on a loaded machine, K = 1000 in one analysis 0.24 s,
 * K = 4000 in one analysis 2.5 s, as 4 analyses of 1000 2.0 s.  Larger batches are
 * cut into analyses of at most this many vectors (each reorders once). */
#define BATCH_MAX_K 1024

/* Run b as `chunks` analyses (near-equal consecutive slices) on a pool of n_workers. */
static int run_chunks(const xb_engine_opts *o, const xb_engine_batch *b, double *out, int n_workers,
                      size_t chunks, xb_error *err)
{
    int rc = check_batch(b, err);
    if (rc) return rc;
    if (!out) return xb_errorf(err, XB_EINPUT, "engine batch run: NULL output");
    xb_engine_opts po;
    if (o)
        po = *o;
    else
        xb_engine_opts_default(&po);
    po.n_workers = n_workers;
    xb_engine_pool *p = xb_engine_pool_new(&po, err);
    if (!p) return err && err->code ? err->code : XB_ERUNTIME;
    size_t min_chunks = (b->k_vectors + BATCH_MAX_K - 1) / BATCH_MAX_K;
    if (chunks < min_chunks) chunks = min_chunks;
    if (chunks > b->k_vectors) chunks = b->k_vectors;
    if (chunks == 0) chunks = 1;
    xb_engine_batch *parts = calloc(chunks, sizeof *parts);
    xb_engine_result **res = calloc(chunks, sizeof *res);
    if (!parts || !res) rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
    size_t first = 0;
    for (size_t c = 0; !rc && c < chunks; c++) {
        size_t kc = b->k_vectors / chunks + (c < b->k_vectors % chunks);
        parts[c] = *b;
        parts[c].k_vectors = kc;
        parts[c].values = b->values + first * b->n_sources;
        first += kc;
        size_t id;
        rc = xb_engine_batch_submit(p, &parts[c], &id, err);
    }
    if (!rc) rc = xb_engine_pool_wait_all(p, res, chunks, err);
    first = 0;
    for (size_t c = 0; !rc && c < chunks; c++) {
        rc = xb_engine_batch_collect(&parts[c], res[c], out + first * b->n_outputs, err);
        if (rc && chunks > 1)
            xb_error_prefix(err, "vectors %zu..%zu: ", first, first + parts[c].k_vectors - 1);
        first += parts[c].k_vectors;
    }
    for (size_t c = 0; res && c < chunks; c++) xb_engine_result_free(res[c]);
    free(res);
    free(parts);
    xb_engine_pool_free(p);
    return rc;
}

int xb_engine_batch_run(const xb_engine_opts *o, const xb_engine_batch *b, double *out,
                        xb_error *err)
{
    return run_chunks(o, b, out, 1, 1, err);
}

int xb_engine_batch_run_parallel(const xb_engine_opts *o, const xb_engine_batch *b, double *out,
                                 xb_error *err)
{
    /* one chunk per worker: each chunk reorders once, the chunks run at the same time */
    const int nw = xb_engine_opts_workers(o);
    return run_chunks(o, b, out, nw, (size_t)nw, err);
}
