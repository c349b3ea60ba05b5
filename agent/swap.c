/*
 * swap.c - the swap primitives the plan interpreter drives: stage,
 * unstage, suspend, resume, code_change, init, publish, load, remove.
 *
 * Everything before publish is reversible: a staged version is invisible
 * to calls and pins, and state a failing init/code_change leaves behind
 * belongs to the staged version only. Publish is one release store of the
 * module's function-table pointer (rcu_assign_pointer's semantics, spelt
 * with compiler atomics so TSan sees it).
 */
#include "internal.h"
#include "runtime_node.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Runs `body` with rt->mu held; each primitive is one such section. */

static int need_staged(struct lm_version **out, lm_runtime *rt,
		       const char *module)
{
	struct lm_module *mod;
	int rc = lm__module_need(&mod, rt, module);

	if (rc < 0)
		return rc;
	*out = mod->staged;
	if (!*out)
		return lm_error_set(LM_EINVAL, "module %s has no staged version",
				    module);
	return 0;
}

static int stage_locked(struct lm_module **out, lm_runtime *rt,
			const char *path, const char *oid,
			const lm_descriptor *expected)
{
	struct lm_version *v;
	struct lm_module *mod;
	int rc = lm__version_open(&v, rt, path, oid, expected);

	if (rc < 0)
		return rc;
	rc = lm__module_get(&mod, rt, v->desc->name);
	if (rc == 0 && mod->staged)
		rc = lm_error_set(LM_EBUSY, "%s: module %s already has a staged "
				  "version (%s)", path, mod->name,
				  mod->staged->desc->vsn);
	if (rc == 0) {
		v->mod = mod;
		rc = lm__version_bind(mod, v);
	}
	if (rc < 0) {
		lm__version_discard(v);
		return rc;
	}
	if (v->elf & (LM_ELF_GNU_UNIQUE | LM_ELF_NODELETE)) {
		char why[512];

		lm__warn(rt, "module %s %s (%s) can never be unmapped: %s",
			 mod->name, v->desc->vsn, v->path,
			 lm__elf_reasons(v->elf & ~LM_ELF_TLS, why, sizeof(why)));
	}
	mod->staged = v;
	*out = mod;
	return 0;
}

int lm__runtime_stage_desc(lm_runtime *rt, const char *path, const char *oid,
			   const lm_descriptor *expected)
{
	struct lm_module *mod;
	int rc;

	WITH_RT(rt, rc = stage_locked(&mod, rt, path, oid, expected));
	return rc;
}

int lm_runtime_stage(lm_runtime *rt, const char *path, const char *oid,
		     const char *expected_json)
{
	lm_descriptor *expected = NULL;
	cJSON *json;
	int rc;

	assert(rt && path);
	if (!expected_json)
		return lm__runtime_stage_desc(rt, path, oid, NULL);
	if (!(json = cJSON_Parse(expected_json)))
		return lm_error_set(LM_EINVAL, "%s: expected descriptor: "
				    "not JSON", path);
	rc = lm_descriptor_from_json(&expected, json, "expected descriptor");
	cJSON_Delete(json);
	if (rc == 0)
		rc = lm__runtime_stage_desc(rt, path, oid, expected);
	lm_descriptor_free(expected);
	return rc;
}

static int unstage_locked(lm_runtime *rt, const char *module)
{
	struct lm_version *v;
	int rc = need_staged(&v, rt, module);

	if (rc < 0)
		return rc;
	v->mod->staged = NULL;
	lm__close_unpublished(rt, v);
	return 0;
}

int lm_runtime_unstage(lm_runtime *rt, const char *module)
{
	int rc;

	WITH_RT(rt, rc = unstage_locked(rt, module));
	return rc;
}

/* Marks `module` suspended: new calls see no table and wait. The caller
 * waits out the in-flight ones (a grace period) before touching state. */
static int suspend_mark(lm_runtime *rt, const char *module)
{
	struct lm_module *mod;
	int rc = lm__module_need(&mod, rt, module);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&mod->mu);
	if (!mod->published)
		rc = lm_error_set(LM_EINVAL, "module %s has no published "
				  "version to suspend", module);
	else if (mod->suspended)
		rc = lm_error_set(LM_EBUSY, "module %s is already suspended",
				  module);
	else {
		mod->suspended = true;
		rt->nsuspended++;
		__atomic_store_n(&mod->hold_max_ns, 0, __ATOMIC_RELAXED);
		/* New calls see NULL, after their read lock, and wait. */
		__atomic_store_n(&mod->hot->vtab, NULL, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&mod->mu);
	return rc;
}

static int resume_locked(lm_runtime *rt, const char *module);

static int suspend_many_locked(lm_runtime *rt, const char *const *modules,
			       size_t n)
{
	size_t i;
	int rc = 0;

	if (n)
		lm__drain_ready(); /* before the door closes: see internal.h */
	for (i = 0; i < n && rc == 0; i++)
		rc = suspend_mark(rt, modules[i]);
	if (rc < 0) {
		char *msg = strdup(lm_error_last());
		size_t marked = i - 1; /* modules[i - 1] failed */

		/* Nothing waited yet: the ones marked are simply let go. */
		while (marked-- > 0)
			resume_locked(rt, modules[marked]);
		lm_error_set(rc, "%s", msg ? msg : "out of memory");
		free(msg);
		return rc;
	}
	if (n)
		lm__drain(); /* the in-flight calls of all */
	return 0;
}

