/* SPICE netlist writer for crossbar reads (topology: include/xbar/netlist.h).
 *
 * Zero resistances are shorts: the two ends then get the same node name, so no
 * 0-ohm resistor ever reaches ngspice.  Device cells use the read-mode subcircuits of
 * models/ (docs/devices.md); linear and ECRAM-channel cells are plain R elements
 * (fastest for Sparse 1.3: measured in docs/physics.md "ngspice 39 numerics"). */
#include "xbar/netlist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct xb_netlist {
    char *body;
    size_t n_sources;
    xb_netlist_source *sources;
    char **src_strings; /* 3 per source */
    size_t n_outputs;
    char **outputs;
};

/* ---------------------------------------------------------------- node names */
/* Row i, position k: k = 0 is the node after the driver, k = j+1 is r(i,j). */
static void row_node(const xb_array_params *p, size_t i, size_t k, char *buf, size_t n)
{
    if (p->r_wire_row_ohm > 0) snprintf(buf, n, "r%zu_%zu", i, k);
    else snprintf(buf, n, "r%zu", i);
}

/* Column j, position k: k < rows is c(k,j); k = rows is the bottom end before r_sense. */
static void col_node(const xb_array_params *p, size_t k, size_t j, char *buf, size_t n)
{
    if (p->r_wire_col_ohm > 0) snprintf(buf, n, "c%zu_%zu", k, j);
    else snprintf(buf, n, "c%zu", j);
}

/* Node the row driver's ideal source sits on. */
static void drive_node(const xb_array_params *p, size_t i, char *buf, size_t n)
{
    if (p->r_driver_ohm > 0) snprintf(buf, n, "d%zu", i);
    else row_node(p, i, 0, buf, n);
}

/* Node the column's sense (or bias) source sits on. */
static void sense_node(const xb_array_params *p, size_t j, char *buf, size_t n)
{
    if (p->r_sense_ohm > 0) snprintf(buf, n, "s%zu", j);
    else col_node(p, p->rows, j, buf, n);
}

/* ---------------------------------------------------------------- helpers */
static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void xb_netlist_free(xb_netlist *n)
{
    if (!n) return;
    free(n->body);
    if (n->src_strings)
        for (size_t k = 0; k < 3 * n->n_sources; k++) free(n->src_strings[k]);
    free(n->src_strings);
    free(n->sources);
    if (n->outputs)
        for (size_t k = 0; k < n->n_outputs; k++) free(n->outputs[k]);
    free(n->outputs);
    free(n);
}

static int add_source(xb_netlist *n, const char *name, const char *pos, const char *neg)
{
    size_t k = n->n_sources;
    xb_netlist_source *s = realloc(n->sources, (k + 1) * sizeof *s);
    if (!s) return -1;
    n->sources = s;
    char **str = realloc(n->src_strings, 3 * (k + 1) * sizeof *str);
    if (!str) return -1;
    n->src_strings = str;
    str[3 * k] = xstrdup(name);
    str[3 * k + 1] = xstrdup(pos);
    str[3 * k + 2] = xstrdup(neg);
    n->n_sources = k + 1;
    if (!str[3 * k] || !str[3 * k + 1] || !str[3 * k + 2]) return -1;
    s[k].name = str[3 * k];
    s[k].node_pos = str[3 * k + 1];
    s[k].node_neg = str[3 * k + 2];
    return 0;
}

static int add_output(xb_netlist *n, const char *q)
{
    char **o = realloc(n->outputs, (n->n_outputs + 1) * sizeof *o);
    if (!o) return -1;
    n->outputs = o;
    o[n->n_outputs] = xstrdup(q);
    if (!o[n->n_outputs]) return -1;
    n->n_outputs++;
    return 0;
}

const char *xb_netlist_body(const xb_netlist *n) { return n->body; }
size_t xb_netlist_n_sources(const xb_netlist *n) { return n->n_sources; }
const xb_netlist_source *xb_netlist_sources(const xb_netlist *n) { return n->sources; }
size_t xb_netlist_n_outputs(const xb_netlist *n) { return n->n_outputs; }
const char *const *xb_netlist_outputs(const xb_netlist *n) { return (const char *const *)n->outputs; }

