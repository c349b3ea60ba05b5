#!/bin/sh
# test_planner.sh - the planner end to end: init, plan, update_list,
# update_info, show, on real modules, a real ledger and a real store.
. "$(dirname "$0")/lib.sh"

# Three modules as chatd has them: one others depend on, one with state
# and code_change, one plain.
three() {
	mod mod_util.so mod_util 1.0.0
	mod mod_messager.so mod_messager 1.0.0 -DMOD_DEPS='"mod_util"' -DMOD_CODE_CHANGE
	mod mod_motd.so mod_motd 1.0.0
}

t_init_records_release_1() {
	three
	expect 0 lm init --libdir "$LIB" --app chatd
	has "release 1: mod_messager 1.0.0 mod_motd 1.0.0 mod_util 1.0.0" "$OUT"
	[ -f "$STATE/ledger.db" ] || fail "no ledger"
	[ "$(sql 'SELECT current_release, permanent_release FROM nodes')" = "1|1" ] ||
		fail "node not on release 1"
	[ "$(sql 'SELECT count(*) FROM release_modules WHERE release_id=1')" = 3 ] ||
		fail "release 1 does not hold 3 modules"
	tree=$(gitstore ls-tree --name-only release-1 | tr '\n' ' ')
	[ "$tree" = "mod_messager.so mod_motd.so mod_util.so " ] || fail "tree: $tree"
	[ "$(gitstore rev-parse main)" = "$(gitstore rev-parse release-1^{commit})" ] ||
		fail "main is not release 1"
	[ "$(sql 'SELECT commit_oid FROM releases WHERE id=1')" = \
	  "$(gitstore rev-parse release-1^{commit})" ] || fail "ledger commit differs"
	# the store holds the exact bytes
	[ "$(gitstore cat-file -p release-1:mod_util.so | cmp - "$LIB/mod_util.so" && echo same)" = same ] ||
		fail "stored bytes differ"
	expect 2 lm init --libdir "$LIB"
	has "already initialised" "$ERR"
}

t_init_bad_libdir() {
	expect 2 lm init --libdir "$T/nope"
	has "$T/nope" "$ERR"
	[ ! -e "$STATE" ] || fail "state dir created"
	expect 2 "$LIVEMOD" init --libdir "$LIB"
	has "no state dir" "$ERR"
	chmod 000 "$LIB"
	if [ "$(id -u)" -ne 0 ]; then
		expect 2 lm init --libdir "$LIB"
		[ ! -e "$STATE" ] || fail "state dir created"
	fi
	chmod 755 "$LIB"
}

t_nothing_to_plan() {
	three
	lm init --libdir "$LIB" >/dev/null
	expect 0 lm plan
	has "nothing to plan" "$OUT"
	[ -z "$(ls "$STATE/plans")" ] || fail "a plan was written"
	# touched but identical: still nothing
	sleep 1.1
	touch "$LIB/mod_util.so"
	cp "$LIB/mod_motd.so" "$T/x" && mv "$T/x" "$LIB/mod_motd.so" # new inode, same bytes
	expect 0 lm plan
	has "nothing to plan" "$OUT"
	expect 0 lm update_list
	[ -z "$OUT" ] || fail "update_list lists: $OUT"
}

