/*
 * stress.c - 8 threads call an export in a tight loop and 2 threads hold
 * and refresh pins while the main thread swaps mod_a v1 <-> v2 (up, then
 * down) N times (default 1000), purging the old version each time, in
 * turn brutally, softly in the background, and softly by retrying.
 *
 * Every answer names its version and its state's generation: a caller
 * checks that the code and the state match (a fully loaded version),
 * that a call started after the main thread published generation g runs
 * generation g or newer, and a pin holder that its pinned version answers
 * the same until it refreshes. At the end no purged object is mapped.
 *
 * Every third swap skips the suspension, so calls race with the publish
 * and the purge alone must keep old code mapped while it runs.
 *
 * Each version is copied to COPIES paths used in turn, so a swap need not
 * wait for the previous copy of the same bytes to be purged (the agent
 * refuses to load a path that is still mapped): most purges are soft and
 * deferred, every 16th is brutal and every 16th a soft pre-purge retried
 * until no pin remains, and several old versions await purge at once.
 *
 * Usage: stress [SWAPS]. Run from the repository root. Built plain, with
 * ASan+UBSan and with TSan by the Makefile, and again with LM_AGENT_QSBR
 * (plain and TSan): every thread a QSBR reader that announces a quiescent
 * state each loop and is offline while it sleeps.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "agenttest.h"

#ifdef LM_AGENT_QSBR
#define QUIESCENT() lm_quiescent()
#define SLEEP_US(us) (lm_thread_offline(), usleep(us), lm_thread_online())
#else
#define QUIESCENT() ((void)0)
#define SLEEP_US(us) usleep(us)
#endif

#define CALLERS 8
#define PINNERS 2
#define COPIES 8

struct task {
	atomic_int killed; /* set by the brutal-purge callback */
	int id;
};

static lm_runtime *rt;
static lm_export_ref *answer_ref;
static atomic_long published_gen;
static atomic_int stop;
static atomic_long ncalls, npin_calls, nkills, nrefresh, nbrutal, ncrossed;
static struct task tasks[PINNERS];

static long vsn_of(long gen)
{
	return gen % 2 ? 2 : 1;
}

static void check_answer(long a, long min_gen, const char *who)
{
	long vsn = a / 1000000, gen = a % 1000000;

	if (gen == 999999 || vsn != vsn_of(gen) || gen < min_gen) {
		fprintf(stderr, "stress: %s got answer %ld (version %ld, "
			"generation %ld) after generation %ld was published\n",
			who, a, vsn, gen, min_gen);
		abort();
	}
}

static void *caller(void *arg)
{
	long n = 0;

	(void)arg;
	lm_thread_register();
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		long g0 = atomic_load(&published_gen), a;

		LM_CALL(answer_ref, at_answer_fn, a);
		check_answer(a, g0, "caller");
		n++;
		if (a % 1000000 > g0) /* a swap happened during the call */
			atomic_fetch_add(&ncrossed, 1);
		QUIESCENT();
	}
	lm_thread_unregister();
	atomic_fetch_add(&ncalls, n);
	return NULL;
}

static void *pinner(void *arg)
{
	struct task *t = arg;
	long last = -1, n = 0;
	lm_pin *pin;

	lm_thread_register();
	AT_CHECK(lm_pin_acquire(&pin, rt, "mod_a", t));
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		long a;

		if (atomic_exchange(&t->killed, 0)) {
			/* The task "ends" and a new one starts. */
			lm_pin_release(pin);
			atomic_fetch_add(&nkills, 1);
			AT_CHECK(lm_pin_acquire(&pin, rt, "mod_a", t));
			last = -1;
		}
		LM_PIN_CALL(pin, answer_ref, at_answer_fn, a);
		check_answer(a, 0, "pinned task");
		if (a / 1000000 != lm_pin_vsn(pin)[0] - '0' ||
		    (last >= 0 && a != last)) {
			fprintf(stderr, "stress: pin on %s answered %ld, "
				"before %ld\n", lm_pin_vsn(pin), a, last);
			abort();
		}
		last = a;
		if (++n % 50 == 0 && lm_pin_refresh(pin)) {
			atomic_fetch_add(&nrefresh, 1);
			last = -1;
		}
		QUIESCENT();
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
	atomic_fetch_add(&nbrutal, 1);
}

static void wait_purged(void)
{
	while (at_nold(rt, "mod_a") > 0)
		SLEEP_US(50);
}

static void purge(long i)
{
	int rc;

	switch (i % 16) {
	case 0:
		AT_CHECK(lm_runtime_purge(rt, "mod_a", LM_BRUTAL_PURGE, 0));
		break;
	case 8:
		while ((rc = lm_runtime_purge(rt, "mod_a", LM_SOFT_PURGE, 0)) ==
		       LM_EBUSY)
			SLEEP_US(20);
		AT_CHECK(rc);
		break;
	default:
		AT_CHECK(lm_runtime_purge(rt, "mod_a", LM_SOFT_PURGE,
					  LM_PURGE_DEFER));
	}
}

