#!/bin/sh
# test_security.sh - access control (docs/SECURITY.md): code is loaded
# only from paths nobody else can write (ssh's StrictModes), the control
# API stays on loopback unless told loudly otherwise, and connections
# that idle or trickle are cut. The token, the socket's mode and the
# body cap are test_control.sh's.
. "$(dirname "$0")/lib.sh"

one() {
	mod mod_a.so mod_a 1.0.0
	expect 0 lm init --libdir "$LIB" --app app
}

# A libdir, or a module in it, that others can write is refused by every
# command that reads it, naming the path; nothing is recorded.
t_libdir_writable_by_others() {
	one
	mod mod_a.so mod_a 1.1.0
	snapshot before
	chmod g+w "$LIB"
	expect 2 lm plan
	has "libdir $LIB: $LIB is writable by its group (mode 0775)" "$ERR"
	expect 2 lm update_list
	has "writable by its group" "$ERR"
	chmod g-w,o+w "$LIB"
	expect 2 lm plan --dry-run
	has "writable by others" "$ERR"
	chmod o-w "$LIB"
	chmod 666 "$LIB/mod_a.so"
	expect 2 lm plan
	has "$LIB/mod_a.so is writable by others (mode 0666)" "$ERR"
	unchanged
	chmod 644 "$LIB/mod_a.so"
	expect 0 lm plan
	# a parent writable by others counts too; a sticky one (/tmp) not
	mkdir -p "$T/open/lib"
	mv "$LIB"/*.so "$T/open/lib/"
	chmod 777 "$T/open"
	expect 2 lm --state "$T/s2" init --libdir "$T/open/lib"
	has "$T/open is writable by others" "$ERR"
	[ ! -e "$T/s2/ledger.db" ] || fail "init went ahead"
	chmod 1777 "$T/open"
	expect 0 lm --state "$T/s2" init --libdir "$T/open/lib"
}

# The node refuses a state dir, store or objects dir others can write.
t_state_writable_by_others() {
	one
	for d in "$STATE" "$STATE/store.git" "$STATE/objects"; do
		chmod g+w "$d"
		expect 1 "$LMHOST" --state "$STATE"
		has "$d is writable by its group" "$ERR"
		has "refusing to load code" "$ERR"
		chmod g-w "$d"
	done
	[ ! -e "$STATE/agent.sock" ] || fail "a refused node left agent.sock"
	host
	api_ok=$(curl -s -m 5 --unix-socket "$STATE/agent.sock" http://localhost/health)
	hasj '"status": "ok"' "$api_ok"
}

# Off loopback only when forced with '!', and then with a warning.
t_forced_listen_warns() {
	one
	expect 1 "$LMHOST" --state "$STATE" --http 0.0.0.0:0
	has "not a loopback address" "$ERR"
	: > "$T/host.err"
	host --http '!0.0.0.0:0'
	has "WARNING: the control API listens on 0.0.0.0" "$(cat "$T/host.err")"
	code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")
	[ "$code" = 401 ] || fail "no token, got $code"
	host_kill
	: > "$T/host.err"
	host --http 127.0.0.1:0
	hasnt "WARNING" "$(cat "$T/host.err")"
}

# An idle connection is closed after LIVEMOD_HTTP_IDLE_S; one whose body
# trickles in (never idle) is cut at twice that; the node serves on.
t_idle_and_slow_connections() {
	one
	export LIVEMOD_HTTP_IDLE_S=2
	host --http 127.0.0.1:0
	# a client that connects and says nothing: the node hangs up on it
	# (bash for /dev/tcp; read returns at the hang-up)
	PORT=$PORT bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$PORT"; s=$SECONDS
		read -r -t 10 -u 3 x; echo $((SECONDS - s))' > "$T/idle.s" &
	idle=$!
	t0=$(date +%s)
	# the body would take 20 s; the cut comes at 4 (10 allows a busy CI)
	( i=0; while [ $i -lt 40 ]; do printf x; sleep 0.5; i=$((i + 1)); done ) |
		curl -s -m 30 --unix-socket "$STATE/agent.sock" -X POST \
			-H 'Transfer-Encoding: chunked' -T - -o /dev/null \
			http://localhost/update-modules
	slow=$(( $(date +%s) - t0 ))
	[ "$slow" -le 10 ] || fail "a trickling body held its connection ${slow} s"
	has "body still arriving after 4 s" "$(cat "$T/host.err")"
	wait "$idle"
	[ "$(cat "$T/idle.s")" -le 4 ] ||
		fail "an idle connection stayed open $(cat "$T/idle.s") s"
	code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' \
		--unix-socket "$STATE/agent.sock" http://localhost/health)
	[ "$code" = 200 ] || fail "node after the slow ones: $code"
}

run_test t_libdir_writable_by_others
run_test t_state_writable_by_others
run_test t_forced_listen_warns
run_test t_idle_and_slow_connections
finish
