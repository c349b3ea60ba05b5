#!/bin/bash
# fleet-demo.sh - `make fleet-demo`: an 8-node chatd fleet on this machine
# rolled forward with Ansible (fleet/livemod-rollout, docs/fleet.md).
#
# A build state dir plans the new release (chatd's v2 modules and a probe
# module) and pushes it to a fleet repository; 8 chatd nodes start on free
# loopback ports, each with its own state dir and libdir
# (fleet/local-fleet.sh); the first rollout's canary is made to fail (its
# probe module's code_change refuses on node 1 only), so the rollout stops
# after the canary and rolls it back; the second rollout passes: canary,
# 25%, the rest, make_permanent everywhere. Each node's history shows its
# own release numbers, all on one tree. Stops everything it started;
# build/fleet-demo is made afresh each time.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
LIVEMOD=$TOP/build/livemod
CC=${CC:-cc}
LF_DIR=$TOP/build/fleet-demo
rm -rf "$LF_DIR"
mkdir -p "$LF_DIR"
. "$TOP/fleet/local-fleet.sh"

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }

cleanup() {
	rc=$?
	lf_stop
	[ $rc -eq 0 ] || echo "fleet-demo failed (exit $rc); logs in $LF_DIR" >&2
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# rollout NAME: the wrapper, Ansible's output in a log, the table shown.
rollout() {
	local rc=0
	"$TOP/fleet/livemod-rollout" -i "$LF_DIR/inventory.ini" \
		--remote "$LF_CENTRAL" --release "${LF_TREE2:0:12}" \
		> "$LF_DIR/rollout.$1.out" 2> "$LF_DIR/ansible.$1.log" || rc=$?
	sed 's/^/    /' "$LF_DIR/rollout.$1.out"
	note "(exit $rc; Ansible's output: $LF_DIR/ansible.$1.log)"
	return $rc
}

command -v ansible-playbook > /dev/null ||
	{ echo "fleet-demo: ansible-playbook missing: sh scripts/deps.sh" >&2; exit 1; }

say "Building livemod, the agent and examples/chatd"
make --no-print-directory -s -C "$TOP" all chatd > /dev/null

say "A build machine plans the new release and pushes it to the fleet repository"
note "release 1: chatd's v1 modules; release 2: its v2 modules (planned, not applied)"
note "8 nodes start on release 1, each with its own state dir, libdir and ports"
lf_setup 8
note "livemod push $LF_CENTRAL 2  ->  release tree $LF_TREE2"
note "between nodes a release is its tree: each node numbers its own releases"
for i in 1 2 8; do
	note "n$i: chatd on 127.0.0.1:${LF_PORT[$i]}, $(lf_node $i history | head -1)"
done

say "Rollout 1: node 1 (the canary) will fail its apply"
note "touch $LF_DIR/n1/probe/fail  (mod_probe 1.1.0's code_change refuses on node 1 only)"
touch "$LF_DIR/n1/probe/fail"
if rollout canary; then
	echo "fleet-demo: the rollout should have failed" >&2
	exit 1
fi
rm -f "$LF_DIR/n1/probe/fail"
note "preflight passed on all 8 (health, skew guard, fetch, stage, dry-run check);"
note "the canary's eval failed: it stayed on release 1, and nodes 2-8 applied nothing"
note "n1: $(lf_node 1 history | sed -n '/^apply runs/{n;p}')"

say "Rollout 2: the cause is gone; canary, then 25%, then the rest, then make_permanent"
rollout good

say "Every node: its own release numbers, the same tree"
for i in $(seq 1 8); do
	cur=$(lf_node "$i" history | sed -n 's/^current release \([0-9]*\), permanent release \([0-9]*\)$/\1 \2/p')
	set -- $cur
	note "n$i: current release $1, permanent $2, tree $(git --git-dir="$LF_DIR/n$i/state/store.git" rev-parse "release-$1^{tree}")"
done

say "What happened"
note "livemod push/fetch/stage moved the release through git; Ansible ran the waves;"
note "a failing canary stopped the rollout with nothing else touched; docs/fleet.md"
