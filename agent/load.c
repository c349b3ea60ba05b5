/*
 * load.c - opening one module version: dlopen it RTLD_LOCAL, find and
 * validate its descriptor, compare it with the planned one, note what
 * would keep it from ever unmapping.
 *
 * A path already mapped is refused: dlopen would hand back the same
 * handle, so "v1 again" would share v1's statics with the old copy still
 * awaiting purge. The agent extracts each oid to its own path, so this
 * only happens when an old copy of the same bytes was not purged yet.
 */
#include "internal.h"

#include <assert.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The live version (any module) whose file is `st`, or NULL. */
static struct lm_version *live_with_file(lm_runtime *rt,
					 const struct stat *st)
{
	size_t i;

	for (i = 0; i < rt->nmods; i++) {
		struct lm_module *mod = rt->mods[i];
		struct lm_version *list[2] = { mod->published, mod->staged };
		struct lm_version *v;
		int k;

		for (k = 0; k < 2; k++)
			if (list[k] && list[k]->dev == st->st_dev &&
			    list[k]->ino == st->st_ino)
				return list[k];
		for (v = mod->old; v; v = v->next)
			if (v->dev == st->st_dev && v->ino == st->st_ino)
				return v;
	}
	return NULL;
}

static const char *stage_name(lm_vstage s)
{
	return s == LM_V_STAGED ? "staged" :
	       s == LM_V_CURRENT ? "current" : "old, awaiting purge";
}

static int refuse_if_mapped(lm_runtime *rt, const char *path,
			    const struct stat *st)
{
	struct lm_version *v = live_with_file(rt, st);
	void *h;

	if (v)
		return lm_error_set(LM_EBUSY, "%s: already loaded as %s %s (%s); "
				    "purge it before loading it again", path,
				    v->mod->name, v->desc->vsn,
				    stage_name(v->stage));
	h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	if (h) {
		dlclose(h);
		return lm_error_set(LM_EBUSY, "%s: already mapped in this "
				    "process (not by livemod, or not unmapped "
				    "after a purge)", path);
	}
	return 0;
}

int lm__version_open(struct lm_version **out, lm_runtime *rt,
		     const char *path, const char *oid,
		     const lm_descriptor *expected)
{
	char real[PATH_MAX];
	struct lm_version *v;
	struct stat st;
	void *sym;
	int rc;

	*out = NULL;
	if (!path || !realpath(path, real) || stat(real, &st) != 0)
		return lm_error_set(LM_ENOTFOUND, "%s: no such module object",
				    path ? path : "(null)");
	if (oid && strlen(oid) > 40)
		return lm_error_set(LM_EINVAL, "%s: oid '%s' is too long", path,
				    oid);
	rc = refuse_if_mapped(rt, real, &st);
	if (rc < 0)
		return rc;

	v = calloc(1, sizeof(*v));
	if (!v || !(v->path = strdup(real)) ||
	    !(v->vtab = calloc(LM_AGENT_SLOTS_MAX, sizeof(*v->vtab)))) {
		lm__version_free(v);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	if (oid)
		strcpy(v->oid, oid);
	v->dev = st.st_dev;
	v->ino = st.st_ino;
	v->stage = LM_V_STAGED;
	v->elf = lm__elf_flags(real);

	v->dl = dlopen(real, RTLD_NOW | RTLD_LOCAL);
	if (!v->dl) {
		rc = lm_error_set(LM_EINVAL, "%s: dlopen: %s", path, dlerror());
		lm__version_free(v);
		return rc;
	}
	sym = dlsym(v->dl, "lm_module_descriptor");
	if (!sym) {
		rc = lm_error_set(LM_ENODESC, "%s: no lm_module_descriptor "
				  "symbol (not built with LM_MODULE?)", path);
		goto fail;
	}
	v->raw = sym;
	rc = lm_descriptor_from_loaded(&v->desc, v->raw, path);
	if (rc < 0)
		goto fail;
	if (expected) {
		rc = lm__descriptor_compare(v->desc, expected, path);
		if (rc < 0)
			goto fail;
	}
	*out = v;
	return 0;
fail:
	lm__version_discard(v);
	return rc;
}

/* True when `v` was opened from `path` (as spelt) or from the file `st`. */
static bool opened_from(const struct lm_version *v, const char *path,
			const struct stat *st)
{
	return strcmp(v->path, path) == 0 ||
	       (st && v->dev == st->st_dev && v->ino == st->st_ino);
}

int lm_runtime_file_loaded(lm_runtime *rt, const char *path)
{
	struct stat st;
	const struct stat *stp;
	size_t i;
	int used = 0;

	if (!path)
		return 0;
	/* By name too: glibc hands back a loaded object whose name matches
	 * even when the file at that path was replaced since. */
	stp = stat(path, &st) == 0 ? &st : NULL;
	lm__rt_lock(rt);
	for (i = 0; i < rt->nmods && !used; i++) {
		struct lm_module *mod = rt->mods[i];
		struct lm_version *v;

		used = (mod->published && opened_from(mod->published, path, stp)) ||
		       (mod->staged && opened_from(mod->staged, path, stp));
		for (v = mod->old; v && !used; v = v->next)
			used = opened_from(v, path, stp);
	}
	lm__rt_unlock(rt);
	return used;
}

void lm__version_discard(struct lm_version *v)
{
	if (v->dl)
		dlclose(v->dl);
	v->dl = NULL;
	lm__version_free(v);
}


void lm__version_free(struct lm_version *v)
{
	if (!v)
		return;
	assert(!v->dl && !v->pins);
	lm_descriptor_free(v->desc);
	free(v->vtab);
	free(v->path);
	free(v);
}
