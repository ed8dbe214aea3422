/* Campaign files: INI (libinih) -> validated keys -> cartesian product of sweep points.
 * Format: docs/campaigns.md.  Every error names FILE:LINE. */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xbar/characterize.h"

/* ------------------------------------------------------------------ key table */
typedef enum { K_STR, K_UINT, K_SIZE, K_DOUBLE, K_BOOL, K_ENUM, K_DIMS, K_SET, K_DEVICE } key_kind;

typedef struct {
    const char *section, *name;
    key_kind kind;
    int list;                  /* may hold a comma-separated list: 1 a sweep axis, 2 a plain list,
                                * 3 per device: one value, or one per [array] device entry */
    double lo, hi;             /* numeric bounds (inclusive) */
    int lo_open;               /* lo is exclusive */
    const char *const *names;  /* K_ENUM / K_SET names, NULL-terminated */
} key_desc;

static const char *const k_engines[] = {"spice", "native", "auto", "ideal", NULL};
static const char *const k_cells[] = {"1r", "1t1r", "1s1r", NULL};
static const char *const k_inputs[] = {"uniform", "sparse", "onehot", "bitserial", NULL};
static const char *const k_schemes[] = {"mvm", "float", "v2", "v3", NULL}; /* xb_read_scheme order */
static const char *const k_write_schemes[] = {"v2", "v3", NULL};            /* xb_write_scheme order */
static const char *const k_selectors[] = {"sinh", "ts", NULL};              /* xb_selector_kind order */

#define BIG 1e300
/* Order matters: the sweep's cartesian product runs over list keys in this order, the
 * last one fastest; size first, so that a partial run covers every configuration of the
 * small arrays before the large ones.  (The device is applied first in build_points
 * because it resets the device defaults.) */
static const key_desc k_keys[] = {
    {"campaign", "name", K_STR, 0, 0, 0, 0, NULL},
    {"campaign", "description", K_STR, 0, 0, 0, 0, NULL},
    {"campaign", "seed", K_UINT, 0, 0, BIG, 0, NULL},
    {"campaign", "workers", K_SIZE, 0, 0, 256, 0, NULL},
    {"campaign", "timeout_s", K_DOUBLE, 0, 0, BIG, 1, NULL},
    {"campaign", "auto_native_above", K_SIZE, 0, 0, 1e6, 0, NULL},
    {"campaign", "auto_spice_check", K_DOUBLE, 0, 0, 1, 0, NULL},
    {"campaign", "auto_spice_max", K_SIZE, 0, 1, 1e6, 0, NULL},
    {"array", "size", K_DIMS, 1, 1, 65536, 0, NULL},
    {"array", "device", K_DEVICE, 1, 0, 0, 0, NULL}, /* names: the device table */
    {"array", "cell", K_ENUM, 1, 0, 0, 0, k_cells},
    {"array", "r_wire_ohm", K_DOUBLE, 1, 0, BIG, 0, NULL},
    {"array", "r_wire_row_ohm", K_DOUBLE, 1, 0, BIG, 0, NULL},
    {"array", "r_wire_col_ohm", K_DOUBLE, 1, 0, BIG, 0, NULL},
    {"array", "r_driver_ohm", K_DOUBLE, 1, 0, BIG, 0, NULL},
    {"array", "r_sense_ohm", K_DOUBLE, 1, 0, BIG, 0, NULL},
    {"array", "c_wire_farad", K_DOUBLE, 1, 0, BIG, 0, NULL},
    {"array", "v_read_volt", K_DOUBLE, 1, 0, 10, 1, NULL},
    {"array", "g_max_siemens", K_DOUBLE, 1, 0, 1, 1, NULL},
    {"array", "g_min_siemens", K_DOUBLE, 1, 0, 1, 1, NULL},
    {"array", "on_off_ratio", K_DOUBLE, 1, 1, BIG, 1, NULL},
    {"array", "v_gate_volt", K_DOUBLE, 1, 0, 10, 0, NULL},
    {"campaign", "engine", K_ENUM, 1, 0, 0, 0, k_engines},
    {"variability", "program", K_BOOL, 1, 0, 0, 0, NULL},
    {"variability", "d2d", K_BOOL, 1, 0, 0, 0, NULL},
    {"variability", "stuck_on_rate", K_DOUBLE, 1, 0, 1, 0, NULL},
    {"variability", "stuck_off_rate", K_DOUBLE, 1, 0, 1, 0, NULL},
    {"variability", "monte_carlo", K_SIZE, 0, 1, 100000, 0, NULL},
    {"inputs", "distribution", K_ENUM, 1, 0, 0, 0, k_inputs},
    {"inputs", "density", K_DOUBLE, 1, 0, 1, 1, NULL},
    {"inputs", "bit_levels", K_SIZE, 1, 1, 16, 0, NULL},
    {"inputs", "samples", K_SIZE, 0, 1, 100000, 0, NULL},
    {"inputs", "vectors", K_SIZE, 0, 1, 100000, 0, NULL},
    {"read", "schemes", K_SET, 0, 0, 0, 0, k_schemes},
    {"transient", "enabled", K_BOOL, 0, 0, 0, 0, NULL},
    {"transient", "t_read_s", K_DOUBLE, 1, 0, 1, 1, NULL},
    {"transient", "t_rise_s", K_DOUBLE, 0, 0, 1, 1, NULL},
    {"transient", "settle_tolerance", K_DOUBLE, 0, 0, 0.5, 1, NULL},
    {"transient", "t_points", K_SIZE, 0, 10, 1e6, 0, NULL},
    {"transient", "max_size", K_SIZE, 0, 1, 65536, 0, NULL},
    {"transient", "native_max_size", K_SIZE, 0, 1, 65536, 0, NULL},
    {"program", "enabled", K_BOOL, 0, 0, 0, 0, NULL},
    {"program", "pulses", K_SIZE, 3, 1, 100000, 0, NULL},
    {"program", "cycles", K_SIZE, 3, 1, 1000, 0, NULL},
    {"program", "pulse_volt", K_DOUBLE, 3, 0, 20, 1, NULL},
    {"program", "pulse_width_s", K_DOUBLE, 3, 0, 1, 1, NULL},
    {"program", "c2c_sigma", K_DOUBLE, 3, 0, 1, 0, NULL},
    {"program", "c2c_seed", K_UINT, 0, 0, BIG, 0, NULL},
    {"program", "devices", K_SIZE, 3, 1, 1000, 0, NULL},
    {"program", "start_pulses", K_DOUBLE, 2, -100000, 100000, 0, NULL},
    {"drift", "enabled", K_BOOL, 0, 0, 0, 0, NULL},
    {"drift", "times_s", K_DOUBLE, 2, 0, 1e12, 1, NULL},
    {"write", "enabled", K_BOOL, 0, 0, 0, 0, NULL},
    {"write", "scheme", K_ENUM, 1, 0, 0, 0, k_write_schemes},
    {"write", "verify", K_BOOL, 0, 0, 0, 0, NULL},
    {"write", "tol", K_DOUBLE, 0, 0, 0.5, 1, NULL},
    {"write", "max_pulses", K_SIZE, 0, 1, 100000, 0, NULL},
    {"write", "c2c", K_BOOL, 0, 0, 0, 0, NULL},
    {"write", "selector", K_ENUM, 0, 0, 0, 0, k_selectors},
};
#define NKEYS (sizeof k_keys / sizeof k_keys[0])

