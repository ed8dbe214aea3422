#!/bin/sh
# Every public header compiles on its own (ctest test_headers): a translation unit that
# includes only that header (twice: the include guard), as ISO C11 with -Wall -Wextra
# -pedantic -Werror and no feature-test macro, so a header may use nothing beyond the
# standard library (no M_PI, no POSIX types) and the headers it includes itself.
# char_mpi.h is also compiled with XBAR_MPI=1 (its declarations of an MPI build).
# Usage: test_headers.sh CC INCLUDE_DIR WORK_DIR [EXTRA_CFLAGS: e.g. -I of <hdf5.h>]
set -eu
CC=$1 INC=$2 W=$3 EXTRA=${4:-}
rm -rf "$W"
mkdir -p "$W"
n=0
status=0
for h in "$INC"/xbar/*.h; do
    name=$(basename "$h")
    for defs in "" "-DXBAR_MPI=1"; do
        [ -n "$defs" ] && [ "$name" != char_mpi.h ] && continue
        tu=$W/${name%.h}.c
        printf '#include "xbar/%s"\n#include "xbar/%s"\n' "$name" "$name" > "$tu"
        if $CC -std=c11 -Wall -Wextra -pedantic -Werror $defs -I "$INC" $EXTRA -c "$tu" -o "$W/out.o" \
                2> "$W/err.txt"; then
            echo "test_headers: ok: xbar/$name $defs"
        else
            echo "test_headers: FAIL: xbar/$name $defs does not compile alone:"
            cat "$W/err.txt"
            status=1
        fi
        n=$((n + 1))
    done
done
[ "$n" -ge 8 ] || { echo "test_headers: FAIL: only $n headers found in $INC/xbar"; status=1; }
rm -rf "$W"
exit $status
