#!/bin/sh
# xbar as an installed tool and library (ctest test_install; docs/architecture.md):
#   1. cmake --install into a temporary prefix; every file where it belongs, libxbar.so with
#      its SONAME, no source-tree path in the library;
#   2. a C program built the way a user builds one (pkg-config --cflags --libs xbar,
#      -std=c11 -pedantic), linked against libxbar.so and against libxbar.a: a 2x2 MVM
#      through the public API (native and ngspice) against the circuit solved by hand
#      (tests/install/user_mvm.c), and where each finds the SPICE models;
#   3. the installed xbar, run from outside the source tree with XBAR_MODELS_DIR unset:
#      xbar netlist of an RRAM array through stock ngspice vs xbar mvm --engine spice and
#      --engine native, and a two-point campaign (engine spice, native);
#   4. the prefix moved elsewhere still finds its models; without them the commands stop
#      naming the places looked at;
#   5. the Python package (docs/interop.md) under the prefix's dist-packages, imported from
#      there by Debian's python3 outside the source tree: a network written by it runs in the
#      installed xbar, and the model file of the campaign above reads back.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR WORK_DIR CC LIBDIR NGSPICE [EXTRA_CFLAGS]
set -eu
BUILD=$1 SRC=$2 W=$3 CC=$4 LIBDIR=$5 NGSPICE=$6 EXTRA=${7:-}
CMAKE=${CMAKE_COMMAND:-cmake}
unset XBAR_MODELS_DIR
fail() { echo "test_install: FAIL: $*"; exit 1; }
ok() { echo "test_install: ok: $*"; }

rm -rf "$W"
mkdir -p "$W/run"
W=$(cd "$W" && pwd -P)
P=$W/prefix

# ---- 1. install ----
"$CMAKE" --install "$BUILD" --prefix "$P" > "$W/install.log" || { cat "$W/install.log"; fail "cmake --install"; }
for f in bin/xbar "$LIBDIR/libxbar.a" "$LIBDIR/libxbar.so" "$LIBDIR/pkgconfig/xbar.pc" \
         share/xbar/models/rram.lib share/xbar/models/pcm.lib share/xbar/models/ecram.lib \
         share/xbar/models/selector.lib share/man/man1/xbar.1 share/bash-completion/completions/xbar; do
    [ -e "$P/$f" ] || fail "$P/$f not installed"
