/*
 * gc.h - housekeeping (`livemod gc`): prune the releases no one needs from
 * the ledger, the store and objects/.
 *
 * Kept: the newest N releases, the node's current, permanent and last
 * booted releases (what a failed boot falls back to),
 * and both ends of every plan still 'planned' or 'applying'. The rest go,
 * with the plans and apply runs that name them, the module versions no
 * kept release holds, their store objects (through git's own gc) and the
 * extracted objects/<oid>.so files nothing loads. docs/housekeeping.md
 * has the rules and why; the order of the steps is what makes a crash
 * at any point harmless.
 */
#ifndef LM_GC_H
#define LM_GC_H

#include <stddef.h>
#include <stdint.h>

#include "planning.h"

/* How many of the newest releases `livemod gc` keeps by default. */
#define LM_GC_KEEP_DEFAULT 5

typedef struct lm_gc_opts {
	int64_t keep;      /* the newest `keep` releases stay; >= 1 */
	int dry_run;       /* compute and report only; change nothing */
	/* The object ids the running node has loaded (current and old
	 * versions); none when no node runs. With `loaded_unknown` (the node
	 * did not say) every file in objects/ is kept. */
	const char *const *loaded;
	size_t nloaded;
	int loaded_unknown;
} lm_gc_opts;

typedef char lm_gc_oid[LM_OID_HEXSZ + 1];

typedef struct lm_gc_result {
	int64_t *kept;              /* release ids, ascending */
	size_t nkept;
	int64_t *pruned;            /* release ids, ascending */
	size_t npruned;
	int64_t *plans;             /* pruned plan ids, ascending */
	size_t nplans;
	size_t runs;                /* pruned apply runs */
	size_t module_versions;     /* pruned module versions */
	lm_gc_oid *objects;         /* objects/<oid>.so removed, sorted */
	size_t nobjects;
	int64_t current, permanent; /* the node's, 0 when none */
	int64_t booted;             /* the last release that booted, 0 none */
	char **warnings;            /* what was left for later, and why */
	size_t nwarnings;
} lm_gc_result;

/*
 * Prunes what `opts` says in the state `st` (opened read-only for a dry
 * run, read-write otherwise) and says what in *out (cleared first; the
 * caller clears it, after a failure too). The ledger's part is one
 * transaction: LM_EBUSY when another writer holds it, and nothing
 * changed on any failure of it. What follows the commit (plan files, the
 * store's tags and objects, objects/) cannot undo it: its failures become
 * warnings and are mended by the next gc.
 */
int lm_gc_run(lm_gc_result *out, lm_state *st, const lm_gc_opts *opts);

void lm_gc_result_clear(lm_gc_result *r);

#endif
