#!/bin/bash
# bench_chatd.sh - examples/chatd under load (issue 4's benchmark): the same
# loadgen load in each situation, side by side.
#
#   steady    loadgen alone, for as long as the round's upgrade burst took
#   upgrades  the same load while mod_messager goes v1 -> v2 -> v1 ...
#             CHATD_BENCH_UPDATES (20) times back to back (install the
#             object, GET /update-modules/all, GET /modules until the old
#             version is retired), driven over the control API by one
#             process that stays up (bench/update_driver.c), as a
#             deployment tool would; loadgen runs exactly for the burst
#   control   the same load and the same driver with nothing to update
#   upgrades-cli, control-cli
#             the same two driven from this script with cp, mv and the
#             `livemod` command (`update all`, `status` polled): on this
#             VM every process created costs a busy server tail latency
#             (a loop of `sleep 0.1` alone doubles chatd's p99), so these
#             rows show what a shell-driven upgrade costs
#   restart   the same load, then a full restart of chatd: SIGTERM, wait
#             for it to exit, start it again on the same port (it boots the
#             current release); connections dropped, time from SIGTERM
#             until a new connection is answered (its motd), messages lost
#
# upgrades, steady and control alternate CHATD_BENCH_ROUNDS (3) times on
# one chatd, so that whatever else the machine does weighs on them alike;
# steady and control run exactly as long as that round's upgrade burst (a
# p99 over a shorter window weighs loadgen's start more); the p99 ratios
# are taken per round and the median reported.
#
# Load: CHATD_BENCH_CONNS (32) connections in CHATD_BENCH_ROOMS (8) rooms,
# each sending CHATD_BENCH_RATE (100) messages a second (0: as fast as it
# can, 4 in flight each). Every message goes to every member of its room:
# "delivered/s" counts those receptions, "sent/s" the messages. Latency:
# a sender's own message, from send to its return (loadgen's p50/p99/max).
#
# Loopback only, free ports (chatd's port 0), a scratch dir (KEEP=1 keeps
# it), everything it starts killed on exit; fails (exit 1) when a step
# fails: an update not ok, anything lost or an error or a disconnect outside
# the restart, a restart that does not drop every connection or does not
# serve again. About 45 s with the defaults.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/bench/lib.sh"

CONNS=${CHATD_BENCH_CONNS:-32}
ROOMS=${CHATD_BENCH_ROOMS:-8}
RATE=${CHATD_BENCH_RATE:-100}
ROUNDS=${CHATD_BENCH_ROUNDS:-3}
UPDATES=${CHATD_BENCH_UPDATES:-20}
CB=$TOP/build/chatd
LIVEMOD=$TOP/build/livemod

W=$(mktemp -d "${TMPDIR:-/tmp}/lmbenchchatd.XXXXXX")
LIB=$W/lib
STATE=$W/state
CHATD_PID=""
LG_PID=""

die() {
	echo "bench_chatd: $*" >&2
	for f in chatd.err lg.err; do
		[ -s "$W/$f" ] && { echo "--- $f (tail)" >&2; tail -5 "$W/$f" >&2; }
	done
	exit 1
}

cleanup() {
	rc=$?
	exec 3>&- 3<&-
	[ -n "$LG_PID" ] && { kill -KILL "$LG_PID" 2>/dev/null; wait "$LG_PID" 2>/dev/null; }
	[ -n "$CHATD_PID" ] && { kill -KILL "$CHATD_PID" 2>/dev/null; wait "$CHATD_PID" 2>/dev/null; }
	if [ -n "${KEEP:-}" ]; then
		echo "bench_chatd: kept $W" >&2
	else
		rm -rf "$W"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lm() { timeout 30 "$LIVEMOD" --state "$STATE" "$@"; }

# now_us: microseconds, without a fork (bash 5's EPOCHREALTIME).
now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }

# ---- build and set up ------------------------------------------------------
make --no-print-directory -s -C "$TOP" chatd > "$W/build.log" 2>&1 ||
	{ tail -20 "$W/build.log" >&2; die "make chatd failed"; }
cc -std=c11 -O2 -Wall -Wextra -Werror -o "$W/update_driver" \
	"$TOP/bench/update_driver.c" 2>> "$W/build.log" ||
	{ tail -20 "$W/build.log" >&2; die "cannot build bench/update_driver.c"; }
