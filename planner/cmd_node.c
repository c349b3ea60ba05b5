/*
 * cmd_node.c - the commands that talk to the running node through its
 * control API (docs/control-api.md): `update`, `apply`, `status`.
 *
 * The node does the work; these commands send one request, print the
 * answer for a person (or, with --json, the answer's body as it came) and
 * turn the answer's error code into DESIGN.md's exit status: 1 check or
 * eval failed or busy, 2 bad input (a stale plan too), 3 no running node,
 * 4 the node busy (no room for the request on its control API).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "client.h"
#include "error.h"
#include "fsutil.h"

/* ---- the answer of an apply or an update -------------------------------- */

static void print_term(const char *label, const cJSON *v, const char *absent)
{
	char *text = cli_term_text(v);

	printf("%s: %s\n", label, text ? text : absent);
	free(text);
}

/* The objects the plan loads, as the node extracts them from the store
 * (and logs them): "objects: objects/<oid>.so ...". */
static void print_objects(const lm_plan *p)
{
	size_t i;
	int any = 0;

	printf("objects:");
	for (i = 0; i < p->nmodules; i++) {
		if (!p->modules[i].new_side)
			continue;
		printf(" objects/%s.so", p->modules[i].new_side->oid);
		any = 1;
	}
	printf("%s\n", any ? "" : " none");
}

/* The plan an answer carries: the plan itself, or its id (then read from
 * the node). NULL, with no error, when the answer has none. */
static lm_plan *answer_plan(const cli *c, const cJSON *plan)
{
	lm_client_response r;
	lm_plan *p = NULL;
	char *text, path[64];

	if (cJSON_IsObject(plan)) {
		if (!(text = cJSON_PrintUnformatted(plan)))
			return NULL;
		if (lm_plan_from_json(&p, text, strlen(text),
				      "the node's answer: plan") < 0)
			fprintf(stderr, "livemod %s: %s\n", c->cmd,
				lm_error_last());
		free(text);
		return p;
	}
	if (!cJSON_IsNumber(plan) || plan->valuedouble < 1)
		return NULL;
	snprintf(path, sizeof(path), "/plans/%lld", (long long)plan->valuedouble);
	if (lm_client_request(&r, c->state, "GET", path, NULL, 0) == 0 &&
	    r.status == 200 &&
	    lm_plan_from_json(&p, r.body, r.len, "the node's plan") < 0)
		fprintf(stderr, "livemod %s: %s\n", c->cmd, lm_error_last());
	lm_client_response_clear(&r);
	return p;
}

/* An apply's or update's answer for a person: the plan's objects and
 * scripts, then check and eval. */
static void print_result(const cli *c, const cJSON *root)
{
	const cJSON *plan = cJSON_GetObjectItemCaseSensitive(root, "plan");
	const cJSON *check = cJSON_GetObjectItemCaseSensitive(root, "check");
	const cJSON *w;
	lm_plan *p;

	/* the scan's warnings, as `plan` and `update_list` print them */
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(root, "warnings"))
		if (cJSON_IsString(w))
			fprintf(stderr, "livemod %s: warning: %s\n", c->cmd,
				w->valuestring);
	if (!plan || cJSON_IsNull(plan)) {
		if (cJSON_GetObjectItemCaseSensitive(root, "release"))
			printf("nothing to update: libdir matches release "
			       "%lld\n", cli_json_num(root, "release"));
		else
			printf("nothing to update: libdir matches the node's "
			       "release\n");
		if (!check)
			return;
	} else if ((p = answer_plan(c, plan))) {
		printf("plan %lld: release %lld -> %lld%s\n", (long long)p->id,
		       (long long)p->from_release, (long long)p->to_release,
		       p->direction == LM_DOWN ? " (down)" : "");
		print_objects(p);
		cli_print_script("script", &p->script, p);
		cli_print_script("low level script", &p->low_level, p);
		lm_plan_free(p);
	}
	print_term("check", check, "-");
	/* a failed check stops before point_of_no_return: no eval */
	print_term("eval", cJSON_GetObjectItemCaseSensitive(root, "eval"),
		   "not reached");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "permanent")))
		printf("release %lld is current and permanent\n",
		       cli_json_num(root, "to"));
	else if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root,
							       "permanent")) &&
		 !cJSON_GetObjectItemCaseSensitive(root, "error"))
		printf("release %lld is current, not permanent: a restart "
		       "undoes it until 'livemod make_permanent'\n",
		       cli_json_num(root, "to"));
}