done
for h in "$SRC"/include/xbar/*.h; do
    cmp -s "$h" "$P/include/xbar/$(basename "$h")" || fail "header $(basename "$h") not installed"
done
soname=$(objdump -p "$P/$LIBDIR/libxbar.so" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = libxbar.so.0 ] || fail "libxbar.so SONAME is '$soname', expected libxbar.so.0"
[ -e "$P/$LIBDIR/$soname" ] || fail "$P/$LIBDIR/$soname missing"
# exported symbols: the public API only
other=$(nm -D --defined-only "$P/$LIBDIR/libxbar.so" | awk '$3 !~ /^xb_/ {print $3}' | head -3)
[ -z "$other" ] || fail "libxbar.so exports non-API symbols: $other"
# no source-tree path among the library's strings (the models are found relative to it)
for lib in "$LIBDIR/libxbar.so" bin/xbar; do
    if readelf -p .rodata "$P/$lib" | grep -F "$SRC/models" > /dev/null; then
        fail "$lib has the source models path $SRC/models compiled in"
    fi
done
# (source file names are allowed: sanitizer builds keep them for their reports)
if readelf -p .rodata "$P/$LIBDIR/libxbar.so" | grep -F "$SRC" | grep -vE '\.[ch]$' > /dev/null; then
    fail "libxbar.so has the source path $SRC compiled in"
fi
MODELS=$(cd "$P/share/xbar/models" && pwd -P)
ok "installed into $P (SONAME $soname)"

# ---- 2. a program built against the installed library ----
PKG_CONFIG_PATH=$P/$LIBDIR/pkgconfig
export PKG_CONFIG_PATH
pkg-config --validate xbar || fail "pkg-config --validate xbar"
[ "$(pkg-config --modversion xbar)" = "$("$P/bin/xbar" --version | awk 'NR == 1 {print $2}')" ] ||
    fail "xbar.pc version differs from xbar --version"
[ "$(pkg-config --variable=modelsdir xbar)" = "$P/share/xbar/models" ] || fail "xbar.pc modelsdir"
cflags=$(pkg-config --cflags xbar)
libs=$(pkg-config --libs xbar)
echo "pkg-config --cflags --libs xbar: $cflags $libs"
CFLAGS_USER="-std=c11 -Wall -Wextra -pedantic -Werror $EXTRA"
# shared: run with LD_LIBRARY_PATH, from a directory outside the source tree
$CC $CFLAGS_USER "$SRC/tests/install/user_mvm.c" -o "$W/user_shared" $cflags $libs ||
    fail "building against libxbar.so"
objdump -p "$W/user_shared" | grep -q "NEEDED *libxbar.so.0" || fail "user_shared does not load libxbar.so.0"
(cd "$W/run" && LD_LIBRARY_PATH=$P/$LIBDIR "$W/user_shared" "$MODELS") || fail "user program (shared libxbar)"
ok "user program on libxbar.so: MVM vs hand-solved circuit, models from lib/../share/xbar/models"
# static libxbar (its dependencies stay shared): the program's own file locates the models,
# so it is put in bin/ next to xbar
static_libs=$(pkg-config --libs --static xbar | sed 's/\(^\| \)-lxbar\( \|$\)/ /')
$CC $CFLAGS_USER "$SRC/tests/install/user_mvm.c" -o "$P/bin/user_static" $cflags \
    "$P/$LIBDIR/libxbar.a" $static_libs || fail "building against libxbar.a"
if objdump -p "$P/bin/user_static" | grep -q "NEEDED *libxbar"; then fail "user_static loads libxbar.so"; fi
(cd "$W/run" && "$P/bin/user_static" "$MODELS") || fail "user program (static libxbar)"
ok "user program on libxbar.a: same checks, models from bin/../share/xbar/models"
# the README's example, as printed there: the same currents as the installed xbar mvm
awk '/^```c$/ {on = 1; next} /^```$/ {on = 0} on' "$SRC/README.md" > "$W/readme.c"
[ -s "$W/readme.c" ] || fail "no \`\`\`c example in README.md"
$CC $CFLAGS_USER "$W/readme.c" -o "$W/readme" $cflags $libs || fail "building the README example"
(cd "$W/run" && LD_LIBRARY_PATH=$P/$LIBDIR "$W/readme") > "$W/readme.out" || fail "running the README example"
printf '2e-5,2e-5\n2e-5,2e-5\n' > "$W/run/g2.csv"
printf '0.2,0.1\n' > "$W/run/v2.csv"
(cd "$W/run" && "$P/bin/xbar" mvm --device rram --g g2.csv --v v2.csv --engine native) > "$W/readme.ref" ||
    fail "xbar mvm for the README example"
awk -F'[ ,=]+' 'NR == FNR {a = $2; b = $3; next}
    {d1 = a - $1; d2 = b - $2; if (!(a > 0 && b > 0) || d1 * d1 + d2 * d2 > 1e-10 * ($1 * $1 + $2 * $2)) exit 1}' \
    "$W/readme.out" "$W/readme.ref" || { cat "$W/readme.out" "$W/readme.ref"; fail "README example prints other currents"; }
ok "README example: $(cat "$W/readme.out")"

# ---- 3. the installed xbar from outside the source tree ----
cd "$W/run"
X=$P/bin/xbar
printf '%s\n' 2e-5,3.5e-5,1e-5,4e-5 3e-5,1.5e-5,2.5e-5,5e-6 1e-5,4e-5,3e-5,2e-5 4e-5,2e-5,1.5e-5,3e-5 > g.csv
printf '%s\n' 0.2,0.1,0.15,0.05 0.05,0.2,0,0.1 > v.csv
"$X" netlist --device rram --r-wire 2 --g g.csv --v v.csv -o deck.cir || fail "xbar netlist"
grep -q "^\.subckt rram_read" deck.cir && ! grep -q "^\.include" deck.cir || fail "deck.cir does not carry the installed rram_read model (self-contained)"
# stock ngspice prints one line per input vector: index, sweep value, the column currents
"$NGSPICE" -b deck.cir 2> /dev/null |
    awk -F'\t' '/^[0-9]+\t/ {s = ""; for (k = 3; k <= NF; k++) if ($k != "") s = s (s == "" ? "" : ",") $k; print s}' \
    > ngspice.csv
[ "$(wc -l < ngspice.csv)" -eq 2 ] || fail "stock ngspice on deck.cir: expected 2 lines of currents"
"$X" mvm --device rram --r-wire 2 --g g.csv --v v.csv --engine spice -o spice.csv || fail "xbar mvm --engine spice"
"$X" mvm --device rram --r-wire 2 --g g.csv --v v.csv --engine native -o native.csv || fail "xbar mvm --engine native"
# compare(A, B, TOL): every current of A within TOL (relative to the largest) of B's
compare() {
    awk -F, -v tol="$3" 'NR == FNR {for (k = 1; k <= NF; k++) a[FNR, k] = $k; n = NF; next}
        {for (k = 1; k <= NF; k++) {d = a[FNR, k] - $k; if (d < 0) d = -d; m = $k < 0 ? -$k : $k;
                                    if (m > big) big = m; if (d > worst) worst = d}
         rows++}
        END {if (rows != 2 || n != 4 || worst > tol * big) {printf "worst %g of %g\n", worst, big; exit 1}}' "$1" "$2"
}
compare spice.csv ngspice.csv 1e-6 || fail "xbar mvm --engine spice differs from stock ngspice on xbar netlist"
compare native.csv ngspice.csv 1e-6 || fail "xbar mvm --engine native differs from stock ngspice"
ok "installed xbar: netlist through stock ngspice = mvm spice = mvm native (RRAM 4x4)"

cat > tiny.ini << 'EOF'
; written by tests/test_install.sh: two points, 4x4 RRAM, ngspice and the native engine
[campaign]
name = install-tiny
seed = 3
engine = spice, native

[array]
size = 4
device = rram
r_wire_ohm = 1

[inputs]
samples = 1
vectors = 4

[read]
schemes = none
EOF
"$X" characterize tiny.ini -o res.h5 -j 1 -q || fail "xbar characterize tiny.ini (exit $?)"
"$X" inspect res.h5 > inspect.txt || fail "xbar inspect res.h5"
# one line per point: name, status, device, cell, size, r_wire, mvm error, key (engine=...)
nok=$(awk '$1 ~ /^p0000[01]$/ && $2 == "ok" && $3 == "rram" && $5 == "4x4" && $7 > 0' inspect.txt | wc -l)
[ "$nok" -eq 2 ] && grep -q "engine=spice" inspect.txt && grep -q "engine=native" inspect.txt ||
    { cat inspect.txt; fail "res.h5: expected 2 points ok, engines spice and native"; }
grep -aqF ".subckt rram_read" res.h5 || fail "the campaign's netlist does not carry the installed rram_read model"
ok "installed xbar: two-point campaign (spice, native) with the installed models"

# ---- 5. the Python package (before the prefix is moved below) ----
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
pkg=$(ls -d "$P"/lib/python3*/dist-packages/xbar 2> /dev/null | head -1)
[ -n "$pkg" ] && [ -f "$pkg/__init__.py" ] && [ -f "$pkg/torch.py" ] || fail "python/xbar not installed under $P/lib/python3*/dist-packages"
"$X" fit res.h5 -o model.h5 --quiet > /dev/null 2>&1 || fail "xbar fit res.h5"
PYTHONPATH=$(dirname "$pkg") "$PY" - "$P" > py.out 2>&1 << 'PYEOF' || { cat py.out; fail "the installed Python package"; }
import sys
import numpy as np
import xbar, xbar.model, xbar.network as xn
assert xbar.__file__.startswith(sys.argv[1]), f"imported {xbar.__file__}, not the installed package"
w = np.arange(12, dtype=np.float32).reshape(3, 4) / 12
xn.write("pynet.h5", (4,), [xn.dense(w, np.zeros(3, np.float32)), xn.relu()])
m = xbar.model.select(xbar.model.load("model.h5"), device="rram", rows=4, cols=4)
print(f"installed xbar package {xbar.__file__}: network written, model {m.rows}x{m.cols} read")
PYEOF
"$X" inspect pynet.h5 > pynet.txt && grep -q "dense" pynet.txt || { cat pynet.txt; fail "installed xbar cannot read the package's network file"; }
ok "$(cat py.out)"

