#!/bin/sh
# test_node.sh - the node end to end: a real host process (build/tests/lmhost)
# runs a node on a real state dir, calls its modules in tight loops and pins
# them, while the test drives updates and applies over the control API
# (state/agent.sock, with curl) and through the `livemod` CLI.
#
# Covers DESIGN.md "Applying": an update changes the version serving; every
# check failure (export signature changed under a held ref, descriptor not
# the planned one, bytes not matching the oid, soft pre-purge with a pin on
# the old-old version) leaves the old version serving and the run
# 'check_failed' naming the module; eval failures (init of an added module,
# code_change, and a second module's code_change failing after the
# first's ran) leave every old version serving and the node's release
# unchanged, run 'eval_failed'; a brutal purge ends exactly the pinning
# task; one apply at a time (409 busy); a stale plan is refused (409) and
# changes nothing; a plan recorded by `livemod plan`, with the node running
# or before it boots, is staged ahead and its apply takes it. Every host
# ends with "calls N bad 0".
. "$(dirname "$0")/lib.sh"


# ---- the host ------------------------------------------------------------


# host_stop: SIGTERM; the host must exit 0 having answered every call well.
host_stop() {
	kill -TERM "$HOST"
	wait "$HOST"
	rc=$?
	HOST=""
	[ $rc -eq 0 ] || fail "lmhost exited $rc: $(tail -5 "$T/host.err")"
	line=$(grep '^calls ' "$T/host.out")
	case "$line" in
	"calls 0 "*) fail "the host made no calls: $line" ;;
	"calls "*" bad 0") ;;
	*) fail "host: '$line' (want calls N bad 0)" ;;
	esac
}

# ---- the control API -------------------------------------------------------

# api METHOD PATH [BODYFILE]: one request on state/agent.sock; sets CODE and
# BODY (also in $T/.body).
api() {
	if [ $# -ge 3 ]; then
		CODE=$(curl -s -m 20 -o "$T/.body" -w '%{http_code}' \
			--unix-socket "$STATE/agent.sock" -X "$1" \
			-H 'Content-Type: application/json' \
			--data-binary "@$3" "http://localhost$2")
	else
		CODE=$(curl -s -m 20 -o "$T/.body" -w '%{http_code}' \
			--unix-socket "$STATE/agent.sock" -X "$1" \
			"http://localhost$2")
	fi
	BODY=$(cat "$T/.body" 2>/dev/null)
}


# want_code CODE [ERRCODE]: the last api call answered CODE (and, for an
# error, {"error": {"code": ERRCODE}}).
want_code() {
	[ "$CODE" = "$1" ] || fail "HTTP $CODE, want $1: $BODY"
	if [ $# -ge 2 ]; then
		got=$(jf "$T/.body" '$.error.code')
		[ "$got" = "$2" ] || fail "error code '$got', want '$2': $BODY"
	fi
}

errmsg() {
	jf "$T/.body" '$.error.message'
}

# loaded: what the node serves, one line a module:
#   release R
#   NAME VSN [old: VSN/PINS ...] [suspended]
loaded() {
	curl -s -m 10 -o "$T/.mods" --unix-socket "$STATE/agent.sock" \
		http://localhost/modules || { echo "no answer"; return; }
	sqlite3 :memory: "
	  SELECT 'release ' || json_extract(readfile('$T/.mods'), '\$.release');
	  SELECT json_extract(m.value, '\$.name') || ' ' ||
	         ifnull(json_extract(m.value, '\$.vsn'), '-') ||
	         ifnull((SELECT ' old: ' || group_concat(
	                   json_extract(o.value, '\$.vsn') || '/' ||
	                   json_extract(o.value, '\$.pins'), ' ')
	                 FROM json_each(m.value, '\$.old') o), '') ||
	         CASE json_extract(m.value, '\$.suspended')
	              WHEN 1 THEN ' suspended' ELSE '' END
	  FROM json_each(readfile('$T/.mods'), '\$.modules') m
	  ORDER BY 1;"
}

# served MOD: the version of MOD the node serves ("" when not loaded).
served() {
	loaded | awk -v m="$1" '$1 == m { print $2 }'
}

# want_loaded TEXT: loaded, as one line ("; " between lines).
want_loaded() {
	got=$(loaded | paste -sd ';' | sed 's/;/; /g')
	[ "$got" = "$1" ] || fail "node serves '$got', want '$1'"
}

release() {
	sql 'SELECT current_release FROM nodes'
}

# runs: every apply run as "status/phase", oldest first.
runs() {
	sql "SELECT status || '/' || phase FROM apply_runs ORDER BY id" |
		paste -sd ' '
}

plans() {
	sql "SELECT id || ':' || status FROM plans ORDER BY id" | paste -sd ' '
}

last_run() {
	sql "SELECT $1 FROM apply_runs ORDER BY id DESC LIMIT 1"
}

one() {
	mod mod_x.so mod_x 1.0.0 "$@"
	lm init --libdir "$LIB" --app lmh > /dev/null || exit 99
}

two() {
	mod mod_util.so mod_util 1.0.0
	mod mod_x.so mod_x 1.0.0 -DMOD_DEPS='"mod_util"' "$@"
	lm init --libdir "$LIB" --app lmh > /dev/null || exit 99
}

# staged MOD [FIELD]: the vsn (or FIELD: oid) of the version of MOD the
# node has staged, not serving yet ("" when none).
staged() {
	curl -s -m 10 -o "$T/.mods" --unix-socket "$STATE/agent.sock" \
		http://localhost/modules || return
	sqlite3 :memory: "SELECT ifnull(json_extract(m.value,
	    '\$.staged.${2:-vsn}'), '')
	  FROM json_each(readfile('$T/.mods'), '\$.modules') m
	  WHERE json_extract(m.value, '\$.name') = '$1';"
}

