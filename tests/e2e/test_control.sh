#!/bin/sh
# test_control.sh - the control API end to end (docs/control-api.md): every
# status code it answers, the token on TCP, the body limit, the socket's
# mode, a stale or a live socket at start, and the `livemod update`,
# `apply` and `status` commands with their exit statuses, against a real
# node in build/tests/lmhost. The connection limits and node_busy are
# test_busy.sh's.
. "$(dirname "$0")/lib.sh"


# ---- the host ------------------------------------------------------------



# ---- requests ------------------------------------------------------------

# req CURLARGS... URL: one request; sets CODE, BODY (also $T/.body) and
# HEADERS ($T/.hdr).
req() {
	CODE=$(curl -s -m 20 -o "$T/.body" -D "$T/.hdr" -w '%{http_code}' "$@")
	BODY=$(cat "$T/.body" 2>/dev/null)
}

# api METHOD PATH [CURLARGS...]: a request on state/agent.sock.
api() {
	m=$1 p=$2
	shift 2
	req --unix-socket "$STATE/agent.sock" -X "$m" "$@" "http://localhost$p"
}

# tcp METHOD PATH [CURLARGS...]: a request on the TCP port, no token.
tcp() {
	m=$1 p=$2
	shift 2
	req -X "$m" "$@" "http://127.0.0.1:$PORT$p"
}

# field PATH: a value of the last answer ('$.error.code'), read with
# SQLite's JSON functions (no jq needed).
field() {
	sqlite3 :memory: "SELECT json_extract(readfile('$T/.body'), '$1')"
}

