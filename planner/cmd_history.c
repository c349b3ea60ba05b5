/*
 * cmd_history.c - `livemod history` and `livemod make_permanent`: the
 * ledger's own business, done on the ledger directly, so both work
 * whether or not the node runs (its control API serves the same history
 * as GET /history).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "error.h"
#include "history.h"
#include "rollback.h"

/*   release 3  1a2b3c4d5e6f  from 2  2026-11-25T14:30:01.123Z  current */
static void print_release(const cJSON *r)
{
	const char *note = cli_json_str(r, "note", NULL);

	printf("release %-4lld %.12s  ", cli_json_num(r, "id"),
	       cli_json_str(r, "commit", "-"));
	if (cli_json_num(r, "parent"))
		printf("from %-4lld ", cli_json_num(r, "parent"));
	else
		printf("%-9s", "");
	printf("%s", cli_json_str(r, "created_at", "-"));
	if (note)
		printf("  (%s)", note);
	if (cli_json_true(r, "current"))
		printf("  current");
	if (cli_json_true(r, "permanent"))
		printf("  permanent");
	if (cli_json_num(r, "same_as"))
		printf("  same as release %lld", cli_json_num(r, "same_as"));
	if (cli_json_str(r, "boot_failed", NULL))
		printf("  boot_failed: %s", cli_json_str(r, "boot_failed", ""));
	putchar('\n');
}

/*   run 4  plan 5  3 -> 2  ok  2026-...  check {ok,[]}  eval {ok,[]}  1.380 ms
 * An interrupted run says at which phase; eval is absent before
 * point_of_no_return. */
static void print_run(const cJSON *r)
{
	const char *status = cli_json_str(r, "status", "-");
	char *check = cli_term_text(cJSON_GetObjectItemCaseSensitive(r, "check"));
	char *eval = cli_term_text(cJSON_GetObjectItemCaseSensitive(r, "eval"));
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "timings");
	long long total = cli_json_num(t, "total");

	printf("run %-4lld plan %-4lld %lld -> %lld  %s", cli_json_num(r, "id"),
	       cli_json_num(r, "plan"), cli_json_num(r, "from"),
	       cli_json_num(r, "to"), status);
	if (strcmp(status, "interrupted") == 0)
		printf(" at %s", cli_json_str(r, "phase", "-"));
	printf("  %s", cli_json_str(r, "started_at", "-"));
	if (check)
		printf("  check %s", check);
	if (eval)
		printf("  eval %s", eval);
	if (total)
		printf("  %lld.%03lld ms", total / 1000, total % 1000);
	putchar('\n');
	free(check);
	free(eval);
}

int cmd_history(cli *c)
{
	lm_state st;
	cJSON *h = NULL;
	const cJSON *it;
	int rc;

	if (!cli_state_dir(c))
		return 2;
	if ((rc = lm_state_open(&st, c->state, 1)) < 0)
		return cli_fail(c, rc);
	rc = lm_history_json(&h, st.ledger);
	lm_state_close(&st);
	if (rc < 0)
		return cli_fail(c, rc);
	if (c->json) {
		cli_print_json_text(cJSON_Print(h));
	} else {
		printf("current release %lld, permanent release %lld\n\n"
		       "releases (newest first):\n",
		       cli_json_num(h, "current"), cli_json_num(h, "permanent"));
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(h, "releases"))
			print_release(it);
		printf("\napply runs (newest first):\n");
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(h, "runs"))
			print_run(it);
		if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(h, "runs")))
			printf("none\n");
		printf("\nplans (newest first):\n");
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(h, "plans"))
			printf("plan %-4lld %lld -> %lld  %s: %s\n",
			       cli_json_num(it, "id"), cli_json_num(it, "from"),
			       cli_json_num(it, "to"),
			       cli_json_str(it, "status", "-"),
			       cli_json_str(it, "fate", "-"));
	}
	cJSON_Delete(h);
	return 0;
}

int cli_set_boot_release(cli *c, long long to)
{
	lm_state st;
	int64_t was = 0;
	int rc;

	if ((rc = lm_state_open(&st, c->state, 0)) < 0)
		return cli_fail(c, rc);
	rc = lm_rollback_set_boot(&st, to, &was);
	lm_state_close(&st);
	if (rc < 0)
		return cli_fail(c, rc);
	if (c->json)
		printf("{\"boot\": %lld, \"was\": %lld, \"running\": false}\n",
		       to, (long long)was);
	else
		printf("no node running: release %lld is the release the next "
		       "start boots (was release %lld); it takes effect at the "
		       "next start. The libdir is unchanged: 'livemod update "
		       "all' then plans from release %lld to what the libdir "
		       "holds.\n", to, (long long)was, to);
	return 0;
}

/* OTP's release_handler:make_permanent: the release the node runs now
 * becomes the one it boots. With no node running, any recorded release
 * can be chosen as the one the next start boots. */
int cmd_make_permanent(cli *c)
{
	lm_state st;
	long long want = 0;
	int64_t made = 0, was = 0;
	int rc, running;

	if (!cli_state_dir(c))
		return 2;
	if (c->nargs == 1 &&
	    ((want = cli_release_arg(c, c->args[0])) < 1))
		return 2;
	if ((running = cli_node_running(c)) < 0)
		return cli_fail(c, running);
	if (!running && want)
		return cli_set_boot_release(c, want);
	if ((rc = lm_state_open(&st, c->state, 0)) < 0)
		return cli_fail(c, rc);
	rc = lm_make_permanent(st.ledger, want, &made, &was);
	lm_state_close(&st);
	if (rc < 0)
		return cli_fail(c, rc);
	if (c->json)
		printf("{\"permanent\": %lld, \"was\": %lld}\n",
		       (long long)made, (long long)was);
	else
		printf("release %lld is permanent (was release %lld): the node "
		       "boots it from now on\n", (long long)made,
		       (long long)was);
	return 0;
}