# until_true CMD...: readiness, not a sleep: runs CMD until it succeeds;
# 1 after 10 s (a hang guard).
until_true() {
	ut_n=0
	until "$@"; do
		ut_n=$((ut_n + 1))
		[ $ut_n -lt 500 ] || return 1
		sleep 0.02
	done
}

is_staged() {
	[ "$(staged "$1")" = "$2" ]
}

# wait_staged MOD VSN: until the node has VSN of MOD staged ("": none).
wait_staged() {
	until_true is_staged "$1" "$2" ||
		{ fail "$1: staged '$(staged "$1")', want '$2'"; return 1; }
}

# mapped OID: how many of the host's mappings are of the object OID.
mapped() {
	grep -c "objects/$1" "/proc/$HOST/maps"
}

unmapped() {
	[ "$(mapped "$1")" -eq 0 ]
}

# want_taken N: the last run took N objects staged ahead.
want_taken() {
	[ "$(last_run "json_extract(timings_json, '\$.staged_ahead_taken')")" = "$1" ] ||
		fail "the last run did not take $1 staged ahead: $(last_run timings_json)"
}

# ---- the tests ---------------------------------------------------------------

t_update_changes_version() {
	two
	host --call mod_x --call mod_util
	want_loaded "release 1; mod_util 1.0.0; mod_x 1.0.0"
	mod mod_x.so mod_x 1.1.0 -DMOD_DEPS='"mod_util"' -DMOD_ANSWER=2
	api GET /update-modules/all
	want_code 200
	hasj '"check": "{ok,[]}"' "$BODY"
	hasj '"eval": "{ok,[]}"' "$BODY"
	hasj '"modules": [{"name": "mod_x", "change": "changed", "from": "1.0.0", "to": "1.1.0"}]' "$BODY"
	want_loaded "release 2; mod_util 1.0.0; mod_x 1.1.0"
	[ "$(release)" = 2 ] || fail "ledger: node on release $(release), want 2"
	[ "$(runs)" = "ok/done" ] || fail "runs: $(runs)"
	[ "$(plans)" = "1:applied" ] || fail "plans: $(plans)"
	# the CLI: update and status
	mod mod_util.so mod_util 1.1.0 -DMOD_ANSWER=3
	expect 0 lm update
	has "eval: {ok,[]}" "$OUT"
	expect 0 lm status
	echo "$OUT" | grep -Eq '^mod_util +1\.1\.0 ' || fail "status: $OUT"
	echo "$OUT" | grep -Eq '^mod_x +1\.1\.0 ' || fail "status: $OUT"
	has "release 3" "$OUT"
	want_loaded "release 3; mod_util 1.1.0; mod_x 1.1.0"
	# nothing left to update
	api GET /update-modules/all
	want_code 200
	hasj '"plan": null' "$BODY"
	[ "$(runs)" = "ok/done ok/done" ] || fail "runs: $(runs)"
	host_stop
}

# A check failure: the node serves what it served, the run is
# 'check_failed' with the module named in the ledger, the plan 'failed'.
check_failed_run() {
	[ "$(last_run status)" = check_failed ] ||
		fail "last run: $(last_run status), want check_failed"
	has "$1" "$(last_run check_json)"
	[ -z "$(last_run eval_json)" ] || fail "eval recorded: $(last_run eval_json)"
}

t_check_signature_changed() {
	one
	host --call mod_x
	mod mod_x.so mod_x 1.1.0 -DMOD_SIG_LONG -DMOD_ANSWER=2
	api GET /update-modules/all
	want_code 422 check_failed
	has mod_x "$(errmsg)"
	has answer "$(errmsg)"
	want_loaded "release 1; mod_x 1.0.0"
	[ "$(release)" = 1 ] || fail "node moved to release $(release)"
	check_failed_run mod_x
	[ "$(plans)" = "1:failed" ] || fail "plans: $(plans)"
	# nothing was left staged: a good version goes through
	mod mod_x.so mod_x 1.2.0 -DMOD_ANSWER=2
	api GET /update-modules/all
	want_code 200
	want_loaded "release 3; mod_x 1.2.0"
	host_stop
}

