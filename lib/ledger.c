/*
 * ledger.c - the SQLite ledger (see ledger.h): opening and migrating it,
 * and every read and write the planner and the agent make.
 *
 * Every query is a prepared statement made (or taken from the ledger's
 * cache), bound, stepped and given back through the q_* helpers below, so
 * that each public function has one error path (`goto out`) that gives
 * back whatever it prepared. Writes made of several statements run inside
 * a SAVEPOINT, which nests inside a caller's lm_ledger_begin() and is its
 * own transaction otherwise.
 *
 * SQLite errors become lm_error codes naming the ledger file: SQLITE_BUSY
 * is LM_EBUSY, a constraint (CHECK, FOREIGN KEY, UNIQUE) is LM_EINVAL, a
 * file that is not a database is LM_EINVAL, anything else LM_ERROR.
 */
#include "ledger.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>


#include "env.h"
#include "error.h"
#include "sqlitelib.h"

/* scripts/embed-schema.sh generates these from schema/NNN_*.sql. */
extern const char *const lm_schema_migrations[];
extern const int lm_schema_nmigrations;

/* PRAGMA application_id of a livemod ledger ("LMLG"): tells our file from
 * another program's SQLite database before we add tables to it. */
#define LM_LEDGER_APP_ID 0x4c4d4c47

#define LM_LOCK_TIMEOUT_DEFAULT_MS 5000

#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ','now')"
/* The ledger's one node (ledger.h: one node per ledger). */
#define THE_NODE "(SELECT id FROM nodes ORDER BY id LIMIT 1)"
/* A module_versions row as desc_from_row() reads it, from column `col`. */
/* callbacks: the ABI 1 bits in `callbacks`, change_commit and
 * change_abort in `change_callbacks` (schema/004). */
#define MV_COLS "m.name, m.vsn, m.abi, m.deps, m.exports, " \
	"(m.callbacks | (m.change_callbacks << 3)), m.purge"

/* Statements kept prepared once given back (q_done): a node's apply
 * writes the same handful every time, and preparing one (parsing, the
 * schema's foreign keys and CHECKs compiled in) cost more than running
 * it (~20-80 us each on the project's VM, docs/BENCHMARKS.md). Found by
 * their text; when it is full, one is finalized in turn. Room for every
 * statement this file has (~55): a node's cycle (plan, record, apply,
 * finish, the reaper's note) runs more than 24 of them, and a smaller
 * cache, evicting in turn, re-prepared the point of no return's on every
 * apply (its write 205-235 us p50, 106-128 with 64, the machine loaded). */
#define STMT_CACHE 64

struct lm_ledger {
	sqlite3 *db;
	char *path;
	int timeout_ms;
	int flags;
	sqlite3_stmt *cache[STMT_CACHE];
	unsigned next; /* the slot the next statement evicts */
};

static int oom(void)
{
	return lm_error_set(LM_ERROR, "out of memory");
}

/* ---------------------------------------------------------------------
 * Errors and the prepare/bind/step helpers
 * ------------------------------------------------------------------- */

/* Turns SQLite result `rc` (from a call on l->db) into an lm_error code
 * and message. `what` says what the ledger was doing. */
static int db_fail(lm_ledger *l, int rc, const char *what)
{
	const char *msg = lm_sqlite.errmsg(l->db);

	assert(rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE);
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return lm_error_set(LM_EBUSY,
				    "%s: ledger is locked by another writer "
				    "(waited %d ms)",
				    l->path, l->timeout_ms);
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return lm_error_set(LM_EINVAL,
				    "%s: not a livemod ledger, or damaged (%s)",
				    l->path, msg);
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_TOOBIG:
		return lm_error_set(LM_EINVAL, "%s: %s: %s", l->path, what,
				    msg);
	case SQLITE_NOMEM:
		return oom();
	default:
		return lm_error_set(LM_ERROR, "%s: %s: %s", l->path, what, msg);
	}
}

/*
 * Binds the arguments described by `fmt`, one letter each, from 1:
 *   i  int64_t
 *   r  int64_t row id, 0 binds NULL ("none")
 *   s  const char *, NULL binds NULL; must live until the last step
 */
static int q_vbind(lm_ledger *l, sqlite3_stmt *st, const char *fmt,
		   va_list ap)
{
	int i, rc = SQLITE_OK;

	assert((int)strlen(fmt) == lm_sqlite.bind_parameter_count(st));
	for (i = 0; fmt[i] && rc == SQLITE_OK; i++) {
		int64_t v;
		const char *s;

		switch (fmt[i]) {
		case 'i':
			rc = lm_sqlite.bind_int64(st, i + 1, va_arg(ap, int64_t));
			break;
		case 'r':
			v = va_arg(ap, int64_t);
			rc = v ? lm_sqlite.bind_int64(st, i + 1, v)
			       : lm_sqlite.bind_null(st, i + 1);
			break;
		case 's':
			s = va_arg(ap, const char *);
			rc = s ? lm_sqlite.bind_text(st, i + 1, s, -1,
						   SQLITE_STATIC)
			       : lm_sqlite.bind_null(st, i + 1);
			break;
		default:
			assert(!"bad q_bind format letter");
			rc = SQLITE_MISUSE;
		}
	}
	return rc == SQLITE_OK ? 0 : db_fail(l, rc, "bind");
}

static int q_bind(lm_ledger *l, sqlite3_stmt *st, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = q_vbind(l, st, fmt, ap);
	va_end(ap);
	return rc;
}

static int q_vprep(lm_ledger *l, sqlite3_stmt **st, const char *sql,
		   const char *fmt, va_list ap)
{
	unsigned i;
	int rc;

	*st = NULL;
	for (i = 0; i < STMT_CACHE; i++)
		if (l->cache[i] &&
		    strcmp(lm_sqlite.sql(l->cache[i]), sql) == 0) {
			*st = l->cache[i];
			l->cache[i] = NULL;
			break;
		}
	if (!*st &&
	    (rc = lm_sqlite.prepare_v2(l->db, sql, -1, st, NULL)) != SQLITE_OK)
		return db_fail(l, rc, "prepare");
	return fmt ? q_vbind(l, *st, fmt, ap) : 0;
}

/* Prepares `sql` (or takes it from the cache) and binds `fmt` arguments
 * (see q_vbind); a NULL `fmt` leaves binding to q_bind() calls in a loop.
 * The caller gives *st back with q_done, also on failure (NULL is
 * harmless). */
static int q_prep(lm_ledger *l, sqlite3_stmt **st, const char *sql,
		  const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = q_vprep(l, st, sql, fmt, ap);
	va_end(ap);
	return rc;
}

/* Steps once: 1 a row, 0 done, < 0 an lm_error. */
static int q_step(lm_ledger *l, sqlite3_stmt *st, const char *what)
{
	int rc = lm_sqlite.step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_fail(l, rc, what);
}

/* Puts `st` (may be NULL) back in the cache, reset and unbound: it holds
 * no lock and no caller's string. */
static void q_done(lm_ledger *l, sqlite3_stmt *st)
{
	unsigned i;

	if (!st)
		return;
	lm_sqlite.reset(st);
	lm_sqlite.clear_bindings(st);
	for (i = 0; i < STMT_CACHE && l->cache[i]; i++)
		;
	if (i == STMT_CACHE) {
		i = l->next;
		l->next = (l->next + 1) % STMT_CACHE;
		lm_sqlite.finalize(l->cache[i]);
	}
	l->cache[i] = st;
}

/* Prepares, binds and steps a statement that returns no rows. */
static int q_exec(lm_ledger *l, const char *what, const char *sql,
		  const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = q_vprep(l, &st, sql, fmt, ap);
	va_end(ap);
	if (rc == 0)
		while ((rc = q_step(l, st, what)) == 1)
			;
	q_done(l, st);
	return rc;
}

/* q_exec of an UPDATE on one row: LM_ENOTFOUND "<path>: no <thing> <id>"
 * when nothing matched. */
