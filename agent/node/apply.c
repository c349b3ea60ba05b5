/*
 * apply.c - applying a plan inside the running node.
 *
 * The low-level script is carried out in DESIGN.md's order, in two
 * halves around point_of_no_return:
 *
 *   before: load_object_code stages every new object (extracted from the
 *   store by oid, dlopen'ed, its descriptor compared with the planned
 *   one); then the check: every object staged, every dependency present,
 *   soft pre-purges possible, the node still on the plan's from-release.
 *   Any failure unstages everything: the node is exactly as it was.
 *
 *   after: the ledger records the point of no return and, in the same
 *   write, the node on the new release (current, not yet permanent);
 *   every pre-purge (old-old versions: before anything is suspended, so a
 *   task pinned there is never stuck behind a suspended module while the
 *   purge waits for it); then the script's suspends (all at once, one
 *   grace period), code_change and load steps make each new version's
 *   state — an init for an added module — without publishing anything;
 *   then the new versions are published (each one atomic pointer store,
 *   its module resumed right after), removed modules removed and old
 *   versions purged (one batch: one grace period and one unmap check for
 *   all). Publishing cannot fail once every state is made. The run's end
 *   (ok, plan applied, permanent unless a try) is written after the
 *   modules resumed, so no ledger write sits inside the pause callers of
 *   a suspended module see; the code still never runs ahead of the
 *   ledger, whose current release moved before the suspension. A ledger
 *   that cannot take that first write (a full disk) stops the apply with
 *   nothing changed; one that cannot take the last leaves the new release
 *   current but not permanent (a restart boots the old one), said in a
 *   warning. A code_change or init that fails leaves every old version
 *   published and serving: the staged versions are unloaded, the
 *   suspended modules resumed, the node's current release put back, and
 *   eval reports the error.
 *
 * The ledger records the run's phases as they pass, so a node killed at
 * any moment boots on the release whose eval last succeeded (node.c).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "node_internal.h"
#include "runtime_node.h"
#include "objects.h"
#include "plan.h"
#include "planning.h"
#include "preload.h"
#include "rollback.h"
#include "store.h"

/* What one apply carries from step to step. */
typedef struct run {
	lm_node *n;
	lm_plan *plan;
	unsigned flags;          /* LM_APPLY_* */
	lm_preload *pre;         /* what was staged ahead, or NULL */
	size_t ntaken;           /* of it, the objects this run took */
	int64_t run_id;
	cJSON *timings;          /* step -> microseconds */
	cJSON *warnings;         /* strings */
	char **staged;           /* modules staged by this run */
	size_t nstaged;
	char **suspended;
	size_t nsuspended;
	struct timespec t0, step;
} run;

static int64_t elapsed_us(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - since->tv_sec) * 1000000 +
	       (now.tv_nsec - since->tv_nsec) / 1000;
}

/* Adds the time since the last mark to timings[name], and marks. */
static void mark(run *r, const char *name)
{
	cJSON *t = cJSON_GetObjectItemCaseSensitive(r->timings, name);
	int64_t us = elapsed_us(&r->step);

	if (t)
		cJSON_SetNumberValue(t, t->valuedouble + (double)us);
	else
		cJSON_AddNumberToObject(r->timings, name, (double)us);
	clock_gettime(CLOCK_MONOTONIC, &r->step);
}

/* Adds the warning "what: detail". */
static void warn(run *r, const char *what, const char *detail)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s: %s", what, detail);
	cJSON_AddItemToArray(r->warnings, cJSON_CreateString(buf));
}

static int push_name(char ***v, size_t *n, const char *name)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(*nv));

	if (!nv || !(nv[*n] = strdup(name))) {
		if (nv)
			*v = nv;
		return lm_error_set(LM_ERROR, "out of memory");
	}
	*v = nv;
	(*n)++;
	return 0;
}

/* Removes `name` from the list (order kept). */
static void drop_name(char **v, size_t *n, const char *name)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp(v[i], name) == 0) {
			free(v[i]);
			memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof(*v));
			(*n)--;
			return;
		}
}

static void free_names(char **v, size_t n)
{
	while (n)
		free(v[--n]);
	free(v);
}

static const lm_plan_module *plan_module(const lm_plan *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nmodules; i++)
		if (strcmp(p->modules[i].name, name) == 0)
			return &p->modules[i];
	return NULL;
}

static int ledger_locked(lm_node *n, int (*fn)(lm_node *, void *), void *arg)
{
	int rc;

	pthread_mutex_lock(&n->ledger_mu);
	rc = fn(n, arg);
	pthread_mutex_unlock(&n->ledger_mu);
	return rc;
}

/* ---- before point_of_no_return -------------------------------------- */

/* The object's path, from a verified copy already in objects/ or else
 * extracted from the store, opened on first need (*store): most applies
 * reuse every object and never open it. */
static int object_path(char **path, run *r, lm_store **store,
		       const char *oid)
{
	int rc = lm_objects_reuse(path, r->n->state_dir, r->n->rt, oid);

	if (rc != 0)
		return rc < 0 ? rc : 0;
	if (!*store && (rc = lm_store_open(store, r->n->store_path, 0)) < 0)
		return rc;
	return lm_objects_extract(path, r->n->state_dir, *store, r->n->rt,
				  oid);
}

static int stage_module(run *r, lm_store **store, const char *name)
{
	const lm_plan_module *pm = plan_module(r->plan, name);
	char *path = NULL;
	int rc;

	if (!pm || !pm->new_side)
		return lm_error_set(LM_EINVAL, "plan %lld: load_object_code "
				    "names %s, which has no new version",
				    (long long)r->plan->id, name);
	if (lm_preload_take(r->pre, name, pm->new_side->oid)) {
		r->ntaken++;
		return push_name(&r->staged, &r->nstaged, name);
	}
	if ((rc = object_path(&path, r, store, pm->new_side->oid)) < 0)
		return lm_error_wrap("%s", name);
	rc = lm__runtime_stage_desc(r->n->rt, path, pm->new_side->oid,
			      pm->new_side->desc);
	free(path);
	if (rc < 0)
		return lm_error_wrap("%s", name);
	return push_name(&r->staged, &r->nstaged, name);
}

