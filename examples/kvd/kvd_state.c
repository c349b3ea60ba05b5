/*
 * kvd_state.c - taking the keyspace over from another version's state
 * (kvd_state.h); compiled into every version of kvd_store.
 */
#include <stddef.h>

#include "kvd_state.h"

struct dict *kvd_state_keys_from(const void *old)
{
	const struct kvd_state_hdr *h = old;

	if (!h || h->magic != KVD_STATE_MAGIC || !h->keys)
		return NULL;
	return dict_copy(h->keys);
}
