/* xbar iv: device I-V curves from the SPICE models (read mode at several programmed
 * states; dynamic SET/RESET sweeps or pulse trains). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "xbar/engine.h"

static const char k_help_head[] =
    "usage: xbar iv --device D --mode read|dynamic [options] -o FILE.csv\n"
    "\n"
    "Device I-V curves computed by ngspice from the models/ subcircuits; a PNG next to the CSV\n"
    "(FILE.png) when gnuplot is installed.\n"
    "  read:    static read I-V at --states programmed conductances, log-spaced from g_min to\n"
    "           g_max; CSV columns v_volt, then one current (A) per state.  A sweep beyond the\n"
    "           read law's validity (device table) prints one warning line on stderr.\n"
    "  dynamic: the device's test recipe (device table, docs/devices.md):\n";

static const char k_help_tail[] =
    "  --mode M               read | dynamic\n"
    "  -o FILE.csv            output (required)\n"
    "  --states N             read: number of programmed states            [5]\n"
    "  --v-max V              read: sweep -V..V [0.5]; sweep recipes: amplitude\n"
    "  --points N             read: sweep points                           [41]\n"
    "  --pulses N             gate-pulse recipes: pulses per direction     [50]\n"
    "  --v-read V             read voltage (G is the chord conductance at it) [0.2]\n"
    "  --var-d2d, --seed N    dynamic: device-to-device parameter sample\n"
    "  --c2c                  dynamic: cycle-to-cycle noise, one seeded draw per pulse (per run\n"
    "                         for sweep/PWL recipes; --seed)\n"
    "  --compliance I         dynamic, two-terminal recipes: SET current limit in amperes (the\n"
    "                         access NMOS gate biased for saturation at I); 0 for none\n"
    "                         [recipe's: rram 100e-6]\n"
    "  --png FILE             PNG path (default FILE.csv with .png); --no-png to skip\n"
    "  --timeout S            ngspice job time limit in seconds\n";

/* The help, with one line per device recipe from the device table. */
static void print_help(void)
{
    fputs(k_help_head, stdout);
    for (int d = 0; d < XB_DEVICE_COUNT; d++) {
        const xb_device_info *di = xb_device_info_get((xb_device_kind)d);
        if (!di->dyn_subckt) continue;
        const xb_iv_recipe *r = &di->iv;
        printf("           %s: ", di->name);
        if (r->kind == XB_IV_SWEEP)
            printf("triangular SET (+V) / RESET (-V) sweep, V = %g V (--v-max), %g ohm series,\n"
                   "             %g A compliance\n",
                   r->v_max_volt, r->series_ohm, r->compliance_amp);
        else if (r->kind == XB_IV_PWL)
            printf("the waveform PWL(%s)\n             through a %g ohm load\n", r->pwl_spice, r->load_ohm);
        else
            printf("--pulses potentiation then --pulses depression gate pulses (+-%g V, %g ns,\n"
                   "             every %g ns)\n",
                   r->pulse_volt, r->pulse_width_s * 1e9, r->pulse_period_s * 1e9);
        /* the CSV columns are the deck's (written with .include lines: no model file read) */
        xb_array_params p;
        xb_array_params_default(&p, (xb_device_kind)d);
        p.include_models = 1;
        xb_netlist_deck deck;
        xb_error e;
        if (xb_netlist_iv_dynamic_deck(&p, 0, 1, &deck, &e) == XB_OK) {
            printf("             CSV ");
            for (size_t k = 0; k < deck.n_vectors; k++) printf("%s%s", k ? "," : "", deck.labels[k]);
            printf("\n");
            xb_netlist_deck_free(&deck);
        }
    }
    char all[256], dyn[256];
    xb_device_list(all, sizeof all, 0);
    xb_device_list(dyn, sizeof dyn, 1);
    printf("\noptions:\n  --device D             %s (dynamic: %s)\n", all, dyn);
    fputs(k_help_tail, stdout);
}

/* A curve's legend: "G = 4.47 uS" for the read sweep's "i_amp_g=4.472e-06" columns, else the
 * column's CSV label. */
static void curve_title(const char *label, char *buf, size_t n)
{
    const char *g = label ? strstr(label, "_g=") : NULL;
    if (g) snprintf(buf, n, "G = %.3g uS", strtod(g + 3, NULL) * 1e6);
    else snprintf(buf, n, "%s", label ? label : "");
}