static int load_object_code(run *r, const lm_instr *in)
{
	lm_store *store = NULL;
	size_t i;
	int rc = 0;

	for (i = 0; i < in->nmodules && rc == 0; i++)
		rc = stage_module(r, &store, in->modules[i]);
	lm_store_free(store);
	return rc;
}

/* Will `name` be loaded once this plan is applied? */
static int present_after(const run *r, const lm_module_info *mods, size_t n,
			 const char *name)
{
	const lm_plan_module *pm = plan_module(r->plan, name);
	size_t i;

	if (pm)
		return pm->new_side != NULL;
	for (i = 0; i < n; i++)
		if (strcmp(mods[i].name, name) == 0)
			return mods[i].current != NULL;
	return 0;
}

static int check_deps(run *r)
{
	lm_module_info *mods = NULL;
	size_t n = 0, i, k;
	int rc = lm_runtime_modules(&mods, &n, r->n->rt);

	for (i = 0; rc == 0 && i < r->plan->nmodules; i++) {
		const lm_plan_side *s = r->plan->modules[i].new_side;

		for (k = 0; s && rc == 0 && k < s->desc->ndeps; k++)
			if (!present_after(r, mods, n, s->desc->deps[k]))
				rc = lm_error_set(LM_ECHECK, "%s depends on %s, "
						  "which is not loaded",
						  s->desc->name,
						  s->desc->deps[k]);
	}
	if (mods)
		lm_module_info_free(mods, n);
	return rc;
}

/* Every purge and removal the script will do must be possible now: soft
 * purges with no pins left, brutal ones with a host callback to end the
 * pinners, no removal of a module the host holds export refs into. Eval
 * then has nothing left to warn about that would leave the node running
 * code its ledger does not name (docs/agent.md, "What the check
 * predicts"). */
static int check_purges(run *r)
{
	const lm_script *s = &r->plan->low_level;
	size_t i;
	int rc = 0;

	for (i = 0; i < s->n && rc == 0; i++) {
		const lm_instr *in = &s->v[i];

		if (in->op == LM_OP_LOAD && plan_module(r->plan,
							in->modules[0])->old_side)
			rc = lm_runtime_check_purge(r->n->rt, in->modules[0],
						    in->pre_purge);
		else if (in->op == LM_OP_REMOVE)
			rc = lm_runtime_check_remove(r->n->rt, in->modules[0],
						     in->pre_purge);
		if (rc < 0)
			rc = lm_error_recode(LM_ECHECK);
	}
	return rc;
}

static int cmp_boot_failure(const void *key, const void *elem)
{
	int64_t a = *(const int64_t *)key,
		b = ((const lm_boot_failure *)elem)->release;

	return (a > b) - (a < b);
}

/* A release that failed to boot on this node would be made permanent by
 * a live apply that never runs its init, and fail the next boot again.
 * Read from memory (n->boot_failures): a ledger read here cost the
 * apply's path ~19 us. */
static int check_boot_failed(run *r)
{
	/* bsearch must not see the NULL of an empty list (UBSan) */
	const lm_boot_failure *f =
		r->n->nboot_failures
			? bsearch(&r->plan->to_release, r->n->boot_failures,
				  r->n->nboot_failures, sizeof(*f),
				  cmp_boot_failure)
			: NULL;

	return f ? lm_error_set(LM_ECHECK, "release %lld failed to boot on "
				"this node (%s); install a fixed build, whose "
				"release is new", (long long)f->release,
				f->reason)
		 : 0;
}

static int before_ponr(run *r, size_t *ponr)
{
	const lm_script *s = &r->plan->low_level;
	size_t i;
	int rc = 0;

	for (i = 0; i < s->n && rc == 0; i++) {
		if (s->v[i].op == LM_OP_POINT_OF_NO_RETURN)
			break;
		if (s->v[i].op == LM_OP_LOAD_OBJECT_CODE) {
			rc = load_object_code(r, &s->v[i]);
			mark(r, "load_object_code");
		}
	}
	*ponr = i;
	if (rc == 0)
		rc = lm_imports_check_plan(&r->n->imports, r->plan);
	if (rc == 0)
		rc = check_boot_failed(r);
	if (rc == 0)
		rc = check_deps(r);
	if (rc == 0)
		rc = check_purges(r);
	mark(r, "check");
	if (rc < 0 && lm_error_code() != LM_ECHECK)
		rc = lm_error_recode(LM_ECHECK);
	return rc;
}

/* ---- after point_of_no_return ---------------------------------------- */

static int prepare_load(run *r, const lm_instr *in, char **changed,
			size_t nchanged)
{
	const char *m = in->modules[0];
	const lm_plan_module *pm = plan_module(r->plan, m);
	size_t i;

	for (i = 0; i < nchanged; i++)
		if (strcmp(changed[i], m) == 0)
			return 0; /* code_change made its state */
	if (pm && !pm->old_side) /* add_module: a fresh state */
		return lm_runtime_init_module(r->n->rt, m);
	/* load_module: takes the current state over now, so that no publish
	 * of this plan can fail after another has happened */
	return lm_runtime_adopt(r->n->rt, m);
}

/* Every module the script suspends, in script order, with one grace
 * period for all (lm_runtime_suspend_many): the script's per-module
 * suspends only differ in when each module starts waiting, and nothing is
 * published before the commit anyway. */
static int suspend_all(run *r, size_t from)
{
	const lm_script *s = &r->plan->low_level;
	char **names = NULL;
	size_t n = 0, i, k;
	int rc = 0;

	for (i = from; i < s->n && rc == 0; i++)
		if (s->v[i].op == LM_OP_SUSPEND)
			for (k = 0; k < s->v[i].nmodules && rc == 0; k++)
				rc = push_name(&names, &n, s->v[i].modules[k]);
	if (rc == 0)
		rc = lm_runtime_suspend_many(r->n->rt,
					     (const char *const *)names, n);
	if (rc == 0) {
		assert(!r->suspended);
		r->suspended = names;
		r->nsuspended = n;
	} else {
		free_names(names, n);
	}
	mark(r, "suspend");
	return rc;
}

