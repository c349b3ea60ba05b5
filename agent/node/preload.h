/*
 * preload.h - staging ahead: while the node records a plan it made
 * (update, rollback), a loader thread extracts the plan's new objects and
 * stages them (dlopen, descriptor compared with the planned one, export
 * signatures checked), so that the apply's load_object_code finds them
 * staged and the dlopen is off the apply's path; a plan another process
 * recorded is staged the same way once the node sees it (apply.c, "a
 * recorded plan staged ahead"). Whatever the apply does not take is
 * unstaged by lm_preload_finish. An object the loader could
 * not stage is simply staged again inline by the apply, which then meets
 * the same error in its check.
 */
#ifndef LM_NODE_PRELOAD_H
#define LM_NODE_PRELOAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "plan.h"

struct lm_node;

typedef struct lm_preload_item {
	char *module;
	char oid[LM_OID_HEXSZ + 1];
	char *src;                  /* the libdir file, or NULL: the store */
	const lm_descriptor *desc;  /* the plan's, borrowed until the join */
	bool staged, taken;
} lm_preload_item;

typedef struct lm_preload {
	struct lm_node *n;
	lm_preload_item *v;
	size_t count;
	pthread_t th;
	bool running;
	long us;                    /* how long the loader took */
} lm_preload;

/* Starts the loader on every new object of `p`; `libdir` names where an
 * update's objects are (NULL: they are in the store already, a
 * rollback). Nothing is started when `p` loads no object or memory runs
 * out: the apply then stages inline, as it always can. */
void lm_preload_start(lm_preload *pre, struct lm_node *n, const lm_plan *p,
		      const char *libdir);
/* Waits for the loader; the plan's descriptors may go after. */
void lm_preload_join(lm_preload *pre);
/* True when `module` was staged ahead at `oid`: the caller owns the staged
 * version from now on. */
bool lm_preload_take(lm_preload *pre, const char *module, const char *oid);
/* Unstages what was staged and not taken, and frees. Safe on a preload
 * never started. */
void lm_preload_finish(lm_preload *pre);

#endif