# ---- 4. a moved prefix, and a prefix without its models ----
cp -a "$P" "$W/moved"
rm -rf "$P"
M=$(cd "$W/moved/share/xbar/models" && pwd -P)
"$W/moved/bin/xbar" netlist --device rram --g g.csv --v v.csv --include-models -o moved.cir || fail "moved prefix: xbar netlist"
grep -qxF ".include $M/rram.lib" moved.cir || fail "moved prefix: deck does not include $M/rram.lib"
# the demo's shipped inputs beside the models: resolved in the moved prefix (only the
# campaign given on the command line is missing), a one-line error naming the path without them
for f in characterize/demo.ini characterize/write.ini data/fmnist_mlp.h5; do
    [ -r "$W/moved/share/xbar/$f" ] || fail "install: share/xbar/$f missing"
done
if "$W/moved/bin/xbar" demo -o d --campaign /nonexistent.ini 2> err.txt; then rc=0; else rc=$?; fi
[ "$rc" -eq 2 ] && grep -qF -- "--campaign: cannot read /nonexistent.ini" err.txt ||
    { cat err.txt; fail "moved prefix: demo does not find its shipped write.ini and network"; }
mv "$W/moved/share/xbar/data" "$W/moved/share/xbar/data.off"
if "$W/moved/bin/xbar" demo -o d 2> err.txt; then rc=0; else rc=$?; fi
[ "$rc" -eq 1 ] && [ "$(wc -l < err.txt)" -eq 1 ] && grep -qF "$(dirname "$M")/data/fmnist_mlp.h5" err.txt ||
    { cat err.txt; fail "demo without its shipped network: expected one line naming the path"; }
