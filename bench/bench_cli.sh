#!/bin/sh
# bench_cli.sh - the `livemod` command's own costs (issue 14), each beside
# the floor measured in the same run:
#
#   floor  posix_spawn of /bin/true: what any command pays to exist
#   floor  a tiny C client spawned to GET /modules over agent.sock
#          (bench/cli_time.c --get): the least a command that talks to
#          the node can cost
#   floor  that GET in-process (bench/cli_time.c RUNS --get): the raw
#          socket round trip, with no process around it
#   livemod --help              start-up alone
#   livemod status              GET /modules, node idle
#   livemod update all          1 module, node idle (the libdir alternates
#                               between two versions, installed before
#                               each run, outside the timing); and the
#                               node's own share of each, from its run's
#                               timings (plan_and_record + total)
#   livemod update_list         300 modules, 1 changed, after `make
#                               install` and the post-install hook's plan:
#                               the first run after the racy window (it
#                               reads the racy files and refreshes the stat
#                               cache), then the runs after it; then
#                               with a node running, which it asks
#                               (beside a tiny client's GET of the same),
#                               and the first ask right after each of 20
#                               installs, at once and 0.3 s later
#
# Every run is a process of its own, timed by bench/cli_time.c (one
# long-lived process: no `date` processes inside the timing).
#   bench_cli.sh [RUNS]
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-$TOP/build}
RUNS=${1:-100}
T="$B/bench/cli_time"
LM=${LIVEMOD:-$B/livemod} # LIVEMOD: another build, to compare
W=$(mktemp -d /tmp/lmbenchc.XXXXXX)
HOST=""
trap 'if [ -n "$HOST" ]; then kill $HOST 2>/dev/null; wait 2>/dev/null; fi; rm -rf "$W"' EXIT
CC=${CC:-cc}

# one module, two versions, a node on v1
mkdir -p "$W/lib" "$W/v1" "$W/v2"
for v in 1 2; do
	"$CC" -std=c11 -O2 -shared -fPIC -fno-gnu-unique -I"$TOP/include" \
		-DMOD_CODE_CHANGE -DMOD_NAME=mod_000 -DMOD_VSN="\"$v.0.0\"" \
		-DMOD_ANSWER=$v -o "$W/v$v/mod_000.so" "$TOP/tests/modules/generic.c"
done
cp "$W/v1/mod_000.so" "$W/lib/"
"$LM" --state "$W/st" init --libdir "$W/lib" > /dev/null
"$B/tests/lmhost" --state "$W/st" > "$W/host.out" 2> "$W/host.err" &
HOST=$!
until grep -q ready "$W/host.out" 2>/dev/null; do sleep 0.05; done

# p50 p99 min of RUNS runs of a command, as "p50 X ms, p99 Y ms (min Z)"
fmt() { awk '{ printf "p50 %6.2f ms  p99 %6.2f ms  (min %.2f)", $1, $2, $3 }'; }
p50() { echo "$1" | awk '{ print $1 }'; }

spawn=$("$T" "$RUNS" -- /bin/true)
get=$("$T" "$RUNS" -- "$T" --get "$W/st/agent.sock" /modules)
rtt=$("$T" "$RUNS" --get "$W/st/agent.sock" /modules)
help=$("$T" "$RUNS" -- "$LM" --help)
status=$("$T" "$RUNS" -- "$LM" --state "$W/st" status)
# update all: install the other version before each run
update=$("$T" "$RUNS" --prep "cp '$W'/v\$((1 + (\$1 + 1) % 2))/mod_000.so '$W/lib/.n' && mv '$W/lib/.n' '$W/lib/mod_000.so'" \
	-- "$LM" --state "$W/st" update all)
[ "$(sqlite3 "$W/st/ledger.db" "SELECT count(*) FROM apply_runs WHERE status = 'ok'")" -eq "$RUNS" ] ||
	{ echo "bench_cli: not every update succeeded" >&2; exit 1; }
