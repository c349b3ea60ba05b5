/*
 * kvd_state.h - how every version of kvd_store begins its state, and
 * what every version's code_change does with another's.
 *
 * Each version lays its state out as it likes (v1: the keyspace alone;
 * v2: the keyspace and hit/miss counters), but every layout starts with
 * this header, which never changes: a magic number, the layout's number
 * and the keyspace (dict.h, whose layout never changes either). So any
 * version's code_change reads any other's state, newer or older: an
 * upgrade (LM_UP, in the new version), the plan's way back (LM_DOWN, in
 * the newer version), or an older build installed again over a newer one
 * (LM_UP in the older version, on a layout it has never seen).
 */
#ifndef KVD_STATE_H
#define KVD_STATE_H

#include <stdint.h>

#include <livemod/module.h>

#include "dict.h"

#define KVD_STATE_MAGIC 0x6b766473u /* "kvds" */

struct kvd_state_hdr {
	uint32_t magic;  /* KVD_STATE_MAGIC */
	uint32_t layout; /* 1, 2, ... */
	struct dict *keys;
};

/* The keyspace of another version's state, for this version's new state:
 * the very table (moved, not copied); NULL when `old` is no kvd_store
 * state. Shared by both states until the apply commits or aborts: a
 * code_change that takes it passes the two callbacks below. */
struct dict *kvd_state_keys_from(const void *old);

/* change_commit: frees the old state's struct, not its table (the new
 * state's now). change_abort: frees the new state's struct, not the table
 * (the old state's still). Any layout, any direction. */
void kvd_state_commit(lm_change_mode mode, void *old_state, void *new_state);
void kvd_state_abort(lm_change_mode mode, void *old_state, void *new_state);

#endif