/* Makes every new state; publishes nothing. */
static int phase_prepare(run *r, size_t from)
{
	const lm_script *s = &r->plan->low_level;
	char **changed = NULL;
	size_t nchanged = 0, i, k;
	int rc = suspend_all(r, from);

	for (i = from; i < s->n && rc == 0; i++) {
		const lm_instr *in = &s->v[i];

		switch (in->op) {
		case LM_OP_CODE_CHANGE:
			for (k = 0; k < in->nmodules && rc == 0; k++)
				if ((rc = lm_runtime_code_change(
					     r->n->rt, in->modules[k], in->mode,
					     in->extras ? in->extras[k] : "")) == 0)
					rc = push_name(&changed, &nchanged,
						       in->modules[k]);
			mark(r, "code_change");
			break;
		case LM_OP_LOAD:
			rc = prepare_load(r, in, changed, nchanged);
			mark(r, "init");
			break;
		default:
			break;
		}
	}
	free_names(changed, nchanged);
	return rc;
}

static void resume_all(run *r)
{
	while (r->nsuspended) {
		char *m = r->suspended[--r->nsuspended];

		lm_runtime_resume(r->n->rt, m);
		free(m);
	}
}

static void unstage_all(run *r)
{
	while (r->nstaged) {
		char *m = r->staged[--r->nstaged];

		lm_runtime_unstage(r->n->rt, m);
		free(m);
	}
}

/* Runs a batch of purges (one grace period and one unmap check for all,
 * see lm_runtime_purge_batch); each failure is a warning "what: why"
 * ("remove: why" for a removal). */
static void purge_batch(run *r, lm_purge_op *ops, size_t n, const char *what)
{
	size_t i;

	if (!n)
		return;
	lm_runtime_purge_batch(r->n->rt, ops, n);
	for (i = 0; i < n; i++)
		if (ops[i].rc < 0)
			warn(r, ops[i].remove ? "remove" : what, ops[i].error);
}

/* The purge ops the script asks for after `from`: pre-purges (`pre`) of
 * every module loaded over an old version, or the post-purges and
 * removals. Caller frees. */
static lm_purge_op *purge_ops(run *r, size_t from, int pre, size_t *n)
{
	const lm_script *s = &r->plan->low_level;
	lm_purge_op *ops = calloc(s->n ? s->n : 1, sizeof(*ops));
	size_t i;

	*n = 0;
	if (!ops) {
		warn(r, "purge", "out of memory");
		return NULL;
	}
	for (i = from; i < s->n; i++) {
		const lm_instr *in = &s->v[i];
		lm_purge_op *op = &ops[*n];

		if (pre ? in->op != LM_OP_LOAD ||
			  !plan_module(r->plan, in->modules[0])->old_side
			: in->op != LM_OP_LOAD && in->op != LM_OP_REMOVE)
			continue;
		op->module = in->modules[0];
		op->mode = pre ? in->pre_purge : in->post_purge;
		/* After eval the old versions are retired (no new call
		 * reaches them) and the reaper unloads them: grace period,
		 * barrier, dlclose and unmap check come after eval has
		 * answered, each version's once its last pin is gone (a
		 * brutal purge asks the host to end the pinning tasks at
		 * once). What is left to unload shows in `status`; the
		 * reaper's round is recorded with the run (node.c). */
		op->flags = pre ? 0 : LM_PURGE_REAP;
		op->remove = in->op == LM_OP_REMOVE;
		(*n)++;
	}
	return ops;
}

static void pre_purges(run *r, size_t from)
{
	size_t n;
	lm_purge_op *ops = purge_ops(r, from, 1, &n);

	purge_batch(r, ops, n, "pre-purge");
	free(ops);
	mark(r, "pre_purge");
}

/* Resumes `module` if this run suspended it. */
static void resume_one(run *r, const char *module)
{
	size_t i;

	for (i = 0; i < r->nsuspended; i++)
		if (strcmp(r->suspended[i], module) == 0) {
			lm_runtime_resume(r->n->rt, module);
			drop_name(r->suspended, &r->nsuspended, module);
			return;
		}
}

/* Publishes, resumes, removes, purges: the half that cannot fail, every
 * state (code_change, init, adopt) having been made before. Each module
 * resumes as soon as its new version is published: its callers wait for
 * its own swap, not for the rest of the plan's publications. */
static int phase_commit(run *r, size_t from)
{
	const lm_script *s = &r->plan->low_level;
	lm_purge_op *ops;
	size_t i, n;
	int rc = 0;

	for (i = from; i < s->n && rc == 0; i++)
		if (s->v[i].op == LM_OP_LOAD) {
			rc = lm_runtime_publish(r->n->rt, s->v[i].modules[0]);
			if (rc == 0) { /* published: no longer ours to unstage */
				drop_name(r->staged, &r->nstaged,
					  s->v[i].modules[0]);
				resume_one(r, s->v[i].modules[0]);
			}
		}
	mark(r, "load");
	resume_all(r);
	mark(r, "resume");
	if (rc < 0)
		return rc;
	ops = purge_ops(r, from, 0, &n);
	purge_batch(r, ops, n, "post-purge");
	free(ops);
	mark(r, "purge");
	return 0;
}

/* ---- the ledger and the result ---------------------------------------- */

typedef struct begin_args {
	int64_t plan_id;
	const char *expected;
	lm_plan **plan;
	lm_plan *known;   /* the plan as this node just recorded it, or NULL:
			   * taken instead of parsing its text again */
	const char *ahead_json; /* the text the objects staged ahead were
				 * staged from, or NULL */
	bool ahead_stale;       /* the ledger's text is not that any more */
} begin_args;

static int sync_current(lm_node *n, void *arg)
{
	(void)arg;
	return lm_ledger_node_set_current(n->ledger, n->info.id,
					  n->info.current_release);
}

/* ---- a recorded plan staged ahead ------------------------------------------- */

