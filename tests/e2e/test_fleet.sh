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
#   t_stage                stage on a node of its own: files written, the
#                          current release's extra module removed, a stray
#                          file reported, a corrupt object refused with the
#                          libdir untouched; the release then planned has
#                          the fetched tree
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
# FLEET_ONLY="t_stage t_skew" runs only those; KEEP=1 keeps the scratch
# directory. Every assertion reads the nodes through `livemod --json history` and
# `status`, as an operator would. The nodes are started once and reused:
# a failed scenario leaves each node on its permanent release 1, which is
# where the next starts. Waits poll for a state, with bounds only against
# hanging.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

ROLLOUT=$TOP/fleet/livemod-rollout
N=8
# Debian's Python, which ansible-core runs on: a python3 earlier on the
# PATH may be a version manager's shim costing half a second a start
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
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

# facts I: node I in one line, as `livemod --json history`, `status` and
# `fetch --dry-run` (which names the node's current tree and writes
# nothing) tell it: "CURRENT PERMANENT RUNS LAST_RUN_STATUS LAST_RUN_TO
# TREE MESSAGER_VSN OIDS" (one Python start per node: they add up).
facts() {
	"$PY" - "$(node "$1" --json history)" "$(node "$1" --json status)" \
		"$(node "$1" --json fetch --dry-run "$CENTRAL" "$TREE2")" <<'EOF_PY'
import json, sys
h, s, f = (json.loads(a) for a in sys.argv[1:4])
runs = h["runs"]
vsn = [m["vsn"] for m in s["modules"] if m["name"] == "mod_messager"]
print(h["current"], h["permanent"], len(runs),
      runs[0]["status"] if runs else "none", runs[0]["to"] if runs else 0,
      f["current"]["tree"], vsn[0] if vsn else "-",
      ",".join(m["oid"] for m in s["modules"]))
EOF_PY
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

# remember_all, unchanged_all: every node's facts are as they were.
remember_all() {
	local i
	for i in $(seq 1 $N); do
		BEFORE[$i]=$(facts "$i")
	done
}

unchanged_all() {
	local i now
	for i in $(seq 1 $N); do
		now=$(facts "$i")
		[ "$now" = "${BEFORE[$i]}" ] ||
			fail "node $i changed: was '${BEFORE[$i]}', now '$now'"
	done
}

# on TREE I [LAST_RUN_STATUS]: node I runs the release of tree TREE (1 or
# 2: $TREE1, $TREE2), current = permanent, mod_messager 1.0.0 or 2.0.0,
# its newest run as said. Sets F (its facts).
on() {
	local want tree vsn
	[ "$1" = 1 ] && { tree=$TREE1; vsn=1.0.0; } || { tree=$TREE2; vsn=2.0.0; }
	F=$(facts "$2")
	set -- "$2" "${3:-}" $F
	[ "$3" = "$4" ] || fail "node $1: current release $3, permanent $4"
	[ "$8" = "$tree" ] || fail "node $1 runs tree $8, want $tree"
	[ "$9" = "$vsn" ] || fail "node $1 runs mod_messager $9, want $vsn"
	[ -z "$2" ] || [ "$6" = "$2" ] || fail "node $1's newest run is $6, want $2"
}

# scenario NAME: runs it; FLEET_ONLY="t_a t_b" runs only those (later
# scenarios start where earlier ones leave the nodes: a subset is for
# working on one, not for proving it).
scenario() {
	case " ${FLEET_ONLY:-$1} " in
	*" $1 "*) ;;
	*) return ;;
	esac
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
	# a release tree holding something other than module files, and a
	# ref that names one tree for a commit of another
	E=$W/evil.git
	git init -q --bare "$E"
	blob=$(printf 'not a module\n' | git --git-dir="$E" hash-object -w --stdin)
	tree=$(printf '100644 blob %s\tREADME\n' "$blob" | git --git-dir="$E" mktree)
	commit=$(git --git-dir="$E" commit-tree -m evil "$tree")
	git --git-dir="$E" update-ref "refs/livemod/releases/$tree" "$commit"
	git --git-dir="$E" update-ref "refs/livemod/releases/$TREE1" "$commit"
	expect 2 node 1 fetch "$E" "$tree"
	has "entry 'README' is not a module file" "$ERR"
	expect 2 node 1 fetch "$E" "$TREE1"
	has "ref names tree $TREE1 but its commit" "$ERR"
	unchanged
	# and the libdir is as it was: nothing staged
	[ "$(node 1 update_list)" = "" ] || fail "the libdir changed"
}

