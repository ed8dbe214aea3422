/* xbar iv: device I-V curves from the SPICE models (read mode at several programmed
 * states; dynamic SET/RESET sweeps or pulse trains). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "xbar/engine.h"

static const char k_help[] =
    "usage: xbar iv --device D --mode read|dynamic [options] -o FILE.csv\n"
    "\n"
    "Device I-V curves computed by ngspice from the models/ subcircuits; a PNG next to the CSV\n"
    "(FILE.png) when gnuplot is installed.\n"
    "  read:    static read I-V at --states programmed conductances, log-spaced from g_min to\n"
    "           g_max; CSV columns v_volt, then one current (A) per state.\n"
    "  dynamic: rram: triangular SET (+V) / RESET (-V) sweep; CSV time_s,v_volt,i_amp,gap_nm\n"
    "           pcm: SET by a 0 -> 2 V -> 0 sweep (1 us, threshold switching), 0.2 V read, RESET\n"
    "                pulse (3.5 V, 10 ns), 0.2 V read, all through a 10 kohm load;\n"
    "                CSV time_s,v_cell_volt,i_amp,c_cryst,t_rise_k\n"
    "           ecram: --pulses potentiation then --pulses depression gate pulses (+-1 V, 10 ns,\n"
    "                every 40 ns); CSV time_s,v_gate_volt,x_state,g_siemens\n"
    "\n"
    "options:\n"
    "  --device D             linear | rram | pcm | ecram (dynamic: rram, pcm, ecram)\n"
    "  --mode M               read | dynamic\n"
    "  -o FILE.csv            output (required)\n"
    "  --states N             read: number of programmed states            [5]\n"
    "  --v-max V              read: sweep -V..V [0.5]; rram dynamic: sweep amplitude [2]\n"
    "  --points N             read: sweep points                           [41]\n"
    "  --pulses N             ecram: pulses per direction                  [50]\n"
    "  --v-read V             read voltage (G is the chord conductance at it) [0.2]\n"
    "  --var-d2d, --seed N    dynamic: device-to-device parameter sample\n"
    "  --png FILE             PNG path (default FILE.csv with .png); --no-png to skip\n"
    "  --timeout S            ngspice job time limit in seconds\n";

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

static void plot_png(const char *csv, const char *png, const char *xlabel, const char *ylabel, int ncols,
                     int xcol, const int *ycols, int logy)
{
    FILE *g = popen("gnuplot 2>/dev/null", "w");
    if (!g) return;
    fprintf(g, "set terminal png size 900,600\nset output '%s'\nset datafile separator ','\n", png);
    fprintf(g, "set xlabel '%s'\nset ylabel '%s'\nset grid\nset key outside\n", xlabel, ylabel);
    if (logy) fprintf(g, "set logscale y\n");
    fprintf(g, "plot ");
    for (int k = 0; k < ncols; k++)
        fprintf(g, "%s'%s' using %d:%s%d%s with lines title 'column %d'", k ? ", " : "", csv, xcol,
                logy ? "(abs($" : "", ycols[k], logy ? "))" : "", ycols[k]);
    fprintf(g, "\n");
    pclose(g);
}

static int run_deck(const xb_engine_opts *eo, const char *deck, size_t nv, const char *const *names,
                    xb_matrix **out, xb_error *err)
{
    xb_engine_result *r = NULL;
    int rc = xb_engine_run(eo, deck, nv, names, &r, err);
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
        fputs(k_help, stdout);
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
    if (!dev) return xb_cli_usage_error("iv", "--device: missing (linear, rram, pcm, ecram)");
    xb_device_kind d;
    if (xb_device_from_name(dev, &d))
        return xb_cli_usage_error("iv", "--device: unknown device '%s' (linear, rram, pcm, ecram)", dev);
    if (!mode || (strcmp(mode, "read") != 0 && strcmp(mode, "dynamic") != 0))
        return xb_cli_usage_error("iv", "--mode: expected read or dynamic, got '%s'", mode ? mode : "");
    if (!opath) return xb_cli_usage_error("iv", "-o: missing output CSV");
    xb_array_params_default(&p, d);
    p.seed = seed;
    p.var_d2d = d2d;
    if (vread > 0) p.v_read_volt = vread;
    int dynamic = strcmp(mode, "dynamic") == 0;
    if (dynamic && d == XB_DEVICE_LINEAR)
        return xb_cli_usage_error("iv", "--device: linear has no dynamic model (rram, pcm, ecram)");

    char *deck = NULL, *inst = NULL;
    size_t dlen = 0;
    FILE *f = open_memstream(&deck, &dlen);
    const char *dir = xb_netlist_models_dir();
    const char **names = NULL;
    char **owned = NULL;
    size_t nv = 0;
    char header[4096];
    int ycols[64], ny = 0, logy = 0;
    const char *xlabel = "V (V)", *ylabel = "I (A)";
    int rc = XB_OK;
    if (!dynamic) {
        if (states > 60) { fclose(f); free(deck); return xb_cli_usage_error("iv", "--states: at most 60"); }
        if (vmax < 0) vmax = 0.5;
        fprintf(f, "xbar iv read %s\n", dev);
        if (xb_netlist_model_lib(d)) fprintf(f, ".include %s/%s\n", dir, xb_netlist_model_lib(d));
        fprintf(f, "V1 a 0 DC 0\n");
        nv = states + 1;
        names = calloc(nv, sizeof *names);
        owned = calloc(nv, sizeof *owned);
        names[0] = "v(a)";
        int hl = snprintf(header, sizeof header, "# v_volt");
        for (size_t s = 0; s < states; s++) {
            double g = states == 1 ? p.g_max_siemens
                                   : p.g_min_siemens * pow(p.g_max_siemens / p.g_min_siemens, (double)s / (double)(states - 1));
            fprintf(f, "Va%zu a n%zu DC 0\n", s, s);
            if (d == XB_DEVICE_LINEAR) fprintf(f, "R%zu n%zu 0 %.17g\n", s, s, 1 / g);
            else if (d == XB_DEVICE_ECRAM) fprintf(f, "X%zu n%zu 0 ecram_read g=%.17g\n", s, s, g);
            else fprintf(f, "X%zu n%zu 0 %s g=%.17g vr=%.17g v0=%.17g\n", s, s, d == XB_DEVICE_RRAM ? "rram_read" : "pcm_read",
                         g, p.v_read_volt, xb_device_v0_volt(&p, g));
            fprintf(f, "Bm%zu im%zu 0 V = i(Va%zu)\n", s, s, s);
            owned[s + 1] = malloc(32);
            snprintf(owned[s + 1], 32, "v(im%zu)", s);
            names[s + 1] = owned[s + 1];
            hl += snprintf(header + hl, sizeof header - (size_t)hl, ",i_amp_g=%.4g", g);
            ycols[ny++] = (int)s + 2;
        }
        fprintf(f, ".dc V1 %.17g %.17g %.17g\n.end\n", -vmax, vmax, 2 * vmax / (double)(points - 1));
        logy = 1;
    } else {
        rc = xb_netlist_dyn_instance(&p, 0, NULL, &inst, &err);
        if (!rc) {
            fprintf(f, "xbar iv dynamic %s\n.include %s/%s\nBt tn 0 V = time\n", dev, dir, xb_netlist_model_lib(d));
            if (d == XB_DEVICE_RRAM) {
                if (vmax < 0) vmax = 2.0;
                fprintf(f, "X1 a 0 rram_dyn %s\nV1 a 0 PWL(0 0 10u %.17g 20u 0 30u %.17g 40u 0)\n"
                           "Bm im 0 V = -i(V1)\n.tran 20n 40u\n.end\n", inst, vmax, -vmax);
                static const char *const nm[] = {"v(tn)", "v(a)", "v(im)", "v(x1.gap)"};
                names = calloc(4, sizeof *names);
                memcpy(names, nm, sizeof nm);
                nv = 4;
                snprintf(header, sizeof header, "# time_s,v_volt,i_amp,gap_nm");
                xlabel = "V (V)";
                ycols[ny++] = 3;
                logy = 1;
            } else if (d == XB_DEVICE_PCM) {
                fprintf(f, "X1 a 0 pcm_dyn %s\nRl in a 10k\n"
                           "V1 in 0 PWL(0 0 0.5u 2.0 1u 0 1.5u 0.2 2u 0.2 2.001u 3.5 2.011u 3.5 2.0115u 0.2 3u 0.2)\n"
                           "Bm im 0 V = -i(V1)\n.tran 1n 3u\n.end\n", inst);
                static const char *const nm[] = {"v(tn)", "v(a)", "v(im)", "v(x1.c)", "v(x1.t)"};
                names = calloc(5, sizeof *names);
                memcpy(names, nm, sizeof nm);
                nv = 5;
                snprintf(header, sizeof header, "# time_s,v_cell_volt,i_amp,c_cryst,t_rise_k");
                xlabel = "V cell (V)";
                ycols[ny++] = 3;
                ylabel = "I (A)";
            } else {
                double per = 40e-9, t_end = 2 * (double)pulses * per + 20e-9;
                fprintf(f, "X1 0 0 gg ecram_dyn %s\n", inst);
                fprintf(f, "Vu gu 0 PULSE(0 1 10n 0.1n 0.1n 10n %.17g %zu)\n", per, pulses);
                fprintf(f, "Vd gd 0 PULSE(0 -1 %.17g 0.1n 0.1n 10n %.17g %zu)\n", 10e-9 + (double)pulses * per, per,
                        pulses);
                fprintf(f, "Bgg gg 0 V = v(gu) + v(gd)\n");
                char *gmin = strstr(inst, "gmin="), *gmax = strstr(inst, "gmax=");
                fprintf(f, "Bg gs 0 V = %.17g + (%.17g - %.17g)*v(x1.x)\n", strtod(gmin + 5, NULL),
                        strtod(gmax + 5, NULL), strtod(gmin + 5, NULL));
                fprintf(f, ".tran 0.5n %.17g\n.end\n", t_end);
                static const char *const nm[] = {"v(tn)", "v(gg)", "v(x1.x)", "v(gs)"};
                names = calloc(4, sizeof *names);
                memcpy(names, nm, sizeof nm);
                nv = 4;
                snprintf(header, sizeof header, "# time_s,v_gate_volt,x_state,g_siemens");
                xlabel = "t (s)";
                ylabel = "G (S)";
                ycols[ny++] = 4;
            }
        }
    }
    fclose(f);
    xb_matrix *m = NULL;
    if (!rc) rc = run_deck(&eo, deck, nv, names, &m, &err);
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
        int xcol = (dynamic && (d == XB_DEVICE_RRAM || d == XB_DEVICE_PCM)) ? 2 : 1;
        plot_png(opath, png, xlabel, ylabel, ny, xcol, ycols, logy);
    }
    if (owned)
        for (size_t k = 0; k < nv; k++) free(owned[k]);
    free(owned);
    free(names);
    free(inst);
    free(deck);
    xb_matrix_free(m);
    return rc ? xb_cli_fail("iv", &err) : 0;
}