/* Keys of physical quantities whose upper bound is the limit of the quantity (the table of
 * src/common/limits.c) instead of BIG: a resistance of 1e300 ohm is refused here, naming the
 * line, instead of reaching the solvers. */
static const struct {
    const char *name;
    xb_quantity q;
} k_key_limits[] = {
    {"timeout_s", XB_QTY_TIME},          {"r_wire_ohm", XB_QTY_RESISTANCE},   {"r_wire_row_ohm", XB_QTY_RESISTANCE},
    {"r_wire_col_ohm", XB_QTY_RESISTANCE}, {"r_driver_ohm", XB_QTY_RESISTANCE}, {"r_sense_ohm", XB_QTY_RESISTANCE},
    {"c_wire_farad", XB_QTY_CAPACITANCE},
};

/* The limit row of key d, NULL when its bounds are its own. */
static const xb_limit *key_limit(const key_desc *d)
{
    for (size_t k = 0; k < sizeof k_key_limits / sizeof k_key_limits[0]; k++)
        if (strcmp(k_key_limits[k].name, d->name) == 0) return xb_limit_get(k_key_limits[k].q);
    return NULL;
}

typedef struct {
    double a, b; /* value (K_DIMS: rows, cols) */
} kval;

typedef struct {
    int set;
    int line;
    size_t n;
    kval *v;
    char *str; /* K_STR */
} kslot;

struct xb_campaign {
    char *path;
    char *text;
    char **warnings;  /* "FILE:LINE: ..." for things accepted but probably unintended */
    size_t n_warnings;
    kslot slots[NKEYS];
    char name[128];
    uint64_t seed;
    int workers;
    double timeout_s;
    size_t npoints;
    xb_char_point *points;
};

/* ------------------------------------------------------------------ parsing */
typedef struct {
    xb_campaign *c;
    const char *fname;
    const char *text;  /* the campaign text, fed to inih line by line by text_reader */
    const char *next;  /* start of the next line to feed */
    const char *cur;   /* start of the line inih is processing (the handler's line) */
    int line;          /* its number (inih's build here does not pass line numbers) */
    int too_long;      /* line `line` does not fit inih's line buffer */
    int max_len;       /* that buffer's longest line, newline excluded */
    char msg[512];     /* first semantic error */
    int oom;           /* a warning could not be stored */
} parse_ctx;

static int find_key(const char *section, const char *name)
{
    for (size_t k = 0; k < NKEYS; k++)
        if (strcmp(k_keys[k].section, section) == 0 && strcmp(k_keys[k].name, name) == 0) return (int)k;
    return -1;
}

static int known_section(const char *section)
{
    for (size_t k = 0; k < NKEYS; k++)
        if (strcmp(k_keys[k].section, section) == 0) return 1;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

static int lookup_name(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++)
        if (strcasecmp(names[i], s) == 0) return i;
    return -1;
}

static void names_list(const char *const *names, char *buf, size_t n)
{
    buf[0] = '\0';
    for (int i = 0; names[i]; i++) {
        strncat(buf, i ? ", " : "", n - strlen(buf) - 1);
        strncat(buf, names[i], n - strlen(buf) - 1);
    }
}

