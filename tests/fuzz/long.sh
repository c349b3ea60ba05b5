#!/bin/sh
# long.sh TARGET FZ GOAL SLICE MAX_LEN [FLAG...] - fuzzes TARGET until its
# CPU-seconds in tests/fuzz/totals.tsv reach GOAL (make fuzz-long:
# FUZZ_LONG_SECONDS, default 3600, per target), in runs of at most SLICE
# seconds (FUZZ_LONG_SLICE, default 600) through tests/fuzz/run.sh, each
# added to the totals as it ends. Resumable: a session cut short loses at
# most its current slice, and the next `make fuzz-long` goes on from the
# totals and the working corpus (FZ/work/TARGET/), both kept. Fails on a
# crash, as run.sh does.
set -u
t=$1 fz=$2 goal=$3 slice=$4 maxlen=$5
shift 5
while :; do
	done_s=$(sh tests/fuzz/totals.sh cpu "$t")
	if [ "$done_s" -ge "$goal" ]; then
		echo "fuzz-long $t: $done_s of $goal CPU-seconds: done"
		exit 0
	fi
	left=$((goal - done_s))
	secs=$((left < slice ? left : slice))
	echo "fuzz-long $t: $done_s of $goal CPU-seconds; $secs s more"
	sh tests/fuzz/run.sh "$t" "$fz" "$secs" "$maxlen" "$@" || exit 1
	# a run that adds no CPU time would loop for ever
	[ "$(sh tests/fuzz/totals.sh cpu "$t")" -gt "$done_s" ] ||
		{ echo "fuzz-long $t: the run added no CPU time; stopping"; exit 1; }
done
