# demo-lib.sh - what scripts/demo.sh and scripts/demo-web.sh share: chatd
# installed into a prefix with its post-install hook, and started on free
# loopback ports. Sourced (bash); the caller sets TOP, D, PREFIX, STATE,
# LIVEMOD and has a cleanup trap that stops $CHATD_PID.

# install_modules v1|v2: chatd's `make install` into the prefix.
install_modules() {
	make --no-print-directory -s -C "$TOP/examples/chatd" install \
		TOP="$TOP" B="$TOP/build/chatd" PREFIX="$PREFIX" MODULES="$1" \
		STATE="$STATE" LIVEMOD="$LIVEMOD" 2>&1 | sed 's/^/    | /'
}

# start_chatd: chatd on free loopback ports, its log in $D/chatd.log; sets
# CHATD_PID, PORT (the chat port) and HTTP (the control API's port).
start_chatd() {
	local n=0
	"$PREFIX/bin/chatd" --listen 127.0.0.1:0 --state "$STATE" \
		--http 127.0.0.1:0 2> "$D/chatd.log" &
	CHATD_PID=$!
	until grep -q '^chatd: ready' "$D/chatd.log" 2>/dev/null; do
		n=$((n + 1))
		if [ $n -gt 200 ] || ! kill -0 "$CHATD_PID" 2>/dev/null; then
			echo "demo: chatd did not start" >&2
			return 1
		fi
		sleep 0.05
	done
	PORT=$(sed -n 's/^chatd: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$D/chatd.log")
	HTTP=$(sed -n 's|^chatd: control API on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$D/chatd.log")
}
