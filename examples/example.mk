# examples/example.mk - what the example hosts' Makefiles share
# (examples/chatd, examples/kvd): where things are, the flags a host and
# its modules are built with, and livemod's post-install hook, in-tree
# (an installed host includes $(shell pkg-config --variable=mkfile
# livemod) instead). Each Makefile sets LIVEMOD_LIBDIR and LIVEMOD_APP
# after including it.

TOP ?= $(abspath ../..)
CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
MODULES ?= v1
STATE ?= $(LIVEMOD_STATE)

LIVEMOD ?= $(TOP)/build/livemod
LIVEMOD_POST_INSTALL ?= $(TOP)/scripts/livemod-post-install
LIVEMOD_STATE := $(STATE)
include $(TOP)/scripts/livemod.mk

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS ?= -O2 -g
AGENT_LIB ?= $(TOP)/build/liblivemod-agent.a
AGENT_LDLIBS ?= $(shell pkg-config --libs liburcu-memb liburcu-qsbr libcjson libelf sqlite3 libmicrohttpd) \
	-lmbedcrypto -ldl -lpthread -lm
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -I$(TOP)/include -I.
HOST_CFLAGS = $(BASE_CFLAGS) $(shell pkg-config --cflags liburcu-memb)
MOD_CFLAGS = $(BASE_CFLAGS) -shared -fPIC -fno-gnu-unique