int lm_runtime_suspend(lm_runtime *rt, const char *module)
{
	int rc;

	WITH_RT(rt, rc = suspend_many_locked(rt, &module, 1));
	return rc;
}

int lm_runtime_suspend_many(lm_runtime *rt, const char *const *modules,
			    size_t n)
{
	int rc;

	assert(modules || n == 0);
	WITH_RT(rt, rc = suspend_many_locked(rt, modules, n));
	return rc;
}

static int resume_locked(lm_runtime *rt, const char *module)
{
	struct lm_module *mod;
	int rc = lm__module_need(&mod, rt, module);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&mod->mu);
	if (!mod->suspended) {
		rc = lm_error_set(LM_EINVAL, "module %s is not suspended",
				  module);
	} else {
		assert(mod->published);
		mod->suspended = false;
		assert(rt->nsuspended > 0);
		if (--rt->nsuspended == 0)
			pthread_cond_broadcast(&rt->unsuspended);
		__atomic_store_n(&mod->hot->vtab, mod->published->vtab,
				 __ATOMIC_RELEASE);
		pthread_cond_broadcast(&mod->resumed);
	}
	pthread_mutex_unlock(&mod->mu);
	return rc;
}

int lm_runtime_resume(lm_runtime *rt, const char *module)
{
	int rc;

	WITH_RT(rt, rc = resume_locked(rt, module));
	return rc;
}

static int callback_failed(const struct lm_version *v, const char *what,
			   int ret)
{
	return lm_error_set(LM_EEVAL, "module %s %s: %s returned %d", v->mod->name,
			    v->desc->vsn, what, ret);
}

/* Staged version `v` holds `state`, which `mover`'s code_change made
 * from `from` by moving (NULL mover: a copy, or nothing moved): until the
 * publish commits it or the unstage aborts it. */
static void hold_state(struct lm_version *v, void *state,
		       struct lm_version *mover, lm_change_mode mode,
		       void *from)
{
	v->state = state;
	v->has_state = true;
	v->mover = mover;
	v->move_mode = mode;
	v->move_from = from;
}

/* A version handed a state it did not make (the result of a LM_DOWN
 * code_change, or the current state on a plain load) knows nothing of it
 * in its statics yet: its init adopts it, called with *state preset.
 * `mover` (may be NULL) moved `state` out of cur's with LM_DOWN: a
 * refusing init gives it back through change_abort. */
static int adopt(struct lm_version *v, struct lm_version *cur, void *state,
		 struct lm_version *mover)
{
	void *s = state;
	int ret;

	if (v->raw->init) {
		ret = v->raw->init(&s);
		if (ret != 0) {
			if (mover)
				mover->raw->change_abort(LM_DOWN, cur->state,
							 state);
			else if (v->raw->terminate && state != cur->state)
				v->raw->terminate(state);
			return callback_failed(v, "init (adopting a state)", ret);
		}
	}
	hold_state(v, s, mover, LM_DOWN, cur->state);
	return 0;
}

/* A code_change of `v` (mode, from `old`) returned `ret`, non-zero: what
 * it moved into *new_state, when it set one, goes back now. */
static int change_failed(struct lm_version *v, lm_change_mode mode,
			 void *old, void *ns, int ret)
{
	if (ns && lm__moves_state(v))
		v->raw->change_abort(mode, old, ns);
	return callback_failed(v, mode == LM_UP ? "code_change (up)" :
				  "code_change (down)", ret);
}

static int code_change_locked(lm_runtime *rt, const char *module,
			      lm_change_mode mode, const char *extra)
{
	struct lm_version *staged, *cur;
	void *ns = NULL;
	int rc = need_staged(&staged, rt, module), ret;

	if (rc < 0)
		return rc;
	cur = staged->mod->published;
	if (!cur)
		return lm_error_set(LM_EINVAL, "module %s has no published "
				    "version to change code from", module);
	if (staged->has_state)
		return lm_error_set(LM_EINVAL, "module %s %s already has its "
				    "state", module, staged->desc->vsn);
	if (!extra)
		extra = "";
	if (mode == LM_UP) {
		if (!staged->raw->code_change)
			return lm_error_set(LM_EINVAL, "module %s %s has no "
					    "code_change", module,
					    staged->desc->vsn);
		ret = staged->raw->code_change(LM_UP, cur->desc->vsn,
					       cur->state, extra, &ns);
		if (ret != 0)
			return change_failed(staged, LM_UP, cur->state, ns, ret);
		hold_state(staged, ns,
			   lm__moves_state(staged) ? staged : NULL, LM_UP,
			   cur->state);
		return 0;
	}
	if (!cur->raw->code_change)
		return lm_error_set(LM_EINVAL, "module %s %s has no code_change",
				    module, cur->desc->vsn);
	ret = cur->raw->code_change(LM_DOWN, staged->desc->vsn, cur->state,
				    extra, &ns);
	if (ret != 0)
		return change_failed(cur, LM_DOWN, cur->state, ns, ret);
	return adopt(staged, cur, ns, lm__moves_state(cur) ? cur : NULL);
}

