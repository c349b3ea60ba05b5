/*
 * gc.c - housekeeping (see gc.h, docs/housekeeping.md): decide which
 * releases stay, delete the rest from the ledger in one transaction, then
 * collect the store (stale tags, the shallow boundary, `git gc`) and
 * objects/.
 *
 * All of gc's SQL lives here rather than in ledger.c: it is the only code
 * that deletes history, none of its statements serves anything else, and
 * it runs through lm_ledger_db() inside lm_ledger_begin/commit like any
 * other ledger write.
 */
#include "gc.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


#include "error.h"
#include "fsutil.h"
#include "sqlitelib.h"
#include "store.h"

extern char **environ;

typedef struct rel {
	int64_t id, parent;   /* parent 0: none */
	lm_gc_oid commit;
	int keep;
} rel;

typedef struct gc {
	lm_state *st;
	sqlite3 *db;
	const lm_gc_opts *o;
	lm_gc_result *out;
	rel *v;               /* every release in the ledger, by id */
	size_t n;
} gc;

/* The plans and runs that go with the pruned releases (temp.gc_prune). A
 * run is matched by its releases too, not only by its plan: a run names
 * releases of its own, and the foreign keys hold it to them. */
#define PLANS_PRUNED \
	"from_release IN temp.gc_prune OR to_release IN temp.gc_prune"
#define RUNS_PRUNED \
	"plan_id IN (SELECT id FROM plans WHERE " PLANS_PRUNED ") OR " \
	PLANS_PRUNED
/* Both ends of the plans an apply may still be working on. */
#define IN_FLIGHT \
	"SELECT from_release FROM plans WHERE status IN ('planned', " \
	"'applying') UNION SELECT to_release FROM plans WHERE status IN " \
	"('planned', 'applying') UNION SELECT from_release FROM apply_runs " \
	"WHERE status = 'running' UNION SELECT to_release FROM apply_runs " \
	"WHERE status = 'running'"
/* The objects the releases left after the prune hold: before the deletes
 * the filter on temp.gc_prune does the work, after them it is a no-op. */
#define KEPT_OIDS \
	"SELECT DISTINCT oid FROM release_modules WHERE release_id NOT IN " \
	"temp.gc_prune ORDER BY oid"

static int oom(void)
{
	return lm_error_set(LM_ERROR, "out of memory");
}

/* Room for one more element of `size` bytes in *v (holding n). */
static int grow(void *v, size_t n, size_t size)
{
	void *nv = realloc(*(void **)v, (n + 1) * size);

	if (!nv)
		return oom();
	*(void **)v = nv;
	return 0;
}

static int push_id(int64_t **v, size_t *n, int64_t id)
{
	int rc = grow(v, *n, sizeof(**v));

	if (rc == 0)
		(*v)[(*n)++] = id;
	return rc;
}

static int push_oid(lm_gc_oid **v, size_t *n, const char *oid)
{
	int rc = grow(v, *n, sizeof(**v));

	if (rc == 0)
		snprintf((*v)[(*n)++], sizeof(**v), "%s", oid);
	return rc;
}

static int oid_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* A set of object or commit ids: sorted, then searched. */
typedef struct oids {
	lm_gc_oid *v;
	size_t n;
} oids;

static void oids_sort(oids *s)
{
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), oid_cmp);
}

static int oids_has(const oids *s, const char *oid)
{
	return s->n && bsearch(oid, s->v, s->n, sizeof(*s->v), oid_cmp);
}

/* A list of ids (plans, tagged releases). */
typedef struct ids {
	int64_t *v;
	size_t n;
} ids;

static int id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* `s` must be in ascending order. */
static int ids_has(const ids *s, int64_t id)
{
	return s->n && bsearch(&id, s->v, s->n, sizeof(id), id_cmp);
}

/* Records a warning: something left for the next gc or for a person. */
__attribute__((format(printf, 2, 3)))
static void warn(gc *g, const char *fmt, ...)
{
	lm_gc_result *r = g->out;
	va_list ap;
	char *text;
	int len;

	va_start(ap, fmt);
	len = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (len < 0 || grow(&r->warnings, r->nwarnings, sizeof(char *)) < 0)
		return;
	r->warnings[r->nwarnings++] = text;
}

/* ---- SQL ---------------------------------------------------------------- */

