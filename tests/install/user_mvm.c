/* A program built against an installed xbar by tests/test_install.sh, the way a user builds
 * one: `cc -std=c11 -pedantic user_mvm.c $(pkg-config --cflags --libs xbar)`, linked against
 * libxbar.so or libxbar.a.  It multiplies through a 2x2 crossbar with the public API (native
 * and ngspice engines) and checks both against the circuit solved here by hand: the nodal
 * equations of the netlist.h topology written out and solved by Gaussian elimination.  Then
 * it checks where libxbar found the SPICE models (argv[1], "-" to skip) and that an RRAM
 * netlist .include's them from there.
 * Exit 0 when everything agrees, 1 otherwise (one line per check on stdout). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <xbar/engine.h>
#include <xbar/netlist.h>

#define N 8 /* unknowns: row nodes r(i,j) = 2i+j, column nodes c(i,j) = 4+2i+j */

static int failures;

static void check(int ok, const char *what, double got, double want)
{
    printf("%-44s %s  got %.12g  want %.12g\n", what, ok ? "ok  " : "FAIL", got, want);
    if (!ok) failures++;
}

/* Conductance y between nodes a and b (b < 0: ground). */
static void stamp(double A[N][N], int a, int b, double y)
{
    A[a][a] += y;
    if (b >= 0) {
        A[b][b] += y;
        A[a][b] -= y;
        A[b][a] -= y;
    }
}

/* Column currents of the 2x2 read circuit (include/xbar/netlist.h): row i driven by v[i]
 * behind r_drv and one row segment to r(i,0), one more segment to r(i,1); cell (i,j)
 * between r(i,j) and c(i,j); column j from c(0,j) through a segment to c(1,j), then a
 * segment and r_sense to 0 V.  Column current = current into the sense node. */
static void solve_by_hand(const double g[2][2], const double v[2], double r_row, double r_col,
                          double r_drv, double r_sense, double i_out[2])
{
    double A[N][N] = {{0}}, b[N] = {0};
    for (int i = 0; i < 2; i++) {
        stamp(A, 2 * i, -1, 1.0 / (r_drv + r_row)); /* source node held at v[i] */
        b[2 * i] += v[i] / (r_drv + r_row);
        stamp(A, 2 * i, 2 * i + 1, 1.0 / r_row);
        for (int j = 0; j < 2; j++) stamp(A, 2 * i + j, 4 + 2 * i + j, g[i][j]);
    }
    for (int j = 0; j < 2; j++) {
        stamp(A, 4 + j, 4 + 2 + j, 1.0 / r_col);
        stamp(A, 4 + 2 + j, -1, 1.0 / (r_col + r_sense));
    }
    for (int k = 0; k < N; k++) { /* elimination with partial pivoting */
        int p = k;
        for (int r = k + 1; r < N; r++)
            if (fabs(A[r][k]) > fabs(A[p][k])) p = r;
        for (int c = 0; c < N; c++) {
            double t = A[k][c];
            A[k][c] = A[p][c];
            A[p][c] = t;
        }
        double t = b[k];
        b[k] = b[p];
        b[p] = t;
        for (int r = k + 1; r < N; r++) {
            double f = A[r][k] / A[k][k];
            for (int c = k; c < N; c++) A[r][c] -= f * A[k][c];
            b[r] -= f * b[k];
        }
    }
    double x[N];
    for (int k = N - 1; k >= 0; k--) {
        double s = b[k];
        for (int c = k + 1; c < N; c++) s -= A[k][c] * x[c];
        x[k] = s / A[k][k];
    }
    for (int j = 0; j < 2; j++) i_out[j] = x[4 + 2 + j] / (r_col + r_sense);
}

