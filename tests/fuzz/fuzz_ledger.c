/*
 * fuzz_ledger.c - libFuzzer target: lm_ledger_open and the ledger's reads
 * (lib/ledger.c) on a damaged ledger.db, as a node or `livemod` meets one
 * after a disk fault, a bad copy or a hand edit.
 *
 * Each input is a whole database file, written to a scratch directory on
 * tmpfs. It is opened read-only, as `status` and `history` do, then
 * read-write, as `plan` and the node do (which migrate an old schema and
 * mark interrupted runs), and read through every list and lookup the
 * node's boot, `history` and planning make. Every refusal must be a clean
 * LM_E* with a message, every descriptor handed out must validate, and no
 * text the schema declares NOT NULL may come back NULL: the node and the
 * CLI trust what the ledger gives them (strcmp, strdup, no NULL checks).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "error.h"
#include "fuzz.h"
#include "ledger.h"

/* A damaged file can list many rows; a few show the readers at work, and
 * more would only slow the fuzzer down. */
#define MAX_RELEASES 4
#define MAX_RUNS 4

static char *db_path;
static char *side_files[3];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const suffix[] = { "-wal", "-shm", "-journal" };
	char *dir = fuzz_scratch_dir("lmfuzz-ledger");
	size_t i;

	(void)argc, (void)argv;
	/* nobody else holds the file: never wait for a lock */
	setenv("LIVEMOD_LOCK_TIMEOUT_MS", "50", 1);
	if (asprintf(&db_path, "%s/ledger.db", dir) < 0)
		fuzz_fail("out of memory");
	for (i = 0; i < 3; i++)
		if (asprintf(&side_files[i], "%s%s", db_path, suffix[i]) < 0)
			fuzz_fail("out of memory");
	return 0;
}

/* The input as the only file of the database: a WAL or journal left by
 * the previous input would be read as part of this one. */
static void write_db(const uint8_t *data, size_t size)
{
	FILE *f;
	size_t i;

	for (i = 0; i < 3; i++)
		unlink(side_files[i]);
	if (!(f = fopen(db_path, "wb")) ||
	    (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
		fuzz_fail("cannot write %s", db_path);
}

/* A field read from a NOT NULL column. */
static void need(const void *field, const char *what)
{
	if (!field)
		fuzz_fail("the ledger handed out a NULL %s (a NOT NULL column)",
			  what);
}

static void check_modset(const lm_modset *s, const char *what)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		lm_error_clear();
		if (!s->v[i].desc || !s->v[i].file ||
		    lm_descriptor_validate(s->v[i].desc, what) != 0)
			fuzz_fail("%s handed out module %zu that does not "
				  "validate", what, i);
	}
}

static void read_release(lm_ledger *l, int64_t id)
{
	lm_release_info r = { 0 };
	lm_modset mods = { 0 }, index = { 0 };
	lm_descriptor *d;
	size_t i;

	if (FUZZ_MAY_FAIL(lm_ledger_release_get(l, id, &r)) == 0) {
		need(r.created_at, "releases.created_at");
		lm_release_info_clear(&r);
	}
	if (FUZZ_MAY_FAIL(lm_ledger_release_modules(l, id, &mods)) == 0) {
		check_modset(&mods, "lm_ledger_release_modules");
		for (i = 0; i < mods.n && i < MAX_RELEASES; i++)
			if (FUZZ_MAY_FAIL(lm_ledger_module_version(
				    l, mods.v[i].oid, &d)) == 0) {
				if (lm_descriptor_validate(d, "version") != 0)
					fuzz_fail("lm_ledger_module_version "
						  "handed out a bad descriptor");
				lm_descriptor_free(d);
			}
		lm_modset_clear(&mods);
	}
	if (FUZZ_MAY_FAIL(lm_ledger_release_index(l, id, &index)) == 0) {
		check_modset(&index, "lm_ledger_release_index");
		lm_modset_clear(&index);
	}
}

/* Checks and clears. */
static void check_plan(lm_plan_row *p)
{
	need(p->status, "plans.status");
	need(p->created_at, "plans.created_at");
	lm_plan_row_clear(p);
}

static void read_plan(lm_ledger *l, int64_t id, int64_t from, int64_t to)
{
	lm_plan_row p = { 0 };

	if (FUZZ_MAY_FAIL(lm_ledger_plan_get(l, id, &p)) == 0)
		check_plan(&p);
	if (FUZZ_MAY_FAIL(lm_ledger_plan_applied(l, from, to, &p)) == 0)
		check_plan(&p);
}

/* What a node's boot, `history` and a plan read. */
static void read_all(lm_ledger *l)
{
	lm_node_info node = { 0 };
	lm_release_info *rels = NULL;
	lm_run_info *runs = NULL;
	lm_stat_entry *stats = NULL;
	size_t n = 0, i;

	if (FUZZ_MAY_FAIL(lm_ledger_node_get(l, &node)) == 0) {
		need(node.name, "nodes.name");
		need(node.libdir, "nodes.libdir");
		read_release(l, node.current_release);
		if (node.permanent_release != node.current_release)
			read_release(l, node.permanent_release);
		lm_node_info_clear(&node);
	}
	if (FUZZ_MAY_FAIL(lm_ledger_release_list(l, &rels, &n)) == 0) {
		for (i = 0; i < n; i++) {
			need(rels[i].created_at, "releases.created_at");
			if (i < MAX_RELEASES)
				read_release(l, rels[i].id);
			lm_release_info_clear(&rels[i]);
		}
		free(rels);
	}
	if (FUZZ_MAY_FAIL(lm_ledger_run_list(l, &runs, &n)) == 0) {
		for (i = 0; i < n; i++) {
			need(runs[i].phase, "apply_runs.phase");
			need(runs[i].status, "apply_runs.status");
			need(runs[i].started_at, "apply_runs.started_at");
			if (i < MAX_RUNS)
				read_plan(l, runs[i].plan_id,
					  runs[i].from_release,
					  runs[i].to_release);
			lm_run_info_clear(&runs[i]);
		}
		free(runs);
	}
	read_plan(l, 1, 1, 2);
	if (FUZZ_MAY_FAIL(lm_ledger_stat_load(l, &stats, &n)) == 0) {
		for (i = 0; i < n; i++)
			need(stats[i].file, "stat_cache.file");
		lm_stat_entries_free(stats, n);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int modes[] = { LM_LEDGER_READONLY, 0 };
	lm_ledger *l;
	size_t i;
	int marked;

	write_db(data, size);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		l = NULL;
		if (FUZZ_MAY_FAIL(lm_ledger_open(&l, db_path, modes[i])) != 0) {
			if (l)
				fuzz_fail("lm_ledger_open failed but gave a "
					  "ledger");
			continue;
		}
		read_all(l);
		if (!(modes[i] & LM_LEDGER_READONLY))
			FUZZ_MAY_FAIL(lm_ledger_run_mark_interrupted(l, &marked));
		lm_ledger_free(l);
	}
	return 0;
}