[ -n "${EPOCHREALTIME:-}" ] || die "needs bash 5 (EPOCHREALTIME)"
mkdir -p "$LIB"
cp "$CB"/v1/*.so "$LIB"/ || die "cannot install the v1 modules"
lm init --libdir "$LIB" --app chatd > /dev/null 2> "$W/init.err" ||
	die "livemod init failed: $(cat "$W/init.err")"

# chatd_start [PORT]: starts chatd (port 0: a free one) and waits for
# "chatd: ready"; PORT is the port it listens on.
chatd_start() {
	: > "$W/chatd.err"
	"$CB/chatd" --listen "127.0.0.1:${1:-0}" --state "$STATE" \
		--http 127.0.0.1:0 2>> "$W/chatd.err" &
	CHATD_PID=$!
	local n=0
	until grep -q '^chatd: ready' "$W/chatd.err" 2>/dev/null; do
		n=$((n + 1))
		if [ $n -gt 2000 ] || ! kill -0 "$CHATD_PID" 2>/dev/null; then
			die "chatd did not start"
		fi
		sleep 0.005
	done
	PORT=$(sed -n 's/^chatd: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$W/chatd.err")
	[ -n "$PORT" ] || die "no port in chatd's log"
}

# lg_start PREFIX: loadgen in the background (until lg_stop or the end of
# its 60 s), once every connection has joined.
lg_start() {
	"$CB/loadgen" --connect "127.0.0.1:$PORT" --conns "$CONNS" \
		--rooms "$ROOMS" --rate "$RATE" --duration 60 --drain 10 \
		--prefix "$1" > "$W/lg.out" 2> "$W/lg.err" &
	LG_PID=$!
	local n=0
	until grep -q '^ready' "$W/lg.out" 2>/dev/null; do
		n=$((n + 1))
		if [ $n -gt 6000 ] || ! kill -0 "$LG_PID" 2>/dev/null; then
			die "loadgen did not start"
		fi
		sleep 0.005
	done
}

# lg_wait [SIGNAL]: (signals loadgen to stop sending and) waits for its
# drain; LG is its summary line, LG_RC its exit status.
lg_wait() {
	[ -n "${1:-}" ] && kill "-$1" "$LG_PID"
	wait "$LG_PID"
	LG_RC=$?
	LG_PID=""
	LG=$(grep '^loadgen:' "$W/lg.out") || die "loadgen printed no summary"
}

# field NAME: the number after NAME in $LG.
field() {
	echo "$LG" | awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { v = $(i + 1); sub("/s", "", v); print v; exit } }'
}

# clean_run NAME: the run lost nothing, had no error, no disconnect.
clean_run() {
	case "$LG" in
	*" sent 0 "*) die "$1: loadgen sent nothing: $LG" ;;
	*" lost 0 errors 0 disconnects 0 "*) [ "$LG_RC" -eq 0 ] || die "$1: loadgen exited $LG_RC" ;;
	*) die "$1: $LG; $(head -3 "$W/lg.err")" ;;
	esac
}

# record NAME: appends a run's figures to $W/runs: name, seconds, sent,
# sent/s, received, latency (us) p50 p99 max, lost, errors, disconnects.
record() {
	echo "$1 $(field elapsed_s) $(field sent) $(field rate) $(field received)" \
		"$(field p50) $(field p99) $(field max) $(field lost)" \
		"$(field errors) $(field disconnects)" >> "$W/runs"
}

# ---- 1 and 2, alternating: steady state, a burst of upgrades, a control --
# ROUNDS rounds, each a steady window, a burst of upgrades and a control
# burst, so that whatever else the machine does weighs on all alike; the
# ratios are taken per round, then their median.
#
# burst upgrades: UPDATES updates of mod_messager back to back, alternately
# v2 (code_change up) and v1 (installed again over v2: code_change in
# 1.0.0): install the object (a new file renamed into place), `livemod
# update all` (must say eval ok), then `livemod status` until the old
# version is retired (soft_purge: once every connection has moved on at its
# next line) and the new one served.
# burst control: the same CLI calls with nothing to update (`update all`
# answers "nothing to update", one `status`): what running the CLI costs
# the server's latency on this machine, without any swap.
# install VERSION: mod_messager of VERSION into the libdir (a new file
# renamed into place, as an install does).
install() {
	cp "$CB/$1/mod_messager.so" "$LIB/.mod_messager.tmp" &&
		mv "$LIB/.mod_messager.tmp" "$LIB/mod_messager.so" ||
		die "install $1"
}

# update_cli KIND I VSN: the same with the livemod command.
update_cli() {
	local n=0 out st
	out=$(lm update all 2>&1) || die "round $round, $1 $2 ($3) failed: $out"
	case "$1:$out" in
	upgrades:*"eval: {ok,[]}"*) ;;
	control:"nothing to update"*) ;;
	*) die "round $round, $1 $2 ($3): $out" ;;
	esac
	while st=$(lm status) && case "$st" in *"  old "*) true ;; *) false ;; esac; do
		n=$((n + 1))
		[ $n -lt 200 ] || die "round $round, update $2: the old version never retired: $st"
		# each poll is a process on the server's two cores:
		# poll as a person would, not as fast as possible
		sleep 0.05
	done
	case "$st" in
	*"mod_messager  $3 "*) ;;
	*) die "round $round, $1 $2: mod_messager is not $3: $st" ;;
	esac
}

# burst KIND DRIVER: UPDATES updates of mod_messager back to back,
# alternately v2 (code_change up) and v1 (installed again over v2:
# code_change in 1.0.0), each waited for until the old version is retired
# (soft_purge: once every connection has moved on at its next line);
# KIND control: the same calls with nothing to update. DRIVER api or cli.
burst() {
	local kind=$1 drive=$2 i v vsn t0 t1 u0 u1 name=$1 first=2
	[ "$drive" = cli ] && name=$kind-cli
	lg_start "${name:0:1}$drive$round"
	t0=$(now_us)
	[ "$CUR_VSN" = 2.0.0 ] && first=1
	if [ "$drive" = api ]; then
		"$W/update_driver" "$STATE/agent.sock" "$LIB" mod_messager.so \
			"$CB/v1" "$CB/v2" "$UPDATES" "$first" \
			$([ "$kind" = control ] && echo control) \
			>> "$W/upd-$kind-api.ms" 2> "$W/driver.err" ||
			die "round $round, $kind: $(cat "$W/driver.err")"
		# an even number of updates ends where it began
		[ $((UPDATES % 2)) = 0 ] || [ "$kind" = control ] ||
			{ [ "$first" = 2 ] && CUR_VSN=2.0.0 || CUR_VSN=1.0.0; }
	fi
	for i in $(seq "$([ "$drive" = cli ] && echo "$UPDATES" || echo 0)"); do
		if [ $((i % 2)) = 1 ]; then v=v2 vsn=2.0.0; else v=v1 vsn=1.0.0; fi
		if [ "$kind" = control ]; then
			vsn=$CUR_VSN
		else
			install "$v"
		fi
		u0=$(now_us)
		update_cli "$kind" "$i" "$vsn"
		u1=$(now_us)
		if [ "$kind" = upgrades ]; then
			echo $(((u1 - u0) / 1000)) >> "$W/upd-cli.ms"
			CUR_VSN=$vsn
		fi
	done
	t1=$(now_us)
	# the control window as long as the upgrades' (a p99 over a shorter
	# window weighs loadgen's start more)
	if [ "$drive:$kind" = api:control ] && [ $(((t1 - t0) / 1000)) -lt "$WINDOW_MS" ]; then
		sleep_ms $((WINDOW_MS - (t1 - t0) / 1000))
	fi
	LAST_MS=$(((t1 - t0) / 1000))
	lg_wait USR1
	clean_run "$name, round $round"
	record "$name"
	echo "$name $(((t1 - t0) / 1000))" >> "$W/bursts"
}

: > "$W/runs"
: > "$W/upd-upgrades-api.ms"
: > "$W/upd-cli.ms"
: > "$W/bursts"
# sleep_ms MS (a signal's trap runs at once)
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))" & wait $!; }

CUR_VSN=1.0.0
chatd_start 0
for round in $(seq "$ROUNDS"); do
	# steady and control over a window as long as the upgrade burst
	burst upgrades api
	WINDOW_MS=$LAST_MS
	[ "$WINDOW_MS" -ge 1000 ] || WINDOW_MS=1000
	lg_start "s$round"
	sleep_ms "$WINDOW_MS"
	lg_wait USR1
	clean_run "steady, round $round"
	record steady
	burst control api
	burst upgrades cli
	burst control cli
done
ok_runs=$(sqlite3 "$STATE/ledger.db" "SELECT count(*) FROM apply_runs WHERE status = 'ok'" 2>/dev/null) || ok_runs="?"
[ "$ok_runs" = "?" ] || [ "$ok_runs" -eq $((2 * ROUNDS * UPDATES)) ] ||
	die "$ok_runs ok apply runs in the ledger, want $((2 * ROUNDS * UPDATES))"

# ---- 3. a full restart under the same load --------------------------------
# probe: one new connection; true when its first line is the motd.
probe() {
	{ exec 3<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null || return 1
	local line=""
	IFS= read -r -t 2 line <&3
	exec 3>&- 3<&-
	case "$line" in motd*) return 0 ;; *) return 1 ;; esac
}
lg_start restart
sleep 2 & wait $!
open_before=$CONNS
r0=$(now_us)
kill -TERM "$CHATD_PID"
( sleep 10; kill -KILL "$CHATD_PID" 2>/dev/null ) & # a bound on the stop
DOG=$!
wait "$CHATD_PID"
rc=$?
kill "$DOG" 2>/dev/null
wait "$DOG" 2>/dev/null
CHATD_PID=""
r1=$(now_us)
[ $rc -eq 0 ] || die "chatd exited $rc on SIGTERM (137: did not stop within 10 s)"
chatd_start "$PORT"
r2=$(now_us)
n=0
until probe; do
	n=$((n + 1))
	[ $n -lt 1000 ] || die "chatd does not serve again after the restart"
	sleep 0.001
done
r3=$(now_us)
# loadgen ends by itself once every connection is gone
lg_wait
record restart
[ "$(field disconnects)" = "$open_before" ] ||
	die "restart: $open_before connections open, $(field disconnects) dropped: $LG"
[ "$(field errors)" = 0 ] || die "restart: loadgen errors: $LG"
closing=$(grep -c 'closing: server shutting down' "$W/lg.err")
STOP_MS=$(((r1 - r0) / 1000))
BOOT_MS=$(((r2 - r1) / 1000))
DOWN_MS=$(((r3 - r0) / 1000))

# ---- the table -------------------------------------------------------------
# Per kind of run: seconds, sent, lost, errors, disconnects summed; sent/s
# and delivered/s over the summed seconds; p50 and p99 the median of the
# rounds' (loadgen reports percentiles per run), max the max.
echo "chatd under load: $CONNS connections in $ROOMS rooms, $([ "$RATE" = 0 ] && echo "full rate (4 in flight each)" || echo "$RATE msg/s each"), loopback; $ROUNDS rounds of: $UPDATES updates over the API, steady and control for as long, then $UPDATES updates and $UPDATES control calls with the CLI"
printf '%-9s %5s %7s %7s %11s %7s %7s %7s %5s %6s %5s\n' \
	run secs sent sent/s delivered/s p50_us p99_us max_us lost errors disc
for k in steady upgrades control upgrades-cli control-cli restart; do
	awk -v k="$k" '
	function med(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	$1 == k { n++; s += $2; sent += $3; rcv += $5; p50[n] = $6; p99[n] = $7
		if ($8 > mx) mx = $8; lost += $9; err += $10; disc += $11 }
	END { printf "%-9s %5.1f %7d %7.0f %11.0f %7.0f %7.0f %7d %5d %6d %5d\n",
		k, s, sent, sent / s, rcv / s, med(p50, n), med(p99, n), mx, lost, err, disc }' "$W/runs"
done
# p99s A B: each round's p99 of A and B, and the median of the ratios.
p99s() {
	awk -v a="$1" -v b="$2" '$1 == a { x[++n] = $7 } $1 == b { y[++m] = $7 }
	END { for (i = 1; i <= n; i++) { r[i] = x[i] / y[i]; l = l sprintf("%s%d/%d", (i > 1 ? " " : ""), x[i], y[i]) }
		for (i = 2; i <= n; i++) for (j = i; j > 1 && r[j - 1] > r[j]; j--) { t = r[j]; r[j] = r[j - 1]; r[j - 1] = t }
		printf "%.2f (rounds: %s us)", (n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2), l }' "$W/runs"
}
DLV=$(awk '$1 == "steady" { s += $2; a += $5 } $1 == "upgrades" { t += $2; b += $5 }
	END { printf "%.2f", (b / t) / (a / s) }' "$W/runs")
echo "upgrades: $((2 * ROUNDS * UPDATES)) updates of mod_messager (v1 <-> v2, code_change each way), all ok; a burst of $UPDATES takes $(awk '$1 == "upgrades" { print $2 }' "$W/bursts" | median) ms over the API ($(awk '$1 == "upgrades-cli" { print $2 }' "$W/bursts" | median) ms with the CLI); an update over the API, from install to the old version retired, p50 $(pct 50 < "$W/upd-upgrades-api.ms") ms, max $(sort -n "$W/upd-upgrades-api.ms" | tail -1) ms; livemod update all p50 $(pct 50 < "$W/upd-cli.ms") ms, max $(sort -n "$W/upd-cli.ms" | tail -1) ms"
echo "restart: $open_before/$CONNS connections dropped ($closing told 'closing: server shutting down'), $(field lost) messages in flight lost; serves again $DOWN_MS ms after SIGTERM (stop $STOP_MS ms, start to ready $BOOT_MS ms, first reply +$((DOWN_MS - STOP_MS - BOOT_MS)) ms)"
echo "ratio p99 upgrades/steady $(p99s upgrades steady); target <= 1.5 (driven over the REST API)"
echo "ratio p99 control/steady  $(p99s control steady): the same driver, nothing to update"
echo "ratio p99 upgrades/control $(p99s upgrades control): the swaps themselves"
echo "ratio p99 upgrades-cli/steady $(p99s upgrades-cli steady): driven with the livemod command"
echo "ratio p99 control-cli/steady  $(p99s control-cli steady): the CLI alone, no swap"
echo "delivered/s upgrades/steady $DLV; lost across $((2 * ROUNDS * UPDATES)) live updates: $(awk '$1 ~ /^upgrades/ { l += $9; d += $11 } END { printf "%d messages, %d connections", l, d }' "$W/runs") (target 0); one restart: $open_before connections"
