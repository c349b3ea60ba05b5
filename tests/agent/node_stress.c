/*
 * node_stress.c - the node under load, in process: 8 threads call mod_a's
 * export in a tight loop and 2 threads hold pins and refresh them, while
 * the main thread updates the node N times (default 1000) through
 * lm_node_update, installing v1 and v2 of mod_a in the libdir in turn —
 * the whole path: scan with the stat cache, plan, store, ledger, extract
 * to objects/<oid>.so, stage, check, publish, brutal post-purge (the pin
 * holders are asked to let go), while another thread asks the node's
 * control API for GET /update-modules over agent.sock (planned on the
 * node's read-only ledger connection, beside the updates' writes, and by
 * the precompute thread too). Every other way down to v1 is a
 * lm_node_rollback instead (planned from the ledger and the store, the
 * libdir still holding v2), and the update after it goes back up to the
 * very release it rolled back from.
 *
 * Checked:
 *   - every short call is answered by a fully loaded version: 1 or 2,
 *     never anything else; a call that began after update g returned and
 *     before update g+1 began answers g's version (answers move to the new
 *     version after each apply);
 *   - a pinned call answers its pin's version (lm_pin_vsn) until the pin
 *     moves;
 *   - every update makes a plan (a copy renamed into the libdir has a new
 *     inode and mtime: the stat cache must not vouch for it), checks and
 *     evals {ok,[]} and moves the node to the plan's release;
 *   - every GET /update-modules is answered 200 with an answer;
 *   - after the rounds, no object of objects/ is mapped but the current
 *     version's, and none after lm_node_stop; the ledger holds N 'ok' runs.
 *
 * Usage: node_stress [ROUNDS]. Run from the repository root; needs the
 * livemod command (LM_LIVEMOD, or $LIVEMOD) to init the state dir. Built
 * plain, with ASan+UBSan and with TSan by the Makefile. The node logs each
 * apply on stderr (tests/agent/run.sh keeps that in a log).
 */
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <time.h>

#include <livemod/node.h>

#include "agenttest.h"
#include "httpclient.h"

#ifndef LM_LIVEMOD
#define LM_LIVEMOD LM_SRCDIR "/build/livemod"
#endif

#ifndef CALLERS
#define CALLERS 8
#endif
#ifndef PINNERS
#define PINNERS 2
#endif

typedef int (*answer_fn)(void);

struct task {
	atomic_int killed; /* set by the brutal-purge callback */
};

static lm_node *node;
static lm_runtime *rt;
static lm_export_ref *ref;
/* Update g (1-based) installs v2 when g is odd, v1 when even; g = 0 is the
 * boot release (v1). `updating` is stored before update g begins,
 * `published` after it returned. */
static atomic_long updating, published;
static atomic_int stop;
static atomic_long ncalls, npin_calls, nkills, nrefresh, nmoved_calls,
	nasked;
static struct task tasks[PINNERS];

#define DIE(...)                                                            \
	do {                                                                \
		fprintf(stderr, "node_stress: " __VA_ARGS__);               \
		fputc('\n', stderr);                                        \
		abort();                                                    \
	} while (0)

static int vsn_of(long g)
{
	return g % 2 ? 2 : 1;
}

static void *caller(void *arg)
{
	long n = 0, moved = 0;
	int a;

	(void)arg;
	lm_thread_register();
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		long g0 = atomic_load(&published), u1;

		LM_CALL(ref, answer_fn, a);
		u1 = atomic_load(&updating);
		if (a != 1 && a != 2)
			DIE("a call answered %d (update %ld done)", a, g0);
		if (u1 == g0 && a != vsn_of(g0))
			DIE("a call begun after update %ld returned, before "
			    "the next began, answered %d, want %d", g0, a,
			    vsn_of(g0));
		moved += u1 != g0;
		/* two cores for ten spinning threads and the updater: let
		 * the updater run now and then, or a round takes 80 ms */
		if (++n % 256 == 0)
			sched_yield();
	}
	lm_thread_unregister();
	atomic_fetch_add(&ncalls, n);
	atomic_fetch_add(&nmoved_calls, moved);
	return NULL;
}

