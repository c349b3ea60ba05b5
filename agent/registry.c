/*
 * registry.c - the bottom of the agent: the module table (modules are
 * added, never freed before the runtime), warnings, and the reaper's
 * wake-up. Everything above finds modules here; nothing here calls up.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lm__module_free(struct lm_module *mod)
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
			lm__module_free(mod);
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

/* Caller may hold mod->mu: reap_mu comes last in the lock order. */
void lm__reaper_kick(lm_runtime *rt)
{
	pthread_mutex_lock(&rt->reap_mu);
	rt->reap_pending = true;
	pthread_cond_signal(&rt->reap_cv);
	pthread_mutex_unlock(&rt->reap_mu);
}
