/*
 * cmd_init.c - `livemod init --libdir DIR [--app NAME]`.
 *
 * Records the modules installed now as release 1, the release a node boots
 * on first. Everything is checked before anything is created (including
 * that every dependency is installed and none is circular), and a
 * failure part way removes what this run created, so a refused init
 * leaves no half-made state dir behind.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "error.h"
#include "fsutil.h"
#include "script.h"

/* Default app name: the libdir's parent folder (/opt/chatd/lib -> chatd). */
static char *default_app(const char *libdir)
{
	char *copy = strdup(libdir), *parent, *base, *name;

	if (!copy)
		return NULL;
	parent = dirname(copy);
	base = basename(parent);
	name = strdup(lm_module_name_valid(base) ? base : "app");
	free(copy);
	return name;
}

static void print_result(const cli *c, const char *dir, const char *libdir,
			 const char *app, const lm_scan *scan, int64_t rel)
{
	size_t i;

	if (c->json) {
		cJSON *o = cJSON_CreateObject(), *mods;

		cJSON_AddStringToObject(o, "state", dir);
		cJSON_AddStringToObject(o, "libdir", libdir);
		cJSON_AddStringToObject(o, "app", app);
		cJSON_AddNumberToObject(o, "release", (double)rel);
		mods = cJSON_AddArrayToObject(o, "modules");
		for (i = 0; i < scan->mods.n; i++) {
			cJSON *m = cJSON_CreateObject();

			cJSON_AddStringToObject(m, "name",
						scan->mods.v[i].desc->name);
			cJSON_AddStringToObject(m, "vsn",
						scan->mods.v[i].desc->vsn);
			cJSON_AddStringToObject(m, "oid", scan->mods.v[i].oid);
			cJSON_AddItemToArray(mods, m);
		}
		cli_print_json_text(cJSON_Print(o));
		cJSON_Delete(o);
		return;
	}
	printf("initialised %s for %s (libdir %s)\nrelease %lld:", dir, app,
	       libdir, (long long)rel);
	for (i = 0; i < scan->mods.n; i++)
		printf(" %s %s", scan->mods.v[i].desc->name,
		       scan->mods.v[i].desc->vsn);
	printf("%s\n", scan->mods.n ? "" : " (no modules)");
}

/* Removes what a failed init made: the whole dir when it made it, else
 * the entries init creates (none existed: the ledger did not). */
static void undo_create(const char *dir, int created_dir)
{
	static const char *const made[] = { "ledger.db", "ledger.db-wal",
					    "ledger.db-shm", "store.git",
					    "objects", "plans" };
	size_t i;

	if (created_dir) {
		lm_path_remove_tree(dir);
		return;
	}
	for (i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		char *p = lm_path_join(dir, made[i]);

		if (p)
			lm_path_remove_tree(p);
		free(p);
	}
}

int cmd_init(cli *c)
{
	const char *dir = cli_state_dir(c);
	char libdir[PATH_MAX], *app = NULL, *ledger, *store;
	lm_scan scan = { 0 };
	int64_t rel = 0;
	int created = 0, rc;
	size_t i;

	if (!dir)
		return 2;
	if (!c->libdir)
		return cli_usage(c, "--libdir DIR is required");
	if (c->app && !lm_module_name_valid(c->app))
		return cli_usage(c, "--app '%s' is not a name ([a-z][a-z0-9_]*)",
				 c->app);
	if (!realpath(c->libdir, libdir)) {
		lm_error_set(LM_EINVAL, "libdir %s: %s", c->libdir,
			     strerror(errno));
		return cli_fail(c, LM_EINVAL);
	}
	ledger = lm_path_join(dir, "ledger.db");
	store = lm_path_join(dir, "store.git");
	if ((ledger && access(ledger, F_OK) == 0) ||
	    (store && access(store, F_OK) == 0)) {
		lm_error_set(LM_EINVAL, "%s is already initialised", dir);
		free(ledger);
		free(store);
		return cli_fail(c, LM_EINVAL);
	}
	free(ledger);
	free(store);
	if ((rc = lm_scan_libdir(&scan, libdir, NULL)) < 0)
		return cli_fail(c, rc);
	for (i = 0; i < scan.nwarnings; i++)
		fprintf(stderr, "livemod init: warning: %s\n", scan.warnings[i]);
	/* Every plan starts from a release that passed this check, and
	 * checks only what it changes for cycles. */
	if ((rc = lm_release_check(&scan.mods)) < 0)
		goto out;
	app = c->app ? strdup(c->app) : default_app(libdir);
	if (access(dir, F_OK) != 0) {
		if ((rc = lm_mkdir(dir, 0700)) < 0)
			goto out;
		created = 1;
	}
	rc = lm_state_create(dir, libdir, app ? app : "app", &scan, &rel, NULL);
	if (rc < 0)
		undo_create(dir, created);
	if (rc == 0)
		print_result(c, dir, libdir, app ? app : "app", &scan, rel);
out:
	lm_scan_clear(&scan);
	free(app);
	return rc < 0 ? cli_fail(c, rc) : 0;
}
