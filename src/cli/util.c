/* Shared CLI helpers: error printing, flag values, array options. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "xbar/exec.h"

int xb_cli_fail(const char *cmd, const xb_error *err)
{
    int code = (err && err->code) ? err->code : XB_ERUNTIME;
    fprintf(stderr, "xbar %s: %s\n", cmd, (err && err->msg[0]) ? err->msg : "failed");
    return code;
}

int xb_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[XB_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "xbar %s: %s (see 'xbar %s --help')\n", cmd, msg, cmd);
    return XB_EINPUT;
}

int xb_cli_claim_output(const char *cmd, const char *path, int force, xb_lock **lock)
{
    *lock = NULL;
    xb_error err;
    xb_error_clear(&err);
    /* lock first: the existence check then sees the file of a writer that just finished */
    if (xb_lock_output(path, lock, &err)) return xb_cli_fail(cmd, &err);
    if (!force && access(path, F_OK) == 0) {
        xb_lock_release(*lock);
        *lock = NULL;
        return xb_cli_usage_error(cmd, "%s exists (use --force to overwrite)", path);
    }
    return 0;
}

int xb_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    }
    return 0;
}

int xb_cli_array_command(int argc, char **argv, const char *help_head, xb_array_params *p, xb_error *err)
{
    if (xb_cli_wants_help(argc, argv)) {
        fputs(help_head, stdout);
        fputs(xb_cli_array_options_help, stdout);
        char list[256];
        xb_device_list(list, sizeof list, 0);
        printf("devices (docs/devices.md): %s\n", list);
        return 1;
    }
    xb_error_clear(err);
    xb_array_params_default(p, XB_DEVICE_LINEAR);
    return 0;
}

