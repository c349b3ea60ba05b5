/*
 * node.c - starting and stopping a node: open the state dir, settle what
 * a dead node left, boot the current release, serve the control API.
 *
 * A node boots its permanent release (OTP's word). The ledger moves the
 * current release only when an eval succeeds, and the permanent one with
 * it unless the apply was a try: so whatever moment a node died at, it
 * boots on the last release whose eval succeeded and was not a mere try,
 * and its unfinished run is marked 'interrupted' (its plan 'failed').
 * A try never made permanent is undone by the restart: the permanent
 * release becomes current again. A release that cannot boot is recorded
 * boot_failed and the node boots the last release that booted on it.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fsutil.h"
#include "history.h"
#include "http.h"
#include "libwatch.h"
#include "node_internal.h"
#include "runtime_node.h"
#include "objects.h"
#include "precompute.h"
#include "script.h"
#include "store.h"

/* Marks the runs a dead node left running, and their plans. */
static int settle_interrupted(lm_node *n)
{
	lm_run_info *runs = NULL;
	size_t nruns = 0, i;
	int marked = 0, rc;

	if ((rc = lm_ledger_run_list(n->ledger, &runs, &nruns)) < 0)
		return rc;
	if ((rc = lm_ledger_begin(n->ledger)) < 0)
		goto out;
	for (i = 0; i < nruns && rc == 0; i++)
		if (strcmp(runs[i].status, "running") == 0)
			rc = lm_ledger_plan_set_status(n->ledger,
						       runs[i].plan_id, "failed");
	if (rc == 0)
		rc = lm_ledger_run_mark_interrupted(n->ledger, &marked);
	if (rc == 0)
		rc = lm_ledger_commit(n->ledger);
	else
		lm_ledger_rollback(n->ledger);
	if (rc == 0 && marked)
		fprintf(stderr, "livemod: %d apply run%s interrupted by the "
			"node's death; booting release %lld\n", marked,
			marked > 1 ? "s" : "",
			(long long)n->info.current_release);
out:
	for (i = 0; i < nruns; i++)
		lm_run_info_clear(&runs[i]);
	free(runs);
	return rc;
}

/* The release to boot is the permanent one; the node is on it from now.
 * A ledger from before permanence was kept (none recorded) boots its
 * current release and makes it permanent. */
static int settle_permanent(lm_node *n)
{
	int64_t boot = n->info.permanent_release
			       ? n->info.permanent_release
			       : n->info.current_release;
	int rc;

	if (boot == n->info.current_release &&
	    boot == n->info.permanent_release)
		return 0;
	if ((rc = lm_ledger_begin(n->ledger)) < 0)
		return rc;
	if ((rc = lm_ledger_node_set_current(n->ledger, n->info.id, boot)) == 0 &&
	    (rc = lm_ledger_node_set_permanent(n->ledger, n->info.id,
					       boot)) == 0)
		rc = lm_ledger_commit(n->ledger);
	if (rc < 0) {
		lm_ledger_rollback(n->ledger);
		return rc;
	}
	if (boot != n->info.current_release)
		fprintf(stderr, "livemod: release %lld was current but never "
			"made permanent; booting permanent release %lld\n",
			(long long)n->info.current_release, (long long)boot);
	n->info.current_release = n->info.permanent_release = boot;
	return 0;
}

/* Loads one module of the boot release: extracted, checked against its
 * recorded descriptor, initialised, published. */
static int boot_module(lm_node *n, lm_store *store, const lm_modinfo *m)
{
	char *path = NULL;
	int rc;

	if ((rc = lm_objects_extract(&path, n->state_dir, store, n->rt,
				     m->oid)) < 0)
		return lm_error_wrap("boot: module %s", m->desc->name);
	rc = lm__runtime_stage_desc(n->rt, path, m->oid, m->desc);
	if (rc == 0 && (rc = lm_runtime_init_module(n->rt, m->desc->name)) == 0)
		rc = lm_runtime_publish(n->rt, m->desc->name);
	if (rc < 0) {
		lm_error_wrap("boot: module %s", m->desc->name);
		lm_runtime_unstage(n->rt, m->desc->name);
	}
	free(path);
	return rc;
}

/* Loads release `id`, dependencies first, after checking it gives every
 * import the host declared. */