t_check_descriptor_not_planned() {
	one
	host --call mod_x
	mod mod_x.so mod_x 1.1.0 -DMOD_ANSWER=2
	expect 0 lm plan
	has "plan 1: release 1 -> 2" "$OUT"
	# the ledger's plan now names a version the object is not
	sql "UPDATE plans SET json = json_set(json,
	       '\$.modules[0].new.vsn', '9.9.9',
	       '\$.modules[0].new.descriptor.vsn', '9.9.9') WHERE id = 1"
	has 9.9.9 "$(sql 'SELECT json FROM plans WHERE id = 1')"
	api POST /plans/1/apply
	want_code 422 check_failed
	has mod_x "$(errmsg)"
	has 9.9.9 "$(errmsg)"
	want_loaded "release 1; mod_x 1.0.0"
	[ "$(release)" = 1 ] || fail "node moved to release $(release)"
	check_failed_run mod_x
	host_stop
}

t_check_bytes_not_oid() {
	two
	mod mod_x.so mod_x 1.1.0 -DMOD_DEPS='"mod_util"' -DMOD_ANSWER=2
	# planned before the node runs: a running node would stage the
	# plan's objects ahead, verified, before the store is altered below
	expect 0 lm plan
	new=$(git hash-object "$LIB/mod_x.so")
	other=$(gitstore rev-parse release-1:mod_util.so)
	nf=$STATE/store.git/objects/$(echo "$new" | cut -c1-2)/$(echo "$new" | cut -c3-)
	of=$STATE/store.git/objects/$(echo "$other" | cut -c1-2)/$(echo "$other" | cut -c3-)
	[ -f "$nf" ] && [ -f "$of" ] || { fail "no loose objects $nf $of"; return; }
	rm -f "$STATE/objects/$new.so"
	chmod u+w "$nf" 2>/dev/null
	cp -f "$of" "$nf"
	host --call mod_x
	api POST /plans/1/apply
	want_code 422 check_failed
	has mod_x "$(errmsg)"
	has "$new" "$(errmsg)"
	# the reason is the bytes, not a missing object (the loose file is
	# there; libgit2 refuses it for its hash, lib/store.c re-hashes)
	case "$(errmsg)" in
	*altered* | *mismatch* | *"do not match"* | *"does not match"*) ;;
	*) fail "reason does not say the bytes are altered: $(errmsg)" ;;
	esac
	want_loaded "release 1; mod_util 1.0.0; mod_x 1.0.0"
	[ "$(release)" = 1 ] || fail "node moved to release $(release)"
	check_failed_run mod_x
	# no object with the wrong bytes was left under the oid's name
	for f in "$STATE"/objects/"$new"*.so; do
		[ -e "$f" ] || continue
		[ "$(git hash-object "$f")" = "$new" ] ||
			fail "$f holds $(git hash-object "$f"), not $new"
	done
	host_stop
}

