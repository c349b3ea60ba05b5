#!/bin/bash
# test_chatd.sh - examples/chatd end to end: the real server on a real
# state dir, real clients (bash /dev/tcp) and the load generator, while the
# test drives updates with the `livemod` CLI.
#
#   t_session             a client session: motd, nick, join, a message both
#                         members receive, /version, /stats, errors, /quit
#   t_load_flips          loadgen at full rate while mod_messager goes
#                         v1 -> v2 -> v1 ... 100 times (CHATD_FLIPS; loadgen
#                         rate CHATD_RATE, 0 = full) under soft_purge: every
#                         update ok, nothing lost, no error, no disconnect,
#                         and each room's count equals what was sent to it
#   t_brutal_purge_pinned idle connections stay pinned to mod_messager 1.0.0
#                         after a soft update while loadgen's move to 2.0.0;
#                         chatd's brutal purge of old code (SIGUSR2) closes
#                         exactly the idle ones, each saying why; loadgen
#                         loses nothing
#   t_brutal_purge_plan   a plan made with --purge brutal_purge, applied:
#                         the connections pinned to the replaced version are
#                         closed with the reason, chatd serves on
#
# No assertion depends on timing: waits poll for a state, with generous
# bounds only against hanging.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

CB=$TOP/build/chatd
CHATD=$CB/chatd
LOADGEN=$CB/loadgen
if ! make --no-print-directory -s -C "$TOP" chatd > /dev/null 2>&1; then
	echo "test_chatd: cannot build chatd (make chatd)"
	make --no-print-directory -C "$TOP" chatd 2>&1 | tail -20
	exit 1
fi

CHATD_PID=""
LG_PID=""

stop_all() {
	if [ -n "$LG_PID" ]; then
		kill -KILL "$LG_PID" 2>/dev/null
		wait "$LG_PID" 2>/dev/null
		LG_PID=""
	fi
	if [ -n "$CHATD_PID" ]; then
		kill -KILL "$CHATD_PID" 2>/dev/null
		wait "$CHATD_PID" 2>/dev/null
		CHATD_PID=""
	fi
}

