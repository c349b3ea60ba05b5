/*
 * swap_leak.c - 1,000 swaps of mod_a between v1 and v2 (up, then down),
 * each followed by a purge, with a pin taken and refreshed along the way:
 * after every purge the purged object is absent from /proc/self/maps,
 * and RSS after 1,000 swaps is within a small slack of RSS after 100 (no
 * leaked mapping, state, version or descriptor).
 *
 * Usage: swap_leak [SWAPS]. Run from the repository root.
 */
#include "agenttest.h"

#define SLACK_KIB 512

int main(int argc, char **argv)
{
	long swaps = argc > 1 ? atol(argv[1]) : 1000, i, a, rss100 = 0, rss;
	char *dir = tu_tmpdir(), *path[2];
	lm_export_ref *ref;
	lm_runtime *rt;
	lm_pin *pin;

	path[0] = at_build(dir, "mod_a-1.so", "-DVSN_ID=1 -DVSN='\"1.0.0\"'");
	path[1] = at_build(dir, "mod_a-2.so", "-DVSN_ID=2 -DVSN='\"2.0.0\"'");
	lm_thread_register();
	AT_CHECK(lm_runtime_new(&rt));
	AT_CHECK(lm_runtime_load(rt, path[0], NULL));
	AT_CHECK(lm_export_ref_lookup(&ref, rt, "mod_a", "answer",
				      AT_ANSWER_SIG));
	AT_CHECK(lm_pin_acquire(&pin, rt, "mod_a", NULL));
	for (i = 1; i <= swaps; i++) {
		AT_CHECK(at_swap(rt, "mod_a", path[i % 2],
				 i % 2 ? LM_UP : LM_DOWN, i));
		LM_CALL(ref, at_answer_fn, a);
		if (a != (i % 2 + 1) * 1000000 + i) {
			fprintf(stderr, "swap_leak: swap %ld answered %ld\n", i,
				a);
			return 1;
		}
		if (lm_pin_refresh(pin) != 1) {
			fprintf(stderr, "swap_leak: the pin did not move\n");
			return 1;
		}
		AT_CHECK(lm_runtime_purge(rt, "mod_a", LM_SOFT_PURGE, 0));
		if (at_mapped(path[(i + 1) % 2])) {
			fprintf(stderr, "swap_leak: swap %ld: %s is still "
				"mapped after its purge\n", i, path[(i + 1) % 2]);
			return 1;
		}
		if (i == 100)
			rss100 = at_rss_kib();
	}
	rss = at_rss_kib();
	lm_pin_release(pin);
	lm_export_ref_free(ref);
	lm_runtime_free(rt);
	lm_thread_unregister();
	printf("swap_leak: %ld swaps; RSS %ld KiB after 100, %ld KiB after "
	       "%ld\n", swaps, rss100, rss, swaps);
	if (at_mapped(path[0]) || at_mapped(path[1])) {
		fprintf(stderr, "swap_leak: mapped after lm_runtime_free\n");
		return 1;
	}
	if (swaps >= 100 && rss > rss100 + SLACK_KIB) {
		fprintf(stderr, "swap_leak: RSS grew by %ld KiB (slack %d)\n",
			rss - rss100, SLACK_KIB);
		return 1;
	}
	tu_rm_rf(dir);
	free(dir);
	free(path[0]);
	free(path[1]);
	return 0;
}
