/* libFuzzer target: the IDX image/label reader (xb_dataset_read_idx; Fashion-MNIST files,
 * gzip or plain).  Input: 2 bytes (little-endian) = length of the image file part, then the
 * image file bytes, then the label file bytes.  Invariants: an accepted dataset has n
 * images of rows x cols pixels in [0, 1] and n labels; rejections are one-line messages
 * naming a file; no crash, leak, or allocation driven by the header alone. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_file.h"
#include "xbar/exec.h"

static char labels_path[300];
static void cleanup_labels(void) { unlink(labels_path); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 65536) return 0;
    size_t ni = (size_t)data[0] | ((size_t)data[1] << 8);
    data += 2;
    size -= 2;
    if (ni > size) ni = size;
    const char *images = xb_fuzz_file(data, ni, ".images.idx");
    if (!images) return 0;
    if (!labels_path[0]) {
        snprintf(labels_path, sizeof labels_path, "%s.labels", images);
        atexit(cleanup_labels);
    }
    FILE *f = fopen(labels_path, "wb");
    if (!f) return 0;
    fwrite(data + ni, 1, size - ni, f);
    fclose(f);
    xb_dataset *d = NULL;
    xb_error err;
    xb_error_clear(&err);
    int rc = xb_dataset_read_idx(images, labels_path, 0, &d, &err);
    xb_fuzz_verdict("idx", rc, err.msg);
    if (rc == XB_OK) {
        if (!d || !d->rows || !d->cols) abort();
        for (size_t k = 0; k < d->n * d->rows * d->cols; k++)
            if (!(d->images[k] >= 0.0f && d->images[k] <= 1.0f)) abort();
        size_t sum = 0; /* reads every label (ASan checks the bounds) */
        for (size_t k = 0; k < d->n; k++) sum += d->labels[k];
        if (sum > 255 * d->n) abort();
        xb_dataset_free(d);
    } else if (d || !xb_fuzz_msg_ok(err.msg)) {
        abort();
    }
    return 0;
}
