#!/bin/sh
# seeds.sh BUILD_DIR - (re)makes the seed corpus in tests/fuzz/corpus/ from
# real artifacts: modules compiled the way modules are built, the plans
# and the ledger of a real node that was updated and rolled back, and the
# requests tests/e2e/test_control.sh sends. Needs BUILD_DIR/livemod and
# BUILD_DIR/tests/lmhost (make B=BUILD_DIR BUILD_DIR/livemod
# BUILD_DIR/tests/lmhost). Not part of any build: the corpus is kept in
# git, and this records where it came from. The http seeds are written by
# hand below; see fuzz_http.c for their form ("T:", "@TOKEN@").
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=$(cd "${1:?usage: seeds.sh BUILD_DIR}" && pwd)
C=$TOP/tests/fuzz/corpus
W=$(mktemp -d "${TMPDIR:-/tmp}/lmseeds.XXXXXX")
trap 'kill $HOST 2>/dev/null; rm -rf "$W"' EXIT
HOST=""
CC=${CC:-cc}
MODCC="$CC -std=c11 -O2 -shared -fPIC -fno-gnu-unique -I$TOP/include"

# ---- descriptor: stripped modules -----------------------------------------
# Most linked with -z noseparate-code: half the size of the default
# layout (7 KB, not 15) and the same sections, so the fuzzer mutates
# less padding; two in the default layout.
d=$C/descriptor
rm -rf "$d" && mkdir -p "$d"
small=-Wl,-z,noseparate-code
gen=$TOP/tests/modules/generic.c
$MODCC -DMOD_NAME=mod_a -DMOD_VSN='"1.0.0"' -o "$d/generic" "$gen"
$MODCC -I"$TOP/examples/chatd" -o "$d/chatd-messager" \
	"$TOP/examples/chatd/modules/mod_messager.c"
$MODCC $small -DMOD_NAME=mod_b -DMOD_VSN='"2.1.0"' -DMOD_DEPS='"mod_a","mod_c"' \
	-DMOD_CODE_CHANGE -DMOD_PURGE=LM_SOFT_PURGE -o "$d/generic-deps-cc" "$gen"
$MODCC $small -DMOD_NAME=mod_s -DMOD_VSN='"2.0.0"' -o "$d/stateful" \
	"$TOP/tests/modules/stateful.c"
$MODCC $small -DRAW_NAME='"Bad-Name"' -DRAW_VSN='"1.0.0"' -DRAW_ABI=2 \
	-o "$d/raw-bad-name" "$TOP/tests/modules/raw.c"
$MODCC $small -DRAW_NAME='"mod_r"' -DRAW_VSN='"1.0.0"' -DRAW_ABI=9 \
	-o "$d/raw-future-abi" "$TOP/tests/modules/raw.c"
$MODCC $small -o "$d/plain-no-descriptor" "$TOP/tests/modules/plain.c"
# SHT_RELR relocations (binutils 2.38+), which the reader decodes itself
$MODCC $small -Wl,-z,pack-relative-relocs -DMOD_NAME=mod_r -DMOD_VSN='"1.0.0"' \
	-DMOD_CODE_CHANGE -o "$d/generic-relr" "$gen"
for m in motd util; do
	$MODCC $small -I"$TOP/examples/chatd" -o "$d/chatd-$m" \
		"$TOP/examples/chatd/modules/mod_$m.c"