# want CODE [ERRCODE [TEXT]]: the last answer's status, error code, and a
# text its message holds.
want() {
	[ "$CODE" = "$1" ] || fail "HTTP $CODE, want $1: $BODY"
	[ $# -lt 2 ] || [ "$(field '$.error.code')" = "$2" ] ||
		fail "error code '$(field '$.error.code')', want '$2': $BODY"
	[ $# -lt 3 ] || has "$3" "$(field '$.error.message')"
}

header() {
	tr -d '\r' < "$T/.hdr" | grep -i "^$1:" | sed 's/^[^:]*: *//'
}

served() {
	api GET /modules
	sqlite3 :memory: "SELECT json_extract(m.value, '\$.vsn')
	  FROM json_each(readfile('$T/.body'), '\$.modules') m
	  WHERE json_extract(m.value, '\$.name') = '$1'"
}

one() {
	mod mod_x.so mod_x 1.0.0 "$@"
	lm init --libdir "$LIB" --app lmc > /dev/null || exit 99
}

# ---- the tests -----------------------------------------------------------

t_socket_mode_and_health() {
	one
	host
	[ "$(stat -c %a "$STATE/agent.sock")" = 600 ] ||
		fail "agent.sock mode $(stat -c %a "$STATE/agent.sock")"
	[ ! -e "$STATE/token" ] || fail "a token without --http"
	api GET /health
	want 200
	[ "$(field '$.status')" = ok ] || fail "health: $BODY"
	[ "$(field '$.release')" = 1 ] || fail "health: $BODY"
	has "application/json" "$(header Content-Type)"
	api HEAD /health -I
	want 200
	api GET /modules
	want 200
	[ "$(served mod_x)" = 1.0.0 ] || fail "modules: $BODY"
	api GET /update-modules
	want 200
	host_term
	[ ! -e "$STATE/agent.sock" ] || fail "agent.sock left after a clean stop"
}

t_unknown_path_and_method() {
	one
	host
	for p in / /nope /modules/ /update-modules/some /plans /plans/abc \
		/plans/-1 /plans/1/apply/x; do
		api GET "$p"
		want 404 not_found
	done
	api GET /plans/99
	want 404 not_found "99"
	api POST /plans/99/apply
	want 404 not_found "99"
	api DELETE /modules
	want 405 method_not_allowed
	[ "$(header Allow)" = "GET, HEAD" ] || fail "Allow: $(header Allow)"
	api PUT /update-modules
	want 405 method_not_allowed
	[ "$(header Allow)" = "GET, HEAD, POST" ] || fail "Allow: $(header Allow)"
	api GET /plans/1/apply
	want 405 method_not_allowed
	api POST /health
	want 405 method_not_allowed
	api GET /history
	want 200
	api POST /rollback -d '{"to": 1}'
	want 400 bad_input "already on release 1"
	api GET /rollback
	want 405 method_not_allowed
	host_term
}

# Every malformed body is a 400 naming the field, and changes nothing.
t_bad_bodies() {
	one
	host
	mod mod_x.so mod_x 1.1.0 -DMOD_ANSWER=2
	snapshot before
	api POST /update-modules
	want 400 bad_input "empty"
	for b in '{"modules":' 'modules' '{"modules": ["mod_x"]} x'; do
		api POST /update-modules -d "$b"
		want 400 bad_input "not JSON"
	done
	api POST /update-modules -d '["mod_x"]'
	want 400 bad_input "object"
	api POST /update-modules -d '{}'
	want 400 bad_input "modules"
	api POST /update-modules -d '{"modules": "mod_x"}'
	want 400 bad_input "modules"
	api POST /update-modules -d '{"modules": []}'
	want 400 bad_input "non-empty"
	api POST /update-modules -d '{"modules": ["mod_x", 3]}'
	want 400 bad_input "modules[1]"
	api POST /update-modules -d '{"modules": ["Mod-X"]}'
	want 400 bad_input "modules[0]"
	api POST /update-modules -d '{"modules": ["mod_x", "mod_x"]}'
	want 400 bad_input "twice"
	api POST /update-modules -d '{"modules": ["mod_x"], "purge": "x"}'
	want 400 bad_input "purge"
	api POST /update-modules -d '{"modules": ["mod_nope"]}'
	want 404 not_found "mod_nope"
	unchanged
	[ "$(served mod_x)" = 1.0.0 ] || fail "mod_x $(served mod_x) served"
	host_term
}

# POST /plans/{id}/apply with the reviewed plan: it must be JSON, that
# plan, and the very text recorded.
t_apply_reviewed_body() {
	one
	host
	mod mod_x.so mod_x 1.1.0 -DMOD_ANSWER=2
	lm plan > /dev/null || fail "plan"
	snapshot before
	api POST /plans/1/apply -d '{"id": 1'
	want 400 bad_input "not JSON"
	api POST /plans/1/apply -d '{"id": 2}'
	want 400 bad_input "id"
	sed 's/"format"/ "format"/' "$STATE/plans/1.json" > "$T/edited.json"
	api POST /plans/1/apply --data-binary "@$T/edited.json"
	want 400 bad_input "differs"
	expect 2 lm apply "$T/edited.json"
	has "differs" "$ERR"
	unchanged
	[ "$(served mod_x)" = 1.0.0 ] || fail "mod_x $(served mod_x) served"
	api POST /plans/1/apply --data-binary "@$STATE/plans/1.json"
	want 200
	[ "$(field '$.check')" = "{ok,[]}" ] || fail "check: $BODY"
	[ "$(served mod_x)" = 1.1.0 ] || fail "mod_x $(served mod_x) served"
	host_term
}

# 413 for a body past 64 KiB, announced (Content-Length) or not (chunked),
# and at once to a client waiting for "100 Continue".
t_body_too_large() {
	one
	host
	head -c 70000 /dev/zero | tr '\0' ' ' > "$T/big"
	snapshot before
	api POST /update-modules --data-binary "@$T/big"
	want 413 too_large "65536"
	api POST /update-modules -H 'Transfer-Encoding: chunked' \
		--data-binary "@$T/big"
	want 413 too_large
	api POST /plans/1/apply --data-binary "@$T/big"
	want 413 too_large
	# a client that waits for "100 Continue" is refused without sending
	# its body (the others above were read to the end and dropped, so
	# none of them lost its 413 to a reset connection)
	trickle_build
	mkdir "$T/tr"
	"$T/trickle" -u "$STATE/agent.sock" -n 1 -b -l 70000 -d "$T/tr" \
		2> "$T/tr.err" &
	tr=$!
	wait_events "$T/tr" answer 1 "no answer before the body was sent"
	has "answer 0 HTTP/1.1 413" "$(cat "$T/tr/events")"
	touch "$T/tr/stop"
	wait "$tr"
	# 64 KiB exactly is read (and is no JSON)
	head -c 65536 /dev/zero | tr '\0' ' ' > "$T/edge"
	api POST /update-modules --data-binary "@$T/edge"
	want 400 bad_input
	unchanged
	api GET /health
	want 200
	host_term
}

t_tcp_token() {
	one
	host --http 127.0.0.1:0
	[ -n "$PORT" ] && [ "$PORT" -gt 0 ] || fail "port '$PORT'"
	[ "$(stat -c %a "$STATE/token")" = 600 ] ||
		fail "token mode $(stat -c %a "$STATE/token")"
	tok=$(cat "$STATE/token")
	printf '%s' "$tok" | grep -Eq '^[0-9a-f]{64}$' || fail "token '$tok'"
	tcp GET /health
	want 401 unauthorized
	[ "$(header WWW-Authenticate)" = Bearer ] ||
		fail "WWW-Authenticate: $(header WWW-Authenticate)"
	tcp GET /nope
	want 401 unauthorized
	# the token with its last digit changed (to 1 when it was 0)
	last=${tok#"${tok%?}"}
	[ "$last" = 0 ] && other=1 || other=0
	tcp GET /health -H "Authorization: Bearer ${tok%?}$other"
	want 401 unauthorized
	tcp GET /health -H "Authorization: Bearer ${tok}0"
	want 401 unauthorized
	tcp GET /health -H "Authorization: Basic $tok"
	want 401 unauthorized
	# refused before the body is read
	head -c 70000 /dev/zero > "$T/big"
	tcp POST /update-modules --data-binary "@$T/big"
	want 401 unauthorized
	tcp GET /health -H "Authorization: Bearer $tok"
	want 200
	tcp GET /nope -H "Authorization: Bearer $tok"
	want 404 not_found
	# the socket needs none
	api GET /health
	want 200
	# the token is kept across restarts
	host_term
	host --http 127.0.0.1:0
	[ "$(cat "$STATE/token")" = "$tok" ] || fail "token changed on restart"
	tcp GET /modules -H "Authorization: Bearer $tok"
	want 200
	host_term
	# a token others may read is refused
	chmod 644 "$STATE/token"
	expect 1 "$LMHOST" --state "$STATE" --http 127.0.0.1:0
	has "token" "$ERR"
	has "chmod 600" "$ERR"
}

t_tcp_not_loopback() {
	one
	expect 1 "$LMHOST" --state "$STATE" --http 0.0.0.0:0
	has "not a loopback address" "$ERR"
	expect 1 "$LMHOST" --state "$STATE" --http 127.0.0.1:70000
	has "70000" "$ERR"
	expect 1 "$LMHOST" --state "$STATE" --http localhost
	has "HOST:PORT" "$ERR"
	[ ! -e "$STATE/token" ] || fail "a refused listener made a token"
	[ ! -e "$STATE/agent.sock" ] || fail "a refused start left agent.sock"
}

# A live node's socket is not taken over; a dead node's is.
t_socket_live_or_stale() {
	one
	host
	first=$HOST
	expect 1 "$LMHOST" --state "$STATE"
	has "another node answers" "$ERR"
	api GET /health
	want 200
	HOST=$first
	kill -KILL "$HOST"
	wait "$HOST" 2>/dev/null
	HOST=""
	[ -S "$STATE/agent.sock" ] || fail "a killed node's socket went away"
	expect 3 lm status
	has "no running node" "$ERR"
	has "agent.sock" "$ERR"
	host
	api GET /health
	want 200
	host_term
}

# 409 busy: of two updates at once, one applies and one is refused.
t_busy() {
	one -DMOD_CODE_CHANGE
	host
	# code_change holds until $T/hold is removed; hold.in says the
	# first update is inside it when the second one comes
	held_update
	api GET /update-modules/all
	rm -f "$T/hold"
	wait $HELD
	codes=$(printf '%s\n' "$CODE" "$(cat "$T/held.code")" | sort | paste -sd ' ')
	[ "$codes" = "200 409" ] || fail "codes '$codes', want '200 409'"
	[ "$CODE" = 409 ] || cp "$T/held.body" "$T/.body"
	[ "$(field '$.error.code')" = busy ] || fail "409 body: $(cat "$T/.body")"
	[ "$(served mod_x)" = 1.1.0 ] || fail "mod_x $(served mod_x) served"
	host_term
}

# 422 and 500 carry the result (check, eval) beside the error; the CLI
# prints them and exits 1.
t_check_and_eval_failed() {
	one
	host --call mod_x
	mod mod_x.so mod_x 1.1.0 -DMOD_SIG_LONG
	api GET /update-modules/all
	want 422 check_failed "mod_x"
	has "{error," "$(field '$.check')"
	[ -z "$(field '$.eval')" ] || fail "eval with a failed check: $BODY"
	expect 1 lm update mod_x
	has "check: {error," "$OUT"
	has "eval: not reached" "$OUT"
	has "mod_x" "$ERR"
	expect 1 lm --json update
	hasj '"code": "check_failed"' "$OUT"
	host_term
	# eval: code_change fails after the point of no return
	mod mod_x.so mod_x 1.0.0 -DMOD_CODE_CHANGE
	rm -rf "$STATE"
	lm init --libdir "$LIB" --app lmc > /dev/null || exit 99
	host --call mod_x
	mod mod_x.so mod_x 1.2.0 -DMOD_CC_FAIL
	api POST /update-modules -d '{"modules": ["mod_x"]}'
	want 500 eval_failed "mod_x"
	[ "$(field '$.check')" = "{ok,[]}" ] || fail "check: $BODY"
	has "{error," "$(field '$.eval')"
	expect 1 lm update
	has "check: {ok,[]}" "$OUT"
	has "eval: {error," "$OUT"
	[ "$(served mod_x)" = 1.0.0 ] || fail "mod_x $(served mod_x) served"
	host_term
}

# The CLI: update, apply (id and file), status; --json; exit statuses.
t_cli() {
	one
	host --pin mod_x
	expect 0 lm status
	echo "$OUT" | grep -Eq '^mod_x  1\.0\.0  [0-9a-f]{12}  pins 1$' ||
		fail "status: $OUT"
	has "release 1" "$OUT"
	expect 0 lm update
	has "nothing to update" "$OUT"
	# soft purge: the pinned old version stays, retiring
	mod mod_x.so mod_x 1.1.0 -DMOD_PURGE=LM_SOFT_PURGE -DMOD_ANSWER=2
	expect 0 lm update mod_x
	has "plan 1: release 1 -> 2" "$OUT"
	oid=$(sql "SELECT oid FROM module_versions WHERE vsn = '1.1.0'")
	has "objects: objects/$oid.so" "$OUT"
	has "script: [{load_module,mod_x" "$OUT"
	has "low level script: [{load_object_code,{lmc,[],[mod_x]}},
                   point_of_no_return," "$OUT"
	has "check: {ok,[]}" "$OUT"
	has "eval: {ok,[]}" "$OUT"
	expect 0 lm status
	echo "$OUT" | grep -Eq '^mod_x  1\.1\.0  [0-9a-f]{12}  pins 0$' ||
		fail "status: $OUT"
	echo "$OUT" | grep -Eq '^  old 1\.0\.0 \([0-9a-f]{12}\) pins 1, retiring$' ||
		fail "status: $OUT"
	has "release 2" "$OUT"
	expect 0 lm --json status
	hasj '"release": 2' "$OUT"
	# apply by file, then by id
	mod mod_x.so mod_x 1.2.0 -DMOD_ANSWER=3
	lm plan > /dev/null
	expect 0 lm apply "$STATE/plans/2.json"
	has "plan 2: release 2 -> 3" "$OUT"
	has "eval: {ok,[]}" "$OUT"
	mod mod_x.so mod_x 1.3.0 -DMOD_ANSWER=4
	lm plan > /dev/null
	expect 0 lm --json apply 3
	hasj '"eval": "{ok,[]}"' "$OUT"
	# bad input: 2; stale: 2; no such plan: 2
	mod mod_x.so mod_x 1.4.0
	lm plan --dry-run --json > "$T/dry.json"
	echo '{"plan": null}' > "$T/noplan.json"
	snapshot before
	expect 2 lm update Mod-X
	expect 2 lm update all mod_x
	expect 2 lm update mod_nope
	has "mod_nope" "$ERR"
	expect 2 lm apply 2
	has "applied" "$ERR"
	expect 2 lm --json apply 2
	hasj '"code": "stale"' "$OUT"
	expect 2 lm apply 99
	expect 2 lm apply "$T/none.json"
	has "$T/none.json" "$ERR"
	expect 2 lm apply "$T/dry.json"
	has "dry run" "$ERR"
	expect 2 lm apply "$T/noplan.json"
	has "format: missing; not a livemod.plan/1 plan" "$ERR"
	expect 2 lm status extra
	unchanged
	host_term
	# no node: 3
	expect 3 lm status
	has "no running node" "$ERR"
	expect 3 lm update
	expect 3 lm apply 1
	expect 3 lm --json status
	hasj '"code": "no_node"' "$OUT"
}

# The CLI over loopback TCP (LIVEMOD_NODE) with the token of STATE/token.
t_cli_tcp() {
	one
	host --http 127.0.0.1:0
	expect 0 env LIVEMOD_NODE="127.0.0.1:$PORT" "$LIVEMOD" --state "$STATE" status
	has "release 1" "$OUT"
	mod mod_x.so mod_x 1.1.0 -DMOD_ANSWER=2
	expect 0 env LIVEMOD_NODE="127.0.0.1:$PORT" "$LIVEMOD" --state "$STATE" update
	has "eval: {ok,[]}" "$OUT"
	# a wrong token is the node's 401: a usage error
	tok=$(cat "$STATE/token")
	cp "$STATE/token" "$T/token.good"
	echo "$tok" | tr 0-9a-f 1-9a-f0 > "$STATE/token"
	expect 2 env LIVEMOD_NODE="127.0.0.1:$PORT" "$LIVEMOD" --state "$STATE" status
	has "token" "$ERR"
	cp "$T/token.good" "$STATE/token"
	expect 2 env LIVEMOD_NODE="10.0.0.1:$PORT" "$LIVEMOD" --state "$STATE" status
	has "not a loopback address" "$ERR"
	host_term
	expect 3 env LIVEMOD_NODE="127.0.0.1:$PORT" "$LIVEMOD" --state "$STATE" status
	has "no running node: nothing listens on 127.0.0.1:$PORT" "$ERR"
}

[ -x "$LMHOST" ] || { echo "test_control: no $LMHOST (make build/tests/lmhost)"; exit 1; }
run_test t_socket_mode_and_health
run_test t_unknown_path_and_method
run_test t_bad_bodies
run_test t_apply_reviewed_body
run_test t_body_too_large
run_test t_tcp_token
run_test t_tcp_not_loopback
run_test t_socket_live_or_stale
run_test t_busy
run_test t_check_and_eval_failed
run_test t_cli
run_test t_cli_tcp
finish
