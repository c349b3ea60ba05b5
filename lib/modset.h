/*
 * modset.h - a set of modules: what a libdir holds, or what a release is.
 *
 * Kept sorted by module name so that two sets diff in one merge pass.
 *
 * A set owns its descriptors and file names, except those added with
 * lm_modset_add_shared(): those belong to another set (or a scan's stat
 * entries), which must outlive this one. Planning 10,000 modules shares
 * rather than copies the descriptors of the release it diffs against.
 */
#ifndef LM_MODSET_H
#define LM_MODSET_H

#include <stdbool.h>
#include <stddef.h>

#include "descriptor.h"

#define LM_OID_HEXSZ 40

typedef struct lm_modinfo {
	char *file;                   /* file name in libdir and release tree */
	char oid[LM_OID_HEXSZ + 1];   /* git blob id of the file, hex */
	lm_descriptor *desc;          /* owned unless `shared` */
	bool shared;                  /* file and desc belong to another */
} lm_modinfo;

typedef struct lm_modset {
	lm_modinfo *v;
	size_t n, cap;
} lm_modset;

/* Makes room for `n` entries in all, so that adding them moves nothing. */
int lm_modset_reserve(lm_modset *s, size_t n);
/* Appends, taking ownership of `desc`; copies `file`. */
int lm_modset_add(lm_modset *s, const char *file, const char *oid,
		  lm_descriptor *desc);
/* Appends `file` and `desc` without taking or copying them: they stay
 * owned by whoever owns them now (another set), which must outlive `s`. */
int lm_modset_add_shared(lm_modset *s, const char *file, const char *oid,
			 const lm_descriptor *desc);
/* Sorts by module name (a pass that finds the set sorted already is all
 * it costs then); LM_EINVAL naming both files when two declare the same
 * module. */
int lm_modset_sort(lm_modset *s);
/* Binary search by module name in a sorted set. */
const lm_modinfo *lm_modset_find(const lm_modset *s, const char *name);
void lm_modset_clear(lm_modset *s);

/* True when `s` is a 40-char lowercase hex object id. */
int lm_oid_valid(const char *s);

#endif