static int mvm_case(const char *name, double r_wire, double r_drv, double r_sense)
{
    const double g[2][2] = {{1e-3, 2e-3}, {3e-3, 4e-3}}, v[2] = {0.2, -0.05};
    xb_error err;
    xb_error_clear(&err);
    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_LINEAR);
    p.rows = p.cols = 2;
    p.r_wire_row_ohm = p.r_wire_col_ohm = r_wire;
    p.r_driver_ohm = r_drv;
    p.r_sense_ohm = r_sense;
    xb_matrix *G = xb_matrix_new(2, 2), *V = xb_matrix_new(1, 2);
    xb_matrix *In = xb_matrix_new(1, 2), *Is = xb_matrix_new(1, 2);
    if (!G || !V || !In || !Is) return -1;
    for (int i = 0; i < 2; i++) {
        V->data[i] = v[i];
        for (int j = 0; j < 2; j++) G->data[2 * i + j] = g[i][j];
    }
    double want[2];
    if (r_wire > 0) {
        solve_by_hand(g, v, r_wire, r_wire, r_drv, r_sense, want);
    } else { /* no resistance anywhere: I_j = sum_i v_i g_ij */
        for (int j = 0; j < 2; j++) want[j] = v[0] * g[0][j] + v[1] * g[1][j];
    }
    xb_engine_opts o;
    xb_engine_opts_default(&o);
    o.n_workers = 1;
    int rc = xb_engine_mvm_native(&p, G, V, In, &err);
    if (rc == XB_OK) rc = xb_engine_mvm_spice(&o, &p, G, V, Is, &err);
    if (rc != XB_OK) {
        printf("%s: FAIL %s\n", name, err.msg);
        failures++;
    } else {
        for (int j = 0; j < 2; j++) {
            char what[64];
            snprintf(what, sizeof what, "%s native I[%d]", name, j);
            check(fabs(In->data[j] - want[j]) <= 1e-9 * fabs(want[j]), what, In->data[j], want[j]);
            snprintf(what, sizeof what, "%s ngspice I[%d]", name, j);
            check(fabs(Is->data[j] - want[j]) <= 1e-6 * fabs(want[j]), what, Is->data[j], want[j]);
        }
    }
    xb_matrix_free(G);
    xb_matrix_free(V);
    xb_matrix_free(In);
    xb_matrix_free(Is);
    return 0;
}

static void models_case(const char *expect)
{
    const char *dir = NULL;
    xb_error err;
    xb_error_clear(&err);
    if (xb_netlist_models_dir_find(&dir, &err) != XB_OK) {
        printf("models dir: FAIL %s\n", err.msg);
        failures++;
        return;
    }
    int same = strcmp(dir, expect) == 0;
    printf("models dir %-33s %s  got %s  want %s\n", "", same ? "ok  " : "FAIL", dir, expect);
    if (!same) failures++;

    xb_array_params p;
    xb_array_params_default(&p, XB_DEVICE_RRAM);
    p.rows = p.cols = 2;
    p.include_models = 1; /* .include the library by path instead of copying it in */
    xb_matrix *G = xb_matrix_new(2, 2);
    xb_netlist *n = NULL;
    char line[4200];
    snprintf(line, sizeof line, ".include %s/rram.lib\n", expect);
    if (!G) return;
    for (int k = 0; k < 4; k++) G->data[k] = 20e-6;
    if (xb_netlist_mvm_new(&p, G, &n, &err) != XB_OK) {
        printf("rram netlist: FAIL %s\n", err.msg);
        failures++;
    } else {
        int has = strstr(xb_netlist_body(n), line) != NULL;
        printf("rram netlist includes the models %-12s %s\n", "", has ? "ok" : "FAIL");
        if (!has) failures++;
    }
    xb_netlist_free(n);
    xb_matrix_free(G);
}

int main(int argc, char **argv)
{
    printf("xbar %s\n", xb_version());
    if (mvm_case("2x2 ideal wires", 0, 0, 0) || mvm_case("2x2 wires 2.5 ohm", 2.5, 50, 10)) {
        printf("out of memory\n");
        return 1;
    }
    if (argc > 1 && strcmp(argv[1], "-") != 0) models_case(argv[1]);
    printf("%s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
