#!/bin/sh
# run-sanitize.sh - the suite again under the sanitizers (issue 6), as
# .ci/run runs it after `make test`:
#
#   1. livemod, the agent and the test host built with AddressSanitizer,
#      UndefinedBehaviorSanitizer and LeakSanitizer into build-asan/, and
#      the unit and end-to-end tests run on them (a leak, an overflow or
#      undefined behaviour fails the command, hence its test);
#   2. the CLI tests (test_planner.sh) once more with every livemod run
#      under valgrind memcheck: an error or a definite or indirect leak
#      exits 99, which no test expects.
#
# ThreadSanitizer runs in `make test` already (tests/agent/run.sh: the
# stress and node stress tests, threads calling modules while plans are
# applied). Closing line: "sanitize: ok" or the step that failed.
set -u
cd "$(dirname "$0")/.." || exit 2
TOP=$(pwd)
SAN_CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
# an error in a child (lmhost, livemod) must fail loudly, not only in logs
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

step() { echo "sanitize: $*"; }
die() { echo "sanitize: FAILED: $*"; exit 1; }

step "build with $SAN_CFLAGS (build-asan/)"
mkdir -p build-asan
CFLAGS="$SAN_CFLAGS" make --no-print-directory B=build-asan all \
	build-asan/tests/lmhost > build-asan/build.log 2>&1 ||
	{ tail -20 build-asan/build.log; die "sanitized build"; }
# kvd and its modules too (examples/kvd): test_kvd.sh runs them
# (KVD_BUILD), so its RESP parser and keyspace meet redis-cli,
# redis-benchmark and bad input under the sanitizers. (test_chatd.sh
# builds its own chatd, unsanitized.)
CFLAGS="$SAN_CFLAGS" make --no-print-directory B=build-asan kvd \
	>> build-asan/build.log 2>&1 ||
	{ tail -20 build-asan/build.log; die "sanitized build of kvd"; }
CFLAGS="$SAN_CFLAGS" make --no-print-directory B=build-asan unit ||
	die "unit tests under ASan+UBSan"
# web: the browser test drives chatd, which the sanitized build does not
# make, and the node's HTTP code it reaches is the same test_control.sh
# and test_security.sh run here; once in `make test` keeps CI short.
# fleet: its C (fetch, push, stage) is what every other test's CLI is,
# and the rest of its minutes go to ansible-playbook; `make test` runs it
# once, which is enough.
LIVEMOD=$TOP/build-asan/livemod LMHOST=$TOP/build-asan/tests/lmhost \
	KVD_BUILD=$TOP/build-asan/kvd E2E_SKIP="install web fleet" sh tests/run-e2e.sh ||
	die "end-to-end tests under ASan+UBSan"

step "CLI tests under valgrind memcheck"
command -v valgrind > /dev/null || die "valgrind not installed (scripts/deps.sh)"
mkdir -p build/valgrind
cat > build/valgrind/livemod <<EOT
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full \\
	--errors-for-leak-kinds=definite,indirect \\
	--show-leak-kinds=definite,indirect "$TOP/build/livemod" "\$@"
EOT
chmod +x build/valgrind/livemod
make --no-print-directory all > /dev/null || die "build"
LIVEMOD=$TOP/build/valgrind/livemod sh tests/e2e/test_planner.sh ||
	die "CLI tests under valgrind"
echo "sanitize: ok"
