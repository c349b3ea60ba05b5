/*
 * objects.c - object extraction for dlopen; see objects.h.
 */
#include "objects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"

/* True when some loaded version (current, staged or old) was opened from
 * `path`. */
static int path_in_use(lm_runtime *rt, const char *path)
{
	lm_module_info *mods;
	size_t n, i, k;
	int used = 0;

	if (lm_runtime_modules(&mods, &n, rt) < 0)
		return 1; /* be safe: take a fresh path */
	for (i = 0; i < n && !used; i++) {
		const lm_module_info *m = &mods[i];

		used = (m->current && strcmp(m->current->path, path) == 0) ||
		       (m->staged && strcmp(m->staged->path, path) == 0);
		for (k = 0; k < m->nold && !used; k++)
			used = strcmp(m->old[k].path, path) == 0;
	}
	lm_module_info_free(mods, n);
	return used;
}

/* 1 when the file at `path` holds exactly the object `oid`. */
static int holds(const char *path, const char *oid)
{
	char got[LM_OID_HEXSZ + 1];

	return access(path, F_OK) == 0 && lm_store_hash_file(got, path) == 0 &&
	       strcmp(got, oid) == 0;
}

int lm_objects_extract(char **path, const char *state_dir, lm_store *store,
		       lm_runtime *rt, const char *oid)
{
	void *buf = NULL;
	size_t len = 0;
	char *p = NULL;
	unsigned k;
	int rc;

	*path = NULL;
	if (!lm_oid_valid(oid))
		return lm_error_set(LM_EINVAL, "'%s' is not an object id", oid);
	for (k = 0; k < 1000; k++) {
		free(p);
		if ((k == 0 ? asprintf(&p, "%s/objects/%s.so", state_dir, oid)
			    : asprintf(&p, "%s/objects/%s.%u.so", state_dir,
				       oid, k)) < 0)
			return lm_error_set(LM_ERROR, "out of memory");
		if (!path_in_use(rt, p))
			break;
	}
	if (k == 1000) {
		free(p);
		return lm_error_set(LM_EBUSY, "object %s is loaded 1000 times",
				    oid);
	}
	if (holds(p, oid)) {
		*path = p;
		return 0;
	}
	rc = lm_store_read(store, oid, &buf, &len);
	if (rc == 0)
		rc = lm_file_write_atomic(p, buf, len, 0500);
	free(buf);
	if (rc < 0) {
		free(p);
		return rc;
	}
	*path = p;
	return 0;
}
