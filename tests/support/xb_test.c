#define _XOPEN_SOURCE 700 /* nftw */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/xb_test.h"

typedef struct {
    char *buf;
    size_t len, cap;
} sbuf;

static void sbuf_add(sbuf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n + 1) nc *= 2;
        b->buf = realloc(b->buf, nc);
        b->cap = nc;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

int xb_test_run(char *const argv[], char **out, char **err)
{
    int po[2], pe[2];
    if (pipe(po) || pipe(pe)) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]); close(pe[0]); close(po[1]); close(pe[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    sbuf bo = {0}, be = {0};
    sbuf_add(&bo, "", 0);
    sbuf_add(&be, "", 0);
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    char tmp[65536];
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int k = 0; k < 2; k++) {
            if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = read(fds[k].fd, tmp, sizeof tmp);
            if (n <= 0) { close(fds[k].fd); fds[k].fd = -1; open_fds--; continue; }
            sbuf_add(k ? &be : &bo, tmp, (size_t)n);
        }
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (out) *out = bo.buf; else free(bo.buf);
    if (err) *err = be.buf; else free(be.buf);
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

int xb_test_run_xbar(char *const argv[], char **out, char **err)
{
    size_t n = 0;
    while (argv[n]) n++;
    char **v = calloc(n + 2, sizeof *v);
    v[0] = (char *)XB_XBAR_EXE;
    for (size_t i = 1; i < n; i++) v[i] = argv[i];
    int rc = xb_test_run(v, out, err);
    free(v);
    return rc;
}

char *xb_test_tmpdir(const char *tag)
{
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/tmp-%s-XXXXXX", XB_TEST_BINARY_DIR, tag);
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

char *xb_test_write_file(const char *dir, const char *name, const char *text)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) { free(path); return NULL; }
    fputs(text, f);
    fclose(f);
    return path;
}

double xb_test_json_number(const char *json, const char *key)
{
    char k[256];
    snprintf(k, sizeof k, "\"%s\": ", key);
    xb_assert_contains(json, k);
    return atof(strstr(json, k) + strlen(k));
}

double xb_test_json_file_number(const char *path, const char *key)
{
    char *s = xb_test_read_file(path);
    if (!s) {
        print_error("cannot read %s\n", path);
        fail();
    }
    double v = xb_test_json_number(s, key);
    free(s);
    return v;
}

size_t xb_test_count_lines(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++) n += (*s == '\n');
    return n;
}

double xb_test_net_accuracy(const xb_network *net, const xb_dataset *d)
{
    size_t nl = xb_network_n_layers(net);
    float **a = xb_network_acts_new(net, d->n);
    xb_error err;
    assert_int_equal(xb_network_forward(net, d->images, d->n, a, &err), XB_OK);
    double acc = xb_exec_top1(a[nl - 1], d->n, xb_network_output_size(net), d->labels);
    xb_network_acts_free(a, nl);
    return acc;
}

double xb_test_rel_l2f(const float *a, const float *ref, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        r += (double)ref[i] * ref[i];
    }
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

xb_engine *xb_test_engine(const char *name)
{
    xb_engine *e = NULL;
    xb_error err;
    xb_error_clear(&err);
    if (xb_engine_new_by_name(xb_fit_engines, name, NULL, &e, &err)) {
        fprintf(stderr, "xb_test_engine(%s): %s\n", name, err.msg);
        abort();
    }
    return e;
}

xb_engine *xb_test_model_engine(const xb_fit_params *m, int read_noise, uint64_t seed, int exact)
{
    xb_engine_config cfg;
    xb_engine_config_default(&cfg);
    cfg.read_noise = read_noise;
    cfg.seed = seed;
    cfg.exact = exact;
    xb_engine *e = NULL;
    xb_error err;
    xb_error_clear(&err);
    if (xb_fit_engine_new(m, &cfg, &e, &err)) {
        fprintf(stderr, "xb_test_model_engine: %s\n", err.msg);
        abort();
    }
    return e;
}

/* ------------------------------------------------------------------ value-printing asserts */
void xb_test_assert_near_(double a, double b, double rel_tol, double abs_tol, const char *ea, const char *eb,
                          const char *file, int line)
{
    const double d = fabs(a - b), tol = abs_tol + rel_tol * fmax(fabs(a), fabs(b));
    if (d <= tol) return;
    print_error("%s = %.17g\n%s = %.17g\n|difference| %.6g > tolerance %.6g (relative %.3g, absolute %.3g)\n", ea, a,
                eb, b, d, tol, rel_tol, abs_tol);
    _fail(file, line);
}

void xb_test_assert_below_(double x, double limit, const char *ex, const char *el, const char *file, int line)
{
    if (x < limit) return;
    print_error("%s = %.17g is not below %s = %.17g\n", ex, x, el, limit);
    _fail(file, line);
}

void xb_test_assert_contains_(const char *s, const char *sub, const char *es, const char *file, int line)
{
    if (s && strstr(s, sub)) return;
    print_error("%s does not contain '%s'; it is:\n%s\n", es, sub, s ? s : "(null)");
    _fail(file, line);
}

