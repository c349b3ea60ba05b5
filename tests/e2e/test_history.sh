#!/bin/sh
# test_history.sh - history, rollback, current and permanent, end to end:
# a real node (lmhost) on a real state dir, real modules compiled here.
#
# mod_s (tests/modules/stateful.c) changes its state's layout with each
# major version and writes every init, adoption and code_change, with
# its Extra and the value it carries, to $LMTEST_TRAIL: the trail shows
# that a rollback runs code_change down in the version being left, with
# the Extra of the way up, and that the value survives every step.
. "$(dirname "$0")/lib.sh"

# plan_apply [PLAN ARGS...]: records a plan and applies it on the node.
plan_apply() {
	expect 0 lm plan "$@"
	id=$(sql "SELECT max(id) FROM plans")
	expect 0 lm apply "$id"
}

# three releases: 1 {mod_s 1, mod_old}, 2 {mod_s 2, mod_old, mod_new},
# 3 {mod_s 3, mod_new}; the way up gave mod_s the extras e2 and e3.
three_releases() {
	export LMTEST_TRAIL="$T/trail"
	smod 1.0.0
	mod mod_old.so mod_old 1.0.0
	expect 0 lm init --libdir "$LIB" --app app
	host --call mod_s
	smod 2.0.0
	mod mod_new.so mod_new 1.0.0
	plan_apply --extra mod_s=e2
	smod 3.0.0
	rm "$LIB/mod_old.so"
	plan_apply --extra mod_s=e3
	expect 0 lm status
	has "mod_s    3.0.0" "$OUT"
}

t_rollback_three_releases() {
	three_releases
	expect 0 lm rollback
	has "plan 3: release 3 -> 2 (down)" "$OUT"
	has '{update,mod_s,{advanced,"e3"}' "$OUT"
	has "{add_module,mod_old}" "$OUT"
	has "{code_change,down,[{mod_s,\"e3\"}]}" "$OUT"
	has "eval: {ok,[]}" "$OUT"
	[ "$(served mod_s)" = 2.0.0 ] || fail "mod_s after rollback: $(served mod_s)"
	[ "$(served mod_old)" = 1.0.0 ] || fail "mod_old not back: $(served mod_old)"
	[ "$(sql 'SELECT current_release || permanent_release FROM nodes')" = 22 ] ||
		fail "nodes: $(sql 'SELECT * FROM nodes')"
	expect 0 lm rollback
	has "release 2 -> 1 (down)" "$OUT"
	has "{delete_module,mod_new}" "$OUT"
	[ "$(served mod_s)" = 1.0.0 ] || fail "mod_s: $(served mod_s)"
	[ "$(served mod_new)" = none ] || fail "mod_new still served"
	# the rollbacks of the rollbacks: straight back up to 3
	expect 0 lm rollback --to 3
	has "release 1 -> 3" "$OUT"
	hasnt "(down)" "$OUT"
	has "{code_change,up,[{mod_s,\"e3\"}]}" "$OUT"
	[ "$(served mod_s)" = 3.0.0 ] || fail "mod_s: $(served mod_s)"
	[ "$(served mod_old)" = none ] || fail "mod_old still served"
	[ "$(sql 'SELECT current_release FROM nodes')" = 3 ] ||
		fail "current: $(sql 'SELECT current_release FROM nodes')"
	# no release is made by a rollback: they go between recorded ones
	[ "$(sql 'SELECT count(*) FROM releases')" = 3 ] || fail "releases made"
	want="init 1 1 value 42 extra ''
up 1->2 value 42 extra 'e2'
up 2->3 value 42 extra 'e3'
down 3->2 value 42 extra 'e3'
adopt 2 2 value 42 extra ''
down 2->1 value 42 extra 'e2'
adopt 1 1 value 42 extra ''
up 1->3 value 42 extra 'e3'"
	[ "$(cat "$T/trail")" = "$want" ] ||
		fail "trail: $(cat "$T/trail")"
	kill -TERM "$HOST"
	wait "$HOST"
	HOST=""
	has "bad 0" "$(cat "$T/host.out")"
}

