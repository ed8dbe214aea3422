/* libFuzzer target: campaign files (xb_char_campaign_parse, docs/campaigns.md).
 * Invariants: an accepted campaign has >= 1 point, points are indexed 0..N-1 with
 * distinct names, every point's array passes xb_array_params_check; a rejected one
 * leaves *out NULL and a one-line message naming the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_file.h"
#include "xbar/characterize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384) return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    xb_campaign *c = NULL;
    xb_error err;
    xb_error_clear(&err);
    int rc = xb_char_campaign_parse(text, "fuzz.ini", &c, &err);
    xb_fuzz_verdict("campaign", rc, err.msg);
    if (rc == XB_OK) {
        if (!c) abort();
        size_t n = xb_char_campaign_npoints(c);
        if (n == 0) abort();
        if (xb_char_campaign_point(c, n)) abort();
        for (size_t k = 0; k < n; k++) {
            const xb_char_point *pt = xb_char_campaign_point(c, k);
            if (!pt || pt->index != k || pt->name[0] == '\0' || pt->key[0] == '\0') abort();
            if (!memchr(pt->name, '\0', sizeof pt->name) || !memchr(pt->key, '\0', sizeof pt->key)) abort();
            xb_error e2;
            if (xb_array_params_check(&pt->array, &e2) != XB_OK) abort();
            if (k && strcmp(pt->name, xb_char_campaign_point(c, k - 1)->name) == 0) abort();
            if (pt->vectors == 0 || pt->samples == 0) abort();
        }
        if (!xb_char_campaign_name(c) || !xb_char_campaign_text(c)) abort();
        if (xb_char_campaign_timeout_s(c) < 0) abort();
        xb_char_campaign_free(c);
    } else {
        if (c) abort();
        if (rc != XB_EINPUT && rc != XB_ERUNTIME) abort();
        if (!xb_fuzz_msg_ok(err.msg) || strncmp(err.msg, "fuzz.ini", 8) != 0) abort();
    }
    free(text);
    return 0;
}