static int q_update1(lm_ledger *l, const char *what, const char *thing,
		     int64_t id, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = q_vprep(l, &st, sql, fmt, ap);
	va_end(ap);
	if (rc == 0)
		rc = q_step(l, st, what);
	q_done(l, st);
	if (rc == 0 && lm_sqlite.changes(l->db) == 0)
		rc = lm_error_set(LM_ENOTFOUND, "%s: no %s %lld", l->path,
				  thing, (long long)id);
	return rc;
}

/* Column `i` as a fresh string (NULL for SQL NULL); 0 or out of memory. */
static int col_str(sqlite3_stmt *st, int i, char **out)
{
	const unsigned char *s = lm_sqlite.column_text(st, i);

	*out = NULL;
	if (!s)
		return lm_sqlite.column_type(st, i) == SQLITE_NULL ? 0 : oom();
	if (!(*out = strdup((const char *)s)))
		return oom();
	return 0;
}

/* The refusal of a NULL in NOT NULL column `i`: the schema never lets one
 * in, so it comes from damage (bytes changed on disk, a hand edit), and
 * every caller takes these columns for strings (strcmp, strdup). */
static int col_null(sqlite3_stmt *st, int i)
{
	return lm_error_set(LM_EINVAL,
			    "%s: not a livemod ledger, or damaged (%s is NULL)",
			    lm_sqlite.db_filename(lm_sqlite.db_handle(st), "main"),
			    lm_sqlite.column_name(st, i));
}

/* col_str() for a NOT NULL column. */
static int col_text(sqlite3_stmt *st, int i, char **out)
{
	int rc = col_str(st, i, out);

	return rc == 0 && !*out ? col_null(st, i) : rc;
}

/* Column `i`, which the schema keeps a 40-hex oid, into `buf` (cut to
 * 40 characters). Read for every row of a release or the stat cache. */
static void col_oid(sqlite3_stmt *st, int i, char buf[LM_OID_HEXSZ + 1])
{
	const void *s = lm_sqlite.column_text(st, i);
	size_t n = s ? (size_t)lm_sqlite.column_bytes(st, i) : 0;

	if (n > LM_OID_HEXSZ)
		n = LM_OID_HEXSZ;
	memcpy(buf, s ? s : "", n);
	buf[n] = '\0';
}

/* Returns `v`, or a bigger copy, with room for element `n`; on failure
 * sets *rc and returns `v` as it was, still owned by the caller. */
static void *grow(void *v, size_t *cap, size_t n, size_t elsz, int *rc)
{
	size_t ncap;
	char *nv;

	if (n < *cap)
		return v;
	ncap = *cap ? *cap * 2 : 16;
	if (!(nv = realloc(v, ncap * elsz))) {
		*rc = oom();
		return v;
	}
	memset(nv + *cap * elsz, 0, (ncap - *cap) * elsz);
	*cap = ncap;
	return nv;
}

/* Reads every row of `st` into a new array of `elsz`-byte elements with
 * `from_row`, clearing what was read with `clear` on failure; gives
 * `st` back. The one loop behind every lm_ledger_*_list. */