mv "$W/moved/share/xbar/data.off" "$W/moved/share/xbar/data"
[ ! -e d ] || fail "demo wrote output before its inputs were checked"
ok "moved prefix: xbar demo finds its campaigns and network in share/xbar (one-line error when missing)"
rm -rf "$W/moved/share/xbar/models"
if "$W/moved/bin/xbar" netlist --device rram --g g.csv --v v.csv -o none.cir 2> err.txt; then rc=0; else rc=$?; fi
[ "$rc" -eq 1 ] || fail "no models: exit $rc, expected 1"
grep -qF "$W/moved/bin/../share/xbar/models" err.txt || { cat err.txt; fail "no models: error does not name the place looked at"; }
grep -q "XBAR_MODELS_DIR" err.txt || fail "no models: error does not mention XBAR_MODELS_DIR"
"$W/moved/bin/xbar" mvm --help > /dev/null || fail "no models: --help must still work"
XBAR_MODELS_DIR=$SRC/models "$W/moved/bin/xbar" netlist --device rram --g g.csv --v v.csv --include-models -o env.cir ||
    fail "no models: XBAR_MODELS_DIR"
grep -qxF ".include $SRC/models/rram.lib" env.cir || fail "XBAR_MODELS_DIR not used"
echo "no models: $(cat err.txt)"
ok "moved prefix finds its models; a missing models dir is a one-line error (exit 1)"
rm -rf "$W"
