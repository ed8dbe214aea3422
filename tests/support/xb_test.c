#include <math.h>
#include "support/xb_test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

size_t xb_test_count_lines(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++) n += (*s == '\n');
    return n;
}

float **xb_test_acts_new(const xb_network *net, size_t n)
{
    size_t nl = xb_network_n_layers(net);
    float **a = calloc(nl ? nl : 1, sizeof *a);
    for (size_t k = 0; a && k < nl; k++) a[k] = calloc(n * xb_layer_out_size(xb_network_layer(net, k)), sizeof(float));
    return a;
}

void xb_test_acts_free(float **a, size_t n_layers)
{
    if (!a) return;
    for (size_t k = 0; k < n_layers; k++) free(a[k]);
    free(a);
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
