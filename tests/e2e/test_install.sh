#!/bin/sh
# test_install.sh - `make install` and what it gives a host author: the
# installed layout (PREFIX and DESTDIR), livemod.pc (dynamic and static
# links of the installed agent), livemod.mk and the post-install hook in a
# host project written here, outside the tree (init, plan, nothing to do,
# staged install, bad module, LIVEMOD_APPLY=1 with and without a node),
# the man pages and the bash completion, and that the shared library
# exports exactly the public API.
#
# `make install` builds into $B, by default the folder of $LIVEMOD (so
# `LIVEMOD=$PWD/build-x/livemod sh tests/e2e/test_install.sh` uses
# build-x): never a build dir the caller did not name.
. "$(dirname "$0")/lib.sh"

unset MAKEFLAGS MAKELEVEL MFLAGS # a make above us is not the host's
unset LIVEMOD_STATE
B=${B:-$(dirname "$LIVEMOD")}
case $B in "$TOP"/*) B=${B#"$TOP"/} ;; esac

# One install for every test; t_layout checks it.
W=$(mktemp -d "${TMPDIR:-/tmp}/lminstall.XXXXXX")
trap 'rm -rf "$W"' EXIT
P=$W/prefix
if ! make --no-print-directory -C "$TOP" install B="$B" PREFIX="$P" \
	> "$W/install.log" 2>&1; then
	echo "not ok - make install PREFIX=$P failed:"
	tail -20 "$W/install.log" | sed 's/^/    /'
	echo "test_install: 0 passed, 1 failed"
	exit 1
fi
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
ILM=$P/bin/livemod

# installed ROOT: every file `make install` puts under ROOT is there.
installed() {
	for f in bin/livemod lib/liblivemod-agent.a lib/liblivemod-agent.so \
		lib/pkgconfig/livemod.pc share/livemod/livemod.mk \
		libexec/livemod/livemod-post-install \
		share/man/man1/livemod.1 share/man/man3/livemod-agent.3 \
		share/man/man5/livemod-plan.5 \
		share/bash-completion/completions/livemod; do
		[ -f "$1/$f" ] || fail "$f not installed under $1"
	done
	for h in "$TOP"/include/livemod/*.h; do
		cmp -s "$h" "$1/include/livemod/${h##*/}" ||
			fail "include/livemod/${h##*/} not installed under $1"
	done
	for f in bin/livemod libexec/livemod/livemod-post-install; do
		[ -x "$1/$f" ] || fail "$f is not executable"
	done
}

# commands: the command names `livemod --help` lists.
commands() {
	"$ILM" --help | sed -n 's/^  \([a-z_][a-z_]*\).*/\1/p'
}

# modsrc FILE NAME VSN: a module NAME at VSN, source FILE, exporting
# int answer(void) (what lmhost --call and the man page's host call).
modsrc() {
	mkdir -p "$(dirname "$1")"
	cat > "$1" <<EOF
#include <livemod/module.h>

LM_MODULE($2, "$3");
LM_EXPORT($2, answer, int (void));
static int answer(void) { return 42; }
EOF
}

# buildmod NAME VSN: module NAME at VSN into $LIB, built with the
# installed header.
buildmod() {
	modsrc "$T/src/$1.c" "$1" "$2"
	$CC -std=c11 -shared -fPIC -fno-gnu-unique $(pkg-config --cflags livemod) \
		-o "$LIB/$1.so" "$T/src/$1.c" || exit 99
}

# man_example: livemod-agent(3)'s example host, as C.
man_example() {
	sed -n '/^\.SH EXAMPLE/,/^\.EE/p' "$P/share/man/man3/livemod-agent.3" |
		sed '1,/^\.EX/d; /^\.EE/d; s/\\e/\\/g; s/\\-/-/g'
}

# project: a host project in $T/proj, outside the tree, whose Makefile is
# docs/packaging.md's complete example (so the page stays true): myapp
# (the man page's example host) and modules mod_store and mod_api,
# installed to $T/inst/lib/myapp.
project() {
	mkdir -p "$T/proj"
	sed -n '/^### A complete host Makefile/,/^### /p' "$TOP/docs/packaging.md" |
		sed -n '/^```make$/,/^```$/p' | sed '1d;$d' > "$T/proj/Makefile"
	grep -q 'LIVEMOD_POST_INSTALL_CMD' "$T/proj/Makefile" ||
		{ fail "no host Makefile in docs/packaging.md"; exit 1; }
	man_example > "$T/proj/myapp.c"
	modsrc "$T/proj/mod_store.c" mod_store 1.0.0
	modsrc "$T/proj/mod_api.c" mod_api 1.0.0
}

