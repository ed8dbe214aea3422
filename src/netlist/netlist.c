/* SPICE netlist writer for crossbar reads and dynamic arrays (topology:
 * include/xbar/netlist.h; the deck layout: docs/netlist.md).
 *
 * A body is self-contained: parameters, the device models copied from models/ (or
 * .include'd with p->include_models), the cell as a subcircuit, then the drivers, gate lines,
 * row wires, column wires + sense and the cells, each section under a comment.  Zero
 * resistances are shorts: the two ends then get the same node name, so no 0-ohm resistor ever
 * reaches ngspice.  Ohmic cells (linear, the ECRAM channel in reads) are plain R elements
 * (fastest for Sparse 1.3; docs/physics.md, "ngspice 39 numerics").  What a device brings
 * (its subcircuits, law, state) comes from the device table. */
#include "xbar/netlist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netlist/netlist_internal.h"

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

int xb_netlist_add_source(xb_netlist *n, const char *name, const char *pos, const char *neg)
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

int xb_netlist_add_output(xb_netlist *n, const char *q)
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
    /* dynamic: per-cell noise-terminal values (NULL: 0) */
    const xb_matrix *noise;
} drive_plan;

static const char *const k_cell_title[] = {"1R: the device alone", "1T1R: the device in series with the access NMOS",
                                           "1S1R: the selector in series with the device"};

/* Static cells whose device is its read subcircuit (sinh law); ohmic devices are plain R. */
static int static_subckt_device(const xb_device_info *di) { return di->read.kind == XB_READ_SINH; }

/* Does the cell subcircuit of p carry a gate terminal (1T1R access gate or gated dynamic device)? */
static int cell_gated(const xb_array_params *p, const xb_device_info *di, int dynamic)
{
    return p->cell == XB_CELL_1T1R || (dynamic && di->dyn_gated);
}

/* Does a 1S1R cell of this deck use the threshold-switching selector?  Programming (dynamic)
 * circuits only: every read uses the static sinh selector. */
static int selector_ts(const xb_array_params *p, int dynamic)
{
    return dynamic && p->cell == XB_CELL_1S1R && p->selector == XB_SELECTOR_THRESHOLD;
}

/* Parameters: every value of the periphery in one place.  Values that reach a subcircuit
 * (v_read, the selector's is/vs) are .params: ngspice hands subcircuit parameters over as
 * numbers.  Resistances and source voltages are written out in their element lines, as in
 * the flat decks before: ngspice 39 writes a {param} into an element line with 16 significant
 * digits (numparam's double_to_string), and resistor models change the order in which the
 * stamps of a node are summed; either moves results in the last bits. */
static void emit_parameters(FILE *f, const xb_array_params *p, const xb_device_info *di, int dynamic)
{
    fputs("* ---- parameters ----\n", f);
    if (!dynamic && static_subckt_device(di)) fprintf(f, ".param v_read=%.17g\n", p->v_read_volt);
    if (selector_ts(p, dynamic))
        fprintf(f, ".param sel_vth=%.17g sel_vhold=%.17g sel_ron=%.17g sel_roff=%.17g\n+ sel_ihold=%.17g sel_ton=%.17g sel_toff=%.17g\n",
                p->sel_vth_volt, p->sel_vhold_volt, p->sel_ron_ohm, p->sel_roff_ohm, p->sel_ihold_amp, p->sel_ton_s,
                p->sel_toff_s);
    else if (p->cell == XB_CELL_1S1R) fprintf(f, ".param sel_is=%.17g sel_vs=%.17g\n", p->sel_is_amp, p->sel_vs_volt);
    fputs("* written out in the element lines (ngspice 39 would round a {param} there to 16 digits):\n", f);
    fprintf(f, "*   r_driver = %.17g ohm (Rd<i>), r_wire_row = %.17g ohm (Rr<i>_<k>),\n", p->r_driver_ohm,
            p->r_wire_row_ohm);
    fprintf(f, "*   r_wire_col = %.17g ohm (Rc<k>_<j>), r_sense = %.17g ohm (Rs<j>); 0 ohm is a short (no element)\n",
            p->r_wire_col_ohm, p->r_sense_ohm);
    if (p->cell == XB_CELL_1T1R) {
        if (!dynamic) fprintf(f, "*   v_gate = %.17g V on the selected rows' gate lines (Vgl<i>)\n", p->v_gate_volt);
        fprintf(f, "*   access NMOS W/L = %.17g (Mt in the cell)\n", p->nmos_w_over_l);
        /* Level-1 access NMOS; is=0 removes the junction saturation current so only the
         * channel conducts (ngspice still adds gmin across the junctions). */
        fprintf(f, ".model xbnmos nmos level=1 kp=%.17g vto=%.17g lambda=%.17g gamma=0 is=0\n",
                p->nmos_kp_a_per_v2, p->nmos_vt_volt, p->nmos_lambda_per_v);
    }
    if (dynamic && p->c_wire_farad > 0)
        fprintf(f, "*   c_wire = %.17g F per wire segment to ground (Cr, Cc)\n", p->c_wire_farad);
    if (dynamic && p->cell != XB_CELL_1R && p->c_node_farad > 0)
        fprintf(f, ".param c_node=%.17g\n", p->c_node_farad);
}

