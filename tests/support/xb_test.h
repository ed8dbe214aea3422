/* Helpers shared by the cmocka suites. */
#ifndef XB_TEST_H
#define XB_TEST_H

#include <stddef.h>

#include "xbar/exec.h"

/* Run `xbar` (the binary under test) with the given argument vector (NULL-terminated,
 * argv[0] is ignored), capturing stdout and stderr.  Returns the exit status
 * (128+signal if killed).  *out / *err are malloc'ed, NUL-terminated (may be NULL args). */
int xb_test_run_xbar(char *const argv[], char **out, char **err);

/* Run an arbitrary program the same way (argv[0] = path or name looked up in PATH). */
int xb_test_run(char *const argv[], char **out, char **err);

/* Make a fresh temporary directory for a test; returns a malloc'ed path. */
char *xb_test_tmpdir(const char *tag);

/* Write text to dir/name; returns malloc'ed full path. */
char *xb_test_write_file(const char *dir, const char *name, const char *text);

/* Number of newline characters in s. */
size_t xb_test_count_lines(const char *s);

/* Activation buffers for every layer of net, n samples each (zero-filled), as
 * xb_network_forward / xb_exec_forward fill them; free with xb_test_acts_free. */
float **xb_test_acts_new(const xb_network *net, size_t n);
void xb_test_acts_free(float **a, size_t n_layers);

/* Relative L2 ||a - ref|| / ||ref|| over n floats, in double. */
double xb_test_rel_l2f(const float *a, const float *ref, size_t n);

#endif