t_check_soft_prepurge_pinned() {
	one -DMOD_PURGE=LM_SOFT_PURGE
	host --call mod_x --pin mod_x
	mod mod_x.so mod_x 1.1.0 -DMOD_PURGE=LM_SOFT_PURGE -DMOD_ANSWER=2
	api GET /update-modules/all
	want_code 200
	# the pinned task keeps 1.0.0: retired only when its pin drops
	want_loaded "release 2; mod_x 1.1.0 old: 1.0.0/1"
	mod mod_x.so mod_x 1.2.0 -DMOD_PURGE=LM_SOFT_PURGE -DMOD_ANSWER=2
	api GET /update-modules/all
	want_code 422 check_failed
	has mod_x "$(errmsg)"
	want_loaded "release 2; mod_x 1.1.0 old: 1.0.0/1"
	[ "$(release)" = 2 ] || fail "node moved to release $(release)"
	check_failed_run mod_x
	[ "$(plans)" = "1:applied 2:failed" ] || fail "plans: $(plans)"
	hasnt "ending" "$(cat "$T/host.out")"
	# the task moves on (SIGUSR1: refresh), 1.0.0 retires, the update passes
	kill -USR1 "$HOST"
	n=0
	while [ "$(served mod_x; loaded | grep -c old:)" != "1.1.0
0" ] && [ $n -lt 100 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	want_loaded "release 2; mod_x 1.1.0"
	mod mod_x.so mod_x 1.3.0 -DMOD_PURGE=LM_SOFT_PURGE -DMOD_ANSWER=2
	api GET /update-modules/all
	want_code 200
	want_loaded "release 4; mod_x 1.3.0 old: 1.1.0/1"
	host_stop
}

t_eval_init_fails() {
	one
	host --call mod_x
	mod mod_x.so mod_x 1.1.0 -DMOD_ANSWER=2
	mod mod_new.so mod_new 1.0.0 -DMOD_INIT_FAIL
	api GET /update-modules/all
	want_code 500 eval_failed
	has mod_new "$(errmsg)"
	[ "$(jf "$T/.body" '$.check')" = "{ok,[]}" ] || fail "check: $BODY"
	has '{error,' "$(jf "$T/.body" '$.eval')"
	has mod_new "$(jf "$T/.body" '$.eval')"
	want_loaded "release 1; mod_x 1.0.0"
	[ "$(release)" = 1 ] || fail "node moved to release $(release)"
	[ "$(runs)" = "eval_failed/point_of_no_return" ] || fail "runs: $(runs)"
	has mod_new "$(last_run eval_json)"
	[ "$(plans)" = "1:failed" ] || fail "plans: $(plans)"
	host_stop
}

# A load_module whose init refuses to adopt the current state fails the
# eval before anything of the plan is published: mod_util, loaded first in
# the same plan, stays on its old version too.
t_eval_adopt_fails() {
	two
	host --call mod_x --call mod_util
	mod mod_util.so mod_util 1.1.0 -DMOD_ANSWER=2
	mod mod_x.so mod_x 1.1.0 -DMOD_DEPS='"mod_util"' -DMOD_INIT_FAIL
	api GET /update-modules/all
	want_code 500 eval_failed
	has mod_x "$(errmsg)"
	want_loaded "release 1; mod_util 1.0.0; mod_x 1.0.0"
	[ "$(release)" = 1 ] || fail "node moved to release $(release)"
	host_stop
}

t_eval_code_change_fails() {
	one -DMOD_CODE_CHANGE
	host --call mod_x
	mod mod_x.so mod_x 1.1.0 -DMOD_CC_FAIL -DMOD_ANSWER=2
	expect 1 lm update
	has "eval: {error," "$OUT$ERR"
	has mod_x "$OUT$ERR"
	want_loaded "release 1; mod_x 1.0.0"
	[ "$(release)" = 1 ] || fail "node moved to release $(release)"
	[ "$(runs)" = "eval_failed/point_of_no_return" ] || fail "runs: $(runs)"
	has mod_x "$(last_run eval_json)"
	# the same over HTTP, on a fresh plan (another object: replanning the
	# same libdir is t_replan_after_failure's)
	mod mod_x.so mod_x 1.1.1 -DMOD_CC_FAIL -DMOD_ANSWER=2
	api GET /update-modules/all
	want_code 500 eval_failed
	has mod_x "$(errmsg)"
	want_loaded "release 1; mod_x 1.0.0"
	host_stop
}

# movemod NAME VSN_ID [FLAGS...]: tests/agent/mod_move.c, a module whose
# state is a hash table (LMT_KEYS keys), into the libdir (FLAGS before the
# include path: an -I there wins).
movemod() {
	n=$1 v=$2
	shift 2
	"$CC" -std=c11 -Wall -Wextra -Werror -shared -fPIC -fno-gnu-unique \
		"$@" -I"$TOP/include" -DMODNAME="$n" -DVSN_ID="$v" \
		-o "$LIB/$n.so" "$TOP/tests/agent/mod_move.c" || exit 99
}

# State by move (module ABI 2) through a real plan: mod_mb (which depends
# on mod_ma, so comes second) fails its code_change after mod_ma moved its
# table into 2.0.0's state, and after moving its own: both 1.0.0 serve on
# with their tables whole (the host's calls check them: "bad 0"); then
# the plan without the failure moves both, and the rollback moves them
# back.
t_state_move_plan() {
	export LMT_KEYS=100000
	movemod mod_ma 1
	# mod_mb 1.0.0 was built before ABI 2 (tests/modules/abi1): planned,
	# recorded and loaded as ever, and upgraded to an ABI 2 version
	movemod mod_mb 1 -I"$TOP/tests/modules/abi1" -DDEPS='"mod_ma"'
	lm init --libdir "$LIB" --app lmh > /dev/null || exit 99
	[ "$(sql "SELECT group_concat(name || ' ' || abi, ', ') FROM
	      (SELECT name, abi FROM module_versions ORDER BY name)")" = \
	  "mod_ma 2, mod_mb 1" ] || fail "recorded ABIs: $(sql 'SELECT name, abi FROM module_versions')"
	host --call mod_ma --call mod_mb
	movemod mod_ma 2 -DMOVE
	movemod mod_mb 2 -DMOVE -DDEPS='"mod_ma"'
	expect 0 lm plan --extra mod_mb=fail-after-move
	expect 1 lm apply 1
	has "mod_mb 2.0.0: code_change (up) returned 7" "$OUT$ERR"
	want_loaded "release 1; mod_ma 1.0.0; mod_mb 1.0.0"
	[ "$(release)" = 1 ] || fail "node moved to release $(release)"
	expect 0 lm update
	has "eval: {ok,[]}" "$OUT"
	[ "$(served mod_ma) $(served mod_mb)" = "2.0.0 2.0.0" ] ||
		fail "serves mod_ma $(served mod_ma), mod_mb $(served mod_mb)"
	# and back: 2.0.0's code_change moves each table down into a 1.0.0
	# state, which 1.0.0's init adopts
	expect 0 lm rollback
	has "eval: {ok,[]}" "$OUT"
	[ "$(served mod_ma) $(served mod_mb)" = "1.0.0 1.0.0" ] ||
		fail "serves mod_ma $(served mod_ma), mod_mb $(served mod_mb)"
	host_stop
	unset LMT_KEYS
}

# A plan that updates two modules, each with a code_change: the first
# (mod_util, by dependency order) runs and succeeds, the second (mod_x)
# fails. Both keep serving their old versions, with no new version of
# either loaded or left suspended; the node stays on release 1, the run is
# eval_failed and the plan failed. The marks prove that both code_changes
# ran: the failure came after the first module had changed its state.
# Then a good plan goes through, from the state the failure left.
t_second_code_change_fails() {
	mod mod_util.so mod_util 1.0.0 -DMOD_CODE_CHANGE
	mod mod_x.so mod_x 1.0.0 -DMOD_DEPS='"mod_util"' -DMOD_CODE_CHANGE
	lm init --libdir "$LIB" --app lmh > /dev/null || exit 99
	host --call mod_x --call mod_util
	mod mod_util.so mod_util 1.1.0 -DMOD_ANSWER=2 -DMOD_CC_MARK="\"$T/util.cc\""
	mod mod_x.so mod_x 1.1.0 -DMOD_DEPS='"mod_util"' -DMOD_ANSWER=2 \
		-DMOD_CC_FAIL -DMOD_CC_MARK="\"$T/x.cc\""
	expect 0 lm plan
	# mod_util is changed, loaded and resumed before mod_x is suspended
	hasj "{code_change,up,[{mod_util,[]}]},{load,{mod_util,brutal_purge,brutal_purge}},
		{resume,[mod_util]},{suspend,[mod_x]},{code_change,up,[{mod_x,[]}]}," "$OUT"
	api POST /plans/1/apply
	want_code 500 eval_failed
	has mod_x "$(errmsg)"
	[ -e "$T/util.cc" ] || fail "mod_util's code_change did not run first"
	[ -e "$T/x.cc" ] || fail "mod_x's code_change did not run"
	has '{error,' "$(jf "$T/.body" '$.eval')"
	want_loaded "release 1; mod_util 1.0.0; mod_x 1.0.0"
	[ "$(served mod_util)" = 1.0.0 ] || fail "mod_util serves $(served mod_util)"
	[ "$(release)" = 1 ] || fail "node moved to release $(release)"
	[ "$(runs)" = "eval_failed/point_of_no_return" ] || fail "runs: $(runs)"
	has mod_x "$(last_run eval_json)"
	[ "$(plans)" = "1:failed" ] || fail "plans: $(plans)"
	expect 0 lm status
	echo "$OUT" | grep -Eq '^mod_util +1\.0\.0 ' || fail "status: $OUT"
	echo "$OUT" | grep -Eq '^mod_x +1\.0\.0 ' || fail "status: $OUT"
	# a good plan from there: both move, each code_change once more
	rm -f "$T/util.cc" "$T/x.cc"
	mod mod_x.so mod_x 1.1.1 -DMOD_DEPS='"mod_util"' -DMOD_ANSWER=2 \
		-DMOD_CC_MARK="\"$T/x.cc\""
	api GET /update-modules/all
	want_code 200
	[ -e "$T/util.cc" ] && [ -e "$T/x.cc" ] || fail "code_change not run on the good plan"
	want_loaded "release 3; mod_util 1.1.0; mod_x 1.1.1"
	host_stop
}

t_brutal_purge_ends_pinned_task() {
	two
	host --call mod_x --pin mod_x --pin mod_util
	mod mod_x.so mod_x 1.1.0 -DMOD_DEPS='"mod_util"' -DMOD_ANSWER=2
	expect 0 lm update
	has "eval: {ok,[]}" "$OUT"
	ending=$(grep '^ending ' "$T/host.out")
	[ "$ending" = "ending mod_x 1.0.0" ] ||
		fail "brutal purge ended: '$ending', want exactly 'ending mod_x 1.0.0'"
	grep -q '^ended mod_x 1.0.0$' "$T/host.out" || fail "task did not end: $(cat "$T/host.out")"
	want_loaded "release 2; mod_util 1.0.0; mod_x 1.1.0"
	expect 0 lm status
	echo "$OUT" | grep -Eq '^mod_x +1\.1\.0 ' || fail "status: $OUT"
	hasnt "1.0.0" "$(echo "$OUT" | grep mod_x)"
	host_stop
}

t_one_apply_at_a_time() {
	one -DMOD_CODE_CHANGE
	host --call mod_x
	# code_change holds until the test removes $T/hold: the first apply
	# is provably inside it (hold.in) while the others are refused
	held_update
	api GET /update-modules/all
	want_code 409 busy
	api POST /plans/1/apply
	want_code 409 busy
	expect 1 lm update
	has "another apply is running" "$OUT$ERR"
	rm -f "$T/hold"
	wait $HELD
	[ "$(cat "$T/held.code")" = 200 ] || fail "first apply: $(cat "$T/held.code") $(cat "$T/held.body")"
	want_loaded "release 2; mod_x 1.1.0"
	[ "$(runs)" = "ok/done" ] || fail "runs: $(runs)"
	host_stop
}

# A `livemod plan` made while an apply is past its point of no return
# supersedes nothing that is in flight in effect: the plan being applied
# ends 'applied' (the node reached its release), and the new plan, made
# from that release, applies next.
t_superseded_in_flight() {
	one -DMOD_CODE_CHANGE
	host --call mod_x
	held_update
	mod mod_x.so mod_x 1.2.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=3
	expect 0 lm plan
	[ "$(plans)" = "1:superseded 2:planned" ] || fail "plans mid-apply: $(plans)"
	rm -f "$T/hold"
	wait $HELD
	[ "$(cat "$T/held.code")" = 200 ] || fail "first apply: $(cat "$T/held.code") $(cat "$T/held.body")"
	[ "$(plans)" = "1:applied 2:planned" ] || fail "plans: $(plans)"
	want_loaded "release 2; mod_x 1.1.0"
	api POST /plans/2/apply
	want_code 200
	want_loaded "release 3; mod_x 1.2.0"
	[ "$(plans)" = "1:applied 2:applied" ] || fail "plans at the end: $(plans)"
	# a plan made elsewhere: no planning of this request's to time
	[ -z "$(jf "$T/.body" '$.timings.plan_and_record')" ] ||
		fail "plan_and_record in a reviewed plan's apply: $BODY"
	host_stop
}

# After eval the old version is retired and the reaper unloads it: the
# run's record says so (timings.unload, unloaded) once it is gone, and
# status lists no old version then. An update made its plan: the time that
# took is in the reply's timings and the run's, outside the total.
t_unload_after_eval() {
	one -DMOD_CODE_CHANGE
	host --call mod_x
	mod mod_x.so mod_x 1.1.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=2
	api GET /update-modules/all
	want_code 200
	planned=$(jf "$T/.body" '$.timings.plan_and_record')
	echo "plan_and_record: ${planned} us"
	[ "${planned:-0}" -gt 0 ] 2>/dev/null ||
		fail "no plan_and_record time in the reply: $BODY"
	[ "$(last_run "json_extract(timings_json, '\$.plan_and_record')")" = "$planned" ] ||
		fail "the run's record has another plan_and_record: $(last_run timings_json)"
	n=0
	until [ "$(last_run "json_extract(timings_json, '\$.unloaded')")" = 1 ]; do
		n=$((n + 1))
		[ $n -lt 500 ] || { fail "the run never recorded its unload: $(last_run timings_json)"; break; }
		sleep 0.02
	done
	[ -n "$(last_run "json_extract(timings_json, '\$.unload')")" ] ||
		fail "no unload time: $(last_run timings_json)"
	want_loaded "release 2; mod_x 1.1.0"
	host_stop
}

# A plan recorded by another process (the post-install hook's `livemod
# plan`) is staged ahead, not serving; a newer one replaces it, the older
# object unstaged and unmapped; its apply takes what was staged, by plan
# id or as the reviewed twin of an update; a rollback leaves nothing
# staged.
t_recorded_plan_staged_ahead() {
	one -DMOD_CODE_CHANGE
	host --call mod_x
	mod mod_x.so mod_x 1.1.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=2
	expect 0 lm plan
	wait_staged mod_x 1.1.0 || return
	want_loaded "release 1; mod_x 1.0.0"
	expect 0 lm status
	has "staged 1.1.0" "$OUT"
	old=$(staged mod_x oid)
	[ "$(mapped "$old")" -gt 0 ] || fail "1.1.0 staged but not mapped"
	mod mod_x.so mod_x 1.2.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=3
	expect 0 lm plan
	wait_staged mod_x 1.2.0 || return
	until_true unmapped "$old" || fail "1.1.0, replaced, still mapped"
	id=$(sql 'SELECT max(id) FROM plans')
	expect 0 lm apply "$id"
	want_taken 1
	want_loaded "release 3; mod_x 1.2.0" # 2 was the superseded plan's
	[ -z "$(staged mod_x)" ] || fail "still staged after the apply"
	# the hook's plan, then `livemod update`: its reviewed twin
	mod mod_x.so mod_x 1.3.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=4
	expect 0 lm plan
	wait_staged mod_x 1.3.0 || return
	hook=$(sql 'SELECT max(id) FROM plans')
	expect 0 lm update
	[ "$(sql 'SELECT max(id) FROM plans')" = "$hook" ] ||
		fail "the update recorded a plan of its own: $(plans)"
	want_taken 1
	want_loaded "release 4; mod_x 1.3.0"
	# staged, then a rollback: unstaged, the node back on 1.2.0
	mod mod_x.so mod_x 1.4.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=5
	expect 0 lm plan
	wait_staged mod_x 1.4.0 || return
	expect 0 lm rollback
	want_loaded "release 3; mod_x 1.2.0"
	[ -z "$(staged mod_x)" ] || fail "still staged after the rollback"
	host_stop
}

# A plan recorded while no node ran (an install with the server down) is
# staged once the node boots, and its apply takes it.
t_pending_plan_staged_at_boot() {
	one
	mod mod_x.so mod_x 1.1.0 -DMOD_ANSWER=2
	expect 0 lm plan
	host --call mod_x
	wait_staged mod_x 1.1.0 || return
	want_loaded "release 1; mod_x 1.0.0"
	expect 0 lm apply 1
	want_taken 1
	want_loaded "release 2; mod_x 1.1.0"
	host_stop
}

t_stale_plan_refused() {
	one
	host --call mod_x
	# plan 1 (release 1 -> 2) fails its check and stays 'failed'
	mod mod_x.so mod_x 1.1.0 -DMOD_SIG_LONG
	api GET /update-modules/all
	want_code 422
	# plan 2 (release 1 -> 3) moves the node on
	mod mod_x.so mod_x 1.2.0 -DMOD_ANSWER=2
	api GET /update-modules/all
	want_code 200
	want_loaded "release 3; mod_x 1.2.0"
	# plan 4 supersedes plan 3
	mod mod_x.so mod_x 1.3.0
	lm plan > /dev/null
	mod mod_x.so mod_x 1.4.0
	lm plan > /dev/null
	[ "$(plans)" = "1:failed 2:applied 3:superseded 4:planned" ] || fail "plans: $(plans)"
	snapshot before
	api POST /plans/1/apply
	want_code 409 stale
	has "release 1" "$(errmsg)"
	has "release 3" "$(errmsg)"
	api POST /plans/2/apply
	want_code 409 stale
	api POST /plans/3/apply
	want_code 409 stale
	api POST /plans/99/apply
	want_code 404 not_found
	expect 2 lm apply 1
	unchanged
	want_loaded "release 3; mod_x 1.2.0"
	# the live plan still applies
	api POST /plans/4/apply
	want_code 200
	want_loaded "release 5; mod_x 1.4.0"
	host_stop
}

# A failed update leaves the libdir as it was; updating again must plan it
# again (the same tree from the same release) and fail the same way, not
# trip over the release the failed plan recorded. Three tries in quick
# succession: at least two fall in the same second. (Before 198a9de the
# same commit made twice in a second hit "UNIQUE constraint failed:
# releases.commit_oid", and a second later made a second release of the
# same tree.)
t_replan_after_failure() {
	one -DMOD_CODE_CHANGE
	host --call mod_x
	mod mod_x.so mod_x 1.1.0 -DMOD_CC_FAIL -DMOD_ANSWER=2
	for i in 1 2 3; do
		api GET /update-modules/all
		want_code 500 eval_failed
		has mod_x "$(errmsg)"
	done
	want_loaded "release 1; mod_x 1.0.0"
	[ "$(sql 'SELECT count(*) FROM releases')" = 2 ] ||
		fail "one tree, one release: $(sql 'SELECT id, commit_oid FROM releases' | paste -sd ' ')"
	host_stop
}

# update_list asks the running node (GET /update-modules), as ejabberdctl
# update_list does, and prints what the command computes alone: the same
# lines, the same JSON, the same warnings. The node answers from the
# ledger it holds open: moved out of the command's reach, the list still
# comes; the command's own scan (LIVEMOD_SCAN_STATS=1) then fails.
t_update_list_from_the_node() {
	one -DMOD_CODE_CHANGE
	host --call mod_x
	expect 0 lm update_list
	[ -z "$OUT" ] || fail "update_list with nothing changed: $OUT"
	mod mod_x.so mod_x 1.1.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=2
	echo 'int f(void); int f(void) { return 1; }' > "$T/junk.c"
	"$CC" -shared -fPIC -o "$LIB/junk.so" "$T/junk.c" || exit 99
	expect 0 lm update_list
	[ "$OUT" = mod_x ] || fail "update_list: $OUT"
	has "livemod update_list: warning: " "$ERR"
	has "junk.so" "$ERR"
	node_err=$ERR
	expect 0 lm update_list --json
	node_json=$OUT
	hasj '[{"module": "mod_x", "change": "changed"}]' "$OUT"
	export LIVEMOD_SCAN_STATS=1
	expect 0 lm update_list --json
	[ "$OUT" = "$node_json" ] || fail "the command's own list: $OUT; the node's: $node_json"
	expect 0 lm update_list
	[ "$OUT" = mod_x ] || fail "update_list, the command's scan: $OUT"
	[ "$(echo "$ERR" | grep warning)" = "$node_err" ] ||
		fail "warnings: $ERR; the node's: $node_err"
	mv "$STATE/ledger.db" "$STATE/ledger.away"
	expect 2 lm update_list
	has "is not initialised" "$ERR"
	unset LIVEMOD_SCAN_STATS
	expect 0 lm update_list
	mv "$STATE/ledger.away" "$STATE/ledger.db"
	[ "$OUT" = mod_x ] || fail "update_list from the node: $OUT"
	host_stop
	expect 0 lm update_list
	[ "$OUT" = mod_x ] || fail "update_list, no node: $OUT"
}

# update_list from memory: the node answers GET /update-modules again
# from its last scan while nothing it came from moved (the libdir's inotify
# watch, the ledger, the node's release). Each change below must show in
# the very next answer, with no wait: bytes written in place, a file put
# in by rename (as install(1) does), the old bytes back, an mtime alone,
# a removal, an apply by the node, and an object reached through a
# symbolic link whose target changes outside libdir, which the watch does
# not see (so such a libdir is scanned every time).
t_update_list_from_memory() {
	one
	host --call mod_x
	cp "$LIB/mod_x.so" "$T/x-1.0.so"
	for i in 1 2; do
		expect 0 lm update_list
		[ -z "$OUT" ] || fail "nothing changed, answer $i: $OUT"
	done
	mod mod_x.so mod_x 1.1.0 -DMOD_ANSWER=2       # written in place
	expect 0 lm update_list
	[ "$OUT" = mod_x ] || fail "after a write: $OUT"
	cp "$LIB/mod_x.so" "$T/x-1.1.so"
	cp "$T/x-1.0.so" "$T/new.so" && mv "$T/new.so" "$LIB/mod_x.so"
	expect 0 lm update_list
	[ -z "$OUT" ] || fail "the old bytes back by rename: $OUT"
	touch -d '2001-01-01' "$LIB/mod_x.so"
	expect 0 lm update_list
	[ -z "$OUT" ] || fail "an mtime alone: $OUT"
	rm "$LIB/mod_x.so"
	expect 0 lm update_list --json
	hasj '"change": "removed"' "$OUT"
	cp "$T/x-1.1.so" "$LIB/mod_x.so"
	expect 0 lm update_list
	[ "$OUT" = mod_x ] || fail "1.1.0 back: $OUT"
	expect 0 lm update
	expect 0 lm update_list
	[ -z "$OUT" ] || fail "after the node applied it: $OUT"
	# through a symbolic link: the target changes outside libdir
	mkdir -p "$T/elsewhere"
	cp "$T/x-1.1.so" "$T/elsewhere/mod_x.so"
	ln -sf "$T/elsewhere/mod_x.so" "$LIB/mod_x.so"
	expect 0 lm update_list
	[ -z "$OUT" ] || fail "the same bytes through a link: $OUT"
	cp "$T/x-1.0.so" "$T/elsewhere/mod_x.so"
	expect 0 lm update_list
	[ "$OUT" = mod_x ] || fail "a link's target changed: $OUT"
	host_stop
}

run_test t_update_changes_version
run_test t_check_signature_changed
run_test t_check_descriptor_not_planned
run_test t_check_bytes_not_oid
run_test t_check_soft_prepurge_pinned
run_test t_eval_init_fails
run_test t_eval_adopt_fails
run_test t_eval_code_change_fails
run_test t_state_move_plan
run_test t_second_code_change_fails
run_test t_brutal_purge_ends_pinned_task
run_test t_one_apply_at_a_time
run_test t_unload_after_eval
run_test t_recorded_plan_staged_ahead
run_test t_pending_plan_staged_at_boot
run_test t_stale_plan_refused
run_test t_superseded_in_flight
run_test t_replan_after_failure
run_test t_update_list_from_the_node
run_test t_update_list_from_memory
finish