static int parse_one(const key_desc *d, const char *item, kval *out, char *msg, size_t msz)
{
    char *end;
    switch (d->kind) {
    case K_BOOL: {
        static const char *const t[] = {"yes", "true", "on", "1", NULL};
        static const char *const f[] = {"no", "false", "off", "0", NULL};
        if (lookup_name(t, item) >= 0) { out->a = 1; return 0; }
        if (lookup_name(f, item) >= 0) { out->a = 0; return 0; }
        snprintf(msg, msz, "%s: expected yes or no, got '%s'", d->name, item);
        return -1;
    }
    case K_ENUM: {
        int i = lookup_name(d->names, item);
        if (i < 0) {
            char list[256];
            names_list(d->names, list, sizeof list);
            snprintf(msg, msz, "%s: unknown value '%s' (%s)", d->name, item, list);
            return -1;
        }
        out->a = i;
        return 0;
    }
    case K_DEVICE: {
        xb_device_kind dev;
        if (xb_device_from_name_nocase(item, &dev)) {
            char list[256];
            xb_device_list(list, sizeof list, 0);
            snprintf(msg, msz, "%s: unknown value '%s' (%s)", d->name, item, list);
            return -1;
        }
        out->a = dev;
        return 0;
    }
    case K_DIMS: {
        /* "RxC" or "N" (square) */
        const char *x = strpbrk(item, "xX");
        char *e1, *e2;
        errno = 0;
        unsigned long long r = strtoull(item, &e1, 10), cc;
        if (x) {
            if (e1 != x) goto bad_dims;
            cc = strtoull(x + 1, &e2, 10);
            if (*e2 || e2 == x + 1) goto bad_dims;
        } else {
            if (*e1 || e1 == item) goto bad_dims;
            cc = r;
        }
        if (errno || item[0] == '-' || r < 1 || cc < 1 || r > (unsigned long long)d->hi || cc > (unsigned long long)d->hi) goto bad_dims;
        out->a = (double)r;
        out->b = (double)cc;
        return 0;
    bad_dims:
        snprintf(msg, msz, "%s: expected ROWSxCOLS (e.g. 16x16) with 1..%g, got '%s'", d->name, d->hi, item);
        return -1;
    }
    case K_UINT:
    case K_SIZE: {
        errno = 0;
        if (item[0] == '-' || !isdigit((unsigned char)item[0])) goto bad_int;
        unsigned long long v = strtoull(item, &end, 10);
        if (errno || *end) goto bad_int;
        if ((double)v < d->lo || (double)v > d->hi) {
            snprintf(msg, msz, "%s: %s out of range [%g, %g]", d->name, item, d->lo, d->hi);
            return -1;
        }
        out->a = (double)v;
        return 0;
    bad_int:
        snprintf(msg, msz, "%s: expected a non-negative integer, got '%s'", d->name, item);
        return -1;
    }
    case K_DOUBLE: {
        errno = 0;
        double v = strtod(item, &end);
        if (errno || end == item || *end || !isfinite(v)) {
            snprintf(msg, msz, "%s: expected a number, got '%s'", d->name, item);
            return -1;
        }
        if (v < d->lo || (d->lo_open && v == d->lo) || v > d->hi) {
            const xb_limit *l = key_limit(d);
            if (l && v > d->hi)
                snprintf(msg, msz, "%s: %s %s is above the %s limit %g %s (docs/hardening.md)", d->name, item, l->unit,
                         l->name, l->hi, l->unit);
            else if (d->hi >= BIG || l)
                snprintf(msg, msz, "%s: must be %s %g, got %s", d->name, d->lo_open ? ">" : ">=", d->lo, item);
            else snprintf(msg, msz, "%s: %s out of range %s%g, %g]", d->name, item, d->lo_open ? "(" : "[", d->lo, d->hi);
            return -1;
        }
        out->a = v;
        return 0;
    }
    default:
        break;
    }
    snprintf(msg, msz, "%s: internal: bad key kind", d->name);
    return -1;
}

/* Record a warning "FILE:LINE: text" (kept in order; the CLI prints them). */
static void add_warning(parse_ctx *x, const char *fmt, const char *a, const char *b)
{
    char w[640], t[512];
    snprintf(t, sizeof t, fmt, a, b);
    snprintf(w, sizeof w, "%s:%d: %s", x->fname, x->line, t);
    char **nw = realloc(x->c->warnings, (x->c->n_warnings + 1) * sizeof *nw);
    char *d = strdup(w);
    if (!nw || !d) {
        free(d);
        if (nw) x->c->warnings = nw;
        x->oom = 1;
        return;
    }
    x->c->warnings = nw;
    nw[x->c->n_warnings++] = d;
}

/* Does the line inih is processing continue the previous key?  inih's rule (multi-line
 * entries): a line that starts with whitespace after a key line is a continuation, whatever
 * it holds; any other "key = value" line is a new entry of that key. */