static int emit_models(FILE *f, const xb_array_params *p, const xb_device_info *di, int dynamic, xb_error *err)
{
    xb_model_ref m[2];
    size_t n = 0;
    if (dynamic) m[n++] = (xb_model_ref){di->lib, di->dyn_subckt};
    else if (static_subckt_device(di)) m[n++] = (xb_model_ref){di->lib, di->read_subckt};
    if (p->cell == XB_CELL_1S1R)
        m[n++] = (xb_model_ref){XB_SELECTOR_LIB, selector_ts(p, dynamic) ? XB_SELECTOR_TS_SUBCKT : XB_SELECTOR_SUBCKT};
    if (!n) return XB_OK;
    fputs("* ---- device models ----\n", f);
    return xb_netlist_write_models(f, p->include_models, m, n, err);
}

/* The access element of a cell from a to b (1T1R: NMOS with its gate on g; 1S1R: selector). */
static void emit_access(FILE *f, const xb_array_params *p, int dynamic, const char *a, const char *b, const char *g)
{
    if (p->cell == XB_CELL_1T1R)
        fprintf(f, "Mt %s %s %s 0 xbnmos w=%.17gu l=1u\n", a, g, b, p->nmos_w_over_l);
    else if (selector_ts(p, dynamic))
        fprintf(f, "Xs %s %s %s vth={sel_vth} vhold={sel_vhold} ron={sel_ron} roff={sel_roff}\n+ ihold={sel_ihold} "
                   "ton={sel_ton} toff={sel_toff}\n",
                a, b, XB_SELECTOR_TS_SUBCKT);
    else
        fprintf(f, "Xs %s %s %s is={sel_is} vs={sel_vs}\n", a, b, XB_SELECTOR_SUBCKT);
}

/* The device of the cell subcircuit from a to b: its read subcircuit (static) or its dynamic
 * subcircuit with every parameter passed on (dynamic); gated devices get the gate line gl. */
static void emit_cell_device(FILE *f, const xb_device_info *di, int dynamic, const char *a, const char *b)
{
    if (!dynamic) {
        fprintf(f, "Xd %s %s %s g={g} vr={v_read} v0={v0}\n", a, b, di->read_subckt);
        return;
    }
    fprintf(f, "Xd %s %s%s nz %s", a, b, di->dyn_gated ? " gl" : "", di->dyn_subckt);
    for (size_t k = 0; k < di->n_dyn_params; k++) {
        fprintf(f, "%s%s={%s}", k % 8 == 7 ? "\n+ " : " ", di->dyn_params[k].name, di->dyn_params[k].name);
    }
    fputs("\n", f);
    /* the cycle-to-cycle noise terminal: the cell's value xi as a current into 1 ohm (a node
     * without a branch equation) */
    fputs("Inz 0 nz DC {xi}\nRnz nz 0 1\n", f);
}

/* The cell subcircuit(s): xb_cell (terminals r c [gl]) for subcircuit devices, with the
 * per-cell values as parameters; xb_cell_open (the access element alone) for G = 0 cells of
 * 1T1R/1S1R; xb_access (the access element, d s [g]) for ohmic devices, whose resistor stays
 * in the cells section (its value would reach the R line with 16 digits only). */
