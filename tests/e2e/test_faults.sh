#!/bin/sh
# test_faults.sh - fault injection (issue 6): a full disk while the store,
# a plan or the ledger is written; a store blob gone; an object replaced
# between plan and apply; `livemod plan` killed at random moments; the
# node killed while an old version awaits its purge. After each: a clear
# error, and the ledger, store and running code consistent.
#
# Elsewhere: the ledger locked by another process (test_planner.sh
# t_ledger_locked), a store blob altered (test_node.sh
# t_check_bytes_not_oid), the node killed at random moments of its applies
# (test_crash.sh).
. "$(dirname "$0")/lib.sh"

# A full disk is RLIMIT_FSIZE: with SIGXFSZ ignored, a write past the
# limit fails with EFBIG, as it would with ENOSPC. `ulimit -f` counts
# 512-byte blocks in dash and 1024 in bash: only the order matters here.
full_disk() {
	limit=$1
	shift
	( trap '' XFSZ; ulimit -f "$limit"; exec "$@" )
}

# consistent: the invariants of a state dir at rest.
consistent() {
	[ "$(sql 'PRAGMA integrity_check')" = ok ] ||
		fail "integrity_check: $(sql 'PRAGMA integrity_check')"
	[ "$(sql 'PRAGMA foreign_key_check' | wc -l)" = 0 ] ||
		fail "foreign keys: $(sql 'PRAGMA foreign_key_check')"
	# every release is a commit in the store, tagged as such
	sql "SELECT id || ' ' || commit_oid FROM releases" | while read -r id c; do
		[ "$(gitstore rev-parse "release-$id^{commit}" 2>/dev/null)" = "$c" ] ||
			fail "release $id: tag does not point at $c"
		gitstore cat-file -e "$c^{tree}" 2>/dev/null ||
			fail "release $id: commit $c not in the store"
	done
	# every module version of every release is a blob in the store
	bad=$(sql "SELECT DISTINCT oid FROM release_modules" |
		gitstore cat-file --batch-check | grep -v ' blob ')
	[ -z "$bad" ] || fail "objects of releases not in the store: $bad"
	# every recorded plan has its file, whole and equal to the ledger's;
	# only the newest may still be pending, killed between its commit
	# and the rename (the next plan or gc moves it)
	newest=$(sql "SELECT coalesce(max(id), 0) FROM plans")
	sql "SELECT id FROM plans" | while read -r id; do
		f="$STATE/plans/$id.json"
		[ -e "$f" ] || [ "$id" != "$newest" ] || f="$f.pending"
		[ "$(sqlite3 "$STATE/ledger.db" "SELECT json FROM plans WHERE id = $id")" = \
		  "$(cat "$f" 2>/dev/null)" ] ||
			fail "plans/$id.json is not the recorded plan $id"
	done
	# a plan file shows a recorded plan, never one whose recording a kill
	# cut short; a pending file only of the newest plan or the next id
	for f in "$STATE"/plans/*.json; do
		[ -e "$f" ] || continue
		id=$(basename "$f" .json)
		[ "$(sql "SELECT count(*) FROM plans WHERE id = '$id'")" = 1 ] ||
			fail "plans/$id.json is in no ledger row"
	done
	for f in "$STATE"/plans/*.pending; do
		[ -e "$f" ] || continue
		id=$(basename "$f" .json.pending)
		[ "$id" = "$newest" ] || [ "$id" = $((newest + 1)) ] ||
			fail "plans/$id.json.pending left over (newest plan $newest)"
	done
	gitstore fsck --no-dangling > "$T/.fsck" 2>&1 ||
		fail "git fsck: $(cat "$T/.fsck")"
}

# No plan file pending: what a kill cut short was finished.
settled() {
	left=$(cd "$STATE/plans" && ls | grep -v '^[0-9]*\.json$')
	[ -z "$left" ] || fail "left in plans/: $left"
}

# ---- a full disk ---------------------------------------------------------

# At growing limits `livemod plan` fails cleanly (nothing changed) until
# it has room, and then records the plan; `livemod init` likewise.
t_disk_full_plan() {
	mod mod_a.so mod_a 1.0.0
	mod mod_b.so mod_b 1.0.0
	expect 0 lm init --libdir "$LIB" --app app
	mod mod_a.so mod_a 1.1.0 -DMOD_ANSWER=2
	mod mod_c.so mod_c 1.0.0
	failed=0 limit=1
	while [ $limit -le 4096 ]; do
		snapshot before
		full_disk $limit "$LIVEMOD" --state "$STATE" plan > "$T/.out" 2> "$T/.err"
		rc=$?
		if [ $rc -eq 0 ]; then
			break
		fi
		failed=$((failed + 1))
		[ $rc -ne 0 ] && [ -s "$T/.err" ] || fail "limit $limit: no message"
		case "$(cat "$T/.err")" in
		*"too large"* | *"No space"* | *"disk"* | *"full"* | *"write"* | *"I/O"*) ;;
		*) fail "limit $limit: unclear message: $(cat "$T/.err")" ;;
		esac
		# the store may keep new loose objects (git's own rule: nothing
		# refers to them, gc drops them); the ledger, refs and plans not
		snapshot after
		grep -v '^objects/' "$T/.snap.before" > "$T/.b"
		grep -v '^objects/' "$T/.snap.after" > "$T/.a"
		cmp -s "$T/.b" "$T/.a" ||
			fail "limit $limit changed the state: $(diff "$T/.b" "$T/.a" | head -5)"
		consistent
		limit=$((limit * 2))
	done
	[ $failed -ge 3 ] || fail "only $failed limits failed: the test proves little"
	[ $rc -eq 0 ] || fail "plan never went through"
	consistent
	[ "$(sql 'SELECT count(*) FROM plans')" = 1 ] || fail "plans: $(sql 'SELECT * FROM plans')"
	echo "disk full: $failed limits refused cleanly, then recorded at $limit blocks"
}

t_disk_full_init() {
	mod mod_a.so mod_a 1.0.0
	limit=1
	while [ $limit -le 4096 ]; do
		rm -rf "$STATE"
		full_disk $limit "$LIVEMOD" --state "$STATE" init --libdir "$LIB" \
			> "$T/.out" 2> "$T/.err" && break
		[ -s "$T/.err" ] || fail "limit $limit: no message"
		# a failed init leaves no ledger a later command would trust
		if [ -f "$STATE/ledger.db" ]; then
			expect 2 lm plan
			has "not initialised" "$ERR"
		fi
		limit=$((limit * 2))
	done
	[ -f "$STATE/ledger.db" ] || { fail "init never went through"; return; }
	consistent
}

# The node under a full disk: at growing limits it either refuses to
# start, naming the file it could not write, or starts and refuses the
# apply in its check (the new object cannot be extracted, or the run not
# recorded) while serving the old code; with room, the apply goes
# through.
t_disk_full_node() {
	mod mod_a.so mod_a 1.0.0
	expect 0 lm init --libdir "$LIB" --app app
	host --call mod_a
	host_kill
	mod mod_a.so mod_a 1.1.0 -DMOD_ANSWER=2
	expect 0 lm plan
	limit=1 refused=0
	while [ $limit -le 4096 ]; do
		: > "$T/host.out"
		( trap '' XFSZ; ulimit -f $limit
		  exec "$LMHOST" --state "$STATE" --call mod_a ) \
			> "$T/host.out" 2> "$T/host.err" &
		HOST=$!
		n=0
		until grep -q '^ready' "$T/host.out" || ! kill -0 $HOST 2>/dev/null; do
			n=$((n + 1)); [ $n -lt 250 ] || break; sleep 0.02
		done
		if ! grep -q '^ready' "$T/host.out"; then
			case "$(cat "$T/host.err")" in
			*ledger.db* | *objects/* | *agent.sock* | *token*) ;;
			*) fail "limit $limit: unclear start failure: $(cat "$T/host.err")" ;;
			esac
			refused=$((refused + 1))
		elif lm apply 1 > "$T/.out" 2> "$T/.err"; then
			break
		else
			# refused in its check, or before it (the run not even
			# recorded): either way a reason
			echo "limit $limit: $(cat "$T/.out" "$T/.err" | tr '\n' ' ')"
			case "$(cat "$T/.out" "$T/.err")" in
			*"check: {error,"* | *ledger*) ;;
			*) fail "limit $limit: unclear refusal: $(cat "$T/.out" "$T/.err")" ;;
			esac
			expect 0 lm status
			has "mod_a  1.0.0" "$OUT"
			refused=$((refused + 1))
		fi
		host_kill
		consistent
		limit=$((limit * 2))
	done
	[ $refused -ge 2 ] || fail "only $refused limits refused"
	grep -q '^ready' "$T/host.out" || fail "the node never started"
	expect 0 lm status
	has "mod_a  1.1.0" "$OUT"
	host_kill
	consistent
	echo "node under a full disk: $refused limits refused, applied at $limit"
}

# ---- the store and the objects ------------------------------------------

# planned_update [stopped]: a node serving mod_a 1.0.0 and plan 1 to
# 1.1.0, whose object is $NEW. With `stopped`, no node runs yet: the
# caller starts it (host --call mod_a). A node running when the plan is
# recorded stages its objects ahead, from the store and verified, so a
# test that takes them away after the plan must plan with no node.
planned_update() {
	mod mod_a.so mod_a 1.0.0
	expect 0 lm init --libdir "$LIB" --app app
	[ "${1:-}" = stopped ] || host --call mod_a
	mod mod_a.so mod_a 1.1.0 -DMOD_ANSWER=2
	expect 0 lm plan
	NEW=$(git hash-object "$LIB/mod_a.so")
}

# loose OID: the store's loose object file of OID.
loose() {
	echo "$STATE/store.git/objects/$(echo "$1" | cut -c1-2)/$(echo "$1" | cut -c3-)"
}

# A blob gone from the store: the apply's check refuses it, a rollback
# to a release that needs it is refused before anything is recorded.
t_store_blob_missing() {
	planned_update stopped
	rm -f "$(loose "$NEW")" "$STATE/objects/$NEW.so"
	host --call mod_a
	expect 1 lm apply 1
	has "check: {error," "$OUT"
	has "$NEW" "$OUT$ERR"
	expect 0 lm status
	has "mod_a  1.0.0" "$OUT"
	# put it back (plan again from the libdir), apply, then lose release
	# 1's blob: a rollback to 1 is refused, nothing recorded
	expect 0 lm plan
	expect 0 lm apply 2
	old=$(sql "SELECT oid FROM release_modules WHERE release_id = 1")
	rm -f "$(loose "$old")"
	snapshot before
	expect 2 lm rollback
	has "lacks object $old of module mod_a 1.0.0" "$ERR"
	unchanged
}

# The libdir's file replaced between plan and apply: the node loads the
# planned bytes (from the store), not the new file; objects/<oid>.so
# replaced with other bytes is not loaded under that oid.
t_object_replaced_between_plan_and_apply() {
	planned_update
	planned=$NEW
	mod mod_a.so mod_a 9.9.9 -DMOD_ANSWER=9
	rm -f "$LIB/mod_a.so"
	expect 0 lm apply 1
	expect 0 lm status
	has "mod_a  1.1.0  $(echo "$planned" | cut -c1-12)" "$OUT"
	# objects/<oid>.so swapped for other bytes before a rollback to it
	old=$(sql "SELECT oid FROM release_modules WHERE release_id = 1")
	cp -f "$STATE/objects/$planned.so" "$STATE/objects/$old.so"
	expect 0 lm rollback
	expect 0 lm status
	has "mod_a  1.0.0  $(echo "$old" | cut -c1-12)" "$OUT"
	[ "$(git hash-object "$STATE/objects/$old.so")" = "$old" ] ||
		fail "objects/$old.so holds other bytes"
	consistent
}

# ---- kills ---------------------------------------------------------------

# `livemod plan` of 600 changed modules killed at random moments: never
# a half-recorded release or plan; the next plan goes through.
t_plan_killed() {
	W=$T/w
	mkdir -p "$W" "$T/lib2"
	genmods
	"$W/gen" "$W/tpl.so" "$LIB" 600 > /dev/null || exit 99
	cp "$W/tpl.so" "$W/tpl2.so"
	"$W/gen" --bump "$W/tpl2.so" || exit 99
	"$W/gen" "$W/tpl2.so" "$T/lib2" 600 > /dev/null || exit 99
	expect 0 lm init --libdir "$LIB" --app app
	cp "$T"/lib2/*.so "$LIB/"
	# how long a whole plan takes, to aim the kills inside it; a plan that
	# ends before its kill was shorter than the aim, which shrinks to it
	# (plans after the first find their objects stored and go faster)
	start=$(date +%s%N)
	expect 0 lm plan --dry-run
	span=$(( ($(date +%s%N) - start) / 1000000 + 1 ))
	seed=${FAULT_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
	echo "a dry run takes ~${span} ms; seed $seed"
	i=0 killed=0 finished=0
	while [ $killed -lt 8 ] && [ $i -lt 40 ]; do
		ms=$(( (seed / (i + 1) + i * 7919) % span ))
		"$LIVEMOD" --state "$STATE" plan > /dev/null 2>&1 &
		pid=$!
		sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
		if kill -KILL $pid 2>/dev/null; then
			killed=$((killed + 1))
		else
			finished=$((finished + 1))
			span=$((ms > 2 ? ms : 2))
		fi
		wait $pid 2>/dev/null
		# a kill after the commit leaves a whole plan: the next supersedes it
		consistent
		i=$((i + 1))
	done
	echo "killed $killed plans midway; $finished ended first (aim now ${span} ms)"
	[ $killed -ge 8 ] || fail "only $killed of $i kills landed inside a plan"
	expect 0 lm plan
	consistent
	settled
	id=$(sql "SELECT max(id) FROM plans")
	[ "$(sql "SELECT status FROM plans WHERE id = $id")" = planned ] ||
		fail "the last plan is not waiting"
	host
	expect 0 lm apply "$id"
	has "eval: {ok,[]}" "$OUT"
}

# The two states a kill inside a recording leaves, made by hand: the
# newest plan committed but its file still pending, and a pending file of
# the next id whose transaction never committed. Neither is a plan a
# command shows; the next plan finishes the first and drops the second,
# and gc does the same.
t_plan_file_pending() {
	mod mod_a.so mod_a 1.0.0
	expect 0 lm init --libdir "$LIB" --app app
	mod mod_a.so mod_a 1.1.0
	expect 0 lm plan
	mv "$STATE/plans/1.json" "$STATE/plans/1.json.pending"
	echo '{"half' > "$STATE/plans/2.json.pending"
	consistent
	expect 2 lm show 2
	has "no plan" "$ERR"
	mod mod_b.so mod_b 1.0.0
	expect 0 lm plan
	consistent
	settled
	[ "$(sql "SELECT status FROM plans WHERE id = 1")" = superseded ] ||
		fail "plan 1 not superseded"
	grep -q '"id":[[:space:]]*2,' "$STATE/plans/2.json" ||
		fail "plans/2.json is not plan 2"
	mv "$STATE/plans/2.json" "$STATE/plans/2.json.pending"
	echo '{"half' > "$STATE/plans/3.json.pending"
	expect 0 lm gc
	consistent
	settled
	expect 0 lm show 2
	has "mod_b" "$OUT"
	# a plan file removed by hand is no leftover: planning goes on
	rm "$STATE/plans/2.json"
	mod mod_c.so mod_c 1.0.0
	expect 0 lm plan
	settled
}

# The ledger refusing the run's last write (a SQLite trigger stands in
# for a disk that filled between the point of no return and the end):
# the new code is live and the ledger names its release as current, the
# answer is eval ok with a warning, and the release is not permanent, so
# a restart boots the old one.
# refusing TABLE COLUMN WHEN FLAGS...: mod_a 1.0.0 served by a node, 1.1.0
# built with FLAGS in libdir, and the ledger refusing updates of
# TABLE.COLUMN WHEN (a trigger, dropped with 'DROP TRIGGER t_full').
refusing() {
	table=$1 column=$2 when=$3
	shift 3
	mod mod_a.so mod_a 1.0.0 -DMOD_CODE_CHANGE
	expect 0 lm init --libdir "$LIB" --app app
	host --call mod_a
	mod mod_a.so mod_a 1.1.0 -DMOD_ANSWER=2 "$@"
	sql "CREATE TRIGGER t_full BEFORE UPDATE OF $column ON $table
	     WHEN $when BEGIN SELECT RAISE(ABORT, 'disk full'); END"
}

t_ledger_refuses_run_end() {
	refusing apply_runs status "NEW.status = 'ok'" -DMOD_CODE_CHANGE
	expect 0 lm update
	has "eval: {ok," "$OUT$ERR"
	has "could not record the end of run" "$OUT$ERR"
	has "permanent release, the one a restart boots, is 1" "$OUT$ERR"
	expect 0 lm status
	has "mod_a  1.1.0" "$OUT"
	[ "$(sql "SELECT current_release || '/' || permanent_release FROM nodes")" = 2/1 ] ||
		fail "node row: $(sql 'SELECT current_release, permanent_release FROM nodes')"
	sql "DROP TRIGGER t_full"
	host_kill
	consistent
	host --call mod_a
	expect 0 lm status
	has "mod_a  1.0.0" "$OUT"
	expect 0 lm history
	has "interrupted" "$OUT"
	host_kill
}

# An eval that fails, and a ledger that then refuses to put the node's
# current release back (the trigger again): the node runs the old code
# and says so; the next apply writes the ledger right before anything
# else, and a plan made meanwhile from the wrong release is refused as
# stale rather than applied.
t_ledger_refuses_revert() {
	refusing nodes current_release \
		"NEW.current_release < OLD.current_release" -DMOD_CC_FAIL
	expect 1 lm update
	has "eval: {error," "$OUT$ERR"
	expect 0 lm status
	has "mod_a  1.0.0" "$OUT"
	sql "DROP TRIGGER t_full"
	mod mod_a.so mod_a 1.2.0 -DMOD_CODE_CHANGE -DMOD_ANSWER=3
	expect 0 lm update
	has "eval: {ok,[]}" "$OUT$ERR"
	expect 0 lm status
	has "mod_a  1.2.0" "$OUT"
	[ "$(sql "SELECT current_release = permanent_release FROM nodes")" = 1 ] ||
		fail "node row: $(sql 'SELECT current_release, permanent_release FROM nodes')"
	host_kill
	consistent
}

# The node killed while an old version awaits its soft purge (a pinned
# task holds it): the restart boots the new release alone.
t_node_killed_during_purge() {
	mod mod_a.so mod_a 1.0.0 -DMOD_PURGE=LM_SOFT_PURGE
	expect 0 lm init --libdir "$LIB" --app app
	host --pin mod_a --call mod_a
	mod mod_a.so mod_a 1.1.0 -DMOD_PURGE=LM_SOFT_PURGE -DMOD_ANSWER=2
	expect 0 lm update
	expect 0 lm status
	has "old 1.0.0" "$OUT"
	has "retiring" "$OUT"
	host_kill
	consistent
	host --pin mod_a --call mod_a
	expect 0 lm status
	has "mod_a  1.1.0" "$OUT"
	hasnt "old " "$OUT"
	expect 0 lm history
	has "current release 2, permanent release 2" "$OUT"
	kill -TERM "$HOST"
	wait "$HOST"
	HOST=""
	has "bad 0" "$(cat "$T/host.out")"
}

for t in ${FAULT_TESTS:-t_disk_full_plan t_disk_full_init t_disk_full_node \
	 t_store_blob_missing t_object_replaced_between_plan_and_apply \
	 t_plan_killed t_plan_file_pending t_ledger_refuses_run_end \
	 t_ledger_refuses_revert t_node_killed_during_purge}; do
	run_test "$t"
done
finish
