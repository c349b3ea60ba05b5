#!/bin/sh
# run.sh - `make bench`: every benchmark in turn, figures side by side.
# Paste the output into docs/BENCHMARKS.md with the date and machine.
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
# Each benchmark starts with no dirty pages left by the one before: the
# planner's writes 10,000 modules twice over, and their writeback would
# land in the fsyncs and journal commits a later one times.
section() {
	sync
	echo
	echo "== $1 =="
}
echo "machine: $(nproc) cores, $(uname -srm), $(date -u +%Y-%m-%d)"
section "planner (issue: planner)"
sh bench/bench_plan.sh
section "apply inside the node (issue: agent)"
LM_TOP=$PWD "$B/bench/bench_apply" 1 200 2>/dev/null
LM_TOP=$PWD "$B/bench/bench_apply" 20 50 2>/dev/null
LM_TOP=$PWD "$B/bench/bench_apply_qsbr" 1 1000 2>/dev/null
LM_TOP=$PWD "$B/bench/bench_apply_qsbr" 20 50 2>/dev/null
section "state by move: the pause at 10 and 1,000,000 keys (issue 16)"
"$B/bench/bench_state_move" 40
section "the livemod command: start-up, status, update, update_list (issue 14)"
sh bench/bench_cli.sh 100
section "livemod update through the CLI"
sh bench/bench_update.sh 1 30
sh bench/bench_update.sh 20 15
section "a short call against a plain indirect call"
"$B/tests/agent/bench_call" 50000000
"$B/tests/agent/bench_call_qsbr" 50000000
mod=$(mktemp -d)
cc -std=c11 -O2 -shared -fPIC -fno-gnu-unique -Iinclude -DMOD_NAME=mod_a \
	-DMOD_VSN='"1.0.0"' -o "$mod/mod_a.so" tests/modules/generic.c
valgrind --tool=callgrind --callgrind-out-file="$mod/cg" \
	"$B/bench/bench_call_ir" "$mod/mod_a.so" 1000000 > /dev/null 2>&1
callgrind_annotate --inclusive=yes "$mod/cg" 2>/dev/null |
	awk '/bench_call_ir.c:loop_plain \[/ { gsub(",", "", $1); p = $1 / 1e6 }
	     /bench_call_ir.c:loop_lmcall \[/ { gsub(",", "", $1); c = $1 / 1e6 }
	     END { printf "callgrind, instructions per call: plain %.1f, LM_CALL %.1f (+%.1f)\n", p, c, c - p }'
rm -rf "$mod"
section "chatd under load (issue: chatd)"
bash bench/bench_chatd.sh
section "kvd under redis-benchmark (issue 16)"
bash bench/bench_kvd.sh
