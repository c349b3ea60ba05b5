/*
 * test_ledger.c - the SQLite ledger (lib/ledger.c) against real files:
 * creating and migrating, refusing what it must not touch (newer schema,
 * not a database, another program's database), each table's round trip,
 * the write lock, and every error a caller can get.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "error.h"
#include "ledger.h"
#include "testutil.h"

typedef struct fixture {
	char *dir;
	char *path;
	lm_ledger *l;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	unsetenv("LIVEMOD_LOCK_TIMEOUT_MS");
	f->dir = tu_tmpdir();
	assert_true(asprintf(&f->path, "%s/ledger.db", f->dir) > 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;

	lm_ledger_free(f->l);
	tu_rm_rf(f->dir);
	free(f->dir);
	free(f->path);
	free(f);
	unsetenv("LIVEMOD_LOCK_TIMEOUT_MS");
	return 0;
}

/* Opens (creating) the fixture's ledger into f->l. */
static lm_ledger *open_rw(fixture *f)
{
	assert_int_equal(lm_ledger_open(&f->l, f->path, LM_LEDGER_CREATE), 0);
	return f->l;
}

static void assert_error(int rc, int code, const char *part1,
			 const char *part2)
{
	assert_int_equal(rc, code);
	if (part1 && !strstr(lm_error_last(), part1))
		fail_msg("message '%s' lacks '%s'", lm_error_last(), part1);
	if (part2 && !strstr(lm_error_last(), part2))
		fail_msg("message '%s' lacks '%s'", lm_error_last(), part2);
}

/* An integer from a one-value SQL query on any handle. */
static int64_t sql_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void sql_text_is(sqlite3 *db, const char *sql, const char *want)
{
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), want);
	sqlite3_finalize(st);
}

/* Runs SQL on a raw connection of its own, as another program would. */
static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void oid_of(char buf[LM_OID_HEXSZ + 1], unsigned n)
{
	snprintf(buf, LM_OID_HEXSZ + 1, "%040x", n);
}

static lm_descriptor *mkdesc(const char *name, const char *vsn,
			     const char *deps, const char *exports,
			     unsigned callbacks, lm_purge_mode purge)
{
	lm_descriptor *d = lm_descriptor_new(name, vsn);

	assert_non_null(d);
	d->abi = 1;
	d->callbacks = callbacks;
	d->purge = purge;
	assert_int_equal(lm_descriptor_set_deps_text(d, deps), 0);
	assert_int_equal(lm_descriptor_set_exports_text(d, exports), 0);
	assert_int_equal(lm_descriptor_validate(d, "test"), 0);
	return d;
}

static void add_mod(lm_modset *s, const char *file, unsigned oidn,
		    lm_descriptor *d)
{
	char oid[LM_OID_HEXSZ + 1];

	oid_of(oid, oidn);
	assert_int_equal(lm_modset_add(s, file, oid, d), 0);
}

/* The three-module set most tests record: a dependency, a stateful
 * module with callbacks and a purge mode, a plain one. */
static void sample_set(lm_modset *s, unsigned base)
{
	add_mod(s, "mod_util.so", base + 1,
		mkdesc("mod_util", "1.0.0", "", "fmt\tint (char *, size_t)\n",
		       0, LM_PURGE_DEFAULT));
	add_mod(s, "mod_messager.so", base + 2,
		mkdesc("mod_messager", "1.1.0", "mod_util mod_rooms",
		       "handle\tint (lm_task *, const char *, size_t)\n"
		       "stats\tvoid (void)\n",
		       LM_CB_INIT | LM_CB_CODE_CHANGE | LM_CB_TERMINATE,
		       LM_SOFT_PURGE));
	add_mod(s, "mod_rooms.so", base + 3,
		mkdesc("mod_rooms", "2.0", "mod_util", "", LM_CB_INIT,
		       LM_BRUTAL_PURGE));
	assert_int_equal(lm_modset_sort(s), 0);
}

static int64_t add_release(lm_ledger *l, int64_t parent, unsigned commitn,
			   unsigned base)
{
	char commit[LM_OID_HEXSZ + 1];
	lm_modset s = { 0 };
	int64_t id = 0;

	oid_of(commit, commitn);
	sample_set(&s, base);
	assert_int_equal(lm_ledger_release_add(l, &id, parent, commit, &s,
					       "note"),
			 0);
	lm_modset_clear(&s);
	assert_true(id > 0);
	return id;
}

static int64_t add_node(lm_ledger *l)
{
	int64_t id = 0;

	assert_int_equal(lm_ledger_node_create(l, &id, "host1", "chatd",
					       "/srv/chatd/lib"),
			 0);
	return id;
}

/* ---- open, migrate, refuse ------------------------------------------- */

static void test_create_and_reopen(void **state)
{
	fixture *f = *state;
	lm_ledger *l = open_rw(f);
	sqlite3 *db = lm_ledger_db(l);

	assert_true(lm_ledger_schema_version() >= 1);
	assert_int_equal(sql_int(db, "PRAGMA user_version"),
			 lm_ledger_schema_version());
	assert_int_equal(sql_int(db, "PRAGMA foreign_keys"), 1);
	assert_int_equal(sql_int(db, "PRAGMA synchronous"), 1); /* NORMAL */
	sql_text_is(db, "PRAGMA journal_mode", "wal");
	sql_text_is(db, "PRAGMA integrity_check", "ok");
	/* 001's seven, 002's release_index, 003's boot_failures and
	 * host_imports. */
	assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_schema "
				     "WHERE type = 'table'"),
			 10);
	lm_ledger_free(l);
	f->l = NULL;

	/* Reopen, with and without CREATE, and read-only: no migration. */
	assert_int_equal(lm_ledger_open(&f->l, f->path, 0), 0);
	assert_int_equal(sql_int(lm_ledger_db(f->l), "PRAGMA user_version"),
			 lm_ledger_schema_version());
	lm_ledger_free(f->l);
	f->l = NULL;
	open_rw(f);
	lm_ledger_free(f->l);
	assert_int_equal(lm_ledger_open(&f->l, f->path, LM_LEDGER_READONLY), 0);
	sql_text_is(lm_ledger_db(f->l), "PRAGMA integrity_check", "ok");
}

