/*
 * bench_apply.c - what applying a plan costs inside the node, and what a
 * caller of the module being upgraded sees meanwhile.
 *
 *   bench_apply MODULES ROUNDS
 *
 * Builds MODULES modules (each with code_change, so every plan is an
 * `update` with suspend, code_change, load, resume) in two versions,
 * records release 1 with the real `livemod init`, starts a node in this
 * process and alternates the libdir between the versions; each round
 * lm_node_update plans, records and applies. The apply's own time is the
 * result's timings.total (planning excluded). A caller thread calls the
 * first module in a tight loop and keeps the longest call of each round:
 * the pause a caller of a suspended module sees.
 *
 * Built twice: with the default read side (memb) and with LM_AGENT_QSBR
 * (the caller a QSBR reader announcing a quiescent state after every
 * call). Each prints, beside its figures, the floors measured in the same
 * run with the caller still busy: a bare grace period of its flavour, and
 * a bare SQLite transaction as the ledger's writer makes it (WAL,
 * synchronous=NORMAL, one row inserted and one updated), the floor of the
 * point of no return's write; and a bare dlopen + dlsym of one module
 * (and its dlclose), the floor of the loader thread's staged_ahead.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <livemod/node.h>
#include <sqlite3.h>

#ifdef LM_AGENT_QSBR
#define FLAVOUR "qsbr"
#define QUIESCENT() lm_quiescent()
/* parked as at a closed door: offline, or the grace period waits for it */
#define PARK_ENTER() lm_thread_offline()
#define PARK_LEAVE() lm_thread_online()
void urcu_qsbr_synchronize_rcu(void); /* liburcu-qsbr, as the agent's */
#define BARE_GRACE_PERIOD() urcu_qsbr_synchronize_rcu()
/* a suspension waits for its in-flight calls with a grace period: the
 * floor above, not printed twice */
#define BARE_DRAIN() (urcu_qsbr_synchronize_rcu(), 0)
#define DRAIN_NAME ((const char *)NULL)
#else
#define FLAVOUR "memb"
#define QUIESCENT() ((void)0)
#define PARK_ENTER() ((void)0)
#define PARK_LEAVE() ((void)0)
#define BARE_GRACE_PERIOD() urcu_memb_synchronize_rcu()
#define BARE_DRAIN() \
	syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0)
#define DRAIN_NAME "a bare membarrier"
#endif

static atomic_long round_max_ns;  /* the longest call of the round */
static atomic_long round_wait_ns; /* the longest wait at the module's door */
static atomic_int stop;
/* the parked floor: the caller spins outside any call while park is set,
 * as a call at a closed door does, and says so in parked */
static atomic_int park, parked;
static lm_export_ref *ref;

static long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void note_max(atomic_long *max, long v)
{
	long cur = atomic_load(max);

	while (v > cur && !atomic_compare_exchange_weak(max, &cur, v))
		;
}

/* Calls entered(), which answers the time it was entered: the wait at
 * the door (entry minus start) is what a suspension holds a call for;
 * the call's whole length adds whatever else the machine did to the
 * caller meanwhile (preemption, IPIs). */
static void *caller(void *arg)
{
	long t0, entered;

	(void)arg;
	lm_thread_register();
	while (!atomic_load(&stop)) {
		if (atomic_load(&park)) {
			PARK_ENTER();
			atomic_store(&parked, 1);
			while (atomic_load(&park))
				caa_cpu_relax();
			atomic_store(&parked, 0);
			PARK_LEAVE();
		}
		t0 = now_ns();
		LM_CALL(ref, long (*)(void), entered);
		if (entered < t0)
			abort();
		note_max(&round_max_ns, now_ns() - t0);
		note_max(&round_wait_ns, entered - t0);
		QUIESCENT();
	}
	lm_thread_unregister();
	return NULL;
}

enum floor { GRACE_PERIOD, DRAIN };

/* How long the applier works before its suspension (the apply's steps
 * up to it, p50): a membarrier sent after that much other work costs
 * ~1.5x one sent right after another on this VM, so a floor timed back
 * to back would be one the suspension never meets. */
#define WORK_BEFORE_NS 100000L

/* One bare `what`, timed with the caller parked outside any call, after
 * the applier's own work as in an apply. */
