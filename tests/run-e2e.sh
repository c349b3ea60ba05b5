#!/bin/sh
# run-e2e.sh - runs every tests/e2e/test_*.sh; fails when any fails.
# E2E_SKIP="install chatd" leaves those out (tests/run-sanitize.sh: a
# test that builds and installs its own binaries cannot take sanitized
# ones). Closing line: "e2e: N passed, N failed" (files).
cd "$(dirname "$0")/.." || exit 2
pass=0 fail=0
for t in tests/e2e/test_*.sh; do
	name=$(basename "$t" .sh)
	case " ${E2E_SKIP:-} " in
	*" ${name#test_} "*) echo "e2e: $name skipped"; continue ;;
	esac
	if sh "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
