#!/bin/sh
# MPI campaign check (docs/cluster.md), registered by tests/CMakeLists.txt when -DXBAR_MPI=ON.
# usage: test_mpi.sh XBAR SOURCE_DIR WORK_DIR MPIRUN PYTHON3
# Reference: a serial run of the same campaign with the same seeds (tests/mpi_compare.py
# compares every dataset and attribute, provenance attributes excepted).
set -eu
XBAR=$1
SRC=$2
WORK=$3
MPIRUN=$4
PY=$5
INI=$SRC/characterize/quick.ini
CMP="$PY $SRC/tests/mpi_compare.py"
MPI="$MPIRUN --allow-run-as-root --oversubscribe -np 2"
fail() { echo "test_mpi: FAIL: $*" >&2; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

echo "== serial reference (MPI build, no mpirun: the serial runner)"
"$XBAR" characterize "$INI" -o serial.h5 -q -j 2 || fail "serial run"
$PY - serial.h5 <<'PYEOF' || fail "serial run in an MPI build is not the serial runner"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
assert len(f["points"]) == 8, len(f["points"])
assert not any("mpi_rank" in p.attrs for p in f["points"].values()), "mpi_rank in a serial file"
PYEOF

echo "== mpirun -np 2: same file point for point, both ranks computed points"
$MPI "$XBAR" characterize "$INI" -o mpi.h5 -j 1 2>mpi1.log || { cat mpi1.log; fail "mpirun run"; }
grep -q "mpi.h5: 8 points, 0 skipped (already done), 8 computed, 0 failed" mpi1.log || { cat mpi1.log; fail "summary line"; }
$CMP serial.h5 mpi.h5 || fail "MPI file differs from the serial file"
$PY - mpi.h5 <<'PYEOF' || fail "ranks"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
ranks = sorted(int(p.attrs["mpi_rank"]) for p in f["points"].values())
print("points per rank:", {r: ranks.count(r) for r in set(ranks)})
assert set(ranks) == {0, 1}, ranks
assert int(f.attrs["complete"]) == 1 and int(f.attrs["points_ok"]) == 8
PYEOF

echo "== negative control: the comparison sees one changed current"
cp mpi.h5 bad.h5
$PY - bad.h5 <<'PYEOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r+")
d = f["points/p00003/mvm/i_circuit"]
a = d[()]
a.flat[5] *= 1.0 + 1e-12
d[...] = a
PYEOF
if $CMP serial.h5 bad.h5 >bad.log; then fail "mpi_compare missed a changed value"; fi
grep -q "points/p00003/mvm/i_circuit: dataset values differ" bad.log || fail "mpi_compare message"

echo "== resume across MPI runs: two points removed, only they are recomputed"
$PY - mpi.h5 <<'PYEOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r+")
del f["points/p00002"]
del f["points/p00005"]
PYEOF
$MPI "$XBAR" characterize "$INI" -o mpi.h5 -j 1 2>mpi2.log || { cat mpi2.log; fail "resume run"; }
grep -q "mpi.h5: 8 points, 6 skipped (already done), 2 computed, 0 failed" mpi2.log || { cat mpi2.log; fail "resume summary"; }
$PY - mpi.h5 <<'PYEOF' || fail "run numbers after resume"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
assert int(f.attrs["runs"]) == 2
for name, p in f["points"].items():
    want = 2 if name in ("p00002", "p00005") else 1
    assert int(p.attrs["run"]) == want, (name, int(p.attrs["run"]))
PYEOF
$CMP serial.h5 mpi.h5 || fail "resumed MPI file differs from the serial file"

echo "== a serial file resumed by an MPI run"
cp serial.h5 mixed.h5
$PY - mixed.h5 <<'PYEOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r+")
del f["points/p00006"]
PYEOF
$MPI "$XBAR" characterize "$INI" -o mixed.h5 -j 1 2>mixed.log || { cat mixed.log; fail "MPI resume of a serial file"; }
grep -q "mixed.h5: 8 points, 7 skipped (already done), 1 computed, 0 failed" mixed.log || { cat mixed.log; fail "mixed summary"; }
$CMP serial.h5 mixed.h5 || fail "serial file resumed by MPI differs"

echo "== interrupted MPI run (--max-points 3), finished by a second MPI run"
$MPI "$XBAR" characterize "$INI" -o part.h5 -j 1 --max-points 3 2>part1.log || { cat part1.log; fail "partial run"; }
grep -q "part.h5: 8 points, 0 skipped (already done), 3 computed, 0 failed" part1.log || { cat part1.log; fail "partial summary"; }
$MPI "$XBAR" characterize "$INI" -o part.h5 -j 1 2>part2.log || { cat part2.log; fail "second partial run"; }
grep -q "part.h5: 8 points, 3 skipped (already done), 5 computed, 0 failed" part2.log || { cat part2.log; fail "second summary"; }
$CMP serial.h5 part.h5 || fail "resumed file differs from the serial file"

echo "== mpirun killed (SIGTERM) mid-run: finished points kept, the rerun computes only the rest"
cat >kill.ini <<'INI'
[campaign]
name = mpi-kill
seed = 3
engine = spice
[array]
size = 4x4, 20x20, 40x40
device = rram, linear
[inputs]
samples = 2
vectors = 4
[read]
schemes = float
[transient]
enabled = yes
[program]
enabled = yes
pulses = 10
cycles = 2
INI
mkdir -p tmp
TMPDIR=$WORK/tmp $MPI "$XBAR" characterize kill.ini -o kill.h5 -j 1 2>kill1.log &
pid=$!
n=0
until grep -q " 2/6 p0" kill1.log; do
    sleep 0.1
    n=$((n + 1))
    [ $n -lt 600 ] || { kill -KILL $pid; cat kill1.log; fail "no point finished in 60 s"; }
done
kill -TERM $pid
wait $pid || true
done_k=$($PY - kill.h5 <<'PYEOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
names = list(f["points"].keys())
assert not any(n.startswith(".incoming") for n in names), names
assert all(f["points"][n].attrs["status"] == b"ok" for n in names)
print(len(names))
PYEOF
) || fail "killed run's file"
echo "points kept after the kill: $done_k of 6"
# Rank 0 computes points too and reports arrivals between its own points, so more than two
# may be finished when the kill lands; the 40x40 points (seconds each) cannot all be.
[ "$done_k" -ge 2 ] && [ "$done_k" -le 5 ] || fail "expected 2..5 points kept, got $done_k"
$MPI "$XBAR" characterize kill.ini -o kill.h5 -j 1 2>kill2.log || { cat kill2.log; fail "rerun after kill"; }
grep -q "kill.h5: 6 points, $done_k skipped (already done), $((6 - done_k)) computed, 0 failed" kill2.log ||
    { cat kill2.log; fail "rerun summary"; }
"$XBAR" characterize kill.ini -o kill-serial.h5 -q -j 2 || fail "serial run of kill.ini"
$CMP kill-serial.h5 kill.h5 || fail "killed and resumed MPI file differs from the serial file"

echo "== a different campaign text is refused on every rank (exit 2, one line)"
sed 's/^seed = 1$/seed = 2/' "$INI" >other.ini
grep -q "^seed = 2$" other.ini || fail "could not derive other.ini"
set +e
$MPI "$XBAR" characterize other.ini -o mpi.h5 -j 1 2>other.log
rc=$?
set -e
[ "$rc" -eq 2 ] || { cat other.log; fail "exit $rc, expected 2"; }
[ "$(grep -c '^xbar characterize: ' other.log)" -eq 1 ] || { cat other.log; fail "expected one error line"; }
grep -q "different campaign text" other.log || { cat other.log; fail "message"; }
ls mpi.h5.parts 2>/dev/null && fail "scratch directory left behind"

echo "test_mpi: ok"
