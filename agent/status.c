/*
 * status.c - introspection: a snapshot of every module, its current,
 * staged and old versions, and the pins on each (what `livemod status`
 * and GET /modules show).
 */
#include "internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static lm_version_info *version_info(struct lm_version *v)
{
	lm_version_info *vi;

	if (!v)
		return NULL;
	vi = calloc(1, sizeof(*vi));
	if (!vi)
		return NULL;
	vi->vsn = strdup(v->desc->vsn);
	vi->path = strdup(v->path);
	memcpy(vi->oid, v->oid, sizeof(vi->oid));
	pthread_mutex_lock(&v->mod->mu);
	vi->pins = v->npins;
	vi->retiring = v->retiring;
	pthread_mutex_unlock(&v->mod->mu);
	return vi;
}

static void version_info_clear(lm_version_info *vi)
{
	if (!vi)
		return;
	free(vi->vsn);
	free(vi->path);
}

static int fill(lm_module_info *mi, struct lm_module *mod)
{
	struct lm_version *v;
	size_t n = 0;

	mi->name = strdup(mod->name);
	pthread_mutex_lock(&mod->mu);
	mi->suspended = mod->suspended;
	v = mod->published;
	pthread_mutex_unlock(&mod->mu);
	mi->current = version_info(v);
	mi->staged = version_info(mod->staged);
	for (v = mod->old; v; v = v->next)
		n++;
	mi->old = calloc(n ? n : 1, sizeof(*mi->old));
	if (!mi->name || (mod->published && !mi->current) ||
	    (mod->staged && !mi->staged) || !mi->old)
		return lm_error_set(LM_ERROR, "out of memory");
	for (v = mod->old; v; v = v->next) {
		lm_version_info *vi = version_info(v);

		if (!vi)
			return lm_error_set(LM_ERROR, "out of memory");
		mi->old[mi->nold++] = *vi;
		free(vi);
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const lm_module_info *)a)->name,
		      ((const lm_module_info *)b)->name);
}

int lm_runtime_modules(lm_module_info **out, size_t *n, lm_runtime *rt)
{
	lm_module_info *v;
	size_t i, k = 0;
	int rc = 0;

	assert(out && n && rt);
	*out = NULL;
	*n = 0;
	lm__rt_lock(rt);
	v = calloc(rt->nmods ? rt->nmods : 1, sizeof(*v));
	if (!v)
		rc = lm_error_set(LM_ERROR, "out of memory");
	for (i = 0; rc == 0 && i < rt->nmods; i++) {
		struct lm_module *mod = rt->mods[i];

		/* A module whose every version is gone is not shown. */
		if (!mod->published && !mod->staged && !mod->old)
			continue;
		rc = fill(&v[k++], mod);
	}
	lm__rt_unlock(rt);
	if (rc < 0) {
		lm_module_info_free(v, k);
		return rc;
	}
	qsort(v, k, sizeof(*v), by_name);
	*out = v;
	*n = k;
	return 0;
}

int lm_runtime_module_hold(uint64_t *out_ns, lm_runtime *rt,
			   const char *module)
{
	struct lm_module *mod;
	int rc;

	assert(out_ns && rt);
	*out_ns = 0;
	lm__rt_lock(rt);
	if ((rc = lm__module_need(&mod, rt, module)) == 0)
		*out_ns = __atomic_load_n(&mod->hold_max_ns, __ATOMIC_RELAXED);
	lm__rt_unlock(rt);
	return rc;
}

void lm_module_info_free(lm_module_info *v, size_t n)
{
	size_t i, j;

	if (!v)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].name);
		version_info_clear(v[i].current);
		free(v[i].current);
		version_info_clear(v[i].staged);
		free(v[i].staged);
		for (j = 0; j < v[i].nold; j++)
			version_info_clear(&v[i].old[j]);
		free(v[i].old);
	}
	free(v);
}
