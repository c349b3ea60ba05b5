/*
 * bench_state_move.c - the pause of an upgrade whose state is a hash
 * table, at 10 keys and at 1,000,000, moved (module ABI 2: change_commit,
 * change_abort) and, for contrast, copied (what a module without them has
 * to do): tests/agent/mod_move.c, built here four ways.
 *
 *   usage: bench_state_move [ROUNDS]    (from the source tree's root)
 *
 * The pause is what callers of the module wait through: from the suspend
 * to the resume (suspend, code_change, publish with its commit, resume),
 * measured round after round, up (1 -> 2) and down (2 -> 1) in turn; the
 * stage before and the purge after are outside it. Prints the median and
 * the 90th percentile of each, and the ratio 1,000,000 keys / 10 keys
 * (the target for a move: within 2).
 */
#include <livemod/agent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NCASES 4

static const struct {
	const char *mod;
	long keys;
	int move;
} cases[NCASES] = {
	{ "mod_m10", 10, 1 },
	{ "mod_m1m", 1000000, 1 },
	{ "mod_c10", 10, 0 },
	{ "mod_c1m", 1000000, 0 },
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static char *build(const char *dir, const char *mod, int vsn, int move)
{
	char *out, *cmd;

	if (asprintf(&out, "%s/%s-%d.so", dir, mod, vsn) < 0 ||
	    asprintf(&cmd, "${CC:-cc} -std=c11 -O2 -shared -fPIC "
		     "-fno-gnu-unique -Iinclude -DMODNAME=%s -DVSN_ID=%d %s "
		     "-o %s tests/agent/mod_move.c", mod, vsn,
		     move ? "-DMOVE" : "", out) < 0 || system(cmd) != 0) {
		fprintf(stderr, "bench_state_move: cannot build %s\n", mod);
		exit(1);
	}
	free(cmd);
	return out;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void must(int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, "bench_state_move: %s: %s\n", what,
			lm_error_last());
		exit(1);
	}
}

/* One upgrade of `mod` to `path` (mode): the pause in µs. */
static double swap(lm_runtime *rt, const char *mod, const char *path,
		   lm_change_mode mode)
{
	double t0, t1;

	must(lm_runtime_stage(rt, path, NULL, NULL), "stage");
	t0 = now_us();
	must(lm_runtime_suspend(rt, mod), "suspend");
	must(lm_runtime_code_change(rt, mod, mode, ""), "code_change");
	must(lm_runtime_publish(rt, mod), "publish");
	must(lm_runtime_resume(rt, mod), "resume");
	t1 = now_us();
	must(lm_runtime_purge(rt, mod, LM_BRUTAL_PURGE, 0), "purge");
	return t1 - t0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 40;
	char dirt[] = "/tmp/lmbench.XXXXXX", *dir = mkdtemp(dirt);
	char *v1[NCASES], *v2[NCASES], cmd[256];
	double *t = calloc((size_t)rounds, sizeof(*t)), med[NCASES];
	lm_runtime *rt;

	if (!dir || !t || rounds < 2)
		return 2;
	must(lm_runtime_new(&rt), "runtime");
	for (int c = 0; c < NCASES; c++) {
		char keys[32];

		v1[c] = build(dir, cases[c].mod, 1, 0);
		v2[c] = build(dir, cases[c].mod, 2, cases[c].move);
		snprintf(keys, sizeof(keys), "%ld", cases[c].keys);
		setenv("LMT_KEYS", keys, 1); /* read by init */
		must(lm_runtime_load(rt, v1[c], NULL), "load");
	}
	printf("state by move: the pause (suspend .. resume) of an upgrade "
	       "whose state is a hash table, %d rounds, up and down in turn\n",
	       rounds);
	for (int c = 0; c < NCASES; c++) {
		for (int r = 0; r < rounds; r++)
			t[r] = swap(rt, cases[c].mod, r % 2 ? v1[c] : v2[c],
				    r % 2 ? LM_DOWN : LM_UP);
		if (rounds % 2) /* back on version 1 */
			swap(rt, cases[c].mod, v1[c], LM_DOWN);
		qsort(t, (size_t)rounds, sizeof(*t), cmp);
		med[c] = t[rounds / 2];
		printf("  %-5s %8ld keys: pause p50 %9.1f us, p90 %9.1f us\n",
		       cases[c].move ? "move" : "copy", cases[c].keys, med[c],
		       t[rounds * 9 / 10]);
	}
	printf("  1,000,000 keys / 10 keys (p50): move %.2fx, copy %.0fx\n",
	       med[1] / med[0], med[3] / med[2]);
	lm_runtime_free(rt);
	for (int c = 0; c < NCASES; c++) {
		free(v1[c]);
		free(v2[c]);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	free(t);
	return 0;
}
