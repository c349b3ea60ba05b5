/*
 * rollback.c - planning a rollback; see rollback.h.
 *
 * To an ancestor, the plan is OTP's downgrade: the upgrade from the
 * target to the current release is planned (lm_planning_diff, as if the
 * target were installed and the current release the new build), then
 * turned round, so that its `script` is that upgrade's `downgrade` and
 * its `downgrade` the way up again. code_change then runs in mode down
 * in the version being left, the only one that knows both layouts, with
 * the Extra terms the way up used. To any other release (a later one,
 * after an earlier rollback, or one on another branch) the plan is a
 * plain upgrade between the two trees, with code_change up in the
 * version arriving: a rollback of a rollback goes back up that way.
 */
#include "rollback.h"

#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "store.h"

int lm_rollback_target(lm_state *st, int64_t to, int64_t *out)
{
	int64_t cur = st->node.current_release;
	lm_release_info r = { 0 };
	int rc;

	*out = 0;
	if (to == 0) {
		if ((rc = lm_ledger_release_get(st->ledger, cur, &r)) < 0)
			return rc;
		to = r.parent;
		lm_release_info_clear(&r);
		if (to == 0)
			return lm_error_set(LM_EINVAL, "release %lld is the "
					    "first release: there is no "
					    "earlier release to roll back to",
					    (long long)cur);
	} else if ((rc = lm_ledger_release_get(st->ledger, to, &r)) < 0) {
		return rc == LM_ENOTFOUND
			? lm_error_set(LM_ENOTFOUND, "no release %lld (see "
				       "'livemod history')", (long long)to)
			: rc;
	} else {
		lm_release_info_clear(&r);
	}
	if (to == cur)
		return lm_error_set(LM_EINVAL, "the node is already on "
				    "release %lld", (long long)cur);
	*out = to;
	return 0;
}

/* Whether release `a` is `of`'s parent, or its parent's, and so on. */
static int is_ancestor(lm_ledger *l, int64_t a, int64_t of, bool *out)
{
	lm_release_info r = { 0 };
	int64_t at = of;
	int rc = 0;

	*out = false;
	while (at > a && !*out) {
		if ((rc = lm_ledger_release_get(l, at, &r)) < 0)
			return rc;
		/* a release is recorded after the one it was planned from */
		assert(r.parent < at);
		at = r.parent;
		*out = at == a;
		lm_release_info_clear(&r);
	}
	return rc;
}

/* The Extra terms of the way up, owned. */
typedef struct extras {
	lm_extra *v;
	size_t n;
} extras;

static void extras_clear(extras *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free((char *)e->v[i].module);
		free((char *)e->v[i].extra);
	}
	free(e->v);
	memset(e, 0, sizeof(*e));
}

static bool extras_has(const extras *e, const char *module)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->v[i].module, module) == 0)
			return true;
	return false;
}

/* True when `name` has an object in both sets, and not the same one: the
 * only modules an Extra can go with. */
static bool changed_between(const lm_modset *a, const lm_modset *b,
			    const char *name)
{
	const lm_modinfo *x = lm_modset_find(a, name);
	const lm_modinfo *y = lm_modset_find(b, name);

	return x && y && strcmp(x->oid, y->oid) != 0;
}

static int extras_take(extras *e, const lm_plan *p, const lm_modset *a,
		       const lm_modset *b)
{
	for (size_t i = 0; i < p->nmodules; i++) {
		const lm_plan_module *m = &p->modules[i];
		lm_extra *v;

		if (!m->extra[0] || extras_has(e, m->name) ||
		    !changed_between(a, b, m->name))
			continue;
		if (!(v = realloc(e->v, (e->n + 1) * sizeof(*v))))
			return lm_error_set(LM_ERROR, "out of memory");
		e->v = v;
		v += e->n++;
		v->module = strdup(m->name);
		v->extra = strdup(m->extra);
		if (!v->module || !v->extra)
			return lm_error_set(LM_ERROR, "out of memory");
	}
	return 0;
}

/*
 * The Extra of each module changed between `a` and `b` as the plans that
 * took the node from `earlier` up to `later` (its descendant) gave it;
 * the newest plan that changed a module wins, since it brought the
 * version that code_change runs in (down) or that arrives (up).
 */
