#!/bin/sh
# decl.sh DIR - one declaration per export (LM_DECLARE, LM_PROVIDE, LM_REF,
# LM_LOOKUP, LM_INVOKE) beside the API written before it (LM_EXPORT,
# LM_SIG, lm_export_ref_lookup, LM_CALL), with the modules and hosts of
# tests/agent/decl/ built against build/liblivemod-agent.a:
#   - a declared module and an old-style one, each called by a declared
#     host and by an old-style one (the texts differ in spacing, and the
#     declaration spells a type through a typedef and one through a macro);
#   - a declared host upgraded from the old-style module to the declared
#     one through the same refs;
#   - a definition that does not match its declaration, a lookup through a
#     ref of another declaration and a call with the wrong arguments do not
#     compile, and the message names the export.
# Run from the repository root.
set -e
d=$1
lib=$(dirname "$(dirname "$d")")/liblivemod-agent.a
src=tests/agent/decl
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
flags="-std=c11 -Wall -Wextra -Werror -Iinclude -I$src"
libs="$(pkg-config --libs liburcu-memb liburcu-qsbr libelf libcjson) -ldl -lpthread -lm"
cc=${CC:-cc}
for m in new old; do
	$cc $flags -shared -fPIC -fno-gnu-unique -o "$w/mod_$m.so" "$src/mod_$m.c"
	$cc $flags -o "$w/host_$m" "$src/host_$m.c" "$lib" $libs
done
expect() { # expect FILE LINE...
	f=$1; shift
	printf '%s\n' "$@" > "$w/want"
	if ! cmp -s "$w/want" "$f"; then
		echo "decl: $f:"; cat "$f"; echo "decl: wanted:"; cat "$w/want"
		exit 1
	fi
}
"$w/host_new" "$w/mod_new.so" > "$w/out"
expect "$w/out" "count 6 which 2" "pinned count 3"
"$w/host_new" "$w/mod_old.so" > "$w/out"
expect "$w/out" "count 6 which 1" "pinned count 3"
"$w/host_old" "$w/mod_new.so" > "$w/out"
expect "$w/out" "count 11 which 2"
"$w/host_old" "$w/mod_old.so" > "$w/out"
expect "$w/out" "count 11 which 1"
"$w/host_new" "$w/mod_old.so" "$w/mod_new.so" > "$w/out"
expect "$w/out" "count 6 which 1" "pinned count 3" "count 6 which 2" \
	"pinned count 3"
# refused at compile time, naming the export
refused() { # refused FILE PATTERN [cc flags]
	f=$1 pat=$2; shift 2
	if LC_ALL=C $cc $flags "$@" -c -o "$w/x.o" "$src/$f" 2> "$w/err"; then
		echo "decl: $f compiled"; exit 1
	fi
	if ! grep -q -- "$pat" "$w/err"; then
		echo "decl: $f: no '$pat' in:"; cat "$w/err"; exit 1
	fi
}
refused mod_bad.c "previous declaration of 'count' with type 'lm_declared__mod_decl__count'" -fPIC
refused host_bad_ref.c "LM_LOOKUP of export mod_decl.count through a reference of another type"
refused host_bad_call.c "too few arguments"
echo "decl: 5 runs and 3 refusals as expected"
