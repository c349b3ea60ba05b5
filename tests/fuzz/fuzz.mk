# tests/fuzz/fuzz.mk - the libFuzzer targets (issue 6, docs/fuzzing.md),
# included by the top-level Makefile, whose variables it uses.
#
#   make fuzz            build every harness and fuzz each for FUZZ_SECONDS
#                        (default 60) from tests/fuzz/corpus/<target>/, with
#                        a working corpus in $(B)/fuzz/work/<target>/; fails
#                        when one crashed, leaving the input in
#                        $(B)/fuzz/crashes/<target>/
#   make fuzz-TARGET     the same for one target (plan, descriptor, http,
#                        ledger, reply, resp)
#   make fuzz-long       every target until it has had FUZZ_LONG_SECONDS
#                        (default 3600) CPU-seconds in all, across sessions
#                        (tests/fuzz/totals.tsv), in runs of at most
#                        FUZZ_LONG_SLICE (600) s: resumable, an interrupted
#                        session loses at most one slice
#   make fuzz-totals     the running totals (CPU time, executions,
#                        corpus, coverage, crashes) of every target
#   make fuzz-regress    every seed and every kept crasher
#                        (tests/fuzz/regress/<target>/) through each harness
#                        once, without libFuzzer: seconds, deterministic
#
# Harnesses and the lib and agent sources are built with clang
# (FUZZ_CC; Debian's clang, from scripts/deps.sh) under ASan+UBSan and
# libFuzzer's coverage instrumentation, all into $(B)/fuzz/. The regress
# drivers link the same objects without libFuzzer: the coverage hooks
# fall back to the sanitizer runtime's no-op definitions.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_LONG_SECONDS ?= 3600
FUZZ_LONG_SLICE ?= 600
FUZZ_TARGETS = plan descriptor http ledger reply resp
# Largest input per target: a plan of three modules is 4.5 KB, a stripped
# module 7-17 KB, a request with a body a few KB (the 64 KiB body limit
# is answered by a Content-Length with "Expect: 100-continue", not by
# bytes), a small ledger 90 KB.
FUZZ_MAXLEN_plan = 16384
FUZZ_MAXLEN_descriptor = 20480
FUZZ_MAXLEN_http = 8192
FUZZ_MAXLEN_ledger = 98304
# A reply past the harness's 2 KiB body limit is refused as such; a few
# KB reach every state (chunks, trailers, the limit).
FUZZ_MAXLEN_reply = 8192
# kvd's requests: a pipeline of a few commands; the parser's own limits
# (64 KiB inline, lengths) are reached by the numbers in it.
FUZZ_MAXLEN_resp = 4096
# libFuzzer starts with short inputs and lengthens them slowly; an ELF
# file or a database cut to a few hundred bytes is only ever refused at
# its header, so those two mutate at full length from the start.
FUZZ_OPTS_descriptor = -len_control=0
FUZZ_OPTS_ledger = -len_control=0
# The node answers on threads of its own: a request still being served
# when libFuzzer checks the input's allocations (an input holding two
# pipelined requests, of which the harness reads one answer) is not a
# leak. Leaks of the node are LeakSanitizer's at exit in the sanitized
# end-to-end run (make test-sanitize) and valgrind's.
FUZZ_OPTS_http = -detect_leaks=0

FZ = $(B)/fuzz
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS = $(AGENT_CFLAGS) -Itests/fuzz $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_HDR := $(AGENT_HDR) tests/fuzz/fuzz.h
# lib/ and agent/ in archives: each harness links only what it calls,
# and only the http one needs the agent built.
FUZZ_LIB_OBJ := $(patsubst %.c,$(FZ)/obj/%.o,$(LIB_SRC)) $(FZ)/obj/gen/schema_sql.o
FUZZ_AGENT_OBJ := $(patsubst %.c,$(FZ)/obj/%.o,$(AGENT_SRC)) $(FZ)/obj/gen/ui_files.o
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FZ)/fuzz-%)
FUZZ_REGRESS_BINS := $(FUZZ_TARGETS:%=$(FZ)/regress-%)
# The http harness's libdir: two small modules, one depending on the other.
FUZZ_MODS := $(FZ)/mods/mod_a.so $(FZ)/mods/mod_b.so

