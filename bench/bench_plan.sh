#!/bin/sh
# bench_plan.sh - the planner against git on the same 10,000-module tree.
#
#   warm: `livemod plan --dry-run` with one changed module and a warm stat
#         cache, against `git status` with the same file changed;
#   cold: `livemod init` (hash, read descriptors, store every object,
#         commit release 1) against `git add -A` into a fresh repository
#         (hash, store every object, write the index).
# Each is timed REPS times alternately; medians and their ratio printed.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
N=${BENCH_MODULES:-10000}
REPS=${BENCH_REPS:-9}
W=${BENCH_DIR:-$TOP/build/bench-plan}
LIVEMOD=$TOP/build/livemod

rm -rf "$W"
mkdir -p "$W/lib"
cc -O2 -o "$W/gen" "$TOP/bench/gen_modules.c"
cc -std=c11 -shared -fPIC -fno-gnu-unique -s -Wl,-z,noseparate-code \
	-I"$TOP/include" -o "$W/tpl.so" "$TOP/bench/bench_template.c"
"$W/gen" "$W/tpl.so" "$W/lib" "$N"
sleep 1.2 # files older than the cache's racy window, as after an install

. "$TOP/bench/lib.sh"

# --- cold ---------------------------------------------------------------
: > "$W/cold.lm"
: > "$W/cold.git"
for i in $(seq "$REPS"); do
	rm -rf "$W/state" "$W/lib/.git"
	time_ms "$LIVEMOD" --state "$W/state" init --libdir "$W/lib" --app bench >> "$W/cold.lm"
	time_ms sh -c "cd '$W/lib' && git init -q && git add -A" >> "$W/cold.git"
done
cold_lm=$(median < "$W/cold.lm")
cold_git=$(median < "$W/cold.git")

# --- warm ---------------------------------------------------------------
( cd "$W/lib" && git -c user.name=b -c user.email=b@b -c gc.auto=0 \
	-c maintenance.auto=false commit -qm base ) # no background gc
# the cold runs wrote ~1 GB: let its writeback finish, not tax both sides
sync
sleep 1.2
# a cold plan run records the stat cache (nothing changed: no plan)
"$LIVEMOD" --state "$W/state" plan > /dev/null
"$W/gen" --bump "$W/lib/mod_b0000000000000.so"
git -C "$W/lib" status --porcelain > /dev/null # let git refresh its index
"$LIVEMOD" --state "$W/state" plan --dry-run | grep -q "load_module,mod_b0000000000000" ||
	{ echo "bench: the changed module was not planned" >&2; exit 1; }
: > "$W/warm.lm"
: > "$W/warm.git"
for i in $(seq "$REPS"); do
	time_ms "$LIVEMOD" --state "$W/state" plan --dry-run >> "$W/warm.lm"
	time_ms git -C "$W/lib" status >> "$W/warm.git"
done
warm_lm=$(median < "$W/warm.lm")
warm_git=$(median < "$W/warm.git")

cat <<EOT
planner, $N modules, median of $REPS runs each (ms):
  warm  livemod plan --dry-run (1 changed)  $warm_lm
        git status (1 changed)              $warm_git
        ratio                               $(ratio "$warm_lm" "$warm_git")   (target <= 1.0)
  cold  livemod init (store all, release 1) $cold_lm
        git add -A (fresh repo)             $cold_git
        ratio                               $(ratio "$cold_lm" "$cold_git")
EOT
rm -rf "$W"
