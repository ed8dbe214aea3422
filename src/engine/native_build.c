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

int nv_circuit_build(const xb_array_params *p, const xb_matrix *g, int symmetric, nv_circuit *c,
                     xb_error *err)
{
    memset(c, 0, sizeof *c);
    size_t R = p->rows, C = p->cols;
    c->rows = R;
    c->cols = C;
    c->n_fixed = 1 + R;
    c->symmetric = symmetric;
    builder b = {c, 0};
    c->cell_r = malloc(R * C * sizeof *c->cell_r);
    c->cell_c = malloc(R * C * sizeof *c->cell_c);
    c->cell_el = malloc(R * C * sizeof *c->cell_el);
    if (!c->cell_r || !c->cell_c || !c->cell_el) goto oom;
    if (R * C > (size_t)INT32_MAX / 4) {
        nv_circuit_free(c);
        return xb_errorf(err, XB_EINPUT, "--rows/--cols: %zu x %zu is too large", R, C);
    }

    int32_t next = 0;
    /* Rows: source V_i -- (r_driver + r_wire_row) -- r(i,0) -- r_wire_row -- r(i,1) ... */
    double r_in = p->r_driver_ohm + p->r_wire_row_ohm;
    for (size_t i = 0; i < R; i++) {
        int32_t src = NV_FIXED(1 + i);
        if (p->r_wire_row_ohm == 0) {
            int32_t id = src;
            if (r_in > 0) {
                id = next++;
                if (add_el(&b, NV_RES, src, id, 1.0 / r_in)) goto oom;
            }
            for (size_t j = 0; j < C; j++) c->cell_r[i * C + j] = id;
        } else {
            for (size_t j = 0; j < C; j++) {
                int32_t id = next++;
                c->cell_r[i * C + j] = id;
                if (j == 0) {
                    if (add_el(&b, NV_RES, src, id, 1.0 / r_in)) goto oom;
                } else {
                    if (add_el(&b, NV_RES, id - 1, id, 1.0 / p->r_wire_row_ohm)) goto oom;
                }
            }
        }
    }
    /* Columns: c(0,j) -- r_wire_col -- c(1,j) ... c(R-1,j) -- (r_wire_col + r_sense) -- 0 V */
    double r_out = p->r_wire_col_ohm + p->r_sense_ohm;
    int32_t gnd = NV_FIXED(0);
    for (size_t j = 0; j < C; j++) {
        if (p->r_wire_col_ohm == 0) {
            int32_t id = gnd;
            if (r_out > 0) {
                id = next++;
                if (add_el(&b, NV_RES, id, gnd, 1.0 / r_out)) goto oom;
            }
            for (size_t i = 0; i < R; i++) c->cell_c[i * C + j] = id;
        } else {
            for (size_t i = 0; i < R; i++) {
                int32_t id = next++;
                c->cell_c[i * C + j] = id;
                if (i > 0 && add_el(&b, NV_RES, id - 1, id, 1.0 / p->r_wire_col_ohm)) goto oom;
            }
            if (add_el(&b, NV_RES, next - 1, gnd, 1.0 / r_out)) goto oom;
        }
    }
    /* Cells */
    for (size_t i = 0; i < R; i++) {
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
                /* row -- device -- m (drain) -- NMOS -- column (source) */
                int32_t m = next++;
                if (add_el(&b, dev_kind, rn, m, gij)) goto oom;
                c->cell_el[q] = c->n_el;
                if (add_el(&b, NV_NMOS, m, cn, 0)) goto oom;
            }
        }
    }
    c->n = (size_t)next;
    return build_pattern(c, err);
oom:
    nv_circuit_free(c);
    return xb_errorf(err, XB_ERUNTIME, "native: out of memory building a %zu x %zu circuit", R, C);
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
