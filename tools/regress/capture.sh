#!/bin/sh
# Capture the outputs of every shipped command into DIR, as text, for before/after comparisons
# of behaviour-preserving refactors:
#
#   tools/regress/capture.sh build/xbar /tmp/before     # on the old tree
#   tools/regress/capture.sh build/xbar /tmp/after      # on the new tree
#   diff -r /tmp/before /tmp/after                      # must print nothing
#
# HDF5 files are dumped dataset by dataset and attribute by attribute at full precision
# (dump_h5.py), leaving out provenance that changes from run to run (dates, hosts, wall
# times).  Timing fields are dropped from JSON and from printed tables.  ngspice runs the
# decks `xbar netlist` writes, so a deck may change its text but not its numbers.
set -eu
XBAR=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
rm -rf "$OUT"
mkdir -p "$OUT"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"

dump() { "$PY" "$HERE/dump_h5.py" "$1" > "$OUT/$2"; }
# commands whose stdout is compared; wall-clock lines and numbers filtered out
run() {
    name=$1; shift
    if "$XBAR" "$@" > "$W/out.txt" 2> "$W/err.txt"; then rc=0; else rc=$?; fi
    { echo "exit $rc"; sed -E 's/[0-9.]+ ?(s|ms|min)\b/<t>/g; s/(ETA|elapsed|took|in) [0-9.]+/\1 <t>/g' "$W/out.txt"; } > "$OUT/$name.txt"
}

"$PY" - <<'EOF'
import numpy as np
r = np.random.default_rng(11)
for n in (6, 10):
    np.savetxt(f"g{n}.csv", r.uniform(1e-6, 40e-6, (n, n)), delimiter=",", fmt="%.17g")
    np.savetxt(f"v{n}.csv", r.uniform(-0.2, 0.2, (5, n)), delimiter=",", fmt="%.17g")
np.savetxt("gp.csv", r.uniform(0.25e-6, 25e-6, (6, 6)), delimiter=",", fmt="%.17g")
np.savetxt("ge.csv", r.uniform(1e-6, 10e-6, (6, 6)), delimiter=",", fmt="%.17g")
EOF

# ---- mvm: every engine x device x cell ----
for dev in linear rram pcm ecram; do
    g=g6.csv; [ $dev = pcm ] && g=gp.csv; [ $dev = ecram ] && g=ge.csv
    cells="1r 1t1r 1s1r"; [ $dev = ecram ] && cells=1r
    for cell in $cells; do
        for eng in ideal native spice; do
            run "mvm-$dev-$cell-$eng" mvm --device $dev --cell $cell --r-wire 2.5 --g $g --v v6.csv --engine $eng
        done
    done
done
run mvm-rram-var-native mvm --device rram --r-wire 1 --g g10.csv --v v10.csv --engine native --var-program --stuck-on 0.05 --seed 3
run mvm-rram-diff-spice mvm --device rram --r-wire 1 --g g10.csv --v v10.csv --engine spice --diff

# ---- netlist decks through stock ngspice: the numbers, not the text ----
for spec in "rram 1r" "pcm 1t1r" "rram 1s1r" "ecram 1r"; do
    set -- $spec
    "$XBAR" netlist --device $1 --cell $2 --r-wire 2 --g g6.csv --v v6.csv -o deck.cir
    ngspice -b deck.cir 2>/dev/null | grep -E "^[0-9]+	" > "$OUT/netlist-$1-$2.ngspice.txt" || true
done

# ---- sneak, iv ----
for cell in 1r 1t1r 1s1r; do
    for sch in float v2 v3; do
        run "sneak-rram-$cell-$sch" sneak --rows 6 --cols 6 --device rram --cell $cell --cell-at 2,4 --scheme $sch
    done
done
for dev in linear rram pcm ecram; do
    "$XBAR" iv --device $dev --mode read --no-png -o iv.csv > /dev/null && cp iv.csv "$OUT/iv-read-$dev.csv"
done
for dev in rram pcm ecram; do
    "$XBAR" iv --device $dev --mode dynamic --pulses 10 --no-png -o ivd.csv > /dev/null && cp ivd.csv "$OUT/iv-dyn-$dev.csv"
done

