#!/bin/sh
# test_gc.sh - `livemod gc` end to end (docs/housekeeping.md): a history
# of releases made by a real node (lmhost) taking `livemod update`s, then
# gc prunes what no one needs from the ledger (sqlite3), the store (plain
# git: tags, objects, fsck) and objects/, and never what the node needs:
# its current and permanent releases, the releases of a plan in flight,
# the objects it has loaded. The node and `livemod plan` work after a gc;
# --dry-run, bad input and a busy ledger change nothing; a gc cut short
# (no git, or a crash after the ledger's commit) is finished by the next.
. "$(dirname "$0")/lib.sh"

# history N [FLAGS...]: release 1 (mod_a, mod_b 1.0.0) and a node on it
# calling mod_a, then N-1 updates of mod_a (built with FLAGS) through the
# node: releases 1..N, plan k goes k -> k+1, the node on release N.
history() {
	hn=$1
	shift
	mod a.so mod_a 1.0.0 "$@"
	mod b.so mod_b 1.0.0
	lm init --libdir "$LIB" --app gct > /dev/null || exit 99
	host --call mod_a
	hv=1
	while [ "$hv" -lt "$hn" ]; do
		mod a.so mod_a "1.$hv.0" "$@"
		update
		hv=$((hv + 1))
	done
	[ "$(node_release)" = "$hn" ] || fail "node on release $(node_release), want $hn"
	# a node restarted on release N booted it: no older release is what a
	# failed boot falls back to (gc keeps that one, t_keeps_booted)
	host_kill
	host --call mod_a
}

update() {
	lm update > "$T/.upd" 2>&1 || { fail "update: $(cat "$T/.upd")"; exit 1; }
}

node_release() {
	sql 'SELECT current_release FROM nodes'
}

# blob R FILE: the object id of FILE in release R; commit R: its commit.
blob() {
	gitstore rev-parse "release-$1:$2"
}

commit() {
	gitstore rev-parse "release-$1"
}

# releases: "id:parent" of each release in the ledger ('-': none).
releases() {
	sql "SELECT id || ':' || ifnull(parent, '-') FROM releases ORDER BY id" |
		paste -sd ' '
}

tags() {
	gitstore tag | paste -sd ' '
}

gone() {
	for o in "$@"; do
		! gitstore cat-file -e "$o" 2>/dev/null || fail "store still has $o"
	done
}

present() {
	for o in "$@"; do
		gitstore cat-file -e "$o" 2>/dev/null || fail "store lost $o"
	done
}

# fsck_clean: git finds nothing missing or broken in the store, and the
# history from main reads back as the commits given, newest first.
fsck_clean() {
	gitstore fsck --no-dangling > "$T/.fsck" 2>&1 || fail "git fsck: $(cat "$T/.fsck")"
	! grep -Eiq 'missing|broken|error|bad' "$T/.fsck" || fail "git fsck: $(cat "$T/.fsck")"
	got=$(gitstore log --format=%H main | paste -sd ' ')
	[ "$got" = "$*" ] || fail "git log main: $got, want $*"
}

has_object() {
	[ -f "$STATE/objects/$1.so" ] || fail "objects/$1.so was removed"
}

no_object() {
	[ ! -e "$STATE/objects/$1.so" ] || fail "objects/$1.so is still there"
}

# loaded_oids: every oid the node reports loaded (GET /modules).
loaded_oids() {
	curl -s -m 10 --unix-socket "$STATE/agent.sock" http://localhost/modules
}