/* ---- one request ----------------------------------------------------------- */

typedef void (*print_fn)(const cli *c, const cJSON *root);

/*
 * Sends the request and reports the answer: with --json its body as it
 * came, else through `print` (for errors too, when the body carries more
 * than the error: a failed check or eval). Returns the exit status.
 */
static int request(cli *c, const char *method, const char *path,
		   const char *body, size_t len, print_fn print)
{
	lm_client_response r;
	cJSON *root;
	int rc = 0, ok;

	if (!cli_state_dir(c))
		return 2;
	if ((rc = lm_client_request(&r, c->state, method, path, body, len)) < 0)
		return cli_fail(c, rc);
	root = cJSON_ParseWithLength(r.body, r.len);
	ok = r.status >= 200 && r.status <= 299 && cJSON_IsObject(root);
	if (!cJSON_IsObject(root)) {
		/* nothing to show but the error */
	} else if (c->json) {
		/* the body as it came, an error object included */
		fputs(r.body, stdout);
		if (r.len && r.body[r.len - 1] != '\n')
			putchar('\n');
	} else if (ok || cJSON_GetObjectItemCaseSensitive(root, "check")) {
		print(c, root);
	}
	/* the error last: printing may have set another */
	if (r.status < 200 || r.status > 299)
		rc = lm_client_error(&r);
	else if (!ok)
		rc = lm_error_set(LM_ERROR, "the node's answer to %s %s is not "
				  "a JSON object", method, path);
	fflush(stdout); /* the answer, then the error */
	if (rc < 0 && c->json && cJSON_IsObject(root)) {
		fprintf(stderr, "livemod %s: %s\n", c->cmd, lm_error_last());
		rc = lm_error_exit_status(rc);
	} else if (rc < 0) {
		rc = cli_fail(c, rc);
	}
	cJSON_Delete(root);
	lm_client_response_clear(&r);
	return rc;
}

int cli_node_apply(cli *c, const char *method, const char *path,
		   const char *body, size_t len)
{
	return request(c, method, path, body, len, print_result);
}

int cli_node_running(const cli *c)
{
	lm_client_response r;
	int rc = lm_client_request(&r, c->state, "GET", "/health", NULL, 0);

	if (rc == LM_ENONODE)
		return 0;
	if (rc < 0)
		return rc;
	lm_client_response_clear(&r);
	return 1;
}

/* ---- the commands ------------------------------------------------------------ */

const char *cli_try_path(const cli *c, const char *path)
{
	static char buf[96];

	snprintf(buf, sizeof(buf), "%s%s", path, c->try_only ? "?try=1" : "");
	return buf;
}

/* `update` with no operand or "all": every modified module; else those
 * named, as {"modules": [...]}. */
int cmd_update(cli *c)
{
	cJSON *body, *mods;
	char *text;
	size_t i;
	int rc;

	if (c->nargs == 0 || (c->nargs == 1 && strcmp(c->args[0], "all") == 0))
		return request(c, "GET", cli_try_path(c, "/update-modules/all"),
			       NULL, 0, print_result);
	for (i = 0; i < c->nargs; i++)
		if (strcmp(c->args[i], "all") == 0 ||
		    !lm_module_name_valid(c->args[i]))
			return cli_usage(c, "'%s' is not a module name%s",
					 c->args[i],
					 strcmp(c->args[i], "all") == 0
						 ? " here: 'all' stands alone"
						 : "");
	body = cJSON_CreateObject();
	mods = cJSON_AddArrayToObject(body, "modules");
	for (i = 0; i < c->nargs; i++)
		cJSON_AddItemToArray(mods, cJSON_CreateString(c->args[i]));
	if (!(text = cJSON_PrintUnformatted(body))) {
		cJSON_Delete(body);
		return cli_fail(c, lm_error_set(LM_ERROR, "out of memory"));
	}
	rc = request(c, "POST", cli_try_path(c, "/update-modules"), text,
		     strlen(text), print_result);
	free(text);
	cJSON_Delete(body);
	return rc;
}