static int path_extras(extras *e, lm_ledger *l, int64_t earlier,
		       int64_t later, const lm_modset *a, const lm_modset *b)
{
	int64_t at = later;
	int rc = 0;

	while (rc == 0 && at != earlier) {
		lm_release_info r = { 0 };
		lm_plan_row row = { 0 };
		lm_plan *p = NULL;

		if ((rc = lm_ledger_release_get(l, at, &r)) < 0)
			break;
		assert(r.parent > 0);
		rc = lm_ledger_plan_applied(l, r.parent, at, &row);
		if (rc == 0 && row.json &&
		    (rc = lm_plan_from_json(&p, row.json, strlen(row.json),
					    "a recorded plan")) == 0)
			rc = extras_take(e, p, a, b);
		if (rc == LM_ENOTFOUND)
			rc = 0; /* reached by init, or never applied: none */
		at = r.parent;
		lm_plan_free(p);
		lm_plan_row_clear(&row);
		lm_release_info_clear(&r);
	}
	return rc;
}

typedef struct ranked {
	const char *name;
	size_t rank;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
	return strcmp(((const ranked *)a)->name, ((const ranked *)b)->name);
}

/* Orders p->modules as p->script names them (each module is the subject
 * of exactly one high-level instruction). */
static int order_by_script(lm_plan *p)
{
	ranked *rank = calloc(p->nmodules + 1, sizeof(*rank));
	lm_plan_module *v = calloc(p->nmodules + 1, sizeof(*v));
	size_t i;

	if (!rank || !v) {
		free(rank);
		free(v);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	assert(p->script.n == p->nmodules);
	for (i = 0; i < p->script.n; i++)
		rank[i] = (ranked){ p->script.v[i].modules[0], i };
	qsort(rank, p->nmodules, sizeof(*rank), cmp_ranked);
	for (i = 0; i < p->nmodules; i++) {
		ranked key = { p->modules[i].name, 0 };
		const ranked *r = bsearch(&key, rank, p->nmodules,
					  sizeof(*rank), cmp_ranked);

		assert(r);
		v[r->rank] = p->modules[i];
	}
	free(p->modules);
	p->modules = v;
	free(rank);
	return 0;
}

#define SWAP(T, a, b) do { T t_ = (a); (a) = (b); (b) = t_; } while (0)

/* Turns the upgrade from the target to the current release into the
 * rollback from the current release to the target. */
static int turn_round(lm_plan *p)
{
	char commit[LM_OID_HEXSZ + 1];

	SWAP(lm_script, p->script, p->down_script);
	SWAP(lm_script, p->low_level, p->down_low_level);
	for (size_t i = 0; i < p->nmodules; i++) {
		lm_plan_module *m = &p->modules[i];

		SWAP(lm_plan_side *, m->old_side, m->new_side);
		if (m->change == LM_ADDED || m->change == LM_REMOVED)
			m->change = m->change == LM_ADDED ? LM_REMOVED
							  : LM_ADDED;
	}
	SWAP(int64_t, p->from_release, p->to_release);
	memcpy(commit, p->from_commit, sizeof(commit));
	memcpy(p->from_commit, p->to_commit, sizeof(commit));
	memcpy(p->to_commit, commit, sizeof(commit));
	p->direction = LM_DOWN;
	return order_by_script(p);
}

/* Refuses a plan whose objects the store lacks: the node could not load
 * them, and the check would fail only after the plan was recorded. */
static int objects_stored(const lm_plan *p, const char *store_path)
{
	lm_store *store = NULL;
	int rc = lm_store_open(&store, store_path, 0);

	for (size_t i = 0; rc == 0 && i < p->nmodules; i++) {
		const lm_plan_module *m = &p->modules[i];

		if (m->new_side && !lm_store_has(store, m->new_side->oid))
			rc = lm_error_set(LM_EINVAL, "%s lacks object %s of "
					  "module %s %s (release %lld)",
					  store_path, m->new_side->oid, m->name,
					  m->new_side->desc->vsn,
					  (long long)p->to_release);
	}
	lm_store_free(store);
	return rc;
}

int lm_rollback_compute(lm_plan **out, lm_state *st, const char *store_path,
			int64_t to, const lm_plan_opts *opts)
{
	int64_t cur = st->node.current_release;
	lm_release_info cur_info = { 0 }, to_info = { 0 };
	lm_modset cur_set = { 0 }, to_set = { 0 };
	lm_plan_opts o = *opts;
	extras e = { 0 };
	lm_plan *p = NULL;
	bool down = false, later = false;
	int rc;

	*out = NULL;
	assert(opts->nonly == 0 && to > 0 && to != cur);
	if ((rc = lm_ledger_release_get(st->ledger, cur, &cur_info)) < 0 ||
	    (rc = lm_ledger_release_get(st->ledger, to, &to_info)) < 0 ||
	    (rc = lm_ledger_release_modules(st->ledger, cur, &cur_set)) < 0 ||
	    (rc = lm_ledger_release_modules(st->ledger, to, &to_set)) < 0 ||
	    (rc = is_ancestor(st->ledger, to, cur, &down)) < 0 ||
	    (!down && (rc = is_ancestor(st->ledger, cur, to, &later)) < 0))
		goto out;
	/* up to a release on another branch: no way known, no extras */
	if (down)
		rc = path_extras(&e, st->ledger, to, cur, &to_set, &cur_set);
	else if (later)
		rc = path_extras(&e, st->ledger, cur, to, &cur_set, &to_set);
	if (rc < 0)
		goto out;
	o.extras = e.v;
	o.nextras = e.n;
	if (down) {
		rc = lm_planning_diff(&p, st, &to_info, &to_set, &cur_set, &o);
		if (rc == 0 && p) {
			p->to_release = cur;
			memcpy(p->to_commit, cur_info.commit,
			       sizeof(p->to_commit));
			rc = turn_round(p);
		}
	} else {
		rc = lm_planning_diff(&p, st, &cur_info, &cur_set, &to_set, &o);
		if (rc == 0 && p) {
			p->to_release = to;
			memcpy(p->to_commit, to_info.commit,
			       sizeof(p->to_commit));
		}
	}
	if (rc == 0 && !p)
		rc = lm_error_set(LM_EINVAL, "release %lld holds the same "
				  "objects as release %lld: nothing to roll "
				  "back", (long long)to, (long long)cur);
	if (rc == 0 && (rc = lm_plan_validate(p, "rollback plan")) == 0)
		rc = objects_stored(p, store_path);
	if (rc == 0) {
		*out = p;
		p = NULL;
	}
out:
	lm_plan_free(p);
	extras_clear(&e);
	lm_modset_clear(&cur_set);
	lm_modset_clear(&to_set);
	lm_release_info_clear(&cur_info);
	lm_release_info_clear(&to_info);
	return rc;
}

int lm_rollback_set_boot(lm_state *st, int64_t to, int64_t *was)
{
	lm_node_info now = { 0 };
	lm_release_info r = { 0 };
	int rc = lm_ledger_begin(st->ledger);

	*was = 0;
	if (rc < 0)
		return rc;
	/* read under the write lock: another command may just have moved it */
	if ((rc = lm_ledger_node_get(st->ledger, &now)) == 0 &&
	    (rc = lm_ledger_release_get(st->ledger, to, &r)) == LM_ENOTFOUND)
		rc = lm_error_set(LM_ENOTFOUND, "no release %lld (see 'livemod "
				  "history')", (long long)to);
	*was = now.permanent_release ? now.permanent_release
				     : now.current_release;
	if (rc == 0 && *was == to && now.current_release == to)
		rc = lm_error_set(LM_EINVAL, "release %lld is already the "
				  "release the node boots", (long long)to);
	if (rc == 0 &&
	    (rc = lm_ledger_node_set_current(st->ledger, now.id, to)) == 0 &&
	    (rc = lm_ledger_node_set_permanent(st->ledger, now.id, to)) == 0)
		rc = lm_ledger_commit(st->ledger);
	if (rc < 0)
		lm_ledger_rollback(st->ledger);
	lm_release_info_clear(&r);
	lm_node_info_clear(&now);
	return rc;
}
