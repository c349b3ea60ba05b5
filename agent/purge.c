/*
 * purge.c - retiring old versions, OTP's soft_purge and brutal_purge, and
 * the reaper thread that unloads a retiring version once its last pin is
 * gone (a pin release must stay cheap for the task: it only wakes the
 * reaper, which waits out the grace period).
 *
 * Pins can only leave an old version: it is not published, and pin
 * acquire reads the published pointer under mod->mu. So a count read
 * under mod->mu only decreases afterwards.
 */
#include "internal.h"

#include <assert.h>
#include <errno.h>
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

/* Moves the old versions that have no pins (all of them when `all`) to a
 * new array; marks the pinned ones retiring. Caller holds rt->mu and
 * mod->mu. */
static int take_old(struct lm_module *mod, bool all,
		    struct lm_version ***out, size_t *n)
{
	struct lm_version **link = &mod->old, *v, **arr;
	size_t cap = 0;

	for (v = mod->old; v; v = v->next)
		cap++;
	*n = 0;
	*out = arr = calloc(cap ? cap : 1, sizeof(*arr));
	if (!arr)
		return lm_error_set(LM_ERROR, "out of memory");
	while ((v = *link) != NULL) {
		if (all || v->npins == 0) {
			assert(v->npins == 0);
			*link = v->next;
			v->next = NULL;
			arr[(*n)++] = v;
		} else {
			v->retiring = true;
			link = &v->next;
		}
	}
	return 0;
}

static int unload_taken(lm_runtime *rt, struct lm_version **arr, size_t n,
			int rc)
{
	lm__unload(rt, arr, n);
	free(arr);
	return rc;
}

static int soft_purge(lm_runtime *rt, struct lm_module *mod, unsigned flags)
{
	struct lm_version *v, **arr;
	size_t n;
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
	rc = take_old(mod, false, &arr, &n);
	pthread_mutex_unlock(&mod->mu);
	return rc < 0 ? rc : unload_taken(rt, arr, n, 0);
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

static int brutal_purge(lm_runtime *rt, struct lm_module *mod)
{
	struct lm_version *v, **arr;
	struct timespec deadline;
	size_t n;
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
	rc = take_old(mod, true, &arr, &n);
	pthread_mutex_unlock(&mod->mu);
	return rc < 0 ? rc : unload_taken(rt, arr, n, 0);
}

int lm__purge_locked(lm_runtime *rt, struct lm_module *mod,
		     lm_purge_mode mode, unsigned flags)
{
	if (!mod->old)
		return 0;
	if (effective_mode(mod, mode) == LM_SOFT_PURGE)
		return soft_purge(rt, mod, flags);
	return brutal_purge(rt, mod);
}

int lm_runtime_purge(lm_runtime *rt, const char *module, lm_purge_mode mode,
		     unsigned flags)
{
	struct lm_module *mod;
	int rc;

	lm__assert_outside_call(__func__);
	pthread_mutex_lock(&rt->mu);
	rc = lm__module_need(&mod, rt, module);
	if (rc == 0)
		rc = lm__purge_locked(rt, mod, mode, flags);
	pthread_mutex_unlock(&rt->mu);
	return rc;
}

int lm_runtime_check_purge(lm_runtime *rt, const char *module,
			   lm_purge_mode mode)
{
	struct lm_module *mod;
	struct lm_version *v;
	int rc;

	pthread_mutex_lock(&rt->mu);
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
	pthread_mutex_unlock(&rt->mu);
	return rc;
}

/* ---- the reaper ------------------------------------------------------ */

static void reap(lm_runtime *rt)
{
	size_t i, n;

	pthread_mutex_lock(&rt->mu);
	for (i = 0; i < rt->nmods; i++) {
		struct lm_module *mod = rt->mods[i];
		struct lm_version **link = &mod->old, *v;
		struct lm_version *batch[16];

		n = 0;
		pthread_mutex_lock(&mod->mu);
		while ((v = *link) != NULL && n < 16) {
			if (v->retiring && v->npins == 0) {
				*link = v->next;
				v->next = NULL;
				batch[n++] = v;
			} else {
				link = &v->next;
			}
		}
		pthread_mutex_unlock(&mod->mu);
		lm__unload(rt, batch, n);
		if (n == 16)
			i--; /* more of this module may be waiting */
	}
	pthread_mutex_unlock(&rt->mu);
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
	pthread_join(rt->reaper, NULL);
}

/* Caller may hold mod->mu: reap_mu comes last in the lock order. */
void lm__reaper_kick(lm_runtime *rt)
{
	pthread_mutex_lock(&rt->reap_mu);
	rt->reap_pending = true;
	pthread_cond_signal(&rt->reap_cv);
	pthread_mutex_unlock(&rt->reap_mu);
}