/*
 * A plan the node records itself (update, rollback) is staged while it is
 * recorded (preload.h). A plan another process records — the post-install
 * hook's `livemod plan`, applied later by POST /plans/{id}/apply or by an
 * update that finds it as its reviewed twin — is staged as soon as the
 * precompute thread sees the ledger written, if it goes from the node's
 * release and is still 'planned'. The apply of that plan takes what was
 * staged; any apply unstages the rest when it ends (its plan applied, or
 * the node moved on), and a newer plan's staging unstages an older one's.
 * So a staged object that is never applied stays mapped only until the
 * next plan, apply or stop, and it never runs: a staged version is
 * invisible to callers.
 */

/* Unstages what n->ahead staged and was not taken; forgets its plan.
 * Under ahead_mu, or by the apply that owns it. */
static void ahead_clear(lm_node *n)
{
	lm_preload_finish(&n->ahead.pre);
	lm_plan_free(n->ahead.plan);
	free(n->ahead.json);
	n->ahead.plan = NULL;
	n->ahead.json = NULL;
}

/* The staging of plan `id` for the apply that owns n->ahead, the loader
 * done; NULL, having unstaged it, when it staged another plan (its
 * objects would refuse this apply's own staging of the same modules). */
static lm_preload *ahead_for(lm_node *n, int64_t id)
{
	assert(n->applying);
	if (n->ahead.plan && n->ahead.plan->id == id) {
		lm_preload_join(&n->ahead.pre);
		return &n->ahead.pre;
	}
	ahead_clear(n);
	return NULL;
}

void lm_node_stage_recorded(lm_node *n)
{
	lm_plan_row row = { 0 };
	lm_plan *p = NULL;
	char *json = NULL;
	int64_t id = 0;
	uint64_t gen;
	bool busy;

	pthread_mutex_lock(&n->ahead_mu);
	gen = n->apply_gen;
	busy = n->applying;
	pthread_mutex_unlock(&n->ahead_mu);
	if (busy) /* the apply stages for itself */
		return;
	pthread_mutex_lock(&n->ledger_mu);
	if (lm_ledger_plan_newest(n->ledger, &id) == 0 && id > n->ahead.tried &&
	    lm_ledger_plan_get(n->ledger, id, &row) == 0 && row.json &&
	    strcmp(row.status, "planned") == 0 &&
	    row.from_release == lm_node_release(n)) {
		json = row.json; /* parsed off the lock: an apply commits */
		row.json = NULL;
	}
	pthread_mutex_unlock(&n->ledger_mu);
	lm_plan_row_clear(&row);
	if (json && lm_plan_from_json(&p, json, strlen(json), "plan") < 0) {
		lm_plan_free(p);
		p = NULL;
	}
	lm_error_clear();
	if (!p) {
		free(json);
		return;
	}
	n->ahead.tried = id;
	pthread_mutex_lock(&n->ahead_mu);
	if (!n->applying && n->apply_gen == gen) {
		ahead_clear(n);
		lm_preload_start(&n->ahead.pre, n, p, NULL); /* from the store */
		n->ahead.plan = p;
		n->ahead.json = json;
		p = NULL;
		json = NULL;
	}
	pthread_mutex_unlock(&n->ahead_mu);
	lm_plan_free(p);
	free(json);
}

void lm_node_ahead_drop(lm_node *n)
{
	pthread_mutex_lock(&n->ahead_mu);
	ahead_clear(n);
	pthread_mutex_unlock(&n->ahead_mu);
}

/* Ends what apply_enter began: whatever was staged ahead and not taken
 * is unstaged (its plan is applied, or the node has moved on), and
 * apply_mu let go. */
static void apply_leave(lm_node *n)
{
	pthread_mutex_lock(&n->ahead_mu);
	ahead_clear(n);
	n->applying = false;
	pthread_mutex_unlock(&n->ahead_mu);
	pthread_mutex_unlock(&n->apply_mu);
}

/* Takes apply_mu for one apply (or plan and apply): LM_EBUSY when another
 * holds it. Then puts the ledger's current release right: the node's
 * memory is what runs, and a write refused after an eval failure (a full
 * disk) may have left the ledger ahead of it, before anything plans from
 * it or checks a plan against it. On failure apply_mu is not held. */
static int apply_enter(lm_node *n)
{
	int rc;

	if (pthread_mutex_trylock(&n->apply_mu) != 0)
		return lm_error_set(LM_EBUSY, "another apply is running on "
				    "this node");
	/* the plan staged ahead is this apply's from now on */
	pthread_mutex_lock(&n->ahead_mu);
	n->applying = true;
	n->apply_gen++;
	pthread_mutex_unlock(&n->ahead_mu);
	if ((rc = ledger_locked(n, sync_current, NULL)) < 0)
		apply_leave(n);
	return rc;
}

/* Reads and vets the plan. Nothing is written before the check: the run
 * is recorded with the point of no return, or with the check's failure,
 * in one transaction either way (one commit on the path). */
static int begin_run(lm_node *n, void *arg)
{
	begin_args *a = arg;
	lm_plan_row row = { 0 };
	char label[64];
	int rc;

	/* The plan this node just recorded, from its release, under the
	 * apply_mu held since: nothing to vet (a `livemod plan` that
	 * supersedes it meanwhile is caught by the point of no return's
	 * claim). */
	if (a->known && a->known->id == a->plan_id && !a->expected) {
		assert(a->known->from_release == n->info.current_release);
		*a->plan = a->known;
		a->known = NULL;
		return 0;
	}
	snprintf(label, sizeof(label), "plan %lld", (long long)a->plan_id);
	if ((rc = lm_ledger_plan_get(n->ledger, a->plan_id, &row)) < 0)
		return rc == LM_ENOTFOUND
			? lm_error_set(LM_ENOTFOUND, "no plan %lld",
				       (long long)a->plan_id)
			: rc;
	if (!row.json)
		rc = lm_error_set(LM_EINVAL, "%s has no recorded text", label);
	else if (a->expected && strcmp(a->expected, row.json) != 0)
		rc = lm_error_set(LM_EINVAL, "%s: the plan given differs from "
				  "the one recorded in the ledger; show it "
				  "again with 'livemod show %lld'", label,
				  (long long)a->plan_id);
	else if (strcmp(row.status, "superseded") == 0 ||
		 strcmp(row.status, "applied") == 0)
		rc = lm_error_set(LM_ESTALE, "%s is %s", label, row.status);
	else if (row.from_release != n->info.current_release)
		rc = lm_error_set(LM_ESTALE, "%s goes from release %lld but "
				  "the node is on release %lld", label,
				  (long long)row.from_release,
				  (long long)n->info.current_release);
	if (rc == 0)
		rc = lm_plan_from_json(a->plan, row.json, strlen(row.json),
				       label);
	/* staged against descriptors the plan no longer names */
	a->ahead_stale = a->ahead_json && row.json &&
			 strcmp(a->ahead_json, row.json) != 0;
	lm_plan_row_clear(&row);
	return rc;
}

