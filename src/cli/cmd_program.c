/* xbar program: write a target conductance matrix into an array in circuit (half-select
 * scheme, write-verify or open loop), every pulse a solve of the whole array (ngspice, or the
 * native quasi-static solver: --engine); records in HDF5 (docs/hdf5-program.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "xbar/characterize.h"
#include "xbar/h5.h"

static const char k_help[] =
    "usage: xbar program --device D --cell 1r|1t1r|1s1r --scheme v2|v3 --g TARGET.csv\n"
    "                    [--verify --tol T --max-pulses N] [options] -o PROG.h5\n"
    "\n"
    "Writes the target conductances of TARGET.csv (siemens, within the device window) into an\n"
    "array of the device's dynamic model, one programming pulse at a time, each pulse a solve of\n"
    "the whole array with the half-select scheme (an ngspice transient, or the native solver:\n"
    "--engine):\n"
    "  v2  selected row at V, selected column at 0, all other rows and columns at V/2\n"
    "  v3  unselected rows at V/3, unselected columns at 2V/3\n"
    "(ECRAM: the scheme on the gate lines against the channel, drains grounded).  Every cell\n"
    "starts at the device's low-conductance end.  With --verify: incremental step pulses (the\n"
    "device's write recipe: start amplitude, step, maximum; PCM depresses by a RESET), a read\n"
    "after each, until within --tol or after --max-pulses; without it, open loop: the pulse\n"
    "count of a single-cell calibration curve, no reads.  Records per cell (pulses, achieved vs\n"
    "target G, disturb from the other cells' pulses, energy), per pulse and per round, in\n"
    "PROG.h5 (docs/hdf5-program.md); a summary on stdout.\n"
    "\n"
    "options (--rows .. --v-gate: the array options of `man xbar`, without its read statistics):\n"
    "  --g TARGET.csv         target conductances, rows x cols (required)\n"
    "  -o PROG.h5             output (required; written whole when done, locked meanwhile)\n"
    "  --force                overwrite an existing PROG.h5\n"
    "  --device D             a device with a dynamic model (required)\n"
    "  --cell C               1r | 1t1r | 1s1r                         [1r]\n"
    "  --scheme S             v2 | v3                                  [v2]\n"
    "  --verify               write-verify (else open loop)\n"
    "  --tol T                verify band, fraction of g_max - g_min   [0.05]\n"
    "  --max-pulses N         pulses per cell at most                  [50]\n"
    "  --engine E             spice | native | auto: the round solver; auto = native above\n"
    "                         32x32 when it has the device (rram, pcm, ecram) [spice]\n"
    "  --pulse-width S        pulse width at full amplitude (device recipe)\n"
    "  --compliance I         1T1R SET current limit in amperes (device recipe)\n"
    "  --selector K           1S1R selector: sinh (static) | ts (threshold switch) [sinh]\n"
    "  --no-c2c               no cycle-to-cycle noise (default: seeded draws per pulse)\n"
    "  --seed N               seed of the noise draws and d2d samples  [1]\n"
    "  --var-d2d              device-to-device spread of dynamic parameters\n"
    "  --rows N, --cols M     must match TARGET.csv when given\n"
    "  --r-wire OHM           wire resistance per segment, rows and columns [1]\n"
    "  --r-wire-row OHM, --r-wire-col OHM   one direction\n"
    "  --node NM              wire resistances of a technology node (give --cell first)\n"
    "  --r-driver OHM         line driver output resistance            [100]\n"
    "  --r-sense OHM          column driver series resistance          [0]\n"
    "  --c-wire F             wire capacitance per segment             [2e-16]\n"
    "  --v-read V             read voltage (G is the chord conductance at it) [0.2]\n"
    "  --g-min S, --g-max S   device window (give after --device)\n"
    "  --v-gate V             1T1R access gate voltage outside SET pulses [1.2]\n"
    "  --timeout S            ngspice job time limit in seconds\n";

/* Array flags that describe reads or statistics, not the programming circuit. */
static int not_for_program(const char *a)
{
    static const char *const k[] = {"--var-program", "--stuck-on", "--stuck-off", "--diff"};
    for (size_t n = 0; n < sizeof k / sizeof k[0]; n++)
        if (xb_cli_is_flag(a, k[n])) return 1;
    return 0;
}

