/* IDX image/label files (MNIST, Fashion-MNIST), gzip or plain, read with zlib. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "xbar/exec.h"

/* Read exactly n bytes; 0 ok, -1 short read or error. */
static int gz_read_all(gzFile f, void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, p, chunk);
        if (got <= 0) return -1;
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static uint32_t be32(const unsigned char *b)
{
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}

/* Open an IDX file of unsigned bytes with `ndim` dimensions; dims filled. */
static int idx_open(const char *path, unsigned ndim, uint32_t *dims, gzFile *out, xb_error *err)
{
    *out = NULL;
    gzFile f = gzopen(path, "rb");
    if (!f) return xb_errorf(err, XB_EINPUT, "%s: cannot open", path);
    unsigned char hdr[4];
    if (gz_read_all(f, hdr, 4)) {
        gzclose(f);
        return xb_errorf(err, XB_EINPUT, "%s: truncated IDX header", path);
    }
    if (hdr[0] != 0 || hdr[1] != 0) {
        gzclose(f);
        return xb_errorf(err, XB_EINPUT, "%s: not an IDX file (bad magic %02x%02x%02x%02x)", path, hdr[0], hdr[1],
                         hdr[2], hdr[3]);
    }
    if (hdr[2] != 0x08) {
        gzclose(f);
        return xb_errorf(err, XB_EINPUT, "%s: IDX element type 0x%02x, expected unsigned byte (0x08)", path, hdr[2]);
    }
    if (hdr[3] != ndim) {
        gzclose(f);
        return xb_errorf(err, XB_EINPUT, "%s: IDX file has %u dimensions, expected %u", path, hdr[3], ndim);
    }
    for (unsigned d = 0; d < ndim; d++) {
        unsigned char b[4];
        if (gz_read_all(f, b, 4)) {
            gzclose(f);
            return xb_errorf(err, XB_EINPUT, "%s: truncated IDX header", path);
        }
        dims[d] = be32(b);
    }
    *out = f;
    return XB_OK;
}

int xb_dataset_read_idx(const char *images_path, const char *labels_path, size_t limit,
                        xb_dataset **out, xb_error *err)
{
    *out = NULL;
    uint32_t idim[3], ldim[1];
    gzFile fi = NULL, fl = NULL;
    int rc = idx_open(images_path, 3, idim, &fi, err);
    if (rc) return rc;
    if ((rc = idx_open(labels_path, 1, ldim, &fl, err))) {
        gzclose(fi);
        return rc;
    }
    xb_dataset *d = calloc(1, sizeof *d);
    unsigned char *raw = NULL;
    if (!d) {
        rc = xb_errorf(err, XB_ERUNTIME, "out of memory");
        goto fail;
    }
    if (idim[0] != ldim[0]) {
        rc = xb_errorf(err, XB_EINPUT, "%s: %u labels but %s has %u images", labels_path, ldim[0], images_path,
                       idim[0]);
        goto fail;
    }
    if (idim[1] == 0 || idim[2] == 0 || idim[1] > 4096 || idim[2] > 4096) {
        rc = xb_errorf(err, XB_EINPUT, "%s: image size %ux%u", images_path, idim[1], idim[2]);
        goto fail;
    }
    d->n = idim[0];
    if (limit && limit < d->n) d->n = limit;
    d->rows = idim[1];
    d->cols = idim[2];
    size_t px = d->rows * d->cols;
    /* Storage grows with the images actually read: the header's count is not trusted (a
     * 30-byte corrupted file asked for 20 GB up front; found by tests/fuzz/fuzz_idx). */
    size_t cap = ((size_t)64 << 20) / (px * sizeof(float)); /* start with at most 64 MiB */
    if (cap == 0) cap = 1;
    if (cap > d->n) cap = d->n;
    d->images = malloc((cap ? cap : 1) * px * sizeof(float));
    raw = malloc(px);
    if (!d->images || !raw) {
        rc = xb_errorf(err, XB_ERUNTIME, "out of memory (%zu images)", d->n);
        goto fail;
    }
    for (size_t s = 0; s < d->n; s++) {
        if (gz_read_all(fi, raw, px)) {
            rc = xb_errorf(err, XB_EINPUT, "%s: truncated at image %zu of %u", images_path, s, idim[0]);
            goto fail;
        }
        if (s == cap) {
            cap = cap * 2 < d->n ? cap * 2 : d->n;
            float *grown = realloc(d->images, cap * px * sizeof(float));
            if (!grown) {
                rc = xb_errorf(err, XB_ERUNTIME, "out of memory (%zu images)", d->n);
                goto fail;
            }
            d->images = grown;
        }
        float *img = d->images + s * px;
        for (size_t i = 0; i < px; i++) img[i] = (float)raw[i] / 255.0f;
    }
    d->labels = malloc(d->n ? d->n : 1);
    if (!d->labels) {
        rc = xb_errorf(err, XB_ERUNTIME, "out of memory (%zu labels)", d->n);
        goto fail;
    }
    if (d->n && gz_read_all(fl, d->labels, d->n)) {
        rc = xb_errorf(err, XB_EINPUT, "%s: truncated (fewer than %zu labels)", labels_path, d->n);
        goto fail;
    }
    free(raw);
    gzclose(fi);
    gzclose(fl);
    *out = d;
    return XB_OK;
fail:
    free(raw);
    xb_dataset_free(d);
    gzclose(fi);
    gzclose(fl);
    return rc;
}

int xb_dataset_load_fmnist(const char *dir, int train, size_t limit, xb_dataset **out,
                           xb_error *err)
{
    if (!dir) dir = XB_FMNIST_DEFAULT_DIR;
    const char *pre = train ? "train" : "t10k";
    char ip[4096], lp[4096];
    snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte.gz", dir, pre);
    snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte.gz", dir, pre);
    /* Accept unpacked files too. */
    FILE *f = fopen(ip, "rb");
    if (f) fclose(f);
    else {
        snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte", dir, pre);
        snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte", dir, pre);
        f = fopen(ip, "rb");
        if (f) fclose(f);
        else return xb_errorf(err, XB_EINPUT, "%s/%s-images-idx3-ubyte.gz: cannot open", dir, pre);
    }
    return xb_dataset_read_idx(ip, lp, limit, out, err);
}

void xb_dataset_free(xb_dataset *d)
{
    if (!d) return;
    free(d->images);
    free(d->labels);
    free(d);
}
