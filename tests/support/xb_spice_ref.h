/* Test helper: run the stock `ngspice -b` binary on a deck and read back vectors
 * (the independent reference of the netlist/device/mvm suites). */
#ifndef XB_SPICE_REF_H
#define XB_SPICE_REF_H

#include <stddef.h>

/* Writes dir/name.cir = title + body + analysis + a .control block that runs it and
 * wrdata's `vectors` (space separated, e.g. "i(v1) v(x1.gap)") with one scale column,
 * runs `ngspice -b`, and reads the table: *data is nrows x (1 + number of vectors),
 * row-major, malloc'ed.  Returns 0 on success, -1 on failure (ngspice log on stderr). */
int xb_spice_ref_run(const char *dir, const char *name, const char *body, const char *analysis,
                     const char *vectors, double **data, size_t *nrows, size_t *ncols);

#endif