static int check_g(const xb_array_params *p, const xb_matrix *g, xb_error *err)
{
    int rc = xb_array_params_check(p, err);
    if (rc) return rc;
    if (!g || g->rows != p->rows || g->cols != p->cols)
        return xb_errorf(err, XB_EINPUT, "conductance matrix is %zux%zu, array is %zux%zu",
                         g ? g->rows : 0, g ? g->cols : 0, p->rows, p->cols);
    if (p->diff_pairs && p->cols % 2)
        return xb_errorf(err, XB_EINPUT, "--diff: differential pairs need an even column count, got %zu",
                         p->cols);
    for (size_t i = 0; i < g->rows; i++)
        for (size_t j = 0; j < g->cols; j++) {
            double v = g->data[i * g->cols + j];
            if (!(v >= 0) || !isfinite(v))
                return xb_errorf(err, XB_EINPUT, "conductance (%zu,%zu) = %g: must be finite and >= 0",
                                 i + 1, j + 1, v);
        }
    return XB_OK;
}

/* ---------------------------------------------------------------- the writer */
typedef struct {
    /* per row: driven by a caller source (1), a fixed bias (2) or floating (0) */
    const int *row_mode;
    const double *row_bias;
    /* per column: sensed at 0 V (1), held at a fixed bias (2) or floating (0) */
    const int *col_mode;
    const double *col_bias;
    /* per row gate line voltage (1T1R) */
    const double *gate_volt;
    /* dynamic (transient) array: initial states, NULL for the static read circuit */
    const xb_matrix *state0;
} drive_plan;

static void emit_header(FILE *f, const xb_array_params *p, int dynamic)
{
    const char *dir = xb_netlist_models_dir();
    fprintf(f, "* xbar crossbar %zux%zu device=%s cell=%s r_wire_row=%.17g r_wire_col=%.17g "
               "r_driver=%.17g r_sense=%.17g v_read=%.17g\n",
            p->rows, p->cols, xb_device_name(p->device), xb_cell_name(p->cell), p->r_wire_row_ohm,
            p->r_wire_col_ohm, p->r_driver_ohm, p->r_sense_ohm, p->v_read_volt);
    if (p->device == XB_DEVICE_RRAM) fprintf(f, ".include %s/rram.lib\n", dir);
    if (p->device == XB_DEVICE_PCM) fprintf(f, ".include %s/pcm.lib\n", dir);
    if (dynamic && p->device == XB_DEVICE_ECRAM) fprintf(f, ".include %s/ecram.lib\n", dir);
    if (p->cell == XB_CELL_1S1R) fprintf(f, ".include %s/selector.lib\n", dir);
    if (p->cell == XB_CELL_1T1R)
        /* Level-1 access NMOS; is=0 removes the junction saturation current so only the
         * channel conducts (ngspice still adds gmin across the junctions). */
        fprintf(f, ".model xbnmos nmos level=1 kp=%.17g vto=%.17g lambda=%.17g gamma=0 is=0\n",
                p->nmos_kp_a_per_v2, p->nmos_vt_volt, p->nmos_lambda_per_v);
}

/* One device element from node a to node b (current a -> b for v(a,b) > 0). */
static void emit_device(FILE *f, const xb_array_params *p, size_t i, size_t j, double g,
                        const char *a, const char *b)
{
    if (g <= 0) {
        fprintf(f, "* cell %zu,%zu: G = 0 (open)\n", i, j);
        return;
    }
    switch (p->device) {
    case XB_DEVICE_RRAM:
        fprintf(f, "Xg%zu_%zu %s %s rram_read g=%.17g vr=%.17g v0=%.17g\n", i, j, a, b, g, p->v_read_volt,
                xb_device_v0_volt(p, g));
        break;
    case XB_DEVICE_PCM:
        fprintf(f, "Xg%zu_%zu %s %s pcm_read g=%.17g vr=%.17g v0=%.17g\n", i, j, a, b, g, p->v_read_volt,
                xb_device_v0_volt(p, g));
        break;
    case XB_DEVICE_LINEAR:
    case XB_DEVICE_ECRAM: /* ECRAM channel with the gate floating: ohmic (models/ecram.lib) */
    default:
        fprintf(f, "Rg%zu_%zu %s %s %.17g\n", i, j, a, b, 1.0 / g);
        break;
    }
}