# stage, on a node of its own (no chatd): the libdir becomes the fetched
# release (files written, the current release's extra module removed, a
# stray file reported), a corrupt object is refused with the libdir
# untouched, and the release the node then plans has the fetched tree.
t_stage() {
	LIB=$W/s/lib
	STATE=$W/s/state
	mkdir -p "$LIB"
	cp "$TOP"/build/chatd/v1/*.so "$W/probe1/mod_probe.so" "$LIB/"
	mod mod_gone.so mod_gone 1.0.0
	expect 0 lm init --libdir "$LIB" --app chatd
	cp "$LIB/mod_motd.so" "$LIB/mod_stray.so"
	expect 0 lm fetch "$CENTRAL" "${TREE2:0:10}"
	# a corrupt object: mod_util.so's blob holds mod_motd.so's bytes
	b=$(git --git-dir="$STATE/store.git" rev-parse "$TREE2:mod_util.so")
	o=$(git --git-dir="$STATE/store.git" rev-parse "$TREE2:mod_motd.so")
	f=$STATE/store.git/objects/${b:0:2}/${b:2}
	cp "$f" "$W/s/good"
	chmod u+w "$f"
	cp "$STATE/store.git/objects/${o:0:2}/${o:2}" "$f"
	ls -l --time-style=+%s.%N "$LIB" > "$W/s/before"
	expect 2 lm stage "$TREE2"
	has "$b" "$ERR"
	ls -l --time-style=+%s.%N "$LIB" > "$W/s/after"
	cmp -s "$W/s/before" "$W/s/after" || fail "stage refused but changed the libdir"
	cp "$W/s/good" "$f"
	expect 0 lm --json stage "$TREE2"
	hasj '"removed": ["mod_gone.so"]' "$OUT"
	hasj '"extra": ["mod_stray.so"]' "$OUT"
	hasj '"written": ["mod_messager.so", "mod_motd.so", "mod_probe.so", "mod_util.so"]' "$OUT"
	[ ! -e "$LIB/mod_gone.so" ] || fail "mod_gone.so is still in the libdir"
	expect 0 lm --json stage --dry-run "$TREE2"
	hasj '"written": []' "$OUT"
	rm "$LIB/mod_stray.so"
	expect 0 lm plan
	[ "$(git --git-dir="$STATE/store.git" rev-parse 'release-2^{tree}')" = "$TREE2" ] ||
		fail "the planned release's tree is not the fetched one"
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
	on 1 5 ok
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
	on 1 1 eval_failed
	# nodes 2-8: fetched and staged in preflight, never applied anything
	BEFORE[1]=$F
	unchanged_all
	has "n1 " "$(echo "$OUT" | grep 'failed')"
	[ "$(echo "$OUT" | grep -c 'untouched')" -eq 7 ] || fail "want 7 untouched nodes in the table"
}

t_wave2_fails() {
	touch "$W/n3/probe/fail"
	rollout wave2
	rm -f "$W/n3/probe/fail"
	[ "$RC" -eq 1 ] || fail "rollout exited $RC, want 1"
	# 1 (canary) and 2 passed their waves, and were rolled back: their
	# newest run goes to release 1; 3 failed; 4-8 never started
	for i in 1 2; do
		on 1 $i ok
		set -- $F
		[ "$5" = 1 ] || fail "node $i's newest run goes to release $5, not 1"
	done
	on 1 3 eval_failed
	for i in $(seq 4 $N); do
		on 1 "$i"
	done
	[ "$(echo "$OUT" | grep -c ' rolled back')" -eq 2 ] || fail "want 2 rolled back nodes in the table"
	[ "$(echo "$OUT" | grep -c 'untouched')" -eq 5 ] || fail "want 5 untouched nodes in the table"
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
	# node 8 booted its permanent release 1, its run marked interrupted;
	# nodes 1-7 were rolled back by the wrapper: all on tree 1
	on 1 8 interrupted
	for i in $(seq 1 7); do
		on 1 "$i" ok
	done
	[ "$(echo "$OUT" | grep -c ' rolled back')" -eq 7 ] || fail "want 7 rolled back nodes in the table"
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
		on 2 "$i" ok
	done
}

START=$(date +%s)
setup
scenario t_transport_bad_input
scenario t_stage
scenario t_skew
scenario t_unreachable
scenario t_canary_fails
scenario t_wave2_fails
scenario t_kill_last_wave
scenario t_all_pass
echo "# $(($(date +%s) - START)) s"
finish