static int continuation_line(const parse_ctx *x)
{
    return x->cur && (*x->cur == ' ' || *x->cur == '\t');
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *x = user;
    if (x->msg[0]) return 1; /* keep the first error only */
    char msg[512] = "";
    int k = find_key(section, name);
    if (k < 0) {
        if (!section[0]) snprintf(msg, sizeof msg, "key '%s' outside any [section]", name);
        else if (!known_section(section)) snprintf(msg, sizeof msg, "unknown section [%s]", section);
        else snprintf(msg, sizeof msg, "unknown key '%s' in [%s]", name, section);
        goto fail;
    }
    const key_desc *d = &k_keys[k];
    kslot *s = &x->c->slots[k];
    const int cont = continuation_line(x);
    /* A key given again on a line of its own used to be appended silently ("size = 4" then
     * "size = 8" swept both; two "name" lines became "a b"): refuse it like a scalar key.
     * Indented continuation lines still extend a list or a text. */
    if (s->set && !cont && (d->list || d->kind == K_STR || d->kind == K_SET)) {
        snprintf(msg, sizeof msg, "%s: given twice (first on line %d; continue a list or a text on indented lines)",
                 name, s->line);
        goto fail;
    }
    if (!s->set) s->line = x->line;
    char *val = strdup(value), *v = val ? trim(val) : NULL;
    if (!val) { snprintf(msg, sizeof msg, "out of memory"); goto fail; }
    if (d->kind == K_STR) {
        if (s->set) { /* multi-line continuation: append */
            size_t n = strlen(s->str) + strlen(v) + 2;
            char *ns = realloc(s->str, n);
            if (!ns) { free(val); snprintf(msg, sizeof msg, "out of memory"); goto fail; }
            strcat(ns, " ");
            strcat(ns, v);
            s->str = ns;
        } else {
            s->str = strdup(v);
            s->set = 1;
        }
        free(val);
        return 1;
    }
    if (!*v) { free(val); snprintf(msg, sizeof msg, "%s: empty value", name); goto fail; }
    if (s->set && !d->list && d->kind != K_SET) {
        free(val);
        snprintf(msg, sizeof msg, "%s: given twice (a single value is expected)", name);
        goto fail;
    }
    /* split on commas (a list); repeated keys / continuation lines append */
    size_t count = 0;
    for (char *it = v, *nx; it; it = nx) {
        nx = strchr(it, ',');
        if (nx) *nx++ = '\0';
        char *item = trim(it);
        if (!*item) { free(val); snprintf(msg, sizeof msg, "%s: empty list item", name); goto fail; }
        if (d->kind == K_SET && strcasecmp(item, "none") == 0) { count++; continue; }
        kval kv = {0, 0};
        const xb_limit *lim = key_limit(d);
        const key_desc dd = {d->section, d->name, d->kind == K_SET ? K_ENUM : d->kind, d->list, d->lo,
                             lim ? lim->hi : d->hi, d->lo_open, d->names};
        if (parse_one(&dd, item, &kv, msg, sizeof msg)) { free(val); goto fail; }
        /* the same value twice in a sweep list repeats its points: allowed, but said */
        for (size_t q = 0; d->list == 1 && q < s->n; q++)
            if (s->v[q].a == kv.a && s->v[q].b == kv.b) {
                add_warning(x, "%s: '%s' is in the list twice (its points are swept twice)", name, item);
                break;
            }
        kval *nv = realloc(s->v, (s->n + 1) * sizeof *nv);
        if (!nv) { free(val); snprintf(msg, sizeof msg, "out of memory"); goto fail; }
        s->v = nv;
        s->v[s->n++] = kv;
        count++;
    }
    free(val);
    if (count > 1 && !d->list && d->kind != K_SET) {
        snprintf(msg, sizeof msg, "%s: takes a single value, not a list", name);
        goto fail;
    }
    s->set = 1;
    return 1;
fail:
    snprintf(x->msg, sizeof x->msg, "%s", msg);
    return 0;
}

/* ------------------------------------------------------------------ sweep expansion */
static uint64_t fnv1a(const char *s, uint64_t h)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static const kslot *slot(const xb_campaign *c, const char *section, const char *name)
{
    int k = find_key(section, name);
    return &c->slots[k];
}

static double scalar(const xb_campaign *c, const char *section, const char *name, double dflt)
{
    const kslot *s = slot(c, section, name);
    return (s->set && s->n) ? s->v[0].a : dflt;
}

/* A per-device key (list 3) for the point of [array] device entry dev_i: its one value, or
 * the dev_i-th (check_per_device has checked the count). */
static double per_device(const xb_campaign *c, const char *section, const char *name, size_t dev_i, double dflt)
{
    const kslot *s = slot(c, section, name);
    if (!s->set || !s->n) return dflt;
    return s->v[s->n > 1 && dev_i < s->n ? dev_i : 0].a;
}

/* Per-device keys hold one value or one per [array] device entry, in order. */
static int check_per_device(const xb_campaign *c, const char *fname, xb_error *err)
{
    const kslot *sd = slot(c, "array", "device");
    const size_t nd = sd->set && sd->n ? sd->n : 1;
    for (size_t k = 0; k < NKEYS; k++) {
        const kslot *s = &c->slots[k];
        if (k_keys[k].list != 3 || !s->set || s->n <= 1 || s->n == nd) continue;
        return xb_errorf(err, XB_EINPUT,
                         "%s:%d: %s: %zu values for %zu device%s in [array] device; give one value, or one per device "
                         "in that order",
                         fname, s->line, k_keys[k].name, s->n, nd, nd == 1 ? "" : "s");
    }
    return XB_OK;
}

const char *xb_char_engine_name(xb_char_engine e) { return (unsigned)e < 4 ? k_engines[e] : "?"; }
const char *xb_char_input_name(xb_char_input in) { return (unsigned)in < 4 ? k_inputs[in] : "?"; }

/* Peak memory (bytes) of computing point P in its point process (point.c): its sample
 * arrays (G targets and realisations, inputs, circuit and ideal currents, errors, the IR map,
 * the provenance deck text), plus the largest engine it builds: the native engine of the IR
 * map (and of native points), ngspice for spice points, checks and transients. */
static double point_memory(const xb_char_point *P)
{
    const xb_array_params *p = &P->array;
    const double R = (double)p->rows, C = (double)p->cols, S = (double)P->samples;
    const double N = S * (double)P->monte_carlo, K = (double)P->vectors;
    const double data = 8.0 * (S * R * C + N * R * C + N * K * R + 2.0 * N * K * C + N * C + 3.0 * R * C) +
                        2.0 * 130.0 * R * C;
    if (P->engine == XB_CHAR_ENGINE_IDEAL) return data;
    double eng = xb_engine_native_memory_estimate(p);
    /* ngspice runs for spice points and the ngspice checks of native points (the read
     * schemes and the transient of a native point use the native engine; a transient is
     * re-run in ngspice only with transient_check, which implies spice_check) */
    if (!P->use_native || P->spice_check)
        eng = fmax(eng, xb_engine_spice_memory_estimate(p, P->vectors));
    return data + eng;
}