static int boot_release(lm_node *n, int64_t id)
{
	lm_modset set = { 0 };
	const char **names = NULL, **order = NULL;
	lm_store *store = NULL;
	size_t i;
	int rc;

	if ((rc = lm_ledger_release_modules(n->ledger, id, &set)) < 0 ||
	    (rc = lm_imports_check_set(&n->imports, &set)) < 0 ||
	    (rc = lm_store_open(&store, n->store_path, 0)) < 0)
		goto out;
	if (!(names = calloc(set.n + 1, sizeof(*names)))) {
		rc = lm_error_set(LM_ERROR, "out of memory");
		goto out;
	}
	for (i = 0; i < set.n; i++)
		names[i] = set.v[i].desc->name;
	if ((rc = lm_deps_order(&order, names, set.n, &set)) < 0)
		goto out;
	for (i = 0; i < set.n && rc == 0; i++)
		rc = boot_module(n, store, lm_modset_find(&set, order[i]));
out:
	free(order);
	free(names);
	lm_store_free(store);
	lm_modset_clear(&set);
	return rc;
}

/* The reaper unloaded what an apply retired (apply.c hands old versions
 * to it after eval): the run's record says when the old code is gone. */
static void on_reaped(void *ctx, size_t versions, long us)
{
	lm_node *n = ctx;
	int64_t run = __atomic_load_n(&n->reap_run, __ATOMIC_ACQUIRE);

	if (!run)
		return;
	pthread_mutex_lock(&n->ledger_mu);
	if (lm_ledger_run_note_unload(n->ledger, run, versions, us) < 0)
		fprintf(stderr, "livemod: warning: the ledger could not record "
			"the unload after run %lld: %s\n", (long long)run,
			lm_error_last());
	pthread_mutex_unlock(&n->ledger_mu);
}

/* A fresh runtime, for booting another release after a failed boot left
 * some modules of the first loaded. */
static int runtime_new(lm_node *n, const lm_node_options *opts)
{
	int rc = lm_runtime_new(&n->rt);

	if (rc == 0 && opts->on_brutal_purge)
		lm_runtime_on_brutal_purge(n->rt, opts->on_brutal_purge,
					   opts->on_brutal_purge_ctx);
	if (rc == 0)
		lm_runtime_on_reaped(n->rt, on_reaped, n);
	return rc;
}

/* The node boots `fallback` in place of `failed`: recorded in one write
 * (the failure with its reason; current, permanent and booted moved), so
 * that the failed release is never booted by itself again. */
static int record_fallback(lm_node *n, int64_t failed, int64_t fallback,
			   const char *reason)
{
	int rc = lm_ledger_begin(n->ledger);

	if (rc < 0)
		return rc;
	if ((rc = lm_ledger_boot_failure_add(n->ledger, failed, fallback,
					     reason)) == 0 &&
	    (rc = lm_ledger_node_set_current(n->ledger, n->info.id,
					     fallback)) == 0 &&
	    (rc = lm_ledger_node_set_permanent(n->ledger, n->info.id,
					       fallback)) == 0 &&
	    (rc = lm_ledger_node_set_booted(n->ledger, n->info.id,
					    fallback)) == 0)
		rc = lm_ledger_commit(n->ledger);
	else
		lm_ledger_rollback(n->ledger);
	return rc;
}

/* Boots the permanent release; when it cannot boot, the last release that
 * booted on this node, if any other (DESIGN.md: "a node that cannot boot
 * its current release boots the last release that booted on it"). */
static int boot(lm_node *n, const lm_node_options *opts)
{
	int64_t failed = n->info.current_release;
	int64_t fallback = n->info.booted_release;
	char *reason, *known = NULL;
	int rc = boot_release(n, failed);

	if (rc == 0) {
		if (n->info.booted_release != failed &&
		    lm_ledger_node_set_booted(n->ledger, n->info.id,
					      failed) < 0)
			fprintf(stderr, "livemod: warning: the ledger could not "
				"record that release %lld booted: %s\n",
				(long long)failed, lm_error_last());
		n->info.booted_release = failed;
		return 0;
	}
	if (!fallback || fallback == failed ||
	    lm_ledger_boot_failure_get(n->ledger, fallback, &known) < 0 ||
	    known) {
		free(known);
		return rc; /* nothing known to boot instead: the error stands */
	}
	if (!(reason = strdup(lm_error_last())))
		return lm_error_set(LM_ERROR, "out of memory");
	fprintf(stderr, "livemod: ERROR: release %lld failed to boot: %s\n"
		"livemod: ERROR: booting release %lld, the last release that "
		"booted on this node; release %lld is marked boot_failed and "
		"is not booted again by itself\n", (long long)failed, reason,
		(long long)fallback, (long long)failed);
	lm_runtime_free(n->rt);
	n->rt = NULL;
	if ((rc = runtime_new(n, opts)) < 0 ||
	    (rc = boot_release(n, fallback)) < 0) {
		lm_error_wrap("release %lld failed to boot (%s), and so did "
			      "fallback release %lld", (long long)failed,
			      reason, (long long)fallback);
		free(reason);
		return rc;
	}
	if ((rc = record_fallback(n, failed, fallback, reason)) < 0) {
		free(reason);
		return rc;
	}
	n->info.current_release = n->info.permanent_release = fallback;
	n->fallback_from = failed;
	n->fallback_reason = reason;
	return 0;
}