/* Dynamic cell (i,j) from a to b: the device's dynamic subcircuit with its own d2d sample
 * and initial state; ECRAM's gate is the row's gate line gl<i>. */
static int emit_dynamic(FILE *f, const xb_array_params *p, size_t i, size_t j, double state,
                        const char *a, const char *b, xb_error *err)
{
    static const char *const state_name[] = {[XB_DEVICE_RRAM] = "gini", [XB_DEVICE_PCM] = "c0",
                                             [XB_DEVICE_ECRAM] = "x0"};
    char ov[64], *inst = NULL;
    snprintf(ov, sizeof ov, "%s=%.17g", state_name[p->device], state);
    int rc = xb_netlist_dyn_instance(p, i * p->cols + j, ov, &inst, err);
    if (rc) return rc;
    if (p->device == XB_DEVICE_ECRAM)
        fprintf(f, "Xg%zu_%zu %s %s gl%zu ecram_dyn %s\n", i, j, a, b, i, inst);
    else
        fprintf(f, "Xg%zu_%zu %s %s %s %s\n", i, j, a, b, xb_netlist_dyn_subckt(p->device), inst);
    free(inst);
    return XB_OK;
}

static int write_array(xb_netlist *n, const xb_array_params *p, const xb_matrix *g,
                       const drive_plan *d, xb_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return xb_errorf(err, XB_ERUNTIME, "netlist: out of memory");
    char a[64], b[64], c[64];
    emit_header(f, p, d->state0 != NULL);

    /* rows: source node, driver, wire segments */
    for (size_t i = 0; i < p->rows; i++) {
        if (d->row_mode[i] == 0) {
            fprintf(f, "* row %zu floating\n", i);
        } else {
            drive_node(p, i, a, sizeof a);
            if (d->row_mode[i] == 1) {
                char name[32];
                snprintf(name, sizeof name, "in%zu", i);
                if (add_source(n, name, a, "0")) goto oom;
            } else {
                fprintf(f, "Vb%zu %s 0 DC %.17g\n", i, a, d->row_bias[i]);
            }
            if (p->r_driver_ohm > 0) {
                row_node(p, i, 0, b, sizeof b);
                fprintf(f, "Rd%zu %s %s %.17g\n", i, a, b, p->r_driver_ohm);
            }
        }
        if (p->r_wire_row_ohm > 0)
            for (size_t k = 0; k < p->cols; k++) {
                row_node(p, i, k, a, sizeof a);
                row_node(p, i, k + 1, b, sizeof b);
                fprintf(f, "Rr%zu_%zu %s %s %.17g\n", i, k, a, b, p->r_wire_row_ohm);
            }
        if (p->cell == XB_CELL_1T1R || (d->state0 && p->device == XB_DEVICE_ECRAM)) {
            char gl[32], name[32];
            snprintf(gl, sizeof gl, "gl%zu", i);
            snprintf(name, sizeof name, "gl%zu", i);
            if (d->state0) { /* the caller drives the gate lines of a transient */
                if (add_source(n, name, gl, "0")) goto oom;
            } else {
                fprintf(f, "Vgl%zu gl%zu 0 DC %.17g\n", i, i, d->gate_volt[i]);
            }
        }
        if (d->state0 && p->c_wire_farad > 0)
            for (size_t k = 1; k <= p->cols; k++) {
                /* one segment's capacitance at its cell-side node; merged nodes (r_wire = 0) get
                 * the whole line's capacitance once */
                if (p->r_wire_row_ohm <= 0 && k > 1) break;
                row_node(p, i, k, a, sizeof a);
                fprintf(f, "Cr%zu_%zu %s 0 %.17g\n", i, k, a,
                        p->c_wire_farad * (p->r_wire_row_ohm > 0 ? 1.0 : (double)p->cols));
            }
    }
    /* columns: wire segments, sense resistance, sense source */
    for (size_t j = 0; j < p->cols; j++) {
        if (d->state0 && p->c_wire_farad > 0)
            for (size_t k = 0; k < p->rows; k++) {
                if (p->r_wire_col_ohm <= 0 && k > 0) break;
                col_node(p, k, j, a, sizeof a);
                fprintf(f, "Cc%zu_%zu %s 0 %.17g\n", k, j, a,
                        p->c_wire_farad * (p->r_wire_col_ohm > 0 ? 1.0 : (double)p->rows));
            }
        if (p->r_wire_col_ohm > 0)
            for (size_t k = 0; k < p->rows; k++) {
                col_node(p, k, j, a, sizeof a);
                col_node(p, k + 1, j, b, sizeof b);
                fprintf(f, "Rc%zu_%zu %s %s %.17g\n", k, j, a, b, p->r_wire_col_ohm);
            }
        if (d->col_mode[j] == 0) {
            fprintf(f, "* column %zu floating\n", j);
            continue;
        }
        sense_node(p, j, a, sizeof a);
        if (p->r_sense_ohm > 0) {
            col_node(p, p->rows, j, b, sizeof b);
            fprintf(f, "Rs%zu %s %s %.17g\n", j, b, a, p->r_sense_ohm);
        }
        if (d->col_mode[j] == 1) {
            fprintf(f, "Vs%zu %s 0 DC 0\n", j, a);
            char q[32];
            snprintf(q, sizeof q, "i(vs%zu)", j);
            if (add_output(n, q)) goto oom;
        } else {
            fprintf(f, "Vcb%zu %s 0 DC %.17g\n", j, a, d->col_bias[j]);
        }
    }
    /* cells */
    for (size_t i = 0; i < p->rows; i++)
        for (size_t j = 0; j < p->cols; j++) {
            double gij = g->data[i * g->cols + j];
            row_node(p, i, j + 1, a, sizeof a);
            col_node(p, i, j, b, sizeof b);
            if (d->state0) {
                int rc;
                if (p->cell == XB_CELL_1R) {
                    rc = emit_dynamic(f, p, i, j, gij, a, b, err);
                } else {
                    snprintf(c, sizeof c, "m%zu_%zu", i, j);
                    if (p->cell == XB_CELL_1T1R) {
                        rc = emit_dynamic(f, p, i, j, gij, a, c, err);
                        fprintf(f, "Mt%zu_%zu %s gl%zu %s 0 xbnmos w=%.17gu l=1u\n", i, j, c, i, b,
                                p->nmos_w_over_l);
                    } else {
                        fprintf(f, "Xs%zu_%zu %s %s sel_read is=%.17g vs=%.17g\n", i, j, a, c, p->sel_is_amp,
                                p->sel_vs_volt);
                        rc = emit_dynamic(f, p, i, j, gij, c, b, err);
                    }
                }
                if (rc) {
                    fclose(f);
                    free(buf);
                    return rc;
                }
                continue;
            }
            switch (p->cell) {
            case XB_CELL_1T1R:
                snprintf(c, sizeof c, "m%zu_%zu", i, j);
                emit_device(f, p, i, j, gij, a, c);
                fprintf(f, "Mt%zu_%zu %s gl%zu %s 0 xbnmos w=%.17gu l=1u\n", i, j, c, i, b,
                        p->nmos_w_over_l);
                break;
            case XB_CELL_1S1R:
                snprintf(c, sizeof c, "m%zu_%zu", i, j);
                fprintf(f, "Xs%zu_%zu %s %s sel_read is=%.17g vs=%.17g\n", i, j, a, c, p->sel_is_amp,
                        p->sel_vs_volt);
                emit_device(f, p, i, j, gij, c, b);
                break;
            case XB_CELL_1R:
            default:
                emit_device(f, p, i, j, gij, a, b);
                break;
            }
        }
    if (fclose(f) != 0) {
        free(buf);
        return xb_errorf(err, XB_ERUNTIME, "netlist: out of memory");
    }
    n->body = buf;
    return XB_OK;
oom:
    fclose(f);
    free(buf);
    return xb_errorf(err, XB_ERUNTIME, "netlist: out of memory");
}

