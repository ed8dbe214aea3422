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
    "           g_max; CSV columns v_volt, then one current (A) per state.\n"
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
            printf("triangular SET (+V) / RESET (-V) sweep, V = %g V (--v-max)\n", r->v_max_volt);
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

static int have_gnuplot(void)
{
    const char *path = getenv("PATH");
    if (!path) return 0;
    char *dup = strdup(path);
    int found = 0;
    for (char *save = NULL, *d = strtok_r(dup, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char buf[4096];
        snprintf(buf, sizeof buf, "%s/gnuplot", d);
        found = access(buf, X_OK) == 0;
    }
    free(dup);
    return found;
}

/* A curve's legend: "G = 4.47 uS" for the read sweep's "i_amp_g=4.472e-06" columns, else the
 * column's CSV label. */
static void curve_title(const char *label, char *buf, size_t n)
{
    const char *g = label ? strstr(label, "_g=") : NULL;
    if (g) snprintf(buf, n, "G = %.3g uS", strtod(g + 3, NULL) * 1e6);
    else snprintf(buf, n, "%s", label ? label : "");
}

/* The PNG of the CSV: a title, one curve per y column with its legend, and on a log axis the
 * range trimmed to 1e-3 of the smallest curve's largest |y| (the |I| -> 0 dip at V = 0 would
 * otherwise stretch it over tens of decades). */
static void plot_png(const char *csv, const char *png, const char *title, const char *xlabel, const char *ylabel,
                     int ncols, int xcol, const int *ycols, char *const *labels, int logy, const xb_matrix *m)
{
    FILE *g = popen("gnuplot 2>/dev/null", "w");
    if (!g) return;
    fprintf(g, "set terminal png size 900,600\nset output '%s'\nset datafile separator ','\n", png);
    fprintf(g, "set title \"%s\" noenhanced\nset xlabel '%s'\nset ylabel '%s'\nset grid\nset key outside noenhanced\n",
            title, xlabel, ylabel);
    if (logy) {
        double lo = INFINITY, hi = 0;
        for (int k = 0; m && k < ncols; k++) {
            double mx = 0;
            for (size_t r = 0; r < m->rows; r++) {
                double y = fabs(m->data[r * m->cols + (size_t)ycols[k] - 1]);
                if (isfinite(y) && y > mx) mx = y;
            }
            if (mx > 0 && mx < lo) lo = mx;
            if (mx > hi) hi = mx;
        }
        fprintf(g, "set logscale y\nset format y '%%.0e'\n");
        if (hi > 0 && isfinite(lo)) fprintf(g, "set yrange [%.6g:%.6g]\n", lo * 1e-3, hi * 2);
    }
    fprintf(g, "plot ");
    for (int k = 0; k < ncols; k++) {
        char t[128];
        curve_title(labels ? labels[ycols[k] - 1] : NULL, t, sizeof t);
        fprintf(g, "%s'%s' using %d:%s%d%s with lines lw 2 title \"%s\"", k ? ", " : "", csv, xcol, logy ? "(abs($" : "",
                ycols[k], logy ? "))" : "", t);
    }
    fprintf(g, "\n");
    pclose(g);
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
    FILE *f = fopen(path, "w");
    if (!f) return xb_errorf(err, XB_ERUNTIME, "-o: cannot write '%s'", path);
    fprintf(f, "%s\n", header);
    xb_csv_fwrite_matrix(f, m);
    if (fclose(f) != 0) return xb_errorf(err, XB_ERUNTIME, "-o: error writing '%s'", path);
    return XB_OK;
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
    int no_png = 0, d2d = 0;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--var-d2d") == 0) { d2d = 1; continue; }
        if (strcmp(a, "--no-png") == 0) { no_png = 1; continue; }
        static const char *const flags[] = {"--device", "--mode", "-o", "--png", "--states", "--points",
                                            "--pulses", "--v-max", "--v-read", "--seed", "--timeout"};
        int k = -1;
        for (int f = 0; f < 11; f++)
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
        default: bad = xb_parse_double(v, "--timeout", &eo.timeout_s, &err) || !(eo.timeout_s > 0); break;
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

    /* the deck (netlist stage) and how to plot its columns (CSV column numbers, 1-based) */
    xb_netlist_deck deck;
    int ycols[64], ny = 0, logy = 0, xcol = 1;
    const char *xlabel = "V (V)", *ylabel = "I (A)";
    int rc;
    if (!dynamic) {
        rc = xb_netlist_iv_read_deck(&p, states, vmax > 0 ? vmax : 0.5, points, &deck, &err);
        for (size_t s = 0; !rc && s < states; s++) ycols[ny++] = (int)s + 2;
        logy = 1;
    } else {
        rc = xb_netlist_iv_dynamic_deck(&p, vmax, pulses, &deck, &err);
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
    if (!rc && !no_png && have_gnuplot()) {
        char def[4096];
        if (!png) {
            snprintf(def, sizeof def, "%s", opath);
            char *dot = strrchr(def, '.');
            if (dot && !strchr(dot, '/')) *dot = 0;
            strncat(def, ".png", sizeof def - strlen(def) - 1);
            png = def;
        }
        char title[256];
        if (!dynamic)
            snprintf(title, sizeof title, "%s read I-V at %zu programmed states (G = chord conductance at %g V)", dev,
                     states, p.v_read_volt);
        else
            snprintf(title, sizeof title, "%s %s", dev, di->iv.kind == XB_IV_SWEEP ? "SET/RESET sweep"
                                                       : di->iv.kind == XB_IV_PWL ? "programming waveform"
                                                                                  : "gate-pulse potentiation/depression");
        plot_png(opath, png, title, xlabel, ylabel, ny, xcol, ycols, deck.labels, logy, m);
    }
    xb_netlist_deck_free(&deck);
    xb_matrix_free(m);
    return rc ? xb_cli_fail("iv", &err) : 0;
}
