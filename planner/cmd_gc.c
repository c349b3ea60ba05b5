/*
 * cmd_gc.c - `livemod gc [--keep N] [--dry-run]`: asks the running node
 * which objects it has loaded, prunes through lib/gc.c and says what went
 * and what stayed (docs/housekeeping.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "client.h"
#include "error.h"
#include "gc.h"

/* The object ids the node has loaded: each module's current version and
 * its old versions awaiting purge. */
typedef struct loaded {
	char **v;
	size_t n;
	char *warning;  /* why they are unknown, when they are */
} loaded;

static int add_oid(loaded *l, const cJSON *version)
{
	const cJSON *oid = cJSON_GetObjectItemCaseSensitive(version, "oid");
	char **v;

	if (!cJSON_IsString(oid))
		return 0;
	if (!(v = realloc(l->v, (l->n + 1) * sizeof(*v))) ||
	    !(v[l->n] = strdup(oid->valuestring))) {
		if (v)
			l->v = v;
		return -1;
	}
	l->v = v;
	l->n++;
	return 0;
}

/* GET /modules: {"modules": [{"oid", "old": [{"oid"}...]}...]}. */
static int parse_modules(loaded *l, const char *body)
{
	cJSON *root = cJSON_Parse(body);
	const cJSON *mods = cJSON_GetObjectItemCaseSensitive(root, "modules");
	const cJSON *m, *old;
	int rc = cJSON_IsArray(mods) ? 0 : -1;

	if (rc < 0)
		mods = NULL;
	cJSON_ArrayForEach(m, mods) {
		rc |= add_oid(l, m);
		cJSON_ArrayForEach(old, cJSON_GetObjectItemCaseSensitive(m, "old"))
			rc |= add_oid(l, old);
	}
	cJSON_Delete(root);
	return rc;
}

/* What the node has loaded. No node: nothing. Any other answer than a
 * readable 200 leaves it unknown, and every object stays. */
static void ask_node(loaded *l, const char *dir)
{
	lm_client_response r = { 0 };
	int rc = lm_client_request(&r, dir, "GET", "/modules", NULL, 0);

	if (rc == LM_ENONODE)
		return;
	if (rc < 0)
		rc = asprintf(&l->warning, "cannot ask the node what it has "
			      "loaded (%s): every object in objects/ is kept",
			      lm_error_last());
	else if (r.status != 200 || parse_modules(l, r.body) < 0)
		rc = asprintf(&l->warning, "the node answered %ld to GET "
			      "/modules: every object in objects/ is kept",
			      r.status);
	if (rc < 0)
		l->warning = strdup("the node's loaded objects are unknown: "
				    "every object in objects/ is kept");
	lm_client_response_clear(&r);
}

static void loaded_clear(loaded *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->warning);
}

/* ---- printing ------------------------------------------------------------- */

static void print_ids(const int64_t *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf(" %lld", (long long)v[i]);
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static void print_human(const lm_gc_result *r, int dry_run)
{
	size_t i;

	printf("gc%s: ", dry_run ? " (dry run, nothing changed)" : "");
	if (r->npruned == 0 && r->nobjects == 0 && r->module_versions == 0) {
		printf("nothing to prune;");
	} else {
		printf("%s ", dry_run ? "would prune" : "pruned");
		if (r->npruned) {
			printf("%s", plural(r->npruned, "release", "releases"));
			print_ids(r->pruned, r->npruned);
		} else {
			printf("no release");
		}
		printf(" (%zu %s, %zu %s, %zu %s, %zu %s);", r->nplans,
		       plural(r->nplans, "plan", "plans"), r->runs,
		       plural(r->runs, "apply run", "apply runs"),
		       r->module_versions,
		       plural(r->module_versions, "module version",
			      "module versions"),
		       r->nobjects, plural(r->nobjects, "object", "objects"));
	}
	printf(" kept");
	print_ids(r->kept, r->nkept);
	printf(": current %lld, permanent %lld", (long long)r->current,
	       (long long)r->permanent);
	if (r->booted && r->booted != r->current && r->booted != r->permanent)
		printf(", booted %lld (what a failed boot falls back to)",
		       (long long)r->booted);
	putchar('\n');
	if (r->nplans) {
		printf("  plans:");
		print_ids(r->plans, r->nplans);
		printf("\n");
	}
	for (i = 0; i < r->nobjects; i++)
		printf("%s objects/%s.so", i ? "" : "  objects:", r->objects[i]);
	if (r->nobjects)
		printf("\n");
}

static cJSON *ids_json(const int64_t *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
	return a;
}

static void print_json(const lm_gc_result *r, int dry_run,
		       const char *node_warning)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *p = cJSON_AddObjectToObject(root, "pruned");
	cJSON *objs, *warns;
	size_t i;

	cJSON_AddItemToObject(p, "releases", ids_json(r->pruned, r->npruned));
	cJSON_AddItemToObject(p, "plans", ids_json(r->plans, r->nplans));
	cJSON_AddNumberToObject(p, "apply_runs", (double)r->runs);
	cJSON_AddNumberToObject(p, "module_versions",
				(double)r->module_versions);
	objs = cJSON_AddArrayToObject(p, "objects");
	for (i = 0; i < r->nobjects; i++)
		cJSON_AddItemToArray(objs, cJSON_CreateString(r->objects[i]));
	cJSON_AddItemToObject(root, "kept", ids_json(r->kept, r->nkept));
	cJSON_AddNumberToObject(root, "current", (double)r->current);
	cJSON_AddNumberToObject(root, "permanent", (double)r->permanent);
	cJSON_AddNumberToObject(root, "booted", (double)r->booted);
	cJSON_AddBoolToObject(root, "dry_run", dry_run);
	warns = cJSON_AddArrayToObject(root, "warnings");
	if (node_warning)
		cJSON_AddItemToArray(warns, cJSON_CreateString(node_warning));
	for (i = 0; i < r->nwarnings; i++)
		cJSON_AddItemToArray(warns, cJSON_CreateString(r->warnings[i]));
	cli_print_json_text(cJSON_Print(root));
	cJSON_Delete(root);
}

int cmd_gc(cli *c)
{
	const char *dir = cli_state_dir(c);
	lm_gc_opts o = { 0 };
	lm_gc_result r = { 0 };
	loaded l = { 0 };
	lm_state st;
	size_t i;
	int rc;

	if (!dir)
		return 2;
	/* a dry run opens the ledger read-only: it cannot change it */
	if ((rc = lm_state_open(&st, dir, c->dry_run)) < 0)
		return cli_fail(c, rc);
	ask_node(&l, dir);
	o.keep = c->keep ? c->keep : LM_GC_KEEP_DEFAULT;
	o.dry_run = c->dry_run;
	o.loaded = (const char *const *)l.v;
	o.nloaded = l.n;
	o.loaded_unknown = l.warning != NULL;
	if ((rc = lm_gc_run(&r, &st, &o)) < 0) {
		rc = cli_fail(c, rc);
	} else {
		if (l.warning)
			fprintf(stderr, "livemod gc: warning: %s\n", l.warning);
		for (i = 0; i < r.nwarnings; i++)
			fprintf(stderr, "livemod gc: warning: %s\n",
				r.warnings[i]);
		if (c->json)
			print_json(&r, c->dry_run, l.warning);
		else
			print_human(&r, c->dry_run);
	}
	lm_gc_result_clear(&r);
	loaded_clear(&l);
	lm_state_close(&st);
	return rc;
}