static void print_summary(const xb_array_params *p, const xb_write_opts *o, const char *solver, const xb_write_result *r)
{
    xb_write_summary sm;
    xb_write_result_summary(r, &sm);
    printf("device=%s cell=%s scheme=%s size=%zux%zu verify=%d tol=%g c2c=%d\nsolver=%s\n", xb_device_name(p->device),
           xb_cell_name(p->cell), xb_write_scheme_name(o->scheme), r->rows, r->cols, o->verify, o->tol, o->c2c, solver);
    printf("pulses_total=%zu\npulses_mean=%.4g\npulses_max=%.0f\nrounds=%zu\n", r->n_pulses, sm.pulses_mean,
           sm.pulses_max, r->n_rounds);
    printf("converged_fraction=%.4g\nrms_error_siemens=%.4g\nmax_abs_disturb_siemens=%.4g\n", sm.converged_fraction,
           sm.rms_error_siemens, sm.max_abs_disturb_siemens);
    printf("e_total_joule=%.4g\ne_per_pulse_joule=%.4g\nt_program_s=%.4g\nwall_s=%.4g\n", r->e_total_joule,
           r->n_pulses ? r->e_total_joule / (double)r->n_pulses : 0.0, r->t_program_s, r->wall_s);
}

/* Write the result to `path` in one piece (xb_h5_create_atomic: in memory until the close,
 * then a checked temporary renamed over the target), so that a failure never leaves a
 * damaged file or replaces a good one. */
static int save(const char *path, const xb_array_params *p, const xb_write_opts *o, const xb_write_solver *solver,
                const xb_write_result *r, xb_error *err)
{
    hid_t f;
    int rc = xb_h5_create_atomic(path, 1, &f, err);
    if (rc) return rc;
    rc = xb_h5_attr_set_string(f, ".", "format", XB_PROGRAM_FORMAT, err);
    if (!rc) rc = xb_h5_attr_set_int64(f, ".", "format_version", XB_PROGRAM_FORMAT_VERSION, err);
    if (!rc) rc = xb_h5_attr_set_string(f, ".", "xbar_version", xb_version(), err);
    if (!rc) rc = xb_char_write_h5(f, p, o, r, err);
    if (!rc) rc = xb_h5_attr_set_string(f, ".", "solver", solver->name, err);
    if (rc) {
        xb_h5_discard(f);
        return rc;
    }
    return xb_h5_close(f, err);
}