/* Swaps to generation i; a copy still awaiting its deferred purge makes
 * the stage fail with LM_EBUSY until the reaper has unloaded it. */
static void swap_to(long i, char **paths)
{
	const char *path = paths[(i % 2) * COPIES + (i / 2) % COPIES];
	int rc;

	while ((rc = at_swap_how(rt, "mod_a", path, i % 2 ? LM_UP : LM_DOWN,
				 i, i % 3 != 0)) == LM_EBUSY)
		SLEEP_US(50);
	AT_CHECK(rc);
}

int main(int argc, char **argv)
{
	long swaps = argc > 1 ? atol(argv[1]) : 1000, i, a;
	pthread_t th[CALLERS + PINNERS];
	char *dir = tu_tmpdir(), *paths[2 * COPIES];
	struct timespec t0, t1;
	int k;

	paths[0] = at_build(dir, "mod_a-1.so", "-DVSN_ID=1 -DVSN='\"1.0.0\"'");
	paths[COPIES] = at_build(dir, "mod_a-2.so",
				 "-DVSN_ID=2 -DVSN='\"2.0.0\"'");
	for (k = 1; k < COPIES; k++) {
		if (asprintf(&paths[k], "%s/mod_a-1.%d.so", dir, k) < 0 ||
		    asprintf(&paths[COPIES + k], "%s/mod_a-2.%d.so", dir, k) < 0 ||
		    tu_sh("cp '%s' '%s' && cp '%s' '%s'", paths[0], paths[k],
			  paths[COPIES], paths[COPIES + k]) != 0)
			abort();
	}
	lm_thread_register();
	AT_CHECK(lm_runtime_new(&rt));
	lm_runtime_on_brutal_purge(rt, on_brutal, NULL);
	AT_CHECK(lm_runtime_load(rt, paths[0], NULL));
	AT_CHECK(lm_export_ref_lookup(&answer_ref, rt, "mod_a", "answer",
				      AT_ANSWER_SIG));
	for (k = 0; k < CALLERS; k++)
		pthread_create(&th[k], NULL, caller, NULL);
	for (k = 0; k < PINNERS; k++) {
		tasks[k].id = k;
		pthread_create(&th[CALLERS + k], NULL, pinner, &tasks[k]);
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 1; i <= swaps; i++) {
		swap_to(i, paths);
		atomic_store(&published_gen, i);
		LM_CALL(answer_ref, at_answer_fn, a);
		if (a != vsn_of(i) * 1000000 + i) {
			fprintf(stderr, "stress: swap %ld: new call answered "
				"%ld\n", i, a);
			abort();
		}
		purge(i);
		QUIESCENT();
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	atomic_store(&stop, 1);
	for (k = 0; k < CALLERS + PINNERS; k++)
		pthread_join(th[k], NULL);
	wait_purged();
	for (k = 0; k < 2 * COPIES; k++)
		if (at_mapped(paths[k]) != (paths[k] == paths[(swaps % 2) * COPIES +
						     (swaps / 2) % COPIES])) {
			fprintf(stderr, "stress: %s: mapped is %d\n", paths[k],
				at_mapped(paths[k]));
			abort();
		}
	lm_export_ref_free(answer_ref);
	lm_runtime_free(rt);
	for (k = 0; k < 2 * COPIES; k++)
		if (at_mapped(paths[k])) {
			fprintf(stderr, "stress: %s is mapped after "
				"lm_runtime_free\n", paths[k]);
			abort();
		}
	lm_thread_unregister();
	/* What the run rests on, counted: calls ran, some crossed a swap,
	 * and brutal purges ended pinning tasks (a starved run proves
	 * nothing) */
	if (atomic_load(&ncalls) == 0 || atomic_load(&npin_calls) == 0 ||
	    atomic_load(&ncrossed) == 0 ||
	    (swaps >= 32 && atomic_load(&nkills) == 0)) {
		fprintf(stderr, "stress: too little happened: %ld short calls "
			"(%ld across a swap), %ld pinned calls, %ld brutal "
			"kills\n", atomic_load(&ncalls), atomic_load(&ncrossed),
			atomic_load(&npin_calls), atomic_load(&nkills));
		abort();
	}
	printf("stress: %ld swaps in %.2f s; %ld short calls, %ld pinned "
	       "calls, %ld refreshes, %ld brutal kills (%ld callbacks), %ld "
	       "calls across a swap\n",
	       swaps,
	       (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       atomic_load(&ncalls), atomic_load(&npin_calls),
	       atomic_load(&nrefresh), atomic_load(&nkills),
	       atomic_load(&nbrutal), atomic_load(&ncrossed));
	tu_rm_rf(dir);
	free(dir);
	for (k = 0; k < 2 * COPIES; k++)
		free(paths[k]);
	return 0;
}
