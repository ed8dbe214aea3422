/* numpy's .npy format (numpy.lib.format, versions 1.0, 2.0, 3.0): a strict reader and a
 * float32 writer.  A file is the magic "\x93NUMPY", the version (2 bytes), the header length
 * (2 bytes little-endian in 1.0, 4 bytes in 2.0 and 3.0), the header: a Python dict literal
 * {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded with spaces and a
 * newline, then the elements in C order.  Only plain numeric dtypes are read (bool, signed
 * and unsigned integers of 1-8 bytes, float32, float64; either byte order); structured,
 * object, complex and Fortran-ordered arrays are refused with a one-line error. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xbar/exec.h"

void xb_array_free(xb_array *a)
{
    if (!a) return;
    free(a->data);
    free(a);
}

static int host_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static void swap_bytes(unsigned char *p, size_t n, size_t itemsize)
{
    for (size_t i = 0; i < n; i++, p += itemsize)
        for (size_t a = 0, b = itemsize - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* ------------------------------------------------------------------ the header dict */
typedef struct {
    const char *s, *path;
    size_t pos, len;
    xb_error *err;
} hdr;

static void skip_ws(hdr *h)
{
    while (h->pos < h->len && (h->s[h->pos] == ' ' || h->s[h->pos] == '\t' || h->s[h->pos] == '\n' ||
                               h->s[h->pos] == '\r'))
        h->pos++;
}

static int expect(hdr *h, char c)
{
    skip_ws(h);
    if (h->pos < h->len && h->s[h->pos] == c) {
        h->pos++;
        return XB_OK;
    }
    return xb_errorf(h->err, XB_EINPUT, "%s: .npy header: expected '%c' at character %zu", h->path, c, h->pos);
}

/* A quoted string literal (no escapes: numpy writes none in these keys and dtypes). */
static int str_lit(hdr *h, char *buf, size_t n)
{
    skip_ws(h);
    if (h->pos >= h->len || (h->s[h->pos] != '\'' && h->s[h->pos] != '"'))
        return xb_errorf(h->err, XB_EINPUT, "%s: .npy header: expected a string at character %zu", h->path, h->pos);
    const char q = h->s[h->pos++];
    size_t k = 0;
    while (h->pos < h->len && h->s[h->pos] != q) {
        if (h->s[h->pos] == '\\' || k + 1 >= n)
            return xb_errorf(h->err, XB_EINPUT, "%s: .npy header: unsupported string at character %zu", h->path, h->pos);
        buf[k++] = h->s[h->pos++];
    }
    if (h->pos >= h->len) return xb_errorf(h->err, XB_EINPUT, "%s: .npy header: unterminated string", h->path);
    h->pos++;
    buf[k] = '\0';
    return XB_OK;
}

static int word_is(hdr *h, const char *w)
{
    const size_t n = strlen(w);
    if (h->pos + n <= h->len && !strncmp(h->s + h->pos, w, n)) {
        h->pos += n;
        return 1;
    }
    return 0;
}

/* The shape tuple: "()", "(n,)", "(a, b, ...)" with an optional trailing comma. */
static int shape_lit(hdr *h, xb_array *a)
{
    if (expect(h, '(')) return XB_EINPUT;
    a->ndim = 0;
    for (;;) {
        skip_ws(h);
        if (h->pos < h->len && h->s[h->pos] == ')') {
            h->pos++;
            return XB_OK;
        }
        if (h->pos >= h->len || h->s[h->pos] < '0' || h->s[h->pos] > '9')
            return xb_errorf(h->err, XB_EINPUT, "%s: .npy header: bad shape at character %zu", h->path, h->pos);
        if (a->ndim == XB_ARRAY_MAX_DIMS)
            return xb_errorf(h->err, XB_EINPUT, "%s: more than %d dimensions", h->path, XB_ARRAY_MAX_DIMS);
        size_t v = 0;
        while (h->pos < h->len && h->s[h->pos] >= '0' && h->s[h->pos] <= '9') {
            if (v > (SIZE_MAX - 9) / 10) return xb_errorf(h->err, XB_EINPUT, "%s: .npy header: dimension too large", h->path);
            v = 10 * v + (size_t)(h->s[h->pos++] - '0');
        }
        a->shape[a->ndim++] = v;
        skip_ws(h);
        if (h->pos < h->len && h->s[h->pos] == ',') h->pos++;
        else if (h->pos < h->len && h->s[h->pos] != ')')
            return xb_errorf(h->err, XB_EINPUT, "%s: .npy header: bad shape at character %zu", h->path, h->pos);
    }
}

