/*
 * ledger.h - the SQLite ledger: releases, module versions, plans, apply
 * runs, the node and its current release, and the libdir stat cache.
 *
 * One ledger per state dir, one node per ledger. The schema lives in
 * schema/NNN_*.sql and is applied on open, in order, each migration in its
 * own transaction, tracked by PRAGMA user_version. The ledger runs in WAL
 * mode with foreign keys on and a bounded busy timeout
 * (LIVEMOD_LOCK_TIMEOUT_MS, default 5000): a writer that cannot get the lock
 * in time gets LM_EBUSY with a message that names the ledger.
 *
 * Threads: an lm_ledger may be used by one thread at a time only. The
 * connection is opened without SQLite's own mutexes (a plan makes tens of
 * thousands of calls); a program with several threads opens one ledger
 * per thread (SQLite's locking keeps them consistent with each other) or
 * serialises its use of a shared one itself.
 */
#ifndef LM_LEDGER_H
#define LM_LEDGER_H

#include <stdint.h>

#include "imports.h"
#include "modset.h"

typedef struct lm_ledger lm_ledger;

enum {
	LM_LEDGER_CREATE = 1 << 0,  /* create the file if missing */
	LM_LEDGER_READONLY = 1 << 1, /* open read-only, never migrate */
	LM_LEDGER_MMAP = 1 << 2,     /* read through mmap: one-shot commands */
	LM_LEDGER_NOWAIT = 1 << 3    /* a lock held elsewhere is LM_EBUSY at
				      * once, not after the busy timeout */
};

/* Opens (and migrates) the ledger at `path`. A ledger whose user_version is
 * newer than this build knows: LM_EINVAL, "written by a newer livemod
 * (schema N, this build knows M)". Missing file without CREATE:
 * LM_ENOTFOUND. Not a database / corrupt: LM_EINVAL naming the file. */
int lm_ledger_open(lm_ledger **out, const char *path, int flags);
void lm_ledger_free(lm_ledger *l);

/* The schema version this build writes. */
int lm_ledger_schema_version(void);

/* Write transactions: BEGIN IMMEDIATE (takes the write lock now, waits at
 * most the busy timeout, LM_EBUSY after), COMMIT, ROLLBACK. */
int lm_ledger_begin(lm_ledger *l);
int lm_ledger_commit(lm_ledger *l);
/* A read transaction (BEGIN DEFERRED): the reads up to its COMMIT see one
 * snapshot, taken at the first of them. In WAL mode it never waits for a
 * writer, nor a writer for it. */
int lm_ledger_begin_read(lm_ledger *l);
void lm_ledger_rollback(lm_ledger *l);

/* What tells a reader whether the ledger may have changed since it last
 * looked: commits by other connections (PRAGMA data_version) and rows
 * this connection changed (sqlite3_total_changes64), which data_version
 * leaves out. Two equal stamps of one connection mean no commit in
 * between; unequal ones only that there may have been one. */
typedef struct lm_ledger_stamp {
	int64_t others;
	int64_t own;
} lm_ledger_stamp;

int lm_ledger_stamp_get(lm_ledger *l, lm_ledger_stamp *out);

/* ---- node ------------------------------------------------------------ */

typedef struct lm_node_info {
	int64_t id;
	char *name;               /* host name at init */
	char *app;                /* --app, e.g. "chatd" */
	char *libdir;             /* absolute path */
	int64_t current_release;  /* 0 when none */
	int64_t permanent_release;/* 0 when none */
	int64_t booted_release;   /* the last release that booted, 0 none */
} lm_node_info;

int lm_ledger_node_create(lm_ledger *l, int64_t *out_id, const char *name,
			  const char *app, const char *libdir);
/* The node of this ledger; LM_ENOTFOUND when `init` never ran. */
int lm_ledger_node_get(lm_ledger *l, lm_node_info *out);
int lm_ledger_node_set_current(lm_ledger *l, int64_t node, int64_t release);
int lm_ledger_node_set_permanent(lm_ledger *l, int64_t node, int64_t release);
int lm_ledger_node_set_booted(lm_ledger *l, int64_t node, int64_t release);
void lm_node_info_clear(lm_node_info *n);

/* ---- boot failures and the host's declared imports -------------------- */

/* Records that `release` failed to boot for `reason` and that the node
 * booted `fallback` instead (a release fails once: a second record of the
 * same release keeps the first). */
