/*
 * The static read circuit of netlist.h as elements between nodes, and the pattern of its
 * nodal matrix.
 *
 * Zero resistances are shorts: the nodes they join are merged (one unknown, or the fixed
 * source / ground node itself) instead of being modelled by tiny resistors, which would
 * ruin the conditioning.  Series resistances with no cell between them are merged into
 * one (driver + first row segment, last column segment + sense): the node between them
 * carries no information the outputs need.
 */
#include "engine/native_internal.h"

#include <stdlib.h>
#include <string.h>

/* Cell element order follows src/netlist/netlist.c: 1S1R is row - selector - device -
 * column; 1T1R is row - device - NMOS drain, NMOS source at the column (bulk at 0 V,
 * gamma = 0, so the bulk does not enter the static I-V), gate at the row's gate line. */

typedef struct {
    nv_circuit *c;
    size_t cap;
} builder;

static int add_el(builder *b, int kind, int32_t a, int32_t bn, double g)
{
    nv_circuit *c = b->c;
    if (c->n_el == b->cap) {
        size_t nc = b->cap ? 2 * b->cap : 1024;
        uint8_t *k = realloc(c->kind, nc * sizeof *k);
        if (!k) return -1;
        c->kind = k;
        int32_t *x = realloc(c->na, nc * sizeof *x);
        if (!x) return -1;
        c->na = x;
        x = realloc(c->nb, nc * sizeof *x);
        if (!x) return -1;
        c->nb = x;
        double *gg = realloc(c->g, nc * sizeof *gg);
        if (!gg) return -1;
        c->g = gg;
        b->cap = nc;
    }
    c->kind[c->n_el] = (uint8_t)kind;
    c->na[c->n_el] = a;
    c->nb[c->n_el] = bn;
    c->g[c->n_el] = g;
    c->n_el++;
    return 0;
}

/* Stable counting sort of entry indices by key (0..nkeys-1). */
static int counting_sort(const int32_t *key, size_t nkeys, const uint32_t *in, uint32_t *out,
                         size_t m)
{
    size_t *cnt = calloc(nkeys + 1, sizeof *cnt);
    if (!cnt) return -1;
    for (size_t k = 0; k < m; k++) cnt[(size_t)key[in[k]] + 1]++;
    for (size_t k = 0; k < nkeys; k++) cnt[k + 1] += cnt[k];
    for (size_t k = 0; k < m; k++) out[cnt[key[in[k]]]++] = in[k];
    free(cnt);
    return 0;
}

