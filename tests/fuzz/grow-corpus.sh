#!/bin/sh
# grow-corpus.sh [TEST...] - grows the plan and ledger seed corpora
# (tests/fuzz/corpus/plan/, ledger/) with what the end-to-end tests really
# make. Runs tests/e2e/test_TEST.sh for each TEST (default: planner
# history gc node recovery faults), one at a time, with LM_CAPTURE_DIR
# set, so that lib.sh's capture keeps every plan file and ledger they
# leave; then keeps, per target, only the captured inputs that
#   - fit the target's max_len (tests/fuzz/fuzz.mk),
#   - are new (by content), and
#   - add coverage to the seeds already there: libFuzzer's merge
#     (-merge=1) of the captures into a copy of the corpus.
# Kept inputs are named e2e-<test file>-<test>[-<plan id>]; seeds.sh
# leaves e2e-* alone. Prints what it added. Needs build/livemod,
# build/tests/lmhost and build/fuzz/fuzz-{plan,ledger} (make all
# build/tests/lmhost build/fuzz/fuzz-plan build/fuzz/fuzz-ledger).
# Not part of any build: the corpus is kept in git; this says where the
# e2e-* seeds came from, and makes more after the tests change.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 2
FZ=${FZ:-build/fuzz}
tests=${*:-planner history gc node recovery faults}
W=$(mktemp -d "${TMPDIR:-/tmp}/lmgrow.XXXXXX")
trap 'rm -rf "$W"' EXIT

for t in plan ledger; do
	[ -x "$FZ/fuzz-$t" ] || { echo "grow-corpus: no $FZ/fuzz-$t (make $FZ/fuzz-$t)"; exit 2; }
done
for t in $tests; do
	echo "grow-corpus: capturing tests/e2e/test_$t.sh"
	LM_CAPTURE_DIR=$W/cap sh "tests/e2e/test_$t.sh" > "$W/test_$t.log" 2>&1 ||
		{ tail -20 "$W/test_$t.log"; echo "grow-corpus: test_$t.sh failed"; exit 1; }
done

# maxlen TARGET: FUZZ_MAXLEN_TARGET from fuzz.mk
maxlen() {
	sed -n "s/^FUZZ_MAXLEN_$1 = //p" tests/fuzz/fuzz.mk
}

for t in plan ledger; do
	corpus=tests/fuzz/corpus/$t
	max=$(maxlen "$t")
	mkdir -p "$W/cand/$t" "$W/merged/$t"
	# new by content, and within max_len
	for f in "$corpus"/*; do sha1sum < "$f"; done | cut -c1-40 > "$W/seen"
	n=0
	for f in "$W/cap/$t"/*; do
		[ -f "$f" ] || continue
		[ "$(wc -c < "$f")" -le "$max" ] || continue
		h=$(sha1sum < "$f" | cut -c1-40)
		grep -qx "$h" "$W/seen" && continue
		echo "$h" >> "$W/seen"
		cp "$f" "$W/cand/$t/"
		n=$((n + 1))
	done
	# of those, what adds coverage to the corpus (merge names its
	# output files by their SHA-1)
	cp "$corpus"/* "$W/merged/$t/"
	"$FZ/fuzz-$t" -merge=1 -max_len="$max" "$W/merged/$t" "$W/cand/$t" \
		> "$W/merge-$t.log" 2>&1 ||
		{ tail -20 "$W/merge-$t.log"; echo "grow-corpus: merge $t failed"; exit 1; }
	added=0
	for f in "$W/cand/$t"/*; do
		[ -f "$f" ] || continue
		h=$(sha1sum < "$f" | cut -c1-40)
		[ -f "$W/merged/$t/$h" ] || continue
		cp "$f" "$corpus/e2e-$(basename "$f")"
		echo "  $t: + e2e-$(basename "$f") ($(wc -c < "$f") bytes)"
		added=$((added + 1))
	done
	echo "grow-corpus: $t: $n new captures, $added add coverage; corpus now $(ls "$corpus" | wc -l) inputs"
done
