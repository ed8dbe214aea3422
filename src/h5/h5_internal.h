/* Internals shared by the files of src/h5 (not part of include/xbar/h5.h). */
#ifndef XB_H5_INTERNAL_H
#define XB_H5_INTERNAL_H

#include "xbar/h5.h"

/* HDF5's automatic error printing, off between begin and end: every public xb_h5_* function
 * runs its HDF5 calls inside such a window and gives the caller's handler back before it
 * returns (only the CLI prints; a program embedding xbar keeps its own HDF5 settings).
 * Windows nest: an inner one saves "off" and restores "off". */
typedef struct xb_h5_quiet {
    H5E_auto2_t func;
    void *data;
} xb_h5_quiet;

void xb_h5i_quiet_begin(xb_h5_quiet *q);
void xb_h5i_quiet_end(const xb_h5_quiet *q);

/* Run the int-returning expression `call` with the printing off and return its value. */
#define XB_H5_QUIET_RETURN(call)                                                                                   \
    do {                                                                                                           \
        xb_h5_quiet q_;                                                                                            \
        xb_h5i_quiet_begin(&q_);                                                                                   \
        int rc_ = (call);                                                                                          \
        xb_h5i_quiet_end(&q_);                                                                                     \
        return rc_;                                                                                                \
    } while (0)

/* "file.h5:/group/name" for messages (name NULL or "." = loc itself). */
#define XB_H5_WHERE_MAX 1200
const char *xb_h5i_where(hid_t loc, const char *name, char *buf, size_t n);
#define WHERE(loc, name) xb_h5i_where((loc), (name), wbuf, sizeof wbuf)

/* A fixed-length UTF-8 string type of len bytes (at least 1), null-padded; H5Tclose it. */
hid_t xb_h5i_string_type(size_t len);
/* Read one string (fixed or variable length) from a dataset (is_attr 0) or attribute (1);
 * *text malloc'ed.  -1 unless the object holds exactly one string. */
int xb_h5i_read_string_obj(hid_t obj, int is_attr, char **text);
/* Link-creation properties that create missing intermediate groups; H5Pclose it. */
hid_t xb_h5i_lcpl(void);

#endif
