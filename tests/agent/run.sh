#!/bin/sh
# run.sh DIR - runs the agent tests built in DIR (make test-agent): the
# functional tests (plain and ASan+UBSan), the leak test, the stress test
# in its plain, ASan+UBSan and TSan builds. The call benchmark is no test:
# `make bench` runs it. Prints one closing line "agent: N passed, N failed".
# Sanitizer builds run fewer swaps so the whole run stays near a minute on
# two cores; the plain builds run the full 1,000.
d=${1:-build/tests/agent}
pass=0 fail=0
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:exitcode=66"
run() {
	name=$1; shift
	start=$(date +%s)
	if "$@"; then
		pass=$((pass + 1)); echo "ok: $name ($(( $(date +%s) - start )) s)"
	else
		fail=$((fail + 1)); echo "FAILED: $name"
	fi
}
run test_runtime "$d/test_runtime"
run test_runtime-asan "$d/test_runtime-asan"
run swap_leak "$d/swap_leak" 1000
run state_move "$d/state_move"
run state_move-asan "$d/state_move-asan"
run stress "$d/stress" 1000
run stress-asan "$d/stress-asan" 400
run stress-tsan "$d/stress-tsan" 250
run stress-qsbr "$d/stress-qsbr" 1000
run stress-qsbr-tsan "$d/stress-qsbr-tsan" 250
run host-guide-example sh tests/agent/example.sh "$d"
run declarations sh tests/agent/decl.sh "$d"
# node_stress: the node logs every apply on stderr; keep it in a log and
# show its tail when the test fails (sanitizer reports land there too).
quiet() {
	log=$1; shift
	"$@" 2> "$log" && return 0
	rc=$?; tail -40 "$log" >&2; return $rc
}
run node_stress quiet "$d/node_stress.log" "$d/node_stress" 1000
run node_stress-asan quiet "$d/node_stress-asan.log" "$d/node_stress-asan" 200
run node_stress-tsan quiet "$d/node_stress-tsan.log" "$d/node_stress-tsan" 100
echo "agent: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
