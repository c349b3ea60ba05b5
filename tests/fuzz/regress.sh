#!/bin/sh
# regress.sh FZ TARGET... - every seed (tests/fuzz/corpus/TARGET/) and
# every kept crasher (tests/fuzz/regress/TARGET/) through FZ/regress-TARGET
# once (make fuzz-regress). Prints one line per target and a closing
# "fuzz-regress: N passed, N failed".
set -u
fz=$1
shift
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
pass=0 fail=0
for t in "$@"; do
	log=$fz/regress-$t.log
	if "$fz/regress-$t" "tests/fuzz/corpus/$t" "tests/fuzz/regress/$t" \
		> "$log" 2>&1; then
		pass=$((pass + 1))
		echo "ok: $(tail -1 "$log")"
	else
		fail=$((fail + 1))
		echo "FAILED: fuzz-regress $t"
		tail -40 "$log" | sed 's/^/    /'
	fi
done
echo "fuzz-regress: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
