/* Error object and version: see include/xbar/common.h. */
#include "xbar/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void xb_error_clear(xb_error *err)
{
    if (!err) return;
    err->code = XB_OK;
    err->msg[0] = '\0';
}

/* Messages are one line: fold any newline a formatted argument carried in. */
static void fold_newlines(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r') *s = ' ';
}

int xb_errorf(xb_error *err, int code, const char *fmt, ...)
{
    if (!err) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    fold_newlines(err->msg);
    err->code = code;
    return code;
}

int xb_error_prefix(xb_error *err, const char *fmt, ...)
{
    if (!err) return XB_ERUNTIME;
    char prefix[XB_ERROR_MSG_MAX], old[XB_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t np = strlen(prefix);
    if (np >= sizeof err->msg) np = sizeof err->msg - 1;
    memcpy(err->msg, prefix, np);
    size_t rest = sizeof err->msg - 1 - np, no = strnlen(old, sizeof old);
    if (no > rest) no = rest;
    memcpy(err->msg + np, old, no);
    err->msg[np + no] = '\0';
    fold_newlines(err->msg);
    return err->code;
}

const char *xb_version(void) { return XB_VERSION_STRING; }

double xb_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