static double parked_us(enum floor what)
{
	long t0;

	atomic_store(&park, 1);
	while (!atomic_load(&parked))
		caa_cpu_relax();
	for (t0 = now_ns() + WORK_BEFORE_NS; now_ns() < t0;)
		;
	t0 = now_ns();
	if (what == GRACE_PERIOD)
		BARE_GRACE_PERIOD();
	else if (BARE_DRAIN() != 0)
		abort();
	t0 = now_ns() - t0;
	atomic_store(&park, 0);
	while (atomic_load(&parked))
		caa_cpu_relax();
	return (double)t0 / 1000.0;
}

static void sh(const char *fmt, const char *a, const char *b, const char *c)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), fmt, a, b, c);
	if (system(cmd) != 0) {
		fprintf(stderr, "bench_apply: failed: %s\n", cmd);
		exit(1);
	}
}

/* Copies `from` to `to` in this process: a system("cp") would fork it,
 * and the fork's copy-on-write faults and TLB flushes would stall the
 * caller thread in the middle of the measurement. */
static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	FILE *in, *out;
	size_t n;

	if (!(in = fopen(from, "rb")) || !(out = fopen(to, "wb"))) {
		fprintf(stderr, "bench_apply: cannot copy %s\n", from);
		exit(1);
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			exit(1);
	if (fclose(out) != 0)
		exit(1);
	fclose(in);
}

/* Installs version `v` of the `nmod` modules into dir/lib as install(1)
 * does (a new file renamed into place). */
static void install(const char *dir, int v, int nmod)
{
	char from[4096], tmp[4096], to[4096];
	int k;

	for (k = 0; k < nmod; k++) {
		snprintf(from, sizeof(from), "%s/v%d/mod_%03d.so", dir, v, k);
		snprintf(tmp, sizeof(tmp), "%s/lib/.mod_%03d.so", dir, k);
		snprintf(to, sizeof(to), "%s/lib/mod_%03d.so", dir, k);
		copy_file(from, tmp);
		if (rename(tmp, to) != 0)
			exit(1);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);

	return v[i < n ? i : n - 1];
}

/* Where an apply's time goes: every step's microseconds, per round. */
#define MAX_STEPS 24
static char *step_name[MAX_STEPS];
static double *step_us[MAX_STEPS];
static int nsteps;

static void note_step(const char *name, double us, int round, int rounds)
{
	int k;

	for (k = 0; k < nsteps && strcmp(step_name[k], name) != 0; k++)
		;
	if (k == nsteps) {
		if (nsteps == MAX_STEPS)
			return;
		step_name[nsteps] = strdup(name);
		step_us[nsteps++] = calloc((size_t)rounds, sizeof(double));
	}
	step_us[k][round] = us;
}

/* The apply's own time (timings.total); notes every step. */
static double apply_us(const lm_apply_result *res, int round, int rounds)
{
	cJSON *o = cJSON_Parse(res->json), *t, *total, *step;
	double us = -1;

	t = cJSON_GetObjectItem(o, "timings");
	total = cJSON_GetObjectItem(t, "total");
	if (cJSON_IsNumber(total))
		us = total->valuedouble;
	cJSON_ArrayForEach(step, t) /* staged_ahead_taken is a count */
		if (cJSON_IsNumber(step) &&
		    strcmp(step->string, "staged_ahead_taken") != 0)
			note_step(step->string, step->valuedouble, round,
				  rounds);
	cJSON_Delete(o);
	return us;
}

/* The point of no return's floor: `rounds` transactions of one INSERT
 * and one UPDATE, each timed from BEGIN IMMEDIATE to COMMIT (in `us`), on
 * a fresh database set up as the ledger's writer sets its own; each
 * followed by a bare grace period (in `grace_us`), the apply's order: the
 * point of no return's commit, then the suspension's grace period. */