int lm_ledger_boot_failure_add(lm_ledger *l, int64_t release,
			       int64_t fallback, const char *reason);
/* Why `release` failed to boot: *reason malloc'ed, NULL when it never
 * failed. */
int lm_ledger_boot_failure_get(lm_ledger *l, int64_t release, char **reason);

/* A release that failed to boot, and why. */
typedef struct lm_boot_failure {
	int64_t release;
	char *reason;
} lm_boot_failure;

/* Every release that failed to boot, sorted by release, in *out (*n of
 * them), which the caller frees with lm_boot_failures_free. */
int lm_ledger_boot_failures(lm_ledger *l, lm_boot_failure **out, size_t *n);
/* NULL is accepted. */
void lm_boot_failures_free(lm_boot_failure *v, size_t n);

/* The imports the host declared at its last start, sorted by module and
 * name; replaced whole by _set. */
int lm_ledger_imports_get(lm_ledger *l, lm_imports *out);
int lm_ledger_imports_set(lm_ledger *l, const lm_imports *im);

/* ---- releases and module versions ------------------------------------ */

typedef struct lm_release_info {
	int64_t id;
	int64_t parent;           /* the release it was planned from, 0 none */
	char commit[LM_OID_HEXSZ + 1];
	char *created_at;         /* ISO 8601 UTC */
	char *note;
	/* lm_ledger_release_list only: */
	char *boot_failed;        /* why it failed to boot here, or NULL */
	int64_t same_as;          /* the earliest release with the same
				   * modules and objects, 0 none */
} lm_release_info;

/* Records a release: the module versions (inserted when new, keyed by oid)
 * and the release's contents. */
int lm_ledger_release_add(lm_ledger *l, int64_t *out_id, int64_t parent,
			  const char *commit, const lm_modset *mods,
			  const char *note);
int lm_ledger_release_get(lm_ledger *l, int64_t id, lm_release_info *out);
/* Every module of a release, with descriptors, sorted by name. */
int lm_ledger_release_modules(lm_ledger *l, int64_t id, lm_modset *out);
/* The same with partial descriptors (no exports): what planning needs of
 * the thousands of modules a plan does not touch, at a fraction of the
 * cost. Read from the release's one-row index (release_index, written
 * with the release), else from the rows as above. */
int lm_ledger_release_index(lm_ledger *l, int64_t id, lm_modset *out);
/* Releases newest first. */
int lm_ledger_release_list(lm_ledger *l, lm_release_info **out, size_t *n);
/* The releases planned from `parent`, newest first, without the fields
 * only lm_ledger_release_list fills: what planning looks through for a
 * release to plan again, at the cost of those few rows, not of history. */
int lm_ledger_release_children(lm_ledger *l, int64_t parent,
			       lm_release_info **out, size_t *n);
void lm_release_info_clear(lm_release_info *r);

/* The first release that held object `oid` as module `name`, 0 none. */
int lm_ledger_oid_first_release(lm_ledger *l, const char *name,
				const char *oid, int64_t *out);

/* The descriptor recorded for object `oid`; LM_ENOTFOUND when none. */
int lm_ledger_module_version(lm_ledger *l, const char *oid,
			     lm_descriptor **out);

/* ---- plans ------------------------------------------------------------ */

typedef struct lm_plan_row {
	int64_t id;
	int64_t from_release, to_release;
	char *status;             /* planned|superseded|applying|applied|failed */
	char *path;               /* plans/<id>.json, relative to state dir */
	char *created_at;
	char *json;               /* the plan as written */
} lm_plan_row;

/* Inserts a plan with status 'planned', marking every earlier 'planned'
 * plan of the node 'superseded'. The id is returned before `json` is
 * known (the plan names its own id), hence the two steps. */
int lm_ledger_plan_add(lm_ledger *l, int64_t *out_id, int64_t from_release,
		       int64_t to_release);
int lm_ledger_plan_set_json(lm_ledger *l, int64_t id, const char *path,
			    const char *json);
int lm_ledger_plan_set_status(lm_ledger *l, int64_t id, const char *status);
/* Checks, inside the caller's write transaction, that the plan is still
 * 'planned' or 'failed'; LM_ESTALE when it is neither any more
 * (superseded or applied meanwhile). Writes nothing: the apply run the
 * caller records in the same transaction is what marks it in flight. */