/* Records the run (inside the caller's transaction) in `phase` (NULL:
 * started). */
static int record_run(lm_node *n, run *r, const char *phase)
{
	assert(!r->run_id);
	return lm_ledger_run_start(n->ledger, &r->run_id, r->plan->id,
				   r->plan->from_release, r->plan->to_release,
				   phase);
}

/* The run, its point of no return, and the node on the plan's release:
 * one write before anything changes, so that the code never runs ahead
 * of the ledger and no write is left for the pause. Not permanent yet: a
 * node that dies from here boots the release it came from. */
static int record_ponr(lm_node *n, void *arg)
{
	run *r = arg;
	int rc = lm_ledger_begin(n->ledger);

	if (rc < 0)
		return rc;
	if ((rc = lm_ledger_plan_claim(n->ledger, r->plan->id)) == 0 &&
	    (rc = record_run(n, r, "point_of_no_return")) == 0 &&
	    (rc = lm_ledger_node_set_current(n->ledger, n->info.id,
					     r->plan->to_release)) == 0)
		rc = lm_ledger_commit(n->ledger);
	else
		lm_ledger_rollback(n->ledger);
	if (rc < 0)
		r->run_id = 0; /* rolled back with the rest */
	return rc;
}

typedef struct finish_args {
	run *r;
	const char *status;
	const char *check, *eval; /* JSON */
	char *timings;
} finish_args;

/* The plan's status once its run ends. A plan the run took past the
 * point of no return is 'applied' or 'failed' whatever a `livemod plan`
 * made of it meanwhile (superseded: the node was on its way to its
 * release); one refused before keeps 'superseded' or 'applied' if it
 * was. */
static int plan_fate(lm_node *n, const finish_args *a)
{
	int64_t id = a->r->plan->id;

	if (strcmp(a->status, "ok") == 0)
		return lm_ledger_plan_set_status(n->ledger, id, "applied");
	if (strcmp(a->status, "eval_failed") == 0)
		return lm_ledger_plan_set_status(n->ledger, id, "failed");
	return lm_ledger_plan_fail(n->ledger, id);
}

/* Closes the run; on success moves the node to the plan's release, and
 * makes it permanent unless the apply is only a try. */
static int finish_run(lm_node *n, void *arg)
{
	finish_args *a = arg;
	const lm_plan *p = a->r->plan;
	int ok = strcmp(a->status, "ok") == 0;
	int permanent = ok && !(a->r->flags & LM_APPLY_TRY);
	int rc = lm_ledger_begin(n->ledger);

	if (rc < 0)
		return rc;
	/* a check that failed: the run is recorded with its end */
	if (!a->r->run_id)
		rc = record_run(n, a->r, NULL);
	if (rc == 0 && ok)
		rc = lm_ledger_run_phase(n->ledger, a->r->run_id, "done");
	/* the current release as it runs: moved at the point of no return,
	 * back to where it was when eval failed */
	if (rc == 0 &&
	    (rc = lm_ledger_run_finish(n->ledger, a->r->run_id, a->status,
				       a->check, a->eval, a->timings)) == 0 &&
	    (rc = plan_fate(n, a)) == 0 &&
	    (rc = lm_ledger_node_set_current(
		     n->ledger, n->info.id,
		     ok ? p->to_release : p->from_release)) == 0 &&
	    permanent)
		rc = lm_ledger_node_set_permanent(n->ledger, n->info.id,
						  p->to_release);
	if (rc == 0)
		rc = lm_ledger_commit(n->ledger);
	else
		lm_ledger_rollback(n->ledger);
	if (rc == 0 && permanent)
		n->info.permanent_release = p->to_release;
	if (rc < 0 && !strcmp(a->status, "check_failed"))
		a->r->run_id = 0; /* its record rolled back with the rest */
	return rc;
}

/* "{ok,["w1","w2"]}" or "{error,"reason"}", and its JSON twin. */
static char *otp_result(const cJSON *warnings, const char *error)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	const cJSON *w;
	int first = 1;

	if (!f)
		return NULL;
	if (error) {
		fprintf(f, "{error,\"%s\"}", error);
	} else {
		fputs("{ok,[", f);
		cJSON_ArrayForEach(w, warnings) {
			fprintf(f, "%s\"%s\"", first ? "" : ",", w->valuestring);
			first = 0;
		}
		fputs("]}", f);
	}
	fclose(f);
	return out;
}

/* {"ok": [warnings]} or {"error": "reason"}. */
static cJSON *json_result(const cJSON *warnings, const char *error)
{
	cJSON *o = cJSON_CreateObject();

	if (error)
		cJSON_AddStringToObject(o, "error", error);
	else
		cJSON_AddItemToObject(o, "ok", cJSON_Duplicate(warnings, 1));
	return o;
}

static char *json_result_text(const cJSON *warnings, const char *error)
{
	cJSON *o = json_result(warnings, error);
	char *text = cJSON_PrintUnformatted(o);

	cJSON_Delete(o);
	return text;
}

/* Logs the rest of the seed's lines on stderr (objects, script, low
 * level script) once the run is over: formatting them cost the apply's
 * path ~20 us here. "livemod: plan N: ..." is logged as the apply
 * begins. One write: stderr is unbuffered. */
