/*
 * purge.c - retiring old versions, OTP's soft_purge and brutal_purge, a
 * module's removal (unpublish, then purge every version), and the reaper
 * thread that unloads a retiring version once its last pin is gone (a pin
 * release must stay cheap for the task: it only wakes the reaper, which
 * waits out the grace period). Above pin.c and unmap.c, below swap.c.
 *
 * Pins can only leave an old version: it is not published, and pin
 * acquire reads the published pointer under mod->mu. So a count read
 * under mod->mu only decreases afterwards.
 */
#include "internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static lm_purge_mode effective_mode(const struct lm_module *mod,
				    lm_purge_mode mode)
{
	if (mode == LM_PURGE_DEFAULT && mod->published)
		mode = mod->published->desc->purge;
	return mode == LM_SOFT_PURGE ? LM_SOFT_PURGE : LM_BRUTAL_PURGE;
}

/* The first pinned old version, or NULL; caller holds mod->mu. */
static struct lm_version *first_pinned(const struct lm_module *mod)
{
	struct lm_version *v;

	for (v = mod->old; v; v = v->next)
		if (v->npins)
			return v;
	return NULL;
}

/* Moves the old versions that have no pins (all of them when `all`) to
 * `t`; marks the pinned ones retiring. Caller holds rt->mu and mod->mu.
 * Room is made first, so a failure changes nothing. */
static int take_old(struct lm_module *mod, bool all, struct lm__taken *t)
{
	struct lm_version **link = &mod->old, *v;
	size_t count = 0;

	for (v = mod->old; v; v = v->next)
		count++;
	if (t->n + count > t->cap) {
		size_t cap = t->n + count + 8;
		struct lm_version **arr = realloc(t->v, cap * sizeof(*arr));

		if (!arr)
			return lm_error_set(LM_ERROR, "out of memory");
		t->v = arr;
		t->cap = cap;
	}
	while ((v = *link) != NULL) {
		if (all || v->npins == 0) {
			assert(v->npins == 0);
			*link = v->next;
			v->next = NULL;
			t->v[t->n++] = v;
		} else {
			v->retiring = true;
			link = &v->next;
		}
	}
	return 0;
}

static int soft_purge(struct lm_module *mod, unsigned flags,
		      struct lm__taken *t)
{
	struct lm_version *v;
	int rc;

	pthread_mutex_lock(&mod->mu);
	v = first_pinned(mod);
	if (v && !(flags & LM_PURGE_DEFER)) {
		rc = lm_error_set(LM_EBUSY, "soft purge of %s: pins remain on "
				  "old version %s (%zu)", mod->name,
				  v->desc->vsn, v->npins);
		pthread_mutex_unlock(&mod->mu);
		return rc;
	}
	rc = take_old(mod, false, t);
	pthread_mutex_unlock(&mod->mu);
	return rc;
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Asks the host to end every task pinning an old version; mod->mu held,
 * which keeps each pin (and its task cookie) alive during the call. */
static void ask_host(lm_runtime *rt, struct lm_module *mod)
{
	struct lm_version *v;
	struct lm_pin *p;

	for (v = mod->old; v; v = v->next) {
		v->retiring = true;
		for (p = v->pins; p; p = p->next) {
			lm_pin_victim victim = { p, p->task, mod->name,
						 v->desc->vsn };

			rt->brutal_fn(rt->brutal_ctx, &victim);
		}
	}
}

static int brutal_purge(lm_runtime *rt, struct lm_module *mod,
			struct lm__taken *t)
{
	struct lm_version *v;
	struct timespec deadline;
	int rc = 0;