/* Build the CSC pattern of the nodal matrix and every element's stamp slots. */
static int build_pattern(nv_circuit *c, xb_error *err)
{
    size_t n = c->n, cap = 4 * c->n_el;
    c->slot = malloc((cap ? cap : 1) * sizeof *c->slot);
    int32_t *er = malloc((cap ? cap : 1) * sizeof *er);
    int32_t *ec = malloc((cap ? cap : 1) * sizeof *ec);
    uint32_t *eref = malloc((cap ? cap : 1) * sizeof *eref);
    uint32_t *idx = malloc((cap ? cap : 1) * sizeof *idx);
    uint32_t *tmp = malloc((cap ? cap : 1) * sizeof *tmp);
    c->Ap = calloc(n + 1, sizeof *c->Ap);
    int rc = XB_OK;
    if (!c->slot || !er || !ec || !eref || !idx || !tmp || !c->Ap || cap >= UINT32_MAX) {
        rc = xb_errorf(err, XB_ERUNTIME, "native: out of memory building a %zu-node pattern", n);
        goto done;
    }
    size_t m = 0;
    for (size_t e = 0; e < c->n_el; e++) {
        int32_t a = c->na[e], b = c->nb[e];
        int32_t rr[4] = {a, b, a, b}, cc[4] = {a, b, b, a};
        for (int k = 0; k < 4; k++) {
            c->slot[4 * e + (size_t)k] = -1;
            if (rr[k] < 0 || cc[k] < 0) continue;
            if (c->symmetric && rr[k] < cc[k]) continue; /* lower triangle only */
            er[m] = rr[k];
            ec[m] = cc[k];
            eref[m] = (uint32_t)(4 * e + (size_t)k);
            m++;
        }
    }
    for (size_t k = 0; k < m; k++) idx[k] = (uint32_t)k;
    /* sort by (column, row): by row first, then stably by column */
    if (counting_sort(er, n, idx, tmp, m) || counting_sort(ec, n, tmp, idx, m)) {
        rc = xb_errorf(err, XB_ERUNTIME, "native: out of memory sorting the pattern");
        goto done;
    }
    size_t nnz = 0;
    int32_t last_r = -1, last_c = -1;
    for (size_t k = 0; k < m; k++) {
        uint32_t t = idx[k];
        if (er[t] != last_r || ec[t] != last_c) {
            nnz++;
            last_r = er[t];
            last_c = ec[t];
        }
    }
    c->Ai = malloc((nnz ? nnz : 1) * sizeof *c->Ai);
    if (!c->Ai || nnz >= (size_t)INT32_MAX) {
        rc = xb_errorf(err, XB_ERUNTIME, "native: out of memory for %zu nonzeros", nnz);
        goto done;
    }
    size_t pos = 0;
    last_r = last_c = -1;
    for (size_t k = 0; k < m; k++) {
        uint32_t t = idx[k];
        if (er[t] != last_r || ec[t] != last_c) {
            c->Ai[pos] = er[t];
            c->Ap[ec[t] + 1]++;
            last_r = er[t];
            last_c = ec[t];
            pos++;
        }
        c->slot[eref[t]] = (int32_t)(pos - 1);
    }
    for (size_t j = 0; j < n; j++) c->Ap[j + 1] += c->Ap[j];
    c->nnz = nnz;
    /* every unknown must have its diagonal (it has at least one element attached) */
    for (size_t j = 0; j < n; j++) {
        int has = 0;
        for (int32_t q = c->Ap[j]; q < c->Ap[j + 1]; q++)
            if ((size_t)c->Ai[q] == j) has = 1;
        if (!has) {
            rc = xb_errorf(err, XB_ERUNTIME, "native: node %zu has no element attached", j);
            goto done;
        }
    }
done:
    free(er);
    free(ec);
    free(eref);
    free(idx);
    free(tmp);
    return rc;
}

/* Unknowns not tied to any fixed node (a floating line whose cells are all open) carry no
 * current: pin them to ground and renumber the rest.  Union-find over the elements. */
static int32_t uf_find(int32_t *up, int32_t a)
{
    while (up[a] != a) {
        up[a] = up[up[a]];
        a = up[a];
    }
    return a;
}

static int pin_floating(nv_circuit *c, size_t n)
{
    if (n == 0) return 0;
    int32_t *up = malloc(n * sizeof *up), *map = malloc(n * sizeof *map);
    uint8_t *anchored = calloc(n, 1);
    if (!up || !map || !anchored) {
        free(up);
        free(map);
        free(anchored);
        return -1;
    }
    for (size_t k = 0; k < n; k++) up[k] = (int32_t)k;
    /* an open device (G = 0) connects nothing: the netlist writer leaves it out */
#define NV_OPEN(e) ((c->kind[e] == NV_RES || c->kind[e] == NV_DEV) && c->g[e] == 0)
    for (size_t e = 0; e < c->n_el; e++)
        if (c->na[e] >= 0 && c->nb[e] >= 0 && !NV_OPEN(e)) {
            int32_t ra = uf_find(up, c->na[e]), rb = uf_find(up, c->nb[e]);
            if (ra != rb) up[ra] = rb;
        }
    for (size_t e = 0; e < c->n_el; e++) {
        if (NV_OPEN(e)) continue;
        if (c->na[e] >= 0 && c->nb[e] < 0) anchored[uf_find(up, c->na[e])] = 1;
        if (c->nb[e] >= 0 && c->na[e] < 0) anchored[uf_find(up, c->nb[e])] = 1;
    }
#undef NV_OPEN
    int32_t next = 0;
    for (size_t k = 0; k < n; k++) map[k] = anchored[uf_find(up, (int32_t)k)] ? next++ : NV_FIXED(0);
    if ((size_t)next < n) {
        for (size_t e = 0; e < c->n_el; e++) {
            if (c->na[e] >= 0) c->na[e] = map[c->na[e]];
            if (c->nb[e] >= 0) c->nb[e] = map[c->nb[e]];
        }
        for (size_t q = 0; q < c->rows * c->cols; q++) {
            if (c->cell_r[q] >= 0) c->cell_r[q] = map[c->cell_r[q]];
            if (c->cell_c[q] >= 0) c->cell_c[q] = map[c->cell_c[q]];
        }
    }
    c->n = (size_t)next;
    free(up);
    free(map);
    free(anchored);
    return 0;
}

