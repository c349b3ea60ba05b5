# lib.sh - timing helpers the shell benchmarks share (sourced).

now_ns() { date +%s%N; }

# median of the numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# pct P: the P-th percentile (0-100) of the numbers on stdin
pct() { sort -n | awk -v p="$1" '{a[NR]=$1} END {i=int(p/100*(NR-1)+0.5)+1; print a[i]}'; }

# time_ms CMD...: wall time of one run in ms (3 decimals)
time_ms() {
	t0=$(now_ns)
	"$@" > /dev/null 2>&1
	t1=$(now_ns)
	echo "$t0 $t1" | awk '{printf "%.3f\n", ($2-$1)/1e6}'
}

ratio() { echo "$1 $2" | awk '{printf "%.2f", $1/$2}'; }
