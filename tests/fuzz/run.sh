#!/bin/sh
# run.sh TARGET FZ SECONDS MAX_LEN [FLAG...] - one bounded libFuzzer run of
# FZ/fuzz-TARGET, with libFuzzer FLAGs added (make fuzz, make fuzz-TARGET;
# docs/fuzzing.md).
#
# The fuzzer reads the seeds in tests/fuzz/corpus/TARGET/ but writes what
# it finds to FZ/work/TARGET/, which persists between runs, so the
# repository's corpus only changes by hand. Crashing inputs land in
# FZ/crashes/TARGET/. Prints one line of figures (executions, exec/s,
# coverage, CPU time, crashes), appends it to FZ/history.tsv, adds it to
# the running totals in tests/fuzz/totals.tsv (FUZZ_TOTALS; kept in git,
# the figures docs/fuzzing.md states; make fuzz-totals prints them), and
# exits 1 on a crash, with the end of the log and the input's path.
set -u
t=$1 fz=$2 secs=$3 maxlen=$4
shift 4
bin=$fz/fuzz-$t
work=$fz/work/$t
art=$fz/crashes/$t
log=$fz/fuzz-$t.log
corpus=tests/fuzz/corpus/$t
mkdir -p "$work" "$art"
[ -f "tests/fuzz/$t.dict" ] && set -- "$@" "-dict=tests/fuzz/$t.dict"

# libFuzzer also writes slow-unit-* there (an input over -report_slow_units
# seconds, which a loaded machine produces): kept to look at, not crashes
crashes_in() { ls "$art" | grep -vc '^slow-unit-'; }
before=$(crashes_in)
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
"$bin" -max_total_time="$secs" -max_len="$maxlen" -timeout=25 \
	-print_final_stats=1 -artifact_prefix="$art/" "$@" \
	"$work" "$corpus" > "$log" 2>&1
rc=$?
# user+system seconds of the fuzzer (all its threads), from the shell's
# children times ("1m2.50s 0m3.10s"); `times` in this shell, not in a
# $(...) subshell, which has no children of its own
times > "$fz/.times-$t"
cpu=$(sed -n 2p "$fz/.times-$t" | awk '{ split($1, u, /[ms]/);
	split($2, s, /[ms]/); printf "%.0f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }')
rm -f "$fz/.times-$t"

stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
runs=$(stat number_of_executed_units)
eps=$(stat average_exec_per_sec)
new=$(stat new_units_added)
cov0=$(sed -n 's/.*INITED cov: \([0-9]*\).*/\1/p' "$log" | head -1)
cov1=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' "$log" | tail -1)
corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' "$log" | tail -1)
crashes=$(($(crashes_in) - before))
line="fuzz $t: ${runs:-?} runs in ${secs} s, ${eps:-?} exec/s, cov ${cov0:-?} -> ${cov1:-?} (${new:-0} new inputs), cpu ${cpu} s, crashes ${crashes}"
echo "$line"
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$secs" \
	"${runs:-0}" "${eps:-0}" "$cpu" "$crashes" >> "$fz/history.tsv"
sh tests/fuzz/totals.sh add "$t" "$cpu" "${runs:-0}" "${corp:-0}" \
	"${cov1:-0}" "$crashes"
if [ $rc -ne 0 ]; then
	tail -60 "$log" | sed 's/^/    /'
	echo "fuzz $t: FAILED (exit $rc); log $log; inputs:"
	ls -t "$art" | head -5 | sed "s|^|    $art/|"
	exit 1
fi