int lm_ledger_plan_claim(lm_ledger *l, int64_t id);
/* Marks a plan whose apply failed 'failed', unless it was superseded or
 * applied meanwhile (then it keeps that status). */
int lm_ledger_plan_fail(lm_ledger *l, int64_t id);
/* LM_ENOTFOUND when no such plan. */
int lm_ledger_plan_get(lm_ledger *l, int64_t id, lm_plan_row *out);
/* The highest plan id in *out_id, 0 when there is no plan. */
int lm_ledger_plan_newest(lm_ledger *l, int64_t *out_id);
/* The newest plan from `from` to `to` that was applied; LM_ENOTFOUND. */
int lm_ledger_plan_applied(lm_ledger *l, int64_t from, int64_t to,
			   lm_plan_row *out);
/* Every plan, newest first, without its json. */
int lm_ledger_plan_list(lm_ledger *l, lm_plan_row **out, size_t *n);
void lm_plan_row_clear(lm_plan_row *p);

/* ---- apply runs --------------------------------------------------------- */

typedef struct lm_run_info {
	int64_t id;
	int64_t plan_id;
	int64_t from_release, to_release;
	char *phase;       /* started|checked|point_of_no_return|done */
	char *status;      /* running|ok|check_failed|eval_failed|interrupted */
	char *check;       /* JSON: {"ok": [...]} or {"error": "..."}, or NULL */
	char *eval;        /* same */
	char *timings;     /* JSON object of step -> microseconds, or NULL */
	char *started_at, *finished_at;
} lm_run_info;

/* Records a run in `phase` (NULL: 'started'): the node records its runs
 * at the point of no return, run and phase in one row. */
int lm_ledger_run_start(lm_ledger *l, int64_t *out_id, int64_t plan_id,
			int64_t from_release, int64_t to_release,
			const char *phase);
int lm_ledger_run_phase(lm_ledger *l, int64_t run, const char *phase);
int lm_ledger_run_finish(lm_ledger *l, int64_t run, const char *status,
			 const char *check, const char *eval,
			 const char *timings);
/* Marks every run still 'running' as 'interrupted'; returns how many in
 * *n. Called by the agent at boot. */
int lm_ledger_run_mark_interrupted(lm_ledger *l, int *n);
/* Adds an unload round the reaper did after run `run` to its timings:
 * "unload" (microseconds) and "unloaded" (versions), summed. */
int lm_ledger_run_note_unload(lm_ledger *l, int64_t run, size_t versions,
			      long us);
/* Runs newest first. */
int lm_ledger_run_list(lm_ledger *l, lm_run_info **out, size_t *n);
void lm_run_info_clear(lm_run_info *r);

/* ---- stat cache ---------------------------------------------------------- */

typedef struct lm_stat_entry {
	char *file;            /* name in libdir */
	int64_t size, mtime_ns, ctime_ns;
	uint64_t ino;
	char oid[LM_OID_HEXSZ + 1];
	/* The coarse wall clock read before the scan took the entry's stat
	 * (lib/scan.c: what makes an entry racy) */
	int64_t cached_at_ns;
} lm_stat_entry;

/* The whole cache, sorted by file name: stat data and blob ids only. An
 * entry's oid is always a module version (the schema keeps it so), whose
 * descriptor the caller takes from the release it already holds, or from
 * lm_ledger_module_version(). */
int lm_ledger_stat_load(lm_ledger *l, lm_stat_entry **out, size_t *n);
/* The number of entries in the cache. */
int lm_ledger_stat_count(lm_ledger *l, int64_t *n);
/* Replaces the whole cache. Every oid must already be a module version. */
int lm_ledger_stat_store(lm_ledger *l, const lm_stat_entry *v, size_t n);
/* Adds or replaces the entries of `v` whose oid is a module version,
 * leaving the others in the cache; those of other oids are skipped (the
 * count written goes to *written when not NULL). One transaction. */
int lm_ledger_stat_refresh(lm_ledger *l, const lm_stat_entry *v, size_t n,
			   size_t *written);
/* 1 when `oid` is a module version the ledger records, 0 when not. */
int lm_ledger_module_known(lm_ledger *l, const char *oid);

void lm_stat_entries_free(lm_stat_entry *v, size_t n);

/* The underlying handle, for tests and for `PRAGMA integrity_check`. */
struct sqlite3 *lm_ledger_db(lm_ledger *l);

#endif