static int build_points(xb_campaign *c, const char *fname, xb_error *err)
{
    /* axes: list keys that are set */
    size_t axis[NKEYS], naxes = 0, total = 1;
    for (size_t k = 0; k < NKEYS; k++)
        if (k_keys[k].list == 1 && c->slots[k].set && c->slots[k].n) {
            axis[naxes++] = k;
            if (total > 10000000 / c->slots[k].n)
                return xb_errorf(err, XB_EINPUT, "%s:%d: sweep has more than 10 million points", fname,
                                 c->slots[k].line);
            total *= c->slots[k].n;
        }
    int line_size = slot(c, "array", "size")->line;
    if (!slot(c, "array", "size")->set)
        return xb_errorf(err, XB_EINPUT, "%s: [array] size is required (e.g. size = 8x8, 16x16)", fname);

    c->points = calloc(total, sizeof *c->points);
    if (!c->points) return xb_errorf(err, XB_ERUNTIME, "%s: out of memory", fname);
    c->npoints = total;

    const kslot *s_gmin = slot(c, "array", "g_min_siemens"), *s_ratio = slot(c, "array", "on_off_ratio");
    if (s_gmin->set && s_ratio->set)
        return xb_errorf(err, XB_EINPUT, "%s:%d: on_off_ratio: give either g_min_siemens or on_off_ratio, not both",
                         fname, s_ratio->line);

    size_t idx[NKEYS] = {0};
    size_t auto_native_above = (size_t)scalar(c, "campaign", "auto_native_above", 64);
    double check_frac = scalar(c, "campaign", "auto_spice_check", 0.1);
    size_t spice_max = (size_t)scalar(c, "campaign", "auto_spice_max", 64);
    size_t check_stride = check_frac > 0 ? (size_t)llround(1.0 / check_frac) : 0;
    if (check_frac > 0 && check_stride < 1) check_stride = 1;
    size_t auto_native_seen = 0;
    /* transients: ngspice up to max_size (ngspice 39: 13-17 min for one 64x64 read
     * transient), the native engine up to native_max_size (docs/campaigns.md) */
    size_t trans_max = (size_t)scalar(c, "transient", "max_size", 64);
    size_t trans_native_max = (size_t)scalar(c, "transient", "native_max_size", 1024);
    /* [drift] times_s: the fit needs 3..64 increasing read times (docs/hdf5-model.md) */
    static const double drift_default_s[] = {20, 60, 600, 3600, 86400, 2.6e6, 3.15e7};
    const kslot *s_dt = slot(c, "drift", "times_s");
    size_t n_dt = s_dt->set ? s_dt->n : sizeof drift_default_s / sizeof drift_default_s[0];
    if (n_dt < 3 || n_dt > XB_CHAR_DRIFT_MAX_TIMES)
        return xb_errorf(err, XB_EINPUT, "%s:%d: times_s: give 3 to %d read times, got %zu", fname, s_dt->line,
                         XB_CHAR_DRIFT_MAX_TIMES, n_dt);
    for (size_t q = 1; s_dt->set && q < n_dt; q++)
        if (!(s_dt->v[q].a > s_dt->v[q - 1].a))
            return xb_errorf(err, XB_EINPUT, "%s:%d: times_s: must increase (%g after %g)", fname, s_dt->line,
                             s_dt->v[q].a, s_dt->v[q - 1].a);

    /* [program] start_pulses: signed whole pulse counts, a plain list (docs/campaigns.md) */
    const kslot *s_sp = slot(c, "program", "start_pulses");
    if (s_sp->set && s_sp->n > XB_CHAR_PROGRAM_MAX_STARTS)
        return xb_errorf(err, XB_EINPUT, "%s:%d: start_pulses: at most %d start states, got %zu", fname, s_sp->line,
                         XB_CHAR_PROGRAM_MAX_STARTS, s_sp->n);
    for (size_t q = 0; s_sp->set && q < s_sp->n; q++)
        if (s_sp->v[q].a != floor(s_sp->v[q].a))
            return xb_errorf(err, XB_EINPUT, "%s:%d: start_pulses: %g is not a whole number of pulses", fname,
                             s_sp->line, s_sp->v[q].a);

    const int rc_pd = check_per_device(c, fname, err);
    if (rc_pd) return rc_pd;
    /* the axis of [array] device (per-device keys pick their value by its index) */
    size_t dev_axis = SIZE_MAX;
    for (size_t a = 0; a < naxes; a++)
        if (axis[a] == (size_t)find_key("array", "device")) dev_axis = a;

    /* the memory limit (common.h) once: a campaign may have millions of points */
    double mem_limit = 0;
    int rc = xb_memory_limit(&mem_limit, err);
    if (rc) return rc;

    for (size_t pt = 0; pt < total; pt++) {
        /* decode pt into per-axis indices, last axis fastest */
        size_t r = pt;
        for (size_t a = naxes; a-- > 0;) {
            size_t n = c->slots[axis[a]].n;
            idx[a] = r % n;
            r /= n;
        }
        xb_char_point *P = &c->points[pt];
        P->index = pt;
        snprintf(P->name, sizeof P->name, "p%05zu", pt);
        xb_array_params *p = &P->array;
        double v;
        /* a tiny local lookup: the chosen value of key (sec, nm) in this point */
        double chosen[NKEYS];
        int has[NKEYS];
        double chosen_b[NKEYS];
        for (size_t k = 0; k < NKEYS; k++) {
            has[k] = c->slots[k].set && c->slots[k].n;
            chosen[k] = has[k] ? c->slots[k].v[0].a : 0;
            chosen_b[k] = has[k] ? c->slots[k].v[0].b : 0;
        }
        for (size_t a = 0; a < naxes; a++) {
            chosen[axis[a]] = c->slots[axis[a]].v[idx[a]].a;
            chosen_b[axis[a]] = c->slots[axis[a]].v[idx[a]].b;
        }
#define HAS(sec, nm) has[find_key(sec, nm)]
#define VAL(sec, nm) chosen[find_key(sec, nm)]
        xb_device_kind dev = HAS("array", "device") ? (xb_device_kind)VAL("array", "device") : XB_DEVICE_LINEAR;
        xb_array_params_default(p, dev);
        p->rows = (size_t)VAL("array", "size");
        p->cols = (size_t)chosen_b[find_key("array", "size")];
        if (HAS("array", "cell")) p->cell = (xb_cell_kind)VAL("array", "cell");
        if (HAS("array", "r_wire_ohm")) p->r_wire_row_ohm = p->r_wire_col_ohm = VAL("array", "r_wire_ohm");
        if (HAS("array", "r_wire_row_ohm")) p->r_wire_row_ohm = VAL("array", "r_wire_row_ohm");
        if (HAS("array", "r_wire_col_ohm")) p->r_wire_col_ohm = VAL("array", "r_wire_col_ohm");
        if (HAS("array", "r_driver_ohm")) p->r_driver_ohm = VAL("array", "r_driver_ohm");
        if (HAS("array", "r_sense_ohm")) p->r_sense_ohm = VAL("array", "r_sense_ohm");
        if (HAS("array", "c_wire_farad")) p->c_wire_farad = VAL("array", "c_wire_farad");
        if (HAS("array", "v_read_volt")) p->v_read_volt = VAL("array", "v_read_volt");
        if (HAS("array", "g_max_siemens")) p->g_max_siemens = VAL("array", "g_max_siemens");
        if (HAS("array", "g_min_siemens")) p->g_min_siemens = VAL("array", "g_min_siemens");
        if (HAS("array", "on_off_ratio")) p->g_min_siemens = p->g_max_siemens / VAL("array", "on_off_ratio");
        if (HAS("array", "v_gate_volt")) p->v_gate_volt = VAL("array", "v_gate_volt");
        if (HAS("variability", "program")) p->var_program = VAL("variability", "program") != 0;
        if (HAS("variability", "d2d")) p->var_d2d = VAL("variability", "d2d") != 0;
        if (HAS("variability", "stuck_on_rate")) p->stuck_on_rate = VAL("variability", "stuck_on_rate");
        if (HAS("variability", "stuck_off_rate")) p->stuck_off_rate = VAL("variability", "stuck_off_rate");
        xb_error perr;
        xb_error_clear(&perr);
        if (xb_array_params_check(p, &perr)) {
            const char *field = strstr(perr.msg, "--g-") ? "g_max_siemens" : NULL;
            int line = field ? slot(c, "array", HAS("array", "on_off_ratio") ? "on_off_ratio" : "g_min_siemens")->line
                             : line_size;
            return xb_errorf(err, XB_EINPUT, "%s:%d: point %zu: %s", fname, line, pt, perr.msg);
        }

        P->engine = HAS("campaign", "engine") ? (xb_char_engine)VAL("campaign", "engine") : XB_CHAR_ENGINE_SPICE;
        size_t big = p->rows > p->cols ? p->rows : p->cols;
        if (P->engine == XB_CHAR_ENGINE_NATIVE) P->use_native = 1;
        else if (P->engine == XB_CHAR_ENGINE_AUTO) {
            P->use_native = big > auto_native_above;
            if (P->use_native && check_stride && big <= spice_max) {
                P->spice_check = (auto_native_seen % check_stride) == 0;
                auto_native_seen++;
            }
        }

        P->input = HAS("inputs", "distribution") ? (xb_char_input)VAL("inputs", "distribution") : XB_CHAR_INPUT_UNIFORM;
        P->input_density = HAS("inputs", "density") ? VAL("inputs", "density") : 0.25;
        P->bit_levels = HAS("inputs", "bit_levels") ? (int)VAL("inputs", "bit_levels") : 4;
        P->samples = (size_t)scalar(c, "inputs", "samples", 2);
        P->vectors = (size_t)scalar(c, "inputs", "vectors", 8);
        P->monte_carlo = (size_t)scalar(c, "variability", "monte_carlo", 1);

        const kslot *sch = slot(c, "read", "schemes");
        if (sch->set) {
            for (size_t q = 0; q < sch->n; q++)
                if ((int)sch->v[q].a != XB_READ_MVM) P->read_schemes |= 1u << (int)sch->v[q].a;
        } else {
            P->read_schemes = (1u << XB_READ_FLOAT) | (1u << XB_READ_V2) | (1u << XB_READ_V3);
        }
        /* single-cell reads need a circuit engine (spice, native) */
        if (P->engine == XB_CHAR_ENGINE_IDEAL) P->read_schemes = 0;

        P->transient = scalar(c, "transient", "enabled", 0) != 0 && big <= (P->use_native ? trans_native_max : trans_max);
        /* an ngspice re-check of a native transient only where ngspice can run it */
        P->transient_check = P->transient && P->spice_check && big <= trans_max;
        P->t_read_s = HAS("transient", "t_read_s") ? VAL("transient", "t_read_s") : 10e-9;
        P->t_rise_s = scalar(c, "transient", "t_rise_s", 10e-12);
        P->settle_tol = scalar(c, "transient", "settle_tolerance", 1e-3);
        P->t_points = (size_t)scalar(c, "transient", "t_points", 200);

        P->program = scalar(c, "program", "enabled", 0) != 0;
        const size_t dev_i = dev_axis == SIZE_MAX ? 0 : idx[dev_axis];
        P->pulses = (size_t)per_device(c, "program", "pulses", dev_i, 20);
        P->cycles = (size_t)per_device(c, "program", "cycles", dev_i, 3);
        P->pulse_volt = per_device(c, "program", "pulse_volt", dev_i, 0);
        P->pulse_width_s = per_device(c, "program", "pulse_width_s", dev_i, 0);
        P->c2c_sigma = per_device(c, "program", "c2c_sigma", dev_i, 0);
        P->c2c_seed = (uint64_t)scalar(c, "program", "c2c_seed", 0);
        P->devices = (size_t)per_device(c, "program", "devices", dev_i, 1);
        P->n_starts = s_sp->set ? s_sp->n : 1;
        for (size_t q = 0; q < P->n_starts; q++) P->start_pulses[q] = s_sp->set ? (long)s_sp->v[q].a : 0;

        /* array programming in circuit: devices with a dynamic model, gated ones in 1R cells
         * (the others skip it, as drift records skip non-PCM points) */
        const xb_device_info *wdi = xb_device_info_get(p->device);
        P->write = scalar(c, "write", "enabled", 0) != 0 && wdi->dyn_subckt && (!wdi->dyn_gated || p->cell == XB_CELL_1R);
        P->write_scheme = HAS("write", "scheme") ? (int)VAL("write", "scheme") : XB_WRITE_V2;
        P->write_verify = scalar(c, "write", "verify", 1) != 0;
        P->write_tol = scalar(c, "write", "tol", 0.05);
        P->write_max_pulses = (size_t)scalar(c, "write", "max_pulses", 50);
        P->write_c2c = scalar(c, "write", "c2c", 1) != 0;
        P->write_selector = (int)scalar(c, "write", "selector", XB_SELECTOR_SINH);

        /* drift records: devices whose drift law is the power law (PCM; the fit's drift statistics) */
        P->drift = scalar(c, "drift", "enabled", 0) != 0 && xb_device_info_get(p->device)->drift.kind == XB_DRIFT_POWER_LAW;
        P->drift_n_times = n_dt;
        for (size_t q = 0; q < n_dt; q++) P->drift_times_s[q] = s_dt->set ? s_dt->v[q].a : drift_default_s[q];

        char inp[64];
        if (P->input == XB_CHAR_INPUT_SPARSE) snprintf(inp, sizeof inp, "sparse:%g", P->input_density);
        else if (P->input == XB_CHAR_INPUT_BITSERIAL) snprintf(inp, sizeof inp, "bitserial:%d", P->bit_levels);
        else snprintf(inp, sizeof inp, "%s", xb_char_input_name(P->input));
        snprintf(P->key, sizeof P->key,
                 "size=%zux%zu device=%s cell=%s r_wire_row_ohm=%g r_wire_col_ohm=%g r_driver_ohm=%g "
                 "r_sense_ohm=%g v_read_volt=%g g_min_siemens=%g g_max_siemens=%g c_wire_farad=%g "
                 "program=%d d2d=%d stuck_on=%g stuck_off=%g input=%s engine=%s t_read_s=%g",
                 p->rows, p->cols, xb_device_name(p->device), xb_cell_name(p->cell), p->r_wire_row_ohm,
                 p->r_wire_col_ohm, p->r_driver_ohm, p->r_sense_ohm, p->v_read_volt, p->g_min_siemens,
                 p->g_max_siemens, p->c_wire_farad, p->var_program, p->var_d2d, p->stuck_on_rate,
                 p->stuck_off_rate, inp, xb_char_engine_name(P->engine), P->t_read_s);
        /* the write scheme is a sweep axis: part of the key of every point of a campaign that
         * programs (also of points whose device skips it, which would otherwise repeat) */
        if (scalar(c, "write", "enabled", 0) != 0) {
            size_t kl = strlen(P->key);
            snprintf(P->key + kl, sizeof P->key - kl, " write=%s", xb_write_scheme_name((xb_write_scheme)P->write_scheme));
        }
        /* the same configuration gets the same seed whatever else the campaign sweeps */
        P->seed = fnv1a(P->key, 14695981039346656037ULL ^ (c->seed * 0x9E3779B97F4A7C15ULL));
        p->seed = P->seed;
        /* refuse a point that cannot fit in memory now, not after hours of the other points */
        const double bytes = point_memory(P);
        if (bytes > mem_limit) {
            char what[160];
            snprintf(what, sizeof what, "%s:%d: point %zu (%zux%zu, %s engine)", fname, line_size, pt, p->rows, p->cols,
                     P->use_native ? "native" : xb_char_engine_name(P->engine));
            return xb_memory_check(bytes, what, err);
        }
        (void)v;
#undef HAS
#undef VAL
    }
    return XB_OK;
}

