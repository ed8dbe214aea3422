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

/* ---- cycle-to-cycle noise draws ----
 * Counter-based (no generator state): the draw of (seed, cell, pulse) is a pure function of
 * the three, so the spice and any native solver, programming cells in any order or in
 * parallel, feed the same numbers.  splitmix64 (Steele, Lea, Flood, OOPSLA 2014) mixes the
 * key into two 53-bit uniforms, Box-Muller makes the normal. */
static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double xb_netlist_c2c_draw(uint64_t seed, uint64_t cell, uint64_t pulse)
{
    uint64_t k = mix64(mix64(mix64(seed) ^ cell) ^ pulse);
    uint64_t a = mix64(k), b = mix64(k ^ 0x5851f42d4c957f2dULL);
    double u1 = ((double)(a >> 11) + 0.5) / 9007199254740992.0; /* (0, 1): never log(0) */
    double u2 = (double)(b >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double xb_netlist_c2c_input(xb_device_kind d, double z, double t_pulse_s)
{
    const xb_device_info *di = xb_device_info_get(d);
    if (!di) return 0;
    switch (di->c2c.kind) {
    case XB_C2C_PER_PULSE: return z;
    case XB_C2C_WIENER: return t_pulse_s > 0 ? z * sqrt(di->c2c.dt0_s / t_pulse_s) : 0;
    case XB_C2C_NONE:
    default: return 0;
    }
}

double xb_netlist_compliance_gate_volt(const xb_array_params *p, double i_amp)
{
    double beta = p->nmos_kp_a_per_v2 * p->nmos_w_over_l;
    return p->nmos_vt_volt + sqrt(2.0 * (i_amp > 0 ? i_amp : 0) / beta);
}