static int commit_floor(const char *dir, double *us, double *grace_us,
			int rounds)
{
	char path[4096];
	sqlite3 *db;
	int i, rc;

	snprintf(path, sizeof(path), "%s/floor.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL; "
			 "PRAGMA synchronous = NORMAL; "
			 "CREATE TABLE runs (id INTEGER PRIMARY KEY, plan INT, "
			 "phase TEXT); CREATE TABLE node (id INTEGER PRIMARY "
			 "KEY, release INT); INSERT INTO node VALUES (1, 1);",
			 NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_apply: %s: %s\n", path,
			sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	for (i = 0, rc = SQLITE_OK; i < rounds && rc == SQLITE_OK; i++) {
		long t0 = now_ns();

		rc = sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO runs "
				  "(plan, phase) VALUES (1, 'point_of_no_return'); "
				  "UPDATE node SET release = release + 1; COMMIT;",
				  NULL, NULL, NULL);
		us[i] = (double)(now_ns() - t0) / 1000.0;
		t0 = now_ns();
		BARE_GRACE_PERIOD();
		grace_us[i] = (double)(now_ns() - t0) / 1000.0;
	}
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* The loader thread's floor: `rounds` bare dlopen + dlsym of the
 * module's descriptor (in `us`), then its dlclose (in `close_us`), of
 * v1's first module. Each round opens a fresh copy under a name of its
 * own, made outside the timing: the same path, or the same file under
 * another name, would give back the mapping already loaded, and the
 * floor would be a reference count. */
static int dlopen_floor(const char *dir, double *us, double *close_us,
			int rounds)
{
	char from[4096], path[4096];
	int i;

	snprintf(from, sizeof(from), "%s/v1/mod_000.so", dir);
	for (i = 0; i < rounds; i++) {
		void *dl, *desc = NULL;
		long t0;

		snprintf(path, sizeof(path), "%s/floor_%d.so", dir, i);
		copy_file(from, path);
		t0 = now_ns();
		if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
			desc = dlsym(dl, "lm_module_descriptor");
		us[i] = (double)(now_ns() - t0) / 1000.0;
		if (!desc) {
			fprintf(stderr, "bench_apply: %s: %s\n", path,
				dlerror());
			if (dl)
				dlclose(dl);
			return -1;
		}
		t0 = now_ns();
		dlclose(dl);
		close_us[i] = (double)(now_ns() - t0) / 1000.0;
		unlink(path);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int nmod = argc > 1 ? atoi(argv[1]) : 1;
	int rounds = argc > 2 ? atoi(argv[2]) : 100, i, k;
	const char *top = getenv("LM_TOP") ? getenv("LM_TOP") : ".";
	char dir[] = "/tmp/lmbench.XXXXXX", buf[4096], name[32];
	double *apply = calloc((size_t)rounds, sizeof(double));
	double *pause = calloc((size_t)rounds, sizeof(double));
	double *grace = calloc((size_t)rounds, sizeof(double));
	double *control = calloc((size_t)rounds, sizeof(double));
	double *wait = calloc((size_t)rounds, sizeof(double));
	double *held = calloc((size_t)rounds, sizeof(double));
	double *grace_parked = calloc((size_t)rounds, sizeof(double));
	double *drain_parked = calloc((size_t)rounds, sizeof(double));
	double *grace_commit = calloc((size_t)rounds, sizeof(double));
	double *dl_open = calloc((size_t)rounds, sizeof(double));
	double *dl_close = calloc((size_t)rounds, sizeof(double));
	double staged = -1; /* staged_ahead's p50, when the steps have it */
	uint64_t hold_ns;
	double *control_wait = calloc((size_t)rounds, sizeof(double));
	double *commit = calloc((size_t)rounds, sizeof(double));
	lm_node_options o = { 0 };
	lm_apply_result *res;
	pthread_t th;
	lm_node *node;

	if (!mkdtemp(dir) || !apply || !pause || !grace || !control || !wait ||
	    !control_wait || !commit || !held || !grace_parked ||
	    !drain_parked || !grace_commit || !dl_open || !dl_close)
		return 1;
	sh("mkdir -p %s/lib %s/v1 %s/v2", dir, dir, dir);
	for (k = 0; k < nmod; k++) {
		snprintf(name, sizeof(name), "mod_%03d", k);
		for (i = 1; i <= 2; i++) {
			snprintf(buf, sizeof(buf),
				 "cc -std=c11 -O2 -shared -fPIC -fno-gnu-unique "
				 "-I%s/include -DMOD_CODE_CHANGE -DMOD_ENTRY_CLOCK -DMOD_NAME=%s "
				 "-DMOD_VSN='\"%d.0.0\"' -DMOD_ANSWER=%d -o "
				 "%s/v%d/%s.so %s/tests/modules/generic.c",
				 top, name, i, i, dir, i, name, top);
			sh("%s%s%s", buf, "", "");
		}
	}
	sh("cp %s/v1/*.so %s/lib/%s", dir, dir, "");
	snprintf(buf, sizeof(buf), "%s/build/livemod --state %s/st init "
		 "--libdir %s/lib --app bench > /dev/null", top, dir, dir);
	sh("%s%s%s", buf, "", "");
	snprintf(buf, sizeof(buf), "%s/st", dir);
	o.state_dir = buf;
	if (lm_node_start(&node, &o) < 0 ||
	    lm_export_ref_lookup(&ref, lm_node_runtime(node), "mod_000",
				 "entered", LM_SIG(long (void))) < 0) {
		fprintf(stderr, "bench_apply: %s\n", lm_error_last());
		return 1;
	}
	pthread_create(&th, NULL, caller, NULL);
	for (i = 0; i < rounds; i++) {
		install(dir, 2 - i % 2, nmod);
		atomic_store(&round_max_ns, 0);
		atomic_store(&round_wait_ns, 0);
		if (lm_node_update(node, NULL, 0, 0, &res) < 0 || !res) {
			fprintf(stderr, "bench_apply: %s\n", lm_error_last());
			return 1;
		}
		apply[i] = apply_us(res, i, rounds) / 1000.0;
		if (getenv("LM_BENCH_VERBOSE") && i == rounds - 1)
			fprintf(stderr, "%s\n", res->json);
		pause[i] = (double)atomic_load(&round_max_ns) / 1000.0;
		wait[i] = (double)atomic_load(&round_wait_ns) / 1000.0;
		lm_apply_result_free(res);
		if (lm_runtime_module_hold(&hold_ns, lm_node_runtime(node),
					   "mod_000") < 0)
			return 1;
		held[i] = (double)hold_ns / 1000.0;
	}
	/* the control: the same rounds with nothing to update (the same
	 * version installed again, the libdir scanned and planned, nothing
	 * applied), the caller still busy: the
	 * longest call the machine itself gives it (a 2-CPU VM preempts the
	 * caller whenever a third thread is runnable) */
	for (i = 0; i < rounds; i++) {
		install(dir, 2 - (rounds - 1) % 2, nmod); /* the same again */
		atomic_store(&round_max_ns, 0);
		atomic_store(&round_wait_ns, 0);
		if (lm_node_update(node, NULL, 0, 0, &res) < 0 || !res) {
			fprintf(stderr, "bench_apply: %s\n", lm_error_last());
			return 1;
		}
		lm_apply_result_free(res);
		control[i] = (double)atomic_load(&round_max_ns) / 1000.0;
		control_wait[i] = (double)atomic_load(&round_wait_ns) / 1000.0;
	}
	/* the floor, the caller still busy */
	for (i = 0; i < rounds; i++) {
		long t0 = now_ns();

		BARE_GRACE_PERIOD();
		grace[i] = (double)(now_ns() - t0) / 1000.0;
	}
	/* and with the caller parked outside any call, spinning, as at a
	 * closed door, each after the applier's own work as in an apply:
	 * the grace period, and the fence a suspension's drain sends, that
	 * a suspension can wait no less than */
	for (i = 0; i < rounds; i++) {
		grace_parked[i] = parked_us(GRACE_PERIOD);
		drain_parked[i] = parked_us(DRAIN);
	}
	if (commit_floor(dir, commit, grace_commit, rounds) < 0 ||
	    dlopen_floor(dir, dl_open, dl_close, rounds) < 0)
		return 1;
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	lm_export_ref_free(ref);
	lm_node_stop(node);
	qsort(apply, (size_t)rounds, sizeof(double), cmp_double);
	qsort(pause, (size_t)rounds, sizeof(double), cmp_double);
	qsort(grace, (size_t)rounds, sizeof(double), cmp_double);
	qsort(control, (size_t)rounds, sizeof(double), cmp_double);
	qsort(wait, (size_t)rounds, sizeof(double), cmp_double);
	qsort(held, (size_t)rounds, sizeof(double), cmp_double);
	qsort(grace_parked, (size_t)rounds, sizeof(double), cmp_double);
	qsort(drain_parked, (size_t)rounds, sizeof(double), cmp_double);
	qsort(control_wait, (size_t)rounds, sizeof(double), cmp_double);
	qsort(commit, (size_t)rounds, sizeof(double), cmp_double);
	qsort(grace_commit, (size_t)rounds, sizeof(double), cmp_double);
	qsort(dl_open, (size_t)rounds, sizeof(double), cmp_double);
	qsort(dl_close, (size_t)rounds, sizeof(double), cmp_double);
	printf("[%s] apply of %d module%s in-process, %d rounds: p50 %.3f ms, "
	       "p99 %.3f ms\n", FLAVOUR, nmod, nmod > 1 ? "s" : "", rounds,
	       pct(apply, rounds, 0.5), pct(apply, rounds, 0.99));
	printf("[%s] pause: the longest a call was held at the closed door "
	       "per apply (lm_runtime_module_hold): p50 %.1f us, p99 %.1f us, "
	       "max %.1f us\n", FLAVOUR, pct(held, rounds, 0.5),
	       pct(held, rounds, 0.99), held[rounds - 1]);
	printf("[%s] a call's wait from its start to entering the module "
	       "(preemption included), longest per apply: p50 %.1f us, p99 "
	       "%.1f us, max %.1f us; control (nothing to update) p50 %.1f us, "
	       "p99 %.1f us\n", FLAVOUR,
	       pct(wait, rounds, 0.5), pct(wait, rounds, 0.99),
	       wait[rounds - 1], pct(control_wait, rounds, 0.5),
	       pct(control_wait, rounds, 0.99));
	printf("[%s] longest call into the upgraded module per apply: p50 "
	       "%.1f us, p99 %.1f us, max %.1f us\n", FLAVOUR,
	       pct(pause, rounds, 0.5), pct(pause, rounds, 0.99),
	       pause[rounds - 1]);
	printf("[%s] control, the same rounds with nothing to update: longest "
	       "call p50 %.1f us, p99 %.1f us\n", FLAVOUR,
	       pct(control, rounds, 0.5), pct(control, rounds, 0.99));
	printf("[%s] steps, p50 us:", FLAVOUR);
	for (k = 0; k < nsteps; k++) {
		qsort(step_us[k], (size_t)rounds, sizeof(double), cmp_double);
		printf(" %s %.0f", step_name[k], pct(step_us[k], rounds, 0.5));
		if (strcmp(step_name[k], "staged_ahead") == 0)
			staged = pct(step_us[k], rounds, 0.5);
		free(step_name[k]);
		free(step_us[k]);
	}
	printf("\n");
	printf("[%s] floor: a bare grace period, caller busy: p50 %.1f us, "
	       "p99 %.1f us; held/floor p50 %.2f\n", FLAVOUR,
	       pct(grace, rounds, 0.5), pct(grace, rounds, 0.99),
	       pct(held, rounds, 0.5) / pct(grace, rounds, 0.5));
	printf("[%s] floor: a bare grace period, caller parked outside any "
	       "call (as at a closed door), after 100 us of other work (as "
	       "in an apply): p50 %.1f us, p99 %.1f us; "
	       "held/floor p50 %.2f\n", FLAVOUR,
	       pct(grace_parked, rounds, 0.5), pct(grace_parked, rounds, 0.99),
	       pct(held, rounds, 0.5) / pct(grace_parked, rounds, 0.5));
	if (DRAIN_NAME)
		printf("[%s] floor: %s, caller parked, after 100 us of "
		       "other work (a suspension's drain sends no less): p50 "
		       "%.1f us, p99 %.1f us; held/floor p50 %.2f\n", FLAVOUR,
		       DRAIN_NAME, pct(drain_parked, rounds, 0.5),
		       pct(drain_parked, rounds, 0.99),
		       pct(held, rounds, 0.5) /
			       pct(drain_parked, rounds, 0.5));
	printf("[%s] floor: a bare SQLite commit (WAL, synchronous=NORMAL, "
	       "one INSERT, one UPDATE), caller busy: p50 %.1f us, p99 %.1f "
	       "us\n", FLAVOUR, pct(commit, rounds, 0.5),
	       pct(commit, rounds, 0.99));
	printf("[%s] floor: a bare grace period right after that commit, "
	       "caller busy: p50 %.1f us, p99 %.1f us; held/floor p50 %.2f\n",
	       FLAVOUR, pct(grace_commit, rounds, 0.5),
	       pct(grace_commit, rounds, 0.99),
	       pct(held, rounds, 0.5) / pct(grace_commit, rounds, 0.5));
	printf("[%s] floor: a bare dlopen + dlsym of the module, caller busy: "
	       "p50 %.1f us, p99 %.1f us; ", FLAVOUR, pct(dl_open, rounds, 0.5),
	       pct(dl_open, rounds, 0.99));
	if (staged >= 0)
		printf("staged_ahead/floor p50 %.2f\n",
		       staged / pct(dl_open, rounds, 0.5));
	else /* no round staged ahead: nothing to compare */
		printf("staged_ahead not among the steps\n");
	printf("[%s] floor: a bare dlclose of it, caller busy: p50 %.1f us, "
	       "p99 %.1f us\n", FLAVOUR, pct(dl_close, rounds, 0.5),
	       pct(dl_close, rounds, 0.99));
	sh("rm -rf %s%s%s", dir, "", "");
	free(apply);
	free(pause);
	free(grace);
	free(control);
	free(wait);
	free(held);
	free(grace_parked);
	free(drain_parked);
	free(control_wait);
	free(commit);
	free(grace_commit);
	free(dl_open);
	free(dl_close);
	return 0;
}
