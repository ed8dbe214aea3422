#!/bin/bash
# The man page and the bash completion agree with the binary (ctest test_cli_docs):
#   - every command of `xbar --help` has its section in docs/xbar.1 and is completed;
#   - every flag that `xbar <command> --help` mentions is documented in that command's
#     section of the man page (or its ARRAY OPTIONS section) and is offered by the completion
#     after `xbar <command> -`; every flag the completion offers is in the help text;
#   - the completion offers the devices, cells, engines and read schemes the binary accepts
#     (each value is run through the binary: a value it rejects fails the test);
#   - the man page renders without groff warnings.
# Flags on lines that quote another xbar command or mpirun belong to those, not this one.
# Usage: test_cli_docs.sh XBAR MANPAGE COMPLETION WORK_DIR
set -u
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
X=$(abs "$1") MAN=$(abs "$2") COMP=$(abs "$3") W=$4
status=0
fail() { echo "test_cli_docs: FAIL: $*"; status=1; }
rm -rf "$W"
mkdir -p "$W"
cd "$W" || exit 1

commands=$("$X" --help | awk '/^commands:/ {f = 1; next} f && /^  [a-z]/ {print $1}')
[ "$(echo "$commands" | wc -w)" -ge 11 ] || fail "xbar --help lists too few commands: $commands"
# man page text with roff escapes removed
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(->/->/g' "$MAN" > man.txt
# shellcheck disable=SC1090
. "$COMP"
complete_words() { # words... -> the completion's candidates for the last word
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMPREPLY=()
    _xbar
    printf '%s\n' "${COMPREPLY[@]}"
}
has_word() { grep -qE "(^|[^A-Za-z0-9-])$2([^A-Za-z0-9-]|\$)" "$1"; }

# Mentioned in a help text without being flags of that command:
declare -A not_flags=([run]="--rows|--cols") # "--rows/--cols are set by --tile-rows/--tile-cols"
top=$(complete_words xbar "")
for c in $commands; do
    echo "$top" | grep -qx -- "$c" || fail "completion: command $c not offered"
    awk -v c="$c" '/^\.S[SH] / {on = ($0 ~ "^\\.SS \"xbar " c "( |\")")} on' man.txt > "sec-$c.txt"
    [ -s "sec-$c.txt" ] || { fail "man page: no section .SS \"xbar $c ...\""; continue; }
    "$X" "$c" --help > "help-$c.txt" 2>&1 || fail "xbar $c --help exits non-zero"
    others=$(echo "$commands" | grep -vx -- "$c" | paste -sd'|')
    # quoted invocations of other programs and commands are cut up to their closing quote
    # or parenthesis (their flags are not this command's)
    flags=$(sed -E -e "s/(ngspice|mpirun) -[a-z]+//g" -e "s/xbar ($others)([^a-z][^)']*)?//g" "help-$c.txt" |
            grep -oE '(^|[^A-Za-z0-9-])--?[a-z][a-z0-9-]*' | sed 's/^[^-]*//' |
            grep -vxE -- "-h|--help${not_flags[$c]:+|${not_flags[$c]}}" | sort -u)
    [ -n "$flags" ] || fail "xbar $c --help: no flags found"
    sec=sec-$c.txt
    if grep -q "array options" "help-$c.txt"; then
        awk '/^\.SH / {on = ($0 ~ /^\.SH ARRAY OPTIONS/)} on' man.txt >> "$sec"
    fi
    offered=$(complete_words xbar "$c" -)
    for f in $flags; do
        has_word "$sec" "$f" || fail "man page: xbar $c $f is not documented"
        echo "$offered" | grep -qx -- "$f" || fail "completion: xbar $c $f is not offered"
    done
    for f in $offered; do
        [ "$f" = --help ] && continue
        echo "$flags" | grep -qx -- "$f" || fail "completion: xbar $c $f is offered but not in xbar $c --help"
    done
    echo "test_cli_docs: xbar $c: $(echo "$flags" | wc -l) flags checked"
done

# values: the completion offers exactly the values the binary accepts: a bogus value is
# rejected naming the flag (exit 2), none of the offered ones is
printf '1e-5,2e-5\n3e-5,4e-5\n' > g.csv
printf '0.1,0.2\n' > v.csv
check_values() { # command flag expected-values probe-args...
    local c=$1 f=$2 want=$3 got v rc
    shift 3
    got=$(complete_words xbar "$c" "$f" "" | sort | paste -sd' ')
    [ "$got" = "$(printf '%s\n' $want | sort | paste -sd' ')" ] ||
        fail "completion: xbar $c $f offers '$got', expected '$want'"
    "$X" "$c" "$@" "$f" bogus > /dev/null 2> err.txt
    rc=$?
    [ $rc -eq 2 ] && grep -qF -- "$f:" err.txt ||
        fail "probe: xbar $c $f bogus: exit $rc, expected 2 naming $f: $(cat err.txt)"
    for v in $got; do
        "$X" "$c" "$@" "$f" "$v" > /dev/null 2> err.txt
        rc=$?
        [ $rc -eq 2 ] && grep -qF -- "$f:" err.txt && fail "xbar $c $f $v rejected: $(cat err.txt)"
    done
    echo "test_cli_docs: xbar $c $f: $got"
}
check_values mvm --device "linear rram pcm ecram" --g g.csv --v v.csv --engine ideal
check_values mvm --cell "1r 1t1r 1s1r" --g g.csv --v v.csv --engine ideal
check_values mvm --engine "spice ideal native model" --g g.csv --v v.csv --model /nonexistent.h5
check_values sneak --scheme "float v2 v3" --rows 2 --cols 2 --cell-at 0,0
check_values iv --mode "read dynamic" --device rram --no-png -o iv.csv --points 3 --states 1 --pulses 2
check_values program --device "rram pcm ecram" --g /nonexistent.csv -o p.h5
check_values program --scheme "v2 v3" --device rram --g /nonexistent.csv -o p.h5
check_values program --selector "sinh ts" --device rram --cell 1s1r --g /nonexistent.csv -o p.h5
check_values run --engine "ideal tiled-ideal native spice model" --network /nonexistent.h5
check_values train --device "rram pcm ecram" --out /nonexistent/x.h5 --hw-model /nonexistent.h5
check_values train --arch "mlp cnn" --out /nonexistent/x.h5 --dataset /nonexistent
# export's first positional word: the completion offers the targets the binary takes
got=$(complete_words xbar export "" | sort | paste -sd' ')
[ "$got" = "aihwkit crosssim" ] || fail "completion: xbar export offers '$got', expected 'aihwkit crosssim'"
"$X" export bogus /nonexistent.h5 --device rram -o x.py > /dev/null 2> err.txt
[ $? -eq 2 ] && grep -q "unknown target 'bogus'" err.txt || fail "probe: xbar export bogus: $(cat err.txt)"
for v in $got; do
    "$X" export "$v" /nonexistent.h5 --device rram -o x.py > /dev/null 2> err.txt
    grep -q "unknown target" err.txt && fail "xbar export $v rejected: $(cat err.txt)"
done
echo "test_cli_docs: xbar export targets: $got"
# man page: no groff warnings
warn=$(groff -man -ww -z -Tutf8 "$MAN" 2>&1)
[ -z "$warn" ] || fail "groff warnings on $MAN: $warn"
cd / && rm -rf "$W"
[ $status -eq 0 ] && echo "test_cli_docs: all consistent"
exit $status
