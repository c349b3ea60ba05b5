# livemod - build, install, test, demo, bench.
#
#   make            build the livemod command and libraries
#   make test       install missing Debian packages, build, run every test
#   make demo       run the demo (examples/chatd)
#   make demo-web   keep a chatd running and print its web page's URL
#   make fleet-demo an 8-node rollout with Ansible (docs/fleet.md)
#   make bench      run the benchmarks; figures go to docs/BENCHMARKS.md
#   make install    PREFIX=/usr/local DESTDIR= honoured

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
INCDIR = $(PREFIX)/include
LIBDIR = $(PREFIX)/lib

CC ?= cc
B ?= build
PKGS = libgit2 libcjson libelf sqlite3
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libgit2 is dlopen'ed by lib/gitlib.c at the first use of the store (its
# dependency closure costs every process several ms at start,
# docs/dependencies.md); only its headers are needed at build time.
PKG_LIBS := $(shell pkg-config --libs $(filter-out libgit2,$(PKGS)) 2>/dev/null)

# SQLite, libelf and mbedTLS are dlopen'ed too, by lib/sqlitelib.c,
# lib/elflib.c and lib/mbedlib.c at their first use (the HTTP commands
# need none of them, docs/dependencies.md): the soname of the library
# the headers belong to, read from its linker name.
soname = $(shell objdump -p $$(readlink -f $$($(CC) -print-file-name=lib$(1).so)) 2>/dev/null | awk '/SONAME/ { print $$2 }')
LAZY_SONAMES := -DLM_SQLITE_SONAME='"$(call soname,sqlite3)"' \
	-DLM_ELF_SONAME='"$(call soname,elf)"' \
	-DLM_MBED_SONAME='"$(call soname,mbedcrypto)"'