# the node's own share of each, as its runs recorded it: plan and record,
# then the apply's total (the reply's timings)
share=$(sqlite3 "$W/st/ledger.db" "SELECT json_extract(timings_json, '\$.plan_and_record') +
	json_extract(timings_json, '\$.total') FROM apply_runs WHERE status = 'ok'" |
	sort -n | awk '{ v[NR] = $1 / 1000 }
		END { printf "%.2f %.2f %.2f", v[int((NR + 1) / 2)], v[int(NR * 0.99 + 0.5)], v[1] }')
kill $HOST
wait $HOST 2>/dev/null || true
HOST=""

# update_list of 300 modules right after an install
mkdir -p "$W/l3" "$W/i3"
"$CC" -O2 -o "$W/gen" "$TOP/bench/gen_modules.c"
"$CC" -std=c11 -shared -fPIC -fno-gnu-unique -s -I"$TOP/include" \
	-o "$W/tpl.so" "$TOP/bench/bench_template.c"
"$W/gen" "$W/tpl.so" "$W/l3" 300 > /dev/null
"$W/gen" "$W/tpl.so" "$W/i3" 300 > /dev/null
"$W/gen" --bump "$W/i3/mod_b0000000000007.so"
sleep 1.1
"$LM" --state "$W/s3" init --libdir "$W/l3" > /dev/null
cp "$W"/i3/*.so "$W/l3/"                      # make install
"$LM" --state "$W/s3" plan > /dev/null        # the post-install hook
sleep 1.1                                     # past the racy window
first=$("$T" 1 -- "$LM" --state "$W/s3" update_list)
ulist=$("$T" "$RUNS" -- "$LM" --state "$W/s3" update_list)
reads=$(LIVEMOD_SCAN_STATS=1 "$LM" --state "$W/s3" update_list 2>&1 >/dev/null |
	sed -n 's/.*scan: //p')
# the same with a node running on those 300 modules: update_list asks it
"$B/tests/lmhost" --state "$W/s3" > "$W/host3.out" 2> "$W/host3.err" &
HOST=$!
until grep -q ready "$W/host3.out" 2>/dev/null; do sleep 0.05; done
uget=$("$T" "$RUNS" -- "$T" --get "$W/s3/agent.sock" /update-modules)
unode=$("$T" "$RUNS" -- "$LM" --state "$W/s3" update_list)
[ "$("$LM" --state "$W/s3" update_list)" = mod_b0000000000007 ] ||
	{ echo "bench_cli: update_list from the node lists something else" >&2; exit 1; }
# right after an install: each round installs the 300 files again (every
# file written, so the node's kept answer is void) and runs the
# post-install hook's plan, outside the timing; then update_list asks at
# once (the node's precompute thread may still be scanning: the request
# waits for it), or after a pause of 0.3 s (an operator's next command)
inst="cp '$W'/i3/*.so '$W/l3/' && '$LM' --state '$W/s3' plan > /dev/null"
uat=$("$T" 20 --prep "$inst" -- "$LM" --state "$W/s3" update_list)
ulater=$("$T" 20 --prep "$inst && sleep 0.3" -- "$LM" --state "$W/s3" update_list)
# the floor of an answer within the racy window: every file just written
# is read and hashed (as git status re-hashes racily clean entries)
uhash=$("$T" 20 -- "$(command -v sha1sum)" "$W"/l3/*.so)
kill $HOST
wait $HOST 2>/dev/null || true
HOST=""

cat <<EOF
the livemod command, $RUNS runs each, every run a process but the in-process GET (bench/cli_time.c):
  floor: posix_spawn /bin/true            $(echo "$spawn" | fmt)
  floor: tiny C client, GET /modules      $(echo "$get" | fmt)
  floor: GET /modules in-process          $(echo "$rtt" | fmt)   (the raw socket round trip)
  livemod --help (start-up)               $(echo "$help" | fmt)
  livemod status (node idle)              $(echo "$status" | fmt)   target <= 5 ms; x$(echo "$(p50 "$status") $(p50 "$get")" | awk '{printf "%.2f", $1/$2}') the tiny client
  livemod update all (1 module, idle)     $(echo "$update" | fmt)   target <= 10 ms
    the node's share (plan+record+apply)  $(echo "$share" | fmt)   target <= 6 ms (the runs' timings: plan_and_record + total)
  livemod update_list, 300 modules, 1 changed, after install + plan:
    first run past the racy window        $(echo "$first" | awk '{ printf "%.2f ms", $1 }') (reads the racy files, refreshes the cache)
    the runs after it, no node            $(echo "$ulist" | fmt)   scan: $reads
    tiny C client, GET /update-modules    $(echo "$uget" | fmt)   (from memory; GET /modules above is the floor)
    with a node running (asks it)         $(echo "$unode" | fmt)   target <= 5 ms; x$(echo "$(p50 "$unode") $(p50 "$get")" | awk '{printf "%.2f", $1/$2}') the tiny client's GET /modules
    at once after install + hook, 20      $(echo "$uat" | fmt)   target <= 5 ms
    0.3 s after install + hook, 20        $(echo "$ulater" | fmt)
    floor: sha1sum of the 300 files        $(echo "$uhash" | fmt)   (what a scan within the racy window reads)
EOF
