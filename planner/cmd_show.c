/*
 * cmd_show.c - `livemod show PLAN`: a plan by id (plans/<id>.json of the
 * state dir) or by file path, validated, for a person or as JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "fsutil.h"

/* "12" names plans/12.json of the state dir; anything else is a path. */
static char *plan_path(const cli *c, const char *arg)
{
	const char *dir;
	char *path = NULL;

	if (arg[0] == '\0' || strspn(arg, "0123456789") != strlen(arg))
		return strdup(arg);
	if (!(dir = cli_state_dir(c)))
		return NULL;
	if (asprintf(&path, "%s/plans/%s.json", dir, arg) < 0)
		return NULL;
	return path;
}

int cmd_show(cli *c)
{
	char *path = plan_path(c, c->args[0]), *json = NULL;
	lm_plan *p = NULL;
	int rc;

	if (!path)
		return 2;
	if ((rc = lm_plan_load_file(&p, path)) == 0 && c->json)
		rc = lm_plan_to_json(&json, p);
	if (rc == 0) {
		if (c->json)
			printf("%s\n", json);
		else
			cli_print_plan(p, 1);
	}
	if (rc == LM_ENOTFOUND)
		lm_error_set(LM_ENOTFOUND, "no plan %s", path);
	free(json);
	free(path);
	lm_plan_free(p);
	return rc < 0 ? cli_fail(c, rc) : 0;
}
