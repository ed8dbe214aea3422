#!/bin/sh
# bench_train_analog: in-memory training (docs/training.md) on Fashion-MNIST against the
# digital baseline of the same run: the same MLP (--hidden), epochs, images and seed.
#
#   1. digital: xbar train (Adam), its test accuracy and time per epoch; and digital plain SGD
#      (--optimizer sgd --lr 0.2 --lr-schedule cosine --batch 32), the same algorithm and
#      settings as the fine-recipe ECRAM SGD;
#   2. xbar train --analog for ECRAM SGD, RRAM SGD, RRAM Tiki-Taka, RRAM mixed precision
#      (and ECRAM mp / Tiki-Taka, PCM mp), reads on 64x64 tiles through the fitted model engine;
#   3. targets: ECRAM SGD within 2 points of digital (against Adam and against digital SGD);
#      RRAM SGD's loss reported; RRAM Tiki-Taka or mp within 3 points of Adam; an analog epoch
#      <= 10x a digital epoch (2 cores; the digital epoch is the median of six Adam runs, three
#      before the analog runs and three after, as the machine's speed drifts; the per-run lines
#      print the ratio against the first three).
#
# The model files: MODEL from `xbar characterize characterize/demo.ini` + `xbar fit` (the
# reads), UPDATE from `xbar characterize characterize/write.ini` + `xbar fit` (the pulse
# updates), as `xbar demo` makes them (xbar-demo/model.h5, xbar-demo/update.h5).
#
# FINE (optional): a second update file whose ECRAM recipe has finer steps
# (characterize/write-ecram-fine.ini: 1.1 V gate pulses): ECRAM SGD (--batch 32, lr 0.2) and
# Tiki-Taka run with it too, both with the recipe's --pair-update both, and count in the
# accuracy and epoch targets.
#
# usage: bench/bench_train_analog.sh XBAR MODEL.h5 UPDATE.h5 [LIMIT [EPOCHS [OUTDIR [FINE.h5]]]]
#        (LIMIT training images [60000], test images: all 10000; EPOCHS [5])
set -eu
X=${1:?usage: bench_train_analog.sh XBAR MODEL.h5 UPDATE.h5 [LIMIT [EPOCHS [OUTDIR]]]}
MODEL=${2:?model file}
UPDATE=${3:?update model file}
LIMIT=${4:-60000}
EPOCHS=${5:-5}
OUT=${6:-bench-train-analog}
FINE=${7:-}
SEED=1
HIDDEN=256,128
mkdir -p "$OUT"
common="--limit $LIMIT --epochs $EPOCHS --seed $SEED --hidden $HIDDEN --threads 2"

echo "# in-memory training bench: $LIMIT training images, 10000 test images, $EPOCHS epochs, seed $SEED, MLP 784-$HIDDEN-10"
echo "# load before: $(uptime)"
# the digital run is short (seconds) and its time swings with the machine's other load (2.7 to
# 4.6 s for the same run within an hour): three runs (the same numbers) now and three after the
# analog runs, the median time of the six for the ratios
digital_runs() {
    for k in 1 2 3; do
        "$X" train $common --out "$OUT/digital.h5" --force > "$OUT/digital.log"
        sed -n 's/.* in \([0-9.]*\) s: test accuracy.*/\1/p' "$OUT/digital.log" | tail -1
    done
}
digital_runs > "$OUT/digital.times"
dig_acc=$(sed -n 's/.*test accuracy \([0-9.]*\)%.*/\1/p' "$OUT/digital.log" | tail -1)
dig_time=$(sort -g "$OUT/digital.times" | sed -n 2p)
dig_ep=$(echo "$dig_time $EPOCHS" | awk '{printf "%.3f", $1 / $2}')
echo "digital (Adam)         test ${dig_acc}%  ${dig_ep} s/epoch (median of 3 runs: $(tr '\n' ' ' < "$OUT/digital.times")s)"
"$X" train $common --optimizer sgd --lr 0.2 --lr-schedule cosine --batch 32 --out "$OUT/digital-sgd.h5" > "$OUT/digital-sgd.log"
dsgd_acc=$(sed -n 's/.*test accuracy \([0-9.]*\)%.*/\1/p' "$OUT/digital-sgd.log" | tail -1)
echo "digital (SGD, batch 32, lr 0.2 cosine) test ${dsgd_acc}%"

