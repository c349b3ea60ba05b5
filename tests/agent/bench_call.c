/*
 * bench_call.c - what a call through the agent costs over a plain
 * indirect call to the same function: LM_CALL (RCU read-side section,
 * one table load) and LM_PIN_CALL. Prints ns per call; the agent's goal
 * is at most 2 ns over the plain call. Not a pass/fail test unless
 * LM_BENCH_MAX_NS is set in the environment.
 *
 * Usage: bench_call [ITERATIONS]. Built twice: the default read side
 * (memb) and LM_AGENT_QSBR (bench_call_qsbr).
 */
#include <dlfcn.h>
#include <time.h>

#include "agenttest.h"

#ifdef LM_AGENT_QSBR
#define FLAVOUR "qsbr"
#else
#define FLAVOUR "memb"
#endif

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The export's address, found the way the agent does, for the baseline. */
static at_answer_fn plain_fn(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	const struct lm_module_desc *d;
	const struct lm_export_desc *e;

	if (!h || !(d = dlsym(h, "lm_module_descriptor")))
		abort();
	for (e = d->exports_begin; e < d->exports_end; e++)
		if (strcmp(e->name, "answer") == 0) {
			dlclose(h);
			return (at_answer_fn)e->fn;
		}
	abort();
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 50000000, i, sum = 0, a;
	char *dir = tu_tmpdir(), *path;
	at_answer_fn volatile fnp;
	double t0, plain, call, pin_call, best_plain = 1e30, best_call = 1e30,
		best_pin = 1e30;
	const char *max = getenv("LM_BENCH_MAX_NS");
	lm_export_ref *ref;
	lm_runtime *rt;
	lm_pin *pin;
	int round;

	path = at_build(dir, "mod_a-1.so", "-O2 -DVSN_ID=1 -DVSN='\"1.0.0\"'");
	lm_thread_register();
	AT_CHECK(lm_runtime_new(&rt));
	AT_CHECK(lm_runtime_load(rt, path, NULL));
	AT_CHECK(lm_export_ref_lookup(&ref, rt, "mod_a", "answer",
				      AT_ANSWER_SIG));
	AT_CHECK(lm_pin_acquire(&pin, rt, "mod_a", NULL));
	fnp = plain_fn(path);

	/* Best of 5 rounds: the machine is shared. */
	for (round = 0; round < 5; round++) {
		at_answer_fn f = fnp;

		t0 = now();
		for (i = 0; i < iters; i++) {
			sum += f();
			__asm__ volatile("" : : : "memory");
			f = fnp;
		}
		plain = (now() - t0) / (double)iters;
		t0 = now();
		for (i = 0; i < iters; i++) {
			LM_CALL(ref, at_answer_fn, a);
			sum += a;
		}
		call = (now() - t0) / (double)iters;
		t0 = now();
		for (i = 0; i < iters; i++) {
			LM_PIN_CALL(pin, ref, at_answer_fn, a);
			sum += a;
		}
		pin_call = (now() - t0) / (double)iters;
		best_plain = plain < best_plain ? plain : best_plain;
		best_call = call < best_call ? call : best_call;
		best_pin = pin_call < best_pin ? pin_call : best_pin;
	}
	printf("bench_call [%s]: plain indirect %.2f ns, LM_CALL %.2f ns "
	       "(+%.2f), LM_PIN_CALL %.2f ns (+%.2f) [checksum %ld]\n",
	       FLAVOUR, best_plain,
	       best_call, best_call - best_plain, best_pin,
	       best_pin - best_plain, sum & 1);
	lm_pin_release(pin);
	lm_export_ref_free(ref);
	lm_runtime_free(rt);
	lm_thread_unregister();
	tu_rm_rf(dir);
	free(dir);
	free(path);
	if (max && best_call - best_plain > atof(max)) {
		fprintf(stderr, "bench_call: overhead above %s ns\n", max);
		return 1;
	}
	return 0;
}
