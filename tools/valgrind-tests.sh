#!/bin/sh
# Valgrind memcheck on the fast test subset (suites that do not run ngspice at length) and
# on a short CLI pipeline (characterize -> fit -> inspect -> mvm -> run, native engine).
# Fails on any invalid access, use of uninitialised memory, or definitely/indirectly lost
# block.  Suppressions: tools/valgrind.supp (libngspice/HDF5/OpenBLAS internals only).
# Usage: tools/valgrind-tests.sh [BUILD_DIR]   (a normal, non-sanitizer build; make valgrind)
set -eu
dir=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
command -v valgrind >/dev/null || { echo "valgrind not found: apt-get install valgrind"; exit 1; }
[ -x "$dir/xbar" ] || { echo "valgrind: $dir/xbar not built (make build)"; exit 1; }
dir=$(cd "$dir" && pwd)
# Forked children that do not exec (point processes, engine workers running libngspice)
# run under memcheck too and are checked for memory errors; leak reports count only for
# the main process (a child that _exits still holds its parent's heap, which memcheck
# may call lost).
VG="valgrind --leak-check=full --show-leak-kinds=definite,indirect --num-callers=30 \
    --suppressions=$top/tools/valgrind.supp"
ERRORS='^==[0-9]*== (Invalid (read|write|free)|Mismatched free|Conditional jump|Use of uninitialised|Syscall param|Source and destination overlap|Argument .* of function|Process terminating)'
LEAKS='^==[0-9]*== .* are (definitely|indirectly) lost in loss record'
export CMOCKA_MESSAGE_OUTPUT=stdout OPENBLAS_NUM_THREADS=1
TESTS=${XB_VALGRIND_TESTS:-"test_csv test_char_campaign test_h5 test_netlist test_network test_native test_regress_fuzz test_fault"}
status=0
log="$dir/valgrind"
mkdir -p "$log"
check() { # name expected-exit-code command...
    name=$1; want=$2; shift 2
    t0=$(date +%s)
    $VG --log-file="$log/$name.vg.%p" "$@" >"$log/$name.out" 2>&1 &
    main=$!
    if wait $main; then rc=0; else rc=$?; fi
    nerr=$(cat "$log/$name".vg.* | grep -Ec "$ERRORS" || true)
    nleak=$(grep -Ec "$LEAKS" "$log/$name.vg.$main" || true)
    t1=$(date +%s)
    if [ "$rc" -ne "$want" ] || [ "$nerr" -ne 0 ] || [ "$nleak" -ne 0 ]; then
        echo "valgrind: $name FAILED (exit $rc, expected $want; $nerr errors, $nleak leaks; $log/$name.*)"
        grep -h -A12 -E "$ERRORS|$LEAKS" "$log/$name".vg.* | head -60
        status=1
    else
        echo "valgrind: $name ok ($((t1 - t0)) s)"
    fi
}
rm -f "$log"/*.vg.* "$log"/*.out
(cd "$dir" && for t in $TESTS; do [ -x "./$t" ] || { echo "valgrind: $t not built"; exit 1; }; done)
for t in $TESTS; do
    cd "$dir"
    check "$t" 0 "./$t"
    cd - >/dev/null
done

# CLI pipeline on a two-point native campaign.
work="$log/cli"
rm -rf "$work"
mkdir -p "$work"
cat >"$work/c.ini" <<'INI'
[campaign]
name = valgrind
seed = 1
engine = native
workers = 1
[array]
size = 4x4
device = linear, rram
[inputs]
samples = 2
vectors = 4
[read]
schemes = none
INI
printf '1e-5,2e-5,3e-5\n4e-5,1e-6,2e-6\n' >"$work/g.csv"
printf '0.1,0.2\n0.2,-0.1\n' >"$work/v.csv"
X="$dir/xbar"
check cli_characterize 0 "$X" characterize "$work/c.ini" -o "$work/r.h5" -q
check cli_fit 0 "$X" fit "$work/r.h5" -o "$work/m.h5"
check cli_inspect 0 "$X" inspect "$work/m.h5"
check cli_mvm 0 "$X" mvm --engine native --g "$work/g.csv" --v "$work/v.csv"
check cli_bad_input 2 "$X" mvm --engine native --g "$work/v.csv" --v "$work/g.csv" --rows 0
check cli_run 0 "$X" run --network "$top/data/fmnist_mlp.h5" --engine tiled-ideal --limit 20 --calib 8
exit $status
