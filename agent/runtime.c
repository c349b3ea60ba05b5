/*
 * runtime.c - the runtime registry: creation and teardown, the module
 * table, host callbacks, warnings, and the grace-period helper every
 * writer path uses.
 */
#include "internal.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lm_runtime_new(lm_runtime **out)
{
	lm_runtime *rt = calloc(1, sizeof(*rt));
	int rc;

	*out = NULL;
	if (!rt)
		return lm_error_set(LM_ERROR, "out of memory");
	pthread_mutex_init(&rt->mu, NULL);
	pthread_rwlock_init(&rt->tab_lock, NULL);
	pthread_mutex_init(&rt->reap_mu, NULL);
	pthread_cond_init(&rt->reap_cv, NULL);
	rt->brutal_timeout_ms = 5000;
	rc = lm__reaper_start(rt);
	if (rc < 0) {
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

static void module_free(struct lm_module *mod)
{
	unsigned i;

	for (i = 0; i < mod->nslots; i++) {
		free(mod->slots[i].name);
		free(mod->slots[i].sig);
	}
	pthread_cond_destroy(&mod->pins_moved);
	pthread_cond_destroy(&mod->resumed);
	pthread_mutex_destroy(&mod->mu);
	free(mod->hot);
	free(mod->name);
	free(mod);
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
	if (mod->staged && n < cap)
		buf[n++] = mod->staged;
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
		module_free(mod);
	}
	lm__rt_unlock(rt);
	free(rt->mods);
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

/* Caller holds rt->mu (the callback fields are written under it). */
void lm__warn(lm_runtime *rt, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rt->warn_fn)
		rt->warn_fn(rt->warn_ctx, msg);
	else
		fprintf(stderr, "livemod: warning: %s\n", msg);
}

struct lm_module *lm__module_find(lm_runtime *rt, const char *name)
{
	struct lm_module *found = NULL;
	size_t i;

	pthread_rwlock_rdlock(&rt->tab_lock);
	for (i = 0; i < rt->nmods && !found; i++)
		if (strcmp(rt->mods[i]->name, name) == 0)
			found = rt->mods[i];
	pthread_rwlock_unlock(&rt->tab_lock);
	return found;
}

/* The module named `name`, which must exist; caller holds rt->mu. */
int lm__module_need(struct lm_module **out, lm_runtime *rt, const char *name)
{
	*out = name ? lm__module_find(rt, name) : NULL;
	if (!*out)
		return lm_error_set(LM_ENOTFOUND, "unknown module '%s'",
				    name ? name : "(null)");
	return 0;
}

/* The module named `name`, which must exist and have a published
 * version; caller holds rt->mu. */
int lm__module_loaded(struct lm_module **out, lm_runtime *rt,
		      const char *name)
{
	int rc = lm__module_need(out, rt, name);

	if (rc == 0 && !(*out)->published)
		rc = lm_error_set(LM_ENOTFOUND, "module %s is not loaded",
				  name);
	return rc;
}

/* Finds or adds the module named `name`; caller holds rt->mu. */
int lm__module_get(struct lm_module **out, lm_runtime *rt, const char *name)
{
	struct lm_module *mod = lm__module_find(rt, name);

	*out = mod;
	if (mod)
		return 0;
	mod = calloc(1, sizeof(*mod));
	if (!mod)
		return lm_error_set(LM_ERROR, "out of memory");
	mod->hot = aligned_alloc(64, sizeof(*mod->hot));
	mod->name = strdup(name);
	if (!mod->hot || !mod->name) {
		free(mod->hot);
		free(mod->name);
		free(mod);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	memset(mod->hot, 0, sizeof(*mod->hot));
	mod->hot->mod = mod;
	mod->rt = rt;
	pthread_mutex_init(&mod->mu, NULL);
	pthread_cond_init(&mod->resumed, NULL);
	pthread_cond_init(&mod->pins_moved, NULL);

	pthread_rwlock_wrlock(&rt->tab_lock);
	if (rt->nmods == rt->cap) {
		size_t cap = rt->cap ? 2 * rt->cap : 8;
		struct lm_module **m = realloc(rt->mods, cap * sizeof(*m));

		if (!m) {
			pthread_rwlock_unlock(&rt->tab_lock);
			module_free(mod);
			return lm_error_set(LM_ERROR, "out of memory");
		}
		rt->mods = m;
		rt->cap = cap;
	}
	rt->mods[rt->nmods++] = mod;
	pthread_rwlock_unlock(&rt->tab_lock);
	*out = mod;
	return 0;
}

