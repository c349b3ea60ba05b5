# local-fleet.sh - a fleet of chatd nodes on this machine, for
# tests/e2e/test_fleet.sh and `make fleet-demo` (scripts/fleet-demo.sh).
# Sourced by bash; needs TOP (the source tree), LIVEMOD, CC and LF_DIR
# (a scratch directory), and `make chatd` done.
#
#   lf_setup N     builds the probe module (tests/modules/probe.c) at 1.0.0
#                  and 1.1.0; on a build state dir, chatd's v1 modules and
#                  probe 1.0.0 are release 1, its v2 modules and probe
#                  1.1.0 release 2 (planned, not applied), pushed to the
#                  fleet repository $LF_CENTRAL; then N nodes n1..nN, each
#                  with its own state dir, libdir (the v1 files: so each
#                  node's release 1 has the build's tree) and ports,
#                  started; and $LF_DIR/inventory.ini listing them with
#                  ansible_connection=local. Sets LF_TREE1, LF_TREE2.
#   lf_start I     starts chatd on node I (LF_PID[I], LF_PORT[I]); a
#                  node's $LM_PROBE_DIR is $LF_DIR/nI/probe
#   lf_stop        SIGKILLs every node
#   lf_node I ...  livemod on node I

LF_CB=$TOP/build/chatd
LF_CENTRAL=$LF_DIR/central.git
declare -a LF_PID LF_PORT

lf_node() {
	local i=$1
	shift
	"$LIVEMOD" --state "$LF_DIR/n$i/state" "$@"
}

lf_start() {
	local i=$1 n=0 err
	err=$LF_DIR/n$i/chatd.err.$(date +%s%N)
	LM_PROBE_DIR=$LF_DIR/n$i/probe "$LF_CB/chatd" --listen 127.0.0.1:0 \
		--state "$LF_DIR/n$i/state" --http 127.0.0.1:0 2> "$err" &
	LF_PID[$i]=$!
	until grep -q '^chatd: ready' "$err" 2>/dev/null; do
		n=$((n + 1))
		if [ $n -gt 400 ] || ! kill -0 "${LF_PID[$i]}" 2>/dev/null; then
			echo "local-fleet: node $i did not start: $(cat "$err")" >&2
			return 1
		fi
		sleep 0.05
	done
	LF_PORT[$i]=$(sed -n 's/^chatd: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$err")
}

lf_stop() {
	local i
	for i in "${!LF_PID[@]}"; do
		kill -KILL "${LF_PID[$i]}" 2>/dev/null || true
		wait "${LF_PID[$i]}" 2>/dev/null || true # 137: killed, as asked
	done
	LF_PID=()
}

lf_setup() {
	local n=$1 i v b=$LF_DIR/build
	mkdir -p "$LF_DIR/probe1" "$LF_DIR/probe2" "$b/lib"
	for v in 1 2; do
		"$CC" -std=c11 -Wall -Wextra -Werror -shared -fPIC -fno-gnu-unique \
			-I"$TOP/include" -DPROBE_VSN="\"1.$((v - 1)).0\"" \
			-o "$LF_DIR/probe$v/mod_probe.so" "$TOP/tests/modules/probe.c" || return 1
	done
	cp "$LF_CB"/v1/*.so "$LF_DIR/probe1/mod_probe.so" "$b/lib/" &&
		"$LIVEMOD" --state "$b/state" init --libdir "$b/lib" --app chatd > /dev/null &&
		cp "$LF_CB"/v2/*.so "$LF_DIR/probe2/mod_probe.so" "$b/lib/" &&
		"$LIVEMOD" --state "$b/state" plan > /dev/null &&
		"$LIVEMOD" --state "$b/state" push "$LF_CENTRAL" 2 > /dev/null || return 1
	LF_TREE1=$(git --git-dir="$b/state/store.git" rev-parse 'release-1^{tree}')
	LF_TREE2=$(git --git-dir="$b/state/store.git" rev-parse 'release-2^{tree}')
	{
		echo "[livemod]"
		for i in $(seq 1 "$n"); do
			echo "n$i livemod_state=$LF_DIR/n$i/state"
		done
		echo "[livemod:vars]"
		echo "ansible_connection=local"
		echo "ansible_python_interpreter=/usr/bin/python3"
		echo "livemod_bin=$LIVEMOD"
	} > "$LF_DIR/inventory.ini"
	for i in $(seq 1 "$n"); do
		mkdir -p "$LF_DIR/n$i/lib" "$LF_DIR/n$i/probe"
		cp "$LF_CB"/v1/*.so "$LF_DIR/probe1/mod_probe.so" "$LF_DIR/n$i/lib/" &&
			lf_node "$i" init --libdir "$LF_DIR/n$i/lib" --app chatd > /dev/null &&
			lf_start "$i" || return 1
	done
}