run() { # name device algorithm [extra flags]
    name=$1 dev=$2 alg=$3
    shift 3
    upd=$UPDATE
    case $name in *-fine) upd=$FINE ;; esac
    "$X" train --analog --model "$MODEL" --update-model "$upd" --device "$dev" --algorithm "$alg" $common \
        --out "$OUT/$name.h5" --json "$OUT/$name.json" "$@" > "$OUT/$name.log" 2>&1 || {
        echo "$name: failed (see $OUT/$name.log)"
        return 0
    }
    /usr/bin/python3 - "$OUT/$name.json" "$dig_acc" "$dig_ep" "$name" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1])); dig = float(sys.argv[2]); dep = float(sys.argv[3]); name = sys.argv[4]
e = j["epochs"]; last = e[-1]
acc = 100 * last["test_accuracy"]
wall = sum(x["wall_s"] for x in e) / len(e)
print("%-22s test %.2f%%  (%+.2f vs digital)  loss %.4f  %.1f s/epoch (%.1fx digital)  pulses/weight/epoch %.1f  "
      "update %.3g J  MVM fwd %.3g J bwd %.3g J  refreshes %.0f  read error vs full model %.2g"
      % (name, acc, acc - dig, last["loss"], wall, wall / dep, last["pulses_per_weight"], last["update_energy_joule"],
         last["mvm_forward_energy_joule"], last["mvm_backward_energy_joule"], last["refreshes"], last["gain_error_exact"]))
open(sys.argv[1] + ".summary", "w").write("%.4f %.4f %.4f %.4f\n" % (acc, wall / dep, last["loss"], wall))
EOF
}

run ecram-sgd ecram sgd
run ecram-mp ecram mp
run rram-sgd rram sgd
run rram-mp rram mp
run pcm-mp pcm mp
run ecram-tt ecram tiki-taka
run rram-tt rram tiki-taka
fine=
if [ -n "$FINE" ]; then
    run ecram-sgd-fine ecram sgd --batch 32 --lr 0.2 --pair-update both
    run ecram-tt-fine ecram tiki-taka --pair-update both
    fine="ecram-sgd-fine ecram-tt-fine"
fi
echo "# load after: $(uptime)"
# the digital epoch again, and the ratios against the median of all six runs
digital_runs >> "$OUT/digital.times"
dig_all=$(sort -g "$OUT/digital.times" | awk '{t[NR] = $1} END {printf "%.4f", (t[int((NR + 1) / 2)] + t[int(NR / 2) + 1]) / 2}')
dig_ep2=$(echo "$dig_all $EPOCHS" | awk '{printf "%.3f", $1 / $2}')
echo "digital (Adam) epoch: ${dig_ep2} s (median of 6 runs, 3 before and 3 after: $(tr '\n' ' ' < "$OUT/digital.times")s)"

val() { [ -f "$OUT/$1.json.summary" ] && awk "{print \$$2}" "$OUT/$1.json.summary" || echo nan; }
verdict() { # description value op limit
    ok=$(echo "$2 $4" | awk "{print (\$1 $3 \$2) ? \"met\" : \"NOT met\"}")
    echo "target: $1: $2 ($3 $4) $ok"
}
echo
ecram=$(printf '%s\n%s\n' "$(val ecram-sgd 1)" "$(val ecram-sgd-fine 1)" | grep -v nan | sort -g | tail -1)
verdict "ECRAM SGD accuracy - digital Adam (points)" "$(echo "$ecram $dig_acc" | awk '{printf "%.2f", $1 - $2}')" ">=" -2
verdict "ECRAM SGD accuracy - digital SGD (points)" "$(echo "$ecram $dsgd_acc" | awk '{printf "%.2f", $1 - $2}')" ">=" -2
echo "RRAM SGD: test $(val rram-sgd 1)% (digital $dig_acc%), final training loss $(val rram-sgd 3)"
best=$(printf '%s\n%s\n' "$(val rram-tt 1)" "$(val rram-mp 1)" | sort -g | tail -1)
verdict "RRAM Tiki-Taka or mp accuracy - digital (points)" "$(echo "$best $dig_acc" | awk '{printf "%.2f", $1 - $2}')" ">=" -3
worst=0 wname=
for n in ecram-sgd ecram-mp ecram-tt rram-sgd rram-tt rram-mp pcm-mp $fine; do
    w=$(val $n 4)
    [ "$w" = nan ] && continue
    r=$(echo "$w $dig_ep2" | awk '{printf "%.2f", $1 / $2}')
    echo "$n: $w s per epoch, ${r}x the digital epoch (median of 6)"
    if [ "$(echo "$worst $r" | awk '{print ($2 > $1)}')" = 1 ]; then worst=$r wname=$n; fi
done
verdict "slowest analog epoch / digital epoch ($wname)" "$worst" "<=" 10