# setup: the v1 modules in $LIB, a state dir on them.
setup() {
	cp "$CB"/v1/*.so "$LIB"/ || exit 99
	lm init --libdir "$LIB" --app chatd > /dev/null || exit 99
}

# use VERSION MODULE: installs MODULE of v1 or v2 into $LIB (a new file,
# renamed into place, as an install does).
use() {
	install_file "$CB/$1/$2.so" "$LIB/$2.so"
}

chatd_start() {
	trap stop_all EXIT
	serve chatd "$CHATD" --listen 127.0.0.1:0 --state "$STATE" \
		--http 127.0.0.1:0 || { stop_all; exit 1; }
	CHATD_PID=$SERVER_PID
}

# chatd_stop: SIGTERM; chatd must exit 0.
chatd_stop() {
	unserve chatd "$CHATD_PID"
	CHATD_PID=""
}

# ---- clients: one file descriptor each -----------------------------------

# copen FD: connects a client on fd FD and reads the motd.
copen() {
	eval "exec $1<>/dev/tcp/127.0.0.1/$PORT" || { fail "connect"; exit 1; }
	cread "$1"
	has "motd " "$LINE"
}

csend() {
	printf '%s\n' "$2" >&"$1"
}

# cread FD: the next line the server sent on FD into $LINE ("EOF" at the
# end, "TIMEOUT" when nothing came in 20 s).
cread() {
	if IFS= read -r -t 20 LINE <&"$1"; then
		:
	elif [ $? -gt 128 ]; then
		LINE=TIMEOUT
	else
		LINE=EOF
	fi
}

# cask FD LINE WANT: sends LINE, the answer must be exactly WANT.
cask() {
	csend "$1" "$2"
	cread "$1"
	[ "$LINE" = "$3" ] || fail "'$2' answered '$LINE', want '$3'"
}

cclose() {
	eval "exec $1>&- $1<&-"
}

# ---- loadgen -----------------------------------------------------------------

# lg_start ARGS...: loadgen in the background, until lg_stop; waits for
# every connection to have joined.
lg_start() {
	"$LOADGEN" --connect "127.0.0.1:$PORT" --duration 600 --drain 30 "$@" \
		> "$T/lg.out" 2> "$T/lg.err" &
	LG_PID=$!
	n=0
	until grep -q '^ready' "$T/lg.out" 2>/dev/null; do
		n=$((n + 1))
		if [ $n -gt 600 ] || ! kill -0 "$LG_PID" 2>/dev/null; then
			fail "loadgen did not start: $(cat "$T/lg.err")"
			stop_all
			exit 1
		fi
		sleep 0.05
	done
}

# lg_stop: stops sending, waits for the drain; LG is the summary line, and
# it must say nothing was lost, no error, no disconnect.
lg_stop() {
	kill -USR1 "$LG_PID"
	wait "$LG_PID"
	rc=$?
	LG_PID=""
	LG=$(grep '^loadgen:' "$T/lg.out")
	echo "$LG"
	case "$LG" in
	*" sent 0 "*) fail "loadgen sent nothing: $LG" ;;
	*" lost 0 errors 0 disconnects 0 "*) ;;
	*) fail "loadgen: $LG; $(head -5 "$T/lg.err")" ;;
	esac
	[ $rc -eq 0 ] || fail "loadgen exited $rc: $LG"
}

# room_sent ROOM: what loadgen sent to ROOM.
room_sent() {
	awk -v r="$1" '$1 == "room" && $2 == r { print $4 }' "$T/lg.out"
}

# ---- the node ------------------------------------------------------------------

# served MOD: the version of MOD chatd serves.
served() {
	lm status | awk -v m="$1" '$1 == m { print $2 }'
}

# wait_status CMD: polls until `livemod status` satisfies the shell test CMD
# (run with the status text in $S).
wait_status() {
	n=0
	while :; do
		S=$(lm status 2>&1)
		eval "$1" && return 0
		n=$((n + 1))
		if [ $n -gt 600 ]; then
			fail "status never satisfied '$1': $S"
			return 1
		fi
		sleep 0.05
	done
}

no_old() {
	wait_status 'case "$S" in *"  old "*) false ;; *) true ;; esac'
}

# ---- the tests -----------------------------------------------------------------

t_session() {
	setup
	chatd_start
	copen 5
	copen 6
	cask 5 "/nick alice" "ok nick alice"
	cask 6 "/nick bob" "ok nick bob"
	cask 5 "hello" "error join a room first: /join ROOM"
	cask 5 "/join lobby" "ok join lobby"
	cask 6 "/join lobby" "ok join lobby"
	cask 5 "/version" "version mod_messager 1.0.0 mod_motd 1.0.0 mod_util 1.0.0"
	# every member receives a message, the sender too; control characters
	# escaped by mod_util
	cask 5 "$(printf 'hi\tbob')" "msg lobby #1 alice: hi?bob"
	cread 6
	[ "$LINE" = "msg lobby #1 alice: hi?bob" ] || fail "bob got '$LINE'"
	cask 6 "hi alice" "msg lobby #2 bob: hi alice"
	cread 5
	[ "$LINE" = "msg lobby #2 bob: hi alice" ] || fail "alice got '$LINE'"
	cask 6 "/stats" "stats lobby messages 2 rooms 1 (mod_messager 1.0.0, layout 1)"
	cask 5 "/nick no way" "error bad nick: 1-31 of [A-Za-z0-9_-]"
	cask 5 "/frobnicate" "error unknown command /frobnicate"
	# another room hears nothing of lobby
	cask 6 "/join side" "ok join side"
	cask 5 "lobby only" "msg lobby #3 alice: lobby only"
	cask 6 "side only" "msg side #1 bob: side only"
	cask 5 "/motd" "motd Welcome to chatd. Commands: /nick NAME, /join ROOM, /version, /stats, /motd, /quit"
	cask 5 "/quit" "bye"
	cread 5
	[ "$LINE" = EOF ] || fail "after /quit: '$LINE', want the end"
	cclose 5
	# an update while bob is connected: his next line runs v2
	use v2 mod_messager
	use v2 mod_util
	expect 0 lm update
	has "eval: {ok,[]}" "$OUT"
	cask 6 "/version" "version mod_messager 2.0.0 mod_motd 1.0.0 mod_util 1.1.0"
	cask 6 "$(printf 'tab\there')" 'msg side #2 <bob> tab\x09here'
	cask 6 "/stats lobby" "stats lobby messages 3 rooms 2 bytes 0 last - (mod_messager 2.0.0, layout 2)"
	cclose 6
	chatd_stop
}

# CHATD_FLIPS (100) updates; CHATD_RATE (0) messages a second per loadgen
# connection, 0 for as fast as they go: issue 4's 100 at full rate.
t_load_flips() {
	setup
	chatd_start
	lg_start --conns 8 --rooms 2 --rate "${CHATD_RATE:-0}"
	failed=0
	i=1
	while [ $i -le "${CHATD_FLIPS:-100}" ]; do
		if [ $((i % 2)) = 1 ]; then v=v2 vsn=2.0.0; else v=v1 vsn=1.0.0; fi
		use $v mod_messager
		expect 0 lm update
		case "$OUT" in
		*"eval: {ok,[]}"*) ;;
		*) failed=$((failed + 1)); fail "update $i to $vsn: $OUT $ERR" ;;
		esac
		[ "$(served mod_messager)" = "$vsn" ] ||
			fail "update $i: serves $(served mod_messager), want $vsn"
		# every loadgen connection moves at its next line; the old
		# version goes with the last of them (soft_purge)
		no_old || break
		i=$((i + 1))
	done
	echo "updates: $((i - 1)) done, $failed failed"
	[ $failed -eq 0 ] || fail "$failed updates failed"
	lg_stop
	# the state survived every conversion: each room counted exactly
	# what was sent to it
	copen 5
	for r in lg-r0 lg-r1; do
		want=$(room_sent $r)
		csend 5 "/stats $r"
		cread 5
		case "$LINE" in
		"stats $r messages $want rooms 2 (mod_messager 1.0.0, layout 1)") ;;
		"stats $r messages $want rooms 2 bytes "*" (mod_messager 2.0.0, layout 2)") ;;
		*) fail "room $r: '$LINE', want $want messages" ;;
		esac
	done
	cclose 5
	[ "$(sql 'SELECT count(*) FROM apply_runs WHERE status != "ok"')" = 0 ] ||
		fail "runs not ok: $(sql 'SELECT id, status FROM apply_runs WHERE status != "ok"')"
	chatd_stop
}

t_brutal_purge_pinned() {
	setup
	chatd_start
	# three idle connections, pinned to mod_messager 1.0.0
	for fd in 5 6 7; do
		copen $fd
		cask $fd "/nick idle$fd" "ok nick idle$fd"
		cask $fd "/join quiet" "ok join quiet"
		cask $fd "/version" "version mod_messager 1.0.0 mod_motd 1.0.0 mod_util 1.0.0"
	done
	lg_start --conns 6 --rooms 2 --rate 40
	use v2 mod_messager
	expect 0 lm update
	has "eval: {ok,[]}" "$OUT"
	# loadgen's connections move to 2.0.0 at their next line; the idle
	# ones, which send nothing, keep 1.0.0
	wait_status 'case "$S" in *"old 1.0.0 ("*") pins 3, retiring"*) true ;; *) false ;; esac'
	kill -USR2 "$CHATD_PID" # chatd: brutal purge of every old version
	for fd in 5 6 7; do
		cread $fd
		[ "$LINE" = "closing: module mod_messager 1.0.0 purged (brutal_purge)" ] ||
			fail "idle$fd: last line '$LINE'"
		cread $fd
		[ "$LINE" = EOF ] || fail "idle$fd still open: '$LINE'"
		cclose $fd
	done
	no_old
	lg_stop
	n=$(grep -c 'closing: module' "$T/chatd.err")
	[ "$n" = 3 ] || fail "chatd closed $n connections, want the 3 idle ones: $(grep closing "$T/chatd.err")"
	for fd in 5 6 7; do
		grep -q "(idle$fd): closing: module mod_messager 1.0.0 purged" "$T/chatd.err" ||
			fail "idle$fd not closed in the log"
	done
	copen 5
	cask 5 "/version" "version mod_messager 2.0.0 mod_motd 1.0.0 mod_util 1.0.0"
	cclose 5
	chatd_stop
}

t_brutal_purge_plan() {
	setup
	chatd_start
	for fd in 5 6; do
		copen $fd
		cask $fd "/join quiet" "ok join quiet"
	done
	use v2 mod_messager
	expect 0 lm plan --purge brutal_purge
	has "brutal_purge" "$OUT"
	plan=$(ls "$STATE/plans" | sed -n 's/^\([0-9]*\)\.json$/\1/p' | sort -n | tail -1)
	expect 0 lm apply "$plan"
	has "eval: {ok,[]}" "$OUT"
	for fd in 5 6; do
		cread $fd
		[ "$LINE" = "closing: module mod_messager 1.0.0 purged (brutal_purge)" ] ||
			fail "fd $fd: last line '$LINE'"
		cclose $fd
	done
	[ "$(served mod_messager)" = 2.0.0 ] || fail "serves $(served mod_messager)"
	no_old
	copen 5
	cask 5 "/join quiet" "ok join quiet"
	cask 5 "still here" "msg quiet #1 <guest3> still here"
	cclose 5
	chatd_stop
}

run_test t_session
run_test t_load_flips
run_test t_brutal_purge_pinned
run_test t_brutal_purge_plan
finish
