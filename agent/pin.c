/*
 * pin.c - pins: a long-lived task's hold on one version of a module.
 *
 * A pin is counted on its version under the module's pin lock (tasks are
 * long-lived, so this shared write is cheap per call made). The pin's
 * function table pointer is read by LM_PIN_CALL without a lock: only the
 * pin's own thread changes it, in lm_pin_refresh.
 */
#include "internal.h"

#include <assert.h>
#include <stdlib.h>

/* Caller holds mod->mu. */
static void pin_link(struct lm_pin *p, struct lm_version *v)
{
	p->ver = v;
	p->head.vtab = v->vtab;
	p->prev = NULL;
	p->next = v->pins;
	if (v->pins)
		v->pins->prev = p;
	v->pins = p;
	v->npins++;
}

/* Caller holds mod->mu. Wakes a brutal purge waiting on this version, and
 * the reaper when this was the last pin of a retiring one. */
static void pin_unlink(struct lm_pin *p)
{
	struct lm_version *v = p->ver;

	assert(v->npins > 0);
	if (p->prev)
		p->prev->next = p->next;
	else
		v->pins = p->next;
	if (p->next)
		p->next->prev = p->prev;
	v->npins--;
	p->ver = NULL;
	if (v->stage == LM_V_OLD) {
		pthread_cond_broadcast(&p->mod->pins_moved);
		if (v->npins == 0 && v->retiring)
			lm__reaper_kick(p->mod->rt);
	}
}

int lm_pin_acquire(lm_pin **out, lm_runtime *rt, const char *module,
		   void *task)
{
	struct lm_module *mod;
	struct lm_pin *p;
	int rc = 0;

	assert(out && rt);
	*out = NULL;
	mod = module ? lm__module_find(rt, module) : NULL;
	if (!mod)
		return lm_error_set(LM_ENOTFOUND, "unknown module '%s'",
				    module ? module : "(null)");
	p = calloc(1, sizeof(*p));
	if (!p)
		return lm_error_set(LM_ERROR, "out of memory");
	p->mod = mod;
	p->task = task;
	p->head.hot = mod->hot;
	pthread_mutex_lock(&mod->mu);
	if (mod->published)
		pin_link(p, mod->published);
	else
		rc = lm_error_set(LM_ENOTFOUND, "module %s has no published "
				  "version", module);
	pthread_mutex_unlock(&mod->mu);
	if (rc < 0) {
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int lm_pin_refresh(lm_pin *p)
{
	struct lm_module *mod;
	int moved = 0;

	assert(p);
	mod = p->mod;

	pthread_mutex_lock(&mod->mu);
	if (mod->published && mod->published != p->ver) {
		pin_unlink(p);
		pin_link(p, mod->published);
		moved = 1;
	}
	pthread_mutex_unlock(&mod->mu);
	return moved;
}

void lm_pin_release(lm_pin *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mod->mu);
	pin_unlink(p);
	pthread_mutex_unlock(&p->mod->mu);
	free(p);
}

const char *lm_pin_vsn(const lm_pin *p)
{
	assert(p && p->ver);
	/* Only the pin's own thread moves it, so no lock is needed to read
	 * its version from that thread. */
	return p->ver->desc->vsn;
}

size_t lm__version_pins(struct lm_version *v)
{
	size_t n;

	if (!v->mod)
		return 0;
	pthread_mutex_lock(&v->mod->mu);
	n = v->npins;
	pthread_mutex_unlock(&v->mod->mu);
	return n;
}
