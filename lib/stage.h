/*
 * stage.h - `livemod stage`: a release's module files written from the
 * store into the libdir, as `make install` would put them there, so that
 * the ordinary `livemod update` plans and applies that release.
 *
 * Staging is inert: the node loads code from objects/<oid>.so, never from
 * the libdir, so nothing runs differently until an update applies it.
 */
#ifndef LM_STAGE_H
#define LM_STAGE_H

#include <stddef.h>

#include "store.h"

typedef struct lm_stage_list {
	char **v;
	size_t n;
} lm_stage_list;

typedef struct lm_stage_result {
	lm_stage_list written;   /* new or different in the libdir */
	lm_stage_list unchanged; /* the libdir held those bytes already */
	lm_stage_list removed;   /* in the current release, not in the new */
	lm_stage_list extra;     /* *.so in the libdir that neither has:
				  * the next update would take them in */
} lm_stage_result;

/*
 * Makes `libdir`'s module files those of release tree `tree` of store `s`:
 * each file of the tree whose bytes differ is written (a new file, then an
 * atomic rename), each file of the node's current release `current`
 * (`ncurrent` entries) that the tree lacks is removed. Every object is
 * read, and its bytes checked against its id, before the first write: a
 * corrupt object is LM_EINVAL naming it, with the libdir untouched. With
 * `dry_run`, only says what it would do.
 */
int lm_stage_tree(lm_stage_result *out, lm_store *s, const char *libdir,
		  const char *tree, const lm_store_entry *current,
		  size_t ncurrent, int dry_run);

void lm_stage_result_clear(lm_stage_result *r);

#endif
