#!/bin/sh
# test_recovery.sh - a node can always come back (issue 11), end to end:
# a real host process (build/tests/lmhost) on a real state dir, real
# modules compiled here, SIGKILLs and restarts.
#
# The invariant, asserted after every apply and every failure path: the
# ledger's current release names exactly the objects the node runs
# (`livemod --json status` oids = the release's modules in the ledger).
# Covers: the check refusing what eval could only warn about (a removal
# the host still holds), the host's declared imports (checked at boot, by
# the node's check and by the planner offline), boot fallback after a
# release that cannot boot, offline rollback and make_permanent, and a
# reinstalled older object planned as a downgrade.
. "$(dirname "$0")/lib.sh"

# invariant: what the node runs is what the ledger's current release names.
invariant() {
	lm --json status > "$T/.status" 2> "$T/.status.err" ||
		{ fail "status: $(cat "$T/.status.err")"; return; }
	runs=$(sqlite3 :memory: "SELECT json_extract(m.value, '\$.name') || ' ' ||
	        json_extract(m.value, '\$.oid') FROM
	        json_each(readfile('$T/.status'), '\$.modules') m ORDER BY 1" |
	       paste -sd ' ')
	names=$(sql "SELECT name || ' ' || oid FROM release_modules WHERE
	             release_id = (SELECT current_release FROM nodes)
	             ORDER BY 1" | paste -sd ' ')
	[ "$runs" = "$names" ] ||
		fail "node runs '$runs' but the ledger's release $(release) is '$names'"
}

release() {
	sql 'SELECT current_release FROM nodes'
}

host_restart() {
	host_kill
	host "$@"
}

base() {
	mod mod_util.so mod_util 1.0.0
	mod mod_x.so mod_x 1.0.0 -DMOD_CODE_CHANGE "$@"
	lm init --libdir "$LIB" --app rec > /dev/null || exit 99
}

# ---- the check predicts eval ------------------------------------------------

# Stranding scenario 1: the host holds export refs into a module whose
# file an operator removed. The check refuses, naming the module and what
# holds it; nothing changes; a restart serves again.
t_remove_held_module_refused() {
	base
	host --call mod_x
	rm "$LIB/mod_x.so"
	expect 1 lm update all
	has 'check: {error,"' "$OUT"
	has "mod_x" "$OUT"
	has "export refs" "$OUT"
	has "eval: not reached" "$OUT"
	hasnt "current and permanent" "$OUT"
	[ "$(release)" = 1 ] || fail "ledger moved to release $(release)"
	[ "$(served mod_x)" = 1.0.0 ] || fail "mod_x: $(served mod_x)"
	invariant
	# over HTTP: 422 check_failed, nothing changed
	code=$(curl -s -m 20 -o "$T/.body" -w '%{http_code}' \
		--unix-socket "$STATE/agent.sock" http://localhost/update-modules/all)
	[ "$code" = 422 ] || fail "HTTP $code, want 422: $(cat "$T/.body")"
	has '"check_failed"' "$(cat "$T/.body")"
	invariant
	# putting the file back: nothing to update; a restart serves it
	mod mod_x.so mod_x 1.0.0 -DMOD_CODE_CHANGE
	expect 0 lm update all
	has "nothing to update" "$OUT"
	host_restart --call mod_x
	[ "$(served mod_x)" = 1.0.0 ] || fail "after restart mod_x: $(served mod_x)"
	invariant
}

# ---- declared imports ------------------------------------------------------------

# The node refuses a plan that breaks a declared import; the planner
# refuses it offline, from what the node recorded.
t_imports_checked_online_and_offline() {
	base
	host --import mod_x
	sql "SELECT module || '.' || name || ' ' || signature FROM host_imports" > "$T/im"
	[ "$(cat "$T/im")" = "mod_x.answer int(void)" ] || fail "recorded imports: $(cat "$T/im")"
	mod mod_x.so mod_x 1.1.0 -DMOD_CODE_CHANGE -DMOD_SIG_LONG
	expect 1 lm update all
	has 'check: {error,"' "$OUT"
	has "mod_x 1.1.0: export answer has signature" "$OUT"
	has "the host declared 'int(void)'" "$OUT"
	[ "$(served mod_x)" = 1.0.0 ] || fail "mod_x: $(served mod_x)"
	invariant
	rm "$LIB/mod_x.so"
	expect 1 lm update all
	has "remove: module mod_x: the host declared it uses its export answer" "$OUT"
	invariant
	host_kill
	# offline: plan, dry run and update_info refuse; nothing recorded
	snapshot before
	expect 1 lm plan
	has "module mod_x: the host declared it uses its export answer" "$ERR"
	expect 1 lm plan --dry-run
	expect 1 lm update_info
	has 'check: {error,"remove: module mod_x' "$OUT"
	unchanged
	# a plan that keeps the import goes through
	mod mod_x.so mod_x 1.2.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=2
	expect 0 lm plan
}

# ---- boot fallback --------------------------------------------------------

# Stranding scenario 2: a new version whose init fails but which has
# code_change goes live (code_change, not init, runs); the host is killed;
# the restart cannot boot it and boots the last release that booted.
t_boot_fallback_init_fails() {
	base
	host --call mod_x
	mod mod_x.so mod_x 2.0.0 -DMOD_CODE_CHANGE -DMOD_INIT_FAIL
	expect 0 lm update all
	has "eval: {ok,[]}" "$OUT"
	invariant
	host_kill
	host --call mod_x
	has "release 2 failed to boot" "$(cat "$T/host.err")"
	has "init returned -1" "$(cat "$T/host.err")"
	[ "$(served mod_x)" = 1.0.0 ] || fail "fallback serves mod_x $(served mod_x)"
	[ "$(sql 'SELECT current_release || permanent_release || booted_release FROM nodes')" = 111 ] ||
		fail "nodes: $(sql 'SELECT * FROM nodes')"
	invariant
	curl -s -m 10 --unix-socket "$STATE/agent.sock" http://localhost/health > "$T/health"
	hasj '"fallback_from": 2' "$(cat "$T/health")"
	has "init returned -1" "$(cat "$T/health")"
	expect 0 lm status
	has "BOOT FALLBACK: release 2 failed to boot" "$OUT"
	expect 0 lm history
	has "boot_failed: " "$OUT"
	lm --json history > "$T/h"
	[ "$(jf "$T/h" '$.releases[0].id') $(jf "$T/h" '$.releases[0].boot_failed')" != "2 " ] ||
		fail "history: release 2 not boot_failed"
	has "init returned -1" "$(jf "$T/h" '$.releases[0].boot_failed')"
	# never picked again: the check refuses the same release
	expect 1 lm update all
	has "release 2 failed to boot on this node" "$OUT"
	invariant
	# a fixed build goes through, and boots after another kill
	mod mod_x.so mod_x 2.0.1 -DMOD_CODE_CHANGE
	expect 0 lm update all
	invariant
	host_restart --call mod_x
	[ "$(served mod_x)" = 2.0.1 ] || fail "after fix: $(served mod_x)"
	invariant
}

# A host rebuilt with an import the current release does not give (here:
# another signature) boots the last release that gives it.
t_boot_fallback_import_missing() {
	base
	host --call mod_x
	mod mod_x.so mod_x 2.0.0 -DMOD_CODE_CHANGE -DMOD_SIG_LONG -DMOD_ANSWER=2
	host_kill
	expect 0 lm plan
	host
	expect 0 lm apply 1
	invariant
	host_restart --import mod_x
	has "release 2 failed to boot" "$(cat "$T/host.err")"
	has "the host declared 'int(void)'" "$(cat "$T/host.err")"
	[ "$(served mod_x)" = 1.0.0 ] || fail "fallback serves mod_x $(served mod_x)"
	invariant
}

# No release booted before the one that fails: nothing to fall back to,
# the start fails with the reason.
t_boot_no_fallback() {
	mod mod_x.so mod_x 1.0.0 -DMOD_INIT_FAIL
	lm init --libdir "$LIB" --app rec > /dev/null || exit 99
	expect 1 "$LMHOST" --state "$STATE"
	has "init returned -1" "$ERR"
	[ "$(sql 'SELECT count(*) FROM boot_failures')" = 0 ] || fail "boot failure recorded"
}

# ---- offline recovery -------------------------------------------------------

t_offline_rollback_and_make_permanent() {
	base
	host --call mod_x
	mod mod_x.so mod_x 2.0.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=2
	expect 0 lm update all
	mod mod_x.so mod_x 3.0.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=3
	expect 0 lm update all
	host_kill
	expect 2 lm rollback --try
	has "--try needs a running node" "$ERR"
	expect 2 lm rollback --to 9
	has "no release 9" "$ERR"
	expect 0 lm rollback
	has "release 2 is the release the next start boots (was release 3)" "$OUT"
	has "next start" "$OUT"
	[ "$(sql 'SELECT current_release || permanent_release FROM nodes')" = 22 ] ||
		fail "nodes: $(sql 'SELECT * FROM nodes')"
	host --call mod_x
	[ "$(served mod_x)" = 2.0.0 ] || fail "after offline rollback: $(served mod_x)"
	invariant
	host_kill
	expect 0 lm make_permanent 1
	has "release 1 is the release the next start boots" "$OUT"
	expect 0 lm --json make_permanent 3
	hasj '{"boot": 3, "was": 1, "running": false}' "$OUT"
	expect 2 lm make_permanent 3
	has "already the release the node boots" "$ERR"
	expect 2 lm make_permanent x1
	host --call mod_x
	[ "$(served mod_x)" = 3.0.0 ] || fail "after make_permanent 3: $(served mod_x)"
	invariant
	# online, only the release the node runs can be made permanent
	expect 2 lm make_permanent 1
	has "the running node is on release 3" "$ERR"
	# the libdir is untouched: update all plans from 3 to what it holds
	expect 0 lm update all
	has "nothing to update" "$OUT"
}

# ---- reinstalling older bytes ------------------------------------------------

# mod_s (tests/modules/stateful.c) keeps its value in a layout that changes
# with its major version and writes every step to $LMTEST_TRAIL. v1 copied
# back over v2 is a downgrade: code_change down, run in v2, converts the
# state to v1's layout (an upgrade run in v1 would read v2's layout as its
# own); then v2 again goes up.
t_reinstalled_older_bytes_downgrade() {
	export LMTEST_TRAIL="$T/trail"
	smod 1.0.0
	cp "$LIB/mod_s.so" "$T/s1.so"
	expect 0 lm init --libdir "$LIB" --app rec
	host --call mod_s
	smod 2.0.0
	cp "$LIB/mod_s.so" "$T/s2.so"
	expect 0 lm update all
	has "{code_change,up,[{mod_s,[]}]}" "$OUT"
	cp "$T/s1.so" "$LIB/mod_s.so"
	expect 0 lm update_list --json
	hasj '{"module": "mod_s", "change": "downgraded"}' "$OUT"
	expect 0 lm update all
	has "{code_change,down,[{mod_s,[]}]}" "$OUT"
	has "eval: {ok,[]}" "$OUT"
	[ "$(served mod_s)" = 1.0.0 ] || fail "mod_s: $(served mod_s)"
	invariant
	cp "$T/s2.so" "$LIB/mod_s.so"
	expect 0 lm update all
	has "{code_change,up,[{mod_s,[]}]}" "$OUT"
	[ "$(served mod_s)" = 2.0.0 ] || fail "mod_s: $(served mod_s)"
	invariant
	# the trail: v1 made 42; up to layout 2, down (in v2) to 1, up again;
	# the value survives every step
	[ "$(cut -d' ' -f1,2 "$T/trail" | paste -sd ',')" = "init 1,up 1->2,down 2->1,adopt 1,up 1->2" ] ||
		fail "trail: $(cat "$T/trail")"
	grep -v 'value 42 ' "$T/trail" && fail "a value changed: $(cat "$T/trail")"
	# the calls kept answering: the host counts no bad answer
	kill -TERM "$HOST"; wait "$HOST"; HOST=""
	has "bad 0" "$(cat "$T/host.out")"
}

# ---- honest output ---------------------------------------------------------

t_update_says_what_it_saw() {
	base
	host --call mod_x
	# nothing to update: no check or eval lines, for no check ran
	expect 0 lm update all
	has "nothing to update: libdir matches release 1" "$OUT"
	hasnt "check:" "$OUT"
	hasnt "eval:" "$OUT"
	# a .so that is not a livemod module is named, by update as by plan
	echo 'int f(void); int f(void) { return 1; }' > "$T/junk.c"
	"$CC" -shared -fPIC -o "$LIB/junk.so" "$T/junk.c" || exit 99
	expect 0 lm update_list
	has "junk.so" "$ERR"
	expect 0 lm update all
	has "livemod update: warning: " "$ERR"
	has "junk.so" "$ERR"
	has "junk.so" "$(cat "$T/host.err")"
	mod mod_x.so mod_x 1.1.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=2
	lm --json update all > "$T/u.json"
	has "junk.so" "$(jf "$T/u.json" '$.warnings[0]')"
	invariant
}

# The post-install hook records a plan for review; the next `update all`
# applies that very plan when it still matches the libdir, and a plan
# that never ran says so in history.
t_reviewed_plan_applied_not_orphaned() {
	base
	host --call mod_x
	mod mod_x.so mod_x 1.1.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=2
	expect 0 lm plan
	expect 0 lm update all
	has "plan 1: release 1 -> 2" "$OUT"
	[ "$(sql "SELECT group_concat(id || ':' || status, ' ') FROM plans")" = "1:applied" ] ||
		fail "plans: $(sql 'SELECT id, status FROM plans')"
	invariant
	# a reviewed plan the libdir no longer matches is superseded, and
	# history says it never ran
	mod mod_x.so mod_x 1.2.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=3
	expect 0 lm plan
	mod mod_x.so mod_x 1.3.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=4
	expect 0 lm update all
	has "plan 3: release 2 -> 4" "$OUT"
	expect 0 lm history
	has "plan 2    2 -> 3  superseded: superseded by a later plan, never applied" "$OUT"
	has "plan 3    2 -> 4  applied: applied" "$OUT"
	# a check failure: never applied, nothing changed
	rm "$LIB/mod_x.so"
	expect 1 lm update all
	expect 0 lm history
	has "plan 4    4 -> 5  failed: check failed before the point of no return: never applied, nothing changed" "$OUT"
	invariant
}

# `livemod apply FILE` names what is wrong with a hand-edited plan, as
# `livemod show` does, and changes nothing.
t_apply_hand_edited_plan() {
	base
	host --call mod_x
	mod mod_x.so mod_x 1.1.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=2
	expect 0 lm plan
	sed 's/"update"/"restart_emulator"/' "$STATE/plans/1.json" > "$T/op.json"
	sed '0,/,/s/,//' "$STATE/plans/1.json" > "$T/comma.json"
	snapshot before
	expect 2 lm apply "$T/op.json"
	has "op.json: script[0].op: unknown instruction 'restart_emulator'" "$ERR"
	expect 2 lm show "$T/op.json"
	has "script[0].op: unknown instruction 'restart_emulator'" "$ERR"
	expect 2 lm apply "$T/comma.json"
	has "comma.json: not JSON (syntax error near byte" "$ERR"
	unchanged
	expect 0 lm apply "$STATE/plans/1.json"
	invariant
}

# A release whose modules are those of an earlier one says so.
t_history_same_as() {
	base
	host --call mod_x
	cp "$LIB/mod_x.so" "$T/x1.so"
	mod mod_x.so mod_x 1.1.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=2
	expect 0 lm update all
	cp "$T/x1.so" "$LIB/mod_x.so"
	expect 0 lm update all
	expect 0 lm history
	echo "$OUT" | grep -q '^release 3 .*same as release 1' ||
		fail "history: $OUT"
	echo "$OUT" | grep '^release 2 ' | grep -q 'same as' && fail "release 2: $OUT"
	lm --json history > "$T/h"
	[ "$(jf "$T/h" '$.releases[0].same_as')" = 1 ] || fail "json: $(cat "$T/h")"
	invariant
}

for t in $(grep -o '^t_[a-z0-9_]*' "$0"); do
	run_test "$t"
done
finish
