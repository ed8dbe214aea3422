/* The engine registry: name -> class over a caller's NULL-terminated table.  The engine
 * stage's own table lists its built-in classes (XB_ENGINE_BUILTINS in engine.h); the fit
 * stage's table (xb_fit_engines) adds the fitted model. */
#include <stdio.h>
#include <string.h>

#include "xbar/engine.h"

const xb_engine_class *const xb_engine_builtins[] = {XB_ENGINE_BUILTINS(XB_ENGINE_CLASS_REF) NULL};

void xb_engine_config_default(xb_engine_config *c)
{
    memset(c, 0, sizeof *c);
    /* the executor's default read window (xb_exec_config_default: one 100 ns ISAAC read) and
     * the campaigns' default input rise time ([transient] t_rise, docs/campaigns.md): the
     * fitted energy and settling laws are evaluated there */
    c->t_window_s = 100e-9;
    c->t_rise_s = 10e-12;
}

size_t xb_engine_class_names(const xb_engine_class *const *table, const char *sep, char *buf, size_t n)
{
    size_t len = 0;
    if (n) buf[0] = 0;
    for (size_t k = 0; table && table[k]; k++) {
        int w = snprintf(buf ? buf + (len < n ? len : n) : NULL, len < n ? n - len : 0, "%s%s", k ? sep : "",
                         table[k]->name);
        if (w > 0) len += (size_t)w;
    }
    return len;
}

int xb_engine_class_find(const xb_engine_class *const *table, const char *name, const xb_engine_class **out,
                         xb_error *err)
{
    if (out) *out = NULL;
    if (!table || !name || !out) return xb_errorf(err, XB_EINPUT, "engine lookup: missing argument");
    for (size_t k = 0; table[k]; k++)
        if (strcmp(table[k]->name, name) == 0) {
            *out = table[k];
            return XB_OK;
        }
    char names[256];
    xb_engine_class_names(table, ", ", names, sizeof names);
    return xb_errorf(err, XB_EINPUT, "unknown engine '%s' (%s)", name, names);
}

int xb_engine_new(const xb_engine_class *cls, const xb_engine_config *cfg, xb_engine **out, xb_error *err)
{
    if (out) *out = NULL;
    if (!cls || !cls->create || !out) return xb_errorf(err, XB_EINPUT, "engine: missing class or output");
    xb_engine_config def;
    if (!cfg) {
        xb_engine_config_default(&def);
        cfg = &def;
    }
    return cls->create(cls, cfg, out, err);
}

int xb_engine_new_by_name(const xb_engine_class *const *table, const char *name, const xb_engine_config *cfg,
                          xb_engine **out, xb_error *err)
{
    const xb_engine_class *cls = NULL;
    int rc = xb_engine_class_find(table, name, &cls, err);
    return rc ? rc : xb_engine_new(cls, cfg, out, err);
}