/* On a log axis: the range from 1e-3 of the smallest curve's largest |y| to twice the largest
 * (the |I| -> 0 dip at V = 0 would otherwise stretch it over tens of decades). */
static void log_range(FILE *f, const xb_matrix *m, int ncols, const int *ycols)
{
    double lo = INFINITY, hi = 0;
    for (int k = 0; k < ncols; k++) {
        double mx = 0;
        for (size_t r = 0; r < m->rows; r++) {
            double y = fabs(m->data[r * m->cols + (size_t)ycols[k] - 1]);
            if (isfinite(y) && y > mx) mx = y;
        }
        if (mx > 0 && mx < lo) lo = mx;
        if (mx > hi) hi = mx;
    }
    fprintf(f, "set logscale y\nset format y '%%.0e'\n");
    if (hi > 0 && isfinite(lo)) fprintf(f, "set yrange [%.6g:%.6g]\n", lo * 1e-3, hi * 2);
}

/* The PNG of the I-V data m: gnuplot (gnuplot.c) plots a copy of the data in a staging
 * directory beside the PNG, never the -o path itself (a device such as /dev/full once fed
 * gnuplot an endless input), and the PNG is moved into place only when complete.  A title,
 * one legend per curve (in conductance for the read sweep), a trimmed log axis. */
static int plot_png(const xb_matrix *m, const char *png, const char *title, const char *xlabel, const char *ylabel,
                    int ncols, int xcol, const int *ycols, char *const *labels, int logy, xb_error *err)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", png);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : png;
    if (slash == dir) dir[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    if (!*base || strchr(base, '\'')) return xb_errorf(err, XB_EINPUT, "--png: '%s' is not a file name gnuplot can take", png);
    xb_stage *s = NULL;
    FILE *f = NULL;
    int rc = xb_stage_new(dir, &s, err);
    if (!rc) rc = xb_stage_fopen(s, "iv.dat", 0, &f, err);
    if (!rc) {
        xb_csv_fwrite_matrix(f, m);
        rc = xb_stage_fclose(s, f, err);
    }
    if (!rc) rc = xb_stage_fopen(s, "iv.gp", 0, &f, err);
    if (!rc) {
        fprintf(f, "set terminal png size 900,600\nset output '%s'\nset datafile separator ','\n", base);
        fprintf(f, "set title \"%s\" noenhanced\nset xlabel '%s'\nset ylabel '%s'\nset grid\n"
                   "set key outside noenhanced\n",
                title, xlabel, ylabel);
        if (logy) log_range(f, m, ncols, ycols);
        fprintf(f, "plot ");
        for (int k = 0; k < ncols; k++) {
            char t[128];
            curve_title(labels ? labels[ycols[k] - 1] : NULL, t, sizeof t);
            fprintf(f, "%s'iv.dat' using %d:%s%d%s with lines lw 2 title \"%s\"", k ? ", " : "", xcol,
                    logy ? "(abs($" : "", ycols[k], logy ? "))" : "", t);
        }
        fprintf(f, "\n");
        rc = xb_stage_fclose(s, f, err);
    }
    if (!rc) rc = xb_cli_gnuplot(s, "iv.gp", &base, 1, err);
    if (!rc) rc = xb_stage_keep(s, base, base, err);
    if (!rc) return xb_stage_commit(s, err);
    xb_stage_free(s);
    return rc;
}

static int run_deck(const xb_engine_opts *eo, const xb_netlist_deck *d, xb_matrix **out, xb_error *err)
{
    const size_t nv = d->n_vectors;
    const char *const *names = (const char *const *)d->vectors;
    xb_engine_result *r = NULL;
    int rc = xb_engine_run(eo, d->text, nv, names, &r, err);
    if (rc) return rc;
    if (xb_engine_result_status(r) != XB_OK) {
        rc = xb_errorf(err, xb_engine_result_status(r), "ngspice: %s", xb_engine_result_error(r));
        xb_engine_result_free(r);
        return rc;
    }
    size_t len = 0;
    const double *v0 = xb_engine_result_vec(r, names[0], &len);
    xb_matrix *m = v0 ? xb_matrix_new(len, nv) : NULL;
    for (size_t k = 0; m && k < nv; k++) {
        size_t l2 = 0;
        const double *vk = xb_engine_result_vec(r, names[k], &l2);
        if (!vk || l2 != len) {
            xb_matrix_free(m);
            m = NULL;
            break;
        }
        for (size_t t = 0; t < len; t++) m->data[t * nv + k] = vk[t];
    }
    xb_engine_result_free(r);
    if (!m) return xb_errorf(err, XB_ERUNTIME, "ngspice: result vectors missing");
    *out = m;
    return XB_OK;
}