/* dtype string: byte order < > | = and kind/size b1 i1..i8 u1..u8 f4 f8. */
static int descr_parse(const char *path, const char *d, xb_array *a, int *swap, xb_error *err)
{
    const char order = d[0];
    unsigned size = 0;
    char kind = 0, rest = 0;
    if (!strchr("<>|=", order) || sscanf(d + 1, "%c%u%c", &kind, &size, &rest) != 2 || !strchr("biuf", kind) ||
        (kind == 'f' && size != 4 && size != 8) || (kind == 'b' && size != 1) ||
        (strchr("iu", kind) && size != 1 && size != 2 && size != 4 && size != 8))
        return xb_errorf(err, XB_EINPUT,
                         "%s: dtype '%s' is not supported (bool, int8-int64, uint8-uint64, float32, float64)", path, d);
    if (order == '|' && size > 1) return xb_errorf(err, XB_EINPUT, "%s: dtype '%s' has no byte order", path, d);
    a->kind = kind;
    a->itemsize = size;
    *swap = size > 1 && ((order == '<' && !host_little_endian()) || (order == '>' && host_little_endian()));
    return XB_OK;
}

/* The dict: exactly the keys descr, fortran_order (False) and shape, in any order. */
static int header_parse(hdr *h, xb_array *a, int *swap)
{
    int seen = 0;
    if (expect(h, '{')) return XB_EINPUT;
    for (;;) {
        skip_ws(h);
        if (h->pos < h->len && h->s[h->pos] == '}') break;
        char key[32], val[64];
        if (str_lit(h, key, sizeof key) || expect(h, ':')) return XB_EINPUT;
        skip_ws(h);
        if (!strcmp(key, "descr")) {
            if (h->pos < h->len && h->s[h->pos] == '[')
                return xb_errorf(h->err, XB_EINPUT, "%s: structured dtype is not supported", h->path);
            if (str_lit(h, val, sizeof val) || descr_parse(h->path, val, a, swap, h->err)) return XB_EINPUT;
            seen |= 1;
        } else if (!strcmp(key, "fortran_order")) {
            if (word_is(h, "True"))
                return xb_errorf(h->err, XB_EINPUT, "%s: fortran_order True is not supported (save a C-ordered array)",
                                 h->path);
            if (!word_is(h, "False"))
                return xb_errorf(h->err, XB_EINPUT, "%s: .npy header: fortran_order is not True or False", h->path);
            seen |= 2;
        } else if (!strcmp(key, "shape")) {
            if (shape_lit(h, a)) return XB_EINPUT;
            seen |= 4;
        } else {
            return xb_errorf(h->err, XB_EINPUT, "%s: .npy header: unknown key '%s'", h->path, key);
        }
        skip_ws(h);
        if (h->pos < h->len && h->s[h->pos] == ',') h->pos++;
    }
    h->pos++;
    skip_ws(h);
    if (h->pos != h->len) return xb_errorf(h->err, XB_EINPUT, "%s: .npy header: text after the dict", h->path);
    if (seen != 7)
        return xb_errorf(h->err, XB_EINPUT, "%s: .npy header: missing '%s'", h->path,
                         !(seen & 1) ? "descr" : !(seen & 2) ? "fortran_order" : "shape");
    return XB_OK;
}

