/*
 * cmd_transport.c - `livemod fetch REMOTE [RELEASE]`, `livemod push REMOTE
 * [RELEASE]` and `livemod stage RELEASE`: releases between a node's store
 * and a fleet repository, and from the store into the libdir
 * (docs/fleet.md).
 *
 * Between nodes a release is named by its tree (lib/transport.h); push
 * takes the node's own release number. Each command also says which
 * release the node runs now and its tree ("current"), which is what a
 * rollout's skew guard compares: fetch --dry-run asks the remote and
 * writes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "error.h"
#include "fsutil.h"
#include "stage.h"
#include "transport.h"

/* What the three commands open: the ledger (read-only: none of them
 * records anything) and the store, and the node's current release. */
typedef struct node_store {
	lm_state st;
	lm_store *store;
	lm_release_info current;
	char tree[LM_OID_HEXSZ + 1]; /* the current release's */
} node_store;

static int node_open(node_store *ns, const cli *c)
{
	char *path;
	int rc;

	memset(ns, 0, sizeof(*ns));
	if ((rc = lm_state_open(&ns->st, c->state, 1)) < 0)
		return rc;
	if (!(path = lm_path_join(c->state, "store.git")))
		rc = lm_error_set(LM_ERROR, "out of memory");
	else
		rc = lm_store_open(&ns->store, path, 0);
	free(path);
	if (rc == 0)
		rc = lm_ledger_release_get(ns->st.ledger,
					   ns->st.node.current_release,
					   &ns->current);
	if (rc == 0)
		rc = lm_store_commit_tree(ns->store, ns->tree,
					  ns->current.commit);
	return rc;
}

static void node_close(node_store *ns)
{
	lm_release_info_clear(&ns->current);
	lm_store_free(ns->store);
	lm_state_close(&ns->st);
}

static cJSON *current_json(const node_store *ns)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "release", (double)ns->current.id);
	cJSON_AddStringToObject(o, "commit", ns->current.commit);
	cJSON_AddStringToObject(o, "tree", ns->tree);
	return o;
}

static cJSON *release_json(const lm_fleet_release *r)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "tree", r->tree);
	cJSON_AddStringToObject(o, "commit", r->commit);
	if (r->parent_tree[0])
		cJSON_AddStringToObject(o, "parent_tree", r->parent_tree);
	else
		cJSON_AddNullToObject(o, "parent_tree");
	return o;
}

static void print_current(const node_store *ns)
{
	printf("this node runs release %lld (tree %s)\n",
	       (long long)ns->current.id, ns->tree);
}

int cmd_fetch(cli *c)
{
	const char *url = c->args[0];
	const char *want = c->nargs > 1 ? c->args[1] : NULL;
	lm_fleet_release *rels = NULL;
	char tmp[64];
	char *tmp_dir = NULL;
	node_store ns;
	size_t n = 0, i;
	cJSON *o, *arr;
	int rc;

	if (!cli_state_dir(c))
		return 2;
	if ((rc = node_open(&ns, c)) == 0)
		rc = lm_transport_list(&rels, &n, ns.store, url, want);
	if (rc == 0 && !c->dry_run) {
		snprintf(tmp, sizeof(tmp), "fetch.tmp.%ld", (long)getpid());
		if (!(tmp_dir = lm_path_join(c->state, tmp)))
			rc = lm_error_set(LM_ERROR, "out of memory");
		else
			rc = lm_transport_fetch(ns.store, tmp_dir, url, rels, n);
	}
	free(tmp_dir);
	if (rc < 0) {
		free(rels);
		node_close(&ns);
		return cli_fail(c, rc);
	}
	if (c->json) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "remote", url);
		cJSON_AddBoolToObject(o, "dry_run", c->dry_run);
		arr = cJSON_AddArrayToObject(o, "releases");
		for (i = 0; i < n; i++)
			cJSON_AddItemToArray(arr, release_json(&rels[i]));
		cJSON_AddItemToObject(o, "current", current_json(&ns));
		cli_print_json_text(cJSON_Print(o));
		cJSON_Delete(o);
	} else {
		for (i = 0; i < n; i++) {
			printf("%s release %s (commit %.12s", c->dry_run
			       ? "would fetch" : "fetched", rels[i].tree,
			       rels[i].commit);
			if (rels[i].parent_tree[0])
				printf(", planned from tree %.12s",
				       rels[i].parent_tree);
			printf(") from %s\n", url);
		}
		print_current(&ns);
	}
	free(rels);
	node_close(&ns);
	return 0;
}

/* push's RELEASE: the node's own release number; its current one when
 * not given. */