static int q_list(lm_ledger *l, sqlite3_stmt *st, const char *what,
		  size_t elsz, int (*from_row)(sqlite3_stmt *, void *),
		  void (*clear)(void *), void **out, size_t *n)
{
	char *v = NULL;
	size_t cnt = 0, cap = 0, i;
	int rc = 0;

	while ((rc = q_step(l, st, what)) == 1) {
		rc = 0;
		v = grow(v, &cap, cnt, elsz, &rc);
		if (rc != 0 || (rc = from_row(st, v + cnt * elsz)) != 0)
			break;
		cnt++;
	}
	q_done(l, st);
	if (rc != 0) {
		for (i = 0; i < cnt; i++)
			clear(v + i * elsz);
		free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/*
 * Savepoints make a multi-statement write atomic whether or not the
 * caller holds a transaction. sp_end() releases on success and rolls back
 * to the savepoint on failure, keeping the first error's message.
 */
static int sp_begin(lm_ledger *l)
{
	return q_exec(l, "savepoint", "SAVEPOINT lm_op", "");
}

static int sp_end(lm_ledger *l, int rc)
{
	if (rc == 0 && (rc = q_exec(l, "commit", "RELEASE lm_op", "")) == 0)
		return 0;
	/* Fails harmlessly when SQLite already rolled the whole transaction
	 * back (I/O errors, out of memory). */
	lm_sqlite.exec(l->db, "ROLLBACK TO lm_op; RELEASE lm_op", NULL, NULL,
		     NULL);
	return rc;
}

/* ---------------------------------------------------------------------
 * Open, migrate, transactions
 * ------------------------------------------------------------------- */

int lm_ledger_schema_version(void)
{
	return lm_schema_nmigrations;
}

static int lock_timeout_ms(int *out)
{
	long v;
	int rc = lm_env_long("LIVEMOD_LOCK_TIMEOUT_MS", 0, INT_MAX,
			     LM_LOCK_TIMEOUT_DEFAULT_MS, "milliseconds", &v);

	*out = (int)v;
	return rc;
}

/* The one integer a PRAGMA, count(*) or max() answers (0 for NULL). */
static int pragma_int(lm_ledger *l, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	*out = 0;
	if ((rc = q_prep(l, &st, sql, "")) == 0 &&
	    (rc = q_step(l, st, "read ledger header")) == 1) {
		*out = lm_sqlite.column_int64(st, 0);
		rc = 0;
	}
	q_done(l, st);
	return rc;
}

static int refuse_newer(lm_ledger *l, int64_t version)
{
	return lm_error_set(LM_EINVAL,
			    "%s: ledger written by a newer livemod (schema "
			    "%lld; this build knows %d)",
			    l->path, (long long)version, lm_schema_nmigrations);
}

/* Refuses what this build must not touch: a ledger from a newer livemod,
 * another program's database, or (read-only) one it would have to
 * migrate. Reads only: nothing of the file changes before this passes. */
static int check_version(lm_ledger *l, int64_t *version)
{
	int64_t appid, ntables;
	int rc;

	if ((rc = pragma_int(l, "PRAGMA user_version", version)) != 0 ||
	    (rc = pragma_int(l, "PRAGMA application_id", &appid)) != 0 ||
	    (rc = pragma_int(l, "SELECT count(*) FROM sqlite_schema",
			     &ntables)) != 0)
		return rc;
	if (appid != LM_LEDGER_APP_ID && (appid != 0 || ntables != 0))
		return lm_error_set(LM_EINVAL,
				    "%s: not a livemod ledger (an SQLite "
				    "database of another program)",
				    l->path);
	if (*version > lm_schema_nmigrations)
		return refuse_newer(l, *version);
	if (*version < 0) /* PRAGMA user_version is a signed 32-bit field */
		return lm_error_set(LM_EINVAL, "%s: not a livemod ledger, or "
				    "damaged (schema version %lld)", l->path,
				    (long long)*version);
	if (!(l->flags & LM_LEDGER_READONLY) ||
	    *version == lm_schema_nmigrations)
		return 0;
	if (*version == 0)
		return lm_error_set(LM_ENOTFOUND,
				    "%s: empty ledger (run `livemod init` "
				    "first)",
				    l->path);
	return lm_error_set(LM_EINVAL,
			    "%s: ledger schema %lld is older than this "
			    "build's %d; run a command that writes (e.g. "
			    "`livemod plan`) once to upgrade it",
			    l->path, (long long)*version,
			    lm_schema_nmigrations);
}

/* Brings the schema to this build's version, one migration a transaction.
 * The version is read again under the write lock: another process may
 * have migrated while we waited. */
static int migrate(lm_ledger *l, int64_t version)
{
	char sql[96];
	int rc = 0;

	while (rc == 0 && version < lm_schema_nmigrations) {
		char *emsg = NULL;

		if ((rc = lm_ledger_begin(l)) != 0)
			break;
		if ((rc = pragma_int(l, "PRAGMA user_version", &version)) != 0 ||
		    version >= lm_schema_nmigrations || version < 0) {
			if (rc == 0 && version > lm_schema_nmigrations)
				rc = refuse_newer(l, version);
			else if (rc == 0 && version < 0)
				rc = lm_error_set(LM_EINVAL, "%s: damaged "
						  "(schema version %lld)",
						  l->path, (long long)version);
			lm_ledger_rollback(l);
			break;
		}
		assert(version >= 0);
		if (lm_sqlite.exec(l->db, lm_schema_migrations[version], NULL,
				 NULL, &emsg) != SQLITE_OK) {
			rc = lm_error_set(LM_ERROR,
					  "%s: migration to schema %lld failed: "
					  "%s",
					  l->path, (long long)version + 1,
					  emsg ? emsg : "?");
			lm_sqlite.free(emsg);
			lm_ledger_rollback(l);
			break;
		}
		/* PRAGMAs take no bound parameters. */
		snprintf(sql, sizeof(sql),
			 "PRAGMA user_version = %lld; PRAGMA application_id = %d",
			 (long long)version + 1, LM_LEDGER_APP_ID);
		if (lm_sqlite.exec(l->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			rc = db_fail(l, lm_sqlite.errcode(l->db),
				     "set schema version");
			lm_ledger_rollback(l);
			break;
		}
		if ((rc = lm_ledger_commit(l)) != 0) {
			lm_ledger_rollback(l);
			break;
		}
		version++;
	}
	return rc;
}

/* Connection settings of a writer. journal_mode returns a row (the mode
 * now in force), hence q_exec's stepping to the end. */
static int configure_writer(lm_ledger *l)
{
	int rc = q_exec(l, "set WAL mode", "PRAGMA journal_mode = WAL", "");

	return rc ? rc
		  : q_exec(l, "set synchronous", "PRAGMA synchronous = NORMAL",
			   "");
}

/* A planner reading 10,000 modules' worth of ledger through read() pays
 * one system call per 4 KB page (~15 us each on the project's VM); mapped,
 * the kernel faults pages in 16 at a time. Only for LM_LEDGER_MMAP, the
 * short-lived commands: a file truncated under a mapping raises SIGBUS
 * (SQLite's docs, "Memory-Mapped I/O"), a risk a one-shot command may take
 * and a server must not. livemod itself never shrinks the file (no
 * VACUUM). */
static int open_mmap(lm_ledger *l, int flags)
{
	return !(flags & LM_LEDGER_MMAP)
		? 0
		: q_exec(l, "map the ledger", "PRAGMA mmap_size = 1073741824",
			 "");
}

int lm_ledger_open(lm_ledger **out, const char *path, int flags)
{
	lm_ledger *l;
	int64_t version;
	struct stat sb;
	int oflags, rc;

	assert(out && path);
	*out = NULL;
	if (!(flags & LM_LEDGER_CREATE) || (flags & LM_LEDGER_READONLY)) {
		if (stat(path, &sb) != 0)
			return lm_error_set(errno == ENOENT ? LM_ENOTFOUND
							   : LM_ERROR,
					    "%s: %s%s", path, strerror(errno),
					    errno == ENOENT
						    ? " (run `livemod init` "
						      "first)"
						    : "");
		if (!S_ISREG(sb.st_mode))
			return lm_error_set(LM_EINVAL,
					    "%s: not a livemod ledger (not a "
					    "regular file)",
					    path);
	}
	if (!(l = calloc(1, sizeof(*l))) || !(l->path = strdup(path))) {
		free(l);
		return oom();
	}
	l->flags = flags;
	if ((rc = lm_sqlite_load()) != 0 ||
	    (rc = lock_timeout_ms(&l->timeout_ms)) != 0)
		goto fail;
	if (flags & LM_LEDGER_NOWAIT)
		l->timeout_ms = 0;
	/* NOMUTEX: a handle is never shared between threads (ledger.h), so
	 * SQLite's per-call locking would be pure cost, and a plan makes
	 * tens of thousands of calls. */
	oflags = SQLITE_OPEN_NOMUTEX |
		 ((flags & LM_LEDGER_READONLY)
			  ? SQLITE_OPEN_READONLY
			  : SQLITE_OPEN_READWRITE |
				    ((flags & LM_LEDGER_CREATE) ? SQLITE_OPEN_CREATE
								: 0));
	rc = lm_sqlite.open_v2(path, &l->db, oflags, NULL);
	if (rc != SQLITE_OK) {
		/* A handle comes back even on failure, with the message. */
		rc = l->db ? db_fail(l, rc, "open")
			   : lm_error_set(LM_ERROR, "%s: open: out of memory",
					  path);
		goto fail;
	}
	lm_sqlite.extended_result_codes(l->db, 1);
	lm_sqlite.busy_timeout(l->db, l->timeout_ms);
	/* A damaged file (tests/fuzz/fuzz_ledger.c): a cell's size is checked
	 * before use. (trusted_schema stays on: the schema's CHECKs call
	 * json_valid, which SQLite 3.40 does not count as innocuous; a state
	 * dir others can write is refused anyway, docs/SECURITY.md.) */
	if ((rc = q_exec(l, "enable foreign keys", "PRAGMA foreign_keys = ON",
			 "")) != 0 ||
	    (rc = q_exec(l, "check cell sizes", "PRAGMA cell_size_check = ON",
			 "")) != 0 ||
	    (rc = open_mmap(l, flags)) != 0 ||
	    (rc = check_version(l, &version)) != 0)
		goto fail;
	if (!(flags & LM_LEDGER_READONLY) &&
	    ((rc = configure_writer(l)) != 0 || (rc = migrate(l, version)) != 0))
		goto fail;
	*out = l;
	return 0;
fail:
	lm_ledger_free(l);
	return rc;
}

void lm_ledger_free(lm_ledger *l)
{
	int rc;

	if (!l)
		return;
	for (unsigned i = 0; i < STMT_CACHE; i++)
		lm_sqlite.finalize(l->cache[i]);
	/* SQLITE_BUSY here would mean a statement left unfinalized. */
	rc = lm_sqlite.close(l->db);
	assert(rc == SQLITE_OK);
	(void)rc;
	free(l->path);
	free(l);
}

int lm_ledger_begin(lm_ledger *l)
{
	assert(l);
	return q_exec(l, "begin", "BEGIN IMMEDIATE", "");
}

int lm_ledger_begin_read(lm_ledger *l)
{
	assert(l);
	return q_exec(l, "begin", "BEGIN DEFERRED", "");
}

int lm_ledger_commit(lm_ledger *l)
{
	assert(l);
	return q_exec(l, "commit", "COMMIT", "");
}

void lm_ledger_rollback(lm_ledger *l)
{
	assert(l);
	/* After some errors SQLite has already rolled back. */
	if (!lm_sqlite.get_autocommit(l->db))
		lm_sqlite.exec(l->db, "ROLLBACK", NULL, NULL, NULL);
}

struct sqlite3 *lm_ledger_db(lm_ledger *l)
{
	assert(l);
	return l->db;
}

/* ---------------------------------------------------------------------
 * Node
 * ------------------------------------------------------------------- */

int lm_ledger_node_create(lm_ledger *l, int64_t *out_id, const char *name,
			  const char *app, const char *libdir)
{
	int rc;

	assert(l && out_id && name && libdir);
	/* One statement, so two concurrent `init`s cannot both insert. */
	rc = q_exec(l, "create node",
		    "INSERT INTO nodes (name, app, libdir) SELECT ?, ?, ? "
		    "WHERE NOT EXISTS (SELECT 1 FROM nodes)",
		    "sss", name, app, libdir);
	if (rc != 0)
		return rc;
	if (lm_sqlite.changes(l->db) == 0)
		return lm_error_set(LM_EINVAL,
				    "%s: the ledger already has a node "
				    "(`livemod init` ran before)",
				    l->path);
	*out_id = lm_sqlite.last_insert_rowid(l->db);
	return 0;
}

int lm_ledger_node_get(lm_ledger *l, lm_node_info *out)
{
	sqlite3_stmt *st;
	lm_node_info n = { 0 };
	int rc;

	assert(l && out);
	rc = q_prep(l, &st,
		    "SELECT id, name, app, libdir, current_release, "
		    "permanent_release, booted_release FROM nodes "
		    "ORDER BY id LIMIT 1",
		    "");
	if (rc == 0 && (rc = q_step(l, st, "read node")) == 0)
		rc = lm_error_set(LM_ENOTFOUND,
				  "%s: no node (run `livemod init` first)",
				  l->path);
	if (rc == 1) {
		n.id = lm_sqlite.column_int64(st, 0);
		n.current_release = lm_sqlite.column_int64(st, 4);
		n.permanent_release = lm_sqlite.column_int64(st, 5);
		n.booted_release = lm_sqlite.column_int64(st, 6);
		if ((rc = col_text(st, 1, &n.name)) == 0 &&
		    (rc = col_str(st, 2, &n.app)) == 0)
			rc = col_text(st, 3, &n.libdir);
	}
	q_done(l, st);
	if (rc != 0) {
		lm_node_info_clear(&n);
		return rc;
	}
	*out = n;
	return 0;
}

int lm_ledger_node_set_current(lm_ledger *l, int64_t node, int64_t release)
{
	assert(l);
	return q_update1(l, "set current release", "node", node,
			 "UPDATE nodes SET current_release = ? WHERE id = ?",
			 "ri", release, node);
}

int lm_ledger_node_set_permanent(lm_ledger *l, int64_t node, int64_t release)
{
	assert(l);
	return q_update1(l, "set permanent release", "node", node,
			 "UPDATE nodes SET permanent_release = ? WHERE id = ?",
			 "ri", release, node);
}

int lm_ledger_node_set_booted(lm_ledger *l, int64_t node, int64_t release)
{
	assert(l);
	return q_update1(l, "set booted release", "node", node,
			 "UPDATE nodes SET booted_release = ? WHERE id = ?",
			 "ri", release, node);
}

void lm_node_info_clear(lm_node_info *n)
{
	if (!n)
		return;
	free(n->name);
	free(n->app);
	free(n->libdir);
	memset(n, 0, sizeof(*n));
}

/* ---------------------------------------------------------------------
 * Releases and module versions
 * ------------------------------------------------------------------- */

/* The label of messages about a stored descriptor, made only on failure:
 * desc_finish() runs once per module of a release on every plan. */
static const char *mv_label(lm_ledger *l, const char *oid, char *buf,
			    size_t cap)
{
	snprintf(buf, cap, "%s: module version %s", l->path, oid);
	return buf;
}

/* Completes a descriptor read from the ledger, whose name, vsn, abi,
 * callbacks and purge `d` holds: validates them and sets the deps and,
 * unless `exports` is NULL (a partial descriptor), the exports from their
 * text forms. Validated: a ledger edited by hand must not hand the agent
 * a bad one. The text setters validate deps and exports; the rest is
 * checked here cheaply, in full only on failure. Takes `d`: *out is it,
 * or NULL after an error. */
static int desc_finish(lm_ledger *l, lm_descriptor *d, const char *oid,
		       const char *deps, const char *exports,
		       lm_descriptor **out)
{
	char label[256];
	int rc = 0;

	*out = NULL;
	if (!deps) {
		rc = lm_error_set(LM_EINVAL, "%s: missing fields",
				  mv_label(l, oid, label, sizeof(label)));
	} else if (!lm_descriptor_head_valid(d)) {
		rc = lm_descriptor_validate(
			d, mv_label(l, oid, label, sizeof(label)));
		if (rc == 0) /* the two checks disagree: still refuse */
			rc = lm_error_set(LM_EINVAL, "%s: bad descriptor",
					  label);
	} else {
		d->partial = !exports;
		if ((rc = lm_descriptor_set_deps_text(d, deps)) != 0 ||
		    (exports &&
		     (rc = lm_descriptor_set_exports_text(d, exports)) != 0))
			rc = lm_error_wrap("%s", mv_label(l, oid, label,
							  sizeof(label)));
	}
	if (rc != 0)
		lm_descriptor_free(d);
	else
		*out = d;
	return rc;
}

/* The descriptor in MV_COLS order from column `col` of the current row;
 * see desc_finish(). */
static int desc_from_row(lm_ledger *l, sqlite3_stmt *st, int col,
			 const char *oid, bool with_exports,
			 lm_descriptor **out)
{
	const char *name = (const char *)lm_sqlite.column_text(st, col);
	const char *vsn = (const char *)lm_sqlite.column_text(st, col + 1);
	const char *deps = (const char *)lm_sqlite.column_text(st, col + 3);
	const char *exports = (const char *)lm_sqlite.column_text(st, col + 4);
	lm_descriptor *d = lm_descriptor_new(name, vsn);

	*out = NULL;
	if (!d)
		return oom();
	d->abi = (unsigned)lm_sqlite.column_int64(st, col + 2);
	d->callbacks = (unsigned)lm_sqlite.column_int64(st, col + 5);
	d->purge = (lm_purge_mode)lm_sqlite.column_int64(st, col + 6);
	if (!name || !vsn || !exports) /* NOT NULL columns: damaged */
		deps = NULL; /* desc_finish: "missing fields" */
	return desc_finish(l, d, oid, deps, with_exports ? exports : NULL,
			   out);
}

/* Inserts the module version of `m` unless its oid is known. The same
 * bytes always carry the same descriptor, so an existing row is right. */
static int module_version_put(lm_ledger *l, sqlite3_stmt *st,
			      const lm_modinfo *m)
{
	char *deps = lm_descriptor_deps_text(m->desc);
	char *exports = lm_descriptor_exports_text(m->desc);
	int rc;

	if (!deps || !exports)
		rc = oom();
	else if ((rc = q_bind(l, st, "sssissiii", m->oid, m->desc->name,
			      m->desc->vsn, (int64_t)m->desc->abi, deps,
			      exports, (int64_t)(m->desc->callbacks & 7u),
			      (int64_t)(m->desc->callbacks >> 3),
			      (int64_t)m->desc->purge)) == 0)
		rc = q_step(l, st, "record module version");
	lm_sqlite.reset(st);
	free(deps);
	free(exports);
	return rc;
}

int lm_ledger_release_add(lm_ledger *l, int64_t *out_id, int64_t parent,
			  const char *commit, const lm_modset *mods,
			  const char *note)
{
	sqlite3_stmt *mv = NULL, *rm = NULL;
	char what[128];
	int64_t id = 0;
	size_t i;
	int rc;

	assert(l && out_id && commit && mods);
	if (!lm_oid_valid(commit))
		return lm_error_set(LM_EINVAL,
				    "%s: release commit '%.64s' is not a "
				    "40-character hex object id",
				    l->path, commit);
	for (i = 0; i < mods->n; i++) {
		assert(mods->v[i].desc && mods->v[i].file);
		if (!lm_oid_valid(mods->v[i].oid))
			return lm_error_set(LM_EINVAL,
					    "%s: module file '%s': '%.64s' is "
					    "not a 40-character hex object id",
					    l->path, mods->v[i].file,
					    mods->v[i].oid);
	}
	if ((rc = sp_begin(l)) != 0)
		return rc;
	snprintf(what, sizeof(what), "record release %.40s", commit);
	if ((rc = q_exec(l, what,
			 "INSERT INTO releases (parent, commit_oid, note) "
			 "VALUES (?, ?, ?)",
			 "rss", parent, commit, note)) != 0)
		goto out;
	id = lm_sqlite.last_insert_rowid(l->db);
	if ((rc = q_prep(l, &mv,
			 "INSERT INTO module_versions (oid, name, vsn, abi, "
			 "deps, exports, callbacks, change_callbacks, purge) "
			 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
			 "ON CONFLICT (oid) DO NOTHING",
			 NULL)) != 0 ||
	    (rc = q_prep(l, &rm,
			 "INSERT INTO release_modules (release_id, name, file, "
			 "oid) VALUES (?, ?, ?, ?)",
			 NULL)) != 0)
		goto out;
	for (i = 0; i < mods->n && rc == 0; i++) {
		const lm_modinfo *m = &mods->v[i];

		snprintf(what, sizeof(what), "release module '%s' (%s)",
			 m->desc->name, m->file);
		if ((rc = module_version_put(l, mv, m)) == 0 &&
		    (rc = q_bind(l, rm, "isss", id, m->desc->name, m->file,
				 m->oid)) == 0)
			rc = q_step(l, rm, what);
		lm_sqlite.reset(rm);
	}
	/* The one-row form lm_ledger_release_index reads, made by the same
	 * join the rows above are read with (schema/002_release_index.sql). */
	if (rc == 0)
		rc = q_exec(l, "record release index",
			    "INSERT INTO release_index (release_id, modules) "
			    "SELECT ?1, group_concat(line, '') "
			    "FROM (SELECT line, ok FROM release_index_lines "
			    "WHERE release_id = ?1 ORDER BY name) HAVING min(ok)",
			    "i", id);
out:
	q_done(l, mv);
	q_done(l, rm);
	if ((rc = sp_end(l, rc)) == 0)
		*out_id = id;
	return rc;
}

static int release_from_row(sqlite3_stmt *st, lm_release_info *r)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->id = lm_sqlite.column_int64(st, 0);
	r->parent = lm_sqlite.column_int64(st, 1);
	col_oid(st, 2, r->commit);
	if ((rc = col_text(st, 3, &r->created_at)) != 0 ||
	    (rc = col_str(st, 4, &r->note)) != 0)
		lm_release_info_clear(r);
	return rc;
}

/* A listed release also says whether it failed to boot and which earlier
 * release holds the very same modules (release_index rows are equal
 * exactly when name, file and oid of every module are). */
static int release_list_row(sqlite3_stmt *st, void *e)
{
	lm_release_info *r = e;
	int rc = release_from_row(st, r);

	if (rc == 0 && (rc = col_str(st, 5, &r->boot_failed)) != 0)
		lm_release_info_clear(r);
	else if (rc == 0)
		r->same_as = lm_sqlite.column_int64(st, 6);
	return rc;
}

#define RELEASE_SELECT \
	"SELECT id, parent, commit_oid, created_at, note FROM releases "

int lm_ledger_release_get(lm_ledger *l, int64_t id, lm_release_info *out)
{
	sqlite3_stmt *st;
	int rc;

	assert(l && out);
	rc = q_prep(l, &st, RELEASE_SELECT "WHERE id = ?", "i", id);
	if (rc == 0 && (rc = q_step(l, st, "read release")) == 0)
		rc = lm_error_set(LM_ENOTFOUND, "%s: no release %lld",
				  l->path, (long long)id);
	if (rc == 1)
		rc = release_from_row(st, out);
	q_done(l, st);
	return rc;
}

static void release_clear(void *e)
{
	lm_release_info_clear(e);
}

int lm_ledger_release_list(lm_ledger *l, lm_release_info **out, size_t *n)
{
	sqlite3_stmt *st;
	int rc;

	assert(l && out && n);
	if ((rc = q_prep(l, &st,
			 "SELECT r.id, r.parent, r.commit_oid, r.created_at, "
			 "r.note, b.reason, (SELECT min(o.release_id) FROM "
			 "release_index o WHERE o.release_id < r.id AND "
			 "o.modules = i.modules) FROM releases r "
			 "LEFT JOIN boot_failures b ON b.release_id = r.id "
			 "LEFT JOIN release_index i ON i.release_id = r.id "
			 "ORDER BY r.id DESC", "")) != 0)
		return rc;
	return q_list(l, st, "list releases", sizeof(**out), release_list_row,
		      release_clear, (void **)out, n);
}

static int release_row(sqlite3_stmt *st, void *e)
{
	return release_from_row(st, e);
}

int lm_ledger_release_children(lm_ledger *l, int64_t parent,
			       lm_release_info **out, size_t *n)
{
	sqlite3_stmt *st;
	int rc;

	assert(l && out && n);
	if ((rc = q_prep(l, &st, RELEASE_SELECT "WHERE parent = ? "
			 "ORDER BY id DESC", "i", parent)) != 0)
		return rc;
	return q_list(l, st, "list releases", sizeof(**out), release_row,
		      release_clear, (void **)out, n);
}

void lm_release_info_clear(lm_release_info *r)
{
	if (!r)
		return;
	free(r->created_at);
	free(r->note);
	free(r->boot_failed);
	memset(r, 0, sizeof(*r));
}

static int release_modules(lm_ledger *l, int64_t id, bool with_exports,
			   lm_modset *out)
{
	lm_modset s = { 0 };
	sqlite3_stmt *st;
	int rc;

	assert(l && out);
	rc = q_prep(l, &st,
		    "SELECT rm.file, rm.oid, " MV_COLS " FROM release_modules rm "
		    "JOIN module_versions m ON m.oid = rm.oid "
		    "WHERE rm.release_id = ? ORDER BY rm.name",
		    "i", id);
	while (rc == 0 && (rc = q_step(l, st, "read release modules")) == 1) {
		const char *file = (const char *)lm_sqlite.column_text(st, 0);
		char oid[LM_OID_HEXSZ + 1];
		lm_descriptor *d;

		col_oid(st, 1, oid);
		if (!file)
			rc = col_null(st, 0);
		else if ((rc = desc_from_row(l, st, 2, oid, with_exports,
					     &d)) == 0)
			rc = lm_modset_add(&s, file, oid, d);
	}
	q_done(l, st);
	/* An empty release is possible (empty libdir); a missing one is not. */
	if (rc == 0 && s.n == 0) {
		lm_release_info r;

		if ((rc = lm_ledger_release_get(l, id, &r)) == 0)
			lm_release_info_clear(&r);
	}
	if (rc != 0) {
		lm_modset_clear(&s);
		return rc;
	}
	*out = s;
	return 0;
}

int lm_ledger_release_modules(lm_ledger *l, int64_t id, lm_modset *out)
{
	return release_modules(l, id, true, out);
}

/* A decimal number of at most 9 digits, else -1. */
static long index_number(const char *s)
{
	long v = 0;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9' && i < 9; i++)
		v = v * 10 + (s[i] - '0');
	return i > 0 && s[i] == '\0' ? v : -1;
}

/* Splits one line of a release_index text (schema/002_release_index.sql)
 * into its eight fields, in place; *p moves to the next line. */
static bool index_fields(char **p, char *f[8])
{
	char *end = strchr(*p, '\n'), *s = *p;
	int i;

	if (!end)
		return false;
	*end = '\0';
	for (i = 0; i < 8; i++) {
		char *tab = i < 7 ? strchr(s, '\t') : NULL;

		f[i] = s;
		if (i < 7 && !tab)
			return false;
		if (tab) {
			*tab = '\0';
			s = tab + 1;
		}
	}
	*p = end + 1;
	return !strchr(f[7], '\t');
}

/* One module of a release_index text into `s`; see desc_finish(). */
static int index_module(lm_ledger *l, lm_modset *s, char *const f[8])
{
	long abi = index_number(f[4]), cb = index_number(f[6]);
	long purge = index_number(f[7]);
	lm_descriptor *d;
	int rc;

	if (abi < 0 || cb < 0 || purge < 0)
		return 1;
	if (!(d = lm_descriptor_new(f[0], f[3])))
		return oom();
	d->abi = (unsigned)abi;
	d->callbacks = (unsigned)cb;
	d->purge = (lm_purge_mode)purge;
	if ((rc = desc_finish(l, d, f[2], f[5], NULL, &d)) != 0)
		return rc;
	return lm_modset_add(s, f[1], f[2], d);
}

/* Parses release `id`'s index `text` (which it cuts up) into `out`. */
static int index_parse(lm_ledger *l, int64_t id, char *text, lm_modset *out)
{
	lm_modset s = { 0 };
	size_t line = 0, lines = 0;
	const char *nl;
	int rc = 0;

	for (nl = text; (nl = strchr(nl, '\n')); nl++)
		lines++;
	rc = lm_modset_reserve(&s, lines);
	while (rc == 0 && *text) {
		char *f[8];

		line++;
		rc = index_fields(&text, f) ? index_module(l, &s, f) : 1;
	}
	if (rc == 1)
		rc = lm_error_set(LM_EINVAL, "%s: release %lld: index line "
				  "%zu is malformed", l->path, (long long)id,
				  line);
	/* Written in name order: this only checks it (and duplicates). */
	if (rc == 0 && (rc = lm_modset_sort(&s)) != 0)
		rc = lm_error_wrap("%s: release %lld", l->path, (long long)id);
	if (rc != 0) {
		lm_modset_clear(&s);
		return rc;
	}
	*out = s;
	return 0;
}

int lm_ledger_release_index(lm_ledger *l, int64_t id, lm_modset *out)
{
	sqlite3_stmt *st;
	char *text = NULL;
	int rc;

	assert(l && out);
	rc = q_prep(l, &st, "SELECT modules FROM release_index "
		    "WHERE release_id = ?", "i", id);
	if (rc == 0 && (rc = q_step(l, st, "read release index")) == 1) {
		const char *t = (const char *)lm_sqlite.column_text(st, 0);
		size_t n = t ? (size_t)lm_sqlite.column_bytes(st, 0) : 0;

		rc = 0;
		if (!(text = malloc(n + 1)))
			rc = oom();
		else {
			memcpy(text, t ? t : "", n);
			text[n] = '\0';
		}
	}
	q_done(l, st);
	if (rc == 0)
		rc = text ? index_parse(l, id, text, out)
			  : release_modules(l, id, false, out); /* no row */
	free(text);
	return rc;
}

int lm_ledger_module_version(lm_ledger *l, const char *oid,
			     lm_descriptor **out)
{
	sqlite3_stmt *st;
	int rc;

	assert(l && oid && out);
	*out = NULL;
	rc = q_prep(l, &st,
		    "SELECT " MV_COLS " FROM module_versions m WHERE m.oid = ?",
		    "s", oid);
	if (rc == 0 && (rc = q_step(l, st, "read module version")) == 0)
		rc = lm_error_set(LM_ENOTFOUND, "%s: no module version %.64s",
				  l->path, oid);
	if (rc == 1)
		rc = desc_from_row(l, st, 0, oid, true, out);
	q_done(l, st);
	return rc;
}

/* ---------------------------------------------------------------------
 * Plans
 * ------------------------------------------------------------------- */

int lm_ledger_plan_add(lm_ledger *l, int64_t *out_id, int64_t from_release,
		       int64_t to_release)
{
	int64_t id = 0;
	int rc;

	assert(l && out_id);
	if ((rc = sp_begin(l)) != 0)
		return rc;
	/* Supersede first: the schema allows one 'planned' plan a node. */
	rc = q_exec(l, "supersede plans",
		    "UPDATE plans SET status = 'superseded' "
		    "WHERE status = 'planned' AND node = " THE_NODE,
		    "");
	if (rc == 0)
		rc = q_exec(l, "record plan",
			    "INSERT INTO plans (node, from_release, to_release) "
			    "SELECT " THE_NODE ", ?, ? "
			    "WHERE EXISTS (SELECT 1 FROM nodes)",
			    "ii", from_release, to_release);
	if (rc == 0 && lm_sqlite.changes(l->db) == 0)
		rc = lm_error_set(LM_ENOTFOUND,
				  "%s: no node (run `livemod init` first)",
				  l->path);
	if (rc == 0)
		id = lm_sqlite.last_insert_rowid(l->db);
	if ((rc = sp_end(l, rc)) == 0)
		*out_id = id;
	return rc;
}

int lm_ledger_plan_set_json(lm_ledger *l, int64_t id, const char *path,
			    const char *json)
{
	assert(l && path && json);
	return q_update1(l, "record plan JSON", "plan", id,
			 "UPDATE plans SET path = ?, json = ? WHERE id = ?",
			 "ssi", path, json, id);
}

int lm_ledger_plan_set_status(lm_ledger *l, int64_t id, const char *status)
{
	char what[96];

	assert(l && status);
	snprintf(what, sizeof(what), "plan %lld: status '%.32s'",
		 (long long)id, status);
	return q_update1(l, what, "plan", id,
			 "UPDATE plans SET status = ? WHERE id = ?", "si",
			 status, id);
}

/* A read, not a write: rewriting the plan's row (its JSON, kilobytes
 * for a plan of many modules) cost the point of no return more than the
 * rest of its write, and the run recorded beside it already marks the
 * plan in flight. */
int lm_ledger_plan_claim(lm_ledger *l, int64_t id)
{
	sqlite3_stmt *st;
	int rc;

	assert(l);
	rc = q_prep(l, &st, "SELECT 1 FROM plans WHERE id = ? AND "
		    "status IN ('planned', 'failed')", "i", id);
	if (rc == 0)
		rc = q_step(l, st, "claim plan");
	q_done(l, st);
	return rc == 0
		? lm_error_set(LM_ESTALE, "plan %lld was superseded or applied "
			       "while the node checked it", (long long)id)
		: rc < 0 ? rc : 0;
}

int lm_ledger_plan_fail(lm_ledger *l, int64_t id)
{
	assert(l);
	return q_exec(l, "mark plan failed",
		      "UPDATE plans SET status = 'failed' WHERE id = ? AND "
		      "status IN ('planned', 'applying', 'failed')", "i", id);
}

#define PLAN_COLS "id, from_release, to_release, status, path, created_at"

/* A plan row of PLAN_COLS, and the json column after them if `json`. */
static int plan_from_row(sqlite3_stmt *st, lm_plan_row *p, bool json)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->id = lm_sqlite.column_int64(st, 0);
	p->from_release = lm_sqlite.column_int64(st, 1);
	p->to_release = lm_sqlite.column_int64(st, 2);
	if ((rc = col_text(st, 3, &p->status)) == 0 &&
	    (rc = col_str(st, 4, &p->path)) == 0 &&
	    (rc = col_text(st, 5, &p->created_at)) == 0 && json)
		rc = col_str(st, 6, &p->json);
	if (rc != 0)
		lm_plan_row_clear(p);
	return rc;
}

/* One plan row chosen by `where` (binding `types` like q_prep); `what`
 * names it in the not-found message. */
static int plan_row(lm_ledger *l, lm_plan_row *out, const char *what,
		    const char *where, const char *types, ...)
{
	sqlite3_stmt *st;
	char *sql = lm_sqlite.mprintf("SELECT " PLAN_COLS ", json FROM "
				    "plans WHERE %s ORDER BY id DESC LIMIT 1",
				    where);
	va_list ap;
	int rc;

	if (!sql)
		return lm_error_set(LM_ERROR, "out of memory");
	va_start(ap, types);
	rc = q_vprep(l, &st, sql, types, ap);
	va_end(ap);
	lm_sqlite.free(sql);
	if (rc == 0 && (rc = q_step(l, st, "read plan")) == 0)
		rc = lm_error_set(LM_ENOTFOUND, "%s: no %s", l->path, what);
	if (rc == 1)
		rc = plan_from_row(st, out, true);
	q_done(l, st);
	return rc;
}

static int plan_list_row(sqlite3_stmt *st, void *e)
{
	return plan_from_row(st, e, false);
}

static void plan_list_clear(void *e)
{
	lm_plan_row_clear(e);
}

int lm_ledger_plan_list(lm_ledger *l, lm_plan_row **out, size_t *n)
{
	sqlite3_stmt *st;
	int rc;

	assert(l && out && n);
	if ((rc = q_prep(l, &st, "SELECT " PLAN_COLS " FROM plans "
			 "ORDER BY id DESC", "")) != 0)
		return rc;
	return q_list(l, st, "list plans", sizeof(**out), plan_list_row,
		      plan_list_clear, (void **)out, n);
}

int lm_ledger_plan_get(lm_ledger *l, int64_t id, lm_plan_row *out)
{
	char what[40];

	assert(l && out);
	snprintf(what, sizeof(what), "plan %lld", (long long)id);
	return plan_row(l, out, what, "id = ?", "i", id);
}

int lm_ledger_plan_newest(lm_ledger *l, int64_t *out_id)
{
	assert(l && out_id);
	return pragma_int(l, "SELECT max(id) FROM plans", out_id);
}

int lm_ledger_plan_applied(lm_ledger *l, int64_t from, int64_t to,
			   lm_plan_row *out)
{
	char what[80];

	assert(l && out);
	snprintf(what, sizeof(what), "applied plan from release %lld to %lld",
		 (long long)from, (long long)to);
	return plan_row(l, out, what, "from_release = ? AND to_release = ? "
			"AND status = 'applied'", "ii", from, to);
}

void lm_plan_row_clear(lm_plan_row *p)
{
	if (!p)
		return;
	free(p->status);
	free(p->path);
	free(p->created_at);
	free(p->json);
	memset(p, 0, sizeof(*p));
}

/* ---------------------------------------------------------------------
 * Apply runs
 * ------------------------------------------------------------------- */

int lm_ledger_run_start(lm_ledger *l, int64_t *out_id, int64_t plan_id,
			int64_t from_release, int64_t to_release,
			const char *phase)
{
	int rc;

	assert(l && out_id);
	rc = q_exec(l, "record apply run",
		    "INSERT INTO apply_runs (plan_id, from_release, to_release, "
		    "phase) VALUES (?, ?, ?, coalesce(?, 'started'))",
		    "iiis", plan_id, from_release, to_release, phase);
	if (rc == 0)
		*out_id = lm_sqlite.last_insert_rowid(l->db);
	return rc;
}

int lm_ledger_run_phase(lm_ledger *l, int64_t run, const char *phase)
{
	char what[96];

	assert(l && phase);
	snprintf(what, sizeof(what), "apply run %lld: phase '%.32s'",
		 (long long)run, phase);
	return q_update1(l, what, "apply run", run,
			 "UPDATE apply_runs SET phase = ? WHERE id = ?", "si",
			 phase, run);
}

int lm_ledger_run_finish(lm_ledger *l, int64_t run, const char *status,
			 const char *check, const char *eval,
			 const char *timings)
{
	char what[96];
	int rc;

	assert(l && status);
	snprintf(what, sizeof(what), "apply run %lld: finish '%.32s'",
		 (long long)run, status);
	/* Only a running run finishes: a late report from an agent whose
	 * run was marked interrupted must not rewrite history. */
	rc = q_update1(l, what, "running apply run", run,
		       /* merged: the reaper may have noted its unload
			* already (lm_ledger_run_note_unload) */
		       "UPDATE apply_runs SET status = ?, check_json = ?, "
		       "eval_json = ?, timings_json = CASE WHEN ?4 IS NULL "
		       "THEN timings_json ELSE json_patch(coalesce("
		       "timings_json, '{}'), ?4) END, finished_at = " NOW_SQL
		       " WHERE id = ? AND status = 'running'",
		       "ssssi", status, check, eval, timings, run);
	return rc;
}

int lm_ledger_run_mark_interrupted(lm_ledger *l, int *n)
{
	int rc;

	assert(l && n);
	*n = 0;
	rc = q_exec(l, "mark interrupted apply runs",
		    "UPDATE apply_runs SET status = 'interrupted', "
		    "finished_at = " NOW_SQL " WHERE status = 'running'",
		    "");
	if (rc == 0)
		*n = lm_sqlite.changes(l->db);
	return rc;
}

static int run_from_row(sqlite3_stmt *st, lm_run_info *r)
{
	char **text[] = { &r->phase, &r->status, &r->check, &r->eval,
			  &r->timings, &r->started_at, &r->finished_at };
	static const bool nullable[] = { false, false, true, true,
					 true, false, true };
	size_t i;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	r->id = lm_sqlite.column_int64(st, 0);
	r->plan_id = lm_sqlite.column_int64(st, 1);
	r->from_release = lm_sqlite.column_int64(st, 2);
	r->to_release = lm_sqlite.column_int64(st, 3);
	for (i = 0; i < sizeof(text) / sizeof(text[0]) && rc == 0; i++)
		rc = nullable[i] ? col_str(st, 4 + (int)i, text[i])
				 : col_text(st, 4 + (int)i, text[i]);
	if (rc != 0)
		lm_run_info_clear(r);
	return rc;
}

static int run_row(sqlite3_stmt *st, void *e)
{
	return run_from_row(st, e);
}

static void run_clear(void *e)
{
	lm_run_info_clear(e);
}

int lm_ledger_run_list(lm_ledger *l, lm_run_info **out, size_t *n)
{
	sqlite3_stmt *st;
	int rc;

	assert(l && out && n);
	rc = q_prep(l, &st,
		    "SELECT id, plan_id, from_release, to_release, phase, "
		    "status, check_json, eval_json, timings_json, started_at, "
		    "finished_at FROM apply_runs ORDER BY id DESC",
		    "");
	if (rc != 0)
		return rc;
	return q_list(l, st, "list apply runs", sizeof(**out), run_row,
		      run_clear, (void **)out, n);
}

void lm_run_info_clear(lm_run_info *r)
{
	if (!r)
		return;
	free(r->phase);
	free(r->status);
	free(r->check);
	free(r->eval);
	free(r->timings);
	free(r->started_at);
	free(r->finished_at);
	memset(r, 0, sizeof(*r));
}

int lm_ledger_stamp_get(lm_ledger *l, lm_ledger_stamp *out)
{
	assert(l && out);
	out->own = (int64_t)lm_sqlite.total_changes64(l->db);
	return pragma_int(l, "PRAGMA data_version", &out->others);
}

/* ---------------------------------------------------------------------
 * Stat cache
 * ------------------------------------------------------------------- */

int lm_ledger_stat_count(lm_ledger *l, int64_t *n)
{
	assert(l && n);
	return pragma_int(l, "SELECT count(*) FROM stat_cache", n);
}

int lm_ledger_stat_load(lm_ledger *l, lm_stat_entry **out, size_t *n)
{
	lm_stat_entry *v = NULL;
	size_t cnt = 0, cap = 0;
	int64_t count;
	sqlite3_stmt *st;
	int rc;

	assert(l && out && n);
	/* One pass in primary key order, no join: `livemod plan` on a warm
	 * libdir of 10,000 modules is meant to cost about what `git status`
	 * does, and the descriptors of cached objects are in the release the
	 * plan starts from (lm_scan_libdir). */
	/* Counted first: growing a 10,000-entry array as it fills costs more
	 * (copies, page faults) than the count. */
	if ((rc = lm_ledger_stat_count(l, &count)) < 0)
		return rc;
	cap = (size_t)count;
	if (cap && !(v = malloc(cap * sizeof(*v))))
		return oom();
	rc = q_prep(l, &st,
		    "SELECT file, size, mtime_ns, ctime_ns, ino, oid, "
		    "cached_at_ns FROM stat_cache ORDER BY file",
		    "");
	while (rc == 0 && (rc = q_step(l, st, "read stat cache")) == 1) {
		lm_stat_entry *e;

		rc = 0;
		v = grow(v, &cap, cnt, sizeof(*v), &rc);
		if (rc != 0)
			break;
		e = &v[cnt];
		e->size = lm_sqlite.column_int64(st, 1);
		e->mtime_ns = lm_sqlite.column_int64(st, 2);
		e->ctime_ns = lm_sqlite.column_int64(st, 3);
		e->ino = (uint64_t)lm_sqlite.column_int64(st, 4);
		col_oid(st, 5, e->oid);
		e->cached_at_ns = lm_sqlite.column_int64(st, 6);
		if ((rc = col_text(st, 0, &e->file)) != 0)
			break;
		cnt++;
	}
	q_done(l, st);
	if (rc != 0) {
		lm_stat_entries_free(v, cnt);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Runs `sql`, an INSERT of the 7 columns as ?1..?7, once per entry of
 * `v`; an entry with no cached_at_ns gets `now`. *written: the rows it
 * changed. */
static int stat_insert(lm_ledger *l, const char *sql, const lm_stat_entry *v,
		       size_t n, int64_t now, size_t *written)
{
	sqlite3_stmt *st = NULL;
	size_t i;
	int rc = q_prep(l, &st, sql, NULL);

	*written = 0;
	for (i = 0; i < n && rc == 0; i++) {
		const lm_stat_entry *e = &v[i];
		char what[320];
		int s;

		assert(e->file);
		if ((rc = q_bind(l, st, "siiiisi", e->file, e->size,
				 e->mtime_ns, e->ctime_ns, (int64_t)e->ino,
				 e->oid,
				 e->cached_at_ns ? e->cached_at_ns : now)) != 0)
			break;
		/* The message is made only on failure: this loop runs for
		 * every file of the libdir on every plan. */
		if ((s = lm_sqlite.step(st)) != SQLITE_DONE) {
			snprintf(what, sizeof(what),
				 "stat cache entry '%.200s' (object %s)",
				 e->file, e->oid);
			rc = db_fail(l, s, what);
		}
		*written += lm_sqlite.changes(l->db) > 0;
		lm_sqlite.reset(st);
	}
	q_done(l, st);
	return rc;
}

int lm_ledger_stat_store(lm_ledger *l, const lm_stat_entry *v, size_t n)
{
	size_t written;
	int rc;

	assert(l && (v || n == 0));
	if ((rc = sp_begin(l)) != 0)
		return rc;
	if ((rc = q_exec(l, "clear stat cache", "DELETE FROM stat_cache",
			 "")) == 0)
		rc = stat_insert(l, "INSERT INTO stat_cache (file, size, "
				 "mtime_ns, ctime_ns, ino, oid, cached_at_ns) "
				 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", v, n,
				 now_ns(), &written);
	return sp_end(l, rc);
}

int lm_ledger_stat_refresh(lm_ledger *l, const lm_stat_entry *v, size_t n,
			   size_t *written)
{
	size_t w = 0;
	int rc;

	assert(l && (v || n == 0));
	if ((rc = sp_begin(l)) != 0)
		return rc;
	/* An oid the ledger does not record is skipped rather than refused
	 * (the cache's foreign key): a file read again is no worse. */
	rc = stat_insert(l, "INSERT OR REPLACE INTO stat_cache (file, size, "
			 "mtime_ns, ctime_ns, ino, oid, cached_at_ns) "
			 "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS "
			 "(SELECT 1 FROM module_versions WHERE oid = ?6)", v,
			 n, now_ns(), &w);
	if ((rc = sp_end(l, rc)) == 0 && written)
		*written = w;
	return rc;
}

int lm_ledger_module_known(lm_ledger *l, const char *oid)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = q_prep(l, &st, "SELECT 1 FROM module_versions WHERE oid = ?",
			 "s", oid)) == 0)
		rc = q_step(l, st, "look up module version");
	q_done(l, st);
	return rc;
}