/* The line-current lists (nv_circuit.col_ptr ... row_sign). */
static int build_line_lists(nv_circuit *c, const size_t *col_sense_el)
{
    size_t R = c->rows, C = c->cols, n = c->n;
    /* column of every unknown on a column line (-1 elsewhere) */
    int32_t *col_of = malloc((n ? n : 1) * sizeof *col_of);
    c->col_ptr = calloc(C + 1, sizeof *c->col_ptr);
    c->row_ptr = calloc(R + 1, sizeof *c->row_ptr);
    if (!col_of || !c->col_ptr || !c->row_ptr) {
        free(col_of);
        return -1;
    }
    for (size_t k = 0; k < n; k++) col_of[k] = -1;
    int32_t *fixed_col = malloc(C * sizeof *fixed_col); /* fixed node a column line is, or 0 */
    if (!fixed_col) {
        free(col_of);
        return -1;
    }
    for (size_t j = 0; j < C; j++) {
        fixed_col[j] = 0;
        for (size_t i = 0; i < R; i++) {
            int32_t id = c->cell_c[i * C + j];
            if (id >= 0) col_of[id] = (int32_t)j;
            else fixed_col[j] = id;
        }
    }
    /* two passes: count, then fill */
    for (int pass = 0; pass < 2; pass++) {
        size_t *cpos = NULL, *rpos = NULL;
        if (pass == 1) {
            for (size_t j = 0; j < C; j++) c->col_ptr[j + 1] += c->col_ptr[j];
            for (size_t i = 0; i < R; i++) c->row_ptr[i + 1] += c->row_ptr[i];
            size_t nc = c->col_ptr[C], nr = c->row_ptr[R];
            c->col_el = malloc((nc ? nc : 1) * sizeof *c->col_el);
            c->col_sign = malloc(nc ? nc : 1);
            c->row_el = malloc((nr ? nr : 1) * sizeof *c->row_el);
            c->row_sign = malloc(nr ? nr : 1);
            cpos = malloc((C + 1) * sizeof *cpos);
            rpos = malloc((R + 1) * sizeof *rpos);
            if (!c->col_el || !c->col_sign || !c->row_el || !c->row_sign || !cpos || !rpos) {
                free(cpos);
                free(rpos);
                free(col_of);
                free(fixed_col);
                return -1;
            }
            memcpy(cpos, c->col_ptr, (C + 1) * sizeof *cpos);
            memcpy(rpos, c->row_ptr, (R + 1) * sizeof *rpos);
        }
        for (size_t e = 0; e < c->n_el; e++) {
            int32_t a = c->na[e], b = c->nb[e];
            /* rows: elements touching the fixed node of a row source */
            for (int t = 0; t < 2; t++) {
                int32_t id = t ? b : a;
                if (id >= 0 || id == NV_FIXED(0) || (size_t)(-1 - id) > R) continue;
                if (a == b) continue;
                size_t i = (size_t)(-1 - id) - 1;
                if (pass == 0) {
                    c->row_ptr[i + 1]++;
                } else {
                    c->row_el[rpos[i]] = e;
                    c->row_sign[rpos[i]++] = (int8_t)(t ? -1 : 1);
                }
            }
            /* columns: exactly one terminal on the line (wire segments have two), not the
             * sense element */
            int ca = a >= 0 ? col_of[a] : -1, cb = b >= 0 ? col_of[b] : -1;
            for (int t = 0; t < 2; t++) {
                int cj = t ? cb : ca, other = t ? ca : cb;
                if (cj < 0 || cj == other || col_sense_el[cj] == e) continue;
                if (pass == 0) {
                    c->col_ptr[(size_t)cj + 1]++;
                } else {
                    c->col_el[cpos[cj]] = e;
                    c->col_sign[cpos[cj]++] = (int8_t)(t ? 1 : -1);
                }
            }
        }
        /* a column line that is a fixed node itself (no wire, no sense resistance): its
         * current is that of its cells and cell capacitors */
        for (size_t j = 0; j < C; j++) {
            if (!fixed_col[j]) continue;
            for (size_t i = 0; i < R; i++) {
                size_t q = i * C + j, els[2] = {c->cell_el[q], c->cell_cap[q]};
                for (int t = 0; t < 2; t++) {
                    size_t e = els[t];
                    if (e == SIZE_MAX || c->nb[e] != fixed_col[j] || c->na[e] == fixed_col[j]) continue;
                    if (pass == 0) {
                        c->col_ptr[j + 1]++;
                    } else {
                        c->col_el[cpos[j]] = e;
                        c->col_sign[cpos[j]++] = 1;
                    }
                }
            }
        }
        free(cpos);
        free(rpos);
    }
    free(col_of);
    free(fixed_col);
    return 0;
}

