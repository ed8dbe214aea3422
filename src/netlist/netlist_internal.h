/* Internal to src/netlist: the deck-writing helpers shared by the array writer (netlist.c)
 * and the single-device test decks (testdeck.c). */
#ifndef XBAR_NETLIST_INTERNAL_H
#define XBAR_NETLIST_INTERNAL_H

#include <stdio.h>

#include "xbar/netlist.h"

/* One subcircuit of a models/ library a deck needs. */
typedef struct {
    const char *lib;    /* file name in xb_netlist_models_dir() */
    const char *subckt; /* subcircuit name in it */
} xb_model_ref;

/* The library of the 1S1R selector and its read subcircuit. */
#define XB_SELECTOR_LIB "selector.lib"
#define XB_SELECTOR_SUBCKT "sel_read"
/* The threshold-switching selector of programming circuits (p->selector). */
#define XB_SELECTOR_TS_SUBCKT "sel_ts"

/* Write the models a deck needs: with `include` one `.include <dir>/<lib>` line per distinct
 * library (in first-use order), else the text of every subcircuit (from its `.subckt` line to
 * its `.ends` line) copied from <dir>/<lib> under a comment naming the file, so the deck
 * runs anywhere.  XB_ERUNTIME naming the file when a library or subcircuit is missing. */
int xb_netlist_write_models(FILE *f, int include, const xb_model_ref *m, size_t n, xb_error *err);

/* The text of subcircuit `subckt` of <models dir>/<lib> (malloc'ed, ends with a newline). */
int xb_netlist_model_text(const char *lib, const char *subckt, char **out, xb_error *err);

/* The xb_netlist object: body text, sources the caller drives, output vectors. */
struct xb_netlist {
    char *body;
    size_t n_sources;
    xb_netlist_source *sources;
    char **src_strings; /* 3 per source */
    size_t n_outputs;
    char **outputs;
};

int xb_netlist_add_source(xb_netlist *n, const char *name, const char *pos, const char *neg);
int xb_netlist_add_output(xb_netlist *n, const char *q);

#endif