# ---- campaign -> fit -> inspect/report ----
"$XBAR" characterize "$HERE/regress.ini" -o res.h5 > /dev/null 2>&1
dump res.h5 characterize-regress.h5.txt
"$XBAR" characterize "$SRC/characterize/quick.ini" -o quick.h5 > /dev/null 2>&1
dump quick.h5 characterize-quick.h5.txt
run fit fit res.h5 -o model.h5
dump model.h5 fit-model.h5.txt
run inspect-results inspect res.h5
run inspect-model inspect model.h5
sed -i '/_utc: /d' "$OUT/inspect-results.txt" "$OUT/inspect-model.txt"
run inspect-net inspect "$SRC/data/fmnist_mlp.h5"
"$XBAR" report res.h5 -o plots > /dev/null 2>&1
cp plots/summary.csv "$OUT/report-summary.csv"
ls plots > "$OUT/report-files.txt"
run mvm-model mvm --device rram --r-wire 1 --g g10.csv --v v10.csv --engine model --model model.h5

# ---- run: every engine, JSON without wall times ----
json() { "$PY" "$HERE/strip_json.py" "$1" > "$OUT/$2"; }
NET=$SRC/data/fmnist_mlp.h5
T="--tile-rows 16 --tile-cols 16"
"$XBAR" run --network $NET --engine ideal --limit 300 --json j.json > /dev/null && json j.json run-ideal.json
"$XBAR" run --network $NET --engine tiled-ideal --limit 300 $T --json j.json > /dev/null && json j.json run-tiled.json
"$XBAR" run --network $NET --engine native --device rram --r-wire 2 --limit 20 --calib 16 $T --json j.json > /dev/null && json j.json run-native.json
"$XBAR" run --network $NET --engine model --model model.h5 --device rram --r-wire 1 --limit 300 $T --json j.json > /dev/null && json j.json run-model-rram.json
"$XBAR" run --network $NET --engine model --model model.h5 --device pcm --r-wire 1 --limit 300 $T --var-program --read-noise --json j.json > /dev/null && json j.json run-model-pcm-noise.json
"$XBAR" run --network $NET --engine model --model model.h5 --device ecram --r-wire 2.5 --limit 100 $T --model-exact --json j.json > /dev/null && json j.json run-model-exact.json
"$XBAR" run --network $NET --engine model --model model.h5 --device pcm --r-wire 1 --limit 200 $T --time 1d --json j.json > /dev/null && json j.json run-model-pcm-1d.json
"$XBAR" run --network $NET --engine model --model model.h5 --device pcm --r-wire 1 --limit 100 $T --time-sweep=1h,1y --time-csv ts.csv > /dev/null && cp ts.csv "$OUT/run-time-sweep.csv"
"$XBAR" run --network "$SRC/data/fmnist_cnn.h5" --engine model --model model.h5 --device rram --r-wire 1 --limit 100 $T --json j.json > /dev/null && json j.json run-cnn-model.json

# ---- train: MLP, CNN, hardware-aware ----
"$XBAR" train --out mlp.h5 --hidden 32 --epochs 1 --limit 2000 --test-limit 500 --threads 1 > /dev/null && dump mlp.h5 train-mlp.h5.txt
"$XBAR" train --out cnn.h5 --arch cnn --channels 4,8 --epochs 1 --limit 500 --test-limit 200 --threads 1 > /dev/null && dump cnn.h5 train-cnn.h5.txt
"$XBAR" train --out hwa.h5 --hidden 32 --epochs 1 --limit 1000 --test-limit 200 --threads 1 --hw-model model.h5 --device pcm > /dev/null && dump hwa.h5 train-hwa.h5.txt
# spice on a tiny MLP (784-8-10: 26 tiles of 32x32)
"$XBAR" train --out tiny.h5 --hidden 8 --epochs 1 --limit 1000 --test-limit 100 --threads 1 > /dev/null
"$XBAR" run --network tiny.h5 --engine spice --device rram --r-wire 1 --limit 3 --calib 3 --tile-rows 32 --tile-cols 32 --json j.json > /dev/null 2>&1 && json j.json run-spice.json
"$XBAR" run --network tiny.h5 --engine native --device rram --r-wire 1 --limit 3 --calib 3 --tile-rows 32 --tile-cols 32 --json j.json > /dev/null 2>&1 && json j.json run-native-tiny.json
echo "captured into $OUT: $(ls "$OUT" | wc -l) files"
