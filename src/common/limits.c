/* The one table of physical limits (include/xbar/common.h, docs/hardening.md "Limits") and
 * the memory budget.  Every number xbar reads from a file, a flag or a campaign key is
 * checked against the row of its quantity: NaN, Inf and absurd magnitudes are refused where
 * they enter (a value of 1e300 S reached the solvers as garbage or as a misleading "floating
 * node"; a NaN weight ran a whole network and reported an accuracy).  The bounds are wide
 * (decades beyond any device or circuit xbar models) so that no real input is refused; each
 * row says why its bound is where it is. */
#include "xbar/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const xb_limit k_limits[XB_QTY_COUNT] = {
    [XB_QTY_CONDUCTANCE] = {"conductance", "S", 0.0, 1.0,
                            "1 S is a 1 ohm cell: a thousand times the ON conductance of every device in the "
                            "device table (<= 1 mS) and as low as the wires themselves; no memory cell is above it"},
    [XB_QTY_VOLTAGE] = {"voltage", "V", -100.0, 100.0,
                        "reads are 0.1-0.3 V, the highest device pulse is 4 V (PCM RESET) and campaign pulses "
                        "stop at 20 V; 100 V is far past the breakdown of any on-chip device"},
    [XB_QTY_RESISTANCE] = {"resistance", "ohm", 0.0, 1e9,
                           "ngspice adds gmin = 1e-12 S at every junction: an element above 1 Gohm is within 1000x "
                           "of that floor, an open line in practice (wires are 0.1-100 ohm per segment, drivers and "
                           "sense resistors 0-100 kohm)"},
    [XB_QTY_CAPACITANCE] = {"capacitance", "F", 0.0, 1e-9,
                            "a wire segment has ~0.2 fF (0.2 fF/um); 1 nF per segment is six decades above and "
                            "gives RC times (1 Gohm x 1 nF = 1 s) longer than any read"},
    [XB_QTY_TIME] = {"time", "s", 0.0, 1e12,
                     "reads and pulses are ns-us, drift records reach years (retention specs: 10 years = 3.2e8 s); "
                     "1e12 s (~30 000 years) is also the bound of a campaign's [drift] times_s"},
    [XB_QTY_CURRENT] = {"current", "A", -1e7, 1e7,
                        "the most an admissible circuit carries: 100 V across 1 S cells, 65536 of them on one "
                        "line, is 6.6e6 A; a larger current is not a solution of any circuit xbar builds"},
    [XB_QTY_WEIGHT] = {"weight", "", -1e6, 1e6,
                       "trained and batch-norm-folded weights are O(1) (the shipped Fashion-MNIST networks: "
                       "|w| < 2.5); tiles map weights to conductances relative to the largest of the tile with "
                       "8-24 bit converters, so a weight 1e6 times the others leaves them all at zero"},
};

const xb_limit *xb_limit_get(xb_quantity q)
{
    return (unsigned)q < XB_QTY_COUNT ? &k_limits[q] : NULL;
}

int xb_limit_from_unit(const char *unit, xb_quantity *q)
{
    if (!unit) return XB_EINPUT;
    for (int k = 0; k < XB_QTY_COUNT; k++)
        if (k_limits[k].unit[0] && strcmp(k_limits[k].unit, unit) == 0) {
            *q = (xb_quantity)k;
            return XB_OK;
        }
    return XB_EINPUT;
}

/* The message for a value outside its row (v finite or not). */
static int bad_value(const xb_limit *l, double v, const char *where, xb_error *err)
{
    if (!isfinite(v)) return xb_errorf(err, XB_EINPUT, "%s: not finite", where);
    return xb_errorf(err, XB_EINPUT, "%s: %g%s%s is outside the %s limits [%g, %g]%s%s", where, v, l->unit[0] ? " " : "",
                     l->unit, l->name, l->lo, l->hi, l->unit[0] ? " " : "", l->unit);
}

int xb_check_value(xb_quantity q, double v, const char *where, xb_error *err)
{
    const xb_limit *l = xb_limit_get(q);
    if (!l) return xb_errorf(err, XB_EINPUT, "%s: unknown quantity %d", where ? where : "value", (int)q);
    if (v >= l->lo && v <= l->hi) return XB_OK; /* false for NaN */
    return bad_value(l, v, where ? where : "value", err);
}

