#!/bin/sh
# test_lib.sh - the checks the end-to-end tests are made of (lib.sh):
# has and hasj find a text only as a whole token, so that a check of
# '"release": 2' fails on release 21; hasnt refuses the text anywhere.
# Each check is run in a subshell and its verdict read from its output,
# so that the failures it is meant to report do not fail this file.
. "$(dirname "$0")/lib.sh"

# accepts CHECK TEXT WHERE / refuses CHECK TEXT WHERE
accepts() {
	out=$( "$1" "$2" "$3" )
	[ -z "$out" ] || fail "$1 '$2' refused '$3': $out"
}
refuses() {
	out=$( "$1" "$2" "$3" )
	case "$out" in
	*FAIL*) ;;
	*) fail "$1 '$2' accepted '$3'" ;;
	esac
}

t_has_numbers() {
	accepts has "release 2" "release 2"
	accepts has "release 2" "node on release 2, permanent 1"
	refuses has "release 2" "release 21"
	refuses has "release 2" "release 2.5"
	refuses has "2" "release 12"
	refuses has "1.1.0" "mod_x 11.1.0"
	refuses has "1.1.0" "mod_x 1.1.01"
	refuses has "1.1" "mod_x 1.1.0"
	accepts has "1.1.0" "mod_x 1.1.0 (was 1.0.0)"
	accepts has "1.1.0" "mod_x 1.1.0."
	accepts has "-1" "x=-1"
	# a later occurrence at a boundary is found
	accepts has "release 2" "release 21, then release 2"
	accepts has "release 2" "release 21 release 2"
	refuses has "release 2" "release 21 release 20"
}

t_has_words() {
	accepts has "mod_x" "mod_x.so"
	accepts has "mod_x" "[mod_x]"
	refuses has "mod_x" "mod_xy"
	refuses has "mod_x" "amod_x"
	refuses has "ok" "broken"
	accepts has "eval: {ok,[]}" "plan 1 eval: {ok,[]}"
	# only the ends that are word characters are bounded
	accepts has "{error," "eval: {error,{mod_x"
	accepts has "(mode 0666)" "is writable by others (mode 0666)x"
	accepts has ": mod" "x: mod 1"
	refuses has ": mod" "x: mod_x"
	accepts has "" "anything"
	refuses has "x" ""
	# text with the shell's pattern characters is plain text
	accepts has "[*?]" "a [*?] b"
	refuses has "[*?]" "a x b"
}

t_hasj() {
	accepts hasj '"release": 2' '{"release": 2, "modules": []}'
	accepts hasj '"release": 2' '{ "release" :2 }'
	refuses hasj '"release": 2' '{"release": 21}'
	refuses hasj '"release": 2' '{"release": 2.5}'
	accepts hasj '"plan": null' '{"plan": null}'
	refuses hasj '"plan": null' '{"plan": nullx}'
	accepts hasj '"id": 1' '[{"id": 12}, {"id": 1}]'
}

t_hasnt() {
	accepts hasnt "WARNING" "all well"
	refuses hasnt "WARNING" "a WARNING"
	# hasnt stays a plain substring check: stricter, not looser
	refuses hasnt "WARNING" "WARNINGS"
}

run_test t_has_numbers
run_test t_has_words
run_test t_hasj
run_test t_hasnt
finish
