/*
 * cli.c - error reporting and plan printing shared by the subcommands.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "fsutil.h"

static void print_error_json(int rc, const char *msg)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *err = cJSON_AddObjectToObject(root, "error");

	cJSON_AddStringToObject(err, "code", lm_error_name(rc));
	cJSON_AddStringToObject(err, "message", msg);
	cli_print_json_text(cJSON_Print(root));
	cJSON_Delete(root);
}

int cli_fail(const cli *c, int rc)
{
	fprintf(stderr, "livemod %s: %s\n", c->cmd, lm_error_last());
	if (c->json)
		print_error_json(rc, lm_error_last());
	return lm_error_exit_status(rc);
}

int cli_usage(const cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "livemod %s: ", c->cmd);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 2;
}

const char *cli_state_dir(const cli *c)
{
	if (!c->state || !*c->state)
		cli_usage(c, "no state dir: give --state DIR or set "
			     "LIVEMOD_STATE");
	return c->state && *c->state ? c->state : NULL;
}

void cli_print_json_text(char *text)
{
	if (text)
		printf("%s\n", text);
	free(text);
}

static void print_side(const lm_plan_side *s)
{
	if (s)
		printf("%s (%.12s)", s->desc->vsn, s->oid);
	else
		printf("-");
}

void cli_print_script(const char *label, const lm_script *s,
		      const lm_plan *p)
{
	char *text = lm_script_labelled(label, s, p);

	printf("%s\n", text ? text : label);
	free(text);
}

void cli_print_plan(const lm_plan *p, int with_downgrade)
{
	size_t i;

	if (p->id)
		printf("plan %lld: release %lld -> %lld (plans/%lld.json)\n",
		       (long long)p->id, (long long)p->from_release,
		       (long long)p->to_release, (long long)p->id);
	else if (p->to_release)
		printf("plan (dry run, nothing written): release %lld -> "
		       "%lld\n", (long long)p->from_release,
		       (long long)p->to_release);
	else
		printf("plan (dry run, nothing written): release %lld -> new\n",
		       (long long)p->from_release);
	if (p->direction == LM_DOWN)
		printf("direction: down (a rollback: code_change runs in the "
		       "version being left)\n");
	printf("libdir: %s\nmodules:\n", p->libdir);
	for (i = 0; i < p->nmodules; i++) {
		const lm_plan_module *m = &p->modules[i];

		printf("  %-20s %-8s ", m->name, lm_change_name(m->change));
		print_side(m->old_side);
		printf(" -> ");
		print_side(m->new_side);
		printf("  %s\n", lm_purge_name(m->post_purge));
	}
	cli_print_script("script", &p->script, p);
	cli_print_script("low level script", &p->low_level, p);
	if (with_downgrade) {
		cli_print_script("downgrade script", &p->down_script, p);
		cli_print_script("downgrade low level script", &p->down_low_level,
			     p);
	}
}

const char *cli_json_str(const cJSON *o, const char *key, const char *absent)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : absent;
}

long long cli_json_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? (long long)v->valuedouble : 0;
}

int cli_json_true(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

void cli_print_plan_json(const lm_plan *p)
{
	char *json = NULL;

	if (lm_plan_to_json(&json, p) == 0)
		printf("%s\n", json);
	free(json);
}

/* check or eval as OTP prints it. The node gives the text ("{ok,[]}"),
 * either as a string or as an object's "text"; an object {"ok": [...]}
 * or {"error": "..."} is written out here. NULL when absent. */
char *cli_term_text(const cJSON *v)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, "text");
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(v, "ok");
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(v, "error");
	const cJSON *w;
	char *out = NULL, *more;
	int first = 1;

	if (cJSON_IsString(v))
		return strdup(v->valuestring);
	if (cJSON_IsString(t))
		return strdup(t->valuestring);
	if (cJSON_IsString(err))
		return asprintf(&out, "{error,\"%s\"}", err->valuestring) < 0
			       ? NULL : out;
	if (!cJSON_IsArray(ok))
		return NULL;
	out = strdup("{ok,[");
	cJSON_ArrayForEach(w, ok) {
		if (!out || !cJSON_IsString(w))
			continue;
		if (asprintf(&more, "%s%s\"%s\"", out, first ? "" : ",",
			     w->valuestring) < 0)
			more = NULL;
		free(out);
		out = more;
		first = 0;
	}
	if (out && asprintf(&more, "%s]}", out) >= 0) {
		free(out);
		return more;
	}
	free(out);
	return NULL;
}

long long cli_positive(const char *arg)
{
	size_t len = strlen(arg);

	if (len == 0 || len > 18 || strspn(arg, "0123456789") != len)
		return -1;
	return atoll(arg) > 0 ? atoll(arg) : -1;
}

long long cli_release_arg(const cli *c, const char *arg)
{
	long long id = cli_positive(arg);

	if (id < 0)
		cli_usage(c, "'%s' is not a release id (a positive integer)",
			  arg);
	return id;
}