/* ------------------------------------------------------------------ reading lines */
/* inih reader over the campaign text (fgets semantics: at most num-1 bytes, through the
 * newline).  Debian's libinih is built with a 200-byte line buffer (INI_MAX_LINE, a
 * compile-time setting of the shared library) and splits longer lines, so that the rest of
 * a long line was parsed as a line of its own and the error named the wrong line and cause.
 * Feeding the lines ourselves gives the line number of every handler call and turns a line
 * that does not fit into one clear error. */
static char *text_reader(char *str, int num, void *stream)
{
    parse_ctx *x = stream;
    if (!*x->next || x->too_long) return NULL;
    const char *p = x->next, *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) + 1 : strlen(p); /* with its newline */
    x->line++;
    x->cur = p;
    x->next = p + n;
    if (num >= 3 && n > (size_t)num - 1) {
        /* a long comment or blank line says nothing to the parser: feed it empty */
        const char *q = p + strspn(p, " \t\r");
        if (*q == ';' || *q == '#' || *q == '\n' || !*q) {
            memcpy(str, "\n", 2);
            return str;
        }
    }
    if (num < 2 || n > (size_t)num - 1) {
        x->too_long = 1;
        x->max_len = num - 2;
        return NULL;
    }
    memcpy(str, p, n);
    str[n] = '\0';
    return str;
}