t_load_module_plan() {
	three
	lm init --libdir "$LIB" --app chatd >/dev/null
	mod mod_motd.so mod_motd 1.1.0 -DMOD_ANSWER=2
	expect 0 lm update_list
	[ "$OUT" = "mod_motd" ] || fail "update_list: $OUT"
	expect 0 lm plan
	has "plan 1: release 1 -> 2 (plans/1.json)" "$OUT"
	has "script: [{load_module,mod_motd}]" "$OUT"
	has "low level script: [{load_object_code,{chatd,[],[mod_motd]}},
                   point_of_no_return,
                   {load,{mod_motd,brutal_purge,brutal_purge}}]" "$OUT"
	[ -f "$STATE/plans/1.json" ] || fail "no plans/1.json"
	hasj '"format": "livemod.plan/1"' "$(cat "$STATE/plans/1.json")"
	[ "$(sql "SELECT status FROM plans WHERE id=1")" = planned ] || fail "plan not recorded"
	[ "$(sql 'SELECT current_release FROM nodes')" = 1 ] || fail "planning moved the node"
	new=$(gitstore rev-parse 'release-2:mod_motd.so')
	[ "$new" = "$(git hash-object "$LIB/mod_motd.so")" ] || fail "release-2 blob is not the file"
	[ "$(gitstore rev-parse release-2^)" = "$(gitstore rev-parse release-1^{commit})" ] ||
		fail "release 2's parent is not release 1"
	# the plan names old and new {vsn, oid}
	j=$(cat "$STATE/plans/1.json")
	has "$new" "$j"
	has "$(git hash-object "$T/lib/mod_util.so" | cut -c1-8)" "$(gitstore ls-tree release-2)"
	# show by id and by file, in both forms
	expect 0 lm show 1
	has "script: [{load_module,mod_motd}]" "$OUT"
	expect 0 lm show "$STATE/plans/1.json" --json
	hasj '"format": "livemod.plan/1"' "$OUT"
}

t_update_advanced_and_order() {
	three
	lm init --libdir "$LIB" --app chatd >/dev/null
	mod mod_util.so mod_util 1.1.0 -DMOD_ANSWER=3
	mod mod_messager.so mod_messager 2.0.0 -DMOD_DEPS='"mod_util"' -DMOD_CODE_CHANGE
	expect 0 lm plan --extra mod_messager=v2layout
	# the dependency first, then the dependent with code_change
	has 'script: [{load_module,mod_util},
         {update,mod_messager,{advanced,"v2layout"},brutal_purge,brutal_purge,[mod_util]}]' "$OUT"
	has "{load_object_code,{chatd,[],[mod_util,mod_messager]}}" "$OUT"
	has '{suspend,[mod_messager]},
                   {code_change,up,[{mod_messager,"v2layout"}]},
                   {load,{mod_messager,brutal_purge,brutal_purge}},
                   {resume,[mod_messager]}]' "$OUT"
	has 'code_change,down,[{mod_messager,"v2layout"}]' "$OUT"
}

t_add_and_delete() {
	three
	lm init --libdir "$LIB" --app chatd >/dev/null
	rm "$LIB/mod_motd.so"
	mod mod_admin.so mod_admin 1.0.0 -DMOD_DEPS='"mod_util"'
	expect 0 lm update_list --json
	hasj '"module": "mod_admin", "change": "added"' "$OUT"
	hasj '"module": "mod_motd", "change": "removed"' "$OUT"
	expect 0 lm plan
	has "{add_module,mod_admin" "$OUT"
	has "{delete_module,mod_motd" "$OUT"
	has "{remove,{mod_motd,brutal_purge,brutal_purge}}" "$OUT"
	has "{purge,[mod_motd]}" "$OUT"
	tree=$(gitstore ls-tree --name-only release-2 | tr '\n' ' ')
	[ "$tree" = "mod_admin.so mod_messager.so mod_util.so " ] || fail "tree: $tree"
}

t_purge_modes() {
	three
	lm init --libdir "$LIB" --app chatd >/dev/null
	mod mod_motd.so mod_motd 1.1.0 -DMOD_PURGE=LM_SOFT_PURGE
	expect 0 lm plan --dry-run
	has "{load_module,mod_motd,soft_purge,soft_purge,[]}" "$OUT"
	expect 0 lm plan --dry-run --purge brutal_purge
	has "{load,{mod_motd,brutal_purge,brutal_purge}}" "$OUT"
	expect 2 lm plan --purge gentle
	has "gentle" "$ERR"
}

