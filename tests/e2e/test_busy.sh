#!/bin/sh
# test_busy.sh - the control API under clients that hold connections
# (agent/node/gate.c; docs/control-api.md "Limits", docs/SECURITY.md):
# clients that trickle their headers neither keep a slot past the head
# deadline nor keep an operator out; a peer gets at most 8 connections;
# when every slot serves a request, a newcomer is answered 503 or 429
# node_busy with Retry-After, and the CLI says "node busy" (exit 4).
# Behaviour only: every wait is on an event the clients record
# (tests/e2e/trickle.c), with a hang guard.
. "$(dirname "$0")/lib.sh"

one() {
	mod mod_a.so mod_a 1.0.0
	expect 0 lm init --libdir "$LIB" --app app
	trickle_build
}

# t_operator_gets_a_slot: 17 processes trickle their heads on the unix
# socket (one more than the listener serves); the 17th evicts the oldest,
# and `livemod status` still gets a slot, evicting another.
t_operator_gets_a_slot() {
	one
	export LIVEMOD_HTTP_HEAD_S=3600 # the deadline out of the way
	host
	mkdir "$T/tr"
	"$T/trickle" -u "$STATE/agent.sock" -n 17 -f -d "$T/tr" 2> "$T/tr.err" &
	tr=$!
	# readiness: the 17th came in and the node made room for it
	wait_file "$T/tr/ready" "the tricklers never connected"
	wait_events "$T/tr" closed 1 "the 17th trickler evicted no one"
	expect 0 lm status
	has "mod_a  1.0.0" "$OUT"
	wait_events "$T/tr" closed 2 "the operator's connection evicted no one"
	has "had sent no whole request head; closed to serve one from pid" \
		"$(cat "$T/host.err")"
	# the node answered none of them: each was closed
	hasnt answer "$(cat "$T/tr/events")"
	touch "$T/tr/stop"
	wait "$tr"
	host_term
}

# t_operator_gets_a_slot_tcp: the same over TCP, where every trickler
# has the operator's address (127.0.0.1): the peer's limit (8) evicts its
# own oldest, and an authorised `livemod status` gets in.
t_operator_gets_a_slot_tcp() {
	one
	export LIVEMOD_HTTP_HEAD_S=3600
	host --http 127.0.0.1:0
	mkdir "$T/tr"
	"$T/trickle" -t "127.0.0.1:$PORT" -n 17 -d "$T/tr" 2> "$T/tr.err" &
	tr=$!
	wait_file "$T/tr/ready" "the tricklers never connected"
	# 17 from one address: 9 evicted to keep the peer at 8
	wait_events "$T/tr" closed 9 "the peer's limit evicted no one"
	expect 0 env LIVEMOD_NODE="127.0.0.1:$PORT" "$LIVEMOD" --state "$STATE" status
	has "mod_a  1.0.0" "$OUT"
	wait_events "$T/tr" closed 10 "the operator's connection evicted no one"
	has "closed to serve one from 127.0.0.1 (its peer at its limit)" \
		"$(cat "$T/host.err")"
	touch "$T/tr/stop"
	wait "$tr"
	host_term
}

# t_head_deadline: a head still trickling LIVEMOD_HTTP_HEAD_S after
# accept is cut, however steadily its bytes come; the node serves on.
t_head_deadline() {
	one
	export LIVEMOD_HTTP_HEAD_S=1
	host
	mkdir "$T/tr"
	"$T/trickle" -u "$STATE/agent.sock" -n 1 -i 50 -d "$T/tr" 2> "$T/tr.err" &
	tr=$!
	# cut by the node, not ended by the trickler's own 120 s guard
	wait_events "$T/tr" closed 1 "a trickling head was never cut"
	[ ! -e "$T/tr/stop" ] || fail "the trickler stopped by itself"
	has "sent no whole request head within 1 s; closed" "$(cat "$T/host.err")"
	touch "$T/tr/stop"
	wait "$tr"
	expect 0 lm status
	host_term
}

# t_peer_limit: a peer whose 8 connections all hold requests being served
# gets 429 node_busy with Retry-After for a 9th; another peer (the
# operator) still gets in.
t_peer_limit() {
	one
	export LIVEMOD_HTTP_IDLE_S=600 # the held requests stay held
	host
	mkdir "$T/tr"
	"$T/trickle" -u "$STATE/agent.sock" -b -n 9 -d "$T/tr" 2> "$T/tr.err" &
	tr=$!
	wait_file "$T/tr/ready" "the 9 requests were never all answered or held"
	# the first 8 held (no event), the 9th answered, then closed
	[ "$(head -1 "$T/tr/events")" = "answer 8 HTTP/1.1 429 Too Many Requests" ] ||
		fail "events: $(cat "$T/tr/events")"
	hasnt " 7" "$(cat "$T/tr/events")"
	a=$(cat "$T/tr/answer.8")
	has "Retry-After: 1" "$a"
	hasj '"code": "node_busy"' "$a"
	has "already has 8 requests served on state/agent.sock" "$a"
	expect 0 lm status
	touch "$T/tr/stop"
	wait "$tr"
	host_term
}

# t_full: 16 peers' requests held: a 17th connection is 503 node_busy,
# which the CLI reports as "node busy", exit 4, never "no running node";
# once they end, the node serves again.
t_full() {
	one
	export LIVEMOD_HTTP_IDLE_S=600
	host
	mkdir "$T/tr"
	"$T/trickle" -u "$STATE/agent.sock" -b -f -n 16 -d "$T/tr" 2> "$T/tr.err" &
	tr=$!
	wait_file "$T/tr/ready" "the 16 requests were never all held"
	[ ! -e "$T/tr/events" ] || fail "events: $(cat "$T/tr/events")"
	expect 4 lm status
	has "node busy" "$ERR"
	hasnt "no running node" "$ERR"
	expect 4 lm --json status
	hasj '"code": "node_busy"' "$OUT"
	code=$(curl -s -m 30 -D "$T/h" -o "$T/b" -w '%{http_code}' \
		--unix-socket "$STATE/agent.sock" http://localhost/health)
	[ "$code" = 503 ] || fail "17th request: $code"
	has "Retry-After: 1" "$(cat "$T/h")"
	hasj '"code": "node_busy"' "$(cat "$T/b")"
	touch "$T/tr/stop"
	wait "$tr"
	expect 0 lm status
	host_term
}

# t_bad_limits: a limit mistyped in the environment stops the node's
# start, naming it, rather than silently becoming another; nothing is
# left listening.
t_bad_limits() {
	one
	# (timeout: a hang guard, should the node start after all)
	for v in 0 3601 abc 10s -5 ' 7'; do
		expect 1 env LIVEMOD_HTTP_HEAD_S="$v" timeout 30 "$LMHOST" \
			--state "$STATE"
		has "LIVEMOD_HTTP_HEAD_S='$v': expected whole seconds, 1 to 3600" "$ERR"
		[ ! -e "$STATE/agent.sock" ] || fail "a refused start left agent.sock"
	done
	expect 1 env LIVEMOD_HTTP_IDLE_S=x timeout 30 "$LMHOST" --state "$STATE"
	has "LIVEMOD_HTTP_IDLE_S='x': expected whole seconds" "$ERR"
	# empty is unset: the default
	export LIVEMOD_HTTP_HEAD_S=
	host
	expect 0 lm status
	host_term
}

run_test t_bad_limits
run_test t_operator_gets_a_slot
run_test t_operator_gets_a_slot_tcp
run_test t_head_deadline
run_test t_peer_limit
run_test t_full
finish
