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
 * Every export's signature below is the ABI: the text is compared by the
 * agent, so keep it exactly as written in both versions.
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

/* The exports (name: signature text, as LM_EXPORT records it and the host's
 * LM_SIG spells it; written out, not through a macro, since the text
 * itself is what is compared):
 *   mod_util      escape  int (const char *, char *, size_t)
 *   mod_messager  record  long (lm_task *, const char *, const char *, size_t)
 *                 format  int (lm_task *, const char *, long, const char *, const char *, char *, size_t)
 *                 stats   int (lm_task *, const char *, char *, size_t)
 *   mod_motd      motd    int (lm_task *, char *, size_t)
 */

#endif
