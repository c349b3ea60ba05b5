/*
 * cmd_plan.c - the commands that diff libdir against the node's current
 * release: `plan`, `update_list`, `update_info`.
 *
 * All three compute the same plan; only `plan` without --dry-run records
 * it. The read-only ones open the ledger read-only and never wait for its
 * write lock: their one write is the stat cache's refresh (files read
 * again because they were racy, now settled), on a connection of its own
 * that gives up at once when another writer holds the lock.
 *
 * LIVEMOD_SCAN_STATS=1 prints what the scan did on stderr (files, read,
 * written back), for tests and benchmarks to see the cache at work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "client.h"
#include "error.h"
#include "fsutil.h"
#include "heap.h"

/* new_set shares the scan's descriptors: cleared before it. */
typedef struct planned {
	lm_state st;
	lm_scan scan;
	lm_modset new_set;
	lm_plan *plan; /* NULL when nothing changed */
} planned;

static void planned_clear(planned *pl)
{
	lm_plan_free(pl->plan);
	lm_modset_clear(&pl->new_set);
	lm_scan_clear(&pl->scan);
	lm_state_close(&pl->st);
}

static void print_warnings(const cli *c, const lm_scan *scan)
{
	size_t i;

	for (i = 0; i < scan->nwarnings; i++)
		fprintf(stderr, "livemod %s: warning: %s\n", c->cmd,
			scan->warnings[i]);
}

/* Writes back what the scan read that the cache may now vouch for. Never
 * fails the command: without the refresh, the next scan reads those
 * files again, as it did before. */
static void refresh(const cli *c, planned *pl)
{
	const char *stats = getenv("LIVEMOD_SCAN_STATS");
	size_t written = 0;
	int rc = lm_planning_refresh_stats(&pl->st, &pl->scan, &written);

	if (!stats || strcmp(stats, "1") != 0)
		return;
	fprintf(stderr, "livemod %s: scan: %zu files, %zu read, %zu written "
		"back to the stat cache", c->cmd, pl->scan.nstats,
		pl->scan.nread, written);
	if (rc < 0)
		fprintf(stderr, " (refresh skipped: %s)", lm_error_last());
	fputc('\n', stderr);
}

/* What SQLite's page cache will hold: at most its 2 MB, at most the
 * ledger (a libdir of 300 modules has a 300 KB ledger, and populating
 * 2 MB it never touches cost more than the faults it saved). */
static size_t page_cache_bytes(const char *dir)
{
	char *path = lm_path_join(dir, "ledger.db");
	struct stat sb;
	size_t n = 2u << 20;

	if (path && stat(path, &sb) == 0 && (size_t)sb.st_size < n)
		n = (size_t)sb.st_size;
	free(path);
	return n;
}

/* Opens the state, scans libdir and computes the plan. */
static int compute(planned *pl, const cli *c, int readonly)
{
	lm_plan_opts o = { 0 };
	const char *dir = cli_state_dir(c);
	int64_t cached = 0;
	int rc;

	memset(pl, 0, sizeof(*pl));
	if (!dir)
		return lm_error_set(LM_EINVAL, "no state dir");
	o.purge = c->purge;
	o.only = (const char *const *)c->args;
	o.nonly = c->nargs;
	o.extras = c->extras;
	o.nextras = c->nextras;
	/* The listing runs while the heap is readied. What a scan allocates,
	 * per module of the stat cache: its entry, the release's descriptor,
	 * the new set's entry (~500 bytes in all: more took no fewer faults),
	 * beside SQLite's page cache (2 MB). Measured: a warm plan of 10,000
	 * modules took 3,200 page faults, ~600 with this. The cache is only read here; `plan`
	 * rewrites it when it records. */
	if ((rc = lm_state_open(&pl->st, dir, readonly)) < 0 ||
	    (rc = lm_scan_start(&pl->scan, pl->st.node.libdir)) < 0 ||
	    (rc = lm_ledger_stat_count(pl->st.ledger, &cached)) < 0)
		return rc;
	lm_heap_reserve(page_cache_bytes(dir) + (size_t)cached * 512);
	if ((rc = lm_scan_finish(&pl->scan, pl->st.ledger)) < 0)
		return rc;
	print_warnings(c, &pl->scan);
	if ((rc = lm_planning_compute(&pl->plan, &pl->new_set, &pl->st,
				      &pl->scan, &o)) < 0)
		return rc;
	/* a recording plan rewrites the whole cache anyway */
	if (readonly || !pl->plan)
		refresh(c, pl);
	return 0;
}

int cmd_plan(cli *c)
{
	planned pl;
	int rc;

	if ((rc = compute(&pl, c, c->dry_run)) < 0)
		goto out;
	if (!pl.plan) {
		if (c->json)
			printf("{\"plan\": null, \"release\": %lld}\n",
			       (long long)pl.st.node.current_release);
		else
			printf("nothing to plan: libdir matches release %lld\n",
			       (long long)pl.st.node.current_release);
		goto out;
	}
	/* a plan the node's check must refuse is not recorded */
	if ((rc = lm_planning_check(&pl.st, pl.plan)) < 0 ||
	    (!c->dry_run &&
	     (rc = lm_planning_record(&pl.st, pl.plan, &pl.new_set,
				      &pl.scan)) < 0))
		goto out;
	if (c->json)
		cli_print_plan_json(pl.plan);
	else
		cli_print_plan(pl.plan, 1);
out:
	planned_clear(&pl);
	return rc < 0 ? cli_fail(c, rc) : 0;
}