static void test_missing_file(void **state)
{
	fixture *f = *state;

	assert_error(lm_ledger_open(&f->l, f->path, 0), LM_ENOTFOUND, f->path,
		     "livemod init");
	assert_null(f->l);
	assert_error(lm_ledger_open(&f->l, f->path, LM_LEDGER_READONLY),
		     LM_ENOTFOUND, f->path, NULL);
	assert_error(lm_ledger_open(&f->l, f->path,
				    LM_LEDGER_READONLY | LM_LEDGER_CREATE),
		     LM_ENOTFOUND, f->path, NULL);
	assert_int_equal(access(f->path, F_OK), -1);
	/* A directory is no ledger either. */
	assert_error(lm_ledger_open(&f->l, f->dir, 0), LM_EINVAL, f->dir,
		     "not a regular file");
}

static void test_newer_schema_refused(void **state)
{
	fixture *f = *state;
	char sql[64], want[160];
	int newer = lm_ledger_schema_version() + 3;
	size_t n1, n2;
	char *before, *after;

	open_rw(f);
	lm_ledger_free(f->l);
	f->l = NULL;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", newer);
	raw_exec(f->path, sql);
	before = tu_read_file(f->path, &n1);
	assert_non_null(before);

	snprintf(want, sizeof(want),
		 "ledger written by a newer livemod (schema %d; this build "
		 "knows %d)",
		 newer, lm_ledger_schema_version());
	assert_error(lm_ledger_open(&f->l, f->path, LM_LEDGER_CREATE),
		     LM_EINVAL, f->path, want);
	assert_null(f->l);
	assert_error(lm_ledger_open(&f->l, f->path, LM_LEDGER_READONLY),
		     LM_EINVAL, f->path, want);
	after = tu_read_file(f->path, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	free(before);
	free(after);
}

/* A negative schema version (fuzz_ledger found one: a damaged header)
 * is refused, read-only or not, and the file is left as it was. */
static void test_negative_schema_refused(void **state)
{
	fixture *f = *state;
	size_t n1, n2;
	char *before, *after;

	open_rw(f);
	lm_ledger_free(f->l);
	f->l = NULL;
	raw_exec(f->path, "PRAGMA user_version = -3");
	before = tu_read_file(f->path, &n1);
	assert_non_null(before);
	assert_error(lm_ledger_open(&f->l, f->path, 0), LM_EINVAL, f->path,
		     "damaged (schema version -3)");
	assert_null(f->l);
	assert_error(lm_ledger_open(&f->l, f->path, LM_LEDGER_READONLY),
		     LM_EINVAL, f->path, "damaged (schema version -3)");
	after = tu_read_file(f->path, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, n1);
	free(before);
	free(after);
}

static void test_not_a_database(void **state)
{
	fixture *f = *state;
	char junk[8192];
	size_t n;
	char *after;
	int flags[] = { 0, LM_LEDGER_CREATE, LM_LEDGER_READONLY };
	size_t i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)('a' + i % 26);
	tu_write_file(f->path, junk, sizeof(junk));
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		assert_error(lm_ledger_open(&f->l, f->path, flags[i]),
			     LM_EINVAL, f->path, "not a livemod ledger");
		assert_null(f->l);
	}
	after = tu_read_file(f->path, &n);
	assert_int_equal(n, sizeof(junk));
	assert_memory_equal(after, junk, n);
	free(after);
}

static void test_foreign_database(void **state)
{
	fixture *f = *state;

	raw_exec(f->path, "CREATE TABLE accounts (id INTEGER PRIMARY KEY)");
	assert_error(lm_ledger_open(&f->l, f->path, LM_LEDGER_CREATE),
		     LM_EINVAL, f->path, "another program");
	raw_exec(f->path, "DROP TABLE accounts; PRAGMA application_id = 7");
	assert_error(lm_ledger_open(&f->l, f->path, 0), LM_EINVAL, f->path,
		     "another program");
}

static void test_migration_fails_atomically(void **state)
{
	fixture *f = *state;
	sqlite3 *db;

	/* Marked as ours but half made by hand: migration 1 cannot create
	 * `nodes`, and must leave no other table behind. */
	raw_exec(f->path, "PRAGMA application_id = 1280134215; "
			  "CREATE TABLE nodes (x)");
	assert_error(lm_ledger_open(&f->l, f->path, LM_LEDGER_CREATE),
		     LM_ERROR, f->path, "migration to schema 1 failed");
	assert_non_null(strstr(lm_error_last(), "already exists"));
	assert_null(f->l);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sql_int(db, "PRAGMA user_version"), 0);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_schema"), 1);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void test_readonly(void **state)
{
	fixture *f = *state;
	int64_t id;
	size_t n;
	char *buf;

	/* An empty file is a database with no schema: read-only never
	 * migrates it, a writer does. */
	tu_write_file(f->path, "", 0);
	assert_error(lm_ledger_open(&f->l, f->path, LM_LEDGER_READONLY),
		     LM_ENOTFOUND, f->path, "livemod init");
	buf = tu_read_file(f->path, &n);
	assert_int_equal(n, 0);
	free(buf);
	assert_int_equal(lm_ledger_open(&f->l, f->path, 0), 0);
	lm_ledger_free(f->l);

	assert_int_equal(lm_ledger_open(&f->l, f->path, LM_LEDGER_READONLY), 0);
	assert_int_equal(lm_ledger_node_create(f->l, &id, "h", NULL, "/l"),
			 LM_ERROR);
	assert_non_null(strstr(lm_error_last(), f->path));
	assert_non_null(strstr(lm_error_last(), "readonly"));
}

static void test_bad_lock_timeout(void **state)
{
	fixture *f = *state;

	setenv("LIVEMOD_LOCK_TIMEOUT_MS", "soon", 1);
	assert_error(lm_ledger_open(&f->l, f->path, LM_LEDGER_CREATE),
		     LM_EINVAL, "LIVEMOD_LOCK_TIMEOUT_MS", "soon");
	setenv("LIVEMOD_LOCK_TIMEOUT_MS", "-5", 1);
	assert_error(lm_ledger_open(&f->l, f->path, LM_LEDGER_CREATE),
		     LM_EINVAL, "LIVEMOD_LOCK_TIMEOUT_MS", NULL);
	setenv("LIVEMOD_LOCK_TIMEOUT_MS", "250", 1);
	open_rw(f);
}

/* ---- transactions and the lock ---------------------------------------- */