int xb_cli_not_implemented(const char *cmd, const char *help, int argc, char **argv)
{
    if (xb_cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    fprintf(stderr, "xbar %s: not implemented yet\n", cmd);
    return XB_EINPUT;
}

int xb_cli_is_flag(const char *arg, const char *flag)
{
    size_t n = strlen(flag);
    return strncmp(arg, flag, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

const char *xb_cli_flag_value(int argc, char **argv, int *i, const char *flag, xb_error *err)
{
    const char *arg = argv[*i];
    size_t n = strlen(flag);
    if (arg[n] == '=') return arg + n + 1;
    if (*i + 1 >= argc) {
        xb_errorf(err, XB_EINPUT, "%s: missing value", flag);
        return NULL;
    }
    (*i)++;
    return argv[*i];
}

const char xb_cli_array_options_help[] =
    "array options:\n"
    "  --rows N               word lines (required)\n"
    "  --cols M               bit lines (required)\n"
    "  --device D             a device of the list below             [linear]\n"
    "  --cell C               1r | 1t1r | 1s1r                       [1r]\n"
    "  --r-wire OHM           wire resistance per segment, rows and columns [1]\n"
    "  --r-wire-row OHM       row (word line) segment resistance\n"
    "  --r-wire-col OHM       column (bit line) segment resistance\n"
    "  --node NM              wire resistances of a technology node (NeuroSim table: 130..7 nm;\n"
    "                         1T1R: 4F row / 12F column segments, give --cell first)\n"
    "  --r-driver OHM         row driver output resistance            [100]\n"
    "  --r-sense OHM          series resistance into the virtual ground [0]\n"
    "  --c-wire F             wire capacitance per segment (transient) [2e-16]\n"
    "  --v-read V             read voltage; G is the chord conductance at it [0.2]\n"
    "  --g-min S, --g-max S   device conductance range (device default)\n"
    "  --v-gate V             1T1R gate line voltage                  [1.2]\n"
    "  --seed N               variability RNG seed                    [1]\n"
    "  --var-program          per-cell programming error (device sigma(G))\n"
    "  --var-d2d              device-to-device spread of dynamic parameters\n"
    "  --stuck-on RATE        fraction of cells stuck at g_max        [0]\n"
    "  --stuck-off RATE       fraction of cells stuck at g_min        [0]\n"
    "  --diff                 differential pairs: columns 2k (G+) and 2k+1 (G-) give\n"
    "                         output k = I(2k) - I(2k+1)\n"
    XB_CLI_MAX_MEMORY_HELP;

typedef struct {
    const char *flag;
    size_t offset;
} double_flag;

#define DF(flag, field) {flag, offsetof(xb_array_params, field)}
static const double_flag k_double_flags[] = {
    DF("--r-wire-row", r_wire_row_ohm), DF("--r-wire-col", r_wire_col_ohm),
    DF("--r-driver", r_driver_ohm),     DF("--r-sense", r_sense_ohm),
    DF("--c-wire", c_wire_farad),       DF("--v-read", v_read_volt),
    DF("--g-min", g_min_siemens),       DF("--g-max", g_max_siemens),
    DF("--v-gate", v_gate_volt),        DF("--stuck-on", stuck_on_rate),
    DF("--stuck-off", stuck_off_rate),
};
#undef DF

int xb_cli_array_option(int argc, char **argv, int *i, xb_array_params *p, xb_error *err)
{
    const char *arg = argv[*i];
    const char *v;
    if (xb_cli_is_flag(arg, "--rows") || xb_cli_is_flag(arg, "--cols")) {
        const char *flag = xb_cli_is_flag(arg, "--rows") ? "--rows" : "--cols";
        if (!(v = xb_cli_flag_value(argc, argv, i, flag, err))) return -1;
        size_t n;
        if (xb_parse_size(v, flag, &n, err)) return -1;
        if (n == 0) { xb_errorf(err, XB_EINPUT, "%s: must be at least 1", flag); return -1; }
        if (flag[2] == 'r') p->rows = n; else p->cols = n;
        return 1;
    }
    if (xb_cli_is_flag(arg, "--device")) {
        if (!(v = xb_cli_flag_value(argc, argv, i, "--device", err))) return -1;
        xb_device_kind d;
        if (xb_device_from_name(v, &d)) {
            char list[256];
            xb_device_list(list, sizeof list, 0);
            xb_errorf(err, XB_EINPUT, "--device: unknown device '%s' (%s)", v, list);
            return -1;
        }
        /* A device brings its own conductance range (give --g-min/--g-max after --device);
         * every other option keeps the value already given, whatever the flag order. */
        xb_array_params def;
        xb_array_params_default(&def, d);
        p->device = d;
        p->g_min_siemens = def.g_min_siemens;
        p->g_max_siemens = def.g_max_siemens;
        return 1;
    }
    if (xb_cli_is_flag(arg, "--cell")) {
        if (!(v = xb_cli_flag_value(argc, argv, i, "--cell", err))) return -1;
        if (xb_cell_from_name(v, &p->cell)) {
            xb_errorf(err, XB_EINPUT, "--cell: unknown cell type '%s' (1r, 1t1r, 1s1r)", v);
            return -1;
        }
        return 1;
    }
    if (xb_cli_is_flag(arg, "--r-wire")) {
        if (!(v = xb_cli_flag_value(argc, argv, i, "--r-wire", err))) return -1;
        double r;
        if (xb_parse_double(v, "--r-wire", &r, err)) return -1;
        if (r < 0) { xb_errorf(err, XB_EINPUT, "--r-wire: must be >= 0, got %s", v); return -1; }
        p->r_wire_row_ohm = p->r_wire_col_ohm = r;
        return 1;
    }
    if (xb_cli_is_flag(arg, "--node")) {
        if (!(v = xb_cli_flag_value(argc, argv, i, "--node", err))) return -1;
        long nm;
        if (xb_parse_long(v, "--node", &nm, err)) return -1;
        if (xb_array_params_tech_node(p, nm, err)) return -1;
        return 1;
    }
    if (xb_cli_is_flag(arg, "--seed")) {
        if (!(v = xb_cli_flag_value(argc, argv, i, "--seed", err))) return -1;
        size_t s;
        if (xb_parse_size(v, "--seed", &s, err)) return -1;
        p->seed = (uint64_t)s;
        return 1;
    }
    if (xb_cli_is_flag(arg, "--max-memory")) {
        if (!(v = xb_cli_flag_value(argc, argv, i, "--max-memory", err))) return -1;
        return xb_cli_max_memory(v, err) ? -1 : 1;
    }
    if (strcmp(arg, "--var-program") == 0) { p->var_program = 1; return 1; }
    if (strcmp(arg, "--var-d2d") == 0) { p->var_d2d = 1; return 1; }
    if (strcmp(arg, "--diff") == 0) { p->diff_pairs = 1; return 1; }
    for (size_t k = 0; k < sizeof k_double_flags / sizeof k_double_flags[0]; k++) {
        if (!xb_cli_is_flag(arg, k_double_flags[k].flag)) continue;
        if (!(v = xb_cli_flag_value(argc, argv, i, k_double_flags[k].flag, err))) return -1;
        double x;
        if (xb_parse_double(v, k_double_flags[k].flag, &x, err)) return -1;
        *(double *)((char *)p + k_double_flags[k].offset) = x;
        return 1;
    }
    return 0;
}

size_t xb_cli_csv_line_of_row(const char *path, size_t row)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t line = 0, data = 0, found = 0;
    int at_start = 1, blank = 1, comment = 0;
    int c;
    /* walk characters so that arbitrarily long lines count once */
    while ((c = fgetc(f)) != EOF) {
        if (at_start) { line++; blank = 1; comment = 0; at_start = 0; }
        if (c == '\n') {
            if (!blank && !comment) {
                if (data == row) { found = line; break; }
                data++;
            }
            at_start = 1;
            continue;
        }
        if (blank && c == '#') comment = 1;
        if (c != ' ' && c != '\t' && c != '\r') blank = 0;
    }
    if (!found && !at_start && !blank && !comment && data == row) found = line;
    fclose(f);
    return found;
}

int xb_cli_read_gv(const char *gpath, const char *vpath, xb_array_params *p, xb_matrix **g, xb_matrix **v,
                   xb_error *err)
{
    *g = NULL;
    if (v) *v = NULL;
    if (!gpath) return xb_errorf(err, XB_EINPUT, "--g: missing conductance file (G.csv)");
    if (v && !vpath) return xb_errorf(err, XB_EINPUT, "--v: missing input voltage file (V.csv)");
    int rc = xb_csv_read_matrix(gpath, g, err);
    if (rc) return rc;
    xb_matrix *G = *g;
    if (G->rows == 0 || G->cols == 0) return xb_errorf(err, XB_EINPUT, "%s: no conductances", gpath);
    if (p->rows && p->rows != G->rows)
        return xb_errorf(err, XB_EINPUT, "%s: %zu lines of conductances, but --rows is %zu", gpath, G->rows,
                         p->rows);
    if (p->cols && p->cols != G->cols)
        return xb_errorf(err, XB_EINPUT, "%s:%zu: %zu conductances per line, but --cols is %zu", gpath,
                         xb_cli_csv_line_of_row(gpath, 0), G->cols, p->cols);
    p->rows = G->rows;
    p->cols = G->cols;
    for (size_t i = 0; i < G->rows; i++)
        for (size_t j = 0; j < G->cols; j++) {
            double x = G->data[i * G->cols + j];
            if (!(x >= 0))
                return xb_errorf(err, XB_EINPUT, "%s:%zu: field %zu: negative conductance %g S", gpath,
                                 xb_cli_csv_line_of_row(gpath, i), j + 1, x);
        }
    if ((rc = xb_cli_check_csv_values(gpath, G, XB_QTY_CONDUCTANCE, err))) return rc;
    if (!v) return XB_OK;
    rc = xb_csv_read_matrix(vpath, v, err);
    if (rc) return rc;
    if ((*v)->rows == 0) return xb_errorf(err, XB_EINPUT, "%s: no input vectors", vpath);
    if ((*v)->cols != G->rows)
        return xb_errorf(err, XB_EINPUT, "%s:%zu: %zu input voltages per line, but the array has %zu rows",
                         vpath, xb_cli_csv_line_of_row(vpath, 0), (*v)->cols, G->rows);
    return xb_cli_check_csv_values(vpath, *v, XB_QTY_VOLTAGE, err);
}

int xb_cli_max_memory(const char *value, xb_error *err)
{
    double bytes;
    int rc = xb_parse_bytes(value, "--max-memory", &bytes, err);
    if (rc) return rc;
    /* through the environment: the point processes and engine workers inherit it */
    if (setenv("XBAR_MAX_MEMORY", value, 1) != 0)
        return xb_errorf(err, XB_ERUNTIME, "--max-memory: cannot set XBAR_MAX_MEMORY: %s", strerror(errno));
    return XB_OK;
}

int xb_cli_check_csv_values(const char *path, const xb_matrix *m, xb_quantity q, xb_error *err)
{
    size_t n = m->rows * m->cols;
    xb_error e;
    if (xb_check_values(q, m->data, n, "", &e) == XB_OK) return XB_OK;
    /* name the line and field of the first value out of range, and the limits */
    const xb_limit *l = xb_limit_get(q);
    for (size_t k = 0; k < n; k++) {
        double x = m->data[k];
        if (x >= l->lo && x <= l->hi) continue;
        return xb_errorf(err, XB_EINPUT, "%s:%zu: field %zu: %s %g %s is outside the limits [%g, %g] %s "
                         "(docs/hardening.md)", path, xb_cli_csv_line_of_row(path, k / m->cols), k % m->cols + 1,
                         l->name, x, l->unit, l->lo, l->hi, l->unit);
    }
    return XB_OK;
}

/* Training memory (src/exec/train.c, train_net.c, cmd_train.c).  Peak = the data sets held
 * as floats + the larger of two phases:
 *   training: Adam keeps four float copies of every weight (the weight, its gradient, two
 *   moments) and a fifth under weight noise; every layer keeps its activations, their
 *   gradients (and for the CNN the im2col columns and pooling indices) for the larger of
 *   the minibatch and the evaluation batch (1000 rows for the MLP, 500 for the CNN);
 *   the final report: every layer's output for the whole test set (cmd_train.c), next to
 *   the trained network.
 * Measured peak RSS (Fashion-MNIST, one epoch, train/test images) against the estimate:
 * MLP 256,128 60000/10000: 272 / 304 MiB; MLP 2048,2048 2000/10000: 403 / 435 MiB; CNN 8,16
 * 5000/10000: 915 / 947 MiB, 1000/4000: 374 / 414 MiB (the 64 MiB base covers the libraries). */
double xb_cli_train_memory_estimate(const xb_train_opts *o, int cnn, size_t n_in_side, size_t n_classes,
                                    size_t n_train, size_t n_test)
{
    const double px = (double)n_in_side * (double)n_in_side, B = (double)o->batch, F = sizeof(float);
    const double K = (double)n_classes;
    const double per_weight = (o->weight_noise > 0 || o->hw_model ? 5.0 : 4.0) * F;
    double weights = 0, acts = 0, outs = 0, extra = 0, rows;
    if (!cnn) {
        rows = B > 1000 ? B : 1000;
        double n_in = px, widest = px;
        for (size_t k = 0; k <= o->n_hidden; k++) {
            double n_out = k < o->n_hidden ? (double)o->hidden[k] : K;
            weights += n_in * n_out + n_out;
            acts += 3.0 * n_out; /* pre-activation, activation, gradient */
            outs += 2.0 * n_out; /* dense + relu (softmax) outputs */
            widest = n_out > widest ? n_out : widest;
            n_in = n_out;
        }
        extra = B * (px + widest) * F; /* the input minibatch and the back-propagation buffer */
    } else {
        rows = B > 500 ? B : 500;
        const double c1 = (double)o->cnn_channels[0], c2 = (double)o->cnn_channels[1], h2 = px / 4, h4 = px / 16;
        weights = c1 * 9 + c1 + c2 * c1 * 9 + c2 + K * c2 * h4 + K;
        /* layer outputs: conv, relu, pool, conv, relu, pool, flatten, dense, softmax */
        outs = 2 * c1 * px + c1 * h2 + 2 * c2 * h2 + 2 * c2 * h4 + 2 * K;
        /* + im2col columns and GEMM outputs of both convolutions, pooling indices (8 B),
         * the two activation-gradient buffers and the gradient columns */
        acts = outs + 9 * px + c1 * px + c1 * 9 * h2 + c2 * h2 + 2 * (c1 * h2 + c2 * h4) + 2 * c1 * px + c1 * 9 * h2;
    }
    const double data = ((double)n_train + (double)n_test) * (px * F + 1);
    const double train = per_weight * weights + rows * acts * F + extra;
    const double report = (double)n_test * outs * F + weights * F;
    return 64.0 * 1024 * 1024 + data + (train > report ? train : report);
}