int nv_circuit_build(const xb_array_params *p, const xb_matrix *g, int symmetric, nv_circuit *c,
                     xb_error *err)
{
    return nv_circuit_build_plan(p, g, symmetric, NULL, c, err);
}

int nv_circuit_build_plan(const xb_array_params *p, const xb_matrix *g, int symmetric,
                          const nv_plan *plan, nv_circuit *c, xb_error *err)
{
    memset(c, 0, sizeof *c);
    size_t R = p->rows, C = p->cols;
    c->rows = R;
    c->cols = C;
    int biased = 0;
    for (size_t j = 0; plan && plan->col_mode && j < C; j++)
        if (plan->col_mode[j] == NV_COL_BIAS) biased = 1;
    c->n_fixed = 1 + R + (biased ? C : 0);
    c->symmetric = symmetric;
    builder b = {c, 0};
    size_t *col_sense_el = NULL;
    if (R * C > (size_t)INT32_MAX / 4) {
        return xb_errorf(err, XB_EINPUT, "--rows/--cols: %zu x %zu is too large", R, C);
    }
    c->cell_r = malloc(R * C * sizeof *c->cell_r);
    c->cell_c = malloc(R * C * sizeof *c->cell_c);
    c->cell_el = malloc(R * C * sizeof *c->cell_el);
    c->cell_cap = malloc(R * C * sizeof *c->cell_cap);
    col_sense_el = malloc((C ? C : 1) * sizeof *col_sense_el);
    if (!c->cell_r || !c->cell_c || !c->cell_el || !c->cell_cap || !col_sense_el) goto oom;
    for (size_t q = 0; q < R * C; q++) c->cell_cap[q] = SIZE_MAX;

    int32_t next = 0;
    /* Rows: source V_i -- (r_driver + r_wire_row) -- r(i,0) -- r_wire_row -- r(i,1) ...
     * A floating row has no driver: its line starts at r(i,0). */
    double r_in = p->r_driver_ohm + p->r_wire_row_ohm;
    for (size_t i = 0; i < R; i++) {
        int32_t src = NV_FIXED(1 + i);
        int driven = !plan || !plan->row_driven || plan->row_driven[i];
        if (p->r_wire_row_ohm == 0) {
            int32_t id = src;
            if (r_in > 0 || !driven) {
                id = next++;
                if (driven && add_el(&b, NV_RES, src, id, 1.0 / r_in)) goto oom;
            }
            for (size_t j = 0; j < C; j++) c->cell_r[i * C + j] = id;
        } else {
            for (size_t j = 0; j < C; j++) {
                int32_t id = next++;
                c->cell_r[i * C + j] = id;
                if (j == 0) {
                    if (driven && add_el(&b, NV_RES, src, id, 1.0 / r_in)) goto oom;
                } else {
                    if (add_el(&b, NV_RES, id - 1, id, 1.0 / p->r_wire_row_ohm)) goto oom;
                }
            }
        }
    }
    /* Columns: c(0,j) -- r_wire_col -- c(1,j) ... c(R-1,j) -- (r_wire_col + r_sense) -- 0 V
     * (a biased column ends on its bias source instead; a floating one ends open). */
    double r_out = p->r_wire_col_ohm + p->r_sense_ohm;
    for (size_t j = 0; j < C; j++) {
        int mode = plan && plan->col_mode ? plan->col_mode[j] : NV_COL_SENSE;
        int32_t term = mode == NV_COL_BIAS ? NV_FIXED(1 + R + j) : NV_FIXED(0);
        col_sense_el[j] = SIZE_MAX;
        if (p->r_wire_col_ohm == 0) {
            int32_t id = term;
            if (r_out > 0 || mode == NV_COL_FLOAT) {
                id = next++;
                if (mode != NV_COL_FLOAT) {
                    col_sense_el[j] = c->n_el;
                    if (add_el(&b, NV_RES, id, term, 1.0 / r_out)) goto oom;
                }
            }
            for (size_t i = 0; i < R; i++) c->cell_c[i * C + j] = id;
        } else {
            for (size_t i = 0; i < R; i++) {
                int32_t id = next++;
                c->cell_c[i * C + j] = id;
                if (i > 0 && add_el(&b, NV_RES, id - 1, id, 1.0 / p->r_wire_col_ohm)) goto oom;
            }
            if (mode != NV_COL_FLOAT) {
                col_sense_el[j] = c->n_el;
                if (add_el(&b, NV_RES, next - 1, term, 1.0 / r_out)) goto oom;
            }
        }
    }
    /* Cells */
    for (size_t i = 0; i < R; i++) {
        double gate = plan && plan->gate_volt ? plan->gate_volt[i] : p->v_gate_volt;
        for (size_t j = 0; j < C; j++) {
            size_t q = i * C + j;
            double gij = g->data[q];
            int32_t rn = c->cell_r[q], cn = c->cell_c[q];
            /* ohmic devices (linear, ECRAM channel: V0 = 0 in netlist.h) are plain conductances */
            int dev_kind = xb_device_v0_volt(p, gij) > 0 ? NV_DEV : NV_RES;
            if (p->cell == XB_CELL_1R) {
                c->cell_el[q] = c->n_el;
                if (add_el(&b, dev_kind, rn, cn, gij)) goto oom;
            } else if (gij == 0) {
                /* an open device leaves the series element dangling: no cell at all
                 * (the netlist writer emits nothing either) */
                c->cell_el[q] = SIZE_MAX;
            } else if (p->cell == XB_CELL_1S1R) {
                /* row -- selector -- m -- device -- column, as netlist.c writes it */
                int32_t m = next++;
                if (add_el(&b, NV_SEL, rn, m, 0)) goto oom;
                c->cell_el[q] = c->n_el;
                if (add_el(&b, dev_kind, m, cn, gij)) goto oom;
            } else {
                /* row -- device -- m (drain) -- NMOS -- column (source), gate on the row's line */
                int32_t m = next++;
                if (add_el(&b, dev_kind, rn, m, gij)) goto oom;
                c->cell_el[q] = c->n_el;
                if (add_el(&b, NV_NMOS, m, cn, gate)) goto oom;
            }
        }
    }
    /* ngspice's gmin across the access transistor's bulk junctions (bulk at 0 V): it keeps a
     * floating row whose transistors are all off at a defined voltage */
    if (plan && plan->g_junction_siemens > 0 && p->cell == XB_CELL_1T1R)
        for (size_t q = 0; q < R * C; q++) {
            size_t el = c->cell_el[q];
            if (el == SIZE_MAX) continue;
            if (add_el(&b, NV_RES, c->na[el], NV_FIXED(0), plan->g_junction_siemens)) goto oom;
            if (c->nb[el] >= 0 && add_el(&b, NV_RES, c->nb[el], NV_FIXED(0), plan->g_junction_siemens))
                goto oom;
        }
    /* Capacitors (transients), placed as src/characterize/transient.c does: c_wire at the
     * cell-side node of every segment; a line without wire resistance is one node carrying
     * the whole line's capacitance. */
    if (plan && plan->c_wire_farad > 0) {
        double cw = plan->c_wire_farad;
        for (size_t i = 0; i < R; i++) {
            if (p->r_wire_row_ohm > 0) {
                for (size_t j = 0; j < C; j++)
                    if (add_el(&b, NV_CAP, c->cell_r[i * C + j], NV_FIXED(0), cw)) goto oom;
            } else if (c->cell_r[i * C] != NV_FIXED(0)) {
                if (add_el(&b, NV_CAP, c->cell_r[i * C], NV_FIXED(0), cw * (double)C)) goto oom;
            }
        }
        for (size_t j = 0; j < C; j++) {
            if (p->r_wire_col_ohm > 0) {
                for (size_t i = 0; i < R; i++)
                    if (add_el(&b, NV_CAP, c->cell_c[i * C + j], NV_FIXED(0), cw)) goto oom;
            } else if (c->cell_c[j] != NV_FIXED(0)) {
                if (add_el(&b, NV_CAP, c->cell_c[j], NV_FIXED(0), cw * (double)R)) goto oom;
            }
        }
    }
    if (plan && plan->c_cell_farad > 0)
        for (size_t q = 0; q < R * C; q++) {
            if (c->cell_r[q] == c->cell_c[q]) continue;
            c->cell_cap[q] = c->n_el;
            if (add_el(&b, NV_CAP, c->cell_r[q], c->cell_c[q], plan->c_cell_farad)) goto oom;
        }
    if (plan) {
        if (pin_floating(c, (size_t)next)) goto oom;
    } else {
        c->n = (size_t)next;
    }
    if (build_line_lists(c, col_sense_el)) goto oom;
    free(col_sense_el);
    return build_pattern(c, err);
oom:
    free(col_sense_el);
    nv_circuit_free(c);
    return xb_errorf(err, XB_ERUNTIME, "native: out of memory building a %zu x %zu circuit", R, C);
}