int xb_netlist_mvm_new(const xb_array_params *p, const xb_matrix *g, xb_netlist **out,
                       xb_error *err)
{
    *out = NULL;
    int rc = check_g(p, g, err);
    if (rc) return rc;
    xb_netlist *n = calloc(1, sizeof *n);
    int *row_mode = malloc(p->rows * sizeof *row_mode);
    int *col_mode = malloc(p->cols * sizeof *col_mode);
    double *gate = malloc(p->rows * sizeof *gate);
    if (!n || !row_mode || !col_mode || !gate) {
        rc = xb_errorf(err, XB_ERUNTIME, "netlist: out of memory");
        goto done;
    }
    for (size_t i = 0; i < p->rows; i++) { row_mode[i] = 1; gate[i] = p->v_gate_volt; }
    for (size_t j = 0; j < p->cols; j++) col_mode[j] = 1;
    drive_plan d = {row_mode, NULL, col_mode, NULL, gate, NULL};
    rc = write_array(n, p, g, &d, err);
done:
    free(row_mode);
    free(col_mode);
    free(gate);
    if (rc) xb_netlist_free(n);
    else *out = n;
    return rc;
}

int xb_netlist_read_new(const xb_array_params *p, const xb_matrix *g, xb_read_scheme scheme,
                        size_t sel_row, size_t sel_col, xb_netlist **out, xb_error *err)
{
    *out = NULL;
    int rc = check_g(p, g, err);
    if (rc) return rc;
    if (sel_row >= p->rows || sel_col >= p->cols)
        return xb_errorf(err, XB_EINPUT, "--cell-at: cell %zu,%zu is outside the %zux%zu array", sel_row,
                         sel_col, p->rows, p->cols);
    if (scheme != XB_READ_FLOAT && scheme != XB_READ_V2 && scheme != XB_READ_V3)
        return xb_errorf(err, XB_EINPUT, "--scheme: single-cell read needs float, v2 or v3");
    xb_netlist *n = calloc(1, sizeof *n);
    int *row_mode = malloc(p->rows * sizeof *row_mode);
    int *col_mode = malloc(p->cols * sizeof *col_mode);
    double *row_bias = malloc(p->rows * sizeof *row_bias);
    double *col_bias = malloc(p->cols * sizeof *col_bias);
    double *gate = malloc(p->rows * sizeof *gate);
    if (!n || !row_mode || !col_mode || !row_bias || !col_bias || !gate) {
        rc = xb_errorf(err, XB_ERUNTIME, "netlist: out of memory");
        goto done;
    }
    double v = p->v_read_volt;
    for (size_t i = 0; i < p->rows; i++) {
        gate[i] = i == sel_row ? p->v_gate_volt : 0.0;
        row_mode[i] = i == sel_row ? 1 : (scheme == XB_READ_FLOAT ? 0 : 2);
        row_bias[i] = scheme == XB_READ_V2 ? v / 2 : v / 3;
    }
    for (size_t j = 0; j < p->cols; j++) {
        col_mode[j] = j == sel_col ? 1 : (scheme == XB_READ_FLOAT ? 0 : 2);
        col_bias[j] = scheme == XB_READ_V2 ? v / 2 : 2 * v / 3;
    }
    drive_plan d = {row_mode, row_bias, col_mode, col_bias, gate, NULL};
    rc = write_array(n, p, g, &d, err);
done:
    free(row_mode);
    free(col_mode);
    free(row_bias);
    free(col_bias);
    free(gate);
    if (rc) xb_netlist_free(n);
    else *out = n;
    return rc;
}

