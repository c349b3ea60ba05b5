#!/bin/bash
# bench_kvd.sh - examples/kvd under redis-benchmark (issue 16's
# benchmark): the same load in three situations, side by side, then the
# pause an apply makes at two sizes of keyspace.
#
#   steady    redis-benchmark -P 16 -c 50 (SET and GET on 100,000 random
#             keys, run after run) for KVD_BENCH_SECS (5) seconds, in
#             KVD_BENCH_ROUNDS (3) rounds alternating with the next row
#   upgrades  the same load while kvd_store goes 1.0.0 -> 2.0.0 -> 1.0.0
#             ... with `livemod update` and `livemod rollback` in turn,
#             back to back, for as long
#   control   the same load while `livemod status` runs back to back for
#             as long: a process and a round trip to the node each, no
#             apply (on 2 vCPUs, what running the CLI itself costs the
#             server)
#   restart   the same load for as long, with a full restart of kvd in
#             the middle of it: SIGTERM, wait for it to exit, start it
#             again on the same port. Every connection is dropped and the
#             keyspace is lost (kvd keeps it in memory only); the runs
#             redis-benchmark could not finish (a lost connection or a
#             refused one: it exits at the first) are counted as errors.
#             While kvd is down the load waits to start its next run
#             (redis-benchmark 7.0 spins forever when it cannot connect at
#             its start), as a client that backs off would
#
# requests/s is counted by kvd (INFO's total_commands_processed, summed
# over both processes across the restart), over the window's wall time.
#
# pause     the apply's own timings (`livemod history --json`: suspend,
#           code_change, load, resume: the time kvd_store's callers wait)
#           for an update 1.0.0 -> 2.0.0 and its rollback, the median of
#           5 each, with 10 keys and with KVD_BENCH_KEYS (1,000,000) keys
#           in the keyspace, no load
#
# Loopback only, free ports, a scratch dir (KEEP=1 keeps it), everything
# it starts killed on exit; fails (exit 1) when an apply fails or the load
# sees an error outside the restart.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/bench/lib.sh"
SECS=${KVD_BENCH_SECS:-5}
NKEYS=${KVD_BENCH_KEYS:-1000000}
KB=$TOP/build/kvd
LIVEMOD=$TOP/build/livemod

W=$(mktemp -d "${TMPDIR:-/tmp}/lmbenchkvd.XXXXXX")
LIB=$W/lib
STATE=$W/state
KVD_PID=""
LOAD_PID=""

die() {
	echo "bench_kvd: $*" >&2
	[ -s "$W/kvd.err" ] && { echo "--- kvd.err (tail)" >&2; tail -5 "$W/kvd.err" >&2; }
	exit 1
}

cleanup() {
	rc=$?
	touch "$W/stop"
	for p in $LOAD_PID $KVD_PID; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "${KEEP:-}" ]; then
		echo "bench_kvd: kept $W" >&2
	else
		rm -rf "$W"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lm() { timeout 60 "$LIVEMOD" --state "$STATE" "$@"; }
now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }
sleep_s() { sleep "$1" & wait $!; }

command -v redis-benchmark > /dev/null || die "redis-tools not installed (scripts/deps.sh)"
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash 5 (EPOCHREALTIME)"
make --no-print-directory -s -C "$TOP" kvd > "$W/build.log" 2>&1 ||
	{ tail -20 "$W/build.log" >&2; die "make kvd failed"; }

