/*
 * query.c - the control API's read-only answers, as JSON text: what
 * update_info would print, the loaded modules, a recorded plan, the
 * history, health.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "fsutil.h"
#include "libwatch.h"
#include "node_internal.h"
#include "history.h"
#include "planning.h"

/* "fallback_from" and "reason" when the node booted a fallback release
 * because its permanent one failed to boot: said wherever a person or a
 * script looks at the node's state. */
static void add_fallback(cJSON *o, lm_node *n)
{
	const char *reason;
	int64_t from = lm_node_fallback(n, &reason);

	if (!from)
		return;
	cJSON_AddNumberToObject(o, "fallback_from", (double)from);
	cJSON_AddStringToObject(o, "reason", reason);
}

/* Prints `o` into *out and frees it. */
static int emit(cJSON *o, char **out)
{
	*out = o ? cJSON_Print(o) : NULL;
	cJSON_Delete(o);
	return *out ? 0 : lm_error_set(LM_ERROR, "out of memory");
}

int lm_node_plan(lm_node *n, lm_ledger *ledger, const lm_plan_opts *o,
		 lm_node_planned *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	out->st.dir = n->state_dir;
	out->st.ledger = ledger;
	/* What planning reads of the node: fixed at start, but for the
	 * release, which an apply may move meanwhile (without ledger_mu when
	 * `ledger` is the reader); the plan starts from the release the scan
	 * reads in the ledger anyway. */
	out->st.node.id = n->info.id;
	out->st.node.name = n->info.name;
	out->st.node.app = n->info.app;
	out->st.node.libdir = n->info.libdir;
	out->st.node.current_release = __atomic_load_n(
		&n->info.current_release, __ATOMIC_ACQUIRE);
	if ((rc = lm_scan_libdir(&out->scan, n->info.libdir, ledger)) < 0)
		return rc;
	return lm_planning_compute(&out->plan, &out->new_set, &out->st,
				   &out->scan, o);
}

void lm_node_planned_clear(lm_node_planned *pl)
{
	/* new_set shares the scan's descriptors: it goes first */
	lm_plan_free(pl->plan);
	lm_modset_clear(&pl->new_set);
	lm_scan_clear(&pl->scan);
	memset(pl, 0, sizeof(*pl));
}

/*
 * update_list from memory (docs/control-api.md): scanning 300 objects and
 * reading the stat cache is most of what GET /update-modules costs, and
 * the answer cannot change while nothing it is computed from does. So
 * the node keeps its last answer with the key taken before computing it,
 * and answers it again while the key stands and libdir is still trusted.
 * A request whose key is being computed (by the precompute thread, most
 * often, right after an install) waits for that answer rather than
 * scanning a second time. A libdir with a symbolic link among its objects
 * is scanned every time: the watch does not see a link's target change.
 * All of it is under query_mu, planned on the node's read-only ledger
 * connection, so an answer and an apply never wait for each other.
 */
static int update_key_get(lm_node *n, lm_update_key *k)
{
	k->libdir_gen = lm_libwatch_generation(n->libwatch);
	k->release = __atomic_load_n(&n->info.current_release,
				     __ATOMIC_ACQUIRE);
	return lm_ledger_stamp_get(n->reader, &k->ledger);
}

static bool update_key_equal(const lm_update_key *a, const lm_update_key *b)
{
	return a->libdir_gen == b->libdir_gen && a->release == b->release &&
	       a->ledger.others == b->ledger.others &&
	       a->ledger.own == b->ledger.own;
}

void lm_node_update_info_forget(lm_node *n)
{
	cJSON_Delete(n->update_info.answer);
	n->update_info.answer = NULL;
}

/* The kept answer printed (when `out`), its plan stamped now; caller
 * holds query_mu. */
static int update_info_again(lm_node *n, char **out)
{
	cJSON *plan = cJSON_GetObjectItemCaseSensitive(n->update_info.answer,
						       "plan");

	if (!out)
		return 0;
	if (cJSON_IsObject(plan) &&
	    cJSON_GetObjectItemCaseSensitive(plan, "created_at"))
		cJSON_ReplaceItemInObjectCaseSensitive(
			plan, "created_at", cJSON_CreateString(lm_now_iso()));
	*out = cJSON_Print(n->update_info.answer);
	return *out ? 0 : lm_error_set(LM_ERROR, "out of memory");
}

/* 1 when the kept answer stands for `key` (waiting for one being computed
 * for it), 0 when the caller must compute it; caller holds query_mu. */
static int update_info_kept(lm_node *n, const lm_update_key *key)
{
	for (;;) {
		if (n->update_info.answer &&
		    update_key_equal(key, &n->update_info.key))
			return lm_path_trusted(n->info.libdir, "libdir") == 0;
		if (!n->update_info.computing ||
		    !update_key_equal(key, &n->update_info.computing_key))
			return 0;
		pthread_cond_wait(&n->update_info.done, &n->query_mu);
	}
}

/* The answer for `key`, computed: planned in one read transaction under
 * query_mu (held on entry and on return), the rest outside it. Kept when
 * it may be. */