static void emit_cell_subckts(FILE *f, const xb_array_params *p, const xb_device_info *di, const xb_matrix *g,
                              int dynamic)
{
    const char *gl = cell_gated(p, di, dynamic) ? " gl" : "";
    fprintf(f, "* ---- cell: %s; terminals r (row) c (column)%s ----\n", k_cell_title[p->cell],
            *gl ? " gl (gate line)" : "");
    if (!dynamic && !static_subckt_device(di)) {
        if (p->cell == XB_CELL_1R) {
            fputs("* the device is one resistor 1/G per cell (cells section)\n", f);
            return;
        }
        fputs("* the device resistor 1/G is in the cells section; the access element:\n", f);
        fprintf(f, ".subckt xb_access d s%s\n", p->cell == XB_CELL_1T1R ? " g" : "");
        emit_access(f, p, dynamic, "d", "s", "g");
        fputs(".ends xb_access\n", f);
        return;
    }
    fprintf(f, ".subckt xb_cell r c%s params:", gl);
    if (dynamic) {
        for (size_t k = 0; k < di->n_dyn_params; k++)
            fprintf(f, "%s%s=%.17g", k % 6 == 5 ? "\n+ " : " ", di->dyn_params[k].name, di->dyn_params[k].value);
        fputs(" xi=0\n", f);
    } else {
        fprintf(f, " g=%.17g v0=%.17g\n", p->g_max_siemens, xb_device_v0_volt(p, p->g_max_siemens));
    }
    switch (p->cell) {
    case XB_CELL_1T1R:
        emit_cell_device(f, di, dynamic, "r", "m");
        emit_access(f, p, dynamic, "m", "c", "gl");
        if (dynamic && p->c_node_farad > 0) fputs("Cm m 0 {c_node}\n", f);
        break;
    case XB_CELL_1S1R:
        emit_access(f, p, dynamic, "r", "m", NULL);
        emit_cell_device(f, di, dynamic, "m", "c");
        if (dynamic && p->c_node_farad > 0) fputs("Cm m 0 {c_node}\n", f);
        break;
    case XB_CELL_1R:
    default:
        emit_cell_device(f, di, dynamic, "r", "c");
        break;
    }
    fputs(".ends xb_cell\n", f);
    int open = 0;
    for (size_t k = 0; !dynamic && p->cell != XB_CELL_1R && k < g->rows * g->cols; k++) open |= g->data[k] <= 0;
    if (open) {
        fprintf(f, "* G = 0: the access element alone\n.subckt xb_cell_open r c%s\n", gl);
        emit_access(f, p, dynamic, p->cell == XB_CELL_1T1R ? "m" : "r", p->cell == XB_CELL_1T1R ? "c" : "m", "gl");
        fputs(".ends xb_cell_open\n", f);
    }
}

/* Cell (i,j) between a (row) and b (column). */
static int emit_cell(FILE *f, const xb_array_params *p, const xb_device_info *di, size_t i, size_t j, double gij,
                     double xi, int dynamic, const char *a, const char *b, xb_error *err)
{
    char gl[32] = "";
    if (cell_gated(p, di, dynamic)) snprintf(gl, sizeof gl, " gl%zu", i);
    if (dynamic) {
        /* every dynamic parameter per cell: its own d2d sample and initial state */
        char ov[64], *inst = NULL;
        snprintf(ov, sizeof ov, "%s=%.17g", di->state_param, gij);
        int rc = xb_netlist_dyn_instance(p, i * p->cols + j, ov, &inst, err);
        if (rc) return rc;
        fprintf(f, "Xg%zu_%zu %s %s%s xb_cell %s xi=%.17g\n", i, j, a, b, gl, inst, xi);
        free(inst);
        return XB_OK;
    }
    if (static_subckt_device(di)) {
        if (gij > 0)
            fprintf(f, "Xg%zu_%zu %s %s%s xb_cell g=%.17g v0=%.17g\n", i, j, a, b, gl, gij, xb_device_v0_volt(p, gij));
        else if (p->cell == XB_CELL_1R)
            fprintf(f, "* cell %zu,%zu: G = 0 (open)\n", i, j);
        else
            fprintf(f, "Xg%zu_%zu %s %s%s xb_cell_open\n", i, j, a, b, gl);
        return XB_OK;
    }
    /* ohmic device: the resistor here, the access element (if any) as xb_access */
    char m[64];
    snprintf(m, sizeof m, "m%zu_%zu", i, j);
    if (p->cell == XB_CELL_1S1R) fprintf(f, "Xa%zu_%zu %s %s xb_access\n", i, j, a, m);
    const char *ra = a, *rb = p->cell == XB_CELL_1R ? b : (p->cell == XB_CELL_1T1R ? m : b);
    if (p->cell == XB_CELL_1S1R) ra = m;
    if (gij > 0) fprintf(f, "Rg%zu_%zu %s %s %.17g\n", i, j, ra, rb, 1.0 / gij);
    else fprintf(f, "* cell %zu,%zu: G = 0 (open)\n", i, j);
    if (p->cell == XB_CELL_1T1R) fprintf(f, "Xa%zu_%zu %s %s%s xb_access\n", i, j, m, b, gl);
    return XB_OK;
}

/* The caller-driven sources, in the order of the contract: per row its input "in<i>", then
 * (dynamic arrays with gate lines) its gate line "gl<i>". */
