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
# Behaviour, not time: the idle client's read ends at the node's hang-up
# (not at its own 60 s hang guard), and the trickling body is cut before
# the last of its 120 chunks (60 s of them) was sent.
t_idle_and_slow_connections() {
	one
	export LIVEMOD_HTTP_IDLE_S=2
	host --http 127.0.0.1:0
	# a client that connects and says nothing: the node hangs up on it
	# (bash for /dev/tcp; read returns 1 at the hang-up, > 128 when its
	# 60 s hang guard runs out)
	PORT=$PORT bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$PORT"
		read -r -t 60 -u 3 x; echo $?' > "$T/idle.rc" &
	idle=$!
	# a body of 120 chunks, one every 0.5 s; each chunk sent is counted
	( i=0; while [ $i -lt 120 ]; do printf x || exit 0; i=$((i + 1))
		echo $i > "$T/sent"; sleep 0.5; done ) |
		curl -s -m 90 --unix-socket "$STATE/agent.sock" -X POST \
			-H 'Transfer-Encoding: chunked' -T - \
			-w '%{http_code}' -o /dev/null \
			http://localhost/update-modules > "$T/slow.code"
	rc=$?
	sent=$(cat "$T/sent")
	[ "$sent" -lt 120 ] ||
		fail "a trickling body was read to its end ($sent chunks), not cut"
	[ "$rc" -ne 0 ] && [ "$rc" -ne 28 ] ||
		fail "the trickling upload ended with curl exit $rc (code $(cat "$T/slow.code")), want its connection cut"
	has "body still arriving after 4 s; connection closed" "$(cat "$T/host.err")"
	wait "$idle"
	[ "$(cat "$T/idle.rc")" = 1 ] ||
		fail "an idle connection was not closed by the node (read: $(cat "$T/idle.rc"))"
	code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' \
		--unix-socket "$STATE/agent.sock" http://localhost/health)
	[ "$code" = 200 ] || fail "node after the slow ones: $code"
}

# Under an open umask (000) the state dir, objects/ and the store with
# every directory in it are still the owner's alone (0700), as are the
# store's objects (0400), whoever wrote them: init, a plan, and the node
# (an update planned inside it, the extracted objects). A store others
# could write would be refused by the node (t_state_writable_by_others).
t_modes_under_open_umask() {
	mod mod_a.so mod_a 1.0.0
	umask 000
	expect 0 lm init --libdir "$LIB" --app app
	( umask 022 && mod mod_a.so mod_a 1.1.0 ) || exit 99
	expect 0 lm plan
	host
	( umask 022 && mod mod_b.so mod_b 1.0.0 ) || exit 99
	expect 0 lm update
	has "eval: {ok,[]}" "$OUT"
	host_kill
	for d in "$STATE" "$STATE/objects" "$STATE/store.git"; do
		m=$(stat -c %a "$d")
		[ "$m" = 700 ] || fail "$d is mode $m under umask 000, want 700"
	done
	open=$(find "$STATE/store.git" -type d ! -perm 700)
	[ -z "$open" ] || fail "store directories not 0700: $open"
	loose=$(find "$STATE/store.git/objects" -type f -path '*/objects/??/*' ! -perm 400)
	[ -z "$loose" ] || fail "store objects not 0400: $loose"
	[ "$(find "$STATE/store.git/objects" -type f -path '*/objects/??/*' | wc -l)" -ge 4 ] ||
		fail "no loose objects written: $(find "$STATE/store.git/objects")"
	others=$(find "$STATE/objects" -type f -perm /022)
	[ -z "$others" ] || fail "objects/ files writable by others: $others"
	gitstore fsck --strict > /dev/null 2>&1 || fail "git fsck: $(gitstore fsck 2>&1)"
}

run_test t_libdir_writable_by_others
run_test t_state_writable_by_others
run_test t_forced_listen_warns
run_test t_idle_and_slow_connections
run_test t_modes_under_open_umask
finish