static int write_csv(const char *path, const char *header, const xb_matrix *m, xb_error *err)
{
    xb_afile *a; /* whole file or none (src/common/atomic.c) */
    int rc = xb_afile_open(path, &a, err);
    if (rc) return rc;
    fprintf(xb_afile_stream(a), "%s\n", header);
    xb_csv_fwrite_matrix(xb_afile_stream(a), m);
    return xb_afile_commit(a, err);
}

/* The PNG of -o FILE.csv: FILE.png; none when -o is not a regular file (a device, a pipe:
 * no "/dev/stdout.png"), unless --png names one. */
static int default_png(const char *opath, char *buf, size_t n)
{
    if (xb_output_in_place(opath)) return 0;
    snprintf(buf, n, "%s", opath);
    char *dot = strrchr(buf, '.');
    if (dot && !strchr(dot, '/')) *dot = 0;
    strncat(buf, ".png", n - strlen(buf) - 1);
    return 1;
}

int xb_cmd_iv(int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        print_help();
        return 0;
    }
    xb_error err;
    xb_error_clear(&err);
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    xb_engine_opts eo;
    xb_engine_opts_default(&eo);
    const char *dev = NULL, *mode = NULL, *opath = NULL, *png = NULL;
    size_t states = 5, points = 41, pulses = 50;
    double vmax = -1, vread = -1;
    int no_png = 0, d2d = 0, c2c = 0;
    double icomp = -1;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--var-d2d") == 0) { d2d = 1; continue; }
        if (strcmp(a, "--no-png") == 0) { no_png = 1; continue; }
        if (strcmp(a, "--c2c") == 0) { c2c = 1; continue; }
        static const char *const flags[] = {"--device", "--mode", "-o", "--png", "--states", "--points",
                                            "--pulses", "--v-max", "--v-read", "--seed", "--timeout", "--compliance"};
        int k = -1;
        for (int f = 0; f < 12; f++)
            if (xb_cli_is_flag(a, flags[f])) k = f;
        if (k < 0) return xb_cli_usage_error("iv", "unknown option '%s'", a);
        if (!(v = xb_cli_flag_value(argc, argv, &i, flags[k], &err))) return xb_cli_fail("iv", &err);
        int bad = 0;
        size_t sz;
        switch (k) {
        case 0: dev = v; break;
        case 1: mode = v; break;
        case 2: opath = v; break;
        case 3: png = v; break;
        case 4: bad = xb_parse_size(v, "--states", &states, &err) || states < 1; break;
        case 5: bad = xb_parse_size(v, "--points", &points, &err) || points < 2; break;
        case 6: bad = xb_parse_size(v, "--pulses", &pulses, &err) || pulses < 1; break;
        case 7: bad = xb_parse_double(v, "--v-max", &vmax, &err) || !(vmax > 0); break;
        case 8: bad = xb_parse_double(v, "--v-read", &vread, &err) || !(vread > 0); break;
        case 9: bad = xb_parse_size(v, "--seed", &sz, &err); seed = (uint64_t)sz; break;
        case 10: bad = xb_parse_double(v, "--timeout", &eo.timeout_s, &err) || !(eo.timeout_s > 0); break;
        default: bad = xb_parse_double(v, "--compliance", &icomp, &err) || !(icomp >= 0) || !isfinite(icomp); break;
        }
        if (bad) return xb_cli_usage_error("iv", "%s: bad value '%s'", flags[k], v);
    }
    char list[256];
    xb_device_list(list, sizeof list, 0);
    if (!dev) return xb_cli_usage_error("iv", "--device: missing (%s)", list);
    xb_device_kind d;
    if (xb_device_from_name(dev, &d)) return xb_cli_usage_error("iv", "--device: unknown device '%s' (%s)", dev, list);
    if (!mode || (strcmp(mode, "read") != 0 && strcmp(mode, "dynamic") != 0))
        return xb_cli_usage_error("iv", "--mode: expected read or dynamic, got '%s'", mode ? mode : "");
    if (!opath) return xb_cli_usage_error("iv", "-o: missing output CSV");
    /* the PNG is moved into place by a rename: never over a device node (as root, --png
     * /dev/null would replace it) */
    if (png && !no_png && xb_output_in_place(png))
        return xb_cli_usage_error("iv", "--png: '%s' is not a regular file (use --no-png)", png);
    xb_array_params_default(&p, d);
    p.seed = seed;
    p.var_d2d = d2d;
    if (vread > 0) p.v_read_volt = vread;
    int dynamic = strcmp(mode, "dynamic") == 0;
    const xb_device_info *di = xb_device_info_get(d);
    if (dynamic && !di->dyn_subckt) {
        xb_device_list(list, sizeof list, 1);
        return xb_cli_usage_error("iv", "--device: %s has no dynamic model (%s)", dev, list);
    }
    if (!dynamic && states > 60) return xb_cli_usage_error("iv", "--states: at most 60");
    if (!dynamic && (c2c || icomp >= 0))
        return xb_cli_usage_error("iv", "%s: only with --mode dynamic", c2c ? "--c2c" : "--compliance");

    /* the deck (netlist stage) and how to plot its columns (CSV column numbers, 1-based) */
    xb_netlist_deck deck;
    int ycols[64], ny = 0, logy = 0, xcol = 1;
    const char *xlabel = "V (V)", *ylabel = "I (A)";
    int rc;
    if (!dynamic) {
        double vsweep = vmax > 0 ? vmax : 0.5, vlim;
        const char *why;
        if (xb_netlist_read_validity(&p, vsweep, &vlim, &why))
            fprintf(stderr, "xbar iv: warning: the %s read law holds for |V| <= %g V (%s); this sweep reaches %g V\n",
                    dev, vlim, why, vsweep);
        rc = xb_netlist_iv_read_deck(&p, states, vsweep, points, &deck, &err);
        for (size_t s = 0; !rc && s < states; s++) ycols[ny++] = (int)s + 2;
        logy = 1;
    } else {
        /* --compliance 0: no limit (-1 in the options); not given: the recipe's */
        xb_iv_opts io = {vmax, pulses, icomp < 0 ? 0 : icomp == 0 ? -1 : icomp, c2c};
        rc = xb_netlist_iv_dynamic_deck_opts(&p, &io, &deck, &err);
        switch (di->iv.kind) {
        case XB_IV_SWEEP: /* I (column 3) against the applied V (column 2), log scale */
            xcol = 2;
            ycols[ny++] = 3;
            logy = 1;
            break;
        case XB_IV_PWL: /* I against the cell voltage behind the load */
            xcol = 2;
            ycols[ny++] = 3;
            xlabel = "V cell (V)";
            break;
        case XB_IV_GATE_PULSES: /* G (column 4) against time */
        default:
            xlabel = "t (s)";
            ylabel = "G (S)";
            ycols[ny++] = 4;
            break;
        }
    }
    char header[4096];
    size_t hl = (size_t)snprintf(header, sizeof header, "# ");
    for (size_t k = 0; !rc && k < deck.n_vectors && hl < sizeof header; k++)
        hl += (size_t)snprintf(header + hl, sizeof header - hl, "%s%s", k ? "," : "", deck.labels[k]);
    xb_matrix *m = NULL;
    if (!rc) rc = run_deck(&eo, &deck, &m, &err);
    if (!rc) rc = write_csv(opath, header, m, &err);
    char def[4096];
    if (!rc && !no_png && !png && default_png(opath, def, sizeof def)) png = def;
    char title[256];
    if (!dynamic)
        snprintf(title, sizeof title, "%s read I-V at %zu programmed states (G = chord conductance at %g V)", dev, states,
                 p.v_read_volt);
    else
        snprintf(title, sizeof title, "%s %s", dev,
                 di->iv.kind == XB_IV_SWEEP ? "SET/RESET sweep"
                 : di->iv.kind == XB_IV_PWL ? "programming waveform"
                                            : "gate-pulse potentiation/depression");
    if (!rc && !no_png && png && xb_cli_have_gnuplot())
        rc = plot_png(m, png, title, xlabel, ylabel, ny, xcol, ycols, deck.labels, logy, &err);
    xb_netlist_deck_free(&deck);
    xb_matrix_free(m);
    return rc ? xb_cli_fail("iv", &err) : 0;
}
