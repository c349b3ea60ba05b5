# livemod - build, install, test, demo, bench.
#
#   make            build the livemod command and libraries
#   make test       install missing Debian packages, build, run every test
#   make demo       run the demo (examples/chatd)
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
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Iinclude -Ilib -I$(B)/gen $(PKG_CFLAGS)
LDLIBS = $(PKG_LIBS) -ldl -lpthread

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o) $(B)/gen/schema_sql.o
PLANNER_SRC := $(wildcard planner/*.c)
PLANNER_OBJ := $(PLANNER_SRC:%.c=$(B)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
SCHEMA := $(sort $(wildcard schema/*.sql))

.PHONY: all deps test unit e2e demo bench install clean
all: $(B)/livemod

deps:
	@sh scripts/deps.sh

$(B)/%.o: %.c $(wildcard lib/*.h include/livemod/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/gen/schema_sql.c: $(SCHEMA) scripts/embed-schema.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-schema.sh $(SCHEMA) > $@.tmp && mv $@.tmp $@

$(B)/gen/schema_sql.o: $(B)/gen/schema_sql.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/liblmcommon.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/livemod: $(PLANNER_OBJ) $(B)/liblmcommon.a
	$(CC) $(ALL_CFLAGS) -o $@ $(PLANNER_OBJ) $(B)/liblmcommon.a $(LDLIBS)

$(B)/tests/%: tests/unit/%.c tests/unit/testutil.h $(B)/liblmcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -DLM_SRCDIR=\"$(CURDIR)\" -o $@ $< $(B)/liblmcommon.a $(LDLIBS) -lcmocka

unit: $(UNIT_BIN) $(B)/livemod
	@sh tests/run-unit.sh $(UNIT_BIN)

e2e: $(B)/livemod
	@sh tests/run-e2e.sh

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory e2e

demo: deps
	@echo "make demo: the chatd demo arrives with the agent (issue: agent, examples/chatd)."

bench: deps
	@$(MAKE) --no-print-directory all
	@sh bench/run.sh

install: $(B)/livemod
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(INCDIR)/livemod
	install -m 0755 $(B)/livemod $(DESTDIR)$(BINDIR)/livemod
	install -m 0644 include/livemod/*.h $(DESTDIR)$(INCDIR)/livemod/

clean:
	rm -rf $(B)
