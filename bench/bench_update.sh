#!/bin/sh
# bench_update.sh - `livemod update all` through the CLI against a running
# node (build/tests/lmhost, a caller thread busy on the module): the whole
# round trip a person or a post-install hook pays — process start, libdir
# scan, plan recorded, HTTP over agent.sock, apply, answer. Alternates the
# libdir between two versions of MODULES modules.
#   bench_update.sh MODULES ROUNDS
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/bench/lib.sh"
N=${1:-1}
ROUNDS=${2:-30}
W=$(mktemp -d /tmp/lmbenchu.XXXXXX)
trap 'kill $HOST 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
mkdir -p "$W/lib" "$W/v1" "$W/v2"
for k in $(seq 0 $((N - 1))); do
	m=$(printf 'mod_%03d' "$k")
	for v in 1 2; do
		cc -std=c11 -O2 -shared -fPIC -fno-gnu-unique -I"$TOP/include" \
			-DMOD_CODE_CHANGE -DMOD_NAME="$m" -DMOD_VSN="\"$v.0.0\"" \
			-DMOD_ANSWER=$v -o "$W/v$v/$m.so" "$TOP/tests/modules/generic.c"
	done
done
cp "$W"/v1/*.so "$W/lib/"
"$TOP/build/livemod" --state "$W/st" init --libdir "$W/lib" > /dev/null
"$TOP/build/tests/lmhost" --state "$W/st" --call mod_000 > "$W/host.out" 2> "$W/host.err" &
HOST=$!
until grep -q ready "$W/host.out" 2>/dev/null; do sleep 0.05; done
: > "$W/t"
for i in $(seq "$ROUNDS"); do
	cp "$W"/v$((1 + i % 2))/*.so "$W/lib/"
	time_ms "$TOP/build/livemod" --state "$W/st" update all >> "$W/t"
done
[ "$(sqlite3 "$W/st/ledger.db" "SELECT count(*) FROM apply_runs WHERE status='ok'")" -eq "$ROUNDS" ] ||
	{ echo "bench_update: not every update succeeded" >&2; exit 1; }
echo "livemod update all (CLI, $N module$([ "$N" -gt 1 ] && echo s)), $ROUNDS rounds: p50 $(pct 50 < "$W/t") ms, p99 $(pct 99 < "$W/t") ms"