double nv_circuit_col_current(const xb_array_params *p, const nv_circuit *c, const double *x,
                              const double *fixed, const double *cap_i, size_t j)
{
    double sum = 0;
    for (size_t k = c->col_ptr[j]; k < c->col_ptr[j + 1]; k++) {
        size_t e = c->col_el[k];
        double cur = 0, da, db;
        if (c->kind[e] == NV_CAP) {
            cur = cap_i ? cap_i[e] : 0.0;
        } else {
            int32_t a = c->na[e], b = c->nb[e];
            nv_el_iv(p, c->kind, c->g, e, a >= 0 ? x[a] : fixed[-1 - a], b >= 0 ? x[b] : fixed[-1 - b], &cur,
                     &da, &db);
        }
        sum += c->col_sign[k] * cur;
    }
    return sum;
}

double nv_circuit_row_current(const xb_array_params *p, const nv_circuit *c, const double *x,
                              const double *fixed, const double *cap_i, size_t i)
{
    double sum = 0;
    for (size_t k = c->row_ptr[i]; k < c->row_ptr[i + 1]; k++) {
        size_t e = c->row_el[k];
        double cur = 0, da, db;
        if (c->kind[e] == NV_CAP) {
            cur = cap_i ? cap_i[e] : 0.0;
        } else {
            int32_t a = c->na[e], b = c->nb[e];
            nv_el_iv(p, c->kind, c->g, e, a >= 0 ? x[a] : fixed[-1 - a], b >= 0 ? x[b] : fixed[-1 - b], &cur,
                     &da, &db);
        }
        sum += c->row_sign[k] * cur;
    }
    return sum;
}

