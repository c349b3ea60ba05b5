/*
 * node_internal.h - the node's parts, shared by agent/node/ sources:
 * boot and shutdown (node.c), applying plans (apply.c) and the JSON
 * answers of the control API (query.c). The HTTP server (http.c) is not
 * one of them: it gets the calls it needs from node.c (http.h) and never
 * sees this header.
 *
 * Locks, in this order: apply_mu (one apply at a time; taken with
 * trylock, so a second apply is "busy", not queued), then ahead_mu (the
 * recorded plan staged ahead, apply.c), then ledger_mu (the
 * ledger's SQLite handle is opened without SQLite's own mutexes and is
 * shared by the apply and the HTTP threads). query_mu guards what
 * GET /update-modules computes with (a read-only ledger connection of its
 * own, the libdir's watch, the kept answer) and is never held with
 * either: planning an answer (a scan of the libdir, ~1.5 ms for 300
 * modules) never delays an apply's commits, and an apply never delays
 * an answer.
 */
#ifndef LM_NODE_INTERNAL_H
#define LM_NODE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <livemod/node.h>

#include "imports.h"
#include "ledger.h"
#include "planning.h"
#include "preload.h"

struct lm_httpd;
struct lm_libwatch;
struct lm_precompute;
struct cJSON;

/* What an update_info answer is computed from, taken before computing:
 * the libdir's watch generation, the ledger's stamp, the node's release.
 * An equal key later means the same answer. */
typedef struct lm_update_key {
	uint64_t libdir_gen;
	lm_ledger_stamp ledger;
	int64_t release;
} lm_update_key;

struct lm_node {
	char *state_dir;
	char *store_path;
	lm_runtime *rt;
	pthread_mutex_t apply_mu;
	pthread_mutex_t ledger_mu;
	lm_ledger *ledger;          /* under ledger_mu */
	lm_node_info info;          /* under ledger_mu; current_release moves
				     * on a successful eval, stored by the
				     * apply atomically (without ledger_mu)
				     * and read so by other threads;
				     * permanent_release is also moved by
				     * make_permanent, in the ledger only */
	struct lm_httpd *httpd;     /* the control API, or NULL */
	lm_imports imports;         /* the host's declared imports */
	int64_t fallback_from;      /* the release that failed to boot, or 0 */
	/* Every release that failed to boot on this node, read once it
	 * booted: only a boot adds one (gc deletes those of the releases it
	 * prunes, which no plan can go to), so they stand while it runs and
	 * an apply's check reads them without the ledger. */
	lm_boot_failure *boot_failures;
	size_t nboot_failures;
	int64_t reap_run;           /* the run the reaper's unloads follow
				     * (atomic) */
	char *fallback_reason;
	/* GET /update-modules (query.c), under query_mu: the connection it
	 * plans with, the libdir's watch and the last answer, which stands
	 * while its key does not move */
	pthread_mutex_t query_mu;
	lm_ledger *reader;          /* read-only */
	struct lm_libwatch *libwatch;
	struct {
		struct cJSON *answer;  /* NULL: none to trust */
		lm_update_key key;     /* what it was computed from */
		bool computing;        /* one is being computed for: */
		lm_update_key computing_key;
		pthread_cond_t done;   /* an answer kept, or given up */
	} update_info;
	struct lm_precompute *precompute;
	/* A plan recorded by another process (the post-install hook's
	 * `livemod plan`), staged ahead of its apply (apply.c, "A recorded
	 * plan staged ahead"). Under ahead_mu, except that the apply holding
	 * apply_mu (`applying`) owns it: nothing else touches it meanwhile.
	 * apply_gen counts the applies begun, so that a plan read before one
	 * is not staged after it. */
	pthread_mutex_t ahead_mu;
	bool applying;
	uint64_t apply_gen;
	struct {
		lm_preload pre;
		lm_plan *plan;        /* its descriptors, lent to the loader */
		char *json;           /* the ledger's text of it, then */
		int64_t tried;        /* the newest plan id looked at (the
				       * precompute thread's own) */
	} ahead;
};

/* What planning the node's libdir gave: the scan, the to-release and the
 * plan (NULL when nothing changed). Cleared in that order's reverse. */
typedef struct lm_node_planned {
	lm_state st;      /* a view of the node's ledger and info: not owned */
	lm_scan scan;
	lm_modset new_set;
	lm_plan *plan;
} lm_node_planned;

/* Scans the node's libdir and plans from its current release, reading
 * `ledger` (n->ledger under ledger_mu, or n->reader under query_mu); the
 * caller clears `out` with lm_node_planned_clear, which is safe after a
 * failure too. */
int lm_node_plan(lm_node *n, lm_ledger *ledger, const lm_plan_opts *o,
		 lm_node_planned *out);
void lm_node_planned_clear(lm_node_planned *pl);

/* Stages ahead the newest recorded plan when it is the one the node would
 * apply next and not staged yet (the precompute thread, after another
 * process wrote the ledger). Best effort: anything that fails is staged
 * by the apply itself. */
void lm_node_stage_recorded(lm_node *n);
/* Unstages what was staged ahead and not taken, at stop. */
void lm_node_ahead_drop(lm_node *n);

/* ---- queries (query.c): each returns malloc'ed JSON text in *out ------- */

/* GET /update-modules: {"libdir","release","modules":[...],"plan":{..}|null,
 * "check":{"ok":[...]}}, computed and not recorded; the last answer again
 * (its plan's created_at now) while its lm_update_key stands. With `out`
 * NULL, only made ready (agent/node/precompute.c). */
int lm_node_update_info_json(lm_node *n, char **out);
/* Drops the kept answer (at stop). */
void lm_node_update_info_forget(lm_node *n);
/* GET /modules: {"release":N,"modules":[{"name","vsn","oid","pins",
 * "suspended","old":[{"vsn","oid","pins","retiring"}]}]} */
int lm_node_modules_json(lm_node *n, char **out);
/* GET /plans/{id}: the recorded plan JSON; LM_ENOTFOUND. */
int lm_node_plan_json(lm_node *n, int64_t id, char **out);
/* GET /history: lm_history_json's document. */
int lm_node_history_json(lm_node *n, char **out);
/* GET /health: {"status":"ok","release":N,"permanent":N,"modules":N} */
int lm_node_health_json(lm_node *n, char **out);

/* POST /make-permanent: lm_make_permanent on the node's ledger (release
 * 0: whichever is current); {"permanent": N, "was": N}. */
int lm_node_make_permanent_json(lm_node *n, int64_t release, char **out);

#endif