void lm_stat_entries_free(lm_stat_entry *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i].file);
	free(v);
}

/* ---------------------------------------------------------------------
 * Boot failures and the host's declared imports
 * ------------------------------------------------------------------- */

int lm_ledger_boot_failure_add(lm_ledger *l, int64_t release,
			       int64_t fallback, const char *reason)
{
	assert(l && release > 0 && fallback > 0 && reason);
	return q_exec(l, "record boot failure",
		      "INSERT OR IGNORE INTO boot_failures (release_id, reason, "
		      "fallback) VALUES (?, ?, ?)",
		      "isi", release, *reason ? reason : "unknown", fallback);
}

int lm_ledger_boot_failure_get(lm_ledger *l, int64_t release, char **reason)
{
	sqlite3_stmt *st;
	int rc;

	assert(l && reason);
	*reason = NULL;
	rc = q_prep(l, &st, "SELECT reason FROM boot_failures "
		    "WHERE release_id = ?", "i", release);
	if (rc == 0 && (rc = q_step(l, st, "read boot failure")) == 1)
		rc = col_text(st, 0, reason);
	q_done(l, st);
	return rc;
}

int lm_ledger_boot_failures(lm_ledger *l, lm_boot_failure **out, size_t *n)
{
	lm_boot_failure *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	assert(l && out && n);
	*out = NULL;
	*n = 0;
	rc = q_prep(l, &st, "SELECT release_id, reason FROM boot_failures "
		    "ORDER BY release_id", "");
	while (rc == 0 && (rc = q_step(l, st, "read boot failures")) == 1) {
		if (cnt == cap) {
			lm_boot_failure *nv = realloc(
				v, (cap = cap ? 2 * cap : 4) * sizeof(*v));

			if (!nv) {
				rc = oom();
				break;
			}
			v = nv;
		}
		v[cnt].release = lm_sqlite.column_int64(st, 0);
		if ((rc = col_text(st, 1, &v[cnt].reason)) == 0)
			cnt++;
	}
	q_done(l, st);
	if (rc < 0) {
		lm_boot_failures_free(v, cnt);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

void lm_boot_failures_free(lm_boot_failure *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].reason);
	free(v);
}

