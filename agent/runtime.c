/*
 * runtime.c - a runtime's creation and teardown and its host callbacks:
 * the top of the agent's layers (registry.c, readside.c at the bottom;
 * load, check, unmap; pin, call; purge; swap; then this), the one file
 * that starts and stops everything below it.
 */
#include "internal.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lm_runtime_new(lm_runtime **out)
{
	lm_runtime *rt;
	int rc;

	assert(out);
	*out = NULL;
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return lm_error_set(LM_ERROR, "out of memory");
	pthread_mutex_init(&rt->mu, NULL);
	pthread_rwlock_init(&rt->tab_lock, NULL);
	pthread_mutex_init(&rt->reap_mu, NULL);
	pthread_cond_init(&rt->reap_cv, NULL);
	pthread_cond_init(&rt->unsuspended, NULL);
	rt->brutal_timeout_ms = 5000;
	rc = lm__reaper_start(rt);
	if (rc < 0) {
		pthread_cond_destroy(&rt->unsuspended);
		pthread_cond_destroy(&rt->reap_cv);
		pthread_mutex_destroy(&rt->reap_mu);
		pthread_rwlock_destroy(&rt->tab_lock);
		pthread_mutex_destroy(&rt->mu);
		free(rt);
		return rc;
	}
	*out = rt;
	return 0;
}


/* Every version of `mod`, detached from the module, for unloading. */
static size_t module_take_versions(struct lm_module *mod,
				   struct lm_version **buf, size_t cap)
{
	size_t n = 0;

	pthread_mutex_lock(&mod->mu);
	if (mod->published && n < cap)
		buf[n++] = mod->published;
	mod->published = NULL;
	__atomic_store_n(&mod->hot->vtab, NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&mod->mu);
	if (mod->staged && n < cap) {
		lm__move_abort(mod->staged); /* the published one keeps it */
		buf[n++] = mod->staged;
	}
	mod->staged = NULL;
	while (mod->old && n < cap) {
		buf[n++] = mod->old;
		mod->old = mod->old->next;
	}
	return n;
}

void lm_runtime_free(lm_runtime *rt)
{
	size_t i;

	if (!rt)
		return;
	lm__assert_outside_call(__func__);
	lm__reaper_stop(rt);
	lm__rt_lock(rt);
	for (i = 0; i < rt->nmods; i++) {
		struct lm_module *mod = rt->mods[i];
		struct lm_version *v[64];
		size_t n, k;

		if (mod->nrefs)
			lm__warn(rt, "module %s: %zu export refs not freed "
				 "before lm_runtime_free", mod->name, mod->nrefs);
		while ((n = module_take_versions(mod, v, 64)) > 0) {
			for (k = 0; k < n; k++) {
				/* A pin left behind would point into code
				 * about to be unmapped. */
				assert(lm__version_pins(v[k]) == 0);
				v[k]->next = NULL;
			}
			lm__unload(rt, v, n);
		}
		lm__module_free(mod);
	}
	lm__rt_unlock(rt);
	free(rt->mods);
	pthread_cond_destroy(&rt->unsuspended);
	pthread_cond_destroy(&rt->reap_cv);
	pthread_mutex_destroy(&rt->reap_mu);
	pthread_rwlock_destroy(&rt->tab_lock);
	pthread_mutex_destroy(&rt->mu);
	free(rt);
}

void lm_runtime_set_brutal_timeout(lm_runtime *rt, unsigned ms)
{
	lm__rt_lock(rt);
	rt->brutal_timeout_ms = ms;
	lm__rt_unlock(rt);
}

void lm_runtime_on_brutal_purge(lm_runtime *rt, lm_brutal_purge_fn fn,
				void *ctx)
{
	lm__rt_lock(rt);
	rt->brutal_fn = fn;
	rt->brutal_ctx = ctx;
	lm__rt_unlock(rt);
}

void lm_runtime_on_warning(lm_runtime *rt, lm_warning_fn fn, void *ctx)
{
	lm__rt_lock(rt);
	rt->warn_fn = fn;
	rt->warn_ctx = ctx;
	lm__rt_unlock(rt);
}