/* "where[k]" for the message of element k. */
static int bad_element(const xb_limit *l, double v, const char *where, size_t k, xb_error *err)
{
    char w[XB_ERROR_MSG_MAX / 2];
    snprintf(w, sizeof w, "%s[%zu]", where ? where : "value", k);
    if (!l) return xb_errorf(err, XB_EINPUT, "%s: not finite", w);
    return bad_value(l, v, w, err);
}

int xb_check_values(xb_quantity q, const double *v, size_t n, const char *where, xb_error *err)
{
    const xb_limit *l = xb_limit_get(q);
    if (!l) return xb_errorf(err, XB_EINPUT, "%s: unknown quantity %d", where ? where : "value", (int)q);
    for (size_t k = 0; k < n; k++)
        if (!(v[k] >= l->lo && v[k] <= l->hi)) return bad_element(l, v[k], where, k, err);
    return XB_OK;
}

int xb_check_floats(xb_quantity q, const float *v, size_t n, const char *where, xb_error *err)
{
    const xb_limit *l = xb_limit_get(q);
    if (!l) return xb_errorf(err, XB_EINPUT, "%s: unknown quantity %d", where ? where : "value", (int)q);
    for (size_t k = 0; k < n; k++)
        if (!((double)v[k] >= l->lo && (double)v[k] <= l->hi)) return bad_element(l, (double)v[k], where, k, err);
    return XB_OK;
}

int xb_check_finite(const double *v, size_t n, const char *where, xb_error *err)
{
    for (size_t k = 0; k < n; k++)
        if (!isfinite(v[k])) return bad_element(NULL, v[k], where, k, err);
    return XB_OK;
}

/* ------------------------------------------------------------------ memory budget */
void xb_format_bytes(double bytes, char *buf, size_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    size_t u = 0;
    while (bytes >= 1024.0 && u + 1 < sizeof units / sizeof units[0]) {
        bytes /= 1024.0;
        u++;
    }
    if (u == 0) snprintf(buf, n, "%.0f B", bytes);
    else snprintf(buf, n, "%.*f %s", bytes < 10 ? 1 : 0, bytes, units[u]);
}

int xb_parse_bytes(const char *s, const char *what, double *out, xb_error *err)
{
    char *end = NULL;
    double v = s ? strtod(s, &end) : 0;
    double mul = 1;
    int ok = s && end != s && v > 0 && isfinite(v);
    if (ok && *end) {
        /* one suffix K, M, G or T (powers of 1024), optionally followed by "iB" or "B" */
        const char *const suf = "KMGT";
        const char *at = strchr(suf, *end >= 'a' && *end <= 'z' ? *end - 'a' + 'A' : *end);
        ok = at && *at;
        for (const char *c = suf; ok && c <= at; c++) mul *= 1024.0;
        if (ok) end++;
        if (ok && (*end == 'i' || *end == 'I') && (end[1] == 'B' || end[1] == 'b')) end += 2;
        else if (ok && (*end == 'B' || *end == 'b')) end++;
        ok = ok && !*end;
    }
    if (!ok || !isfinite(v * mul))
        return xb_errorf(err, XB_EINPUT, "%s: expected a size in bytes (e.g. 8G, 512M, 1073741824), got '%s'",
                         what ? what : "size", s ? s : "");
    *out = v * mul;
    return XB_OK;
}

int xb_memory_limit(double *bytes, xb_error *err)
{
    const char *env = getenv("XBAR_MAX_MEMORY");
    if (env && *env) return xb_parse_bytes(env, "XBAR_MAX_MEMORY", bytes, err);
    /* Half of the physical memory: room for the OS, the page cache and a second job; the
     * point processes of a campaign and the engine workers each check their own share. */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    *bytes = (pages > 0 && page > 0) ? 0.5 * (double)pages * (double)page : 4.0 * 1024 * 1024 * 1024;
    return XB_OK;
}

int xb_memory_check(double bytes, const char *what, xb_error *err)
{
    double lim;
    int rc = xb_memory_limit(&lim, err);
    if (rc) return rc;
    if (bytes <= lim) return XB_OK;
    char need[32], have[32];
    xb_format_bytes(bytes, need, sizeof need);
    xb_format_bytes(lim, have, sizeof have);
    return xb_errorf(err, XB_EINPUT,
                     "%s: needs about %s of memory, more than the limit of %s (--max-memory or XBAR_MAX_MEMORY "
                     "raise it; default: half the physical memory)",
                     what ? what : "request", need, have);
}