# What the livemod command links: libc, cJSON, dlopen.
CLI_LDLIBS := $(shell pkg-config --libs libcjson 2>/dev/null) -ldl -lpthread

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Iinclude -Ilib -I$(B)/gen $(PKG_CFLAGS) $(LAZY_SONAMES)
LDLIBS = $(PKG_LIBS) -lmbedcrypto -ldl -lpthread

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o) $(B)/gen/schema_sql.o
PLANNER_SRC := $(wildcard planner/*.c)
PLANNER_OBJ := $(PLANNER_SRC:%.c=$(B)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
SCHEMA := $(sort $(wildcard schema/*.sql))

.PHONY: all deps test unit e2e demo demo-web fleet-demo bench install clean test-sanitize
all: $(B)/livemod

deps:
	@sh scripts/deps.sh

$(B)/%.o: %.c $(wildcard lib/*.h include/livemod/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/gen/schema_sql.c: $(SCHEMA) scripts/embed-schema.sh scripts/c-literal.awk
	@mkdir -p $(dir $@)
	sh scripts/embed-schema.sh $(SCHEMA) > $@.tmp && mv $@.tmp $@

$(B)/gen/schema_sql.o: $(B)/gen/schema_sql.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/liblmcommon.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/livemod: $(PLANNER_OBJ) $(B)/liblmcommon.a
	$(CC) $(ALL_CFLAGS) -o $@ $(PLANNER_OBJ) $(B)/liblmcommon.a $(CLI_LDLIBS)

$(B)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(B)/liblmcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -DLM_SRCDIR=\"$(CURDIR)\" -o $@ $< $(B)/liblmcommon.a $(LDLIBS) -lcmocka

# The web page's pure parts are agent code: the test compiles web.c in.
$(B)/tests/test_web: agent/node/web.c agent/node/web.h
# So is the control API's gate: the test compiles gate.c in.
$(B)/tests/test_gate: agent/node/gate.c agent/node/gate.h
# And the libdir's watch: the test compiles libwatch.c in.
$(B)/tests/test_libwatch: agent/node/libwatch.c agent/node/libwatch.h

# This test reads the store's refs with libgit2 itself, beside livemod's
# own loaded copy, so it checks the store through code other than ours.
$(B)/tests/test_planning: LDLIBS += $(shell pkg-config --libs libgit2 2>/dev/null)

unit: $(UNIT_BIN) $(B)/livemod
	@sh tests/run-unit.sh $(UNIT_BIN)

e2e: $(B)/livemod $(B)/tests/lmhost
	@sh tests/run-e2e.sh

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory fuzz-regress
	@$(MAKE) --no-print-directory test-agent

# The suite again under ASan+UBSan, and the CLI tests under valgrind
# (tests/run-sanitize.sh); .ci/run runs it after `make test`.
test-sanitize: deps
	@sh tests/run-sanitize.sh

demo: deps
	@bash scripts/demo.sh

demo-web: deps
	@bash scripts/demo-web.sh

# 8 chatd nodes rolled forward with Ansible: a failing canary, then a good
# rollout (docs/fleet.md).
fleet-demo: deps
	@bash scripts/fleet-demo.sh

bench: deps
	@$(MAKE) --no-print-directory all agent $(B)/tests/lmhost \
		$(B)/bench/bench_apply $(B)/bench/bench_apply_qsbr \
		$(B)/bench/bench_state_move \
		$(B)/bench/bench_call_ir $(B)/tests/agent/bench_call \
		$(B)/tests/agent/bench_call_qsbr $(B)/bench/cli_time
	@sh bench/run.sh

# `make install`: the layout is docs/packaging.md's. livemod.pc is written
# with the real directories (under ${prefix} where they are), so a host
# finds the headers, the agent, livemod.mk and the hook through pkg-config.
LIVEMOD_VERSION = 0.1.0
DATADIR = $(PREFIX)/share
LIBEXECDIR = $(PREFIX)/libexec
MANDIR = $(DATADIR)/man
PKGCONFIGDIR = $(LIBDIR)/pkgconfig
BASHCOMPDIR = $(DATADIR)/bash-completion/completions
pc_dir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

install: $(B)/livemod $(B)/liblivemod-agent.a $(B)/liblivemod-agent.so
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(INCDIR)/livemod $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(DATADIR)/livemod \
		$(DESTDIR)$(LIBEXECDIR)/livemod $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man5
	install -m 0755 $(B)/livemod $(DESTDIR)$(BINDIR)/livemod
	install -m 0644 include/livemod/*.h $(DESTDIR)$(INCDIR)/livemod/
	install -m 0644 $(B)/liblivemod-agent.a $(DESTDIR)$(LIBDIR)/
	install -m 0755 $(B)/liblivemod-agent.so $(DESTDIR)$(LIBDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(LIVEMOD_VERSION)|' \
		-e 's|@BINDIR@|$(call pc_dir,$(BINDIR))|' \
		-e 's|@INCDIR@|$(call pc_dir,$(INCDIR))|' \
		-e 's|@LIBDIR@|$(call pc_dir,$(LIBDIR))|' \
		-e 's|@DATADIR@|$(call pc_dir,$(DATADIR))|' \
		-e 's|@LIBEXECDIR@|$(call pc_dir,$(LIBEXECDIR))|' \
		scripts/livemod.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/livemod.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/livemod.pc
	install -m 0644 scripts/livemod.mk $(DESTDIR)$(DATADIR)/livemod/
	install -m 0755 scripts/livemod-post-install $(DESTDIR)$(LIBEXECDIR)/livemod/
	install -m 0644 scripts/livemod-completion.bash $(DESTDIR)$(BASHCOMPDIR)/livemod
	install -m 0644 man/livemod.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/livemod-agent.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 0644 man/livemod-plan.5 $(DESTDIR)$(MANDIR)/man5/

clean:
	rm -rf $(B) $(B)-asan

# ======================================================================
# Agent runtime (agent/, include/livemod/agent.h, tests/agent/).
#   make agent        $(B)/liblivemod-agent.a and $(B)/liblivemod-agent.so
#   make test-agent   the agent tests: normal build, ASan+UBSan build and
#                     TSan build of the stress test (tests/agent/run.sh)
# The shared library carries lib/descriptor*.o, lib/modset.o, lib/error.o,
# rebuilt with -fPIC under $(B)/pic/.
# ======================================================================
URCU_CFLAGS := $(shell pkg-config --cflags liburcu-memb 2>/dev/null)
URCU_LIBS := $(shell pkg-config --libs liburcu-memb liburcu-qsbr 2>/dev/null || echo -lurcu-memb -lurcu-qsbr -lurcu-common)
AGENT_SRC := $(wildcard agent/*.c) $(wildcard agent/node/*.c)
AGENT_HDR := $(wildcard agent/*.h agent/node/*.h include/livemod/*.h lib/*.h)
# lib/http*.c is the CLI's HTTP client: the agent is the server.
AGENT_COMMON := $(filter-out lib/httpclient.c lib/httpreply.c,$(LIB_SRC))
# The web page (agent/node/ui/, docs/web.md) is compiled in: its files
# become $(B)/gen/ui_files.c (scripts/embed-ui.sh), linked into both
# agent libraries and every build that compiles the agent's sources.
UI_SRC := $(sort $(wildcard agent/node/ui/*))
UI_GEN := $(B)/gen/ui_files.c
AGENT_OBJ := $(AGENT_SRC:%.c=$(B)/%.o)
AGENT_PIC_OBJ := $(AGENT_SRC:%.c=$(B)/pic/%.o) $(AGENT_COMMON:%.c=$(B)/pic/%.o) \
	$(B)/pic/gen/schema_sql.o $(B)/pic/gen/ui_files.o
AGENT_CFLAGS = $(ALL_CFLAGS) $(URCU_CFLAGS) -Iagent -Iagent/node
AGENT_LDLIBS = $(URCU_LIBS) $(LDLIBS) $(shell pkg-config --libs libmicrohttpd 2>/dev/null) -lm
AGENT_TEST_CFLAGS = $(AGENT_CFLAGS) -Itests/unit -Itests/agent -DLM_SRCDIR=\"$(CURDIR)\"
AGENT_TEST_HDR := $(wildcard tests/agent/*.h) tests/unit/testutil.h
AT := $(B)/tests/agent
# Sanitizer builds compile the agent sources into the test binary, so
# every line of the agent is instrumented; the three lib objects come from
# the normal build (GCC's -Wstringop-truncation fires on lib/error.c only
# under -fsanitize, and lib/ is not what these builds test).
AGENT_SAN_SRC := $(AGENT_SRC) $(UI_GEN) $(LIB_OBJ)
ASAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# No TSan suppression file: liburcu is not instrumented, so agent.h calls
# its read-side functions instead of inlining them under TSan and annotates
# grace periods itself (__tsan_release/__tsan_acquire, see agent.h).
TSAN_FLAGS = -fsanitize=thread

.PHONY: agent test-agent
agent: $(B)/liblivemod-agent.a $(B)/liblivemod-agent.so

$(AGENT_OBJ): $(AGENT_HDR)
$(AGENT_OBJ): ALL_CFLAGS += $(URCU_CFLAGS) -Iagent -Iagent/node

$(B)/pic/%.o: %.c $(AGENT_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(B)/pic/gen/schema_sql.o: $(B)/gen/schema_sql.c
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(UI_GEN): $(UI_SRC) scripts/embed-ui.sh scripts/c-literal.awk
	@mkdir -p $(dir $@)
	sh scripts/embed-ui.sh $(UI_SRC) > $@.tmp && mv $@.tmp $@

$(B)/gen/ui_files.o: $(UI_GEN) agent/node/web.h
	$(CC) $(AGENT_CFLAGS) -c -o $@ $<

$(B)/pic/gen/ui_files.o: $(UI_GEN) agent/node/web.h
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(B)/liblivemod-agent.a: $(AGENT_OBJ) $(B)/gen/ui_files.o $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/liblivemod-agent.so: $(AGENT_PIC_OBJ)
	$(CC) $(AGENT_CFLAGS) -shared -Wl,-soname,liblivemod-agent.so -o $@ $^ $(AGENT_LDLIBS)

$(AT)/stress: tests/agent/stress.c $(AGENT_TEST_HDR) $(B)/liblivemod-agent.a
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_TEST_CFLAGS) -o $@ $< $(B)/liblivemod-agent.a $(AGENT_LDLIBS)

$(AT)/stress-asan: tests/agent/stress.c $(AGENT_TEST_HDR) $(AGENT_SAN_SRC) $(AGENT_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_TEST_CFLAGS) $(ASAN_FLAGS) -o $@ $< $(AGENT_SAN_SRC) $(AGENT_LDLIBS)

$(AT)/stress-tsan: tests/agent/stress.c $(AGENT_TEST_HDR) $(AGENT_SAN_SRC) $(AGENT_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_TEST_CFLAGS) $(TSAN_FLAGS) -o $@ $< $(AGENT_SAN_SRC) $(AGENT_LDLIBS)

# The functional tests reach into lib/ (descriptors, the error setter),
# which the shared library no longer exports: they link the archive, and
# are also built with ASan+UBSan. A host linking the shared library is
# tests/e2e/test_install.sh's; what it exports, tests/e2e/test_exports.sh's.
$(AT)/test_runtime: tests/agent/test_runtime.c $(AGENT_TEST_HDR) $(B)/liblivemod-agent.a
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_TEST_CFLAGS) -o $@ $< $(B)/liblivemod-agent.a $(AGENT_LDLIBS) -lcmocka

$(AT)/test_runtime-asan: tests/agent/test_runtime.c $(AGENT_TEST_HDR) $(AGENT_SAN_SRC) $(AGENT_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_TEST_CFLAGS) $(ASAN_FLAGS) -o $@ $< $(AGENT_SAN_SRC) $(AGENT_LDLIBS) -lcmocka

# State by move (module ABI 2): a two-module apply whose second
# code_change fails after the first moved its state, up and down; plain
# and ASan+UBSan (a table freed twice, or left behind, is ASan's).
$(AT)/state_move: tests/agent/state_move.c tests/agent/mod_move.c $(AGENT_TEST_HDR) $(B)/liblivemod-agent.a
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_TEST_CFLAGS) -o $@ $< $(B)/liblivemod-agent.a $(AGENT_LDLIBS) -lcmocka

$(AT)/state_move-asan: tests/agent/state_move.c tests/agent/mod_move.c $(AGENT_TEST_HDR) $(AGENT_SAN_SRC) $(AGENT_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_TEST_CFLAGS) $(ASAN_FLAGS) -o $@ $< $(AGENT_SAN_SRC) $(AGENT_LDLIBS) -lcmocka

$(AT)/swap_leak: tests/agent/swap_leak.c $(AGENT_TEST_HDR) $(B)/liblivemod-agent.a
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_TEST_CFLAGS) -o $@ $< $(B)/liblivemod-agent.a $(AGENT_LDLIBS)

$(AT)/bench_call: tests/agent/bench_call.c $(AGENT_TEST_HDR) $(B)/liblivemod-agent.a
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_TEST_CFLAGS) -DNDEBUG -o $@ $< $(B)/liblivemod-agent.a $(AGENT_LDLIBS)

$(AT)/bench_call_qsbr: tests/agent/bench_call.c $(AGENT_TEST_HDR) $(B)/liblivemod-agent.a
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_TEST_CFLAGS) -DNDEBUG -DLM_AGENT_QSBR -o $@ $< $(B)/liblivemod-agent.a $(AGENT_LDLIBS)

# The stress test again with every thread a QSBR reader (LM_AGENT_QSBR).
$(AT)/stress-qsbr: tests/agent/stress.c $(AGENT_TEST_HDR) $(B)/liblivemod-agent.a
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_TEST_CFLAGS) -DLM_AGENT_QSBR -o $@ $< $(B)/liblivemod-agent.a $(AGENT_LDLIBS)

$(AT)/stress-qsbr-tsan: tests/agent/stress.c $(AGENT_TEST_HDR) $(AGENT_SAN_SRC) $(AGENT_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_TEST_CFLAGS) $(TSAN_FLAGS) -DLM_AGENT_QSBR -o $@ $< $(AGENT_SAN_SRC) $(AGENT_LDLIBS)

AGENT_TESTS := $(AT)/test_runtime $(AT)/test_runtime-asan $(AT)/swap_leak \
	$(AT)/state_move $(AT)/state_move-asan \
	$(AT)/stress $(AT)/stress-asan $(AT)/stress-tsan $(AT)/bench_call \
	$(AT)/stress-qsbr $(AT)/stress-qsbr-tsan

test-agent: agent $(AGENT_TESTS)
	@sh tests/agent/run.sh $(AT)
# ==== end of the agent block ==========================================

# The test host links the agent library as a host would.
$(B)/tests/lmhost: tests/host/lmhost.c $(B)/liblivemod-agent.a
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_CFLAGS) -o $@ $< $(B)/liblivemod-agent.a $(AGENT_LDLIBS)

# Times commands as processes, and is the tiny client of the floor.
$(B)/bench/cli_time: bench/cli_time.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 $(WARN) -o $@ $<

# Benchmarks that link the agent as a host does.
$(B)/bench/bench_apply: bench/bench_apply.c $(B)/liblivemod-agent.a
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_CFLAGS) -o $@ $< $(B)/liblivemod-agent.a $(AGENT_LDLIBS) -lsqlite3

$(B)/bench/bench_state_move: bench/bench_state_move.c tests/agent/mod_move.c $(B)/liblivemod-agent.a
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_CFLAGS) -o $@ $< $(B)/liblivemod-agent.a $(AGENT_LDLIBS)

$(B)/bench/bench_apply_qsbr: bench/bench_apply.c $(B)/liblivemod-agent.a
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_CFLAGS) -DLM_AGENT_QSBR -o $@ $< $(B)/liblivemod-agent.a $(AGENT_LDLIBS) -lsqlite3

# ==== node stress (tests/agent/node_stress.c) =========================
# The node under load in process: lm_node_update v1 <-> v2 while threads
# call and pin; plain, ASan+UBSan and TSan builds like the stress test's.
# Needs the livemod command at run time (it inits the state dir).
NODE_STRESS_CFLAGS = $(AGENT_TEST_CFLAGS) -DLM_LIVEMOD=\"$(CURDIR)/$(B)/livemod\"
NODE_STRESS_TESTS := $(AT)/node_stress $(AT)/node_stress-asan $(AT)/node_stress-tsan

$(AT)/node_stress: tests/agent/node_stress.c $(AGENT_TEST_HDR) $(B)/liblivemod-agent.a | $(B)/livemod
	@mkdir -p $(dir $@)
	$(CC) $(NODE_STRESS_CFLAGS) -o $@ $< $(B)/liblivemod-agent.a $(AGENT_LDLIBS)

$(AT)/node_stress-asan: tests/agent/node_stress.c $(AGENT_TEST_HDR) $(AGENT_SAN_SRC) $(AGENT_HDR) | $(B)/livemod
	@mkdir -p $(dir $@)
	$(CC) $(NODE_STRESS_CFLAGS) $(ASAN_FLAGS) -o $@ $< $(AGENT_SAN_SRC) $(AGENT_LDLIBS)

$(AT)/node_stress-tsan: tests/agent/node_stress.c $(AGENT_TEST_HDR) $(AGENT_SAN_SRC) $(AGENT_HDR) | $(B)/livemod
	@mkdir -p $(dir $@)
	$(CC) $(NODE_STRESS_CFLAGS) $(TSAN_FLAGS) -o $@ $< $(AGENT_SAN_SRC) $(AGENT_LDLIBS)

test-agent: $(NODE_STRESS_TESTS)
# ==== end of the node stress block ====================================

$(B)/bench/bench_call_ir: bench/bench_call_ir.c $(B)/liblivemod-agent.a
	@mkdir -p $(dir $@)
	$(CC) $(AGENT_CFLAGS) -o $@ $< $(B)/liblivemod-agent.a $(AGENT_LDLIBS)

# ==== examples/chatd (issue 4) ========================================
# The example host, its modules (v1 and v2) and its load generator, built
# by examples/chatd/Makefile into $(B)/chatd/ against the agent library.
#   make chatd      $(B)/chatd/chatd, $(B)/chatd/loadgen,
#                   $(B)/chatd/v1/*.so, $(B)/chatd/v2/*.so
#   make e2e-chatd  tests/e2e/test_chatd.sh
# `make demo` (above) runs scripts/demo.sh, which builds these itself.
.PHONY: chatd e2e-chatd
chatd: $(B)/liblivemod-agent.a $(B)/livemod
	@$(MAKE) --no-print-directory -C examples/chatd TOP=$(CURDIR) \
		B=$(CURDIR)/$(B)/chatd AGENT_LIB=$(CURDIR)/$(B)/liblivemod-agent.a \
		AGENT_LDLIBS="$(AGENT_LDLIBS)" CC="$(CC)" CFLAGS="$(CFLAGS)"

e2e-chatd: chatd
	@sh tests/e2e/test_chatd.sh
# ==== end of the examples/chatd block =================================

# ==== examples/kvd (issue 16) =========================================
# The Redis-protocol server and its modules (v1 and v2), built by
# examples/kvd/Makefile into $(B)/kvd/ against the agent library.
#   make kvd        $(B)/kvd/kvd, $(B)/kvd/v1/*.so, $(B)/kvd/v2/*.so
#   make e2e-kvd    tests/e2e/test_kvd.sh (redis-cli, redis-benchmark)
.PHONY: kvd e2e-kvd
kvd: $(B)/liblivemod-agent.a $(B)/livemod
	@$(MAKE) --no-print-directory -C examples/kvd TOP=$(CURDIR) \
		B=$(CURDIR)/$(B)/kvd AGENT_LIB=$(CURDIR)/$(B)/liblivemod-agent.a \
		AGENT_LDLIBS="$(AGENT_LDLIBS)" CC="$(CC)" CFLAGS="$(CFLAGS)"

e2e-kvd: kvd
	@sh tests/e2e/test_kvd.sh
# ==== end of the examples/kvd block ===================================

# ==== fuzzing (tests/fuzz/fuzz.mk): make fuzz ==========================
include tests/fuzz/fuzz.mk