static int update_info_compute(lm_node *n, const lm_update_key *key,
			       char **out)
{
	lm_plan_opts o = { 0 };
	lm_node_planned pl;
	cJSON *answer = NULL;
	bool keep;
	int rc;

	n->update_info.computing = true;
	n->update_info.computing_key = *key;
	lm_error_clear();
	if ((rc = lm_ledger_begin_read(n->reader)) == 0) {
		rc = lm_node_plan(n, n->reader, &o, &pl);
		lm_ledger_rollback(n->reader); /* it only read */
	} else {
		memset(&pl, 0, sizeof(pl));
	}
	pthread_mutex_unlock(&n->query_mu);
	/* the stat cache stays warm for the node's scans too (a connection
	 * of its own that never waits; skipped when another writer holds
	 * the ledger) */
	if (rc == 0)
		(void)lm_planning_refresh_stats(&pl.st, &pl.scan, NULL);
	if (rc == 0) {
		const char *err = pl.plan && lm_imports_check_plan(
					&n->imports, pl.plan) < 0
					  ? lm_error_last() : NULL;

		answer = lm_update_info_json(n->info.libdir, key->release,
					     pl.plan, &pl.scan, err);
		if (!answer || (out && !(*out = cJSON_Print(answer))))
			rc = lm_error_set(LM_ERROR, "out of memory");
	}
	keep = rc == 0 && !pl.scan.links;
	lm_node_planned_clear(&pl);
	pthread_mutex_lock(&n->query_mu);
	if (keep) {
		lm_node_update_info_forget(n);
		n->update_info.answer = answer;
		n->update_info.key = *key;
	} else {
		cJSON_Delete(answer);
	}
	if (update_key_equal(key, &n->update_info.computing_key))
		n->update_info.computing = false;
	pthread_cond_broadcast(&n->update_info.done);
	return rc;
}

int lm_node_update_info_json(lm_node *n, char **out)
{
	lm_update_key key;
	int rc;

	if (out)
		*out = NULL;
	pthread_mutex_lock(&n->query_mu);
	if ((rc = update_key_get(n, &key)) == 0)
		rc = update_info_kept(n, &key) ? update_info_again(n, out)
					       : update_info_compute(n, &key, out);
	pthread_mutex_unlock(&n->query_mu);
	return rc;
}

static cJSON *version_json(const lm_version_info *v)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "vsn", v->vsn);
	cJSON_AddStringToObject(o, "oid", v->oid);
	cJSON_AddNumberToObject(o, "pins", (double)v->pins);
	cJSON_AddBoolToObject(o, "retiring", v->retiring);
	return o;
}

int lm_node_modules_json(lm_node *n, char **out)
{
	lm_module_info *mods;
	cJSON *root, *arr;
	size_t nm, i, k;
	int rc;

	*out = NULL;
	if ((rc = lm_runtime_modules(&mods, &nm, n->rt)) < 0)
		return rc;
	root = cJSON_CreateObject();
	cJSON_AddNumberToObject(root, "release", (double)lm_node_release(n));
	add_fallback(root, n);
	arr = cJSON_AddArrayToObject(root, "modules");
	for (i = 0; i < nm; i++) {
		const lm_module_info *m = &mods[i];
		cJSON *o = cJSON_CreateObject(), *old;

		cJSON_AddStringToObject(o, "name", m->name);
		if (m->current) {
			cJSON_AddStringToObject(o, "vsn", m->current->vsn);
			cJSON_AddStringToObject(o, "oid", m->current->oid);
			cJSON_AddNumberToObject(o, "pins",
						(double)m->current->pins);
		} else {
			cJSON_AddNullToObject(o, "vsn");
		}
		cJSON_AddBoolToObject(o, "suspended", m->suspended);
		if (m->staged) { /* loaded, not yet serving: a plan staged */
			cJSON *st = cJSON_AddObjectToObject(o, "staged");

			cJSON_AddStringToObject(st, "vsn", m->staged->vsn);
			cJSON_AddStringToObject(st, "oid", m->staged->oid);
		}
		old = cJSON_AddArrayToObject(o, "old");
		for (k = 0; k < m->nold; k++)
			cJSON_AddItemToArray(old, version_json(&m->old[k]));
		cJSON_AddItemToArray(arr, o);
	}
	lm_module_info_free(mods, nm);
	return emit(root, out);
}

int lm_node_plan_json(lm_node *n, int64_t id, char **out)
{
	lm_plan_row row = { 0 };
	int rc;

	*out = NULL;
	pthread_mutex_lock(&n->ledger_mu);
	rc = lm_ledger_plan_get(n->ledger, id, &row);
	pthread_mutex_unlock(&n->ledger_mu);
	if (rc == LM_ENOTFOUND)
		return lm_error_set(LM_ENOTFOUND, "no plan %lld", (long long)id);
	if (rc == 0 && !(*out = row.json ? strdup(row.json) : NULL))
		rc = lm_error_set(LM_ENOTFOUND, "plan %lld has no text",
				  (long long)id);
	lm_plan_row_clear(&row);
	return rc;
}

int lm_node_history_json(lm_node *n, char **out)
{
	cJSON *h = NULL;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&n->ledger_mu);
	rc = lm_history_json(&h, n->ledger);
	pthread_mutex_unlock(&n->ledger_mu);
	return rc < 0 ? rc : emit(h, out);
}

int lm_node_health_json(lm_node *n, char **out)
{
	lm_module_info *mods;
	size_t nm = 0;
	cJSON *o;
	int rc;

	if ((rc = lm_runtime_modules(&mods, &nm, n->rt)) < 0)
		return rc;
	lm_module_info_free(mods, nm);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "status", "ok");
	cJSON_AddNumberToObject(o, "release", (double)lm_node_release(n));
	cJSON_AddNumberToObject(o, "permanent",
				(double)lm_node_permanent_release(n));
	cJSON_AddNumberToObject(o, "modules", (double)nm);
	add_fallback(o, n);
	return emit(o, out);
}
