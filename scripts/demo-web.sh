#!/bin/bash
# demo-web.sh - `make demo-web`: a chatd node left running for the web page
# (docs/web.md). Builds livemod and chatd, installs chatd with its v1
# modules into build/demo-web/prefix (the post-install hook runs `livemod
# init`), starts it on free loopback ports, then installs the v2 modules
# so the page has pending changes to review, and prints the page's URL
# (`livemod web`). Runs until Ctrl-C, which stops chatd. Open the URL in a
# browser on this machine (or through `ssh -L PORT:127.0.0.1:PORT`: the
# node answers only to its own address or localhost in the Host header).
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
D=$TOP/build/demo-web
PREFIX=$D/prefix
STATE=$D/state
LIVEMOD=$TOP/build/livemod
CHATD_PID=""

. "$TOP/scripts/demo-lib.sh"

cleanup() {
	if [ -n "$CHATD_PID" ] && kill -0 "$CHATD_PID" 2>/dev/null; then
		echo "demo-web: stopping chatd"
		kill -TERM "$CHATD_PID" 2>/dev/null || true
		wait "$CHATD_PID" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'trap "" INT TERM; exit 0' INT TERM

echo "demo-web: building livemod and chatd (log: build/demo-web/build.log)"
mkdir -p "$D"
if ! make --no-print-directory -C "$TOP" all chatd > "$D/build.log" 2>&1; then
	tail -30 "$D/build.log" >&2
	exit 1
fi
rm -rf "$PREFIX" "$STATE"
echo "demo-web: installing chatd with its v1 modules"
install_modules v1
start_chatd
echo "demo-web: chatd runs release 1 (chat on 127.0.0.1:$PORT; log build/demo-web/chatd.log)"
echo "demo-web: installing the v2 modules: the page's pending changes"
install_modules v2
echo
echo "Open the web page (the token is in the fragment; the page moves it out of the address bar):"
echo
echo "    $("$LIVEMOD" --state "$STATE" web)"
echo
echo "A chat client: bash -c 'exec 3<>/dev/tcp/127.0.0.1/$PORT; echo /version >&3; head -2 <&3'"
echo "(plan 1, recorded by the install, can be applied by id on the page.)"
echo "Ctrl-C stops chatd."
wait "$CHATD_PID"
