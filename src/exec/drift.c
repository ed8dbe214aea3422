/* Time arguments of the drift options (docs/drift.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xbar/exec.h"

int xb_exec_parse_time(const char *s, const char *what, double *t_s, xb_error *err)
{
    if (!s || !*s) return xb_errorf(err, XB_EINPUT, "%s: empty time", what);
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s) return xb_errorf(err, XB_EINPUT, "%s: '%s' is not a time (a number with an optional suffix s, m, h, d, mo, y)", what, s);
    double mult;
    if (!*end || !strcmp(end, "s")) mult = 1.0;
    else if (!strcmp(end, "m")) mult = 60.0;
    else if (!strcmp(end, "h")) mult = 3600.0;
    else if (!strcmp(end, "d")) mult = 86400.0;
    else if (!strcmp(end, "mo")) mult = 86400.0 * 365.25 / 12.0; /* a mean month */
    else if (!strcmp(end, "y")) mult = 86400.0 * 365.25;         /* a Julian year */
    else return xb_errorf(err, XB_EINPUT, "%s: '%s' is not a time (a number with an optional suffix s, m, h, d, mo, y)", what, s);
    v *= mult;
    if (!isfinite(v) || !(v > 0)) return xb_errorf(err, XB_EINPUT, "%s: must be > 0 s (got '%s')", what, s);
    *t_s = v;
    return XB_OK;
}
