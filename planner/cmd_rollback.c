/*
 * cmd_rollback.c - `livemod rollback [--to RELEASE] [--dry-run] [--try]`.
 *
 * The node plans and applies a rollback itself (POST /rollback), so that
 * nothing moves it between the two; --dry-run plans here, from the
 * ledger and the store, prints the plan and writes nothing, with or
 * without a running node. With no node running, rollback sets the
 * release the next start boots (docs/history.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "fsutil.h"
#include "rollback.h"

static int dry_run(cli *c)
{
	lm_plan_opts o = { 0 };
	lm_plan *p = NULL;
	lm_state st;
	char *store = NULL;
	int64_t to = 0;
	int rc;

	if ((rc = lm_state_open(&st, c->state, 1)) < 0)
		return cli_fail(c, rc);
	if (!(store = lm_path_join(c->state, "store.git")))
		rc = lm_error_set(LM_ERROR, "out of memory");
	if (rc == 0 && (rc = lm_rollback_target(&st, c->to, &to)) == 0)
		rc = lm_rollback_compute(&p, &st, store, to, &o);
	lm_state_close(&st);
	free(store);
	if (rc < 0)
		return cli_fail(c, rc);
	if (c->json)
		cli_print_plan_json(p);
	else
		cli_print_plan(p, 1);
	lm_plan_free(p);
	return 0;
}

/* No node runs: the way back is to boot the target at the next start
 * (DESIGN.md: "with no node running, set the release the next start
 * boots"). The default target is the parent of the release the next
 * start would boot. */
static int offline(cli *c)
{
	lm_state st;
	int64_t to = 0;
	int rc;

	if (c->try_only)
		return cli_usage(c, "--try needs a running node: with none, "
				 "rollback sets the release the next start "
				 "boots, which is permanent");
	if ((rc = lm_state_open(&st, c->state, 1)) < 0)
		return cli_fail(c, rc);
	if (st.node.permanent_release)
		st.node.current_release = st.node.permanent_release;
	rc = lm_rollback_target(&st, c->to, &to);
	lm_state_close(&st);
	if (rc < 0)
		return cli_fail(c, rc);
	return cli_set_boot_release(c, to);
}

int cmd_rollback(cli *c)
{
	char body[48] = "";
	int running;

	if (!cli_state_dir(c))
		return 2;
	if (c->dry_run)
		return dry_run(c);
	if ((running = cli_node_running(c)) < 0)
		return cli_fail(c, running);
	if (!running)
		return offline(c);
	if (c->to)
		snprintf(body, sizeof(body), "{\"to\": %lld}", c->to);
	return cli_node_apply(c, "POST", cli_try_path(c, "/rollback"),
			      c->to ? body : NULL,
			      c->to ? strlen(body) : 0);
}