int lm_runtime_code_change(lm_runtime *rt, const char *module,
			   lm_change_mode mode, const char *extra)
{
	int rc;

	if (mode != LM_UP && mode != LM_DOWN)
		return lm_error_set(LM_EINVAL, "code_change: bad mode %d",
				    (int)mode);
	WITH_RT(rt, rc = code_change_locked(rt, module, mode, extra));
	return rc;
}

static int init_locked(lm_runtime *rt, const char *module)
{
	struct lm_version *staged;
	void *s = NULL;
	int rc = need_staged(&staged, rt, module), ret;

	if (rc < 0)
		return rc;
	if (staged->mod->published)
		return lm_error_set(LM_EINVAL, "module %s already has a "
				    "published version: use code_change",
				    module);
	if (staged->has_state)
		return lm_error_set(LM_EINVAL, "module %s %s already has its "
				    "state", module, staged->desc->vsn);
	if (staged->raw->init) {
		ret = staged->raw->init(&s);
		if (ret != 0)
			return callback_failed(staged, "init", ret);
	}
	hold_state(staged, s, NULL, LM_UP, NULL);
	return 0;
}

int lm_runtime_init_module(lm_runtime *rt, const char *module)
{
	int rc;

	WITH_RT(rt, rc = init_locked(rt, module));
	return rc;
}

static int adopt_locked(lm_runtime *rt, const char *module)
{
	struct lm_version *s, *cur;
	int rc = need_staged(&s, rt, module);

	if (rc < 0)
		return rc;
	cur = s->mod->published;
	if (s->has_state || !cur || !cur->has_state)
		return 0; /* code_change or init made its state, or none */
	return adopt(s, cur, cur->state, NULL);
}

int lm_runtime_adopt(lm_runtime *rt, const char *module)
{
	int rc;

	WITH_RT(rt, rc = adopt_locked(rt, module));
	return rc;
}

static int publish_locked(lm_runtime *rt, const char *module)
{
	struct lm_version *s, *cur, **tail;
	struct lm_module *mod;
	int rc = need_staged(&s, rt, module);

	if (rc < 0)
		return rc;
	mod = s->mod;
	cur = mod->published;
	if (!s->has_state) {
		/* load_module: the new code takes the current state over as
		 * it is, learning of it through the adopt call. */
		if (cur && cur->has_state)
			rc = adopt(s, cur, cur->state, NULL);
		else if (!cur && s->raw->init)
			rc = lm_error_set(LM_EINVAL, "module %s %s: init has "
					  "not run", module, s->desc->vsn);
		if (rc < 0)
			return rc;
	}
	if (s->mover) {
		/* The commit of a moved state: the version it was moved from
		 * gives up what code_change took (its terminate is never
		 * called on it); change_commit releases the rest. */
		s->mover->raw->change_commit(s->move_mode, s->move_from,
					     s->state);
		if (cur && cur->state == s->move_from)
			cur->has_state = false;
		s->mover = NULL;
	}
	pthread_mutex_lock(&mod->mu);
	mod->published = s;
	s->stage = LM_V_CURRENT;
	if (!mod->suspended)
		__atomic_store_n(&mod->hot->vtab, s->vtab, __ATOMIC_RELEASE);
	if (cur)
		cur->stage = LM_V_OLD;
	pthread_mutex_unlock(&mod->mu);
	mod->staged = NULL;
	if (cur) {
		for (tail = &mod->old; *tail; tail = &(*tail)->next)
			;
		cur->next = NULL;
		*tail = cur;
	}
	return 0;
}

int lm_runtime_publish(lm_runtime *rt, const char *module)
{
	int rc;

	WITH_RT(rt, rc = publish_locked(rt, module));
	return rc;
}

static int load_locked(lm_runtime *rt, const char *path, const char *oid)
{
	struct lm_module *mod;
	int rc = stage_locked(&mod, rt, path, oid, NULL);

	if (rc < 0)
		return rc;
	if (mod->published)
		rc = lm_error_set(LM_EINVAL, "%s: module %s is already loaded "
				  "(%s): upgrade it with the swap primitives",
				  path, mod->name, mod->published->desc->vsn);
	if (rc == 0)
		rc = init_locked(rt, mod->name);
	if (rc == 0)
		rc = publish_locked(rt, mod->name);
	if (rc < 0) {
		char *msg = strdup(lm_error_last());
		int code = lm_error_code();

		unstage_locked(rt, mod->name);
		lm_error_set(code, "%s", msg ? msg : "out of memory");
		free(msg);
		return code;
	}
	return 0;
}

int lm_runtime_load(lm_runtime *rt, const char *path, const char *oid)
{
	int rc;

	WITH_RT(rt, rc = load_locked(rt, path, oid));
	return rc;
}