int xb_netlist_dynamic_new(const xb_array_params *p, const xb_matrix *state0, xb_netlist **out,
                           xb_error *err)
{
    *out = NULL;
    int rc = xb_array_params_check(p, err);
    if (rc) return rc;
    if (!xb_netlist_dyn_subckt(p->device))
        return xb_errorf(err, XB_EINPUT, "--device: %s has no dynamic model (rram, pcm, ecram)",
                         xb_device_name(p->device));
    if (p->device == XB_DEVICE_ECRAM && p->cell != XB_CELL_1R)
        return xb_errorf(err, XB_EINPUT, "--cell: ECRAM is a 3-terminal cell with its own gate line; use 1r");
    if (!state0 || state0->rows != p->rows || state0->cols != p->cols)
        return xb_errorf(err, XB_EINPUT, "initial-state matrix is %zux%zu, array is %zux%zu",
                         state0 ? state0->rows : 0, state0 ? state0->cols : 0, p->rows, p->cols);
    for (size_t k = 0; k < p->rows * p->cols; k++)
        if (!isfinite(state0->data[k]))
            return xb_errorf(err, XB_EINPUT, "initial state (%zu,%zu) is not finite", k / p->cols + 1,
                             k % p->cols + 1);
    xb_netlist *n = calloc(1, sizeof *n);
    int *row_mode = malloc(p->rows * sizeof *row_mode);
    int *col_mode = malloc(p->cols * sizeof *col_mode);
    if (!n || !row_mode || !col_mode) {
        rc = xb_errorf(err, XB_ERUNTIME, "netlist: out of memory");
        goto done;
    }
    for (size_t i = 0; i < p->rows; i++) row_mode[i] = 1;
    for (size_t j = 0; j < p->cols; j++) col_mode[j] = 1;
    drive_plan d = {row_mode, NULL, col_mode, NULL, NULL, state0};
    rc = write_array(n, p, state0, &d, err);
    /* state vectors after the column currents */
    static const char *const st[] = {[XB_DEVICE_RRAM] = "gap", [XB_DEVICE_PCM] = "c", [XB_DEVICE_ECRAM] = "x"};
    for (size_t i = 0; !rc && i < p->rows; i++)
        for (size_t j = 0; !rc && j < p->cols; j++) {
            char q[64];
            snprintf(q, sizeof q, "v(xg%zu_%zu.%s)", i, j, st[p->device]);
            if (add_output(n, q)) rc = xb_errorf(err, XB_ERUNTIME, "netlist: out of memory");
        }
done:
    free(row_mode);
    free(col_mode);
    if (rc) xb_netlist_free(n);
    else *out = n;
    return rc;
}