	pthread_mutex_lock(&mod->mu);
	v = first_pinned(mod);
	if (v && !rt->brutal_fn) {
		rc = lm_error_set(LM_EBUSY, "brutal purge of %s: old version %s "
				  "has %zu pins and no brutal-purge callback "
				  "is registered", mod->name, v->desc->vsn,
				  v->npins);
		pthread_mutex_unlock(&mod->mu);
		return rc;
	}
	if (v) {
		ask_host(rt, mod);
		deadline_in(&deadline, rt->brutal_timeout_ms);
		while ((v = first_pinned(mod)) != NULL && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&mod->pins_moved, &mod->mu,
						    &deadline);
		if (v) {
			/* Stays retiring: the reaper takes it when the
			 * stragglers let go. */
			rc = lm_error_set(LM_EBUSY, "brutal purge of %s: %zu "
					  "pins still on old version %s after "
					  "%u ms; it is unloaded when they go",
					  mod->name, v->npins, v->desc->vsn,
					  rt->brutal_timeout_ms);
			pthread_mutex_unlock(&mod->mu);
			return rc;
		}
	}
	rc = take_old(mod, true, t);
	pthread_mutex_unlock(&mod->mu);
	return rc;
}

/* LM_PURGE_REAP: every old version retiring, none taken; the reaper
 * unloads each once it has no pin (a brutal purge asks the host to end
 * the pinning tasks first). Caller holds rt->mu. */
static int retire_all(lm_runtime *rt, struct lm_module *mod,
		      lm_purge_mode mode)
{
	struct lm_version *v;
	int rc = 0;

	pthread_mutex_lock(&mod->mu);
	v = first_pinned(mod);
	if (v && mode == LM_BRUTAL_PURGE && !rt->brutal_fn)
		rc = lm_error_set(LM_EBUSY, "brutal purge of %s: old version %s "
				  "has %zu pins and no brutal-purge callback "
				  "is registered", mod->name, v->desc->vsn,
				  v->npins);
	else if (v && mode == LM_BRUTAL_PURGE)
		ask_host(rt, mod);
	if (rc == 0)
		for (v = mod->old; v; v = v->next)
			v->retiring = true;
	pthread_mutex_unlock(&mod->mu);
	return rc;
}

int lm__purge_take(lm_runtime *rt, struct lm_module *mod, lm_purge_mode mode,
		   unsigned flags, struct lm__taken *t)
{
	if (!mod->old)
		return 0;
	if (flags & LM_PURGE_REAP)
		return retire_all(rt, mod, effective_mode(mod, mode));
	if (effective_mode(mod, mode) == LM_SOFT_PURGE)
		return soft_purge(mod, flags, t);
	return brutal_purge(rt, mod, t);
}

void lm__taken_unload(lm_runtime *rt, struct lm__taken *t)
{
	lm__unload(rt, t->v, t->n);
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}

int lm__purge_locked(lm_runtime *rt, struct lm_module *mod,
		     lm_purge_mode mode, unsigned flags)
{
	struct lm__taken t = { 0 };
	int rc = lm__purge_take(rt, mod, mode, flags, &t);

	lm__taken_unload(rt, &t);
	return rc;
}

int lm_runtime_purge(lm_runtime *rt, const char *module, lm_purge_mode mode,
		     unsigned flags)
{
	struct lm_module *mod;
	int rc;

	lm__assert_outside_call(__func__);
	lm__rt_lock(rt);
	rc = lm__module_need(&mod, rt, module);
	if (rc == 0)
		rc = lm__purge_locked(rt, mod, mode, flags);
	lm__rt_unlock(rt);
	return rc;
}

/* ---- removal: unpublish, then purge every version ---------------------- */

/* Why `mod` cannot be removed with `mode` now, as an error; 0 when it can.
 * The one rule for the check (lm_runtime_check_remove) and the removal
 * itself, so that a check that passed predicts the removal. */
static int remove_refusal(lm_runtime *rt, struct lm_module *mod,
			  lm_purge_mode mode, unsigned flags)
{
	struct lm_version *v;

	if (mod->nrefs)
		return lm_error_set(LM_EBUSY, "module %s: the host holds %zu "
				    "export refs into it; free them first",
				    mod->name, mod->nrefs);
	if (mod->staged || mod->suspended)
		return lm_error_set(LM_EBUSY, "module %s is %s", mod->name,
				    mod->staged ? "being upgraded (staged)" :
						  "suspended");
	if (mode == LM_SOFT_PURGE &&
	    !(flags & (LM_PURGE_DEFER | LM_PURGE_REAP))) {
		/* The soft check must fail before anything changes. */
		for (v = mod->published; v; v = v == mod->published ? mod->old :
							       v->next)
			if (lm__version_pins(v))
				return lm_error_set(LM_EBUSY, "module %s: pins "
						    "remain on version %s",
						    mod->name, v->desc->vsn);
	}
	if (mode != LM_SOFT_PURGE && !rt->brutal_fn &&
	    lm__version_pins(mod->published))
		return lm_error_set(LM_EBUSY, "module %s: pins remain on %s "
				    "and no brutal-purge callback is "
				    "registered", mod->name,
				    mod->published->desc->vsn);
	return 0;
}

int lm_runtime_check_remove(lm_runtime *rt, const char *module,
			    lm_purge_mode mode)
{
	struct lm_module *mod;
	int rc;

	lm__rt_lock(rt);
	if ((rc = lm__module_loaded(&mod, rt, module)) == 0)
		rc = remove_refusal(rt, mod, mode, 0);
	lm__rt_unlock(rt);
	return rc;
}

int lm__remove_take(lm_runtime *rt, const char *module, lm_purge_mode mode,
		    unsigned flags, struct lm__taken *t)
{
	struct lm_version *cur, **tail;
	struct lm_module *mod;
	int rc = lm__module_loaded(&mod, rt, module);

	if (rc < 0 || (rc = remove_refusal(rt, mod, mode, flags)) < 0)
		return rc;
	pthread_mutex_lock(&mod->mu);
	cur = mod->published;
	mod->published = NULL;
	cur->stage = LM_V_OLD;
	__atomic_store_n(&mod->hot->vtab, NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&mod->mu);
	for (tail = &mod->old; *tail; tail = &(*tail)->next)
		;
	cur->next = NULL;
	*tail = cur;
	return lm__purge_take(rt, mod, mode, flags, t);
}

static int remove_locked(lm_runtime *rt, const char *module,
			 lm_purge_mode mode, unsigned flags)
{
	struct lm__taken t = { 0 };
	int rc = lm__remove_take(rt, module, mode, flags, &t);

	lm__taken_unload(rt, &t);
	return rc;
}

int lm_runtime_remove(lm_runtime *rt, const char *module, lm_purge_mode mode,
		      unsigned flags)
{
	int rc;

	WITH_RT(rt, rc = remove_locked(rt, module, mode, flags));
	return rc;
}

int lm_runtime_purge_batch(lm_runtime *rt, lm_purge_op *ops, size_t n)
{
	struct lm__taken t = { 0 };
	struct lm_module *mod;
	size_t i;
	int first = 0;

	lm__assert_outside_call(__func__);
	lm__rt_lock(rt);
	for (i = 0; i < n; i++) {
		lm_purge_op *op = &ops[i];

		op->rc = op->remove
			? lm__remove_take(rt, op->module, op->mode, op->flags, &t)
			: lm__module_need(&mod, rt, op->module);
		if (!op->remove && op->rc == 0)
			op->rc = lm__purge_take(rt, mod, op->mode, op->flags,
						&t);
		op->error[0] = '\0';
		if (op->rc < 0) {
			snprintf(op->error, sizeof(op->error), "%s",
				 lm_error_last());
			if (!first)
				first = op->rc;
		}
	}
	/* Versions taken by an op that failed later (a brutal purge that
	 * timed out keeps its pinned versions, not these) are unreachable
	 * all the same: unload everything taken. */
	lm__taken_unload(rt, &t);
	lm__rt_unlock(rt);
	if (first)
		for (i = 0; i < n; i++)
			if (ops[i].rc == first) {
				lm_error_set(first, "%s", ops[i].error);
				break;
			}
	return first;
}

int lm_runtime_check_purge(lm_runtime *rt, const char *module,
			   lm_purge_mode mode)
{
	struct lm_module *mod;
	struct lm_version *v;
	int rc;

	lm__rt_lock(rt);
	rc = lm__module_need(&mod, rt, module);
	if (rc == 0) {
		bool soft = effective_mode(mod, mode) == LM_SOFT_PURGE;

		pthread_mutex_lock(&mod->mu);
		v = first_pinned(mod);
		if (v && (soft || !rt->brutal_fn))
			rc = lm_error_set(LM_EBUSY, "%s purge of %s: pins remain "
					  "on old version %s (%zu)%s",
					  soft ? "soft" : "brutal", mod->name,
					  v->desc->vsn, v->npins,
					  soft ? "" : " and no brutal-purge "
						      "callback is registered");
		pthread_mutex_unlock(&mod->mu);
	}
	lm__rt_unlock(rt);
	return rc;
}

/* ---- the reaper ------------------------------------------------------ */

/* Moves the retiring versions of `mod` whose last pin is gone to `t`.
 * Caller holds rt->mu. */
static int take_retired(struct lm_module *mod, struct lm__taken *t)
{
	struct lm_version **link, *v;
	size_t count = 0;
	int rc = 0;

	pthread_mutex_lock(&mod->mu);
	for (v = mod->old; v; v = v->next)
		count += v->retiring && v->npins == 0;
	if (count && t->n + count > t->cap) {
		size_t cap = t->n + count + 8;
		struct lm_version **arr = realloc(t->v, cap * sizeof(*arr));

		if (arr) {
			t->v = arr;
			t->cap = cap;
		} else {
			/* They stay retiring: the next kick retries. */
			rc = lm_error_set(LM_ERROR, "out of memory");
			count = 0;
		}
	}
	for (link = &mod->old; count && (v = *link) != NULL;) {
		if (v->retiring && v->npins == 0) {
			*link = v->next;
			v->next = NULL;
			t->v[t->n++] = v;
			count--;
		} else {
			link = &v->next;
		}
	}
	pthread_mutex_unlock(&mod->mu);
	return rc;
}

static bool reaper_stopping(lm_runtime *rt)
{
	bool stop;

	pthread_mutex_lock(&rt->reap_mu);
	stop = rt->reap_stop;
	pthread_mutex_unlock(&rt->reap_mu);
	return stop;
}

/* Every retired version of every module, unloaded together, between
 * suspensions (rt->nsuspended); told to the lm_runtime_on_reaped
 * callback. */
static void reap(lm_runtime *rt)
{
	struct lm__taken t = { 0 };
	lm_reaped_fn fn;
	void *ctx;
	size_t i, n;
	long t0 = lm__mono_ns();

	lm__rt_lock(rt);
	while (rt->nsuspended && !reaper_stopping(rt))
		pthread_cond_wait(&rt->unsuspended, &rt->mu);
	for (i = 0; i < rt->nmods; i++)
		(void)take_retired(rt->mods[i], &t);
	n = t.n;
	lm__taken_unload(rt, &t);
	fn = rt->reaped_fn;
	ctx = rt->reaped_ctx;
	lm__rt_unlock(rt);
	if (n && fn)
		fn(ctx, n, (lm__mono_ns() - t0) / 1000);
}

void lm_runtime_reap(lm_runtime *rt)
{
	assert(rt);
	lm__reaper_kick(rt);
}

void lm_runtime_on_reaped(lm_runtime *rt, lm_reaped_fn fn, void *ctx)
{
	lm__rt_lock(rt);
	rt->reaped_fn = fn;
	rt->reaped_ctx = ctx;
	lm__rt_unlock(rt);
}

static void *reaper_main(void *arg)
{
	lm_runtime *rt = arg;

	/* terminate callbacks it runs may use call_rcu, which wants a
	 * registered thread. */
	urcu_memb_register_thread();
	pthread_mutex_lock(&rt->reap_mu);
	for (;;) {
		while (!rt->reap_pending && !rt->reap_stop)
			pthread_cond_wait(&rt->reap_cv, &rt->reap_mu);
		if (rt->reap_stop)
			break;
		rt->reap_pending = false;
		pthread_mutex_unlock(&rt->reap_mu);
		reap(rt);
		pthread_mutex_lock(&rt->reap_mu);
	}
	pthread_mutex_unlock(&rt->reap_mu);
	urcu_memb_unregister_thread();
	return NULL;
}

int lm__reaper_start(lm_runtime *rt)
{
	int err = pthread_create(&rt->reaper, NULL, reaper_main, rt);

	if (err)
		return lm_error_set(LM_ERROR, "cannot start the reaper thread: "
				    "error %d", err);
	return 0;
}

void lm__reaper_stop(lm_runtime *rt)
{
	pthread_mutex_lock(&rt->reap_mu);
	rt->reap_stop = true;
	pthread_cond_signal(&rt->reap_cv);
	pthread_mutex_unlock(&rt->reap_mu);
	/* a reaper waiting for a suspension to end stops waiting */
	pthread_mutex_lock(&rt->mu);
	pthread_cond_broadcast(&rt->unsuspended);
	pthread_mutex_unlock(&rt->mu);
	pthread_join(rt->reaper, NULL);
}