static int push_release(const cli *c, const node_store *ns, long long *out)
{
	const char *arg = c->nargs > 1 ? c->args[1] : NULL;
	size_t len = arg ? strlen(arg) : 0;

	*out = ns->current.id;
	if (!arg)
		return 0;
	if (len == 0 || len > 18 || strspn(arg, "0123456789") != len ||
	    (*out = atoll(arg)) <= 0)
		return lm_error_set(LM_EINVAL, "RELEASE is this node's release "
				    "number (see 'livemod history'), got "
				    "'%s'", arg);
	return 0;
}

int cmd_push(cli *c)
{
	const char *url = c->args[0];
	lm_release_info rel = { 0 };
	char tree[LM_OID_HEXSZ + 1] = "", ref[128];
	long long id = 0;
	node_store ns;
	int pushed = 0, rc;
	cJSON *o;

	if (!cli_state_dir(c))
		return 2;
	if ((rc = node_open(&ns, c)) == 0 &&
	    (rc = push_release(c, &ns, &id)) == 0 &&
	    (rc = lm_ledger_release_get(ns.st.ledger, id, &rel)) == LM_ENOTFOUND)
		rc = lm_error_set(rc, "no release %lld (see 'livemod history')",
				  id);
	if (rc == 0 &&
	    (rc = lm_store_commit_tree(ns.store, tree, rel.commit)) == 0)
		rc = lm_transport_push(&pushed, ns.store, url, id, rel.commit,
				       tree);
	if (rc < 0) {
		lm_release_info_clear(&rel);
		node_close(&ns);
		return cli_fail(c, rc);
	}
	if (c->json) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "remote", url);
		cJSON_AddNumberToObject(o, "release", (double)id);
		cJSON_AddStringToObject(o, "commit", rel.commit);
		cJSON_AddStringToObject(o, "tree", tree);
		snprintf(ref, sizeof(ref), LM_FLEET_REFS "%s", tree);
		cJSON_AddStringToObject(o, "ref", ref);
		cJSON_AddBoolToObject(o, "pushed", pushed);
		cli_print_json_text(cJSON_Print(o));
		cJSON_Delete(o);
	} else {
		printf("%s release %lld (tree %s) %s %s\n",
		       pushed ? "pushed" : "not pushed:", id, tree,
		       pushed ? "to" : "already in", url);
	}
	lm_release_info_clear(&rel);
	node_close(&ns);
	return 0;
}

static cJSON *list_json(const lm_stage_list *l)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < l->n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(l->v[i]));
	return a;
}

static void print_list(const char *label, const lm_stage_list *l)
{
	size_t i;

	if (!l->n)
		return;
	printf("%s:", label);
	for (i = 0; i < l->n; i++)
		printf(" %s", l->v[i]);
	putchar('\n');
}

int cmd_stage(cli *c)
{
	lm_store_entry *cur = NULL;
	lm_stage_result r = { 0 };
	lm_fleet_release rel;
	size_t ncur = 0;
	node_store ns;
	cJSON *o;
	int rc;

	if (!cli_state_dir(c))
		return 2;
	if ((rc = node_open(&ns, c)) == 0 &&
	    (rc = lm_transport_local(&rel, ns.store, c->args[0])) == 0 &&
	    (rc = lm_store_tree_entries(ns.store, ns.tree, &cur, &ncur)) == 0)
		rc = lm_stage_tree(&r, ns.store, ns.st.node.libdir, rel.tree,
				   cur, ncur, c->dry_run);
	lm_store_entries_free(cur, ncur);
	if (rc < 0) {
		node_close(&ns);
		return cli_fail(c, rc);
	}
	if (c->json) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "tree", rel.tree);
		cJSON_AddStringToObject(o, "libdir", ns.st.node.libdir);
		cJSON_AddBoolToObject(o, "dry_run", c->dry_run);
		cJSON_AddItemToObject(o, "written", list_json(&r.written));
		cJSON_AddItemToObject(o, "unchanged", list_json(&r.unchanged));
		cJSON_AddItemToObject(o, "removed", list_json(&r.removed));
		cJSON_AddItemToObject(o, "extra", list_json(&r.extra));
		cJSON_AddItemToObject(o, "current", current_json(&ns));
		cli_print_json_text(cJSON_Print(o));
		cJSON_Delete(o);
	} else {
		printf("%s release %s in %s: %zu written, %zu unchanged, "
		       "%zu removed\n", c->dry_run ? "would stage" : "staged",
		       rel.tree, ns.st.node.libdir, r.written.n,
		       r.unchanged.n, r.removed.n);
		print_list("written", &r.written);
		print_list("removed", &r.removed);
		print_list("extra (in neither release; the next update takes "
			   "them in)", &r.extra);
		print_current(&ns);
		if (!c->dry_run)
			printf("inert until applied: run 'livemod update' (or "
			       "'update --try')\n");
	}
	lm_stage_result_clear(&r);
	node_close(&ns);
	return 0;
}
