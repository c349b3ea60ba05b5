/*
 * objects.h - extracting module objects from the store for dlopen.
 *
 * dlopen sees objects/<oid>.so: a path named by the content, written
 * from the store (whose read re-hashes the bytes), so the exact bytes that
 * were planned are what loads. A copy already there is hashed before
 * reuse (once per process while the file stays unchanged: objects.c). glibc hands back the same handle (and the same statics) when a
 * path is opened twice, so while objects/<oid>.so is still mapped by an
 * older version awaiting purge (v1 -> v2 -> v1 with pins on v1), the new
 * load gets its own copy, objects/<oid>.<k>.so.
 */
#ifndef LM_NODE_OBJECTS_H
#define LM_NODE_OBJECTS_H

#include <livemod/agent.h>

#include "store.h"

/* Writes (or verifies) the object `oid` under `state_dir`/objects and
 * returns its path in *path (caller frees). LM_ENOTFOUND when the store
 * lacks it, LM_EINVAL when the stored bytes do not hash to `oid`. */
int lm_objects_extract(char **path, const char *state_dir, lm_store *store,
		       lm_runtime *rt, const char *oid);

/* The path of a verified copy of `oid` already under `state_dir`/objects
 * (1, *path set, caller frees), or 0 when it must be extracted from the
 * store: lets a caller open the store only when some object needs it. */
int lm_objects_reuse(char **path, const char *state_dir, lm_runtime *rt,
		     const char *oid);

/* As lm_objects_extract, from the file `src` (a libdir file an update
 * planned, not yet in the store) instead of the store: its bytes are
 * hashed and must be exactly `oid` (LM_ECHECK naming the file). */
int lm_objects_copy(char **path, const char *state_dir, const char *src,
		    lm_runtime *rt, const char *oid);

#endif