static int register_sources(xb_netlist *n, const xb_array_params *p, const xb_device_info *di, const drive_plan *d)
{
    char a[64], name[32], gl[32];
    for (size_t i = 0; i < p->rows; i++) {
        if (d->row_mode[i] == 1) {
            drive_node(p, i, a, sizeof a);
            snprintf(name, sizeof name, "in%zu", i);
            if (xb_netlist_add_source(n, name, a, "0")) return -1;
        }
        if (d->state0 && cell_gated(p, di, 1)) {
            snprintf(gl, sizeof gl, "gl%zu", i);
            if (xb_netlist_add_source(n, gl, gl, "0")) return -1;
        }
    }
    /* driven columns (write schemes): "cl<j>" at the column's sense end */
    for (size_t j = 0; j < p->cols; j++)
        if (d->col_mode[j] == 3) {
            sense_node(p, j, a, sizeof a);
            snprintf(name, sizeof name, "cl%zu", j);
            if (xb_netlist_add_source(n, name, a, "0")) return -1;
        }
    return 0;
}

/* Rows, each in the order driver, row wire, gate line, wire capacitance: the element order
 * fixes ngspice's node numbering and with it Sparse's pivot order, so it stays the order of
 * the flat decks before (the same numbers to the last bit). */
static void emit_rows(FILE *f, const xb_array_params *p, const xb_device_info *di, const drive_plan *d)
{
    char a[64], b[64];
    const int gated = cell_gated(p, di, d->state0 != NULL);
    fprintf(f, "* ---- rows: driver (the caller's source Vin<i> on d<i>, r_driver), row wire (an r_wire_row\n"
               "* segment in front of every cell, nodes r<i>_<k>)%s ----\n",
            !gated ? "" : d->state0 ? ", gate line gl<i> (the caller's source Vgl<i>)" : ", gate line Vgl<i> (v_gate on selected rows)");
    for (size_t i = 0; i < p->rows; i++) {
        if (d->row_mode[i] == 0) {
            fprintf(f, "* row %zu floating\n", i);
        } else {
            drive_node(p, i, a, sizeof a);
            if (d->row_mode[i] == 2) fprintf(f, "Vb%zu %s 0 DC %.17g\n", i, a, d->row_bias[i]);
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
        if (gated && !d->state0) fprintf(f, "Vgl%zu gl%zu 0 DC %.17g\n", i, i, d->gate_volt[i]);
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
}

static int emit_columns(FILE *f, xb_netlist *n, const xb_array_params *p, const drive_plan *d)
{
    char a[64], b[64];
    fputs("* ---- columns: column wire (an r_wire_col segment below every cell, nodes c<k>_<j>) and\n"
          "* sense (r_sense, then the 0 V source Vs<j> whose current is the output) ----\n",
          f);
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
        if (d->col_mode[j] == 3) {
            fprintf(f, "* column %zu driven by the caller's source Vcl%zu on %s\n", j, j, a);
        } else if (d->col_mode[j] == 1) {
            fprintf(f, "Vs%zu %s 0 DC 0\n", j, a);
            char q[32];
            snprintf(q, sizeof q, "i(vs%zu)", j);
            if (xb_netlist_add_output(n, q)) return -1;
        } else {
            fprintf(f, "Vcb%zu %s 0 DC %.17g\n", j, a, d->col_bias[j]);
        }
    }
    return 0;
}

static int write_array(xb_netlist *n, const xb_array_params *p, const xb_matrix *g, const drive_plan *d,
                       xb_error *err)
{
    const xb_device_info *di = xb_device_info_get(p->device);
    const int dynamic = d->state0 != NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return xb_errorf(err, XB_ERUNTIME, "netlist: out of memory");
    int rc = XB_OK;
    fprintf(f, "* xbar crossbar %zux%zu device=%s cell=%s r_wire_row=%.17g r_wire_col=%.17g "
               "r_driver=%.17g r_sense=%.17g v_read=%.17g%s\n",
            p->rows, p->cols, di->name, xb_cell_name(p->cell), p->r_wire_row_ohm, p->r_wire_col_ohm, p->r_driver_ohm,
            p->r_sense_ohm, p->v_read_volt, dynamic ? " (dynamic)" : "");
    emit_parameters(f, p, di, dynamic);
    rc = emit_models(f, p, di, dynamic, err);
    if (!rc) {
        emit_cell_subckts(f, p, di, g, dynamic);
        if (register_sources(n, p, di, d)) rc = xb_errorf(err, XB_ERUNTIME, "netlist: out of memory");
    }
    if (!rc) {
        emit_rows(f, p, di, d);
        if (emit_columns(f, n, p, d)) rc = xb_errorf(err, XB_ERUNTIME, "netlist: out of memory");
    }
    if (!rc) {
        fprintf(f, "* ---- cells Xg<i>_<j>: %s ----\n",
                dynamic ? "dynamic parameters and initial state per cell" : "G in siemens (and its V0) per cell");
        char a[64], b[64];
        for (size_t i = 0; !rc && i < p->rows; i++)
            for (size_t j = 0; !rc && j < p->cols; j++) {
                row_node(p, i, j + 1, a, sizeof a);
                col_node(p, i, j, b, sizeof b);
                rc = emit_cell(f, p, di, i, j, g->data[i * g->cols + j],
                               d->noise ? d->noise->data[i * d->noise->cols + j] : 0.0, dynamic, a, b, err);
            }
    }
    if (fclose(f) != 0 && !rc) rc = xb_errorf(err, XB_ERUNTIME, "netlist: out of memory");
    if (rc) {
        free(buf);
        return rc;
    }
    n->body = buf;
    return XB_OK;
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
    drive_plan d = {row_mode, NULL, col_mode, NULL, gate, NULL, NULL};
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
    drive_plan d = {row_mode, row_bias, col_mode, col_bias, gate, NULL, NULL};
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
    return xb_netlist_dynamic_new_opts(p, state0, NULL, out, err);
}

int xb_netlist_dynamic_new_opts(const xb_array_params *p, const xb_matrix *state0, const xb_netlist_dyn_opts *o,
                                xb_netlist **out, xb_error *err)
{
    if (!out) return xb_errorf(err, XB_EINPUT, "netlist: no output pointer");
    *out = NULL;
    int rc = xb_array_params_check(p, err);
    if (rc) return rc;
    const xb_device_info *di = xb_device_info_get(p->device);
    if (!di->dyn_subckt) {
        char list[256];
        xb_device_list(list, sizeof list, 1);
        return xb_errorf(err, XB_EINPUT, "--device: %s has no dynamic model (%s)", di->name, list);
    }
    if (di->dyn_gated && p->cell != XB_CELL_1R)
        return xb_errorf(err, XB_EINPUT, "--cell: %s is a 3-terminal cell with its own gate line; use 1r", di->name);
    if (!state0 || state0->rows != p->rows || state0->cols != p->cols)
        return xb_errorf(err, XB_EINPUT, "initial-state matrix is %zux%zu, array is %zux%zu",
                         state0 ? state0->rows : 0, state0 ? state0->cols : 0, p->rows, p->cols);
    for (size_t k = 0; k < p->rows * p->cols; k++)
        if (!isfinite(state0->data[k]))
            return xb_errorf(err, XB_EINPUT, "initial state (%zu,%zu) is not finite", k / p->cols + 1,
                             k % p->cols + 1);
    const xb_matrix *noise = o ? o->noise : NULL;
    if (noise && (noise->rows != p->rows || noise->cols != p->cols))
        return xb_errorf(err, XB_EINPUT, "noise matrix is %zux%zu, array is %zux%zu", noise->rows, noise->cols, p->rows,
                         p->cols);
    for (size_t k = 0; noise && k < p->rows * p->cols; k++)
        if (!isfinite(noise->data[k]))
            return xb_errorf(err, XB_EINPUT, "noise (%zu,%zu) is not finite", k / p->cols + 1, k % p->cols + 1);
    xb_netlist *n = calloc(1, sizeof *n);
    int *row_mode = malloc(p->rows * sizeof *row_mode);
    int *col_mode = malloc(p->cols * sizeof *col_mode);
    if (!n || !row_mode || !col_mode) {
        rc = xb_errorf(err, XB_ERUNTIME, "netlist: out of memory");
        goto done;
    }
    for (size_t i = 0; i < p->rows; i++) row_mode[i] = 1;
    for (size_t j = 0; j < p->cols; j++) col_mode[j] = o && o->drive_columns ? 3 : 1;
    drive_plan d = {row_mode, NULL, col_mode, NULL, NULL, state0, noise};
    rc = write_array(n, p, state0, &d, err);
    /* state vectors after the column currents: the state node of the device Xd in cell Xg<i>_<j> */
    for (size_t i = 0; !rc && i < p->rows; i++)
        for (size_t j = 0; !rc && j < p->cols; j++) {
            char q[96];
            snprintf(q, sizeof q, "v(xg%zu_%zu.xd.%s)", i, j, di->state_node);
            if (xb_netlist_add_output(n, q)) rc = xb_errorf(err, XB_ERUNTIME, "netlist: out of memory");
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