/* ------------------------------------------------------------------ public */
int xb_char_campaign_parse(const char *text, const char *name, xb_campaign **out, xb_error *err)
{
    *out = NULL;
    xb_campaign *c = calloc(1, sizeof *c);
    if (!c) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    c->path = strdup(name ? name : "<campaign>");
    c->text = strdup(text);
    if (!c->path || !c->text) {
        xb_char_campaign_free(c);
        return xb_errorf(err, XB_ERUNTIME, "out of memory");
    }
    parse_ctx x = {0};
    x.c = c;
    x.fname = c->path;
    x.text = x.next = text;
    int line = ini_parse_stream(text_reader, &x, handler, &x);
    if (line != 0 || x.too_long || x.oom) {
        int rc;
        if (x.too_long && (line == 0 || line >= x.line))
            rc = xb_errorf(err, XB_EINPUT, "%s:%d: line too long (more than %d characters; continue a list or a text "
                           "on indented lines)", c->path, x.line, x.max_len);
        else if (line < 0 || x.oom) rc = xb_errorf(err, XB_ERUNTIME, "%s: cannot parse (out of memory)", c->path);
        else if (x.msg[0]) rc = xb_errorf(err, XB_EINPUT, "%s:%d: %s", c->path, line, x.msg);
        else rc = xb_errorf(err, XB_EINPUT, "%s:%d: syntax error (expected [section] or key = value)", c->path, line);
        xb_char_campaign_free(c);
        return rc;
    }

    const kslot *nm = slot(c, "campaign", "name");
    snprintf(c->name, sizeof c->name, "%s", (nm->set && nm->str) ? nm->str : "campaign");
    c->seed = (uint64_t)scalar(c, "campaign", "seed", 1);
    c->workers = (int)scalar(c, "campaign", "workers", 0);
    c->timeout_s = scalar(c, "campaign", "timeout_s", 600);
    int rc = build_points(c, c->path, err);
    if (rc) {
        xb_char_campaign_free(c);
        return rc;
    }
    *out = c;
    return XB_OK;
}

