#!/bin/bash
# test_kvd.sh - examples/kvd end to end: the real server on a real state
# dir, driven by real Redis clients we did not write (redis-cli,
# redis-benchmark from Debian's redis-tools) while the test updates and
# rolls back its modules with the `livemod` command (the node's control
# API, over agent.sock).
#
#   t_commands      every command through redis-cli, errors included; bad
#                   input on a raw socket (each a protocol error answered,
#                   then the connection closed; kvd serves on); kvd_store
#                   updated to 2.0.0 (APPEND, STRLEN, layout 2) and rolled
#                   back (layout 1) with every key intact; SIGTERM: exit 0
#   t_live_upgrades 10,000 keys written (redis-cli --pipe), then
#                   KVD_UPGRADES (100) applies, `livemod update` and
#                   `livemod rollback` in turn, while redis-benchmark -P 16
#                   -c 50 runs two loads back to back: a mixed one and one
#                   that INCRs a single counter; every apply ok, every
#                   redis-benchmark run ends well (it exits 1 at the first
#                   error reply or lost connection), no error reply counted
#                   by kvd, the 10,000 keys intact, the counter exactly
#                   the INCRs the runs made, the same pid throughout
#
# No assertion depends on timing: waits poll for a state, with generous
# bounds only against hanging. KVD_BUILD=DIR runs a kvd built elsewhere
# (tests/run-sanitize.sh: with ASan+UBSan); KVD_ONLY=1 skips t_commands.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

# KVD_BUILD: a kvd built elsewhere (e.g. with sanitizers: make -C
# examples/kvd B=DIR CFLAGS=...), its modules in DIR/v1, DIR/v2
KB=${KVD_BUILD:-$TOP/build/kvd}
if ! command -v redis-cli > /dev/null || ! command -v redis-benchmark > /dev/null; then
	skip "redis-tools not installed (scripts/deps.sh): test_kvd needs redis-cli and redis-benchmark"
	finish
	exit
fi
if [ -z "${KVD_BUILD:-}" ] &&
	! make --no-print-directory -s -C "$TOP" kvd > /dev/null 2>&1; then
	echo "test_kvd: cannot build kvd (make kvd)"
	make --no-print-directory -C "$TOP" kvd 2>&1 | tail -20
	exit 1
fi

KVD_PID=""
LOADS=""

stop_all() {
	[ -d "${T:-}" ] && touch "$T/stop" # the loads' loops end
	# and the run in flight (timeout passes SIGTERM on to it)
	[ -n "$LOADS" ] && [ -s "$T/load.pid" ] && kill -TERM "$(cat "$T/load.pid")" 2>/dev/null
	for p in $LOADS $KVD_PID; do
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	LOADS="" KVD_PID=""
}

