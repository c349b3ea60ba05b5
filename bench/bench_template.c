/*
 * bench_template.c - the module every benchmark module is patched from
 * (bench/gen_modules.c): small, one export, a placeholder name.
 */
#include <livemod/module.h>

LM_MODULE(mod_bench_template, "0.0.1-bench");
LM_EXPORT(mod_bench_template, answer, int (void));
static int answer(void)
{
	return 42;
}