/* ------------------------------------------------------------------ reading */
/* Magic, version and header of an open file; a->ndim, shape, kind, itemsize set. */
static int read_header(FILE *f, const char *path, xb_array *a, int *swap, xb_error *err)
{
    unsigned char pre[12];
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return xb_errorf(err, XB_EINPUT, "%s: not a .npy file (bad magic)", path);
    const unsigned major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return xb_errorf(err, XB_EINPUT, "%s: .npy version %u.%u is not supported (1.0, 2.0, 3.0)", path, major, minor);
    const size_t nl = major == 1 ? 2 : 4;
    if (fread(pre + 8, 1, nl, f) != nl) return xb_errorf(err, XB_EINPUT, "%s: truncated .npy header", path);
    size_t hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    if (nl == 4) hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    if (hlen > ((size_t)1 << 20)) return xb_errorf(err, XB_EINPUT, "%s: .npy header of %zu bytes", path, hlen);
    char *text = malloc(hlen + 1);
    if (!text) return xb_errorf(err, XB_ERUNTIME, "out of memory");
    int rc = fread(text, 1, hlen, f) == hlen ? XB_OK : xb_errorf(err, XB_EINPUT, "%s: truncated .npy header", path);
    if (!rc) {
        text[hlen] = '\0';
        hdr h = {text, path, 0, hlen, err};
        rc = header_parse(&h, a, swap);
    }
    free(text);
    return rc;
}

int xb_npy_read(const char *path, xb_array **out, xb_error *err)
{
    *out = NULL;
    if (!path) return xb_errorf(err, XB_EINPUT, "npy: no file given");
    FILE *f = fopen(path, "rb");
    if (!f) return xb_errorf(err, XB_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    xb_array *a = calloc(1, sizeof *a);
    int swap = 0, rc = a ? read_header(f, path, a, &swap, err) : xb_errorf(err, XB_ERUNTIME, "out of memory");
    if (!rc) {
        a->n = 1;
        for (size_t d = 0; d < a->ndim; d++) {
            if (a->shape[d] && a->n > SIZE_MAX / a->itemsize / a->shape[d]) {
                rc = xb_errorf(err, XB_EINPUT, "%s: shape too large", path);
                break;
            }
            a->n *= a->shape[d];
        }
    }
    if (!rc && !(a->data = malloc(a->n * a->itemsize + 1))) rc = xb_errorf(err, XB_ERUNTIME, "out of memory (%s)", path);
    if (!rc) {
        const size_t want = a->n * a->itemsize, got = fread(a->data, 1, want, f);
        if (got != want)
            rc = xb_errorf(err, XB_EINPUT, "%s: truncated: the header declares %zu elements (%zu bytes), the file has %zu bytes of data",
                           path, a->n, want, got);
        else if (fgetc(f) != EOF)
            rc = xb_errorf(err, XB_EINPUT, "%s: bytes after the %zu elements the header declares", path, a->n);
    }
    fclose(f);
    if (rc) {
        xb_array_free(a);
        return rc;
    }
    if (swap) swap_bytes(a->data, a->n, a->itemsize);
    *out = a;
    return XB_OK;
}

/* ------------------------------------------------------------------ writing */
int xb_npy_write_f32(const char *path, const float *data, size_t rows, size_t cols, xb_error *err)
{
    if (!path || (!data && rows && cols)) return xb_errorf(err, XB_EINPUT, "npy: no file or data");
    char dict[160];
    int dn = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows, cols);
    /* header padded with spaces to a multiple of 64 bytes with the magic, version and length,
     * ending in a newline (numpy.lib.format) */
    const size_t total = ((10 + (size_t)dn + 1 + 63) / 64) * 64, hlen = total - 10;
    unsigned char head[256];
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (unsigned char)(hlen & 0xff);
    head[9] = (unsigned char)(hlen >> 8);
    memset(head + 10, ' ', hlen);
    memcpy(head + 10, dict, (size_t)dn);
    head[total - 1] = '\n';
    /* whole file or none (xb_afile: temporary beside it, every write checked, fsync, rename) */
    xb_afile *a = NULL;
    int rc = xb_afile_open(path, &a, err);
    if (rc) return rc;
    FILE *f = xb_afile_stream(a);
    fwrite(head, 1, total, f);
    const int le = host_little_endian();
    for (size_t i = 0; i < rows * cols; i++) {
        unsigned char b[4];
        memcpy(b, &data[i], 4);
        if (!le) swap_bytes(b, 1, 4);
        fwrite(b, 1, 4, f); /* a failed write is kept by the stream, reported at commit */
    }
    return xb_afile_commit(a, err);
}