/* The node runs code from its store, extracted to objects/, as its
 * ledger says: anyone who can write to one of them can make it run
 * theirs (docs/SECURITY.md). A state dir not yet made by `livemod init`
 * is left to the ledger's own message. */
static int trusted_dirs(lm_node *n)
{
	char *objects = lm_path_join(n->state_dir, "objects");
	int rc = objects ? 0 : lm_error_set(LM_ERROR, "out of memory");

	if (rc == 0 && (rc = lm_path_trusted(n->state_dir, "state dir")) == 0 &&
	    (rc = lm_path_trusted(n->store_path, "store")) == 0)
		rc = lm_path_trusted(objects, "objects dir");
	free(objects);
	return rc == LM_ENOTFOUND ? 0 : rc;
}

/* Takes the host's declared imports and records them, so that the
 * planner checks plans against them while the node is down too. */
static int declare_imports(lm_node *n, const lm_node_options *opts)
{
	int rc = 0;

	if (opts->nimports && !opts->imports)
		return lm_error_set(LM_EINVAL, "lm_node_start: %zu imports "
				    "declared and no array", opts->nimports);
	for (size_t i = 0; i < opts->nimports && rc == 0; i++)
		rc = lm_imports_add(&n->imports, opts->imports[i].module,
				    opts->imports[i].name,
				    opts->imports[i].signature);
	if (rc == 0)
		rc = lm_ledger_imports_set(n->ledger, &n->imports);
	return rc;
}

/* What the control API does on the node: its only way in (http.h). */
static const lm_httpd_calls http_calls = {
	.update_info = lm_node_update_info_json,
	.update = lm_node_update,
	.apply = lm_node_apply,
	.rollback = lm_node_rollback,
	.result_free = lm_apply_result_free,
	.plan = lm_node_plan_json,
	.modules = lm_node_modules_json,
	.health = lm_node_health_json,
	.history = lm_node_history_json,
	.make_permanent = lm_node_make_permanent_json,
	.release = lm_node_release,
};

int lm_node_start(lm_node **out, const lm_node_options *opts)
{
	lm_node *n;
	char *ledger_path = NULL;
	int rc;

	assert(out);
	*out = NULL;
	if (!opts || !opts->state_dir)
		return lm_error_set(LM_EINVAL, "lm_node_start: no state dir");
	if (!(n = calloc(1, sizeof(*n))))
		return lm_error_set(LM_ERROR, "out of memory");
	pthread_mutex_init(&n->apply_mu, NULL);
	pthread_mutex_init(&n->ledger_mu, NULL);
	pthread_mutex_init(&n->query_mu, NULL);
	pthread_mutex_init(&n->ahead_mu, NULL);
	pthread_cond_init(&n->update_info.done, NULL);
	n->state_dir = strdup(opts->state_dir);
	n->store_path = lm_path_join(opts->state_dir, "store.git");
	ledger_path = lm_path_join(opts->state_dir, "ledger.db");
	if (!n->state_dir || !n->store_path || !ledger_path) {
		rc = lm_error_set(LM_ERROR, "out of memory");
		goto fail;
	}
	if ((rc = trusted_dirs(n)) < 0)
		goto fail;
	rc = lm_ledger_open(&n->ledger, ledger_path, 0);
	if (rc == LM_ENOTFOUND)
		rc = lm_error_set(LM_EINVAL, "state dir %s is not initialised "
				  "(run 'livemod init --libdir DIR')",
				  opts->state_dir);
	if (rc < 0 || (rc = lm_ledger_node_get(n->ledger, &n->info)) < 0 ||
	    (rc = declare_imports(n, opts)) < 0 ||
	    (rc = settle_permanent(n)) < 0 ||
	    (rc = settle_interrupted(n)) < 0 ||
	    (rc = runtime_new(n, opts)) < 0 ||
	    /* after the writer above: it never migrates */
	    (rc = lm_ledger_open(&n->reader, ledger_path,
				 LM_LEDGER_READONLY)) < 0)
		goto fail;
	if ((rc = lm_libwatch_open(&n->libwatch, n->info.libdir)) < 0 ||
	    (rc = boot(n, opts)) < 0 ||
	    (rc = lm_ledger_boot_failures(n->ledger, &n->boot_failures,
					  &n->nboot_failures)) < 0 ||
	    (rc = lm_precompute_start(&n->precompute, n, n->info.libdir,
				      n->state_dir)) < 0 ||
	    (rc = lm_httpd_start(&n->httpd, n->state_dir, opts, n,
				 &http_calls)) < 0)
		goto fail;
	free(ledger_path);
	*out = n;
	return 0;
fail:
	free(ledger_path);
	{
		char *msg = strdup(lm_error_last());

		lm_node_stop(n);
		lm_error_set(rc, "%s", msg ? msg : "out of memory");
		free(msg);
	}
	return rc;
}