# hmake ARGS...: the project's make, as its author runs it (LIVEMOD from
# the environment would win over pkg-config's: not here).
hmake() {
	env -u LIVEMOD make --no-print-directory -C "$T/proj" PREFIX="$T/inst" "$@"
}

t_layout() {
	installed "$P"
	grep -qx "prefix=$P" "$P/lib/pkgconfig/livemod.pc" ||
		fail "livemod.pc: prefix is not $P: $(head -20 "$P/lib/pkgconfig/livemod.pc")"
	expect 0 "$ILM" --help
	has "rollback" "$OUT"
}

t_destdir() {
	expect 0 make --no-print-directory -C "$TOP" install B="$B" \
		PREFIX=/opt/lm DESTDIR="$T/stage"
	installed "$T/stage/opt/lm"
	[ -e /opt/lm/lib/pkgconfig/livemod.pc ] && fail "DESTDIR ignored: /opt/lm written"
	pc=$(cat "$T/stage/opt/lm/lib/pkgconfig/livemod.pc")
	has "prefix=/opt/lm" "$pc"
	hasnt "$T" "$pc"
}

t_pkgconfig() {
	expect 0 pkg-config --cflags livemod
	has "-I$P/include" "$OUT"
	expect 0 pkg-config --libs livemod
	has "-L$P/lib -llivemod-agent" "$OUT"
	has "-lurcu-memb" "$OUT"
	hasnt "-lgit2" "$OUT"
	expect 0 pkg-config --static --libs livemod
	hasnt "-lgit2" "$OUT" # dlopen'ed at first store use (lib/gitlib.c)
	for l in -lurcu-qsbr -lcjson -lelf -lsqlite3 -lmicrohttpd -lmbedcrypto -ldl -lpthread -lm; do
		has " $l" " $OUT"
	done
	for v in livemod:bin/livemod mkfile:share/livemod/livemod.mk \
		post_install:libexec/livemod/livemod-post-install; do
		expect 0 pkg-config --variable="${v%%:*}" livemod
		[ "$OUT" = "$P/${v#*:}" ] || fail "variable ${v%%:*} is '$OUT', want $P/${v#*:}"
	done

	# livemod-agent(3)'s example, built against the installed agent both
	# ways, runs a node on a state dir and calls the module.
	man_example > host.c
	grep -q lm_node_start host.c || fail "no example in livemod-agent.3"
	buildmod mod_hello 1.0.0
	"$ILM" --state "$STATE" init --libdir "$LIB" > /dev/null || exit 99
	expect 0 $CC -std=c11 -Wall -Werror -o host-dyn host.c \
		$(pkg-config --cflags --libs livemod) -Wl,-rpath,"$P/lib"
	expect 0 $CC -std=c11 -Wall -Werror -o host-static host.c \
		$(pkg-config --cflags livemod) $(pkg-config --static \
		--define-variable=agent_lib=-l:liblivemod-agent.a --libs livemod)
	readelf -d host-dyn | grep -q 'NEEDED.*liblivemod-agent' ||
		fail "host-dyn does not load liblivemod-agent.so"
	readelf -d host-static | grep -q 'NEEDED.*liblivemod-agent' &&
		fail "host-static still needs liblivemod-agent.so"
	for h in host-dyn host-static; do
		expect 0 "./$h" "$STATE"
		[ "$OUT" = 42 ] || fail "$h answered '$OUT', want 42"
	done
}

t_hook() {
	project
	expect 0 hmake install
	has "post-install: no livemod state dir given" "$OUT"
	[ -x "$T/inst/bin/myapp" ] || fail "the project's server was not installed"

	# The first install records release 1.
	expect 0 hmake install LIVEMOD_STATE="$STATE"
	has "livemod init" "$OUT"
	has "release 1: mod_api 1.0.0 mod_store 1.0.0" "$OUT"
	[ -f "$STATE/ledger.db" ] || fail "first install did not init $STATE"
	expect 0 hmake install LIVEMOD_STATE="$STATE"
	has "post-install: nothing changed: the modules are those of release 1" "$OUT"
	[ -z "$(ls "$STATE/plans")" ] || fail "a plan was recorded for no change"

	# A new version: a plan, recorded and printed for review.
	modsrc "$T/proj/mod_api.c" mod_api 1.1.0
	expect 0 hmake install LIVEMOD_STATE="$STATE"
	has "plan 1: release 1 -> 2 (plans/1.json)" "$OUT"
	has "mod_api              changed  1.0.0 (" "$OUT"
	has "-> 1.1.0 (" "$OUT"
	hasnt "mod_store            changed" "$OUT"
	has "script: [{load_module,mod_api}]" "$OUT"
	has "apply 1" "$OUT"
	[ -f "$STATE/plans/1.json" ] || fail "no plans/1.json"

	# A staged install plans nothing.
	modsrc "$T/proj/mod_api.c" mod_api 1.2.0
	snapshot before
	expect 0 hmake install LIVEMOD_STATE="$STATE" DESTDIR="$T/stage"
	has "staged install" "$OUT"
	[ -f "$T/stage$T/inst/lib/myapp/mod_api.so" ] || fail "nothing staged"
	unchanged

	# Another libdir than the state dir's: refused, nothing planned.
	# (make exits 2 for any failed recipe; the hook's own status is in
	# make's "Error N".)
	expect 2 hmake install LIVEMOD_STATE="$STATE" PREFIX="$T/other"
	has "plans from" "$OUT"
	has "Error 2" "$ERR"
	unchanged
}