void nv_circuit_free(nv_circuit *c)
{
    if (!c) return;
    free(c->kind);
    free(c->na);
    free(c->nb);
    free(c->g);
    free(c->slot);
    free(c->cell_r);
    free(c->cell_c);
    free(c->cell_el);
    free(c->cell_cap);
    free(c->col_ptr);
    free(c->col_el);
    free(c->col_sign);
    free(c->row_ptr);
    free(c->row_el);
    free(c->row_sign);
    free(c->Ap);
    free(c->Ai);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------------ nested dissection */
/* The crossbar is a grid: cell (i,j) owns row node r(i,j), column node c(i,j) and, for
 * 1S1R/1T1R, an internal node.  Row wires join r(i,j-1)-r(i,j), column wires c(i-1,j)-c(i,j).
 * Cutting between column halves at column m, the row nodes r(.,m) separate the left cells
 * from the right ones, and the rest of column m (its column and internal nodes) hangs on
 * that separator alone; likewise the column nodes c(m,.) for a cut between row halves.
 * Ordering halves first, then the remainder, then the separator, recursively, is nested
 * dissection with exact separators: the fill of METIS without its run time. */
typedef struct {
    const nv_circuit *c;
    int32_t *perm;
    size_t k;
    int cells3; /* cells have an internal node */
} nd_state;

static void nd_push(nd_state *s, int32_t id)
{
    if (id >= 0) s->perm[s->k++] = id;
}

static int32_t nd_internal(const nd_state *s, size_t q)
{
    size_t el = s->c->cell_el[q];
    return s->cells3 && el != SIZE_MAX ? s->c->na[el] : -1;
}

static void nd_rec(nd_state *s, size_t i0, size_t i1, size_t j0, size_t j1)
{
    size_t h = i1 - i0, w = j1 - j0, C = s->c->cols;
    if (h == 0 || w == 0) return;
    if (h * w <= 4) {
        for (size_t i = i0; i < i1; i++)
            for (size_t j = j0; j < j1; j++) {
                nd_push(s, s->c->cell_r[i * C + j]);
                nd_push(s, nd_internal(s, i * C + j));
                nd_push(s, s->c->cell_c[i * C + j]);
            }
        return;
    }
    if (w >= h) {
        size_t m = j0 + w / 2;
        nd_rec(s, i0, i1, j0, m);
        nd_rec(s, i0, i1, m + 1, j1);
        for (size_t i = i0; i < i1; i++) {
            nd_push(s, nd_internal(s, i * C + m));
            nd_push(s, s->c->cell_c[i * C + m]);
        }
        for (size_t i = i0; i < i1; i++) nd_push(s, s->c->cell_r[i * C + m]);
    } else {
        size_t m = i0 + h / 2;
        nd_rec(s, i0, m, j0, j1);
        nd_rec(s, m + 1, i1, j0, j1);
        for (size_t j = j0; j < j1; j++) {
            nd_push(s, nd_internal(s, m * C + j));
            nd_push(s, s->c->cell_r[m * C + j]);
        }
        for (size_t j = j0; j < j1; j++) nd_push(s, s->c->cell_c[m * C + j]);
    }
}

int nv_circuit_nd_order(const nv_circuit *c, const xb_array_params *p, int32_t *perm)
{
    if (!(p->r_wire_row_ohm > 0) || !(p->r_wire_col_ohm > 0)) return -1;
    nd_state s = {c, perm, 0, p->cell != XB_CELL_1R};
    nd_rec(&s, 0, c->rows, 0, c->cols);
    if (s.k != c->n) return -1;
    /* every unknown exactly once */
    uint8_t *seen = calloc(c->n ? c->n : 1, 1);
    if (!seen) return -1;
    int ok = 1;
    for (size_t k = 0; k < c->n && ok; k++) {
        if (perm[k] < 0 || (size_t)perm[k] >= c->n || seen[perm[k]]) ok = 0;
        else seen[perm[k]] = 1;
    }
    free(seen);
    return ok ? 0 : -1;
}

void nv_stamp(const nv_circuit *c, size_t k, double i, double da, double db, double *f, double *fabs_out,
              double *vals)
{
    const int32_t a = c->na[k], b = c->nb[k];
    if (a >= 0) {
        f[a] += i;
        if (fabs_out) fabs_out[a] += fabs(i);
    }
    if (b >= 0) {
        f[b] -= i;
        if (fabs_out) fabs_out[b] += fabs(i);
    }
    if (vals) {
        const int32_t *s = c->slot + 4 * k;
        if (s[0] >= 0) vals[s[0]] += da;
        if (s[1] >= 0) vals[s[1]] -= db;
        if (s[2] >= 0) vals[s[2]] += db;
        if (s[3] >= 0) vals[s[3]] -= da;
    }
}

double nv_kcl_rel(const double *f, const double *fabs_, size_t n)
{
    double worst = 0;
    for (size_t k = 0; k < n; k++) {
        double r = fabs(f[k]);
        if (r == 0) continue;
        r = fabs_[k] > 0 ? r / fabs_[k] : INFINITY;
        if (!(r <= worst)) worst = r;
    }
    return worst;
}