/* ------------------------------------------------------------------ running xbar */
void xb_test_cli_run(xb_test_cli *r, char *const argv[])
{
    r->out = r->err = NULL;
    r->status = xb_test_run_xbar(argv, &r->out, &r->err);
}

void xb_test_cli_free(xb_test_cli *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* "xbar a b c" of argv (argv[0] ignored), for messages. */
static void argv_line(char *const argv[], char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "xbar");
    for (size_t i = 1; argv[i] && k < n; i++) k += (size_t)snprintf(buf + k, n - k, " %s", argv[i]);
}

char *xb_test_xbar_ok_(char *const argv[], const char *file, int line)
{
    xb_test_cli r;
    xb_test_cli_run(&r, argv);
    if (r.status != 0) {
        char cmd[2048];
        argv_line(argv, cmd, sizeof cmd);
        print_error("%s: exit %d, stderr:\n%s\n", cmd, r.status, r.err ? r.err : "");
        xb_test_cli_free(&r);
        _fail(file, line);
    }
    free(r.err);
    return r.out;
}

void xb_test_xbar_fails_(int status, char *const argv[], const char *file, int line, ...)
{
    xb_test_cli r;
    xb_test_cli_run(&r, argv);
    char cmd[2048];
    argv_line(argv, cmd, sizeof cmd);
    int bad = r.status != status || xb_test_count_lines(r.err) != 1;
    va_list ap;
    va_start(ap, line);
    for (const char *part = va_arg(ap, const char *); !bad && part; part = va_arg(ap, const char *))
        bad = !strstr(r.err, part);
    va_end(ap);
    if (bad) {
        print_error("%s: exit %d (expected %d), stderr (expected one line with the given parts):\n%s\n", cmd, r.status,
                    status, r.err ? r.err : "");
        va_start(ap, line);
        for (const char *part = va_arg(ap, const char *); part; part = va_arg(ap, const char *))
            print_error("  expected part: '%s'%s\n", part, r.err && strstr(r.err, part) ? "" : " (missing)");
        va_end(ap);
        xb_test_cli_free(&r);
        _fail(file, line);
    }
    xb_test_cli_free(&r);
}

char *xb_test_run_ok_(char *const argv[], const char *file, int line)
{
    char *out = NULL, *err = NULL;
    int st = xb_test_run(argv, &out, &err);
    if (st != 0) {
        print_error("%s: exit %d, stderr:\n%s\n", argv[0], st, err ? err : "");
        free(out);
        free(err);
        _fail(file, line);
    }
    free(err);
    return out;
}

int xb_test_xbar_start(char *const argv[], const char *err_path, int (*child_setup)(void *), void *user)
{
    size_t n = 0;
    while (argv[n]) n++;
    char **v = calloc(n + 2, sizeof *v);
    if (!v) return -1;
    v[0] = (char *)XB_XBAR_EXE;
    for (size_t i = 1; i < n; i++) v[i] = argv[i];
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (fd >= 0) dup2(fd, 2);
        int dn = open("/dev/null", O_RDWR);
        if (dn >= 0) {
            dup2(dn, 0);
            dup2(dn, 1);
        }
        if (child_setup && child_setup(user) != 0) _exit(126);
        execv(v[0], v);
        _exit(127);
    }
    free(v);
    return (int)pid;
}

int xb_test_wait(int pid)
{
    int st = 0;
    while (waitpid((pid_t)pid, &st, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

/* ------------------------------------------------------------------ files and directories */
char *xb_test_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

char *xb_test_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    for (size_t got; s && (got = fread(s + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (n + 1 == cap) {
            char *t = realloc(s, cap *= 2);
            if (!t) {
                free(s);
                s = NULL;
            }
            s = t;
        }
    }
    fclose(f);
    if (s) s[n] = '\0';
    return s;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void xb_test_tmpdir_remove(char *dir)
{
    if (!dir) return;
    if (!getenv("XB_TEST_KEEP")) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

int xb_test_group_tmpdir(void **state)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? (size_t)n : 0] = '\0';
    const char *name = strrchr(exe, '/');
    *state = xb_test_tmpdir(name ? name + 1 : "test");
    return *state ? 0 : -1;
}

int xb_test_group_tmpdir_remove(void **state)
{
    xb_test_tmpdir_remove(*state);
    *state = NULL;
    return 0;
}

void xb_test_assert_close(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol)) {
        print_error("%s: got %.17g want %.17g (|diff| %.3g > %.3g)\n", what, got, want, fabs(got - want), tol);
        fail();
    }
}

double xb_test_urand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

xb_matrix *xb_test_random_g(const xb_array_params *p, uint64_t seed)
{
    xb_matrix *g = xb_matrix_new(p->rows, p->cols);
    for (size_t k = 0; k < p->rows * p->cols; k++)
        g->data[k] = p->g_min_siemens + (p->g_max_siemens - p->g_min_siemens) * xb_test_urand(&seed);
    return g;
}
