/* Shared CLI helpers: error printing, flag values, array options. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

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
    "                         output k = I(2k) - I(2k+1)\n";

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
    if (!v) return XB_OK;
    rc = xb_csv_read_matrix(vpath, v, err);
    if (rc) return rc;
    if ((*v)->rows == 0) return xb_errorf(err, XB_EINPUT, "%s: no input vectors", vpath);
    if ((*v)->cols != G->rows)
        return xb_errorf(err, XB_EINPUT, "%s:%zu: %zu input voltages per line, but the array has %zu rows",
                         vpath, xb_cli_csv_line_of_row(vpath, 0), (*v)->cols, G->rows);
    return XB_OK;
}