.PHONY: fuzz fuzz-regress fuzz-long fuzz-totals $(FUZZ_TARGETS:%=fuzz-%)
.SECONDARY: $(FUZZ_LIB_OBJ) $(FUZZ_AGENT_OBJ) \
	$(patsubst %.c,$(FZ)/obj/%.o,$(wildcard tests/fuzz/*.c))

$(FZ)/obj/%.o: %.c $(FUZZ_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FZ)/obj/gen/schema_sql.o: $(B)/gen/schema_sql.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FZ)/obj/gen/ui_files.o: $(UI_GEN) agent/node/web.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FZ)/obj/tests/fuzz/fuzz_http.o: FUZZ_CFLAGS += -DFUZZ_LIBDIR=\"$(abspath $(FZ)/mods)\"

$(FZ)/liblm-fuzz.a: $(FUZZ_LIB_OBJ)
$(FZ)/liblm-fuzz-agent.a: $(FUZZ_AGENT_OBJ)
$(FZ)/liblm-fuzz.a $(FZ)/liblm-fuzz-agent.a:
	@rm -f $@
	ar rcs $@ $^

$(FZ)/mods/mod_a.so: FUZZ_MOD = -DMOD_NAME=mod_a -DMOD_VSN='"1.0.0"' \
	-DMOD_DEPS='"mod_b"' -DMOD_CODE_CHANGE
$(FZ)/mods/mod_b.so: FUZZ_MOD = -DMOD_NAME=mod_b -DMOD_VSN='"2.0.0"'
$(FUZZ_MODS): tests/modules/generic.c include/livemod/module.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -shared -fPIC -fno-gnu-unique -Iinclude $(FUZZ_MOD) \
		-o $@ $<

$(FZ)/fuzz-http $(FZ)/regress-http: $(FZ)/liblm-fuzz-agent.a | $(FUZZ_MODS)
# kvd's parser: an example's source, not lib/'s
$(FZ)/obj/tests/fuzz/fuzz_resp.o: FUZZ_CFLAGS += -Iexamples/kvd
$(FZ)/obj/tests/fuzz/fuzz_resp.o: examples/kvd/resp.h
$(FZ)/fuzz-resp $(FZ)/regress-resp: $(FZ)/obj/examples/kvd/resp.o
# Objects, then archives, the agent's before lib's, which it calls.
FUZZ_LINK = $(filter %.o,$^) $(filter %-agent.a,$^) \
	$(filter-out %-agent.a,$(filter %.a,$^)) $(AGENT_LDLIBS)

$(FZ)/fuzz-%: $(FZ)/obj/tests/fuzz/fuzz_%.o $(FZ)/obj/tests/fuzz/fuzzutil.o \
		$(FZ)/liblm-fuzz.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $(FUZZ_LINK)

$(FZ)/regress-%: $(FZ)/obj/tests/fuzz/fuzz_%.o $(FZ)/obj/tests/fuzz/fuzzutil.o \
		$(FZ)/obj/tests/fuzz/regress.o $(FZ)/liblm-fuzz.a
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $(FUZZ_LINK)

# Every target runs, and the run fails at the end when one crashed.
fuzz: $(FUZZ_BINS)
	@fail=0; $(foreach t,$(FUZZ_TARGETS),sh tests/fuzz/run.sh $(t) $(FZ) \
		$(FUZZ_SECONDS) $(FUZZ_MAXLEN_$(t)) $(FUZZ_OPTS_$(t)) || fail=1;) \
		exit $$fail

$(FUZZ_TARGETS:%=fuzz-%): fuzz-%: $(FZ)/fuzz-%
	@sh tests/fuzz/run.sh $* $(FZ) $(FUZZ_SECONDS) $(FUZZ_MAXLEN_$*) \
		$(FUZZ_OPTS_$*)

# Every target runs to its goal, and the run fails at the end when one
# crashed.
fuzz-long: $(FUZZ_BINS)
	@fail=0; $(foreach t,$(FUZZ_TARGETS),sh tests/fuzz/long.sh $(t) $(FZ) \
		$(FUZZ_LONG_SECONDS) $(FUZZ_LONG_SLICE) $(FUZZ_MAXLEN_$(t)) \
		$(FUZZ_OPTS_$(t)) || fail=1;) exit $$fail

fuzz-totals:
	@sh tests/fuzz/totals.sh print

fuzz-regress: $(FUZZ_REGRESS_BINS)
	@sh tests/fuzz/regress.sh $(FZ) $(FUZZ_TARGETS)