# setup: the v1 modules in $LIB, a state dir on them.
setup() {
	cp "$KB"/v1/*.so "$LIB"/ || exit 99
	lm init --libdir "$LIB" --app kvd > /dev/null || exit 99
}

kvd_start() {
	trap stop_all EXIT
	serve kvd "$KB/kvd" --listen 127.0.0.1:0 --state "$STATE" ||
		{ stop_all; exit 1; }
	KVD_PID=$SERVER_PID
}

kvd_stop() {
	unserve kvd "$KVD_PID"
	KVD_PID=""
}

rc() {
	redis-cli -p "$PORT" "$@"
}

# ask WANT CMD...: redis-cli's answer to CMD must be WANT (its lines
# joined by "|"; redis-cli prints an error reply's text, without "-").
ask() {
	want=$1
	shift
	got=$(rc "$@") # without the empty line redis-cli ends an error with
	got=$(printf '%s\n' "$got" | paste -sd '|')
	[ "$got" = "$want" ] || fail "'$*' answered '$got', want '$want'"
}

# raw BYTES WANT: BYTES (printf's format) sent on a new connection; kvd
# must answer exactly WANT (with "\r\n" for CRLF) and close the connection.
raw() {
	exec 5<>"/dev/tcp/127.0.0.1/$PORT" || { fail "connect"; return; }
	printf '%b' "$1" >&5
	got=$(timeout 20 cat <&5 | od -An -c | tr -s ' \n' ' ')
	want=$(printf '%b' "$2" | od -An -c | tr -s ' \n' ' ')
	exec 5>&- 5<&-
	[ "$got" = "$want" ] || fail "sent '${1:0:40}': got '$got', want '$want' and the end"
}

# info FIELD: INFO's value of FIELD.
info() {
	rc info | tr -d '\r' | sed -n "s/^$1://p"
}

t_commands() {
	setup
	kvd_start
	pid=$(info process_id)
	[ "$pid" = "$KVD_PID" ] || fail "INFO's process_id $pid, want $KVD_PID"
	ask PONG ping
	ask hi ping hi
	ask "hello world" echo "hello world"
	ask OK set k1 v1
	ask v1 get k1
	ask "" get nokey
	ask OK mset k2 v2 n 41
	ask "v1||v2" mget k1 nokey k2
	ask 42 incr n
	ask 1 incr fresh
	ask 2 exists k1 k2
	ask 4 dbsize
	ask 1 del k1 nokey
	ask "" get k1
	ask OK select 0
	ask "" command
	ask save config get save # and an empty value
	# errors, as Redis words them; the connection stays open
	ask "ERR value is not an integer or out of range" incr k2
	ask "ERR wrong number of arguments for 'get' command" get
	ask "ERR wrong number of arguments for 'echo' command" echo a b
	ask "ERR syntax error" set k v EX 10
	ask "ERR unknown command 'frobnicate'" frobnicate x
	ask "ERR unknown command 'append'" append k2 x # v1 has no APPEND
	ask OK set big 9223372036854775807
	ask "ERR increment or decrement would overflow" incr big
	[ "$(info total_error_replies)" = 7 ] ||
		fail "total_error_replies $(info total_error_replies), want 7"
	# bad input on a raw socket: answered, then the connection closes
	raw '*x\r\n' '-ERR Protocol error: invalid multibulk length\r\n'
	raw '*1\r\n$-5\r\n' '-ERR Protocol error: invalid bulk length\r\n'
	raw '*2\r\n$3\r\nGET\r\n:1\r\n' "-ERR Protocol error: expected '\$'\r\n"
	raw '*1\r\n$4\r\nPINGxx' '-ERR Protocol error: bulk not ended by CRLF\r\n'
	raw '*1\r\n$99999999999\r\n' '-ERR Protocol error: invalid bulk length\r\n'
	raw "$(head -c 70000 /dev/zero | tr '\0' a)" \
		'-ERR Protocol error: too big inline request\r\n'
	raw 'PING\r\n*2\r\n$3\r\nGET\r\n$2\r\nk2\r\n*1\r\n$4\r\nQUIT\r\n' \
		'+PONG\r\n$2\r\nv2\r\n+OK\r\n'
	ask PONG ping
	# kvd_store 2.0.0: APPEND and STRLEN, layout 2, the keys carried over
	install_file "$KB/v2/kvd_store.so" "$LIB/kvd_store.so"
	expect 0 lm update
	has "{code_change,up,[{kvd_store,[]}]}" "$OUT"
	has "eval: {ok,[]}" "$OUT"
	ask 7 append k2 "-more"
	ask 7 append new "created"
	ask 7 strlen k2
	ask 0 strlen nokey
	ask "v2-more" get k2
	ask 42 get n
	[ "$(info kvd_store)" = "2.0.0,layout=2" ] || fail "kvd_store $(info kvd_store)"
	[ "$(info keyspace_hits)" = 2 ] || fail "keyspace_hits $(info keyspace_hits), want 2"
	# rolled back: layout 1 again, everything 2.0.0 wrote still there
	expect 0 lm rollback
	has "{code_change,down,[{kvd_store,[]}]}" "$OUT"
	has "eval: {ok,[]}" "$OUT"
	[ "$(info kvd_store)" = "1.0.0,layout=1" ] || fail "kvd_store $(info kvd_store)"
	ask "ERR unknown command 'append'" append k2 x
	ask "v2-more|created|42|1" mget k2 new n fresh
	[ "$(info process_id)" = "$KVD_PID" ] || fail "another process"
	kvd_stop
}

# load: redis-benchmark -P 16 -c 50 on kvd, run after run until $T/stop
# exists, in turn a mixed load (SET, GET, MSET on 100,000 random keys)
# and COUNTER_RUN INCRs of the one key ctr; each run's exit status a line
# of $T/mixed.runs or $T/counter.runs, a failed run's output appended to
# $T/load.failed. Niced: on a busy machine the applies, not the load,
# should get the CPU first (the load saturates it by design). A run is
# bounded (60 s, against hanging): redis-benchmark 7.0 spins for ever
# when kvd is gone at its start.
load() {
	while [ ! -e "$T/stop" ]; do
		for ld in mixed counter; do
			if [ $ld = mixed ]; then
				set -- -n 50000 -r 100000 -t set,get,mset
			else
				set -- -n $COUNTER_RUN incr ctr
			fi
			timeout 60 nice -n 10 redis-benchmark -p "$PORT" -P 16 -c 50 -q "$@" \
				> "$T/load.last" 2>&1 &
			echo $! > "$T/load.pid"
			wait $!
			ld_rc=$?
			echo $ld_rc >> "$T/$ld.runs"
			[ $ld_rc = 0 ] || cat "$T/load.last" >> "$T/load.failed"
		done
	done
}

# the INCRs of one run of the counter's load: a multiple of the pipeline
# (16), so that redis-benchmark, which issues whole pipelines, sends
# exactly this many
COUNTER_RUN=20000

t_live_upgrades() {
	setup
	kvd_start
	# 10,000 keys before the loop
	awk 'BEGIN { for (i = 0; i < 10000; i++) { k = "k:" i; v = "v:" i
		printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v } }' |
		rc --pipe > "$T/pipe.out" 2>&1
	has "errors: 0, replies: 10000" "$(cat "$T/pipe.out")"
	install_file "$KB/v2/kvd_store.so" "$LIB/kvd_store.so"
	load &
	LOADS=$!
	# the load under way before the first apply
	wait_file "$T/mixed.runs" "the load never finished a run"
	failed=0
	i=1
	t0=$SECONDS
	while [ $i -le "${KVD_UPGRADES:-100}" ]; do
		if [ $((i % 2)) = 1 ]; then
			expect 0 lm update
		else
			expect 0 lm rollback
		fi
		case "$OUT" in
		*"eval: {ok,[]}"*) ;;
		*) failed=$((failed + 1)); fail "apply $i: $OUT $ERR" ;;
		esac
		kill -0 "$KVD_PID" 2>/dev/null ||
			{ fail "kvd died at apply $i: $(tail -3 "$T/kvd.err")"; break; }
		i=$((i + 1))
	done
	touch "$T/stop"
	kill -0 "$KVD_PID" 2>/dev/null || stop_all # no load waits on it
	for p in $LOADS; do
		wait "$p"
	done
	LOADS=""
	echo "applies: $((i - 1)) done in $((SECONDS - t0)) s, $failed failed;" \
		"redis-benchmark runs: mixed $(wc -l < "$T/mixed.runs")," \
		"counter $(wc -l < "$T/counter.runs")"
	[ $failed -eq 0 ] || fail "$failed applies failed"
	[ -e "$T/load.failed" ] &&
		fail "redis-benchmark failed: $(grep -v '^$' "$T/load.failed" | head -5)"
	[ "$(info total_error_replies)" = 0 ] ||
		fail "kvd answered $(info total_error_replies) errors"
	want=$(($(wc -l < "$T/counter.runs") * COUNTER_RUN))
	ask $want get ctr
	# the 10,000 keys, every one with its value
	rc mget $(seq -f 'k:%g' 0 9999) > "$T/mget.out"
	seq -f 'v:%g' 0 9999 | cmp -s - "$T/mget.out" ||
		fail "keys lost or changed: $(seq -f 'v:%g' 0 9999 | diff - "$T/mget.out" | head -5)"
	[ "$(info process_id)" = "$KVD_PID" ] || fail "another process"
	[ "$(sql 'SELECT count(*) FROM apply_runs WHERE status != "ok"')" = 0 ] ||
		fail "runs not ok: $(sql 'SELECT id, status FROM apply_runs WHERE status != "ok"')"
	kvd_stop
}

[ -n "${KVD_ONLY:-}" ] || run_test t_commands
run_test t_live_upgrades
finish
