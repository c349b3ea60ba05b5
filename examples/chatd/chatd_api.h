/*
 * chatd_api.h - what chatd and its modules agree on.
 *
 * livemod leaves `lm_task` to the host. chatd's task is one connection:
 * modules see only this header's part of it, a table of services the host
 * offers them. A module never calls another module directly: it asks the
 * host (t->api->escape), which calls through the connection's own pin on
 * that module, so every call a connection makes runs the versions its pins
 * hold (what /version reports).
 *
 * Every export is declared once, below (LM_DECLARE): each module provides
 * its own with LM_PROVIDE, chatd looks them up and calls them through
 * LM_REF, LM_LOOKUP and LM_INVOKE, and declares them to the node with
 * LM_IMPORT_DECL. The signature is the ABI: a change here is an ABI break
 * the node's check refuses while chatd uses the export.
 */
#ifndef CHATD_API_H
#define CHATD_API_H

#include <stddef.h>

#include <livemod/module.h>

struct chatd_api {
	/* mod_util's escape, through the connection's pin on mod_util:
	 * copies `in` to `out` (at most cap - 1 bytes, NUL-terminated),
	 * making it safe to print on one line; returns the length. */
	int (*escape)(lm_task *t, const char *in, char *out, size_t cap);
};

struct lm_task {
	const struct chatd_api *api;
	void *host; /* the connection: the host's, opaque to modules */
};

/* mod_util: copies `in` to `out` safe to print on one line. */
#define CHATD_ESCAPE                                                        \
	LM_DECLARE(mod_util, escape, int, const char *, char *, size_t)
/* mod_messager: counts a message; its number in the room, or -1. */
#define CHATD_RECORD                                                        \
	LM_DECLARE(mod_messager, record, long, lm_task *, const char *,     \
		   const char *, size_t)
/* mod_messager: the line every member of the room receives. */
#define CHATD_FORMAT                                                        \
	LM_DECLARE(mod_messager, format, int, lm_task *, const char *, long, \
		   const char *, const char *, char *, size_t)
/* mod_messager: the room's counters, as one line. */
#define CHATD_STATS                                                         \
	LM_DECLARE(mod_messager, stats, int, lm_task *, const char *, char *, \
		   size_t)
/* mod_motd: the message of the day. */
#define CHATD_MOTD LM_DECLARE(mod_motd, motd, int, lm_task *, char *, size_t)

#endif
