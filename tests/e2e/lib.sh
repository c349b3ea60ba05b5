# lib.sh - what the end-to-end tests share. Sourced by tests/e2e/test_*.sh.
#
# Each test is a shell function run in its own scratch directory with a
# real libdir of modules compiled here, a real state dir, and the real
# `livemod` binary. `check` records a pass or a failure with the reason;
# the file ends with "NAME: N passed, N failed".

set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
LIVEMOD=${LIVEMOD:-$TOP/build/livemod}
CC=${CC:-cc}
export LIVEMOD_LOCK_TIMEOUT_MS=${LIVEMOD_LOCK_TIMEOUT_MS:-300}
PASS=0
FAIL=0
CURRENT=""

fail() {
	echo "  FAIL [$CURRENT]: $*"
	FAIL=$((FAIL + 1))
	TEST_FAILED=1
}

# skip WHY: a check that cannot run here (a tool missing). Prints
# "skip: WHY"; when LM_REQUIRE_ALL is set (CI, .ci/run), where everything
# is installed, it is a failure instead: a skip is not a pass.
skip() {
	if [ -n "${LM_REQUIRE_ALL:-}" ]; then
		fail "LM_REQUIRE_ALL is set and $*"
	else
		echo "skip: $*"
	fi
}

# wait_file PATH WHAT: readiness, not a sleep: waits until PATH exists
# (a module's or a helper's signal); 60 s at most, a hang guard, then
# fails with "WHAT".
wait_file() {
	wf_n=0
	until [ -e "$1" ]; do
		wf_n=$((wf_n + 1))
		[ $wf_n -lt 3000 ] || { fail "$2"; return 1; }
		sleep 0.02
	done
}

# held_update: installs mod_x 1.1.0, whose code_change holds while
# $T/hold exists, and starts GET /update-modules/all in the background
# ($HELD its pid, its answer in $T/held.code and $T/held.body); returns
# once that apply is inside code_change, past its point of no return.
# Removing $T/hold lets it finish.
held_update() {
	: > "$T/hold"
	mod mod_x.so mod_x 1.1.0 -DMOD_CC_HOLD="\"$T/hold\"" -DMOD_ANSWER=2
	curl -s -m 90 -o "$T/held.body" -w '%{http_code}' \
		--unix-socket "$STATE/agent.sock" \
		http://localhost/update-modules/all > "$T/held.code" &
	HELD=$!
	wait_file "$T/hold.in" "the held update never reached code_change"
}

# run_test NAME: runs function NAME in a fresh directory $T.
run_test() {
	CURRENT=$1
	TEST_FAILED=0
	T=$(mktemp -d "${TMPDIR:-/tmp}/lme2e.XXXXXX")
	LIB=$T/lib
	STATE=$T/state
	mkdir -p "$LIB"
	( cd "$T" && "$1" ) > "$T/.log" 2>&1
	rc=$?
	[ -z "${LM_CAPTURE_DIR:-}" ] || capture "$1"
	if [ $rc -ne 0 ] || grep -q '^  FAIL' "$T/.log"; then
		FAIL=$((FAIL + 1))
		echo "not ok - $1"
		sed 's/^/    /' "$T/.log"
	else
		PASS=$((PASS + 1))
		echo "ok - $1"
	fi
	rm -rf "$T"
}

