#!/bin/bash
# test_fleet.sh - fleet rollout (fleet/, docs/fleet.md) on 8 real chatd
# nodes on 127.0.0.1, each with its own state dir, libdir and ports, driven
# by the real ansible-playbook through fleet/livemod-rollout with an
# inventory of ansible_connection=local hosts; releases move through a
# real fleet repository with `livemod push/fetch/stage`.
#
#   t_transport_bad_input  fetch/push/stage refuse an unknown release, a
#                          repository that is not a livemod store and a
#                          corrupt object: named, exit 2, nothing changed
#   t_skew                 one node upgraded by hand: preflight stops,
#                          nothing applied anywhere, exit 2
#   t_unreachable          node 4 cannot be reached (ssh to a closed port):
#                          preflight stops, nothing applied anywhere, exit 2
#                          (Ansible drops an unreachable host from the play
#                          rather than failing it: pinned)
#   t_canary_fails         node 1 fails its apply: it stays on the old
#                          release, nodes 2-8 are never applied, exit 1
#   t_wave2_fails          node 3 (wave 2) fails: every node back on the
#                          old release, exit 1
#   t_kill_last_wave       node 8 SIGKILLed inside its apply in the last
#                          wave (and restarted, as a supervisor would): it
#                          boots the old permanent release, and the fleet
#                          converges on it: the wrapper rolls every other
#                          node back (docs/fleet.md), exit 1
#   t_all_pass             8/8 on the new release, permanent, exit 0, and
#                          loadgen on every node loses no message
#
# Every assertion reads the nodes through `livemod --json history` and
# `status`, as an operator would. The nodes are started once and reused:
# a failed scenario leaves each node on its permanent release 1, which is
# where the next starts. Waits poll for a state, with bounds only against
# hanging.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

ROLLOUT=$TOP/fleet/livemod-rollout
N=8
if ! command -v ansible-playbook > /dev/null; then
	echo "test_fleet: ansible-playbook missing (scripts/deps.sh installs ansible-core)"
	exit 1
fi
if ! make --no-print-directory -s -C "$TOP" chatd > /dev/null 2>&1; then
	echo "test_fleet: cannot build chatd (make chatd)"
	exit 1
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/lmfleet.XXXXXX")
T=$W
LF_DIR=$W
. "$TOP/fleet/local-fleet.sh"
CENTRAL=$LF_CENTRAL
declare -a LGPID