static double elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void test_lock_contention(void **state)
{
	fixture *f = *state;
	struct timespec t0;
	sqlite3 *other;
	lm_node_info n;
	int64_t id;
	double ms;

	setenv("LIVEMOD_LOCK_TIMEOUT_MS", "200", 1);
	open_rw(f);
	assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
				      NULL),
			 SQLITE_OK);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_error(lm_ledger_begin(f->l), LM_EBUSY, f->path,
		     "ledger is locked by another writer (waited 200 ms)");
	ms = elapsed_ms(&t0);
	/* It waited (the error says 200 ms; a wait cannot come out shorter
	 * under load) and it ended: 60 s is a hang guard, not a timing. */
	assert_true(ms >= 150);
	assert_true(ms < 60000);
	/* A write outside a transaction waits and fails the same way. */
	assert_error(lm_ledger_node_create(f->l, &id, "h", NULL, "/l"),
		     LM_EBUSY, f->path, "locked");
	assert_error(lm_ledger_node_get(f->l, &n), LM_ENOTFOUND, NULL, NULL);

	/* Readers are not blocked by a writer in WAL mode. */
	assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(lm_ledger_begin(f->l), 0);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
				      NULL),
			 SQLITE_BUSY);
	assert_int_equal(lm_ledger_commit(f->l), 0);
	assert_int_equal(sqlite3_close(other), SQLITE_OK);
}

static void test_lock_during_migration(void **state)
{
	fixture *f = *state;
	sqlite3 *other;

	setenv("LIVEMOD_LOCK_TIMEOUT_MS", "100", 1);
	assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL,
				      NULL),
			 SQLITE_OK);
	assert_error(lm_ledger_open(&f->l, f->path, LM_LEDGER_CREATE),
		     LM_EBUSY, f->path, "waited 100 ms");
	assert_null(f->l);
	assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_close(other), SQLITE_OK);
	open_rw(f);
}

static void test_transactions(void **state)
{
	fixture *f = *state;
	lm_node_info n;
	int64_t id;

	open_rw(f);
	assert_int_equal(lm_ledger_begin(f->l), 0);
	assert_error(lm_ledger_begin(f->l), LM_ERROR, f->path, "begin");
	add_node(f->l);
	lm_ledger_rollback(f->l);
	lm_ledger_rollback(f->l); /* harmless with none open */
	assert_error(lm_ledger_node_get(f->l, &n), LM_ENOTFOUND, f->path,
		     "livemod init");
	assert_error(lm_ledger_commit(f->l), LM_ERROR, f->path, "commit");

	assert_int_equal(lm_ledger_begin(f->l), 0);
	id = add_node(f->l);
	assert_int_equal(lm_ledger_commit(f->l), 0);
	lm_ledger_free(f->l);
	assert_int_equal(lm_ledger_open(&f->l, f->path, LM_LEDGER_READONLY), 0);
	assert_int_equal(lm_ledger_node_get(f->l, &n), 0);
	assert_int_equal(n.id, id);
	lm_node_info_clear(&n);
}

/* ---- node ---------------------------------------------------------------- */

static void test_node(void **state)
{
	fixture *f = *state;
	lm_node_info n;
	int64_t id, id2, r1, r2;

	open_rw(f);
	assert_error(lm_ledger_node_get(f->l, &n), LM_ENOTFOUND, f->path,
		     NULL);
	id = add_node(f->l);
	assert_error(lm_ledger_node_create(f->l, &id2, "h2", NULL, "/x"),
		     LM_EINVAL, f->path, "already has a node");
	assert_error(lm_ledger_node_create(f->l, &id2, "", NULL, "/x"),
		     LM_EINVAL, f->path, NULL);

	assert_int_equal(lm_ledger_node_get(f->l, &n), 0);
	assert_int_equal(n.id, id);
	assert_string_equal(n.name, "host1");
	assert_string_equal(n.app, "chatd");
	assert_string_equal(n.libdir, "/srv/chatd/lib");
	assert_int_equal(n.current_release, 0);
	assert_int_equal(n.permanent_release, 0);
	lm_node_info_clear(&n);
	assert_null(n.name);
	lm_node_info_clear(NULL);

	r1 = add_release(f->l, 0, 100, 0);
	r2 = add_release(f->l, r1, 101, 10);
	assert_int_equal(lm_ledger_node_set_current(f->l, id, r1), 0);
	assert_int_equal(lm_ledger_node_set_permanent(f->l, id, r1), 0);
	assert_int_equal(lm_ledger_node_set_current(f->l, id, r2), 0);
	assert_int_equal(lm_ledger_node_get(f->l, &n), 0);
	assert_int_equal(n.current_release, r2);
	assert_int_equal(n.permanent_release, r1);
	lm_node_info_clear(&n);

	/* Unknown release (foreign key), unknown node. */
	assert_error(lm_ledger_node_set_current(f->l, id, 999), LM_EINVAL,
		     f->path, "FOREIGN KEY");
	assert_error(lm_ledger_node_set_permanent(f->l, id, 999), LM_EINVAL,
		     f->path, "FOREIGN KEY");
	assert_error(lm_ledger_node_set_current(f->l, id + 7, r1),
		     LM_ENOTFOUND, f->path, "no node");
	assert_error(lm_ledger_node_set_permanent(f->l, id + 7, r1),
		     LM_ENOTFOUND, f->path, "no node");
	/* 0 means none. */
	assert_int_equal(lm_ledger_node_set_permanent(f->l, id, 0), 0);
	assert_int_equal(lm_ledger_node_get(f->l, &n), 0);
	assert_int_equal(n.permanent_release, 0);
	assert_int_equal(n.current_release, r2);
	lm_node_info_clear(&n);
}

/* ---- releases and module versions ------------------------------------ */

static void assert_same_set(const lm_modset *a, const lm_modset *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		assert_string_equal(a->v[i].file, b->v[i].file);
		assert_string_equal(a->v[i].oid, b->v[i].oid);
		assert_true(lm_descriptor_equal(a->v[i].desc, b->v[i].desc));
	}
}

/* `part` is `whole` without its exports, as bulk reads give it. */
static void assert_partial_of(const lm_descriptor *part,
			      const lm_descriptor *whole)
{
	lm_descriptor *d = lm_descriptor_dup(whole);

	assert_non_null(d);
	assert_true(part->partial);
	assert_int_equal(part->nexports, 0);
	assert_int_equal(lm_descriptor_set_exports_text(d, ""), 0);
	assert_true(lm_descriptor_equal(part, d));
	lm_descriptor_free(d);
}

/* lm_ledger_release_index: the release's index row, written with it, or
 * the rows when there is none; the same modules either way. */