t_keep_prunes_old() {
	history 6
	for r in 1 2 3 4 5 6; do
		eval "a$r=\$(blob $r a.so) c$r=\$(commit $r)"
	done
	b=$(blob 1 b.so)
	for o in $a1 $a2 $a3 $a4 $a5 $a6 $b; do has_object "$o"; done
	# re-planning an older tree moves main onto it (lm_store_tag); a main
	# left on a pruned release would keep its objects alive
	gitstore update-ref refs/heads/main "$c2"
	# what is not gc's own stays, even under an object's name
	fake=0123456789abcdef0123456789abcdef01234567
	echo victim > "$T/victim"
	ln -s "$T/victim" "$STATE/objects/$fake.so"
	mkdir "$STATE/objects/${fake%?}8.so"
	echo notes > "$STATE/objects/notes.txt"
	echo notes > "$STATE/plans/notes.json"
	cp "$STATE/objects/$a1.so" "$STATE/objects/$a1.so.bak"
	# the node's extra copies of an object loaded twice at once
	cp "$STATE/objects/$a1.so" "$STATE/objects/$a1.1.so"
	cp "$STATE/objects/$a5.so" "$STATE/objects/$a5.2.so"
	expect 0 lm gc --keep 2
	has "gc: pruned releases 1 2 3 4 (4 plans, 4 apply runs, 4 module versions, 5 objects); kept 5 6: current 6, permanent 6" "$OUT"
	has "plans: 1 2 3 4" "$OUT"
	# the ledger
	[ "$(releases)" = "5:- 6:5" ] || fail "releases: $(releases)"
	[ "$(sql 'SELECT group_concat(id) FROM plans')" = 5 ] ||
		fail "plans: $(sql 'SELECT group_concat(id) FROM plans')"
	[ "$(sql 'SELECT group_concat(plan_id) FROM apply_runs')" = 5 ] ||
		fail "runs: $(sql 'SELECT group_concat(plan_id) FROM apply_runs')"
	[ "$(sql 'SELECT count(*) FROM module_versions')" = 3 ] ||
		fail "module versions: $(sql 'SELECT oid FROM module_versions')"
	[ "$(sql 'SELECT count(*) FROM release_modules WHERE release_id < 5')" = 0 ] ||
		fail "release_modules of pruned releases remain"
	[ "$(sql 'SELECT group_concat(release_id) FROM release_index')" = "5,6" ] ||
		fail "release_index: $(sql 'SELECT release_id FROM release_index')"
	[ "$(ls "$STATE/plans" | paste -sd ' ')" = "5.json notes.json" ] ||
		fail "plans/: $(ls "$STATE/plans")"
	[ "$(sql 'PRAGMA foreign_key_check')" = "" ] || fail "foreign keys: $(sql 'PRAGMA foreign_key_check')"
	# the store
	[ "$(tags)" = "release-5 release-6" ] || fail "tags: $(tags)"
	[ "$(gitstore rev-parse main)" = "$c6" ] || fail "main: $(gitstore rev-parse main)"
	gone $a1 $a2 $a3 $a4 $c1 $c2 $c3 $c4
	present $a5 $a6 $b $c5 $c6 "$c5^{tree}" "$c6^{tree}"
	fsck_clean $c6 $c5
	# objects/
	for o in $a1 $a2 $a3 $a4; do no_object "$o"; done
	for o in $a5 $a6 $b; do has_object "$o"; done
	[ -L "$STATE/objects/$fake.so" ] && [ "$(cat "$T/victim")" = victim ] &&
		[ -d "$STATE/objects/${fake%?}8.so" ] &&
		[ -f "$STATE/objects/notes.txt" ] && [ -f "$STATE/plans/notes.json" ] &&
		[ -f "$STATE/objects/$a1.so.bak" ] &&
		[ -f "$STATE/objects/$a5.2.so" ] && [ ! -e "$STATE/objects/$a1.1.so" ] ||
		fail "gc removed what is not its own: $(ls -la "$STATE/objects" "$STATE/plans")"
	# the node and the planner go on: an update, a restart, a plan
	mod a.so mod_a 1.6.0
	update
	[ "$(node_release)" = 7 ] || fail "node on release $(node_release), want 7"
	host_kill
	# the node boots with every object extracted again, from the store
	rm -f "$STATE"/objects/*.so
	host --call mod_a
	expect 0 lm status
	has "release 7" "$OUT"
	has_object "$b"
	echo "$OUT" | grep -Eq '^mod_a +1\.6\.0 ' || fail "status: $OUT"
	mod a.so mod_a 1.7.0
	expect 0 lm plan
	has "plan 7: release 7 -> 8" "$OUT"
	c7=$(commit 7) c8=$(commit 8)
	# an earlier gc's boundary (release 5, whose parent is gone) stays one
	expect 0 lm gc --keep 4
	has "gc: nothing to prune; kept 5 6 7 8: current 7, permanent 7" "$OUT"
	fsck_clean $c8 $c7 $c6 $c5
	expect 0 lm gc --keep 3
	has "gc: pruned release 5 (1 plan, 1 apply run, 1 module version, 0 objects); kept 6 7 8: current 7, permanent 7" "$OUT"
	gone $a5 $c5
	fsck_clean $c8 $c7 $c6
	[ "$(releases)" = "6:- 7:6 8:7" ] || fail "releases: $(releases)"
	# the pending plan still applies, from the store
	expect 0 lm apply 7
	has "eval: {ok,[]}" "$OUT"
	[ "$(node_release)" = 8 ] || fail "node on release $(node_release), want 8"
	host_kill
}

t_keeps_current_and_permanent() {
	history 4
	a2=$(blob 2 a.so) a3=$(blob 3 a.so)
	# two updates whose check fails (an export's type changed): releases
	# 5 and 6 are recorded, the node stays on release 4
	mod a.so mod_a 1.9.0 -DMOD_SIG_LONG
	expect 1 lm update
	mod a.so mod_a 1.9.1 -DMOD_SIG_LONG
	expect 1 lm update
	[ "$(node_release)" = 4 ] || fail "node on release $(node_release), want 4"
	[ "$(sql 'SELECT max(id) FROM releases')" = 6 ] || fail "releases: $(releases)"
	# and an old permanent release (as a `--try` never made permanent
	# would leave it)
	sql "UPDATE nodes SET permanent_release = 1"
	a1=$(blob 1 a.so) b=$(blob 1 b.so) c1=$(commit 1) c4=$(commit 4)
	expect 0 lm gc --keep 2
	has "gc: pruned releases 2 3 (3 plans, 3 apply runs, 2 module versions, 2 objects); kept 1 4 5 6: current 4, permanent 1" "$OUT"
	# plans 1-3 go (1 -> 2 -> 3 -> 4), 4 and 5 stay (4 -> 5, 4 -> 6)
	[ "$(sql 'SELECT group_concat(id) FROM plans')" = "4,5" ] ||
		fail "plans: $(sql 'SELECT group_concat(id) FROM plans')"
	# release 4's parent was 3: now its nearest kept ancestor
	[ "$(releases)" = "1:- 4:1 5:4 6:4" ] || fail "releases: $(releases)"
	[ "$(tags)" = "release-1 release-4 release-5 release-6" ] || fail "tags: $(tags)"
	present $a1 $b $c1 $c4 "$c1^{tree}"
	gone $a2 $a3
	has_object "$a1"
	no_object "$a2"
	no_object "$a3"
	gitstore fsck --no-dangling > "$T/.fsck" 2>&1 || fail "git fsck: $(cat "$T/.fsck")"
	# the permanent release still boots
	host_kill
	host --call mod_a
	expect 0 lm status
	has "release 1" "$OUT"
	host_kill
}

t_keeps_plans_in_flight() {
	history 6
	a2=$(blob 2 a.so) a4=$(blob 4 a.so) a5=$(blob 5 a.so)
	host_kill
	# plan 2 (2 -> 3) in the middle of an apply
	sql "UPDATE plans SET status = 'applying' WHERE id = 2"
	expect 0 lm gc --keep 1 --dry-run --json
	hasj '"releases": [1, 4, 5]' "$OUT"
	hasj '"kept": [2, 3, 6]' "$OUT"
	# plan 4 (4 -> 5) waiting to be applied
	sql "UPDATE plans SET status = 'applied' WHERE id = 2;
	     UPDATE plans SET status = 'planned' WHERE id = 4"
	expect 0 lm gc --keep 1
	has "gc: pruned releases 1 2 3 (3 plans, 3 apply runs, 3 module versions, 3 objects); kept 4 5 6: current 6, permanent 6" "$OUT"
	[ "$(releases)" = "4:- 5:4 6:5" ] || fail "releases: $(releases)"
	[ "$(sql "SELECT status FROM plans WHERE id = 4")" = planned ] || fail "plan 4 is gone"
	[ -f "$STATE/plans/4.json" ] || fail "plans/4.json is gone"
	[ "$(tags)" = "release-4 release-5 release-6" ] || fail "tags: $(tags)"
	present $a4 $a5
	gone $a2
	has_object "$a4"
	has_object "$a5"
	no_object "$a2"
}

# A module's old version that a task still pins stays loaded after its
# release is pruned: its file in objects/ stays until the pin lets go.
t_loaded_objects_stay() {
	mod a.so mod_a 1.0.0 -DMOD_PURGE=LM_SOFT_PURGE
	mod b.so mod_b 1.0.0
	lm init --libdir "$LIB" --app gct > /dev/null || exit 99
	host --call mod_a --pin mod_a
	old=$(blob 1 a.so) b0=$(blob 1 b.so)
	mod a.so mod_a 1.1.0 -DMOD_PURGE=LM_SOFT_PURGE -DMOD_ANSWER=2
	update
	for v in 1 2 3 4; do
		mod b.so mod_b "1.$v.0"
		update
	done
	b1=$(blob 3 b.so) b2=$(blob 4 b.so) b4=$(blob 6 b.so)
	has "$old" "$(loaded_oids)"
	# release 1 is what a failed boot of this node falls back to, and gc
	# keeps it (t_keeps_booted); a restart would make 6 that release but
	# drop the pin this test is about, so the ledger is told so instead
	sql "UPDATE nodes SET booted_release = 6"
	expect 0 lm gc --keep 2
	has "gc: pruned releases 1 2 3 4 (4 plans, 4 apply runs, 4 module versions, 3 objects); kept 5 6" "$OUT"
	gone $old $b0 $b1 $b2
	[ "$(sql "SELECT count(*) FROM module_versions WHERE oid = '$old'")" = 0 ] ||
		fail "module version $old kept"
	has_object "$old"
	for o in $b0 $b1 $b2; do no_object "$o"; done
	has_object "$b4"
	# the task moves on, 1.0.0 retires; the next gc takes its file
	kill -USR1 "$HOST"
	n=0
	while case "$(loaded_oids)" in *"$old"*) true ;; *) false ;; esac; do
		n=$((n + 1))
		[ $n -lt 100 ] || { fail "1.0.0 never retired"; break; }
		sleep 0.05
	done
	expect 0 lm gc --keep 2
	has "gc: pruned no release (0 plans, 0 apply runs, 0 module versions, 1 object)" "$OUT"
	has "objects/$old.so" "$OUT"
	no_object "$old"
	host_kill
}

# The last release that booted is kept, however old: it is what a node
# whose permanent release cannot boot falls back to.
t_keeps_booted() {
	mod a.so mod_a 1.0.0
	mod b.so mod_b 1.0.0
	lm init --libdir "$LIB" --app gct > /dev/null || exit 99
	host --call mod_a
	for v in 1 2 3; do
		mod a.so mod_a "1.$v.0"
		update
	done
	expect 0 lm gc --keep 1
	has "gc: pruned releases 2 3 (2 plans, 2 apply runs, 2 module versions, 2 objects); kept 1 4: current 4, permanent 4, booted 1 (what a failed boot falls back to)" "$OUT"
	# and the node can still fall back to it
	mod a.so mod_a 2.0.0 -DMOD_CODE_CHANGE -DMOD_INIT_FAIL
	update
	host_kill
	host --call mod_a
	[ "$(node_release)" = 1 ] || fail "fallback booted $(node_release), want 1"
	host_kill
}

# A node that answers anything but 200: no object is removed.
t_node_not_answering_keeps_objects() {
	command -v perl > /dev/null || { skip "no perl"; return; }
	history 3
	a1=$(blob 1 a.so)
	host_kill
	rm -f "$STATE/agent.sock"
	perl -MIO::Socket::UNIX -e '
		my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(),
			Local => $ARGV[0], Listen => 5) or die "listen: $!";
		print "ready\n";
		$| = 1;
		while (my $c = $s->accept) {
			while (<$c>) { last if /^\r?$/ }
			print $c "HTTP/1.1 503 Service Unavailable\r\n" .
				"Content-Length: 0\r\nConnection: close\r\n\r\n";
			close $c;
		}' "$STATE/agent.sock" > "$T/fake.out" 2>&1 &
	fake=$!
	n=0
	until grep -q ready "$T/fake.out"; do
		n=$((n + 1))
		[ $n -lt 100 ] || { fail "fake node: $(cat "$T/fake.out")"; break; }
		sleep 0.05
	done
	ls "$STATE/objects" > "$T/objects.before"
	expect 0 lm gc --keep 1
	kill "$fake"
	has "warning" "$ERR"
	has "503" "$ERR"
	has "gc: pruned releases 1 2 (2 plans, 2 apply runs, 2 module versions, 0 objects); kept 3" "$OUT"
	ls "$STATE/objects" | cmp -s - "$T/objects.before" ||
		fail "objects/ changed: $(ls "$STATE/objects")"
	gone $a1
}

t_dry_run_changes_nothing() {
	history 5
	a1=$(blob 1 a.so)
	snapshot before
	expect 0 lm gc --keep 2 --dry-run
	has "gc (dry run, nothing changed): would prune releases 1 2 3 (3 plans, 3 apply runs, 3 module versions, 3 objects); kept 4 5: current 5, permanent 5" "$OUT"
	has "plans: 1 2 3" "$OUT"
	has "objects/$a1.so" "$OUT"
	expect 0 lm gc --keep 2 --dry-run --json
	dry=$OUT
	hasj '"releases": [1, 2, 3]' "$dry"
	hasj '"dry_run": true' "$dry"
	unchanged
	# the dry run said what the run does
	expect 0 lm gc --keep 2 --json
	want=$(printf '%s' "$dry" | tr -d ' \t\n' | sed 's/"dry_run":true/"dry_run":false/')
	[ "$(printf '%s' "$OUT" | tr -d ' \t\n')" = "$want" ] ||
		fail "gc did not do what the dry run said: $OUT; dry run: $dry"
	[ "$(releases)" = "4:- 5:4" ] || fail "releases: $(releases)"
	host_kill
}

# Cut short after the ledger's commit, gc leaves the store to the next gc.
t_next_gc_finishes() {
	history 4
	a1=$(blob 1 a.so) a3=$(blob 3 a.so) c4=$(commit 4)
	host_kill
	cp -a "$STATE/store.git" "$T/store.before"
	cp -a "$STATE/plans" "$T/plans.before"
	# no git: ledger and tags pruned, the objects wait for git's gc
	expect 0 env PATH=/nonexistent "$LIVEMOD" --state "$STATE" gc --keep 1
	has "git (not found)" "$ERR"
	has "git on PATH" "$ERR"
	has "gc: pruned releases 1 2 3" "$OUT"
	[ "$(releases)" = "4:-" ] || fail "releases: $(releases)"
	[ "$(tags)" = "release-4" ] || fail "tags: $(tags)"
	present $a1 $a3
	expect 0 lm gc --keep 1
	has "nothing to prune" "$OUT"
	gone $a1 $a3
	fsck_clean $c4
	# a crash right after the ledger's commit: store and plans/ as they were
	rm -rf "$STATE/store.git" "$STATE/plans"
	cp -a "$T/store.before" "$STATE/store.git"
	cp -a "$T/plans.before" "$STATE/plans"
	[ "$(tags)" = "release-1 release-2 release-3 release-4" ] || fail "tags: $(tags)"
	[ "$(ls "$STATE/plans" | wc -l)" = 3 ] || fail "plans/: $(ls "$STATE/plans")"
	expect 0 lm gc --keep 1
	has "nothing to prune" "$OUT"
	[ "$(tags)" = "release-4" ] || fail "tags: $(tags)"
	[ -z "$(ls "$STATE/plans")" ] || fail "plans/: $(ls "$STATE/plans")"
	gone $a1 $a3
	fsck_clean $c4
	mod a.so mod_a 1.9.0
	expect 0 lm plan
	has "release 4 -> 5" "$OUT"
}

t_bad_input_changes_nothing() {
	history 3
	snapshot before
	expect 2 lm gc --keep 0
	has "--keep" "$ERR"
	expect 2 lm gc --keep x
	has "--keep" "$ERR"
	expect 2 lm gc --keep -1
	expect 2 lm gc 3
	unchanged
	# another writer holds the ledger (until $T/.release appears)
	{
		echo "BEGIN IMMEDIATE;"
		echo ".shell touch '$T/.locked'"
		until [ -e "$T/.release" ]; do sleep 0.05; done
		echo "ROLLBACK;"
	} | sqlite3 "$STATE/ledger.db" &
	holder=$!
	n=0
	until [ -e "$T/.locked" ] || [ $n -gt 200 ]; do
		n=$((n + 1))
		sleep 0.05
	done
	expect 1 lm gc --keep 1
	has "locked" "$ERR"
	expect 1 lm gc --keep 1 --json
	hasj '"code": "busy"' "$OUT"
	touch "$T/.release"
	wait $holder
	unchanged
	host_kill
	# no state here
	mkdir "$T/empty"
	expect 2 "$LIVEMOD" --state "$T/empty" gc
	has "not initialised" "$ERR"
	[ -z "$(ls -A "$T/empty")" ] || fail "gc wrote into $T/empty: $(ls -A "$T/empty")"
	expect 2 env -u LIVEMOD_STATE "$LIVEMOD" gc
	has "state" "$ERR"
}

run_test t_keep_prunes_old
run_test t_keeps_current_and_permanent
run_test t_keeps_plans_in_flight
run_test t_loaded_objects_stay
run_test t_node_not_answering_keeps_objects
run_test t_dry_run_changes_nothing
run_test t_next_gc_finishes
run_test t_bad_input_changes_nothing
finish