done
strip "$d"/*

# ---- plan and ledger: a node updated, then rolled back ------------------------
mkdir -p "$W/lib"
lm() { "$B/livemod" --state "$W/state" "$@"; }
$MODCC -I"$TOP/examples/chatd" -o "$W/lib/mod_util.so" \
	"$TOP/examples/chatd/modules/mod_util.c"
$MODCC -DMOD_NAME=mod_a -DMOD_VSN='"1.0.0"' -DMOD_DEPS='"mod_util"' \
	-DMOD_CODE_CHANGE -o "$W/lib/mod_a.so" "$gen"
$MODCC -DMOD_NAME=mod_b -DMOD_VSN='"1.0.0"' -DMOD_PURGE=LM_SOFT_PURGE \
	-o "$W/lib/mod_b.so" "$gen"
lm init --libdir "$W/lib" --app seeds > /dev/null
# changed with code_change (update), added, removed
$MODCC -DMOD_NAME=mod_a -DMOD_VSN='"1.1.0"' -DMOD_DEPS='"mod_util"' \
	-DMOD_CODE_CHANGE -DMOD_ANSWER=2 -o "$W/lib/mod_a.so" "$gen"
$MODCC -DMOD_NAME=mod_c -DMOD_VSN='"0.1.0"' -DMOD_DEPS='"mod_a"' \
	-o "$W/lib/mod_c.so" "$gen"
rm "$W/lib/mod_b.so"
p=$C/plan
rm -rf "$p" && mkdir -p "$p"
lm --json plan --dry-run --extra 'mod_a=to "v2"' > "$p/dry-run"
lm plan --purge soft_purge > /dev/null
"$B/tests/lmhost" --state "$W/state" > "$W/host.out" 2> "$W/host.err" &
HOST=$!
n=0
until grep -q '^ready' "$W/host.out"; do
	n=$((n + 1))
	[ $n -lt 500 ] || { echo "seeds.sh: lmhost did not start" >&2; exit 1; }
	sleep 0.02
done
lm apply 1 > /dev/null
lm rollback > /dev/null
kill -TERM $HOST
wait $HOST
HOST=""
cp "$W/state/plans/1.json" "$p/update-add-delete"
cp "$W/state/plans/2.json" "$p/rollback-down"

# The ledger as the node left it (WAL checkpointed at its close), and the
# same rows in 512-byte pages: 8 times fewer bytes for the fuzzer to walk.
l=$C/ledger
rm -rf "$l" && mkdir -p "$l"
cp "$W/state/ledger.db" "$l/after-rollback"
cp "$W/state/ledger.db" "$W/small.db"
sqlite3 "$W/small.db" "PRAGMA journal_mode = DELETE; PRAGMA page_size = 512;
	VACUUM;" > /dev/null
cp "$W/small.db" "$l/after-rollback-512"
# A ledger at schema 1, which a writer migrates on open.
sqlite3 "$W/v1.db" < "$TOP/schema/001_initial.sql"
sqlite3 "$W/v1.db" "PRAGMA page_size = 512; VACUUM;
	PRAGMA user_version = 1; PRAGMA application_id = 1280134215;
	INSERT INTO releases (id, commit_oid) VALUES (1, '$(printf '%040d' 1)');
	INSERT INTO nodes (name, app, libdir, current_release)
		VALUES ('seed', 'seeds', '/nowhere', 1);"
cp "$W/v1.db" "$l/schema-1"

# ---- http: the requests of tests/e2e/test_control.sh ----------------------------
h=$C/http
rm -rf "$h" && mkdir -p "$h"
req() { # NAME METHOD PATH [BODY]: a request on the unix socket
	if [ $# -gt 3 ]; then
		printf '%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
			"$2" "$3" "${#4}" "$4" > "$h/$1"
	else
		printf '%s %s HTTP/1.1\r\nHost: localhost\r\n\r\n' "$2" "$3" > "$h/$1"
	fi
}
req health GET /health
req head-health HEAD /health
req modules GET /modules
req history GET /history
req update-info GET /update-modules
req update-all GET /update-modules/all
req update-all-try GET '/update-modules/all?try=1'
req update-some POST /update-modules '{"modules": ["mod_a"]}'
req update-some-try POST '/update-modules?try=true' '{"modules": ["mod_a", "mod_b"]}'
req update-twice POST /update-modules '{"modules": ["mod_a", "mod_a"]}'
req update-bad-name POST /update-modules '{"modules": ["Mod-X", 3]}'
req update-extra-field POST /update-modules '{"modules": ["mod_a"], "purge": "x"}'
req update-not-json POST /update-modules '{"modules":'
req update-empty POST /update-modules ''
req plan GET /plans/1
req plan-bad-id GET /plans/-1
req apply POST /plans/1/apply '{"id": 1}'
req apply-other-id POST '/plans/7/apply?try=0' '{"id": 2}'
req rollback POST /rollback '{"to": 1}'
req rollback-default POST /rollback
req rollback-bad POST /rollback '{"to": 1.5, "x": null}'
req not-found GET /plans/1/apply/x
req method DELETE /modules
printf 'POST /update-modules HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{"modules": ["mo\r\n9\r\nd_a"]}  \r\n0\r\n\r\n' \
	> "$h/update-chunked"
printf 'POST /update-modules HTTP/1.1\r\nHost: localhost\r\nContent-Length: 70000\r\n\r\n{' \
	> "$h/too-large"
printf 'GET /health HTTP/1.1\r\nHost: localhost\r\n\r\nGET /modules HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' \
	> "$h/pipelined"
printf 'T:GET /health HTTP/1.1\r\nHost: @HOST@\r\nAuthorization: Bearer @TOKEN@\r\n\r\n' \
	> "$h/tcp-token"
printf 'T:POST /update-modules HTTP/1.1\r\nHost: @HOST@\r\nAuthorization: Bearer @TOKEN@\r\nContent-Length: 22\r\n\r\n{"modules": ["mod_b"]}' \
	> "$h/tcp-token-body"
printf 'T:GET /health HTTP/1.1\r\nHost: @HOST@\r\nAuthorization: Basic @TOKEN@\r\n\r\n' \
	> "$h/tcp-basic"
printf 'T:GET /modules HTTP/1.0\r\n\r\n' > "$h/tcp-no-token"
# framed by the harness ("B:"): paths, query and bodies only
framed() { printf 'B:%s\n%s' "$2" "${3-}" > "$h/framed-$1"; }
framed update-some 'POST /update-modules?try=1' '{"modules": ["mod_a", "mod_b"]}'
framed update-bad 'POST /update-modules' '{"modules": ["mod_a", "mod_a", 3], "x": 1}'
framed apply 'POST /plans/1/apply' '{"id": 1, "format": "livemod.plan/1"}'
framed rollback 'POST /rollback?try=' '{"to": 12}'
framed plan 'GET /plans/18446744073709551617'
framed health 'HEAD /health?try=1&x=%00'
printf 'T:B:GET /update-modules/all' > "$h/framed-tcp-update-all"
# the web page's files and the Host check on TCP
printf 'T:GET /ui/ HTTP/1.1\r\nHost: @HOST@\r\n\r\n' > "$h/tcp-ui"
printf 'T:GET /ui/app.js HTTP/1.1\r\nHost: localhost\r\n\r\n' > "$h/tcp-ui-wrong-host"
printf 'T:B:POST /make-permanent\n{"release": 1}' > "$h/framed-tcp-make-permanent"
du -sh "$C"/*