t_rollback_empty_libdir() {
	three_releases
	rm -f "$LIB"/*.so "$STATE"/objects/*.so
	expect 0 lm rollback --to 1
	has "eval: {ok,[]}" "$OUT"
	[ "$(served mod_s)" = 1.0.0 ] || fail "mod_s: $(served mod_s)"
	[ "$(served mod_old)" = 1.0.0 ] || fail "mod_old: $(served mod_old)"
	# extracted again from the store, checked against their oids
	for oid in $(sql "SELECT oid FROM release_modules WHERE release_id = 1"); do
		[ -f "$STATE/objects/$oid.so" ] || fail "objects/$oid.so not extracted"
	done
}

t_rollback_dry_run() {
	three_releases
	snapshot before
	expect 0 lm rollback --dry-run
	unchanged
	has "plan (dry run, nothing written): release 3 -> 2" "$OUT"
	has "direction: down" "$OUT"
	has "downgrade script:" "$OUT"
	expect 0 lm rollback --dry-run --json
	hasj '"direction": "down"' "$OUT"
	hasj '"from": {"release": 3' "$OUT"
	hasj '"id": null' "$OUT"
	unchanged
	[ "$(served mod_s)" = 3.0.0 ] || fail "moved"
	# no node needed for a look
	host_kill
	expect 0 lm rollback --dry-run --to 1
	has "release 3 -> 1" "$OUT"
}

t_rollback_bad_input() {
	three_releases
	snapshot before
	expect 2 lm rollback --to 99
	has "no release 99" "$ERR"
	expect 2 lm rollback --to 3
	has "already on release 3" "$ERR"
	expect 2 lm rollback --to x
	has "--to wants a release id" "$ERR"
	expect 2 lm rollback --to 0
	expect 2 lm rollback extra_operand
	unchanged
	# the HTTP face of the same refusals
	for case in '{"to": 99}|404|no release 99' '{"to": "2"}|400|to: expected' \
		    '{"to": 1.5}|400|to: expected' '{"nope": 1}|400|unknown field' \
		    '[1]|400|expected an object' '{|400|not JSON'; do
		body=${case%%|*} rest=${case#*|}
		code=$(curl -s -m 10 -o "$T/.body" -w '%{http_code}' \
			--unix-socket "$STATE/agent.sock" -X POST \
			-d "$body" http://localhost/rollback)
		[ "$code" = "${rest%%|*}" ] || fail "POST /rollback $body: $code"
		has "${rest#*|}" "$(cat "$T/.body")"
	done
	code=$(curl -s -m 10 -o "$T/.body" -w '%{http_code}' -X POST \
		--unix-socket "$STATE/agent.sock" 'http://localhost/rollback?try=maybe')
	[ "$code" = 400 ] || fail "try=maybe: $code"
	unchanged
	# without a node, bad input still changes nothing (rollback then sets
	# the release the next start boots: test_recovery.sh)
	host_kill
	expect 2 lm rollback --to 99
	expect 2 lm rollback --try
	unchanged
}

t_rollback_first_release() {
	mod mod_a.so mod_a 1.0.0
	expect 0 lm init --libdir "$LIB" --app app
	host
	snapshot before
	expect 2 lm rollback
	has "release 1 is the first release" "$ERR"
	expect 2 lm rollback --dry-run
	has "no earlier release" "$ERR"
	unchanged
}

t_history() {
	three_releases
	expect 0 lm rollback
	expect 0 lm history
	has "current release 2, permanent release 2" "$OUT"
	has "release 3 " "$OUT"
	has "from 2" "$OUT"
	has "(init)" "$OUT"
	# newest first, the rollback's run on top
	first=$(printf '%s\n' "$OUT" | grep '^run' | head -1)
	has "plan 3" "$first"
	has "3 -> 2  ok" "$first"
	has "check {ok,[]}  eval {ok,[]}" "$first"
	has " ms" "$first"
	[ "$(printf '%s\n' "$OUT" | grep -c '^run')" = 3 ] || fail "runs: $OUT"
	expect 0 lm history --json
	hasj '"current": 2, "permanent": 2' "$OUT"
	hasj '"check": {"ok": []}' "$OUT"
	curl -s -m 10 --unix-socket "$STATE/agent.sock" \
		http://localhost/history > "$T/h.json"
	printf '%s\n' "$OUT" > "$T/cli.json"
	cmp -s "$T/h.json" "$T/cli.json" ||
		fail "GET /history differs: $(diff "$T/h.json" "$T/cli.json" | head)"
}

# A run cut by a kill is shown as interrupted, with its phase.
t_history_interrupted() {
	mod mod_x.so mod_x 1.0.0 -DMOD_CODE_CHANGE
	expect 0 lm init --libdir "$LIB" --app app
	host
	mod mod_x.so mod_x 1.1.0 -DMOD_CC_SLEEP_MS=3000
	lm update > /dev/null 2>&1 &
	n=0
	until [ "$(sql "SELECT phase FROM apply_runs")" = point_of_no_return ]; do
		n=$((n + 1))
		[ $n -lt 500 ] || { fail "never reached point_of_no_return"; return; }
		sleep 0.02
	done
	host_kill
	wait
	host
	expect 0 lm history
	has "1 -> 2  interrupted at point_of_no_return" "$OUT"
	has "current release 1, permanent release 1" "$OUT"
}

# --try: the node runs the new release, a restart boots the permanent
# one again; make_permanent keeps it.
t_try_then_crash() {
	mod mod_a.so mod_a 1.0.0
	expect 0 lm init --libdir "$LIB" --app app
	host
	mod mod_a.so mod_a 2.0.0 -DMOD_ANSWER=2
	expect 0 lm update --try
	has "not permanent" "$OUT"
	[ "$(served mod_a)" = 2.0.0 ] || fail "try not applied"
	[ "$(sql 'SELECT current_release || permanent_release FROM nodes')" = 21 ] ||
		fail "nodes: $(sql 'SELECT * FROM nodes')"
	expect 0 lm history
	has "current release 2, permanent release 1" "$OUT"
	host_kill
	host
	[ "$(served mod_a)" = 1.0.0 ] || fail "restart did not undo the try"
	[ "$(sql 'SELECT current_release || permanent_release FROM nodes')" = 11 ] ||
		fail "nodes after restart: $(sql 'SELECT * FROM nodes')"
	has "never made permanent; booting permanent release 1" "$(cat "$T/host.err")"
	# try again, keep it this time
	expect 0 lm update --try
	expect 0 lm make_permanent
	has "release 2 is permanent (was release 1)" "$OUT"
	host_kill
	host
	[ "$(served mod_a)" = 2.0.0 ] || fail "permanent release not booted"
	# without --try an update is permanent at once
	mod mod_a.so mod_a 3.0.0 -DMOD_ANSWER=3
	expect 0 lm update
	has "release 3 is current and permanent" "$OUT"
	[ "$(sql 'SELECT current_release || permanent_release FROM nodes')" = 33 ] ||
		fail "nodes: $(sql 'SELECT * FROM nodes')"
	# rollback --try, over HTTP too
	code=$(curl -s -m 20 -o "$T/.body" -w '%{http_code}' -X POST \
		--unix-socket "$STATE/agent.sock" 'http://localhost/rollback?try=1')
	[ "$code" = 200 ] || fail "POST /rollback?try=1: $code $(cat "$T/.body")"
	hasj '"permanent": false' "$(cat "$T/.body")"
	[ "$(sql 'SELECT current_release || permanent_release FROM nodes')" = 23 ] ||
		fail "nodes: $(sql 'SELECT * FROM nodes')"
}

t_make_permanent_bad() {
	mod mod_a.so mod_a 1.0.0
	expect 0 lm init --libdir "$LIB" --app app
	snapshot before
	expect 2 lm make_permanent
	has "release 1 is already permanent" "$ERR"
	expect 2 lm make_permanent 2
	unchanged
	expect 2 lm --state "$T/nothing" make_permanent
	has "not initialised" "$ERR"
}

for t in t_rollback_three_releases t_rollback_empty_libdir \
	 t_rollback_dry_run t_rollback_bad_input t_rollback_first_release \
	 t_history t_history_interrupted t_try_then_crash \
	 t_make_permanent_bad; do
	run_test "$t"
done
finish