static void test_release_index(void **state)
{
	fixture *f = *state;
	lm_modset want = { 0 }, got = { 0 };
	int64_t id, empty;
	char commit[LM_OID_HEXSZ + 1];
	sqlite3 *db;
	size_t i, pass;

	db = lm_ledger_db(open_rw(f));
	id = add_release(f->l, 0, 100, 0);
	sample_set(&want, 0);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM release_index"), 1);
	for (pass = 0; pass < 2; pass++) {
		assert_int_equal(lm_ledger_release_index(f->l, id, &got), 0);
		assert_int_equal(got.n, want.n);
		for (i = 0; i < want.n; i++) {
			assert_string_equal(got.v[i].file, want.v[i].file);
			assert_string_equal(got.v[i].oid, want.v[i].oid);
			assert_partial_of(got.v[i].desc, want.v[i].desc);
		}
		lm_modset_clear(&got);
		/* Second pass: through the rows. */
		assert_int_equal(sqlite3_exec(db, "DELETE FROM release_index",
					      NULL, NULL, NULL),
				 SQLITE_OK);
	}
	/* An empty release has no index row, a missing one is refused. */
	oid_of(commit, 101);
	assert_int_equal(lm_ledger_release_add(f->l, &empty, id, commit, &got,
					       NULL),
			 0);
	assert_int_equal(lm_ledger_release_index(f->l, empty, &got), 0);
	assert_int_equal(got.n, 0);
	assert_error(lm_ledger_release_index(f->l, 42, &got), LM_ENOTFOUND,
		     f->path, "no release 42");
	/* A damaged index row is refused, naming the release and line. */
	assert_int_equal(sqlite3_exec(db,
				      "INSERT INTO release_index VALUES "
				      "(1, 'mod_a' || char(9) || 'a.so' || "
				      "char(10))",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_error(lm_ledger_release_index(f->l, id, &got), LM_EINVAL,
		     f->path, "release 1: index line 1 is malformed");
	assert_int_equal(got.n, 0);
	lm_modset_clear(&want);
}

/* ABI 2's change_commit and change_abort (schema/004's column) come back
 * from the rows, the one-row index and the module version alike. */
static void test_move_callbacks_roundtrip(void **state)
{
	const unsigned all = LM_CB_INIT | LM_CB_CODE_CHANGE | LM_CB_TERMINATE |
			     LM_CB_CHANGE_COMMIT | LM_CB_CHANGE_ABORT;
	fixture *f = *state;
	lm_modset s = { 0 }, got = { 0 }, idx = { 0 };
	char commit[LM_OID_HEXSZ + 1], oid[LM_OID_HEXSZ + 1];
	lm_descriptor *d = lm_descriptor_new("mod_kv", "2.0.0"), *back;
	int64_t id = 0;

	open_rw(f);
	d->abi = 2;
	d->callbacks = all;
	assert_int_equal(lm_descriptor_validate(d, "test"), 0);
	add_mod(&s, "mod_kv.so", 9, d);
	oid_of(commit, 900);
	assert_int_equal(lm_ledger_release_add(f->l, &id, 0, commit, &s, "n"), 0);
	assert_int_equal(lm_ledger_release_modules(f->l, id, &got), 0);
	assert_int_equal(got.v[0].desc->abi, 2);
	assert_int_equal(got.v[0].desc->callbacks, all);
	assert_int_equal(lm_ledger_release_index(f->l, id, &idx), 0);
	assert_int_equal(idx.v[0].desc->callbacks, all);
	oid_of(oid, 9);
	assert_int_equal(lm_ledger_module_version(f->l, oid, &back), 0);
	assert_true(lm_descriptor_equal(back, d));
	assert_int_equal(sql_int(lm_ledger_db(f->l), "SELECT change_callbacks "
				 "FROM module_versions"), 3);
	lm_descriptor_free(back);
	lm_modset_clear(&idx);
	lm_modset_clear(&got);
	lm_modset_clear(&s);
}

/* A row that claims ABI 2's callbacks for an ABI 1 module, or one of the
 * two without the other, is refused by every reader, the index included
 * (the ledger fuzzer's find: the index handed the first out). */
static void test_damaged_move_callbacks(void **state)
{
	static const struct {
		const char *set, *want;
	} damage[] = {
		{ "abi = 1, change_callbacks = 3", "need ABI 2 (abi is 1)" },
		{ "abi = 2, change_callbacks = 1",
		  "change_commit without change_abort" },
		{ "abi = 2, change_callbacks = 2",
		  "change_abort without change_commit" },
	};
	fixture *f = *state;
	lm_modset got = { 0 };
	lm_descriptor *d = NULL;
	char oid[LM_OID_HEXSZ + 1], sql[256];
	int64_t r1, r2;
	size_t i;

	open_rw(f);
	r1 = add_release(f->l, 0, 100, 0);
	oid_of(oid, 3);
	/* past the schema's CHECK, as byte damage to the file gets */
	assert_int_equal(sqlite3_exec(lm_ledger_db(f->l),
				      "PRAGMA ignore_check_constraints = ON",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	for (i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		snprintf(sql, sizeof(sql), "UPDATE module_versions SET %s "
			 "WHERE name = 'mod_rooms'", damage[i].set);
		assert_int_equal(sqlite3_exec(lm_ledger_db(f->l), sql, NULL,
					      NULL, NULL),
				 SQLITE_OK);
		assert_error(lm_ledger_module_version(f->l, oid, &d),
			     LM_EINVAL, oid, damage[i].want);
		assert_null(d);
		assert_error(lm_ledger_release_modules(f->l, r1, &got),
			     LM_EINVAL, f->path, damage[i].want);
		assert_int_equal(got.n, 0);
		/* a release written after the damage carries it in its
		 * index */
		r2 = add_release(f->l, r1, 101 + (unsigned)i, 0);
		assert_error(lm_ledger_release_index(f->l, r2, &got),
			     LM_EINVAL, f->path, damage[i].want);
		assert_int_equal(got.n, 0);
	}
}

static void test_release_roundtrip(void **state)
{
	fixture *f = *state;
	lm_modset want = { 0 }, got = { 0 };
	lm_release_info r;
	lm_descriptor *d;
	int64_t id;
	char oid[LM_OID_HEXSZ + 1];

	open_rw(f);
	id = add_release(f->l, 0, 100, 0);
	sample_set(&want, 0);
	assert_int_equal(lm_ledger_release_modules(f->l, id, &got), 0);
	assert_same_set(&want, &got);
	/* Sorted by module name. */
	assert_string_equal(got.v[0].desc->name, "mod_messager");
	assert_string_equal(got.v[2].desc->name, "mod_util");
	assert_int_equal(got.v[0].desc->ndeps, 2);
	assert_string_equal(got.v[0].desc->exports[0].signature,
			    "int (lm_task *, const char *, size_t)");
	assert_int_equal(got.v[0].desc->callbacks, 7);
	assert_int_equal(got.v[0].desc->purge, LM_SOFT_PURGE);
	assert_int_equal(got.v[1].desc->purge, LM_BRUTAL_PURGE);
	lm_modset_clear(&got);

	assert_int_equal(lm_ledger_release_get(f->l, id, &r), 0);
	assert_int_equal(r.id, id);
	assert_int_equal(r.parent, 0);
	oid_of(oid, 100);
	assert_string_equal(r.commit, oid);
	assert_string_equal(r.note, "note");
	/* ISO 8601 UTC: 2024-01-02T03:04:05.678Z */
	assert_int_equal(strlen(r.created_at), 24);
	assert_int_equal(r.created_at[10], 'T');
	assert_int_equal(r.created_at[23], 'Z');
	lm_release_info_clear(&r);
	lm_release_info_clear(NULL);

	oid_of(oid, 2);
	assert_int_equal(lm_ledger_module_version(f->l, oid, &d), 0);
	assert_true(lm_descriptor_equal(d, want.v[0].desc));
	lm_descriptor_free(d);
	oid_of(oid, 77);
	assert_error(lm_ledger_module_version(f->l, oid, &d), LM_ENOTFOUND,
		     f->path, oid);
	assert_null(d);

	assert_error(lm_ledger_release_get(f->l, 42, &r), LM_ENOTFOUND,
		     f->path, "no release 42");
	assert_error(lm_ledger_release_modules(f->l, 42, &got), LM_ENOTFOUND,
		     f->path, "no release 42");
	lm_modset_clear(&want);
}

/* The releases planned from one parent, newest first, none of another's;
 * none at all for a parent with no children (or no such release). */
static void test_release_children(void **state)
{
	fixture *f = *state;
	lm_release_info *v = NULL;
	size_t n = 99, i;
	int64_t r1, r2, r3, r4;

	open_rw(f);
	r1 = add_release(f->l, 0, 101, 0);
	r2 = add_release(f->l, r1, 102, 0);
	r3 = add_release(f->l, r2, 103, 0);
	r4 = add_release(f->l, r1, 104, 0);
	assert_int_equal(lm_ledger_release_children(f->l, r1, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].id, r4);
	assert_int_equal(v[1].id, r2);
	for (i = 0; i < n; i++) {
		assert_int_equal(v[i].parent, r1);
		lm_release_info_clear(&v[i]);
	}
	free(v);
	assert_int_equal(lm_ledger_release_children(f->l, r2, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, r3);
	lm_release_info_clear(&v[0]);
	free(v);
	v = NULL;
	assert_int_equal(lm_ledger_release_children(f->l, r3, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	v = NULL;
	assert_int_equal(lm_ledger_release_children(f->l, 999, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
}

static void test_release_empty_and_bad(void **state)
{
	fixture *f = *state;
	lm_modset empty = { 0 }, s = { 0 }, got = { 0 };
	char commit[LM_OID_HEXSZ + 1];
	int64_t id, r1;
	sqlite3 *db;

	db = lm_ledger_db(open_rw(f));
	oid_of(commit, 200);
	assert_int_equal(lm_ledger_release_add(f->l, &id, 0, commit, &empty,
					       NULL),
			 0);
	assert_int_equal(lm_ledger_release_modules(f->l, id, &got), 0);
	assert_int_equal(got.n, 0);
	r1 = id;

	/* Bad commit ids, a commit recorded twice, an unknown parent. */
	assert_error(lm_ledger_release_add(f->l, &id, 0, "abc", &empty, NULL),
		     LM_EINVAL, f->path, "'abc'");
	assert_error(lm_ledger_release_add(f->l, &id, 0, commit, &empty, NULL),
		     LM_EINVAL, f->path, "UNIQUE");
	oid_of(commit, 201);
	assert_error(lm_ledger_release_add(f->l, &id, 999, commit, &empty,
					   NULL),
		     LM_EINVAL, f->path, "FOREIGN KEY");

	/* A module with a bad oid is refused before anything is written. */
	sample_set(&s, 0);
	strcpy(s.v[1].oid, "XYZ");
	assert_error(lm_ledger_release_add(f->l, &id, r1, commit, &s, NULL),
		     LM_EINVAL, f->path, "XYZ");
	lm_modset_clear(&s);

	/* Two files of one release with one name: the whole release is
	 * rolled back, module versions included. */
	add_mod(&s, "a.so", 1, mkdesc("mod_a", "1", "", "", 0, 0));
	add_mod(&s, "b.so", 2, mkdesc("mod_a", "2", "", "", 0, 0));
	assert_error(lm_ledger_release_add(f->l, &id, r1, commit, &s, NULL),
		     LM_EINVAL, f->path, "mod_a");
	lm_modset_clear(&s);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM releases"), 1);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM module_versions"),
			 0);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM release_modules"),
			 0);
}

static void test_module_version_shared(void **state)
{
	fixture *f = *state;
	lm_modset s = { 0 }, got = { 0 };
	char commit[LM_OID_HEXSZ + 1];
	lm_release_info *v;
	int64_t r1, r2;
	size_t n;
	sqlite3 *db;

	db = lm_ledger_db(open_rw(f));
	r1 = add_release(f->l, 0, 100, 0);
	/* r2: mod_util and mod_rooms unchanged, mod_messager new bytes. */
	sample_set(&s, 0);
	oid_of(s.v[0].oid, 50);
	/* in place: the vsn lives in the descriptor's block, same length */
	assert_int_equal(strlen(s.v[0].desc->vsn), strlen("1.2.0"));
	strcpy(s.v[0].desc->vsn, "1.2.0");
	oid_of(commit, 101);
	assert_int_equal(lm_ledger_release_add(f->l, &r2, r1, commit, &s,
					       NULL),
			 0);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM module_versions"),
			 4);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM release_modules"),
			 6);
	assert_int_equal(lm_ledger_release_modules(f->l, r2, &got), 0);
	assert_same_set(&s, &got);
	lm_modset_clear(&got);
	lm_modset_clear(&s);

	assert_int_equal(lm_ledger_release_list(f->l, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].id, r2);
	assert_int_equal(v[0].parent, r1);
	assert_null(v[0].note);
	assert_int_equal(v[1].id, r1);
	lm_release_info_clear(&v[0]);
	lm_release_info_clear(&v[1]);
	free(v);
}

static void test_damaged_module_version(void **state)
{
	fixture *f = *state;
	lm_descriptor *d = NULL;
	lm_modset got = { 0 };
	char oid[LM_OID_HEXSZ + 1];
	int64_t r1, r2;

	open_rw(f);
	r1 = add_release(f->l, 0, 100, 0);
	/* Edited by hand: a dependency name that no module can have. */
	assert_int_equal(sqlite3_exec(lm_ledger_db(f->l),
				      "UPDATE module_versions SET deps = "
				      "'Not-A-Name' WHERE name = 'mod_rooms'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	oid_of(oid, 3);
	assert_error(lm_ledger_module_version(f->l, oid, &d), LM_EINVAL,
		     f->path, oid);
	assert_null(d);
	assert_error(lm_ledger_release_modules(f->l, r1, &got), LM_EINVAL,
		     f->path, "Not-A-Name");
	assert_int_equal(got.n, 0);

	/* The planning read refuses it too, and frees what it read: from
	 * the rows when the release has no index row... */
	assert_int_equal(sqlite3_exec(lm_ledger_db(f->l),
				      "DELETE FROM release_index", NULL, NULL,
				      NULL),
			 SQLITE_OK);
	assert_error(lm_ledger_release_index(f->l, r1, &got), LM_EINVAL,
		     f->path, oid);
	assert_int_equal(got.n, 0);
	/* ...and a damaged index row (a release written after the damage
	 * carries it in its index). */
	r2 = add_release(f->l, r1, 101, 0);
	assert_error(lm_ledger_release_index(f->l, r2, &got), LM_EINVAL,
		     f->path, "Not-A-Name");
	assert_int_equal(got.n, 0);

	/* A module name that is not one. */
	assert_int_equal(sqlite3_exec(lm_ledger_db(f->l),
				      "UPDATE module_versions SET deps = '', "
				      "name = 'Rooms' WHERE name = 'mod_rooms'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	assert_error(lm_ledger_module_version(f->l, oid, &d), LM_EINVAL,
		     f->path, "'Rooms'");
	assert_null(d);
}

/* ---- plans ------------------------------------------------------------ */

static void test_plans(void **state)
{
	fixture *f = *state;
	int64_t p1, p2, r1, r2;
	lm_plan_row p;

	open_rw(f);
	r1 = add_release(f->l, 0, 100, 0);
	r2 = add_release(f->l, r1, 101, 10);
	assert_error(lm_ledger_plan_add(f->l, &p1, r1, r2), LM_ENOTFOUND,
		     f->path, "livemod init");
	add_node(f->l);

	assert_int_equal(lm_ledger_plan_add(f->l, &p1, r1, r2), 0);
	assert_int_equal(lm_ledger_plan_get(f->l, p1, &p), 0);
	assert_int_equal(p.id, p1);
	assert_int_equal(p.from_release, r1);
	assert_int_equal(p.to_release, r2);
	assert_string_equal(p.status, "planned");
	assert_null(p.path);
	assert_null(p.json);
	assert_non_null(p.created_at);
	lm_plan_row_clear(&p);
	lm_plan_row_clear(NULL);

	assert_int_equal(lm_ledger_plan_set_json(f->l, p1, "plans/1.json",
						 "{\"format\":\"livemod.plan/1\"}"),
			 0);
	assert_int_equal(lm_ledger_plan_add(f->l, &p2, r1, r2), 0);
	assert_true(p2 > p1);
	assert_int_equal(lm_ledger_plan_get(f->l, p1, &p), 0);
	assert_string_equal(p.status, "superseded");
	assert_string_equal(p.path, "plans/1.json");
	assert_string_equal(p.json, "{\"format\":\"livemod.plan/1\"}");
	lm_plan_row_clear(&p);

	assert_int_equal(lm_ledger_plan_set_status(f->l, p2, "applying"), 0);
	assert_int_equal(lm_ledger_plan_get(f->l, p2, &p), 0);
	assert_string_equal(p.status, "applying");
	lm_plan_row_clear(&p);

	/* The one waiting plan rule holds in the schema too. */
	assert_int_equal(lm_ledger_plan_set_status(f->l, p1, "planned"), 0);
	assert_error(lm_ledger_plan_set_status(f->l, p2, "planned"),
		     LM_EINVAL, f->path, "UNIQUE");

	assert_error(lm_ledger_plan_set_status(f->l, p2, "done"), LM_EINVAL,
		     f->path, "CHECK");
	assert_error(lm_ledger_plan_set_status(f->l, 99, "failed"),
		     LM_ENOTFOUND, f->path, "no plan 99");
	assert_error(lm_ledger_plan_set_json(f->l, p2, "plans/2.json", "{bad"),
		     LM_EINVAL, f->path, "CHECK");
	assert_error(lm_ledger_plan_set_json(f->l, 99, "plans/99.json", "{}"),
		     LM_ENOTFOUND, f->path, "no plan 99");
	assert_error(lm_ledger_plan_get(f->l, 99, &p), LM_ENOTFOUND, f->path,
		     "no plan 99");
	assert_error(lm_ledger_plan_add(f->l, &p2, r1, 999), LM_EINVAL,
		     f->path, "FOREIGN KEY");
	/* The failed add left the earlier plan waiting, not superseded. */
	assert_int_equal(lm_ledger_plan_get(f->l, p1, &p), 0);
	assert_string_equal(p.status, "planned");
	lm_plan_row_clear(&p);
}

/* ---- apply runs ---------------------------------------------------------- */

static void test_runs(void **state)
{
	fixture *f = *state;
	int64_t p1, r1, r2, run1, run2, run3;
	lm_run_info *v;
	size_t n;
	int cnt;

	open_rw(f);
	add_node(f->l);
	r1 = add_release(f->l, 0, 100, 0);
	r2 = add_release(f->l, r1, 101, 10);
	assert_int_equal(lm_ledger_plan_add(f->l, &p1, r1, r2), 0);

	assert_error(lm_ledger_run_start(f->l, &run1, 99, r1, r2, NULL), LM_EINVAL,
		     f->path, "FOREIGN KEY");
	assert_int_equal(lm_ledger_run_start(f->l, &run1, p1, r1, r2, NULL), 0);
	assert_int_equal(lm_ledger_run_phase(f->l, run1, "checked"), 0);
	assert_int_equal(lm_ledger_run_phase(f->l, run1, "point_of_no_return"),
			 0);
	assert_error(lm_ledger_run_phase(f->l, run1, "halfway"), LM_EINVAL,
		     f->path, "CHECK");
	assert_error(lm_ledger_run_phase(f->l, 99, "checked"), LM_ENOTFOUND,
		     f->path, "99");
	assert_error(lm_ledger_run_finish(f->l, run1, "great", NULL, NULL,
					  NULL),
		     LM_EINVAL, f->path, "CHECK");
	assert_error(lm_ledger_run_finish(f->l, run1, "running", NULL, NULL,
					  NULL),
		     LM_EINVAL, f->path, "CHECK");
	assert_error(lm_ledger_run_finish(f->l, run1, "ok", "{not json", NULL,
					  NULL),
		     LM_EINVAL, f->path, "CHECK");
	assert_int_equal(lm_ledger_run_finish(f->l, run1, "ok",
					      "{\"ok\":[]}", "{\"ok\":[]}",
					      "{\"load\":120}"),
			 0);
	/* Finished is final. */
	assert_error(lm_ledger_run_finish(f->l, run1, "eval_failed", NULL,
					  NULL, NULL),
		     LM_ENOTFOUND, f->path, "running apply run");

	assert_int_equal(lm_ledger_run_start(f->l, &run2, p1, r1, r2, NULL), 0);
	assert_int_equal(lm_ledger_run_start(f->l, &run3, p1, r1, r2, NULL), 0);
	assert_int_equal(lm_ledger_run_mark_interrupted(f->l, &cnt), 0);
	assert_int_equal(cnt, 2);
	assert_int_equal(lm_ledger_run_mark_interrupted(f->l, &cnt), 0);
	assert_int_equal(cnt, 0);

	assert_int_equal(lm_ledger_run_list(f->l, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].id, run3);
	assert_string_equal(v[0].status, "interrupted");
	assert_string_equal(v[0].phase, "started");
	assert_non_null(v[0].finished_at);
	assert_null(v[0].check);
	assert_int_equal(v[1].id, run2);
	assert_int_equal(v[2].id, run1);
	assert_int_equal(v[2].plan_id, p1);
	assert_int_equal(v[2].from_release, r1);
	assert_int_equal(v[2].to_release, r2);
	assert_string_equal(v[2].status, "ok");
	assert_string_equal(v[2].phase, "point_of_no_return");
	assert_string_equal(v[2].check, "{\"ok\":[]}");
	assert_string_equal(v[2].eval, "{\"ok\":[]}");
	assert_string_equal(v[2].timings, "{\"load\":120}");
	assert_true(strcmp(v[2].started_at, v[2].finished_at) <= 0);
	for (n = 0; n < 3; n++)
		lm_run_info_clear(&v[n]);
	lm_run_info_clear(NULL);
	free(v);
}

/* Boot failures: one per release (the first reason kept), listed in
 * release order, whatever order they were recorded in. */
static void test_boot_failures(void **state)
{
	fixture *f = *state;
	lm_boot_failure *v;
	int64_t r1, r2, r3;
	char *reason;
	size_t n = 9;

	open_rw(f);
	add_node(f->l);
	r1 = add_release(f->l, 0, 100, 0);
	r2 = add_release(f->l, r1, 101, 10);
	r3 = add_release(f->l, r2, 102, 20);
	assert_int_equal(lm_ledger_boot_failures(f->l, &v, &n), 0);
	assert_int_equal(n, 0);
	lm_boot_failures_free(v, n);
	assert_int_equal(lm_ledger_boot_failure_add(f->l, r3, r1, "init 3"), 0);
	assert_int_equal(lm_ledger_boot_failure_add(f->l, r2, r1, "init 2"), 0);
	assert_int_equal(lm_ledger_boot_failure_add(f->l, r2, r1, "again"), 0);
	assert_int_equal(lm_ledger_boot_failures(f->l, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].release, r2);
	assert_string_equal(v[0].reason, "init 2");
	assert_int_equal(v[1].release, r3);
	assert_string_equal(v[1].reason, "init 3");
	lm_boot_failures_free(v, n);
	lm_boot_failures_free(NULL, 0);
	assert_int_equal(lm_ledger_boot_failure_get(f->l, r1, &reason), 0);
	assert_null(reason);
}

static void test_lists_empty(void **state)
{
	fixture *f = *state;
	lm_release_info *r = NULL;
	lm_run_info *v = NULL;
	lm_stat_entry *e = NULL;
	size_t n = 9;

	open_rw(f);
	assert_int_equal(lm_ledger_release_list(f->l, &r, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(lm_ledger_run_list(f->l, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(lm_ledger_stat_load(f->l, &e, &n), 0);
	assert_int_equal(n, 0);
	free(r);
	free(v);
	lm_stat_entries_free(e, n);
}

/* ---- stat cache ---------------------------------------------------------- */

static void test_stat_cache(void **state)
{
	fixture *f = *state;
	lm_stat_entry in[3], *out;
	size_t n, i;
	sqlite3 *db;

	db = lm_ledger_db(open_rw(f));
	add_release(f->l, 0, 100, 0); /* the objects the entries name */

	memset(in, 0, sizeof(in));
	/* Given out of order: the load sorts by file. */
	in[0].file = "mod_util.so";
	oid_of(in[0].oid, 1);
	in[1].file = "mod_messager.so";
	oid_of(in[1].oid, 2);
	in[2].file = "mod_rooms.so";
	oid_of(in[2].oid, 3);
	for (i = 0; i < 3; i++) {
		in[i].size = 1000 + (int64_t)i;
		in[i].mtime_ns = 1700000000123456789 + (int64_t)i;
		in[i].ctime_ns = 1700000000987654321 + (int64_t)i;
		in[i].ino = 42 + i;
		in[i].cached_at_ns = 1700000001000000000;
	}
	in[2].ino = UINT64_MAX - 1; /* does not fit int64 */
	in[0].cached_at_ns = 0;     /* "now" */

	assert_int_equal(lm_ledger_begin(f->l), 0);
	assert_int_equal(lm_ledger_stat_store(f->l, in, 3), 0);
	assert_int_equal(lm_ledger_commit(f->l), 0);

	/* Stat data and blob ids only: the descriptors are the release's
	 * (lm_scan_libdir). */
	assert_int_equal(lm_ledger_stat_load(f->l, &out, &n), 0);
	assert_int_equal(n, 3);
	for (i = 0; i < 3; i++) {
		const lm_stat_entry *src = &in[(i + 1) % 3];

		assert_string_equal(out[i].file, src->file);
		assert_string_equal(out[i].oid, src->oid);
		assert_int_equal(out[i].size, src->size);
		assert_int_equal(out[i].mtime_ns, src->mtime_ns);
		assert_int_equal(out[i].ctime_ns, src->ctime_ns);
		assert_true(out[i].ino == src->ino);
	}
	assert_int_equal(out[1].cached_at_ns, 1700000001000000000);
	assert_true(out[2].cached_at_ns > 1700000001000000000);
	lm_stat_entries_free(out, n);

	/* An entry whose object is not a module version: refused, and the
	 * cache keeps what it had. */
	oid_of(in[1].oid, 999);
	assert_error(lm_ledger_stat_store(f->l, in, 3), LM_EINVAL, f->path,
		     "FOREIGN KEY");
	assert_non_null(strstr(lm_error_last(), "mod_messager.so"));
	assert_int_equal(sql_int(db, "SELECT count(*) FROM stat_cache"), 3);
	/* A file name with a slash is not a libdir entry. */
	oid_of(in[1].oid, 2);
	in[1].file = "../mod_messager.so";
	assert_error(lm_ledger_stat_store(f->l, in, 3), LM_EINVAL, f->path,
		     "CHECK");
	/* The same file twice. */
	in[1].file = "mod_util.so";
	assert_error(lm_ledger_stat_store(f->l, in, 3), LM_EINVAL, f->path,
		     "UNIQUE");
	assert_int_equal(sql_int(db, "SELECT count(*) FROM stat_cache"), 3);

	/* Replaces, not merges; an empty store empties. */
	assert_int_equal(lm_ledger_stat_store(f->l, in, 1), 0);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM stat_cache"), 1);
	assert_int_equal(lm_ledger_stat_store(f->l, NULL, 0), 0);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM stat_cache"), 0);
	sql_text_is(db, "PRAGMA integrity_check", "ok");
}

/* Schema 5 empties a cache written before: its entries were dated after
 * their stats, which the racy rule of a clock tick cannot trust
 * (schema/005_stat_cache_tick.sql). The rest of the ledger stays. */
static void test_stat_cache_dropped_by_schema_5(void **state)
{
	fixture *f = *state;
	lm_stat_entry e = { .file = "mod_util.so", .size = 1, .ino = 2 };
	sqlite3 *db;

	assert_true(lm_ledger_schema_version() >= 5);
	open_rw(f);
	add_release(f->l, 0, 100, 0);
	oid_of(e.oid, 1);
	assert_int_equal(lm_ledger_stat_store(f->l, &e, 1), 0);
	lm_ledger_free(f->l);
	f->l = NULL;
	raw_exec(f->path, "PRAGMA user_version = 4");

	db = lm_ledger_db(open_rw(f));
	assert_int_equal(sql_int(db, "SELECT count(*) FROM stat_cache"), 0);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM releases"), 1);
	assert_int_equal(sql_int(db, "PRAGMA user_version"),
			 lm_ledger_schema_version());
}

static void test_stat_cache_large(void **state)
{
	fixture *f = *state;
	enum { N = 10000 };
	lm_stat_entry *in = calloc(N, sizeof(*in)), *out;
	lm_modset s = { 0 }, idx = { 0 };
	char commit[LM_OID_HEXSZ + 1], name[32], file[40];
	struct timespec t0;
	int64_t id;
	size_t n, i;
	double ms;

	assert_non_null(in);
	open_rw(f);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "mod_%05zu", i);
		snprintf(file, sizeof(file), "%s.so", name);
		add_mod(&s, file, (unsigned)i + 1,
			mkdesc(name, "1.0.0", i ? "mod_00000" : "",
			       "handle\tint (lm_task *, const char *, size_t)\n"
			       "info\tconst char *(void)\n",
			       LM_CB_INIT, LM_PURGE_DEFAULT));
		in[i].file = s.v[i].file;
		memcpy(in[i].oid, s.v[i].oid, sizeof(in[i].oid));
		in[i].size = 4096;
		in[i].ino = i;
	}
	oid_of(commit, 0xabcdef);
	assert_int_equal(lm_ledger_begin(f->l), 0);
	assert_int_equal(lm_ledger_release_add(f->l, &id, 0, commit, &s, NULL),
			 0);
	assert_int_equal(lm_ledger_stat_store(f->l, in, N), 0);
	assert_int_equal(lm_ledger_commit(f->l), 0);

	/* What a warm plan reads: the cache and the release's index. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(lm_ledger_stat_load(f->l, &out, &n), 0);
	assert_int_equal(lm_ledger_release_index(f->l, id, &idx), 0);
	ms = elapsed_ms(&t0);
	print_message("stat_load + release_index of %d modules: %.1f ms\n", N,
		      ms);
	assert_int_equal(n, N);
	assert_string_equal(out[N - 1].file, "mod_09999.so");
	assert_int_equal(idx.n, N);
	assert_partial_of(idx.v[N - 1].desc, s.v[N - 1].desc);
	assert_int_equal(idx.v[N - 1].desc->ndeps, 1);
	/* A hang guard only, not a timing (make bench measures it). */
	assert_true(ms < 60000);
	lm_stat_entries_free(out, n);
	lm_modset_clear(&idx);
	lm_modset_clear(&s);
	free(in);
}

static void test_integrity_after_use(void **state)
{
	fixture *f = *state;
	int64_t node, r1, r2, p, run;
	sqlite3_stmt *st;
	sqlite3 *db;

	db = lm_ledger_db(open_rw(f));
	node = add_node(f->l);
	r1 = add_release(f->l, 0, 100, 0);
	r2 = add_release(f->l, r1, 101, 10);
	assert_int_equal(lm_ledger_node_set_current(f->l, node, r2), 0);
	assert_int_equal(lm_ledger_plan_add(f->l, &p, r2, r1), 0);
	assert_int_equal(lm_ledger_run_start(f->l, &run, p, r2, r1, NULL), 0);
	sql_text_is(db, "PRAGMA integrity_check", "ok");
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1,
					    &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_create_and_reopen),
		T(test_missing_file),
		T(test_newer_schema_refused),
		T(test_negative_schema_refused),
		T(test_not_a_database),
		T(test_foreign_database),
		T(test_migration_fails_atomically),
		T(test_readonly),
		T(test_bad_lock_timeout),
		T(test_lock_contention),
		T(test_lock_during_migration),
		T(test_transactions),
		T(test_node),
		T(test_move_callbacks_roundtrip),
		T(test_damaged_move_callbacks),
		T(test_release_roundtrip),
		T(test_release_children),
		T(test_release_index),
		T(test_release_empty_and_bad),
		T(test_module_version_shared),
		T(test_damaged_module_version),
		T(test_plans),
		T(test_runs),
		T(test_boot_failures),
		T(test_lists_empty),
		T(test_stat_cache),
		T(test_stat_cache_large),
		T(test_stat_cache_dropped_by_schema_5),
		T(test_integrity_after_use),
#undef T
	};

	return cmocka_run_group_tests_name("ledger", tests, NULL, NULL);
}
