/*
 * kvd_state.c - handing the keyspace from one version's state to the
 * next (kvd_state.h); compiled into every version of kvd_store.
 *
 * The keyspace is moved, not copied (module ABI 2): code_change builds
 * the new state around the old state's table, so the pause does not
 * grow with the number of keys. Until the apply commits, both states
 * point at the one table, and only the old version may free it; the
 * mover's change_commit then frees the old state's own struct, its
 * change_abort the new one's (docs/module-guide.md, "State by move").
 */
#include <stdlib.h>

#include "kvd_state.h"

struct dict *kvd_state_keys_from(const void *old)
{
	const struct kvd_state_hdr *h = old;

	if (!h || h->magic != KVD_STATE_MAGIC || !h->keys)
		return NULL;
	return h->keys;
}

/* Every layout is the header and plain fields after it: the table is the
 * one thing a state owns besides itself. */
void kvd_state_commit(lm_change_mode mode, void *old_state, void *new_state)
{
	(void)mode, (void)new_state;
	free(old_state); /* its table lives on in new_state */
}

void kvd_state_abort(lm_change_mode mode, void *old_state, void *new_state)
{
	(void)mode, (void)old_state;
	free(new_state); /* the table never left old_state */
}