t_only_named_modules() {
	three
	lm init --libdir "$LIB" --app chatd >/dev/null
	mod mod_motd.so mod_motd 1.1.0
	mod mod_util.so mod_util 1.1.0
	expect 0 lm plan mod_motd
	has "[{load_module,mod_motd}]" "$OUT"
	hasnt "mod_util," "$(echo "$OUT" | grep '^script')"
	# release 2 keeps the old mod_util
	[ "$(gitstore rev-parse release-2:mod_util.so)" = "$(gitstore rev-parse release-1:mod_util.so)" ] ||
		fail "mod_util changed in release 2"
	snapshot before
	expect 2 lm plan mod_nope
	has "mod_nope" "$ERR"
	expect 2 lm plan Bad
	unchanged
}

t_dry_run_writes_nothing() {
	three
	lm init --libdir "$LIB" --app chatd >/dev/null
	mod mod_motd.so mod_motd 1.1.0
	snapshot before
	expect 0 lm plan --dry-run
	has "dry run" "$OUT"
	dry=$(echo "$OUT" | grep -v '^plan')
	unchanged
	expect 0 lm plan
	real=$(echo "$OUT" | grep -v '^plan')
	[ "$dry" = "$real" ] || fail "dry run differs from the plan: $dry // $real"
}

t_supersede() {
	three
	lm init --libdir "$LIB" --app chatd >/dev/null
	mod mod_motd.so mod_motd 1.1.0
	lm plan >/dev/null
	mod mod_motd.so mod_motd 1.2.0
	expect 0 lm plan
	has "plan 2: release 1 -> 3" "$OUT"
	[ "$(sql 'SELECT status FROM plans ORDER BY id' | tr '\n' ' ')" = "superseded planned " ] ||
		fail "plan 1 not superseded"
}

t_update_info() {
	three
	lm init --libdir "$LIB" --app chatd >/dev/null
	mod mod_motd.so mod_motd 1.1.0
	expect 0 lm update_info
	has "libdir: $LIB" "$OUT"
	has "modules: mod_motd" "$OUT"
	has "script: [{load_module,mod_motd}]" "$OUT"
	has "low level script: [{load_object_code" "$OUT"
	has "check: {ok,[]}" "$OUT"
	expect 0 lm update_info --json
	has '"check"' "$OUT"
	has '"low_level_script"' "$OUT"
}

# --- bad input: a clear error naming the culprit, exit 2, nothing changed

bad_input() { # bad_input WHAT-IN-MESSAGE: plan must refuse, state unchanged
	snapshot before
	expect 2 lm plan
	has "$1" "$ERR"
	expect 2 lm plan --dry-run
	expect 2 lm update_list
	unchanged
}

t_bad_not_elf() {
	three
	lm init --libdir "$LIB" >/dev/null
	echo "hello" > "$LIB/mod_text.so"
	bad_input "mod_text.so"
}

t_bad_truncated() {
	three
	lm init --libdir "$LIB" >/dev/null
	head -c 3000 "$LIB/mod_util.so" > "$T/x" && mv "$T/x" "$LIB/mod_util.so"
	bad_input "mod_util.so"
}

t_elf_without_descriptor_is_skipped() {
	three
	lm init --libdir "$LIB" >/dev/null
	"$CC" -shared -fPIC -o "$LIB/libhelper.so" "$TOP/tests/modules/plain.c"
	expect 0 lm plan
	has "nothing to plan" "$OUT"
	has "libhelper.so" "$ERR"
	has "skipped" "$ERR"
}

t_bad_descriptor_name() {
	three
	lm init --libdir "$LIB" >/dev/null
	raw mod_bad.so Bad-Name 1.0.0 2
	bad_input "Bad-Name"
}

t_bad_descriptor_vsn() {
	three
	lm init --libdir "$LIB" >/dev/null
	raw mod_bad.so mod_bad "" 2
	bad_input "mod_bad.so"
}

t_bad_descriptor_future_abi() {
	three
	lm init --libdir "$LIB" >/dev/null
	raw mod_bad.so mod_bad 1.0.0 99
	bad_input "ABI"
}

t_bad_duplicate_module() {
	three
	lm init --libdir "$LIB" >/dev/null
	mod mod_util2.so mod_util 1.1.0
	bad_input "mod_util2.so"
}

