/* Strict number parsing for CLI flags and file fields. */
#include "xbar/common.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int xb_parse_double(const char *s, const char *what, double *out, xb_error *err)
{
    if (!s || !*s) return xb_errorf(err, XB_EINPUT, "%s: expected a number, got an empty value", what);
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    while (end && (*end == ' ' || *end == '\t')) end++;
    if (end == s || *end != '\0')
        return xb_errorf(err, XB_EINPUT, "%s: expected a number, got '%s'", what, s);
    if (errno == ERANGE || !isfinite(v))
        return xb_errorf(err, XB_EINPUT, "%s: value '%s' is out of range", what, s);
    *out = v;
    return XB_OK;
}

int xb_parse_long(const char *s, const char *what, long *out, xb_error *err)
{
    if (!s || !*s) return xb_errorf(err, XB_EINPUT, "%s: expected an integer, got an empty value", what);
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0')
        return xb_errorf(err, XB_EINPUT, "%s: expected an integer, got '%s'", what, s);
    if (errno == ERANGE) return xb_errorf(err, XB_EINPUT, "%s: value '%s' is out of range", what, s);
    *out = v;
    return XB_OK;
}

int xb_parse_size(const char *s, const char *what, size_t *out, xb_error *err)
{
    long v;
    int rc = xb_parse_long(s, what, &v, err);
    if (rc) return rc;
    if (v < 0) return xb_errorf(err, XB_EINPUT, "%s: expected a non-negative integer, got '%s'", what, s);
    *out = (size_t)v;
    return XB_OK;
}
