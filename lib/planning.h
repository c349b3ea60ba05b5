/*
 * planning.h - from a libdir and the ledger to an upgrade plan, and from a
 * plan to the store, the ledger and plans/<id>.json.
 *
 * Computing a plan writes nothing (it is all `--dry-run` needs, and what
 * update_list and update_info show). Recording it is one ledger
 * transaction: the store objects and release commit are written inside it
 * and plans/<id>.json appears only after it commits (see planning.c), so a
 * failure or a kill at any point leaves either no release and no plan, or
 * both, and no plan file that is not a recorded plan.
 */
#ifndef LM_PLANNING_H
#define LM_PLANNING_H

#include "ledger.h"
#include "plan.h"
#include "scan.h"
#include "store.h"

typedef struct lm_extra {
	const char *module;
	const char *extra;
} lm_extra;

typedef struct lm_plan_opts {
	lm_purge_mode purge;         /* LM_PURGE_DEFAULT: module's, else brutal */
	const char *const *only;     /* plan only these modules, when nonly */
	size_t nonly;
	const lm_extra *extras;      /* code_change Extra per module */
	size_t nextras;
} lm_plan_opts;

/* A state dir opened for planning. */
typedef struct lm_state {
	char *dir;
	lm_ledger *ledger;
	lm_node_info node;
} lm_state;

/* Creates the state in `dir` (which exists): objects/, plans/, the store
 * with every module of `scan` and release 1's commit, the ledger with the
 * node (named after the host), release 1 as its current and permanent
 * release, and the stat cache. The commit id goes to `commit_out` when not
 * NULL. What `livemod init` does once it has checked its input. */
int lm_state_create(const char *dir, const char *libdir, const char *app,
		    const lm_scan *scan, int64_t *release,
		    char commit_out[LM_OID_HEXSZ + 1]);

/* Opens `dir`'s ledger (read-only when `readonly`) and reads its node.
 * LM_EINVAL when `dir` holds no initialised state ("run livemod init"). */
int lm_state_open(lm_state *st, const char *dir, int readonly);
void lm_state_close(lm_state *st);

/*
 * Plans the way from the node's current release (as `scan` read it, in
 * scan->base) to what `scan` found. *out is NULL (and 0 returned) when
 * nothing changed. `new_set` receives the whole to-release: scan->mods
 * itself when no modules are named (scan->mods is left empty), else a
 * set sharing the scan's descriptors. The caller clears it, before the
 * scan. `scan` must come from the node's libdir, scanned with the node's
 * ledger; its stats and warnings are left as they are.
 */
int lm_planning_compute(lm_plan **out, lm_modset *new_set, lm_state *st,
			lm_scan *scan, const lm_plan_opts *opts);

/*
 * The plan from release `from`, whose modules are `old`, to the modules
 * `new_set`: the diff, purge modes and extras per `opts`, and the four
 * scripts. *out is NULL (and 0 returned) when the two sets hold the same
 * objects. `old` and `new_set` must be whole releases (dependency order
 * and presence are checked over them). Writes nothing.
 */
int lm_planning_diff(lm_plan **out, const lm_state *st,
		     const lm_release_info *from, const lm_modset *old,
		     const lm_modset *new_set, const lm_plan_opts *opts);

/* Stores the new objects and the release `new_set`, records the plan
 * (superseding an earlier unapplied one), writes plans/<id>.json and the
 * stat cache. Fills p->id, p->to_release, p->to_commit. */
int lm_planning_record(lm_state *st, lm_plan *p, const lm_modset *new_set,
		       const lm_scan *scan);

/*
 * Writes back the stat cache entries `scan` read files for that the cache
 * would now vouch for (scan->fresh): what a command that found racy
 * entries clean does once the racy window has passed, as `git status`
 * refreshes its index, so later scans stop re-reading files installed
 * just before a plan. One short write transaction, on a connection opened
 * for it that never waits (st->ledger may be read-only, and a refresh is
 * not worth waiting for): a ledger locked by another writer is LM_EBUSY
 * at once, and the caller goes on without the refresh (the cache stays
 * as it was: safe, only slower). *written (when not NULL): the entries
 * written.
 */
int lm_planning_refresh_stats(lm_state *st, const lm_scan *scan,
			      size_t *written);

/* Records a plan whose to-release is already recorded (a rollback): the
 * plan row, superseding an earlier unapplied plan, and plans/<id>.json,
 * in one transaction. Fills p->id. LM_ESTALE when the node moved off the
 * plan's from-release. */
int lm_planning_record_existing(lm_state *st, lm_plan *p);

/* Finishes the plan file a recording cut short by a kill left pending:
 * moves the newest plan's into place and removes the next id's, whose
 * transaction never committed. Call with the ledger's write lock held
 * (inside lm_ledger_begin), as recording and gc do. */
int lm_planning_settle(lm_state *st);

/* update_info as JSON, for the CLI and the control API alike:
 * {"libdir","release","modules":[names],"plan":{...}|null,
 *  "script_text","low_level_script_text",
 *  "check":{"ok":[warnings]}|{"error":reason}}; the two texts are the lines
 * `livemod update_info` prints (lm_script_labelled). `p` may be NULL
 * (nothing changed); `check_error` NULL when the check passed. */
cJSON *lm_update_info_json(const char *libdir, int64_t release,
			   const lm_plan *p, const lm_scan *scan,
			   const char *check_error);

/* What the planner can check of a plan offline: the imports the node's
 * host declared at its last start (recorded in the ledger) are all kept.
 * LM_ECHECK naming the module and export. */
int lm_planning_check(const lm_state *st, const lm_plan *p);

/* ISO 8601 UTC time of now, e.g. "2026-11-25T12:00:00Z" (static buffer
 * of the calling thread). */
const char *lm_now_iso(void);

#endif