t_bad_missing_dependency() {
	three
	lm init --libdir "$LIB" >/dev/null
	mod mod_motd.so mod_motd 1.1.0 -DMOD_DEPS='"mod_ghost"'
	bad_input "mod_ghost"
	rm "$LIB/mod_util.so"
	mod mod_motd.so mod_motd 1.0.0
	bad_input "mod_util"
}

t_bad_cycle() {
	three
	lm init --libdir "$LIB" >/dev/null
	mod mod_util.so mod_util 1.1.0 -DMOD_DEPS='"mod_motd"'
	mod mod_motd.so mod_motd 1.1.0 -DMOD_DEPS='"mod_messager"'
	bad_input "cycle"
	has "mod_util" "$ERR"
	has "mod_motd" "$ERR"
	has "mod_messager" "$ERR"
}

t_bad_init_input_creates_nothing() {
	three
	echo junk > "$LIB/mod_junk.so"
	expect 2 lm init --libdir "$LIB"
	has "mod_junk.so" "$ERR"
	[ ! -e "$STATE" ] || fail "state dir left behind"
	mkdir "$STATE"
	expect 2 lm init --libdir "$LIB"
	[ -z "$(ls -A "$STATE")" ] || fail "state dir not empty: $(ls -A "$STATE")"
}

# Plans check only what they change for cycles, so the release a node
# starts from must have none, nor a missing dependency.
t_bad_init_dependencies_creates_nothing() {
	mod mod_util.so mod_util 1.0.0 -DMOD_DEPS='"mod_ghost"'
	mod mod_motd.so mod_motd 1.0.0
	expect 2 lm init --libdir "$LIB"
	has "mod_util depends on mod_ghost, which is not installed" "$ERR"
	[ ! -e "$STATE" ] || fail "state dir left behind"
	mod mod_util.so mod_util 1.0.0 -DMOD_DEPS='"mod_motd"'
	mod mod_motd.so mod_motd 1.0.0 -DMOD_DEPS='"mod_util"'
	expect 2 lm init --libdir "$LIB"
	has "dependency cycle: mod_motd -> mod_util -> mod_motd" "$ERR"
	[ ! -e "$STATE" ] || fail "state dir left behind"
	mod mod_motd.so mod_motd 1.0.0
	expect 0 lm init --libdir "$LIB"
	has "release 1: mod_motd 1.0.0 mod_util 1.0.0" "$OUT"
}

t_bad_plan_files() {
	three
	lm init --libdir "$LIB" >/dev/null
	echo "not json" > "$T/p1.json"
	expect 2 lm show "$T/p1.json"
	has "p1.json" "$ERR"
	echo '{"format": "livemod.plan/9"}' > "$T/p2.json"
	expect 2 lm show "$T/p2.json"
	has "livemod.plan/9" "$ERR"
	mod mod_motd.so mod_motd 1.1.0
	lm plan >/dev/null
	sed 's/"oid":[[:space:]]*"[0-9a-f]*"/"oid": "xyz"/' "$STATE/plans/1.json" > "$T/p3.json"
	expect 2 lm show "$T/p3.json"
	has "oid" "$ERR"
	expect 2 lm show 42
	has "42" "$ERR"
	expect 2 lm show "$T/none.json"
}

t_bad_usage() {
	expect 2 "$LIVEMOD" frobnicate
	has "frobnicate" "$ERR"
	expect 2 lm plan --libdir "$LIB"
	has "--libdir" "$ERR"
	expect 2 lm plan
	has "not initialised" "$ERR"
	expect 0 "$LIVEMOD" --help
	has "update_info" "$OUT"
}

