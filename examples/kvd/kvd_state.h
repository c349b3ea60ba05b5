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

#include "dict.h"

#define KVD_STATE_MAGIC 0x6b766473u /* "kvds" */

struct kvd_state_hdr {
	uint32_t magic;  /* KVD_STATE_MAGIC */
	uint32_t layout; /* 1, 2, ... */
	struct dict *keys;
};

/* The keyspace of another version's state, for this version's new state;
 * NULL when `old` is no kvd_store state or memory ran out. Copied: the old
 * version keeps its own until it is purged (docs/host-guide.md, section
 * 7: its terminate frees it). The one place a move would go. */
struct dict *kvd_state_keys_from(const void *old);

#endif
