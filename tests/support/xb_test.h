/* Helpers shared by the cmocka suites. */
#ifndef XB_TEST_H
#define XB_TEST_H

#include <stddef.h>

#include <stdint.h>

#include "xbar/exec.h"
#include "xbar/fit.h"

/* ------------------------------------------------------------------ value-printing asserts
 * cmocka asserts that print, on failure, both values (with their expressions), the difference
 * and the tolerance at the caller's file:line (cmocka _fail). */
/* |a - b| <= abs_tol + rel_tol max(|a|, |b|) (NaN fails). */
#define xb_assert_near(a, b, rel_tol, abs_tol) \
    xb_test_assert_near_((double)(a), (double)(b), (rel_tol), (abs_tol), #a, #b, __FILE__, __LINE__)
/* a and b agree to a relative tolerance. */
#define xb_assert_rel(a, b, rel_tol) xb_assert_near((a), (b), (rel_tol), 0.0)
/* x < limit (NaN fails). */
#define xb_assert_below(x, limit) xb_test_assert_below_((double)(x), (double)(limit), #x, #limit, __FILE__, __LINE__)
/* s contains sub (s printed on failure; s NULL fails). */
#define xb_assert_contains(s, sub) xb_test_assert_contains_((s), (sub), #s, __FILE__, __LINE__)

void xb_test_assert_near_(double a, double b, double rel_tol, double abs_tol, const char *ea, const char *eb,
                          const char *file, int line);
void xb_test_assert_below_(double x, double limit, const char *ex, const char *el, const char *file, int line);
void xb_test_assert_contains_(const char *s, const char *sub, const char *es, const char *file, int line);

/* ------------------------------------------------------------------ running xbar */
/* One run of xbar: exit status (128+signal if killed), captured stdout and stderr. */
typedef struct xb_test_cli {
    int status;
    char *out, *err;
} xb_test_cli;

/* Run xbar with argv (NULL-terminated; argv[0] is ignored) and capture its output. */
void xb_test_cli_run(xb_test_cli *r, char *const argv[]);
void xb_test_cli_free(xb_test_cli *r);
/* Run xbar, assert exit status 0 (printing its stderr otherwise); returns its stdout
 * (malloc'ed). */
#define xb_test_xbar_ok(argv) xb_test_xbar_ok_((argv), __FILE__, __LINE__)
char *xb_test_xbar_ok_(char *const argv[], const char *file, int line);
/* Run xbar, assert exit status `status` and a one-line stderr that contains each of the
 * given strings (at least one). */
#define xb_test_xbar_fails(status, argv, ...) xb_test_xbar_fails_((status), (argv), __FILE__, __LINE__, __VA_ARGS__, NULL)
void xb_test_xbar_fails_(int status, char *const argv[], const char *file, int line, ...);
/* Start xbar in the background: stdin and stdout /dev/null, stderr to err_path (NULL:
 * /dev/null); child_setup(user), when given, runs in the child before exec (non-zero: the
 * child exits 126).  Returns the pid. */
int xb_test_xbar_start(char *const argv[], const char *err_path, int (*child_setup)(void *), void *user);
/* Wait for pid: its exit status, or 128+signal. */
int xb_test_wait(int pid);

/* Run a program (argv[0]: a path or a name looked up in PATH), assert exit status 0 (printing
 * its stderr otherwise); returns its stdout (malloc'ed). */
#define xb_test_run_ok(argv) xb_test_run_ok_((argv), __FILE__, __LINE__)
char *xb_test_run_ok_(char *const argv[], const char *file, int line);
/* The Python interpreter with numpy and h5py: Debian's /usr/bin/python3 (the python3 on PATH
 * may lack them). */
#define XB_TEST_PYTHON "/usr/bin/python3"

/* ------------------------------------------------------------------ files and directories */
/* dir/name, malloc'ed. */
char *xb_test_path(const char *dir, const char *name);
/* The whole file, NUL-terminated, malloc'ed; NULL when it cannot be read. */
char *xb_test_read_file(const char *path);
/* Remove dir and everything in it (kept when XB_TEST_KEEP is set in the environment, for
 * looking at after a failure), and free the string. */
void xb_test_tmpdir_remove(char *dir);
/* cmocka group fixtures: *state = a fresh temporary directory named after the program
 * (xb_test_tmpdir), removed again at teardown (xb_test_tmpdir_remove). */
int xb_test_group_tmpdir(void **state);
int xb_test_group_tmpdir_remove(void **state);

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

/* The number after "key": in a JSON text (fails the test when the key is missing). */
double xb_test_json_number(const char *json, const char *key);
/* The same in a JSON file. */
double xb_test_json_file_number(const char *path, const char *key);

/* Number of newline characters in s. */
size_t xb_test_count_lines(const char *s);


/* Top-1 accuracy of xb_network_forward of net on the dataset. */
double xb_test_net_accuracy(const xb_network *net, const xb_dataset *d);

/* Relative L2 ||a - ref|| / ||ref|| over n floats, in double. */
/* |got - want| <= tol, else fail printing both to 17 digits and what. */
void xb_test_assert_close(double got, double want, double tol, const char *what);
/* splitmix64 uniform in [0, 1) from the state *s (the tests' own stream, independent of xbar's). */
double xb_test_urand(uint64_t *s);
/* rows x cols conductances uniform in [g_min, g_max] of p from seed. */
xb_matrix *xb_test_random_g(const xb_array_params *p, uint64_t seed);
double xb_test_rel_l2f(const float *a, const float *ref, size_t n);

/* An engine of the complete registry (xb_fit_engines: "ideal", "native", "spice") with the
 * default configuration; aborts the test program on failure.  Free with xb_engine_free. */
xb_engine *xb_test_engine(const char *name);

/* The fitted-model engine over parameters m (read noise on/off, noise seed, exact: the full
 * model per vector instead of the fast form); aborts on failure. */
xb_engine *xb_test_model_engine(const xb_fit_params *m, int read_noise, uint64_t seed, int exact);

#endif
