/* The models/ libraries in decks: copied in (self-contained decks, the default) or
 * .include'd by absolute path (--include-models). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "netlist/netlist_internal.h"

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 8192;
            char *b = realloc(buf, cap);
            if (!b) { free(buf); fclose(f); return NULL; }
            buf = b;
        }
        size_t r = fread(buf + len, 1, cap - len - 1, f);
        len += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return NULL; }
    buf[len] = '\0';
    return buf;
}

/* Does the line at s start with the dot card `card` (case-insensitive) followed by a blank,
 * and then (if name) the word name followed by a blank or the end of the line? */
static int is_card(const char *s, const char *card, const char *name)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(card);
    if (strncasecmp(s, card, n) != 0) return 0;
    s += n;
    if (!name) return *s == '\0' || *s == '\n' || *s == '\r' || *s == ' ' || *s == '\t';
    if (*s != ' ' && *s != '\t') return 0;
    while (*s == ' ' || *s == '\t') s++;
    size_t m = strlen(name);
    if (strncasecmp(s, name, m) != 0) return 0;
    s += m;
    return *s == '\0' || *s == '\n' || *s == '\r' || *s == ' ' || *s == '\t';
}

int xb_netlist_model_text(const char *lib, const char *subckt, char **out, xb_error *err)
{
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", xb_netlist_models_dir(), lib);
    char *text = read_file(path);
    if (!text) return xb_errorf(err, XB_ERUNTIME, "%s: cannot read the device model library", path);
    const char *start = NULL, *end = NULL;
    for (const char *l = text; *l;) {
        const char *nl = strchr(l, '\n');
        const char *next = nl ? nl + 1 : l + strlen(l);
        if (!start && is_card(l, ".subckt", subckt)) start = l;
        else if (start && is_card(l, ".ends", NULL)) { end = next; break; }
        l = next;
    }
    if (!start || !end) {
        free(text);
        return xb_errorf(err, XB_ERUNTIME, "%s: no complete subcircuit '%s' (.subckt ... .ends)", path, subckt);
    }
    size_t len = (size_t)(end - start);
    char *s = malloc(len + 2);
    if (!s) { free(text); return xb_errorf(err, XB_ERUNTIME, "out of memory"); }
    memcpy(s, start, len);
    if (len == 0 || s[len - 1] != '\n') s[len++] = '\n';
    s[len] = '\0';
    free(text);
    *out = s;
    return XB_OK;
}

int xb_netlist_write_models(FILE *f, int include, const xb_model_ref *m, size_t n, xb_error *err)
{
    const char *dir = xb_netlist_models_dir();
    for (size_t k = 0; k < n; k++) {
        int seen = 0;
        for (size_t q = 0; q < k; q++)
            if (include ? strcmp(m[q].lib, m[k].lib) == 0
                        : strcmp(m[q].lib, m[k].lib) == 0 && strcmp(m[q].subckt, m[k].subckt) == 0)
                seen = 1;
        if (seen) continue;
        if (include) {
            fprintf(f, ".include %s/%s\n", dir, m[k].lib);
            continue;
        }
        char *t = NULL;
        int rc = xb_netlist_model_text(m[k].lib, m[k].subckt, &t, err);
        if (rc) return rc;
        fprintf(f, "* %s: copied from xbar models/%s (docs/devices.md)\n%s", m[k].subckt, m[k].lib, t);
        free(t);
    }
    return XB_OK;
}
