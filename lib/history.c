/*
 * history.c - the history JSON; see history.h.
 *
 * Check, eval and timings are stored as JSON text in the ledger (as the
 * agent returned them); they are parsed back here so that the history is
 * one JSON document, not JSON with JSON strings inside.
 */
#include "history.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

static cJSON *id_or_null(int64_t id)
{
	return id > 0 ? cJSON_CreateNumber((double)id) : cJSON_CreateNull();
}

static cJSON *str_or_null(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* Stored JSON text as a value; null when absent (a run not yet checked)
 * or, never expected, unreadable. */
static cJSON *json_or_null(const char *text)
{
	cJSON *v = text ? cJSON_Parse(text) : NULL;

	return v ? v : cJSON_CreateNull();
}

static cJSON *release_json(const lm_release_info *r, const lm_node_info *n)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)r->id);
	cJSON_AddStringToObject(o, "commit", r->commit);
	cJSON_AddItemToObject(o, "parent", id_or_null(r->parent));
	cJSON_AddStringToObject(o, "created_at", r->created_at);
	cJSON_AddItemToObject(o, "note", str_or_null(r->note));
	cJSON_AddBoolToObject(o, "current", r->id == n->current_release);
	cJSON_AddBoolToObject(o, "permanent", r->id == n->permanent_release);
	cJSON_AddItemToObject(o, "boot_failed", str_or_null(r->boot_failed));
	cJSON_AddItemToObject(o, "same_as", id_or_null(r->same_as));
	return o;
}

static cJSON *run_json(const lm_run_info *r)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)r->id);
	cJSON_AddNumberToObject(o, "plan", (double)r->plan_id);
	cJSON_AddNumberToObject(o, "from", (double)r->from_release);
	cJSON_AddNumberToObject(o, "to", (double)r->to_release);
	cJSON_AddStringToObject(o, "phase", r->phase);
	cJSON_AddStringToObject(o, "status", r->status);
	cJSON_AddItemToObject(o, "check", json_or_null(r->check));
	cJSON_AddItemToObject(o, "eval", json_or_null(r->eval));
	cJSON_AddItemToObject(o, "timings", json_or_null(r->timings));
	cJSON_AddStringToObject(o, "started_at", r->started_at);
	cJSON_AddItemToObject(o, "finished_at", str_or_null(r->finished_at));
	return o;
}

/* What became of a plan, in words: the runs say how an applied or failed
 * one went; these say what became of one that never got that far. */
static const char *plan_fate(const lm_plan_row *p, const lm_run_info *runs,
			     size_t nruns)
{
	const lm_run_info *last = NULL;

	for (size_t i = 0; i < nruns && !last; i++) /* runs: newest first */
		if (runs[i].plan_id == p->id)
			last = &runs[i];
	if (strcmp(p->status, "superseded") == 0)
		return "superseded by a later plan, never applied";
	if (strcmp(p->status, "planned") == 0)
		return "waiting to be applied";
	if (!last)
		return p->status;
	if (strcmp(last->status, "check_failed") == 0)
		return "check failed before the point of no return: never "
		       "applied, nothing changed";
	if (strcmp(last->status, "eval_failed") == 0)
		return "eval failed: the old versions kept serving";
	if (strcmp(last->status, "interrupted") == 0)
		return "interrupted by the node's death";
	return p->status;
}

static cJSON *plan_json(const lm_plan_row *p, const lm_run_info *runs,
			size_t nruns)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", (double)p->id);
	cJSON_AddNumberToObject(o, "from", (double)p->from_release);
	cJSON_AddNumberToObject(o, "to", (double)p->to_release);
	cJSON_AddStringToObject(o, "status", p->status);
	cJSON_AddStringToObject(o, "fate", plan_fate(p, runs, nruns));
	cJSON_AddStringToObject(o, "created_at", p->created_at);
	return o;
}

int lm_history_json(cJSON **out, lm_ledger *l)
{
	lm_node_info node = { 0 };
	lm_release_info *rels = NULL;
	lm_run_info *runs = NULL;
	lm_plan_row *plans = NULL;
	size_t nrels = 0, nruns = 0, nplans = 0, i;
	cJSON *o = NULL, *arr;
	int rc;

	*out = NULL;
	if ((rc = lm_ledger_node_get(l, &node)) < 0 ||
	    (rc = lm_ledger_release_list(l, &rels, &nrels)) < 0 ||
	    (rc = lm_ledger_run_list(l, &runs, &nruns)) < 0 ||
	    (rc = lm_ledger_plan_list(l, &plans, &nplans)) < 0)
		goto out;
	if (!(o = cJSON_CreateObject())) {
		rc = lm_error_set(LM_ERROR, "out of memory");
		goto out;
	}
	cJSON_AddItemToObject(o, "current", id_or_null(node.current_release));
	cJSON_AddItemToObject(o, "permanent",
			      id_or_null(node.permanent_release));
	arr = cJSON_AddArrayToObject(o, "releases");
	for (i = 0; i < nrels; i++)
		cJSON_AddItemToArray(arr, release_json(&rels[i], &node));
	arr = cJSON_AddArrayToObject(o, "runs");
	for (i = 0; i < nruns; i++)
		cJSON_AddItemToArray(arr, run_json(&runs[i]));
	arr = cJSON_AddArrayToObject(o, "plans");
	for (i = 0; i < nplans; i++)
		cJSON_AddItemToArray(arr, plan_json(&plans[i], runs, nruns));
	*out = o;
out:
	for (i = 0; i < nrels; i++)
		lm_release_info_clear(&rels[i]);
	for (i = 0; i < nruns; i++)
		lm_run_info_clear(&runs[i]);
	for (i = 0; i < nplans; i++)
		lm_plan_row_clear(&plans[i]);
	free(rels);
	free(runs);
	free(plans);
	lm_node_info_clear(&node);
	return rc;
}

int lm_make_permanent(lm_ledger *l, int64_t release, int64_t *made,
		      int64_t *was)
{
	lm_node_info now = { 0 };
	int rc;

	*made = *was = 0;
	if ((rc = lm_ledger_begin(l)) < 0)
		return rc;
	/* read under the write lock: an apply may just have moved it */
	rc = lm_ledger_node_get(l, &now);
	if (rc == 0 && release && release != now.current_release)
		rc = lm_error_set(LM_EINVAL, "the running node is on release "
				  "%lld: only the release it runs can be made "
				  "permanent (to run release %lld: livemod "
				  "rollback --to %lld)",
				  (long long)now.current_release,
				  (long long)release, (long long)release);
	else if (rc == 0 && now.current_release == now.permanent_release)
		rc = lm_error_set(LM_EINVAL, "nothing is current but not "
				  "permanent: release %lld is already "
				  "permanent",
				  (long long)now.permanent_release);
	if (rc == 0)
		rc = lm_ledger_node_set_permanent(l, now.id,
						  now.current_release);
	if (rc == 0)
		rc = lm_ledger_commit(l);
	if (rc < 0) {
		lm_ledger_rollback(l);
	} else {
		*made = now.current_release;
		*was = now.permanent_release;
	}
	lm_node_info_clear(&now);
	return rc;
}