int xb_cmd_program(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        fputs(k_help, stdout);
        char list[256];
        xb_device_list(list, sizeof list, 1);
        printf("devices with a dynamic model (docs/devices.md): %s\n", list);
        return 0;
    }
    xb_error err;
    xb_error_clear(&err);
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    xb_write_opts o;
    xb_write_opts_default(&o);
    o.verify = 0;
    const char *gpath = NULL, *opath = NULL, *engine = "spice";
    int have_device = 0, force = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (not_for_program(a)) return xb_cli_usage_error("program", "%.40s: not an option of program", a);
        if (xb_cli_is_flag(a, "--device")) have_device = 1;
        int r = xb_cli_array_option(argc, argv, &i, &p, &err);
        if (r < 0) return xb_cli_fail("program", &err);
        if (r > 0) continue;
        if (strcmp(a, "--verify") == 0) { o.verify = 1; continue; }
        if (strcmp(a, "--no-c2c") == 0) { o.c2c = 0; continue; }
        if (strcmp(a, "--force") == 0) { force = 1; continue; }
        static const char *const flags[] = {"--g", "-o", "--scheme", "--tol", "--max-pulses", "--pulse-width",
                                            "--compliance", "--selector", "--timeout", "--engine"};
        int k = -1;
        for (int f = 0; f < 10; f++)
            if (xb_cli_is_flag(a, flags[f])) k = f;
        if (k < 0) return xb_cli_usage_error("program", "unknown option '%s'", a);
        if (!(v = xb_cli_flag_value(argc, argv, &i, flags[k], &err))) return xb_cli_fail("program", &err);
        int bad = 0;
        switch (k) {
        case 0: gpath = v; break;
        case 1: opath = v; break;
        case 2: bad = xb_write_scheme_from_name(v, &o.scheme) != XB_OK; break;
        case 3: bad = xb_parse_double(v, "--tol", &o.tol, &err) || !(o.tol > 0 && o.tol < 1); break;
        case 4: bad = xb_parse_size(v, "--max-pulses", &o.max_pulses, &err) || o.max_pulses < 1 || o.max_pulses > 100000; break;
        case 5: bad = xb_parse_double(v, "--pulse-width", &o.width_s, &err) || !(o.width_s > 0 && o.width_s < 1); break;
        case 6: bad = xb_parse_double(v, "--compliance", &o.compliance_amp, &err) || !(o.compliance_amp > 0) || !isfinite(o.compliance_amp); break;
        case 7:
            if (strcmp(v, "sinh") == 0) p.selector = XB_SELECTOR_SINH;
            else if (strcmp(v, "ts") == 0) p.selector = XB_SELECTOR_THRESHOLD;
            else bad = 1;
            break;
        case 8: bad = xb_parse_double(v, "--timeout", &eo.timeout_s, &err) || !(eo.timeout_s > 0); break;
        default:
            engine = v;
            bad = strcmp(v, "spice") != 0 && strcmp(v, "native") != 0 && strcmp(v, "auto") != 0;
            break;
        }
        if (bad) {
            static const char *const want[] = {"", "", " (v2, v3)", " (0 < T < 1)", " (1..100000)", " (seconds, > 0)",
                                               " (amperes, > 0)", " (sinh, ts)", " (seconds, > 0)",
                                               " (spice, native, auto)"};
            return xb_cli_usage_error("program", "%s: bad value '%s'%s", flags[k], v, want[k]);
        }
    }
    char list[256];
    xb_device_list(list, sizeof list, 1);
    if (!have_device) return xb_cli_usage_error("program", "--device: missing (%s)", list);
    if (!xb_device_info_get(p.device)->dyn_subckt)
        return xb_cli_usage_error("program", "--device: %s has no dynamic model (%s)", xb_device_name(p.device), list);
    if (!gpath) return xb_cli_usage_error("program", "--g: missing target conductance CSV");
    if (!opath) return xb_cli_usage_error("program", "-o: missing output file");
    if (p.selector == XB_SELECTOR_THRESHOLD && p.cell != XB_CELL_1S1R)
        return xb_cli_usage_error("program", "--selector: ts needs --cell 1s1r");
    o.seed = p.seed;
    xb_matrix *g = NULL;
    int rc = xb_cli_read_gv(gpath, NULL, &p, &g, NULL, &err);
    if (rc) return xb_cli_fail("program", &err);
    const xb_write_solver *solver = NULL;
    if (xb_write_solver_pick(engine, &p, XB_WRITE_AUTO_NATIVE_ABOVE, &solver, &err)) {
        xb_matrix_free(g);
        return xb_cli_usage_error("program", "%s", err.msg);
    }
    for (size_t k = 0; k < g->rows * g->cols; k++) {
        double x = g->data[k];
        if (x < p.g_min_siemens * (1 - 1e-12) || x > p.g_max_siemens * (1 + 1e-12)) {
            size_t line = xb_cli_csv_line_of_row(gpath, k / g->cols);
            xb_matrix_free(g);
            return xb_cli_usage_error("program", "%s:%zu: target %g S (column %zu) is outside the device window [%g, %g] S",
                                      gpath, line, x, k % p.cols + 1, p.g_min_siemens, p.g_max_siemens);
        }
    }
    xb_lock *lock = NULL;
    if ((rc = xb_cli_claim_output("program", opath, force, &lock))) {
        xb_matrix_free(g);
        return rc;
    }
    xb_write_result r;
    rc = xb_char_write(&eo, &p, g, &o, solver, &r, &err);
    xb_matrix_free(g);
    if (!rc) rc = save(opath, &p, &o, solver, &r, &err);
    xb_lock_release(lock);
    if (!rc) print_summary(&p, &o, solver->name, &r);
    xb_write_result_clear(&r);
    return rc ? xb_cli_fail("program", &err) : 0;
}
