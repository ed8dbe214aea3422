/* Helpers shared by the cmocka suites. */
#ifndef XB_TEST_H
#define XB_TEST_H

#include <stddef.h>

#include <stdint.h>

#include "xbar/exec.h"
#include "xbar/fit.h"

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

/* An engine of the complete registry (xb_fit_engines: "ideal", "native", "spice") with the
 * default configuration; aborts the test program on failure.  Free with xb_engine_free. */
xb_engine *xb_test_engine(const char *name);

/* The fitted-model engine over parameters m (read noise on/off, noise seed, exact: the full
 * model per vector instead of the fast form); aborts on failure. */
xb_engine *xb_test_model_engine(const xb_fit_params *m, int read_noise, uint64_t seed, int exact);

#endif