/* Asks the node what an update would do, as `livemod update_list` does,
 * until told to stop. */
static void *asker(void *arg)
{
	const lm_http_limits lim = { .connect_ms = 10000, .total_ms = 60000,
				     .body_max = 1 << 20 };
	lm_http_target t;
	char *sock;
	long n = 0;

	if (asprintf(&sock, "%s/agent.sock", (const char *)arg) < 0)
		abort();
	AT_CHECK(lm_http_target_unix(&t, sock));
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		lm_http_reply r;

		if (lm_http_request(&r, &t, "GET", "/update-modules", NULL, 0,
				    &lim) != 0)
			DIE("GET /update-modules: %s", lm_error_last());
		if (r.status != 200 || !strstr(r.body, "\"modules\":"))
			DIE("GET /update-modules: %d %.*s", r.status,
			    (int)r.len, r.body);
		lm_http_reply_clear(&r);
		n++;
	}
	free(sock);
	atomic_fetch_add(&nasked, n);
	return NULL;
}

static void *pinner(void *arg)
{
	struct task *t = arg;
	long n = 0;
	lm_pin *pin;
	int a;

	lm_thread_register();
	AT_CHECK(lm_pin_acquire(&pin, rt, "mod_a", t));
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		if (atomic_exchange(&t->killed, 0)) {
			/* the task ends; a new one starts on the newest code */
			lm_pin_release(pin);
			atomic_fetch_add(&nkills, 1);
			AT_CHECK(lm_pin_acquire(&pin, rt, "mod_a", t));
		}
		LM_PIN_CALL(pin, ref, answer_fn, a);
		if (a != lm_pin_vsn(pin)[0] - '0')
			DIE("a pin on %s answered %d", lm_pin_vsn(pin), a);
		if (++n % 64 == 0 && lm_pin_refresh(pin))
			atomic_fetch_add(&nrefresh, 1);
		if (n % 256 == 0)
			sched_yield();
	}
	lm_pin_release(pin);
	lm_thread_unregister();
	atomic_fetch_add(&npin_calls, n);
	return NULL;
}

static void on_brutal(void *ctx, const lm_pin_victim *v)
{
	struct task *t = v->task;

	(void)ctx;
	atomic_store(&t->killed, 1);
}

/* Copies `from` to `tmp` and renames it to `to`: a new inode and mtime,
 * as `make install` gives. */
static void install(const char *from, const char *tmp, const char *to)
{
	size_t n;
	char *buf = tu_read_file(from, &n);

	if (!buf)
		DIE("cannot read %s", from);
	tu_write_file(tmp, buf, n);
	free(buf);
	if (rename(tmp, to) != 0)
		DIE("rename %s %s: %s", tmp, to, strerror(errno));
}

static void build(const char *dir, const char *file, int v)
{
	if (tu_sh("${CC:-cc} -std=c11 -Wall -Wextra -Werror -shared -fPIC "
		  "-fno-gnu-unique -I%s/include -DMOD_NAME=mod_a "
		  "-DMOD_VSN='\"%d.0.0\"' -DMOD_ANSWER=%d -o '%s/%s' "
		  "%s/tests/modules/generic.c", LM_SRCDIR, v, v, dir, file,
		  LM_SRCDIR) != 0)
		DIE("cannot build %s/%s", dir, file);
}

/* Every mapping of a file under `objdir`, but `keep` (may be NULL), is a
 * failure. */
static void check_maps(const char *objdir, const char *keep, const char *when)
{
	char line[4096];
	size_t len = strlen(objdir);
	int bad = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		DIE("/proc/self/maps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '/');

		if (!path)
			continue;
		path[strcspn(path, "\n")] = '\0';
		if (strncmp(path, objdir, len) != 0 || path[len] != '/')
			continue;
		if (keep && strcmp(path, keep) == 0)
			continue;
		fprintf(stderr, "node_stress: %s: still mapped: %s\n", when,
			path);
		bad = 1;
	}
	fclose(f);
	if (bad)
		abort();
}

