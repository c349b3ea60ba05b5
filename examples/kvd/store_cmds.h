/*
 * store_cmds.h - the keyspace commands, shared by every version of
 * kvd_store: each version lists the ones it offers in a table and runs a
 * command through store_exec.
 */
#ifndef KVD_STORE_CMDS_H
#define KVD_STORE_CMDS_H

#include <stdint.h>

#include "dict.h"
#include "kvd_api.h"

/* What a command works on: the keyspace and, when the layout has them
 * (v2), the hit and miss counters (NULL otherwise). */
struct store_ctx {
	struct dict *keys;
	uint64_t *hits, *misses;
};

typedef void store_fn(lm_task *t, struct store_ctx *c, int argc,
		      const char *const *argv, const size_t *len);

struct store_cmd {
	const char *name; /* lower case, as errors spell it */
	int arity;        /* as Redis: N exactly, -N at least N (name included) */
	store_fn *fn;
};

store_fn cmd_get, cmd_set, cmd_del, cmd_incr, cmd_mget, cmd_mset,
	cmd_exists, cmd_dbsize, cmd_append, cmd_strlen;

/* Runs argv[0] from the table, or answers "unknown command" or a wrong
 * arity; always 0 (kvd_store's exec). */
int store_exec(lm_task *t, const struct store_cmd *tab, size_t n,
	       struct store_ctx *c, int argc, const char *const *argv,
	       const size_t *len);

#endif