# fresh: a new state dir on the v1 modules.
fresh() {
	rm -rf "$LIB" "$STATE"
	mkdir -p "$LIB"
	cp "$KB"/v1/*.so "$LIB"/ || die "cannot install the v1 modules"
	lm init --libdir "$LIB" --app kvd > /dev/null 2> "$W/init.err" ||
		die "livemod init failed: $(cat "$W/init.err")"
	cp "$KB/v2/kvd_store.so" "$LIB/.t" && mv "$LIB/.t" "$LIB/kvd_store.so"
}

# kvd_start [PORT]: kvd on PORT (0: a free one) once it says ready.
kvd_start() {
	"$KB/kvd" --listen "127.0.0.1:${1:-0}" --state "$STATE" 2>> "$W/kvd.err" &
	KVD_PID=$!
	local n=0
	until [ "$(grep -c '^kvd: ready' "$W/kvd.err")" -gt "${READY:-0}" ]; do
		n=$((n + 1))
		[ $n -lt 4000 ] && kill -0 "$KVD_PID" 2>/dev/null || die "kvd did not start"
		sleep 0.005
	done
	READY=$(grep -c '^kvd: ready' "$W/kvd.err")
	PORT=$(sed -n 's/^kvd: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$W/kvd.err" | tail -1)
}

kvd_stop() {
	kill -TERM "$KVD_PID"
	wait "$KVD_PID" || die "kvd exited $? on SIGTERM"
	KVD_PID=""
}

cmds() { redis-cli -p "$PORT" info | tr -d '\r' | sed -n 's/^total_commands_processed://p'; }

# load NAME: redis-benchmark run after run until $W/stop; each run's exit
# status a line of $W/NAME.runs, a failed run's first line in
# $W/NAME.errors.
load() {
	rm -f "$W/stop"
	: > "$W/$1.runs"
	: > "$W/$1.errors"
	(
		while [ ! -e "$W/stop" ]; do
			while [ -e "$W/down" ]; do sleep 0.01; done
			timeout 20 redis-benchmark -p "$PORT" -P 16 -c 50 -n 200000 \
				-r 100000 -t set,get -q > "$W/load.out" 2>&1
			r=$?
			echo $r >> "$W/$1.runs"
			[ $r = 0 ] || tr '\r' '\n' < "$W/load.out" |
				grep -m1 -i 'error\|could not' >> "$W/$1.errors"
		done
	) &
	LOAD_PID=$!
}

load_stop() {
	touch "$W/stop"
	wait "$LOAD_PID"
	LOAD_PID=""
}

# row NAME REQUESTS MICROSECONDS NOTE: a line of the table.
row() {
	local runs fails
	runs=$(wc -l < "$W/$1.runs")
	fails=$(grep -vc '^0$' "$W/$1.runs")
	printf '%-9s %6.1f %9d %10.0f %5d %7d  %s\n' "$1" "$(echo "$3" | awk '{ print $1 / 1e6 }')" \
		"$2" "$(echo "$2 $3" | awk '{ print $1 / ($2 / 1e6) }')" "$runs" "$fails" "$4"
}

# ---- steady, upgrades, restart ------------------------------------------
fresh
kvd_start 0
redis-benchmark -p "$PORT" -n 20000 -r 100000 -t set -q > /dev/null 2>&1 # warm

# window NAME [CMD...]: NAME's load for SECS seconds while CMD runs back
# to back (no CMD: the load alone); appends the requests kvd counted and
# the window's microseconds to $W/NAME.win, its runs to $W/NAME.all.
window() {
	local name=$1 c0 c1 t0 t1
	shift
	load "$name"
	c0=$(cmds); t0=$(now_us)
	if [ $# = 0 ]; then
		sleep_s "$SECS"
	else
		while [ $(($(now_us) - t0)) -lt $((SECS * 1000000)) ]; do "$@"; done
	fi
	c1=$(cmds); t1=$(now_us)
	load_stop
	[ ! -s "$W/$name.errors" ] || die "errors in the $name run: $(head -3 "$W/$name.errors")"
	echo "$((c1 - c0)) $((t1 - t0))" >> "$W/$name.win"
	cat "$W/$name.runs" >> "$W/$name.all"
}

# one apply: update and rollback in turn
applies=0
apply_once() {
	local out
	if [ $((applies % 2)) = 0 ]; then out=$(lm update 2>&1); else out=$(lm rollback 2>&1); fi
	case "$out" in *"eval: {ok,[]}"*) ;; *) die "apply $applies: $out" ;; esac
	applies=$((applies + 1))
}

statuses=0
status_once() {
	lm status > /dev/null || die "livemod status failed"
	statuses=$((statuses + 1))
}

# KVD_BENCH_ROUNDS (3) rounds of steady, upgrades and control, so that
# whatever else the machine does weighs on them alike; the rows sum the
# rounds.
for round in $(seq "${KVD_BENCH_ROUNDS:-3}"); do
	window steady
	window upgrades apply_once
	window control status_once
done
for k in steady upgrades control; do
	mv "$W/$k.all" "$W/$k.runs"
done
# total NAME: NAME's requests and microseconds over its windows.
total() { awk '{ n += $1; us += $2 } END { print n, us }' "$W/$1.win"; }

keys_before=$(redis-cli -p "$PORT" dbsize)
load restart
c0=$(cmds); t0=$(now_us)
sleep_s "$(echo "$SECS" | awk '{ print $1 / 2 }')"
ca=$(cmds)
r0=$(now_us)
touch "$W/down"
kvd_stop
kvd_start "$PORT"
rm "$W/down"
r1=$(now_us)
keys_after=$(redis-cli -p "$PORT" dbsize)
while [ $(($(now_us) - t0)) -lt $((SECS * 1000000)) ]; do sleep_s 0.05; done
c1=$(cmds); t1=$(now_us)
load_stop
RST_N=$((ca - c0 + c1)) RST_US=$((t1 - t0))
kvd_stop

echo "kvd under redis-benchmark -P 16 -c 50 (SET, GET, 100,000 random keys), loopback; ${KVD_BENCH_ROUNDS:-3} rounds of ${SECS} s each of steady, upgrades and control, then ${SECS} s with a restart; requests counted by kvd"
printf '%-9s %6s %9s %10s %5s %7s  %s\n' run secs requests requests/s runs errors note
row steady $(total steady) ""
row upgrades $(total upgrades) "$applies applies (update, rollback in turn), all ok"
row control $(total control) "$statuses livemod status, no apply"
row restart "$RST_N" "$RST_US" "down $(((r1 - r0) / 1000)) ms (SIGTERM to ready); keys $keys_before -> $keys_after; 50 connections dropped"
echo "restart errors (first line of each failed run): $(sort "$W/restart.errors" | uniq -c | sed 's/^ *//' | paste -sd ';' -)"

# ---- the pause: 10 keys against NKEYS --------------------------------------
# pause_us: the last run's suspend + code_change + load + resume.
pause_us() {
	lm history --json > "$W/h.json" || die "livemod history failed"
	sqlite3 :memory: "SELECT sum(value) FROM json_each(json_extract(readfile('$W/h.json'), '\$.runs[0].timings'))
		WHERE key IN ('suspend', 'code_change', 'load', 'resume')"
}
for n in 10 "$NKEYS"; do
	fresh
	kvd_start 0
	awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) { k = "k:" i
		printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(k), k } }' |
		redis-cli -p "$PORT" --pipe > "$W/pipe.out" 2>&1 ||
		die "writing $n keys: $(cat "$W/pipe.out")"
	: > "$W/up.us"
	: > "$W/down.us"
	for j in 1 2 3 4 5; do
		out=$(lm update 2>&1)
		case "$out" in *"eval: {ok,[]}"*) ;; *) die "update with $n keys: $out" ;; esac
		pause_us >> "$W/up.us"
		out=$(lm rollback 2>&1)
		case "$out" in *"eval: {ok,[]}"*) ;; *) die "rollback with $n keys: $out" ;; esac
		pause_us >> "$W/down.us"
	done
	up=$(median < "$W/up.us")
	down=$(median < "$W/down.us")
	[ "$(redis-cli -p "$PORT" dbsize)" = "$n" ] || die "keys lost across the applies"
	kvd_stop
	echo "pause with $n keys, median of 5: update $up us, rollback $down us (suspend to resume, the keyspace moved: code_change and change_commit)"
	eval "P_$([ "$n" = 10 ] && echo small || echo big)=$up"
done
echo "pause ratio ${NKEYS} keys / 10 keys: $(echo "$P_big $P_small" | awk '{ printf "%.2f", $1 / $2 }')x (issue 16's target with state moved: <= 2x)"
