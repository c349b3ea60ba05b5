#!/bin/bash
# demo.sh - `make demo`: chatd upgraded live while a client stays connected.
#
# Builds livemod, the agent and examples/chatd; installs chatd and its v1
# modules into build/demo/prefix (its post-install hook runs `livemod
# init`); starts chatd on free loopback ports; connects one client (bash's
# /dev/tcp: no nc needed) and keeps that one connection open throughout;
# installs the v2 modules with `make install` (its post-install step
# records and prints the plan); `livemod update all`; shows the same
# connection now running v2 with its migrated state; asks the REST API
# with curl and the bearer token; goes back to v1 with `livemod rollback`;
# prints `livemod history`; stops everything it started. Safe to run
# again: build/demo is made afresh each time.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
D=$TOP/build/demo
PREFIX=$D/prefix
STATE=$D/state
LIVEMOD=$TOP/build/livemod
CHATD_PID=""
CLIENT_OPEN=0

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }

cleanup() {
	rc=$?
	if [ "$CLIENT_OPEN" = 1 ]; then
		exec 3>&- 3<&- || true
	fi
	if [ -n "$CHATD_PID" ] && kill -0 "$CHATD_PID" 2>/dev/null; then
		kill -TERM "$CHATD_PID" 2>/dev/null || true
		wait "$CHATD_PID" 2>/dev/null || true
	fi
	if [ $rc -ne 0 ]; then
		echo "demo failed (exit $rc); chatd's log: $D/chatd.log" >&2
		tail -20 "$D/chatd.log" 2>/dev/null >&2 || true
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lm() { "$LIVEMOD" --state "$STATE" "$@"; }

# send LINE: the client sends one line on its connection.
send() {
	printf '    client> %s\n' "$1"
	printf '%s\n' "$1" >&3
}

# recv [N]: reads N lines (default 1) the server sent the client.
recv() {
	local n=${1:-1} line
	while [ "$n" -gt 0 ]; do
		if ! IFS= read -r -t 10 line <&3; then
			echo "demo: no answer from chatd" >&2
			return 1
		fi
		printf '    chatd>  %s\n' "$line"
		LAST=$line
		n=$((n - 1))
	done
}

# install_modules, start_chatd
. "$TOP/scripts/demo-lib.sh"

# retired: waits until no old version is left awaiting purge (each one
# goes when its last pinned connection moves on at its next line).
retired() {
	local n=0
	while lm status | grep -q '^  old '; do
		n=$((n + 1))
		[ $n -lt 200 ] || { echo "demo: old versions never retired" >&2; return 1; }
		sleep 0.05
	done
}

START=$(date +%s)

say "Building livemod, the agent and examples/chatd"
mkdir -p "$D"
if ! make --no-print-directory -C "$TOP" all chatd > "$D/build.log" 2>&1; then
	tail -30 "$D/build.log" >&2
	exit 1
fi
note "ok (log: build/demo/build.log)"

say "Installing chatd and its v1 modules into build/demo/prefix"
note "(its post-install hook runs 'livemod init': the state dir, ledger and"
note "store; release 1 is what is installed)"
rm -rf "$PREFIX" "$STATE"
install_modules v1
note "libdir: $(ls "$PREFIX/lib/chatd" | tr '\n' ' ')"

say "Starting chatd on free loopback ports"
start_chatd
sed 's/^/    | /' "$D/chatd.log"

say "A client connects (one TCP connection, kept open until the end)"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
CLIENT_OPEN=1
recv
send "/nick alice"; recv
send "/join lobby"; recv
send "/version"; recv
send "hello from v1"; recv
send "second message"; recv
send "/stats"; recv

say "Installing the v2 modules with 'make install' (post-install: the plan, for review)"
install_modules v2

say "livemod update all: plan, check, point of no return, eval, on the running chatd"
lm update all 2>/dev/null | sed 's/^/    | /'
note "the client is idle, so its pins still hold the v1 versions:"
lm status | sed 's/^/    | /'

say "The same connection, at its next line, moves to v2 (its safe point)"
send "/version"; recv
case "$LAST" in
*"mod_messager 2.0.0"*) ;;
*) echo "demo: the connection does not run v2" >&2; exit 1 ;;
esac
send "hello from v2"; recv
send "/stats"; recv
note "mod_messager's state went from layout 1 (a fixed table) to layout 2"
note "(a hash table counting bytes too): the count went on from 2 to 3."
retired
lm status | sed 's/^/    | /'

say "The REST API on loopback TCP, with the bearer token from state/token"
note "curl -H \"Authorization: Bearer \$(cat build/demo/state/token)\" http://127.0.0.1:$HTTP/modules"
curl -sS -m 10 -H "Authorization: Bearer $(cat "$STATE/token")" \
	"http://127.0.0.1:$HTTP/modules" | tr -d '\t' | tr '\n' ' ' |
	sed 's/}, {/},\n    | {/g; s/^/    | /'
echo
note "without the token:"
code=$(curl -s -m 10 -o "$D/noauth.json" -w '%{http_code}' "http://127.0.0.1:$HTTP/health")
note "HTTP $code $(tr -d '\n\t' < "$D/noauth.json")"

say "Back to v1: livemod rollback (from the store; the libdir still holds v2)"
note "code_change runs in mode down in mod_messager v2, the version being left:"
lm rollback 2>/dev/null | grep -v '^objects:' | sed 's/^/    | /'
send "/version"; recv
case "$LAST" in
*"mod_messager 1.0.0"*) ;;
*) echo "demo: the connection does not run v1" >&2; exit 1 ;;
esac
send "hello from v1 again"; recv
send "/stats"; recv
retired

say "livemod history: every release and apply, newest first"
lm history | sed 's/^/    | /'

send "/quit"; recv
exec 3>&- 3<&-
CLIENT_OPEN=0

kill -TERM "$CHATD_PID"
wait "$CHATD_PID" || true
CHATD_PID=""

say "What happened"
note "one connection, opened before the first update and closed by its own /quit:"
note "  v1 -> v2 (update) -> v1 (rollback) of mod_util, mod_messager and"
note "  mod_motd, live;"
note "  its messages numbered 1..4 in one count across both state layouts;"
note "  it moved to each new version at its next line (its safe point),"
note "  and the old code was unloaded once it had."
note "releases in the ledger: $(sqlite3 "$STATE/ledger.db" 'SELECT count(*) FROM releases' 2>/dev/null || echo '?')"
note "store: git --git-dir=build/demo/state/store.git log --oneline"
git --git-dir="$STATE/store.git" log --oneline 2>/dev/null | sed 's/^/    | /' || true
note "chatd's log: build/demo/chatd.log; done in $(( $(date +%s) - START )) s."
note "the web page: 'make demo-web' keeps a chatd running and prints its URL."