t_ledger_locked() {
	three
	lm init --libdir "$LIB" >/dev/null
	mod mod_motd.so mod_motd 1.1.0
	snapshot before
	# the lock is held until the plan has given up, however slowly it
	# runs (under valgrind, seconds)
	# (readiness: sqlite3 touches .locked once it holds the lock)
	( echo "BEGIN IMMEDIATE;"
	  echo ".shell touch '$T/.locked'"
	  while [ ! -e "$T/.unlock" ]; do sleep 0.1; done
	  echo "COMMIT;" ) | sqlite3 "$STATE/ledger.db" &
	wait_file "$T/.locked" "sqlite3 never took the lock"
	expect 1 lm plan
	touch "$T/.unlock"
	has "locked" "$ERR"
	has "ledger.db" "$ERR"
	wait
	unchanged
	expect 0 lm plan
}

t_ledger_from_the_future() {
	three
	lm init --libdir "$LIB" >/dev/null
	sql "PRAGMA user_version = 99"
	snapshot before
	expect 2 lm plan
	has "newer" "$ERR"
	unchanged
}

t_json_errors() {
	expect 2 lm --json plan
	has '"error"' "$OUT"
	has '"code"' "$OUT"
}

# A `make install` of 300 modules (1 changed) planned at once by the
# post-install hook: the plan's stat cache entries are racy, so the next
# read-only command after the window reads those files again and writes
# them back; the one after reads none (issue 14, item 6).
t_stat_cache_stays_warm() {
	W=$T/w
	mkdir -p "$W" "$T/inst"
	genmods
	"$W/gen" "$W/tpl.so" "$LIB" 300 > /dev/null || exit 99
	"$W/gen" "$W/tpl.so" "$T/inst" 300 > /dev/null || exit 99
	"$W/gen" --bump "$T/inst/mod_b0000000000007.so" || exit 99
	sleep 1.1
	expect 0 lm init --libdir "$LIB" --app app
	cp "$T"/inst/*.so "$LIB/" # every file rewritten, one of them changed
	racy "$LIB"/*.so          # ... just now, as the hook's plan sees them
	expect 0 lm plan
	has "plan 1: release 1 -> 2" "$OUT"
	past_window
	export LIVEMOD_SCAN_STATS=1
	expect 0 lm update_list
	[ "$OUT" = mod_b0000000000007 ] || fail "update_list: $OUT"
	has "scan: 300 files, 300 read, 300 written back to the stat cache" "$ERR"
	expect 0 lm update_list
	[ "$OUT" = mod_b0000000000007 ] || fail "update_list: $OUT"
	has "scan: 300 files, 0 read, 0 written back" "$ERR"
	expect 0 lm plan --dry-run
	has "scan: 300 files, 0 read" "$ERR"
	has "load_module,mod_b0000000000007" "$OUT"
	unset LIVEMOD_SCAN_STATS
}

# The refresh of a read-only command never waits for a writer: with the
# ledger locked, update_list answers and skips it.
t_stat_cache_refresh_skipped_when_locked() {
	three
	racy "$LIB"/*.so
	lm init --libdir "$LIB" >/dev/null # racy entries: read again later
	past_window
	export LIVEMOD_SCAN_STATS=1 LIVEMOD_LOCK_TIMEOUT_MS=600000
	# a writer holding the lock until told to stop
	printf '%s\n' "BEGIN IMMEDIATE;" ".shell touch '$T/LOCKED'" \
		".shell sh -c 'while [ ! -f $T/DONE ]; do sleep 0.05; done'" \
		"ROLLBACK;" | sqlite3 "$STATE/ledger.db" > /dev/null 2>&1 &
	locker=$!
	n=0
	until [ -f "$T/LOCKED" ]; do
		n=$((n + 1)); [ $n -lt 200 ] || fail "no lock"; sleep 0.05
	done
	expect 0 lm update_list
	has "3 read, 0 written back to the stat cache (refresh skipped:" "$ERR"
	has "locked" "$ERR"
	touch "$T/DONE"
	wait $locker
	expect 0 lm update_list
	has "3 read, 3 written back" "$ERR"
	expect 0 lm update_list
	has "0 read" "$ERR"
	unset LIVEMOD_SCAN_STATS LIVEMOD_LOCK_TIMEOUT_MS
}

for t in $(grep -o '^t_[a-z0-9_]*' "$0"); do
	run_test "$t"
done
finish
