/* Internal interface between the files of src/characterize. */
#ifndef XBAR_CHAR_INTERNAL_H
#define XBAR_CHAR_INTERNAL_H

#include <hdf5.h>

#include "xbar/characterize.h"

/* Dynamic device programming curves of one point's device (conductance vs pulse number,
 * potentiation then depression, `cycles` times), written to group "program" of g. */
int xb_char_program_curves(const xb_char_point *P, const xb_engine_opts *eo, hid_t g, xb_error *err);

/* Vector `name` ("i(vin0)") of a finished engine result, trying the ngspice spellings
 * "i(x)" and "x#branch"; NULL if absent. */
const double *xb_char_result_vec(const xb_engine_result *r, const char *name, size_t *len);

/* The line levels of a programming pulse at full amplitude (characterize.h, the schemes):
 * rows, columns and gate lines, the pulsed line's level and the others'.  One definition for
 * every round solver (write_spice.c, write_native.c). */
typedef struct {
    double row_sel, row_other, col_sel, col_other, gate_sel, gate_other;
} xb_char_wlevels;
void xb_char_write_levels(const xb_array_params *p, xb_write_scheme scheme, const xb_write_pulse *q,
                          xb_char_wlevels *l);

#endif