/* Largest campaign file read: 1 MiB (the shipped campaigns are < 4 KB; the text is also
 * stored in every results file).  Without a cap `xbar characterize /dev/zero` read at
 * ~1 GB/s until memory ran out. */
#define XB_CAMPAIGN_MAX_BYTES ((size_t)1 << 20)

int xb_char_campaign_load(const char *path, xb_campaign **out, xb_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return xb_errorf(err, XB_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(XB_CAMPAIGN_MAX_BYTES + 2);
    if (!buf) {
        fclose(f);
        return xb_errorf(err, XB_ERUNTIME, "%s: out of memory", path);
    }
    size_t len = 0, n;
    int rc = XB_OK;
    /* chunk by chunk, so that a binary file or a device stops at its first NUL byte */
    while (!rc && len <= XB_CAMPAIGN_MAX_BYTES) {
        const size_t room = XB_CAMPAIGN_MAX_BYTES + 1 - len;
        if ((n = fread(buf + len, 1, room < 4096 ? room : 4096, f)) == 0) break;
        const char *nul = memchr(buf + len, '\0', n);
        if (nul) {
            int line = 1;
            for (const char *q = buf; q < nul; q++) line += *q == '\n';
            rc = xb_errorf(err, XB_EINPUT, "%s:%d: NUL byte at offset %zu: not a text file", path, line,
                           (size_t)(nul - buf));
        }
        len += n;
    }
    if (!rc && len > XB_CAMPAIGN_MAX_BYTES)
        rc = xb_errorf(err, XB_EINPUT, "%s: larger than %zu KiB: not a campaign file", path,
                       XB_CAMPAIGN_MAX_BYTES / 1024);
    if (!rc && ferror(f)) rc = xb_errorf(err, XB_EINPUT, "%s: read error", path);
    fclose(f);
    if (!rc) {
        buf[len] = '\0';
        rc = xb_char_campaign_parse(buf, path, out, err);
    }
    free(buf);
    return rc;
}

void xb_char_campaign_free(xb_campaign *c)
{
    if (!c) return;
    for (size_t k = 0; k < NKEYS; k++) {
        free(c->slots[k].v);
        free(c->slots[k].str);
    }
    for (size_t k = 0; k < c->n_warnings; k++) free(c->warnings[k]);
    free(c->warnings);
    free(c->points);
    free(c->path);
    free(c->text);
    free(c);
}

const char *xb_char_campaign_name(const xb_campaign *c) { return c->name; }
const char *xb_char_campaign_text(const xb_campaign *c) { return c->text; }
size_t xb_char_campaign_npoints(const xb_campaign *c) { return c->npoints; }
const xb_char_point *xb_char_campaign_point(const xb_campaign *c, size_t k)
{
    return k < c->npoints ? &c->points[k] : NULL;
}
int xb_char_campaign_workers(const xb_campaign *c) { return c->workers; }
double xb_char_campaign_timeout_s(const xb_campaign *c) { return c->timeout_s; }
size_t xb_char_campaign_n_warnings(const xb_campaign *c) { return c ? c->n_warnings : 0; }
const char *xb_char_campaign_warning(const xb_campaign *c, size_t k)
{
    return c && k < c->n_warnings ? c->warnings[k] : NULL;
}