# capture NAME: with LM_CAPTURE_DIR set (tests/fuzz/grow-corpus.sh), keeps
# what test NAME left in $STATE as fuzzing seeds: each plans/<id>.json as
# $LM_CAPTURE_DIR/plan/FILE-NAME-<id>, and the ledger, made whole and
# compact (VACUUM INTO, WAL folded in, 1 KiB pages: 40 KB where 4 KiB
# pages make 90), as ledger/FILE-NAME.
capture() {
	cap=$(basename "$0" .sh)-$1
	mkdir -p "$LM_CAPTURE_DIR/plan" "$LM_CAPTURE_DIR/ledger"
	for cap_p in "$STATE"/plans/*.json; do
		[ -f "$cap_p" ] || continue
		cp "$cap_p" "$LM_CAPTURE_DIR/plan/$cap-$(basename "$cap_p" .json)"
	done
	rm -f "$LM_CAPTURE_DIR/ledger/$cap"
	[ ! -f "$STATE/ledger.db" ] ||
		sqlite3 "$STATE/ledger.db" \
			"PRAGMA page_size = 1024;
			 VACUUM INTO '$LM_CAPTURE_DIR/ledger/$cap'" 2>/dev/null ||
		rm -f "$LM_CAPTURE_DIR/ledger/$cap"
}

finish() {
	echo "$(basename "$0" .sh): $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}

# mod FILE NAME VSN [CFLAGS...]: compiles tests/modules/generic.c into
# $LIB/FILE as module NAME at version VSN.
mod() {
	file=$1 name=$2 vsn=$3
	shift 3
	"$CC" -std=c11 -Wall -Wextra -Werror -shared -fPIC -fno-gnu-unique \
		-I"$TOP/include" -DMOD_NAME="$name" -DMOD_VSN="\"$vsn\"" "$@" \
		-o "$LIB/$file" "$TOP/tests/modules/generic.c" || exit 99
}

# genmods: builds bench/gen_modules.c and the template module it patches
# into $T/w/gen and $T/w/tpl.so, for tests of hundreds of modules
# ("$T/w/gen" "$T/w/tpl.so" DIR N makes N of them).
genmods() {
	mkdir -p "$T/w"
	cc -O2 -o "$T/w/gen" "$TOP/bench/gen_modules.c" || exit 99
	"$CC" -std=c11 -shared -fPIC -fno-gnu-unique -s -I"$TOP/include" \
		-o "$T/w/tpl.so" "$TOP/bench/bench_template.c" || exit 99
}

# racy FILE...: dates the files' mtime 6 s ahead, so that a stat cache
# entry written for them in the next 6 s is racy however slow the command
# writing it runs (valgrind); past_window waits until it is not.
racy() {
	RACY_UNTIL=$(( $(date +%s) + 6 ))
	touch -d "@$RACY_UNTIL" "$@"
}
past_window() {
	while [ "$(date +%s)" -le $((RACY_UNTIL + 1)) ]; do sleep 0.2; done
}

# raw FILE NAME VSN ABI: a module with a hand-written descriptor.
raw() {
	"$CC" -std=c11 -shared -fPIC -fno-gnu-unique -I"$TOP/include" \
		-DRAW_NAME="\"$2\"" -DRAW_VSN="\"$3\"" -DRAW_ABI="$4" \
		-o "$LIB/$1" "$TOP/tests/modules/raw.c" || exit 99
}

# smod VSN: mod_s (tests/modules/stateful.c, a state whose layout changes
# with the major version) at VSN into the libdir.
smod() {
	"$CC" -std=c11 -Wall -Wextra -Werror -shared -fPIC -fno-gnu-unique \
		-I"$TOP/include" -DMOD_NAME=mod_s -DMOD_VSN="\"$1\"" \
		-o "$LIB/mod_s.so" "$TOP/tests/modules/stateful.c" || exit 99
}

# served MODULE: the vsn the node serves for MODULE, or "none" (through
# `livemod status`).
served() {
	lm status | awk -v m="$1" '$1 == m { print $2; f = 1 } END { if (!f) print "none" }'
}

lm() {
	"$LIVEMOD" --state "$STATE" "$@"
}

# expect STATUS CMD...: runs CMD, keeps its output in $OUT/$ERR, and
# checks the exit status.
expect() {
	want=$1
	shift
	"$@" > "$T/.out" 2> "$T/.err"
	got=$?
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
	[ "$got" -eq "$want" ] ||
		fail "'$*' exited $got, want $want; stderr: $ERR; stdout: $OUT"
}

# wordc C: C continues a word or a number (a letter, a digit, '_').
wordc() {
	case "$1" in
	[A-Za-z0-9_]) return 0 ;;
	esac
	return 1
}

# digitc C: C is a digit.
digitc() {
	case "$1" in
	[0-9]) return 0 ;;
	esac
	return 1
}

# contains TEXT WHERE: TEXT occurs in WHERE as a whole token: where TEXT
# starts with a letter, digit or '_' the character before it is none of
# those, where it ends with one the character after it is none of those,
# and a number is not cut out of a longer one ("2" is not in "21", "1.2"
# or "2.5"). '"release": 2' is in '"release": 2,' but not in
# '"release": 21'. Every occurrence is tried.
contains() {
	ct_n=$1 ct_s=$2 ct_pre=""
	[ -n "$ct_n" ] || return 0
	ct_first=${ct_n%"${ct_n#?}"}
	ct_last=${ct_n#"${ct_n%?}"}
	while :; do
		case "$ct_s" in
		*"$ct_n"*) ;;
		*) return 1 ;;
		esac
		ct_head=${ct_s%%"$ct_n"*}
		ct_pre=$ct_pre$ct_head
		ct_after=${ct_s#"$ct_head$ct_n"}
		ct_p=${ct_pre#"${ct_pre%?}"}          # the character before
		ct_pp=${ct_pre%?}
		ct_pp=${ct_pp#"${ct_pp%?}"}           # and the one before that
		ct_q=${ct_after%"${ct_after#?}"}      # the character after
		ct_qq=${ct_after#?}
		ct_qq=${ct_qq%"${ct_qq#?}"}           # and the one after that
		ct_ok=1
		if wordc "$ct_first"; then
			if wordc "$ct_p"; then
				ct_ok=0
			elif digitc "$ct_first" && [ "$ct_p" = . ] && digitc "$ct_pp"; then
				ct_ok=0
			fi
		fi
		if wordc "$ct_last"; then
			if wordc "$ct_q"; then
				ct_ok=0
			elif digitc "$ct_last" && [ "$ct_q" = . ] && digitc "$ct_qq"; then
				ct_ok=0
			fi
		fi
		[ $ct_ok -eq 0 ] || return 0
		# on to the next occurrence, one character further
		ct_s=${ct_s#"$ct_head"}
		ct_pre=$ct_pre${ct_s%"${ct_s#?}"}
		ct_s=${ct_s#?}
	done
}

# has TEXT WHERE: WHERE (a string) contains TEXT as a whole token
# (contains).
has() {
	contains "$1" "$2" || fail "expected '$1' in: $2"
}

# hasj TEXT WHERE: as has, ignoring all white space (for JSON).
hasj() {
	has "$(printf '%s' "$1" | tr -d ' \t\n')" "$(printf '%s' "$2" | tr -d ' \t\n')"
}

# hasnt TEXT WHERE: TEXT occurs nowhere in WHERE, not even inside a
# longer token (stricter than has's negation, on purpose).
hasnt() {
	case "$2" in
	*"$1"*) fail "did not expect '$1' in: $2" ;;
	esac
}

# snapshot: everything a command must not change when it refuses: the
# ledger's rows, the store's refs and objects, the plans and objects dirs.
# The stat cache's rows are left out: it is a cache, which read-only
# commands refresh once racy files have settled (docs/planner.md).
snapshot() {
	{
		if [ -f "$STATE/ledger.db" ]; then
			sqlite3 "$STATE/ledger.db" .dump |
				grep -v "^INSERT INTO stat_cache VALUES"
		fi
		if [ -d "$STATE/store.git" ]; then
			git --git-dir="$STATE/store.git" for-each-ref
			( cd "$STATE/store.git" && find objects -type f | sort )
		fi
		ls -la "$STATE/plans" "$STATE/objects" 2>/dev/null | awk '{print $NF, $5}'
	} > "$T/.snap.$1" 2>&1
}

# unchanged: the state is as the last `snapshot before` saw it.
unchanged() {
	snapshot after
	cmp -s "$T/.snap.before" "$T/.snap.after" ||
		fail "state changed: $(diff "$T/.snap.before" "$T/.snap.after" | head -20)"
}

# jq-less JSON: SQLite's json functions on a file.
# jf FILE PATH: the value at PATH ('$.error.code').
jf() {
	sqlite3 :memory: "SELECT json_extract(readfile('$1'), '$2')"
}

sql() {
	sqlite3 "$STATE/ledger.db" "$1"
}

gitstore() {
	git --git-dir="$STATE/store.git" "$@"
}

# ---- a host process (build/tests/lmhost) on $STATE -----------------------

LMHOST=${LMHOST:-$TOP/build/tests/lmhost}
HOST=""

host_kill() {
	if [ -n "$HOST" ]; then
		kill -KILL "$HOST" 2>/dev/null
		wait "$HOST" 2>/dev/null
		HOST=""
	fi
}

# host_try ARGS...: starts lmhost on $STATE with ARGS; 0 once it printed
# "ready" (PORT is the TCP port it printed with --http), else 1 with the
# failure recorded.
host_try() {
	: > "$T/host.out"
	"$LMHOST" --state "$STATE" "$@" > "$T/host.out" 2>> "$T/host.err" &
	HOST=$!
	trap host_kill EXIT
	n=0
	until grep -q '^ready' "$T/host.out" 2>/dev/null; do
		n=$((n + 1))
		if [ $n -gt 500 ] || ! kill -0 "$HOST" 2>/dev/null; then
			fail "lmhost did not start: $(tail -5 "$T/host.err")"
			host_kill
			return 1
		fi
		sleep 0.02
	done
	PORT=$(sed -n 's/^port //p' "$T/host.out")
}

# host ARGS...: as host_try; a host that does not start ends the test.
host() {
	host_try "$@" || exit 1
}

# host_term: stops the host with SIGTERM; it must exit 0 (test_node.sh
# has its own, which also checks the host's calls).
host_term() {
	kill -TERM "$HOST"
	wait "$HOST" || fail "lmhost exited $?: $(tail -5 "$T/host.err")"
	HOST=""
}

# ---- slow clients (tests/e2e/trickle.c) ----------------------------------

# trickle_build: the slow client into $T/trickle.
trickle_build() {
	"$CC" -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$T/trickle" \
		"$TOP/tests/e2e/trickle.c" || exit 99
}

# wait_events DIR WORD N WHAT: readiness: waits until DIR/events (the
# trickle client's record) holds N lines starting with WORD; 60 s at
# most, a hang guard, then fails with WHAT.
wait_events() {
	we_n=0
	until [ "$(cat "$1/events" 2>/dev/null | grep -c "^$2 ")" -ge "$3" ]; do
		we_n=$((we_n + 1))
		[ $we_n -lt 3000 ] || { fail "$4"; return 1; }
		sleep 0.02
	done
}

# ---- an example server (examples/chatd, examples/kvd) on $STATE ----------

# serve NAME CMD...: runs CMD, a server that logs "NAME: listening on
# 127.0.0.1:N" and then "NAME: ready" on stderr, in the background with
# its stderr in $T/NAME.err; returns once it is ready (SERVER_PID its pid,
# PORT its port), or 1 with the failure recorded when it exits first (20 s
# at most, a hang guard).
serve() {
	sv_name=$1
	shift
	"$@" 2> "$T/$sv_name.err" &
	SERVER_PID=$!
	sv_n=0
	until grep -q "^$sv_name: ready" "$T/$sv_name.err" 2>/dev/null; do
		sv_n=$((sv_n + 1))
		if [ $sv_n -gt 400 ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
			fail "$sv_name did not start: $(cat "$T/$sv_name.err")"
			kill -KILL "$SERVER_PID" 2>/dev/null
			wait "$SERVER_PID" 2>/dev/null
			return 1
		fi
		sleep 0.05
	done
	PORT=$(sed -n "s/^$sv_name: listening on 127\.0\.0\.1:\([0-9]*\)\$/\1/p" "$T/$sv_name.err")
}

# unserve NAME PID: SIGTERM; the server must exit 0 having logged
# "NAME: stopped".
unserve() {
	kill -TERM "$2"
	wait "$2"
	us_rc=$?
	[ $us_rc -eq 0 ] || fail "$1 exited $us_rc: $(tail -5 "$T/$1.err")"
	grep -q "^$1: stopped\$" "$T/$1.err" || fail "$1 did not stop cleanly"
}

# install_file SRC DEST: SRC's bytes at DEST as an install puts them there
# (a new file renamed into place).
install_file() {
	cp "$1" "$(dirname "$2")/.install.tmp" &&
		mv "$(dirname "$2")/.install.tmp" "$2" || exit 99
}
