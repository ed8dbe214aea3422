/* First real use of libngspice, in-process: a resistor divider and an RC step
 * response, each checked against its closed form. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ngspice/sharedspice.h>
#include <string.h>

static int quiet_cb(char *line, int id, void *user) { return 0; }
static int exit_cb(int status, NG_BOOL immediate, NG_BOOL quit, int id, void *user) { return 0; }

static int setup(void **state)
{
    return ngSpice_Init(quiet_cb, NULL, exit_cb, NULL, NULL, NULL, NULL);
}

static void load(char **lines)
{
    assert_int_equal(ngSpice_Circ(lines), 0);
}

static void test_divider(void **state)
{
    /* V1 = 1 V across R1 = 1k over R2 = 3k: v(mid) = 0.75 V, I = 0.25 mA. */
    char *c[] = {"divider", "V1 in 0 DC 1", "R1 in mid 1k", "R2 mid 0 3k",
                 ".options reltol=1e-9 abstol=1e-15 vntol=1e-12", ".end", NULL};
    load(c);
    assert_int_equal(ngSpice_Command("op"), 0);
    pvector_info v = ngGet_Vec_Info("mid");
    assert_non_null(v);
    assert_true(fabs(v->v_realdata[0] - 0.75) < 1e-12);
    pvector_info i = ngGet_Vec_Info("v1#branch");
    assert_non_null(i);
    /* SPICE reports source current flowing into the + terminal: -0.25 mA. */
    assert_true(fabs(i->v_realdata[0] + 0.25e-3) < 1e-15);
    ngSpice_Command("remcirc");
}

static void test_rc_step(void **state)
{
    /* 1 V step into R = 1k, C = 1n (tau = 1 us): v(out) = 1 - exp(-t/tau). */
    char *c[] = {"rc step", "V1 in 0 PWL(0 0 1n 1)", "R1 in out 1k", "C1 out 0 1n",
                 ".options reltol=1e-6 abstol=1e-15 vntol=1e-9",
                 ".tran 10n 5u 0 5n", ".end", NULL};
    load(c);
    assert_int_equal(ngSpice_Command("run"), 0);
    /* ngGet_Vec_Info returns a pointer to one static struct: copy before the next call. */
    pvector_info info = ngGet_Vec_Info("time");
    assert_non_null(info);
    const double *time = info->v_realdata;
    int n = info->v_length;
    info = ngGet_Vec_Info("out");
    assert_non_null(info);
    const double *vout = info->v_realdata;
    assert_int_equal(info->v_length, n);
    assert_true(n > 100);
    const double tau = 1e-6, ramp = 1e-9;
    double worst = 0;
    for (int k = 0; k < n; k++) {
        double tt = time[k];
        if (tt < 20 * ramp) continue;
        /* Response to a ramp of width `ramp` (exact): shifted exponential. */
        double ref = 1 - tau / ramp * (exp(-(tt - ramp) / tau) - exp(-tt / tau));
        double e = fabs(vout[k] - ref);
        if (e > worst) worst = e;
    }
    print_message("RC worst abs error %g V over %d points\n", worst, n);
    assert_true(worst < 1e-5);
    ngSpice_Command("remcirc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_divider),
        cmocka_unit_test(test_rc_step),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