/* update_list's line for one module, or with --json its object in arr */
static void list_module(cJSON *arr, const char *name, const char *change)
{
	cJSON *o;

	if (!arr) {
		printf("%s\n", name);
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "module", name);
	cJSON_AddStringToObject(o, "change", change);
	cJSON_AddItemToArray(arr, o);
}

/*
 * update_list as the running node answers it (GET /update-modules), as
 * ejabberdctl update_list asks the running node: the node has SQLite
 * loaded and the ledger open, where the command alone would load the
 * library and read the schema (~2.5 ms of its 7, docs/BENCHMARKS.md).
 * Returns 1 when it printed the list, 0 when the command must compute it
 * itself: no node, or one that did not answer 200. A list of some
 * modules (arguments, --extra) and LIVEMOD_SCAN_STATS (the command's own
 * scan) are the command's.
 */
static int list_from_node(const cli *c)
{
	const cJSON *m, *w, *plan;
	lm_client_response r;
	const char *stats = getenv("LIVEMOD_SCAN_STATS");
	cJSON *root = NULL, *arr = NULL;
	int done = 0;

	if (c->nargs || c->nextras || (stats && strcmp(stats, "1") == 0) ||
	    !c->state || !*c->state ||
	    lm_client_request(&r, c->state, "GET", "/update-modules", NULL,
			      0) < 0)
		return 0;
	if (r.status != 200 || !(root = cJSON_ParseWithLength(r.body, r.len)))
		goto out;
	plan = cJSON_GetObjectItemCaseSensitive(root, "plan");
	w = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(root, "check"), "ok");
	cJSON_ArrayForEach(m, w)
		if (cJSON_IsString(m))
			fprintf(stderr, "livemod %s: warning: %s\n", c->cmd,
				m->valuestring);
	if (c->json)
		arr = cJSON_CreateArray();
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(plan, "modules")) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
		const cJSON *ch = cJSON_GetObjectItemCaseSensitive(m, "change");

		if (cJSON_IsString(name) && cJSON_IsString(ch))
			list_module(arr, name->valuestring, ch->valuestring);
	}
	if (arr)
		cli_print_json_text(cJSON_Print(arr));
	done = 1;
out:
	cJSON_Delete(arr);
	cJSON_Delete(root);
	lm_client_response_clear(&r);
	return done;
}

int cmd_update_list(cli *c)
{
	cJSON *arr = NULL;
	planned pl;
	size_t i;
	int rc;

	if (list_from_node(c))
		return 0;
	if ((rc = compute(&pl, c, 1)) < 0)
		goto out;
	if (c->json)
		arr = cJSON_CreateArray();
	for (i = 0; pl.plan && i < pl.plan->nmodules; i++)
		list_module(arr, pl.plan->modules[i].name,
			    lm_change_name(pl.plan->modules[i].change));
	if (arr)
		cli_print_json_text(cJSON_Print(arr));
out:
	cJSON_Delete(arr);
	planned_clear(&pl);
	return rc < 0 ? cli_fail(c, rc) : 0;
}

/* DESIGN.md's update_info, in OTP's words:
 *   libdir: ...  modules: ...  script: [...]  low level script: [...]
 *   check: {ok,[Warnings]} | {error,Reason} */
int cmd_update_info(cli *c)
{
	char *check_err = NULL;
	planned pl;
	size_t i;
	int rc;

	if ((rc = compute(&pl, c, 1)) < 0) {
		if (!c->json)
			printf("check: {error,\"%s\"}\n", lm_error_last());
		goto out;
	}
	if (pl.plan && (rc = lm_planning_check(&pl.st, pl.plan)) < 0 &&
	    !(check_err = strdup(lm_error_last()))) {
		rc = lm_error_set(LM_ERROR, "out of memory");
		goto out;
	}
	if (c->json) {
		cJSON *o = lm_update_info_json(pl.st.node.libdir,
					       pl.st.node.current_release,
					       pl.plan, &pl.scan, check_err);

		cli_print_json_text(cJSON_Print(o));
		cJSON_Delete(o);
		goto out;
	}
	printf("libdir: %s\nmodules:", pl.st.node.libdir);
	for (i = 0; pl.plan && i < pl.plan->nmodules; i++)
		printf(" %s", pl.plan->modules[i].name);
	printf("\n");
	cli_print_script("script", pl.plan ? &pl.plan->script : NULL, pl.plan);
	cli_print_script("low level script",
			  pl.plan ? &pl.plan->low_level : NULL, pl.plan);
	if (check_err) {
		printf("check: {error,\"%s\"}\n", check_err);
		goto out;
	}
	printf("check: {ok,[");
	for (i = 0; i < pl.scan.nwarnings; i++)
		printf("%s\"%s\"", i ? "," : "", pl.scan.warnings[i]);
	printf("]}\n");
out:
	planned_clear(&pl);
	if (check_err) /* the check's error, printed above, is the answer */
		lm_error_set(rc, "%s", check_err);
	free(check_err);
	return rc < 0 ? cli_fail(c, rc) : 0;
}