/* The id of the plan in file `path`, read and validated as `livemod show`
 * reads it, so a hand-edited plan is refused with the field that is
 * wrong; a dry run's plan has none. */
static int file_plan_id(long long *id, const char *path)
{
	lm_plan *p = NULL;
	int rc = lm_plan_load_file(&p, path);

	if (rc == 0 && p->id < 1)
		rc = lm_error_set(LM_EINVAL, "%s: id: null, a dry run's plan "
				  "(only a recorded plan can be applied: run "
				  "livemod plan)", path);
	if (rc == 0)
		*id = (long long)p->id;
	lm_plan_free(p);
	return rc;
}

/* `apply PLAN`: "12" is plan 12 as recorded; anything else is a plan
 * file, whose text goes along so the node applies only the very plan
 * that was reviewed (a changed one is refused). */
int cmd_apply(cli *c)
{
	const char *arg = c->args[0];
	char path[64];
	void *text = NULL;
	size_t len = 0;
	long long id = 0;
	int rc;

	if (arg[0] && strspn(arg, "0123456789") == strlen(arg)) {
		id = strlen(arg) <= 18 ? atoll(arg) : 0;
		if (id < 1)
			return cli_usage(c, "no plan %s: plan ids are 1 to 18 digits",
					 arg);
	} else {
		if ((rc = lm_file_read(&text, &len, arg)) < 0 ||
		    (rc = file_plan_id(&id, arg)) < 0) {
			if (rc == LM_ENOTFOUND)
				lm_error_set(LM_ENOTFOUND, "no plan file %s",
					     arg);
			free(text);
			return cli_fail(c, rc);
		}
	}
	snprintf(path, sizeof(path), "/plans/%lld/apply", id);
	rc = request(c, "POST", cli_try_path(c, path), text, len, print_result);
	free(text);
	return rc;
}

/* `status`, one line a module, its old versions below it:
 *   mod_a  1.1.0  3f2a1b4c5d6e  pins 2
 *     old 1.0.0 (9e8d7c6b5a49) pins 1, retiring
 *   release 3 */
static void print_status(const cli *c, const cJSON *root)
{
	const cJSON *mods = cJSON_GetObjectItemCaseSensitive(root, "modules");
	const cJSON *m, *o;
	int wname = 0, wvsn = 0;

	(void)c;
	cJSON_ArrayForEach(m, mods) {
		if ((int)strlen(cli_json_str(m, "name", "-")) > wname)
			wname = (int)strlen(cli_json_str(m, "name", "-"));
		if ((int)strlen(cli_json_str(m, "vsn", "-")) > wvsn)
			wvsn = (int)strlen(cli_json_str(m, "vsn", "-"));
	}
	cJSON_ArrayForEach(m, mods) {
		printf("%-*s  %-*s  %.12s  pins %lld%s\n", wname,
		       cli_json_str(m, "name", "-"), wvsn, cli_json_str(m, "vsn", "-"),
		       cli_json_str(m, "oid", "-"), cli_json_num(m, "pins"),
		       cli_json_true(m, "suspended") ? "  suspended" : "");
		if ((o = cJSON_GetObjectItemCaseSensitive(m, "staged")))
			printf("  staged %s (%.12s), not serving yet\n",
			       cli_json_str(o, "vsn", "-"),
			       cli_json_str(o, "oid", "-"));
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(m, "old"))
			printf("  old %s (%.12s) pins %lld, %s\n",
			       cli_json_str(o, "vsn", "-"), cli_json_str(o, "oid", "-"),
			       cli_json_num(o, "pins"),
			       cli_json_true(o, "retiring") ? "retiring"
						      : "awaiting purge");
	}
	printf("release %lld\n", cli_json_num(root, "release"));
	if (cJSON_GetObjectItemCaseSensitive(root, "fallback_from"))
		printf("BOOT FALLBACK: release %lld failed to boot (%s); the "
		       "node runs release %lld, the last that booted\n",
		       cli_json_num(root, "fallback_from"),
		       cli_json_str(root, "reason", "?"),
		       cli_json_num(root, "release"));
}

int cmd_status(cli *c)
{
	return request(c, "GET", "/modules", NULL, 0, print_status);
}