static int sql_fail(sqlite3 *db, const char *what)
{
	int code = lm_sqlite.errcode(db) & 0xff;

	return lm_error_set(code == SQLITE_BUSY || code == SQLITE_LOCKED
				    ? LM_EBUSY : LM_ERROR,
			    "%s: gc: %s: %s", lm_sqlite.db_filename(db, "main"),
			    what, lm_sqlite.errmsg(db));
}

typedef int (*row_fn)(void *ctx, sqlite3_stmt *row);

/* Runs `sql`, binding `a` and `b` to the parameters it has (?1, ?2), and
 * calls `fn` (when given) on each row. */
static int sql_each(sqlite3 *db, const char *what, const char *sql,
		    int64_t a, int64_t b, row_fn fn, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int rc = 0, step;

	if (lm_sqlite.prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, what);
	if (lm_sqlite.bind_parameter_count(st) >= 1)
		lm_sqlite.bind_int64(st, 1, a);
	if (lm_sqlite.bind_parameter_count(st) >= 2)
		lm_sqlite.bind_int64(st, 2, b);
	while ((step = lm_sqlite.step(st)) == SQLITE_ROW && rc == 0)
		rc = fn ? fn(ctx, st) : 0;
	if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
		rc = sql_fail(db, what);
	lm_sqlite.finalize(st);
	return rc;
}

static int sql_run(gc *g, const char *what, const char *sql)
{
	return sql_each(g->db, what, sql, 0, 0, NULL, NULL);
}

static int row_count(void *ctx, sqlite3_stmt *row)
{
	*(size_t *)ctx = (size_t)lm_sqlite.column_int64(row, 0);
	return 0;
}

static int row_oid(void *ctx, sqlite3_stmt *row)
{
	oids *s = ctx;

	return push_oid(&s->v, &s->n, (const char *)lm_sqlite.column_text(row, 0));
}

static int row_release(void *ctx, sqlite3_stmt *row)
{
	gc *g = ctx;
	rel *r;
	int rc = grow(&g->v, g->n, sizeof(*g->v));

	if (rc < 0)
		return rc;
	r = &g->v[g->n++];
	r->id = lm_sqlite.column_int64(row, 0);
	r->parent = lm_sqlite.column_int64(row, 1);
	snprintf(r->commit, sizeof(r->commit), "%s",
		 (const char *)lm_sqlite.column_text(row, 2));
	r->keep = 0;
	return 0;
}

/* ---- which releases stay -------------------------------------------------- */

