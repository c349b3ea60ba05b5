/* mod_new.c - mod_decl written against the declarations (LM_PROVIDE). */
#include "decl_api.h"

LM_MODULE(mod_decl, "2.0.0");

LM_PROVIDE(DECL_COUNT);
static int count(lm_task *t, int argc, argv_t argv, SIZES_T lens)
{
	int n = 0;

	(void)t, (void)argv;
	for (int i = 0; i < argc; i++)
		n += (int)lens[i];
	return n;
}

LM_PROVIDE(DECL_WHICH);
static long which(void)
{
	return 2;
}