static char *current_path(void)
{
	lm_module_info *mi;
	size_t n, i;
	char *p = NULL, *real;

	AT_CHECK(lm_runtime_modules(&mi, &n, rt));
	for (i = 0; i < n; i++)
		if (strcmp(mi[i].name, "mod_a") == 0 && mi[i].current)
			p = strdup(mi[i].current->path);
	lm_module_info_free(mi, n);
	if (!p)
		DIE("mod_a has no current version");
	real = realpath(p, NULL);
	free(p);
	if (!real)
		DIE("realpath: %s", strerror(errno));
	return real;
}

static long ledger_count(const char *state, const char *where)
{
	char *path, *q;
	sqlite3 *db;
	sqlite3_stmt *st;
	long n = -1;

	if (asprintf(&path, "%s/ledger.db", state) < 0 ||
	    asprintf(&q, "SELECT count(*) FROM apply_runs WHERE %s", where) < 0)
		abort();
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		DIE("%s: %s", path, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(path);
	free(q);
	return n;
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 1000, g;
	const char *livemod = getenv("LIVEMOD") ? getenv("LIVEMOD") : LM_LIVEMOD;
	char *dir = tu_tmpdir(), *real, *lib, *state, *objdir, *v[3], *tmp,
	     *target, *cur;
	lm_node_options o = { 0 };
	pthread_t th[CALLERS + PINNERS], ask;
	struct timespec t0, t1;
	double apply_ms = 0;
	long rollbacks = 0;
	int64_t undone = 0; /* the release the last rollback left */
	int k, a;

	/* the scratch dir as /proc/self/maps spells it */
	if (!(real = realpath(dir, NULL)))
		DIE("realpath %s: %s", dir, strerror(errno));
	if (asprintf(&lib, "%s/lib", real) < 0 ||
	    asprintf(&state, "%s/state", real) < 0 ||
	    asprintf(&objdir, "%s/state/objects", real) < 0 ||
	    asprintf(&v[1], "%s/v1.so", real) < 0 ||
	    asprintf(&v[2], "%s/v2.so", real) < 0 ||
	    asprintf(&tmp, "%s/tmp.so", real) < 0 ||
	    asprintf(&target, "%s/lib/mod_a.so", real) < 0)
		abort();
	if (mkdir(lib, 0755) != 0)
		DIE("mkdir %s: %s", lib, strerror(errno));
	build(real, "v1.so", 1);
	build(real, "v2.so", 2);
	install(v[1], tmp, target);
	if (tu_sh("'%s' --state '%s' init --libdir '%s' --app stress "
		  ">/dev/null", livemod, state, lib) != 0)
		DIE("%s init failed", livemod);

	lm_thread_register();
	o.state_dir = state;
	o.on_brutal_purge = on_brutal;
	o.control_socket = 1;
	AT_CHECK(lm_node_start(&node, &o));
	rt = lm_node_runtime(node);
	AT_CHECK(lm_export_ref_lookup(&ref, rt, "mod_a", "answer",
				      LM_SIG(int (void))));
	LM_CALL(ref, answer_fn, a);
	if (a != 1)
		DIE("boot: answer %d, want 1", a);
	for (k = 0; k < CALLERS; k++)
		pthread_create(&th[k], NULL, caller, NULL);
	for (k = 0; k < PINNERS; k++)
		pthread_create(&th[CALLERS + k], NULL, pinner, &tasks[k]);
	pthread_create(&ask, NULL, asker, state);

	for (g = 1; g <= rounds; g++) {
		lm_apply_result *res = NULL;
		struct timespec a0, a1;
		int rc;

		/* every other way down is a rollback */
		int back = vsn_of(g) == 1 && g % 4 == 0;

		if (!back)
			install(v[vsn_of(g)], tmp, target);
		atomic_store(&updating, g);
		clock_gettime(CLOCK_MONOTONIC, &a0);
		rc = back ? lm_node_rollback(node, 0, 0, &res)
			  : lm_node_update(node, NULL, 0, 0, &res);
		rollbacks += back;
		clock_gettime(CLOCK_MONOTONIC, &a1);
		apply_ms += (double)(a1.tv_sec - a0.tv_sec) * 1e3 +
			    (double)(a1.tv_nsec - a0.tv_nsec) / 1e6;
		if (rc != 0)
			DIE("update %ld (to v%d): %d: %s", g, vsn_of(g), rc,
			    lm_error_last());
		if (!res || res->plan_id <= 0)
			DIE("update %ld: nothing to update after v%d was "
			    "installed (the stat cache vouched for a new file?)",
			    g, vsn_of(g));
		if (res->status != 0 || !res->check || !res->eval ||
		    strcmp(res->check, "{ok,[]}") != 0 ||
		    strcmp(res->eval, "{ok,[]}") != 0)
			DIE("update %ld: status %d, check %s, eval %s", g,
			    res->status, res->check ? res->check : "NULL",
			    res->eval ? res->eval : "NULL");
		if (lm_node_release(node) != res->to_release)
			DIE("update %ld: node on release %lld, plan went to %lld",
			    g, (long long)lm_node_release(node),
			    (long long)res->to_release);
		/* one tree from one parent is one release */
		if (!back && undone && res->to_release != undone)
			DIE("update %ld after a rollback from release %lld made "
			    "release %lld", g, (long long)undone,
			    (long long)res->to_release);
		undone = back ? res->from_release : 0;
		lm_apply_result_free(res);
		atomic_store(&published, g);
		LM_CALL(ref, answer_fn, a);
		if (a != vsn_of(g))
			DIE("update %ld: a new call answered %d, want %d", g, a,
			    vsn_of(g));
		/* a moment between updates, for the callers' strict check */
		usleep(300);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	atomic_store(&stop, 1);
	for (k = 0; k < CALLERS + PINNERS; k++)
		pthread_join(th[k], NULL);
	pthread_join(ask, NULL);
	/* a brutal purge that timed out leaves its version retiring until
	 * the pins dropped: they all have now */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (at_nold(rt, "mod_a") > 0) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > 10)
			DIE("old versions of mod_a never purged");
		usleep(1000);
	}
	cur = current_path();
	check_maps(objdir, cur, "after the rounds");
	lm_export_ref_free(ref);
	lm_node_stop(node);
	check_maps(objdir, NULL, "after lm_node_stop");
	lm_thread_unregister();
	if (ledger_count(state, "status = 'ok'") != rounds ||
	    ledger_count(state, "1") != rounds)
		DIE("ledger: %ld ok runs of %ld, want %ld",
		    ledger_count(state, "status = 'ok'"),
		    ledger_count(state, "1"), rounds);
	/* What the run rests on, counted: calls ran, crossed updates, and
	 * brutal purges ended pinning tasks (a starved run proves nothing) */
	if (atomic_load(&ncalls) == 0 || atomic_load(&npin_calls) == 0 ||
	    atomic_load(&nmoved_calls) == 0 || atomic_load(&nasked) == 0 ||
	    (rounds >= 10 && atomic_load(&nkills) == 0))
		DIE("too little happened: %ld short calls, %ld across an "
		    "update, %ld pinned calls, %ld brutal kills, %ld "
		    "GET /update-modules",
		    atomic_load(&ncalls), atomic_load(&nmoved_calls),
		    atomic_load(&npin_calls), atomic_load(&nkills),
		    atomic_load(&nasked));
	printf("node_stress: %ld updates (%ld of them rollbacks), %.1f ms "
	       "each; %ld short calls (%ld across an update), %ld pinned "
	       "calls, %ld refreshes, %ld brutal kills, %ld GET "
	       "/update-modules\n",
	       rounds, rollbacks, rounds ? apply_ms / (double)rounds : 0.0,
	       atomic_load(&ncalls), atomic_load(&nmoved_calls),
	       atomic_load(&npin_calls), atomic_load(&nrefresh),
	       atomic_load(&nkills), atomic_load(&nasked));
	tu_rm_rf(dir);
	free(cur);
	free(dir);
	free(real);
	free(lib);
	free(state);
	free(objdir);
	free(v[1]);
	free(v[2]);
	free(tmp);
	free(target);
	return 0;
}
