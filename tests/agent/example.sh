#!/bin/sh
# example.sh DIR - builds and runs the example host and module printed in
# docs/host-guide.md (its greet_api.h, greet.c and host.c, extracted from the page, so the page stays true),
# against build/liblivemod-agent.a. Run from the repository root.
set -e
d=$1
lib=$(dirname "$(dirname "$d")")/liblivemod-agent.a
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
# The ```c block whose first line is "/* NAME - ...".
extract() {
	awk -v name="$1" '
		/^```c$/ { inblock = 1; first = 1; keep = 0; next }
		/^```$/ { inblock = 0; keep = 0; next }
		inblock && first { first = 0; if (index($0, "/* " name " ") == 1) keep = 1 }
		keep { print }' docs/host-guide.md
}
extract greet_api.h > "$w/greet_api.h"
extract greet.c > "$w/greet.c"
extract host.c > "$w/host.c"
flags="-std=c11 -Wall -Wextra -Werror -Iinclude"
${CC:-cc} $flags -shared -fPIC -fno-gnu-unique -DVSN='"1.0.0"' -DWORD='"hello"' -o "$w/greet-1.so" "$w/greet.c"
${CC:-cc} $flags -shared -fPIC -fno-gnu-unique -DVSN='"2.0.0"' -DWORD='"hi"' -o "$w/greet-2.so" "$w/greet.c"
${CC:-cc} $flags -o "$w/host" "$w/host.c" "$lib" \
	$(pkg-config --libs liburcu-memb liburcu-qsbr libelf libcjson) -ldl -lpthread -lm
"$w/host" "$w/greet-1.so" "$w/greet-2.so" > "$w/out"
cat "$w/out"
grep -q '^after the upgrade: hi #[0-9]* from 2.0.0$' "$w/out"
