/* Instance parameters of the dynamic device models (the device table's dyn_params rows), with
 * device-to-device spread. */
#include "xbar/netlist.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Value of `name` in an override list "a=1 b=2", if present. */
static int find_override(const char *ov, const char *name, double *out, xb_error *err, int *bad)
{
    *bad = 0;
    if (!ov) return 0;
    size_t n = strlen(name);
    for (const char *s = ov; *s;) {
        while (*s == ' ') s++;
        const char *eq = strchr(s, '=');
        if (!eq) break;
        const char *end = strchr(eq, ' ');
        if (!end) end = eq + strlen(eq);
        if ((size_t)(eq - s) == n && strncmp(s, name, n) == 0) {
            char buf[64];
            size_t len = (size_t)(end - eq - 1);
            if (len >= sizeof buf) len = sizeof buf - 1;
            memcpy(buf, eq + 1, len);
            buf[len] = 0;
            if (xb_parse_double(buf, name, out, err)) { *bad = 1; return 0; }
            return 1;
        }
        s = end;
    }
    return 0;
}

int xb_netlist_dyn_instance(const xb_array_params *p, size_t cell_index, const char *overrides,
                            char **out, xb_error *err)
{
    *out = NULL;
    if (!xb_netlist_dyn_subckt(p->device)) {
        char list[256];
        xb_device_list(list, sizeof list, 1);
        return xb_errorf(err, XB_EINPUT, "--device: %s has no dynamic model (%s)", xb_device_name(p->device), list);
    }
    size_t n;
    const xb_dyn_param *t = xb_netlist_dyn_params(p->device, &n);
    gsl_rng *r = NULL;
    if (p->var_d2d) {
        r = gsl_rng_alloc(gsl_rng_mt19937);
        if (!r) return xb_errorf(err, XB_ERUNTIME, "d2d: out of memory");
        /* one stream per cell: seed mixes the user seed and the cell index (splitmix64) */
        uint64_t z = p->seed + 0x9e3779b97f4a7c15ULL * (cell_index + 1);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        gsl_rng_set(r, (unsigned long)z);
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        gsl_rng_free(r);
        return xb_errorf(err, XB_ERUNTIME, "d2d: out of memory");
    }
    int rc = XB_OK;
    for (size_t k = 0; k < n; k++) {
        double v = t[k].value;
        int bad;
        find_override(overrides, t[k].name, &v, err, &bad);
        if (bad) { rc = XB_EINPUT; break; }
        if (r && t[k].d2d_sigma > 0) v *= exp(t[k].d2d_sigma * gsl_ran_gaussian_ziggurat(r, 1.0));
        fprintf(f, "%s%s=%.17g", ftell(f) > 0 ? " " : "", t[k].name, v);
    }
    fclose(f);
    gsl_rng_free(r);
    if (rc) { free(buf); return rc; }
    *out = buf;
    return XB_OK;
}
