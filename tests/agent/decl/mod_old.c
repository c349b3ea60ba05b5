/* mod_old.c - mod_decl as modules were written before declarations: the
 * type written out in LM_EXPORT, spaced otherwise than the declaration. */
#include "decl_api.h"

LM_MODULE(mod_decl, "1.0.0");

LM_EXPORT(mod_decl, count, int(lm_task*, int, argv_t, const size_t *));
static int count(lm_task *t, int argc, argv_t argv, const size_t *lens)
{
	int n = 0;

	(void)t, (void)argv;
	for (int i = 0; i < argc; i++)
		n += (int)lens[i];
	return n;
}

LM_EXPORT(mod_decl, which, long (void));
static long which(void)
{
	return 1;
}
