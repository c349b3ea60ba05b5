# livemod.mk - included by a host's Makefile so that its `make install`
# ends with livemod's post-install hook: the install is planned (and, with
# LIVEMOD_APPLY=1, applied to the running node). Installed as
# $(datadir)/livemod/livemod.mk; docs/packaging.md has a whole example.
#
#   include $(shell pkg-config --variable=mkfile livemod)
#   LIVEMOD_LIBDIR = $(PREFIX)/lib/myapp
#   LIVEMOD_APP = myapp
#   install: all
#   	install -d $(DESTDIR)$(LIVEMOD_LIBDIR)
#   	install -m 0644 mod_*.so $(DESTDIR)$(LIVEMOD_LIBDIR)/
#   	$(LIVEMOD_POST_INSTALL_CMD)
#
# Every variable may be set before the include, in the environment or on
# make's command line (`make install LIVEMOD_STATE=/var/lib/myapp`):
#   LIVEMOD               the livemod command (pkg-config's `livemod`)
#   LIVEMOD_POST_INSTALL  the hook (pkg-config's `post_install`)
#   LIVEMOD_STATE         the node's state dir; empty: the hook only says
#                         how to set it
#   LIVEMOD_LIBDIR        where the modules are installed; lets the first
#                         install record them as release 1 (livemod init)
#   LIVEMOD_APP           the application's name, for that init
#   LIVEMOD_APPLY         1: also apply the plan to the running node
# DESTDIR is passed on too: a staged install plans nothing.

LIVEMOD_PKG_CONFIG ?= pkg-config
livemod_pc_var = $(shell $(LIVEMOD_PKG_CONFIG) --variable=$(1) livemod 2>/dev/null)

# Asked once, and only when not given (a plain ?= would run pkg-config at
# every expansion).
ifndef LIVEMOD
LIVEMOD := $(or $(call livemod_pc_var,livemod),livemod)
endif
ifndef LIVEMOD_POST_INSTALL
LIVEMOD_POST_INSTALL := $(or $(call livemod_pc_var,post_install),livemod-post-install)
endif
LIVEMOD_STATE ?=
LIVEMOD_LIBDIR ?=
LIVEMOD_APP ?=
LIVEMOD_APPLY ?=

# The last line of a host's install recipe. Values are single-quoted for
# the shell: they must not contain a single quote.
LIVEMOD_POST_INSTALL_CMD = LIVEMOD='$(LIVEMOD)' LIVEMOD_STATE='$(LIVEMOD_STATE)' \
	LIVEMOD_LIBDIR='$(LIVEMOD_LIBDIR)' LIVEMOD_APP='$(LIVEMOD_APP)' \
	LIVEMOD_APPLY='$(LIVEMOD_APPLY)' DESTDIR='$(DESTDIR)' '$(LIVEMOD_POST_INSTALL)'