static rel *find_release(gc *g, int64_t id)
{
	size_t lo = 0, hi = g->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (g->v[mid].id == id)
			return &g->v[mid];
		if (g->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int load_releases(gc *g)
{
	free(g->v);
	g->v = NULL;
	g->n = 0;
	return sql_each(g->db, "reading releases",
			"SELECT id, ifnull(parent, 0), commit_oid FROM releases "
			"ORDER BY id", 0, 0, row_release, g);
}

static int row_keep(void *ctx, sqlite3_stmt *row)
{
	rel *r = find_release(ctx, lm_sqlite.column_int64(row, 0));

	if (r)
		r->keep = 1;
	return 0;
}

static int row_node(void *ctx, sqlite3_stmt *row)
{
	gc *g = ctx;

	/* one node per ledger today; the first one's releases are reported */
	if (!g->out->current && !g->out->permanent) {
		g->out->current = lm_sqlite.column_int64(row, 0);
		g->out->permanent = lm_sqlite.column_int64(row, 1);
		g->out->booted = lm_sqlite.column_int64(row, 2);
	}
	return 0;
}

static int row_plan(void *ctx, sqlite3_stmt *row)
{
	lm_gc_result *r = ctx;

	return push_id(&r->plans, &r->nplans, lm_sqlite.column_int64(row, 0));
}

/* Marks the releases that stay, lists kept and pruned, and fills
 * temp.gc_prune, which the counts and deletes below read. */
static int mark(gc *g)
{
	lm_gc_result *r = g->out;
	size_t i;
	int rc;

	if ((rc = load_releases(g)) < 0)
		return rc;
	for (i = 0; i < g->n; i++)
		g->v[i].keep = (int64_t)(g->n - i) <= g->o->keep;
	if ((rc = sql_each(g->db, "reading the node",
			   "SELECT ifnull(current_release, 0), "
			   "ifnull(permanent_release, 0), "
			   "ifnull(booted_release, 0) FROM nodes ORDER BY id",
			   0, 0, row_node, g)) < 0 ||
	    (rc = sql_each(g->db, "reading the node",
			   "SELECT current_release FROM nodes UNION "
			   "SELECT permanent_release FROM nodes UNION "
			   /* what a boot falls back to */
			   "SELECT booted_release FROM nodes",
			   0, 0, row_keep, g)) < 0 ||
	    (rc = sql_each(g->db, "reading plans in flight", IN_FLIGHT,
			   0, 0, row_keep, g)) < 0 ||
	    (rc = sql_run(g, "making the prune list",
			  "CREATE TEMP TABLE IF NOT EXISTS gc_prune "
			  "(id INTEGER PRIMARY KEY)")) < 0 ||
	    (rc = sql_run(g, "making the prune list",
			  "DELETE FROM temp.gc_prune")) < 0)
		return rc;
	for (i = 0; i < g->n && rc == 0; i++) {
		if (g->v[i].keep)
			rc = push_id(&r->kept, &r->nkept, g->v[i].id);
		else if ((rc = push_id(&r->pruned, &r->npruned,
				       g->v[i].id)) == 0)
			rc = sql_each(g->db, "making the prune list",
				      "INSERT INTO temp.gc_prune VALUES (?1)",
				      g->v[i].id, 0, NULL, NULL);
	}
	return rc;
}

/* What goes with the pruned releases: plans, runs, module versions. */
static int count(gc *g)
{
	lm_gc_result *r = g->out;
	int rc;

	if ((rc = sql_each(g->db, "listing plans",
			   "SELECT id FROM plans WHERE " PLANS_PRUNED
			   " ORDER BY id", 0, 0, row_plan, r)) < 0 ||
	    (rc = sql_each(g->db, "counting apply runs",
			   "SELECT count(*) FROM apply_runs WHERE " RUNS_PRUNED,
			   0, 0, row_count, &r->runs)) < 0)
		return rc;
	return sql_each(g->db, "counting module versions",
			"SELECT count(*) FROM module_versions m WHERE NOT EXISTS "
			"(SELECT 1 FROM release_modules r WHERE r.oid = m.oid "
			"AND r.release_id NOT IN temp.gc_prune)",
			0, 0, row_count, &r->module_versions);
}

/* ---- the ledger's deletes ---------------------------------------------- */

/* The nearest kept ancestor of `r` (0: none): a kept release whose parent
 * goes gets it as its parent, so that "the release before" (rollback's
 * default target) still means something. */
static int64_t kept_ancestor(gc *g, const rel *r)
{
	const rel *p = find_release(g, r->parent);

	while (p && !p->keep)
		p = find_release(g, p->parent);
	return p ? p->id : 0;
}

/* Deletes children before parents, as the foreign keys want: runs, plans,
 * the releases' contents, the parent links into pruned releases, the
 * releases, and last the module versions no release holds any more
 * (their stat cache rows go with them: ON DELETE CASCADE). */
static int prune_ledger(gc *g)
{
	static const struct { const char *what, *sql; } contents[] = {
		{ "deleting apply runs",
		  "DELETE FROM apply_runs WHERE " RUNS_PRUNED },
		{ "deleting plans", "DELETE FROM plans WHERE " PLANS_PRUNED },
		{ "deleting boot failures", "DELETE FROM boot_failures WHERE "
		  "release_id IN temp.gc_prune OR fallback IN temp.gc_prune" },
		{ "deleting release index rows", "DELETE FROM release_index "
		  "WHERE release_id IN temp.gc_prune" },
		{ "deleting release modules", "DELETE FROM release_modules "
		  "WHERE release_id IN temp.gc_prune" },
	};
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(contents) / sizeof(contents[0]) && rc == 0; i++)
		rc = sql_run(g, contents[i].what, contents[i].sql);
	for (i = 0; i < g->n && rc == 0; i++) {
		const rel *r = &g->v[i];
		const rel *p = find_release(g, r->parent);

		if (r->keep && p && !p->keep)
			rc = sql_each(g->db, "linking a release to its kept "
				      "ancestor", "UPDATE releases SET parent = "
				      "nullif(?2, 0) WHERE id = ?1", r->id,
				      kept_ancestor(g, r), NULL, NULL);
	}
	if (rc == 0)
		rc = sql_run(g, "deleting releases", "DELETE FROM releases "
			     "WHERE id IN temp.gc_prune");
	if (rc == 0)
		rc = sql_run(g, "deleting module versions",
			     "DELETE FROM module_versions WHERE NOT EXISTS "
			     "(SELECT 1 FROM release_modules r "
			     "WHERE r.oid = module_versions.oid)");
	assert(rc < 0 || (size_t)lm_sqlite.changes(g->db) ==
				 g->out->module_versions);
	return rc;
}

/* ---- objects/ and plans/ ------------------------------------------------ */

/* A directory of the state dir that gc cleans: the regular files that
 * `drop` names (it knows gc's own file names, and what keeps each) go;
 * any other entry is left alone. `gone` hears of each file removed, or
 * that would be without `remove`. */
typedef struct sweep {
	const char *subdir;
	int (*drop)(void *ctx, const char *name);
	int (*gone)(void *ctx, const char *name);
	void *ctx;
	int remove;
} sweep;

static int sweep_dir(gc *g, const sweep *s)
{
	char *dir = lm_path_join(g->st->dir, s->subdir);
	struct dirent *e;
	struct stat sb;
	DIR *d;
	int rc = 0;

	if (!dir)
		return oom();
	if (!(d = opendir(dir)) && errno != ENOENT)
		warn(g, "%s: cannot list: %s; its files are kept", dir,
		     strerror(errno));
	while (d && rc == 0 && (e = readdir(d))) {
		if (!s->drop(s->ctx, e->d_name) ||
		    fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		if (s->remove && unlinkat(dirfd(d), e->d_name, 0) != 0)
			warn(g, "%s/%s: cannot remove: %s", dir, e->d_name,
			     strerror(errno));
		else if (s->gone)
			rc = s->gone(s->ctx, e->d_name);
	}
	if (d)
		closedir(d);
	free(dir);
	return rc;
}

typedef struct objects_sweep {
	oids kept, loaded;
	lm_gc_result *out;
} objects_sweep;

/* The oid of an objects/ entry named <40 hex>.so, or <40 hex>.<k>.so (the
 * node's extra copy of an object loaded twice at once, agent/node/
 * objects.c), else NULL. */
static const char *object_oid(lm_gc_oid oid, const char *name)
{
	const char *rest = name + LM_OID_HEXSZ;
	size_t digits;

	if (strlen(name) < LM_OID_HEXSZ + 3)
		return NULL;
	if (*rest == '.' && (digits = strspn(rest + 1, "0123456789")) > 0 &&
	    digits <= 9)
		rest += 1 + digits;
	if (strcmp(rest, ".so") != 0)
		return NULL;
	memcpy(oid, name, LM_OID_HEXSZ);
	oid[LM_OID_HEXSZ] = '\0';
	return lm_oid_valid(oid) ? oid : NULL;
}

static int object_drop(void *ctx, const char *name)
{
	objects_sweep *os = ctx;
	lm_gc_oid oid;

	return object_oid(oid, name) && !oids_has(&os->kept, oid) &&
	       !oids_has(&os->loaded, oid);
}

static int object_gone(void *ctx, const char *name)
{
	lm_gc_result *r = ((objects_sweep *)ctx)->out;
	lm_gc_oid oid;

	return push_oid(&r->objects, &r->nobjects, object_oid(oid, name));
}

/* Lists (and with `remove`, deletes) the objects/<oid>.so files whose oid
 * no kept release holds and the node has not loaded. */
static int sweep_objects(gc *g, int remove)
{
	objects_sweep os = { { 0 }, { 0 }, g->out };
	sweep s = { "objects", object_drop, object_gone, &os, remove };
	lm_gc_result *r = g->out;
	size_t i;
	int rc;

	if (g->o->loaded_unknown)
		return 0;
	rc = sql_each(g->db, "listing kept objects", KEPT_OIDS, 0, 0, row_oid,
		      &os.kept);
	for (i = 0; i < g->o->nloaded && rc == 0; i++)
		rc = push_oid(&os.loaded.v, &os.loaded.n, g->o->loaded[i]);
	oids_sort(&os.loaded);
	if (rc == 0)
		rc = sweep_dir(g, &s);
	if (r->nobjects)
		qsort(r->objects, r->nobjects, sizeof(*r->objects), oid_cmp);
	free(os.loaded.v);
	free(os.kept.v);
	return rc;
}

static int row_id(void *ctx, sqlite3_stmt *row)
{
	ids *s = ctx;

	return push_id(&s->v, &s->n, lm_sqlite.column_int64(row, 0));
}

/* plans/<id>.json with no plan <id> in the ledger (`ctx`): a pruned
 * plan's, or one a crash left behind. */
static int plan_drop(void *ctx, const char *name)
{
	size_t digits = strspn(name, "0123456789");

	return digits > 0 && digits <= 18 &&
	       strcmp(name + digits, ".json") == 0 &&
	       !ids_has(ctx, strtoll(name, NULL, 10));
}

static int sweep_plans(gc *g)
{
	ids plans = { NULL, 0 };
	sweep s = { "plans", plan_drop, NULL, &plans, 1 };
	int rc = sql_each(g->db, "listing plans", "SELECT id FROM plans "
			  "ORDER BY id", 0, 0, row_id, &plans);

	if (rc == 0)
		rc = sweep_dir(g, &s);
	free(plans.v);
	return rc;
}

/* ---- the store ------------------------------------------------------------ *
 * Through lm_store; git's own gc runs as the git command (run_git_gc). */

typedef struct store_gc {
	gc *g;
	const char *path;     /* store.git */
	lm_store *s;
	oids commits;         /* the release commits, sorted */
} store_gc;

/* Removes refs/tags/release-N for each N the ledger no longer has. */
static int drop_stale_tags(store_gc *sg)
{
	int64_t *tags = NULL;
	size_t n = 0, i;
	int rc = lm_store_release_tags(sg->s, &tags, &n);

	for (i = 0; i < n && rc == 0; i++)
		if (!find_release(sg->g, tags[i]))
			rc = lm_store_untag(sg->s, tags[i], NULL);
	free(tags);
	return rc;
}

/* refs/heads/main follows the newest release; re-planning an older tree
 * may have left it on a release that is gone, which would keep that
 * release and its ancestors reachable. */
static int fix_main(store_gc *sg)
{
	const gc *g = sg->g;
	lm_gc_oid hex = "";
	int rc = lm_store_main(sg->s, hex);

	if (rc < 0 || g->n == 0 || oids_has(&sg->commits, hex))
		return rc;
	return lm_store_tag(sg->s, g->v[g->n - 1].id, g->v[g->n - 1].commit);
}

/* 1 when release commit `commit` has a parent that is not a release
 * commit, 0 when not, < 0 when the store lacks it. */
static int is_boundary(store_gc *sg, const char *commit)
{
	char parents[8][LM_OID_HEXSZ + 1];
	size_t n = 0, k;
	int boundary = 0;
	int rc = lm_store_commit_parents(sg->s, commit, parents, 8, &n);

	if (rc < 0)
		return rc;
	for (k = 0; k < n; k++)
		boundary |= !oids_has(&sg->commits, parents[k]);
	return boundary;
}

/* Writes the store's `shallow` file: every release commit with a parent
 * that is not a release commit. git takes each as a root, so the commits
 * before it become unreachable and `git gc` drops them; the commits keep
 * their ids (rewriting them would change every id in the ledger). The
 * parents are read from the commits themselves, not from the ledger,
 * whose parent links gc rewrites: a boundary from an earlier gc stays. */
static int write_shallow(store_gc *sg)
{
	char *file = lm_path_join(sg->path, "shallow"), *text = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);
	int rc = file && f ? 0 : oom(), b;

	for (i = 0; i < sg->g->n && rc == 0; i++) {
		if ((b = is_boundary(sg, sg->g->v[i].commit)) < 0)
			rc = lm_error_wrap("release %lld",
					   (long long)sg->g->v[i].id);
		else if (b)
			fprintf(f, "%s\n", sg->g->v[i].commit);
	}
	if (f && fclose(f) != 0 && rc == 0)
		rc = oom();
	if (rc == 0 && len)
		rc = lm_file_write_atomic(file, text, len, 0644);
	else if (rc == 0 && unlink(file) != 0 && errno != ENOENT)
		rc = lm_error_set(LM_ERROR, "%s: cannot remove: %s", file,
				  strerror(errno));
	free(text);
	free(file);
	return rc;
}

/* `git gc --prune=now` on the store: the git command line, because
 * libgit2 has no gc. Reflog entries would keep pruned commits alive, so
 * they expire now too (a store has none unless a git config asks). git's
 * output goes to stderr, never into a --json answer on stdout. */
static void run_git_gc(gc *g, const char *path)
{
	char *gitdir = NULL;
	char *argv[] = { "git", "-c", "gc.reflogExpire=now", "-c",
			 "gc.reflogExpireUnreachable=now", NULL, "gc",
			 "--prune=now", "--quiet", NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc, status = 0;

	if (asprintf(&gitdir, "--git-dir=%s", path) < 0) {
		warn(g, "out of memory: %s not collected", path);
		return;
	}
	argv[5] = gitdir;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 2, 1);
	rc = posix_spawnp(&pid, "git", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	while (rc == 0 && waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			rc = errno;
			break;
		}
	if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
		warn(g, "`git %s gc --prune=now` failed (status %d): the store "
		     "keeps the pruned objects until git's gc succeeds (run "
		     "livemod gc again)", gitdir,
		     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	else if (rc != 0)
		warn(g, "cannot run git (%s): the store keeps the pruned "
		     "objects until git's gc runs (run livemod gc again with "
		     "git on PATH)", rc == ENOENT ? "not found" : strerror(rc));
	free(gitdir);
}

/* Brings the store in line with the ledger (g->v, read after the prune):
 * tags, main, the shallow boundary, then git's gc. Each step is right on
 * its own, so a gc killed half way is finished by the next one. */
static int collect_store(gc *g)
{
	store_gc sg = { g, NULL, NULL, { 0 } };
	char *path = lm_path_join(g->st->dir, "store.git");
	size_t i;
	int rc = path ? lm_store_open(&sg.s, path, 0) : oom();

	sg.path = path;
	for (i = 0; i < g->n && rc == 0; i++)
		rc = push_oid(&sg.commits.v, &sg.commits.n, g->v[i].commit);
	oids_sort(&sg.commits);
	if (rc == 0)
		rc = drop_stale_tags(&sg);
	if (rc == 0)
		rc = fix_main(&sg);
	if (rc == 0)
		rc = write_shallow(&sg);
	lm_store_free(sg.s);
	free(sg.commits.v);
	/* not after a failure: a boundary left unwritten would only make git
	 * keep too much, but the failure's message says more */
	if (rc == 0)
		run_git_gc(g, path);
	free(path);
	return rc;
}

/* ---- the run ---------------------------------------------------------------- */

/*
 * After the ledger's commit: plans/, the store and objects/, under the
 * ledger's write lock again (a second transaction that writes nothing).
 * While it is held no plan is recorded, so no plan file is half made,
 * `git gc --prune=now` cannot drop the objects of a release being
 * written, and no new plan's objects can be extracted into objects/
 * unseen by the kept list read here. All of it is derived from the
 * ledger afresh: a gc cut short is finished by the next.
 */
static void collect(gc *g)
{
	int rc;

	if ((rc = lm_ledger_begin(g->st->ledger)) < 0) {
		warn(g, "plans/, store and objects/ not collected (%s); run gc "
		     "again", lm_error_last());
		return;
	}
	if (sweep_plans(g) < 0)
		warn(g, "plans/ not collected: %s", lm_error_last());
	if ((rc = load_releases(g)) < 0 || (rc = collect_store(g)) < 0)
		warn(g, "store not collected: %s", lm_error_last());
	if (sweep_objects(g, 1) < 0)
		warn(g, "objects/ not collected: %s", lm_error_last());
	lm_ledger_rollback(g->st->ledger);
}

int lm_gc_run(lm_gc_result *out, lm_state *st, const lm_gc_opts *o)
{
	gc g = { st, lm_ledger_db(st->ledger), o, out, NULL, 0 };
	int rc;

	assert(o->keep >= 1);
	memset(out, 0, sizeof(*out));
	/* a dry run reads one snapshot, and may run on a read-only ledger */
	rc = o->dry_run ? sql_run(&g, "begin", "BEGIN")
			: lm_ledger_begin(st->ledger);
	if (rc == 0 && !o->dry_run)
		rc = lm_planning_settle(st);
	if (rc < 0) {
		lm_ledger_rollback(st->ledger);
		return rc;
	}
	if ((rc = mark(&g)) == 0 && (rc = count(&g)) == 0)
		rc = o->dry_run ? sweep_objects(&g, 0) : prune_ledger(&g);
	if (rc == 0 && !o->dry_run)
		rc = lm_ledger_commit(st->ledger);
	lm_ledger_rollback(st->ledger);
	if (rc == 0 && !o->dry_run)
		collect(&g);
	sql_run(&g, "dropping the prune list",
		"DROP TABLE IF EXISTS temp.gc_prune");
	free(g.v);
	return rc;
}

void lm_gc_result_clear(lm_gc_result *r)
{
	size_t i;

	free(r->kept);
	free(r->pruned);
	free(r->plans);
	free(r->objects);
	for (i = 0; i < r->nwarnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	memset(r, 0, sizeof(*r));
}
