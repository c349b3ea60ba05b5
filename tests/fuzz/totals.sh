#!/bin/sh
# totals.sh - the running totals of every fuzz run, in tests/fuzz/totals.tsv
# (or $FUZZ_TOTALS): one row per target, kept in git, so that the hours
# add up across sessions and machines (docs/fuzzing.md, "Totals").
#
#   totals.sh add TARGET CPU EXECS CORPUS COV CRASHES
#       adds one run (tests/fuzz/run.sh calls it): CPU-seconds, executions
#       and crashes add up; the corpus size and coverage are the last
#       run's (its working corpus holds every earlier run's finds), the
#       coverage never going down in the table (the highest seen).
#   totals.sh cpu TARGET      the target's CPU-seconds so far (0 if none)
#   totals.sh print           the table, aligned, with CPU-hours
set -u
f=${FUZZ_TOTALS:-tests/fuzz/totals.tsv}
head='target	cpu_seconds	executions	runs	corpus	coverage	crashes	last_run'

case "${1:-}" in
add)
	[ $# -eq 7 ] || { echo "usage: totals.sh add TARGET CPU EXECS CORPUS COV CRASHES" >&2; exit 2; }
	[ -s "$f" ] || echo "$head" > "$f"
	awk -F '\t' -v OFS='\t' -v t="$2" -v cpu="$3" -v ex="$4" -v corp="$5" \
		-v cov="$6" -v cr="$7" -v now="$(date -u +%FT%TZ)" '
		NR == 1 { print; next }
		$1 == t { $2 += cpu; $3 += ex; $4 += 1; $5 = corp;
			  if (cov + 0 > $6 + 0) $6 = cov; $7 += cr; $8 = now;
			  found = 1 }
		{ print }
		END { if (!found) print t, cpu, ex, 1, corp, cov, cr, now }
	' "$f" > "$f.tmp" && mv "$f.tmp" "$f"
	;;
cpu)
	awk -F '\t' -v t="$2" '$1 == t { s = $2 } END { print s + 0 }' "$f" 2>/dev/null || echo 0
	;;
print)
	[ -s "$f" ] || { echo "no fuzz runs recorded yet ($f)"; exit 0; }
	awk -F '\t' -v OFS='\t' '
		NR == 1 { print $1, "cpu_hours", $2, $3, $4, $5, $6, $7, $8; next }
		{ print $1, sprintf("%.2f", $2 / 3600), $2, $3, $4, $5, $6, $7, $8 }
	' "$f" | column -t -s '	'
	;;
*)
	echo "usage: totals.sh add|cpu|print ..." >&2
	exit 2
	;;
esac