stop_all() {
	local i
	for i in "${!LGPID[@]}"; do
		[ -n "${LGPID[$i]}" ] && kill -KILL "${LGPID[$i]}" 2>/dev/null
	done
	lf_stop
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap stop_all EXIT

# ---- helpers -----------------------------------------------------------------

node() {
	lf_node "$@"
}

# js JSON EXPR: a Python expression over the document `d`.
js() {
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

# tree_of I: the tree of node I's current release (what the fleet names a
# release by), from `livemod --json fetch --dry-run`, which writes nothing.
tree_of() {
	js "$(node "$1" --json fetch --dry-run "$CENTRAL" "$TREE2")" 'd["current"]["tree"]'
}

# state_of I: "current permanent runs" of node I, from its history.
state_of() {
	js "$(node "$1" --json history)" \
		'"%s %s %d" % (d["current"], d["permanent"], len(d["runs"]))'
}

# rollout NAME [INVENTORY]: livemod-rollout of release $TREE2; RC, OUT
# (the table).
rollout() {
	"$ROLLOUT" -i "${2:-$W/inventory.ini}" --remote "$CENTRAL" --release "$TREE2" \
		--results "$W/results.$1" > "$W/rollout.$1.out" 2> "$W/rollout.$1.log"
	RC=$?
	OUT=$(cat "$W/rollout.$1.out")
	echo "$OUT" | sed 's/^/    /'
}

# before: every node's history and module oids, for `unchanged_all`.
remember_all() {
	local i
	for i in $(seq 1 $N); do
		BEFORE[$i]="$(state_of "$i") $(js "$(node "$i" --json status)" \
			'" ".join(m["oid"] for m in d["modules"])')"
	done
}

unchanged_all() {
	local i now
	for i in $(seq 1 $N); do
		now="$(state_of "$i") $(js "$(node "$i" --json status)" \
			'" ".join(m["oid"] for m in d["modules"])')"
		[ "$now" = "${BEFORE[$i]}" ] ||
			fail "node $i changed: was '${BEFORE[$i]}', now '$now'"
	done
}

# on_old I: node I runs release 1 (tree 1), permanent, and its modules
# are v1's (status).
on_old() {
	local h
	h=$(node "$1" --json history)
	[ "$(js "$h" 'd["current"] == d["permanent"]')" = True ] ||
		fail "node $1: current and permanent differ: $(state_of "$1")"
	[ "$(tree_of "$1")" = "$TREE1" ] || fail "node $1 is not on the old release tree"
	[ "$(js "$(node "$1" --json status)" \
		'[m["vsn"] for m in d["modules"] if m["name"] == "mod_messager"][0]')" = 1.0.0 ] ||
		fail "node $1 does not run mod_messager 1.0.0"
}

# last_run I: the status of node I's newest apply run.
last_run() {
	js "$(node "$1" --json history)" 'd["runs"][0]["status"] if d["runs"] else "none"'
}

scenario() {
	CURRENT=$1
	TEST_FAILED=0
	echo "# $1"
	"$1"
	if [ "$TEST_FAILED" -eq 0 ]; then
		PASS=$((PASS + 1))
		echo "ok - $1"
	else
		echo "not ok - $1"
	fi
}

# ---- the fleet -----------------------------------------------------------------

setup() {
	lf_setup $N || exit 1
	TREE1=$LF_TREE1
	TREE2=$LF_TREE2
	echo "# release 2 of the build is tree $TREE2 (from $TREE1)"
}

# ---- scenarios -------------------------------------------------------------------

t_transport_bad_input() {
	local S=$W/n1/state
	STATE=$S
	snapshot before
	expect 2 node 1 fetch "$CENTRAL" 0123456789abcdef
	has "no release 0123456789abcdef" "$ERR"
	expect 2 node 1 fetch "$W/nowhere.git"
	has "nowhere.git: no such repository" "$ERR"
	git init -q --bare "$W/plain.git"
	expect 2 node 1 fetch "$W/plain.git"
	has "not a livemod fleet repository" "$ERR"
	expect 2 node 1 stage "$TREE2"
	has "no fetched release $TREE2" "$ERR"
	expect 2 node 1 push "$CENTRAL" 9
	has "no release 9" "$ERR"
	git --git-dir="$W/plain.git" fetch -q --no-tags "$W/n1/state/store.git" release-1:refs/heads/other
	expect 2 node 1 push "$W/plain.git" 1
	has "not a livemod store" "$ERR"
	# a corrupt object: a copy of the fleet repository whose blob of
	# mod_util.so holds another object's bytes
	cp -r "$CENTRAL" "$W/bad.git"
	mkdir "$W/packs"
	mv "$W/bad.git"/objects/pack/* "$W/packs/"
	for p in "$W"/packs/*.pack; do
		git --git-dir="$W/bad.git" unpack-objects -q < "$p"
	done
	b=$(git --git-dir="$W/bad.git" rev-parse "$TREE2:mod_util.so")
	o=$(git --git-dir="$W/bad.git" rev-parse "$TREE2:mod_motd.so")
	f=$W/bad.git/objects/${b:0:2}/${b:2}
	chmod u+w "$f"
	cp "$W/bad.git/objects/${o:0:2}/${o:2}" "$f"
	expect 2 node 1 --json fetch "$W/bad.git" "$TREE2"
	has "$b" "$ERR"
	hasj '"code": "bad_input"' "$OUT"
	unchanged
	# and the libdir is as it was: nothing staged
	[ "$(node 1 update_list)" = "" ] || fail "the libdir changed"
}

t_skew() {
	# node 5 takes mod_motd v2 by hand
	cp "$TOP/build/chatd/v2/mod_motd.so" "$W/n5/lib/.mod_motd.tmp"
	mv "$W/n5/lib/.mod_motd.tmp" "$W/n5/lib/mod_motd.so"
	expect 0 node 5 update
	remember_all
	rollout skew
	[ "$RC" -eq 2 ] || fail "rollout exited $RC, want 2"
	has "skew: n5 runs release 2" "$(cat "$W/rollout.skew.log")"
	has "stopped in preflight: nothing was applied" "$OUT"
	unchanged_all
	for i in $(seq 1 $N); do
		git --git-dir="$W/n$i/state/store.git" for-each-ref | grep -q refs/livemod/ &&
			fail "node $i fetched although preflight stopped at the skew guard"
	done
	# node 5 back to release 1, which becomes permanent again; its own
	# release numbers now differ from the others' (release 2 is its own)
	expect 0 node 5 rollback --to 1
	on_old 5
}

t_unreachable() {
	sed 's|^n4 .*|& ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1|' \
		"$W/inventory.ini" > "$W/unreachable.ini"
	remember_all
	rollout unreachable "$W/unreachable.ini"
	[ "$RC" -eq 2 ] || fail "rollout exited $RC, want 2"
	has "UNREACHABLE" "$(cat "$W/rollout.unreachable.log")"
	has "stopped in preflight: nothing was applied" "$OUT"
	unchanged_all
}

t_canary_fails() {
	touch "$W/n1/probe/fail"
	remember_all
	rollout canary
	rm -f "$W/n1/probe/fail"
	[ "$RC" -eq 1 ] || fail "rollout exited $RC, want 1"
	[ "$(last_run 1)" = eval_failed ] || fail "node 1's run: $(last_run 1)"
	on_old 1
	for i in $(seq 2 $N); do
		now="$(state_of "$i")"
		[ "$now" = "$(echo "${BEFORE[$i]}" | cut -d' ' -f1-3)" ] ||
			fail "node $i was touched: was '${BEFORE[$i]}', now '$now'"
		on_old "$i"
	done
	has "n1 " "$(echo "$OUT" | grep 'failed, rolled back')"
	[ "$(echo "$OUT" | grep -c 'untouched')" -eq 7 ] || fail "want 7 untouched nodes in the table"
}

t_wave2_fails() {
	touch "$W/n3/probe/fail"
	rollout wave2
	rm -f "$W/n3/probe/fail"
	[ "$RC" -eq 1 ] || fail "rollout exited $RC, want 1"
	[ "$(last_run 3)" = eval_failed ] || fail "node 3's run: $(last_run 3)"
	for i in 1 2; do
		js "$(node "$i" --json history)" 'd["runs"][0]' > "$W/run"
		has "'to': 1" "$(cat "$W/run")"
		has "'status': 'ok'" "$(cat "$W/run")"
	done
	for i in $(seq 1 $N); do
		on_old "$i"
	done
	[ "$(echo "$OUT" | grep -c ' rolled back')" -eq 3 ] || fail "want 3 rolled back nodes in the table"
}

t_kill_last_wave() {
	local n=0
	touch "$W/n8/probe/hold"
	"$ROLLOUT" -i "$W/inventory.ini" --remote "$CENTRAL" --release "$TREE2" \
		--results "$W/results.kill" > "$W/rollout.kill.out" 2> "$W/rollout.kill.log" &
	local rp=$!
	until [ -e "$W/n8/probe/held" ]; do
		n=$((n + 1))
		if [ $n -gt 2400 ] || ! kill -0 $rp 2>/dev/null; then
			fail "node 8 never reached its code_change"
			break
		fi
		sleep 0.05
	done
	kill -KILL "${LF_PID[8]}"
	wait "${LF_PID[8]}" 2>/dev/null
	rm -f "$W/n8/probe/hold" "$W/n8/probe/held"
	lf_start 8 || fail "node 8 does not start again" # as systemd's Restart= would
	n=0
	while kill -0 $rp 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt 3000 ] && { fail "rollout hangs"; kill $rp; break; }
		sleep 0.05
	done
	wait $rp
	RC=$?
	OUT=$(cat "$W/rollout.kill.out")
	echo "$OUT" | sed 's/^/    /'
	[ "$RC" -eq 1 ] || fail "rollout exited $RC, want 1"
	[ "$(last_run 8)" = interrupted ] || fail "node 8's run: $(last_run 8)"
	for i in $(seq 1 $N); do
		on_old "$i"
	done
}

t_all_pass() {
	local i
	for i in $(seq 1 $N); do
		"$TOP/build/chatd/loadgen" --connect "127.0.0.1:${LF_PORT[$i]}" --conns 2 --rooms 1 \
			--rate 20 --duration 600 --drain 10 --prefix "n$i" \
			> "$W/lg.$i.out" 2> "$W/lg.$i.err" &
		LGPID[$i]=$!
	done
	for i in $(seq 1 $N); do
		n=0
		until grep -q '^ready' "$W/lg.$i.out" 2>/dev/null; do
			n=$((n + 1))
			[ $n -gt 400 ] && { fail "loadgen $i did not start"; break; }
			sleep 0.05
		done
	done
	rollout pass
	for i in $(seq 1 $N); do
		kill -USR1 "${LGPID[$i]}"
	done
	for i in $(seq 1 $N); do
		wait "${LGPID[$i]}" || fail "loadgen on node $i exited $?"
		LGPID[$i]=""
		LG=$(grep '^loadgen:' "$W/lg.$i.out")
		case "$LG" in
		*" sent 0 "*) fail "node $i: loadgen sent nothing: $LG" ;;
		*" lost 0 errors 0 disconnects 0 "*) ;;
		*) fail "node $i: $LG" ;;
		esac
	done
	echo "    node 1 $(grep '^loadgen:' "$W/lg.1.out")"
	[ "$RC" -eq 0 ] || fail "rollout exited $RC, want 0"
	[ "$(echo "$OUT" | grep -c ' permanent$')" -eq $N ] || fail "want $N permanent nodes in the table"
	for i in $(seq 1 $N); do
		h=$(node "$i" --json history)
		[ "$(js "$h" 'd["current"] == d["permanent"] and d["runs"][0]["status"] == "ok"')" = True ] ||
			fail "node $i: $(state_of "$i")"
		[ "$(tree_of "$i")" = "$TREE2" ] || fail "node $i is not on tree $TREE2"
		[ "$(js "$(node "$i" --json status)" \
			'[m["vsn"] for m in d["modules"] if m["name"] == "mod_messager"][0]')" = 2.0.0 ] ||
			fail "node $i does not run mod_messager 2.0.0"
	done
}

START=$(date +%s)
setup
scenario t_transport_bad_input
scenario t_skew
scenario t_unreachable
scenario t_canary_fails
scenario t_wave2_fails
scenario t_kill_last_wave
scenario t_all_pass
echo "# $(($(date +%s) - START)) s"
finish