int xb_netlist_diff_combine(const xb_matrix *i_phys, xb_matrix *i_out, xb_error *err)
{
    if (i_phys->cols % 2 || i_out->cols * 2 != i_phys->cols || i_out->rows != i_phys->rows)
        return xb_errorf(err, XB_EINPUT, "--diff: %zux%zu currents cannot form %zux%zu pairs", i_phys->rows,
                         i_phys->cols, i_out->rows, i_out->cols);
    for (size_t k = 0; k < i_phys->rows; k++)
        for (size_t j = 0; j < i_out->cols; j++)
            i_out->data[k * i_out->cols + j] =
                i_phys->data[k * i_phys->cols + 2 * j] - i_phys->data[k * i_phys->cols + 2 * j + 1];
    return XB_OK;
}

static const char *const k_scheme_names[] = {"mvm", "float", "v2", "v3"};

int xb_read_scheme_from_name(const char *s, xb_read_scheme *out)
{
    for (int k = 0; k < 4; k++)
        if (s && strcmp(s, k_scheme_names[k]) == 0) { *out = (xb_read_scheme)k; return XB_OK; }
    return XB_EINPUT;
}

const char *xb_read_scheme_name(xb_read_scheme s) { return (unsigned)s < 4 ? k_scheme_names[s] : "?"; }