t_hook_bad_module() {
	project
	expect 0 hmake install LIVEMOD_STATE="$STATE"
	# Two files declaring mod_store: livemod plan refuses, and so does
	# make install, with livemod's message naming both.
	modsrc "$T/proj/mod_api.c" mod_store 1.1.0
	snapshot before
	expect 2 hmake install LIVEMOD_STATE="$STATE"
	has "mod_api.so" "$ERR"
	has "mod_store.so" "$ERR"
	has "livemod plan failed" "$OUT"
	has "Error 2" "$ERR"
	unchanged
	expect 0 hmake install LIVEMOD_STATE= LIVEMOD_APPLY=1
	has "no livemod state dir" "$OUT"
}

t_hook_apply() {
	project
	expect 0 hmake install LIVEMOD_STATE="$STATE"
	# lmhost against the installed headers and library: its "error.h"
	# is the installed <livemod/error.h>.
	expect 0 $CC -std=c11 -D_GNU_SOURCE -Wall -Werror -o lmhost \
		"$TOP/tests/host/lmhost.c" -I"$P/include/livemod" \
		$(pkg-config --cflags --libs livemod) -Wl,-rpath,"$P/lib"
	[ -x lmhost ] || exit 1
	LMHOST=$T/lmhost
	host --call mod_api --call mod_store

	modsrc "$T/proj/mod_api.c" mod_api 1.1.0
	expect 0 hmake install LIVEMOD_STATE="$STATE" LIVEMOD_APPLY=1
	has "plan 1: release 1 -> 2" "$OUT"
	has "check: {ok,[]}" "$OUT"
	has "eval: {ok,[]}" "$OUT"
	has "post-install: plan 1 applied" "$OUT"
	expect 0 "$ILM" --state "$STATE" status
	echo "$OUT" | grep -Eq "^mod_api +1\.1\.0 " || fail "status does not show mod_api 1.1.0: $OUT"
	kill -TERM "$HOST"
	wait "$HOST" || fail "lmhost exited $?"
	HOST=""
	has "bad 0" "$(cat host.out)"

	# No node: the plan is recorded, not applied, and make says so.
	modsrc "$T/proj/mod_api.c" mod_api 1.2.0
	expect 2 hmake install LIVEMOD_STATE="$STATE" LIVEMOD_APPLY=1
	has "Error 3" "$ERR"
	has "plan 2: release 2 -> 3" "$OUT"
	has "no running node: plan 2 is recorded but not applied" "$OUT"
	[ -f "$STATE/plans/2.json" ] || fail "no plans/2.json"
}

t_man() {
	m=$P/share/man
	for c in $(commands); do
		grep -Eq "^\.BI? \"?$c( |\"|$)" "$m/man1/livemod.1" ||
			fail "livemod.1 has no entry for '$c'"
	done
	# every option --help shows is in the page
	for o in $("$ILM" --help | grep -o -- '--[a-z-]*' | sort -u); do
		grep -q -- "$(printf '%s' "$o" | sed 's/-/\\\\-/g')" "$m/man1/livemod.1" ||
			fail "livemod.1 does not mention $o"
	done
	for v in LIVEMOD_STATE LIVEMOD_LOCK_TIMEOUT_MS; do
		grep -q "$v" "$m/man1/livemod.1" || fail "livemod.1 does not mention $v"
	done
	# every function the host headers declare is in livemod-agent(3)
	for f in $(cd "$P/include/livemod" && sed -n \
		's/^[a-z][a-z0-9_ ]*[ *]\(lm_[a-z0-9_]*\)(.*/\1/p' node.h agent.h error.h |
		grep -v '^lm__' | sort -u); do
		grep -q "$f" "$m/man3/livemod-agent.3" ||
			fail "livemod-agent.3 does not mention $f"
	done
	if ! command -v groff > /dev/null; then
		skip "groff not installed; man pages not checked for warnings"
		return
	fi
	for p in man1/livemod.1 man3/livemod-agent.3 man5/livemod-plan.5; do
		expect 0 groff -man -ww -z "$m/$p"
		[ -z "$ERR" ] || fail "groff warns on $p: $ERR"
	done
}