static void log_plan(const lm_plan *p)
{
	char *script = lm_script_format(&p->script, p, -1);
	char *low = lm_script_format(&p->low_level, p, -1);
	char *text = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);

	if (f) {
		fprintf(f, "livemod: objects:");
		for (i = 0; i < p->nmodules; i++)
			if (p->modules[i].new_side)
				fprintf(f, " objects/%s.so",
					p->modules[i].new_side->oid);
		fprintf(f, "\nlivemod: script: %s\nlivemod: low level "
			"script: %s\n", script ? script : "?",
			low ? low : "?");
		if (fclose(f) == 0)
			fwrite(text, 1, len, stderr);
	}
	free(text);
	free(script);
	free(low);
}

/* [{"name","change","from","to"}]: what the plan moves, by version. */
static cJSON *modules_json(const lm_plan *p)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < p->nmodules; i++) {
		const lm_plan_module *m = &p->modules[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "name", m->name);
		cJSON_AddStringToObject(o, "change", lm_change_name(m->change));
		if (m->old_side)
			cJSON_AddStringToObject(o, "from", m->old_side->desc->vsn);
		else
			cJSON_AddNullToObject(o, "from");
		if (m->new_side)
			cJSON_AddStringToObject(o, "to", m->new_side->desc->vsn);
		else
			cJSON_AddNullToObject(o, "to");
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static int make_result(lm_apply_result **out, run *r, int status,
		       const char *check_err, const char *eval_err,
		       int reached_eval)
{
	lm_apply_result *res = calloc(1, sizeof(*res));
	cJSON *o = cJSON_CreateObject(), *ck, *ev;
	char *plan_json = NULL;

	if (!res || !o) {
		free(res);
		cJSON_Delete(o);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	res->status = status;
	res->plan_id = r->plan->id;
	res->run_id = r->run_id;
	res->from_release = r->plan->from_release;
	res->to_release = r->plan->to_release;
	res->check = otp_result(r->warnings, check_err);
	res->eval = reached_eval ? otp_result(r->warnings, eval_err) : NULL;
	cJSON_AddNumberToObject(o, "plan_id", (double)r->plan->id);
	cJSON_AddNumberToObject(o, "run", (double)r->run_id);
	cJSON_AddNumberToObject(o, "from", (double)r->plan->from_release);
	cJSON_AddNumberToObject(o, "to", (double)r->plan->to_release);
	cJSON_AddStringToObject(o, "direction",
				r->plan->direction == LM_DOWN ? "down" : "up");
	/* true when the node boots the new release from now on */
	cJSON_AddBoolToObject(o, "permanent",
			      status == 0 && !(r->flags & LM_APPLY_TRY));
	cJSON_AddStringToObject(o, "check", res->check ? res->check : "");
	if (res->eval)
		cJSON_AddStringToObject(o, "eval", res->eval);
	else
		cJSON_AddNullToObject(o, "eval");
	ck = json_result(r->warnings, check_err);
	ev = reached_eval ? json_result(r->warnings, eval_err)
			  : cJSON_CreateNull();
	cJSON_AddItemToObject(o, "check_result", ck);
	cJSON_AddItemToObject(o, "eval_result", ev);
	cJSON_AddItemToObject(o, "timings", cJSON_Duplicate(r->timings, 1));
	cJSON_AddItemToObject(o, "modules", modules_json(r->plan));
	if (lm_plan_to_json(&plan_json, r->plan) == 0)
		cJSON_AddItemToObject(o, "plan", cJSON_Parse(plan_json));
	free(plan_json);
	res->json = cJSON_Print(o);
	cJSON_Delete(o);
	*out = res;
	return 0;
}

/* ---- the whole apply ----------------------------------------------------- */

/* Records the end of the run and builds the caller's result. `status` is
 * 0, LM_ECHECK or LM_EEVAL; the error text is the current last error. */
static int conclude(run *r, int status, int reached_eval,
		    lm_apply_result **res)
{
	char *err = status ? strdup(lm_error_last()) : NULL;
	const char *check_err = status == LM_ECHECK ? err : NULL;
	const char *eval_err = status == LM_EEVAL ? err : NULL;
	finish_args fa = { r, status == 0 ? "ok"
			      : status == LM_ECHECK ? "check_failed"
						    : "eval_failed",
			   NULL, NULL, NULL };
	char *check = json_result_text(r->warnings, check_err);
	char *eval = reached_eval ? json_result_text(r->warnings, eval_err)
				  : NULL;
	int rc;

	cJSON_AddNumberToObject(r->timings, "total",
				(double)elapsed_us(&r->t0));
	fa.check = check;
	fa.eval = eval;
	fa.timings = cJSON_PrintUnformatted(r->timings);
	if ((rc = ledger_locked(r->n, finish_run, &fa)) < 0 && reached_eval) {
		/* What runs is what eval says (new code live: its release is
		 * current in the ledger since the point of no return; old
		 * code: the next apply puts it back, apply_enter);
		 * only the record of the run's end is missing. */
		char *w = NULL;

		if (asprintf(&w, "the ledger could not record the end of run "
			     "%lld (%s): the node runs release %lld; its "
			     "permanent release, the one a restart boots, is "
			     "%lld",
			     (long long)r->run_id, lm_error_last(),
			     (long long)r->n->info.current_release,
			     (long long)r->n->info.permanent_release) >= 0) {
			fprintf(stderr, "livemod: WARNING: %s\n", w);
			cJSON_AddItemToArray(r->warnings, cJSON_CreateString(w));
		}
		free(w);
		r->flags |= LM_APPLY_TRY; /* reported as not permanent */
		rc = 0;
	}
	if (rc == 0)
		rc = make_result(res, r, status, check_err, eval_err,
				 reached_eval);
	if (rc == 0) {
		log_plan(r->plan);
		fprintf(stderr, "livemod: check: %s\n", (*res)->check);
		if ((*res)->eval)
			fprintf(stderr, "livemod: eval: %s\n", (*res)->eval);
		rc = status;
		if (status)
			lm_error_set(status, "%s", err);
	}
	free(fa.timings);
	free(check);
	free(eval);
	free(err);
	return rc;
}

/* Applies recorded plan `plan_id`; `known` (owned, may be NULL) is that
 * plan as this node just recorded it. `planned_us`: how long this request
 * planned (and recorded) before, or -1 when it applies a plan made
 * elsewhere. */
static int apply_locked(lm_node *n, int64_t plan_id, const char *expected,
			unsigned flags, lm_preload *pre, lm_plan *known,
			int64_t planned_us, lm_apply_result **res)
{
	run r = { 0 };
	begin_args ba = { plan_id, expected, &r.plan, known,
			  pre && pre == &n->ahead.pre ? n->ahead.json : NULL,
			  false };
	size_t ponr = 0;
	int rc;

	r.n = n;
	r.flags = flags;
	r.pre = pre;
	clock_gettime(CLOCK_MONOTONIC, &r.t0);
	r.step = r.t0;
	rc = ledger_locked(n, begin_run, &ba);
	lm_plan_free(ba.known); /* not taken */
	if (rc < 0)
		return rc;
	if (ba.ahead_stale) { /* the apply stages for itself */
		ahead_clear(n);
		r.pre = pre = NULL;
	}
	r.timings = cJSON_CreateObject();
	r.warnings = cJSON_CreateArray();
	if (pre && pre->count) /* off the path: overlapped the recording */
		cJSON_AddNumberToObject(r.timings, "staged_ahead",
					(double)pre->us);
	if (planned_us >= 0) /* before the run, so outside its total */
		cJSON_AddNumberToObject(r.timings, "plan_and_record",
					(double)planned_us);
	fprintf(stderr, "livemod: plan %lld: release %lld -> %lld\n",
		(long long)r.plan->id, (long long)r.plan->from_release,
		(long long)r.plan->to_release);
	mark(&r, "begin"); /* vetting the plan, recording the run */
	rc = before_ponr(&r, &ponr);
	if (pre && pre->count)
		cJSON_AddNumberToObject(r.timings, "staged_ahead_taken",
					(double)r.ntaken);
	if (rc < 0) {
		char *msg = strdup(lm_error_last());

		unstage_all(&r);
		lm_error_set(LM_ECHECK, "%s", msg ? msg : "out of memory");
		free(msg);
		rc = conclude(&r, LM_ECHECK, 0, res);
		goto out;
	}
	/* The run passes 'checked' and 'point_of_no_return' at once: one
	 * ledger write, not two, between the check and the first change. */
	if (ledger_locked(n, record_ponr, &r) < 0) {
		char *msg = strdup(lm_error_last());

		unstage_all(&r);
		lm_error_set(LM_ECHECK, "the ledger could not record the point "
			     "of no return: %s", msg ? msg : "out of memory");
		free(msg);
		rc = conclude(&r, LM_ECHECK, 0, res);
		goto out;
	}
	mark(&r, "point_of_no_return"); /* its ledger write */
	/* the reaper's unloads of what this run retires go on its record */
	__atomic_store_n(&n->reap_run, r.run_id, __ATOMIC_RELEASE);
	pre_purges(&r, ponr + 1);
	if ((rc = phase_prepare(&r, ponr + 1)) == 0) {
		if (phase_commit(&r, ponr + 1) < 0)
			/* every state was made: only a broken invariant */
			fprintf(stderr, "livemod: BUG: publish failed after "
				"every state was made: %s\n", lm_error_last());
		/* atomic: in the window, ledger_mu (which a scan may hold
		 * for milliseconds) is not worth waiting for */
		__atomic_store_n(&n->info.current_release, r.plan->to_release,
				 __ATOMIC_RELEASE);
	}
	if (rc < 0) {
		char *msg = strdup(lm_error_last());

		/* Unstaging and resuming may set errors of their own. */
		unstage_all(&r);
		resume_all(&r);
		lm_error_set(LM_EEVAL, "%s", msg ? msg : "out of memory");
		free(msg);
		rc = conclude(&r, LM_EEVAL, 1, res);
		goto out;
	}
	rc = conclude(&r, 0, 1, res);
	lm_runtime_reap(n->rt); /* eval has answered: unload what it retired */
out:
	free_names(r.staged, r.nstaged);
	free_names(r.suspended, r.nsuspended);
	cJSON_Delete(r.timings);
	cJSON_Delete(r.warnings);
	lm_plan_free(r.plan);
	return rc;
}

int lm_node_apply(lm_node *n, int64_t plan_id, const char *expected_json,
		  unsigned flags, lm_apply_result **res)
{
	int rc;

	assert(n && res);
	*res = NULL;
	if ((rc = apply_enter(n)) < 0)
		return rc;
	rc = apply_locked(n, plan_id, expected_json, flags,
			  ahead_for(n, plan_id), NULL, -1, res);
	apply_leave(n);
	return rc;
}

typedef struct plan_args {
	const char *const *modules; /* update: the modules named, if any */
	size_t n;
	int64_t to;                 /* rollback: the target, 0 its default */
	int64_t plan_id;            /* 0: nothing to apply */
	cJSON *warnings;            /* update: the scan's, as `plan` prints */
	lm_preload pre;             /* staged while the plan is recorded */
	lm_plan *known;             /* the plan recorded, for the apply */
	lm_preload *ahead;          /* or the reviewed twin, staged ahead */
} plan_args;

/* Does the recorded plan `row` do what `p` would: from the same release,
 * every module to the same object (or removed)? Then it is the plan an
 * operator reviewed (the post-install hook records one), and the update
 * applies it rather than superseding it with its twin. */
static int same_plan(const lm_plan_row *row, const lm_plan *p)
{
	lm_plan *q = NULL;
	int same = row->json && row->from_release == p->from_release &&
		   lm_plan_from_json(&q, row->json, strlen(row->json),
				     "plan") == 0 &&
		   q->nmodules == p->nmodules;

	for (size_t i = 0; same && i < p->nmodules; i++) {
		const lm_plan_module *a = &p->modules[i];
		const lm_plan_module *b = plan_module(q, a->name);

		same = b && !a->new_side == !b->new_side &&
		       (!a->new_side ||
			strcmp(a->new_side->oid, b->new_side->oid) == 0);
	}
	lm_plan_free(q);
	return same;
}

/* The plan waiting to be applied (status 'planned'), if it is `p`'s twin:
 * its id, else 0. */
static int64_t reviewed_twin(lm_node *n, const lm_plan *p)
{
	lm_plan_row row = { 0 };
	int64_t newest = 0, id = 0;

	if (lm_ledger_plan_newest(n->ledger, &newest) == 0 && newest &&
	    lm_ledger_plan_get(n->ledger, newest, &row) == 0 &&
	    strcmp(row.status, "planned") == 0 && same_plan(&row, p))
		id = row.id;
	lm_plan_row_clear(&row);
	return id;
}

/* Plans the way from the node's release to its libdir and records it. */
static int plan_update(lm_node *n, void *arg)
{
	plan_args *a = arg;
	lm_plan_opts o = { 0 };
	lm_node_planned pl;
	int rc;

	o.only = a->modules;
	o.nonly = a->n;
	rc = lm_node_plan(n, n->ledger, &o, &pl);
	for (size_t i = 0; rc == 0 && i < pl.scan.nwarnings; i++) {
		fprintf(stderr, "livemod: warning: %s\n", pl.scan.warnings[i]);
		cJSON_AddItemToArray(a->warnings,
				     cJSON_CreateString(pl.scan.warnings[i]));
	}
	/* what was staged ahead serves when it is this plan's reviewed
	 * twin (the hook's plan); else this plan stages its own while it is
	 * recorded */
	if (rc == 0 && pl.plan) {
		a->plan_id = reviewed_twin(n, pl.plan);
		if (!(a->ahead = ahead_for(n, a->plan_id)))
			lm_preload_start(&a->pre, n, pl.plan, n->info.libdir);
	}
	if (rc == 0 && pl.plan && !a->plan_id &&
	    (rc = lm_planning_record(&pl.st, pl.plan, &pl.new_set,
				     &pl.scan)) == 0) {
		a->plan_id = pl.plan->id;
		a->known = pl.plan;
		pl.plan = NULL;
	}
	lm_preload_join(&a->pre); /* before the plan's descriptors go */
	lm_node_planned_clear(&pl);
	return rc;
}

/* Plans the way back to a recorded release and records it. */
static int plan_rollback(lm_node *n, void *arg)
{
	plan_args *a = arg;
	lm_plan_opts o = { 0 };
	lm_state st = { 0 };
	lm_plan *p = NULL;
	int64_t to;
	int rc;

	st.dir = n->state_dir;
	st.ledger = n->ledger;
	st.node = n->info;
	ahead_clear(n); /* a plan forward, not this one */
	if ((rc = lm_rollback_target(&st, a->to, &to)) == 0 &&
	    (rc = lm_rollback_compute(&p, &st, n->store_path, to, &o)) == 0 &&
	    p) {
		lm_preload_start(&a->pre, n, p, NULL);
		if ((rc = lm_planning_record_existing(&st, p)) == 0) {
			a->plan_id = p->id;
			a->known = p;
			p = NULL;
		}
		lm_preload_join(&a->pre);
	}
	lm_plan_free(p);
	return rc;
}

static int nothing_result(lm_apply_result **res, int64_t release)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNullToObject(o, "plan");
	cJSON_AddNumberToObject(o, "release", (double)release);
	cJSON_AddItemToObject(o, "modules", cJSON_CreateArray());
	if (!(*res = calloc(1, sizeof(**res))) ||
	    !((*res)->json = cJSON_Print(o))) {
		lm_apply_result_free(*res);
		*res = NULL;
		cJSON_Delete(o);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	cJSON_Delete(o);
	return 0;
}

/* The scan's warnings ("a .so in the libdir that is not a livemod
 * module") go into the answer as "warnings", as `plan` prints them. */
static void add_warnings(lm_apply_result *res, const cJSON *warnings)
{
	cJSON *o = cJSON_Parse(res->json);
	char *text;

	if (!o)
		return;
	cJSON_AddItemToObject(o, "warnings", cJSON_Duplicate(warnings, 1));
	if ((text = cJSON_Print(o))) {
		free(res->json);
		res->json = text;
	}
	cJSON_Delete(o);
}

/* Plans with `plan` under the ledger lock, then applies what it
 * recorded; the whole under apply_mu, so nothing moves the node between
 * the two. A plan with no change answers an empty result. */
static int plan_and_apply(lm_node *n, int (*plan)(lm_node *, void *),
			  plan_args *a, unsigned flags, lm_apply_result **res)
{
	struct timespec t0;
	int rc;

	*res = NULL;
	if (!(a->warnings = cJSON_CreateArray()))
		return lm_error_set(LM_ERROR, "out of memory");
	if ((rc = apply_enter(n)) < 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = ledger_locked(n, plan, a);
	if (rc == 0 && a->plan_id) {
		rc = apply_locked(n, a->plan_id, NULL, flags,
				  a->ahead ? a->ahead : &a->pre, a->known,
				  elapsed_us(&t0), res);
		a->known = NULL;
	} else if (rc == 0) {
		/* nothing to update: no check ran, so none is reported */
		rc = nothing_result(res, lm_node_release(n));
	}
	lm_plan_free(a->known); /* a failed planning's */
	lm_preload_finish(&a->pre); /* what the apply did not take */
	apply_leave(n);
	if (*res && cJSON_GetArraySize(a->warnings))
		add_warnings(*res, a->warnings);
out:
	cJSON_Delete(a->warnings);
	return rc;
}

int lm_node_update(lm_node *n, const char *const *modules, size_t nmod,
		   unsigned flags, lm_apply_result **res)
{
	plan_args a = { modules, nmod, 0, 0, NULL, { 0 }, NULL, NULL };

	assert(n && res && (modules || nmod == 0));
	return plan_and_apply(n, plan_update, &a, flags, res);
}

int lm_node_rollback(lm_node *n, int64_t to, unsigned flags,
		     lm_apply_result **res)
{
	plan_args a = { NULL, 0, to, 0, NULL, { 0 }, NULL, NULL };

	assert(n && res);
	return plan_and_apply(n, plan_rollback, &a, flags, res);
}