void lm_node_stop(lm_node *n)
{
	if (!n)
		return;
	lm_httpd_stop(n->httpd);
	n->httpd = NULL;
	lm_precompute_stop(n->precompute); /* it reads n->reader */
	n->precompute = NULL;
	lm_node_ahead_drop(n); /* what it staged, before the runtime goes */
	lm_runtime_free(n->rt);
	lm_node_info_clear(&n->info);
	lm_imports_clear(&n->imports);
	free(n->fallback_reason);
	lm_boot_failures_free(n->boot_failures, n->nboot_failures);
	lm_node_update_info_forget(n);
	lm_libwatch_free(n->libwatch);
	lm_ledger_free(n->reader);
	lm_ledger_free(n->ledger);
	pthread_mutex_destroy(&n->apply_mu);
	pthread_mutex_destroy(&n->ledger_mu);
	pthread_mutex_destroy(&n->query_mu);
	pthread_mutex_destroy(&n->ahead_mu);
	pthread_cond_destroy(&n->update_info.done);
	free(n->state_dir);
	free(n->store_path);
	free(n);
}

lm_runtime *lm_node_runtime(lm_node *n)
{
	assert(n);
	return n->rt;
}

int64_t lm_node_release(lm_node *n)
{
	assert(n);
	return __atomic_load_n(&n->info.current_release, __ATOMIC_ACQUIRE);
}

/* Read from the ledger: `livemod make_permanent` writes it there, not
 * through the node. */
int64_t lm_node_permanent_release(lm_node *n)
{
	lm_node_info info = { 0 };
	int64_t r;

	assert(n);
	pthread_mutex_lock(&n->ledger_mu);
	r = lm_ledger_node_get(n->ledger, &info) == 0
		    ? info.permanent_release
		    : n->info.permanent_release;
	pthread_mutex_unlock(&n->ledger_mu);
	lm_node_info_clear(&info);
	return r;
}

int64_t lm_node_fallback(lm_node *n, const char **reason)
{
	assert(n);
	if (reason)
		*reason = n->fallback_reason;
	return n->fallback_from;
}

int lm_node_make_permanent_json(lm_node *n, int64_t release, char **out)
{
	int64_t made, was;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&n->ledger_mu);
	rc = lm_make_permanent(n->ledger, release, &made, &was);
	if (rc == 0)
		n->info.permanent_release = made;
	pthread_mutex_unlock(&n->ledger_mu);
	if (rc == 0 && asprintf(out, "{\"permanent\": %lld, \"was\": %lld}",
				(long long)made, (long long)was) < 0) {
		*out = NULL;
		rc = lm_error_set(LM_ERROR, "out of memory");
	}
	return rc;
}

int lm_node_http_port(lm_node *n)
{
	assert(n);
	return lm_httpd_port(n->httpd);
}

void lm_apply_result_free(lm_apply_result *r)
{
	if (!r)
		return;
	free(r->check);
	free(r->eval);
	free(r->json);
	free(r);
}