# complete WORD...: what the installed completion offers for the command
# line `livemod WORD...` (the last word being completed).
complete_words() {
	PATH="$P/bin:$PATH" bash -c '
		. "$1"; shift
		COMP_WORDS=(livemod "$@"); COMP_CWORD=$#
		_livemod; printf "%s\n" "${COMPREPLY[@]}"' \
		sh "$P/share/bash-completion/completions/livemod" "$@"
}

t_completion() {
	[ "$(complete_words ro)" = rollback ] ||
		fail "'livemod ro' completes to '$(complete_words ro)', want rollback"
	for c in $(commands); do
		complete_words "" | grep -qx "$c" || fail "no completion of command '$c'"
	done
	complete_words update -- | grep -qx -- --try || fail "'update --' does not offer --try"
	complete_words --state "$STATE" rollback --purge "" | grep -qx soft_purge ||
		fail "--purge does not offer soft_purge"
	complete_words plan --d | grep -qx -- --dry-run || fail "'plan --d' does not offer --dry-run"
	complete_words init --dry | grep -q . && fail "init offers --dry-run"

	# Operands from the state: plan ids, release ids, modified modules.
	buildmod mod_hello 1.0.0
	"$ILM" --state "$STATE" init --libdir "$LIB" > /dev/null || exit 99
	buildmod mod_hello 2.0.0
	complete_words --state "$STATE" update "" | grep -qx mod_hello ||
		fail "update does not offer the modified mod_hello"
	"$ILM" --state "$STATE" plan > /dev/null || exit 99
	complete_words --state "$STATE" show "" | grep -qx 1 || fail "show does not offer plan 1"
	if command -v git > /dev/null; then
		[ "$(complete_words --state "$STATE" rollback --to "")" = "$(printf '1\n2')" ] ||
			fail "--to offers '$(complete_words --state "$STATE" rollback --to "")', want 1 2"
	else
		skip "no git; rollback --to completion not checked"
	fi
}

# t_exports: the installed shared library exports exactly the functions
# (and the two fast-path variables) the installed headers declare with
# LM_EXTERN: its internals (ledger, store, descriptor codecs) are not ABI.
# The declared set comes from the compiler (-aux-info lists every
# prototype a translation unit sees, with the header it came from).
t_exports() {
	printf '#include <livemod/node.h>\n' > pub.c
	$CC -std=c11 -D_GNU_SOURCE -I"$P/include" -aux-info pub.aux -c pub.c \
		-o pub.o $(pkg-config --cflags livemod) 2> cc.err ||
		{ fail "the public headers do not compile: $(cat cc.err)"; return; }
	grep "$P/include/livemod/" pub.aux | grep -v '\bstatic\b' |
		sed 's/.*[ *]\([a-z_0-9]*\) (.*/\1/' > declared
	# The inline fast path reads these; they are ABI too.
	grep -ho 'extern LM_EXTERN([^)]*) [a-z_0-9]*' "$P"/include/livemod/*.h |
		sed 's/.* //' >> declared
	sort -u declared -o declared
	nm -D --defined-only "$P/lib/liblivemod-agent.so" |
		awk '{ print $3 }' | sort -u > exported
	[ "$(wc -l < declared)" -ge 50 ] ||
		fail "only $(wc -l < declared) public declarations found"
	grep -qx lm_runtime_new declared || fail "lm_runtime_new not among the declarations"
	grep -qx lm_node_start declared || fail "lm_node_start not among the declarations"
	diff declared exported > d.txt ||
		fail "exported symbols differ from the headers (< declared only, > exported only): $(cat d.txt)"
	# Internals the library carries are not exported.
	for s in lm_ledger_open lm_descriptor_read_file lm_store_open \
		lm__runtime_stage_desc; do
		grep -qx "$s" exported && fail "$s is exported"
	done
	return 0
}

run_test t_layout
run_test t_exports
run_test t_destdir
run_test t_pkgconfig
run_test t_hook
run_test t_hook_bad_module
run_test t_hook_apply
run_test t_man
run_test t_completion
finish
