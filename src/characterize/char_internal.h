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

#endif