int lm_ledger_imports_get(lm_ledger *l, lm_imports *out)
{
	sqlite3_stmt *st;
	lm_imports im = { 0 };
	int rc;

	assert(l && out);
	rc = q_prep(l, &st, "SELECT module, name, signature FROM host_imports "
		    "ORDER BY module, name", "");
	while (rc == 0 && (rc = q_step(l, st, "read host imports")) == 1) {
		const char *m = (const char *)lm_sqlite.column_text(st, 0);
		const char *n = (const char *)lm_sqlite.column_text(st, 1);
		const char *s = (const char *)lm_sqlite.column_text(st, 2);

		rc = !m || !n || !s ? col_null(st, !m ? 0 : !n ? 1 : 2)
				    : lm_imports_add(&im, m, n, s);
	}
	q_done(l, st);
	if (rc < 0) {
		lm_imports_clear(&im);
		return rc;
	}
	*out = im;
	return 0;
}

int lm_ledger_imports_set(lm_ledger *l, const lm_imports *im)
{
	int rc;

	assert(l && im);
	rc = sp_begin(l);
	if (rc == 0)
		rc = q_exec(l, "replace host imports",
			    "DELETE FROM host_imports", "");
	for (size_t i = 0; rc == 0 && i < im->n; i++)
		rc = q_exec(l, "record host import",
			    "INSERT INTO host_imports (module, name, signature) "
			    "VALUES (?, ?, ?)", "sss", im->v[i].module,
			    im->v[i].name, im->v[i].signature);
	return sp_end(l, rc);
}

int lm_ledger_oid_first_release(lm_ledger *l, const char *name,
				const char *oid, int64_t *out)
{
	sqlite3_stmt *st;
	int rc;

	assert(l && name && oid && out);
	*out = 0;
	rc = q_prep(l, &st, "SELECT min(release_id) FROM release_modules "
		    "WHERE oid = ? AND name = ?", "ss", oid, name);
	if (rc == 0 && (rc = q_step(l, st, "read object history")) == 1) {
		*out = lm_sqlite.column_int64(st, 0);
		rc = 0;
	}
	q_done(l, st);
	return rc;
}

int lm_ledger_run_note_unload(lm_ledger *l, int64_t run, size_t versions,
			      long us)
{
	assert(l);
	return q_update1(l, "record an unload", "run", run,
			 "UPDATE apply_runs SET timings_json = json_set("
			 "coalesce(timings_json, '{}'), '$.unload', "
			 "coalesce(json_extract(timings_json, '$.unload'), 0) + ?,"
			 " '$.unloaded', coalesce(json_extract(timings_json, "
			 "'$.unloaded'), 0) + ?) WHERE id = ?", "iii",
			 (int64_t)us, (int64_t)versions, run);
}
