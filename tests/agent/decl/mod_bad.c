/* mod_bad.c - provides DECL_COUNT with another type: must not compile. */
#include "decl_api.h"

LM_MODULE(mod_decl, "3.0.0");

LM_PROVIDE(DECL_COUNT);
static int count(lm_task *t, int argc, argv_t argv)
{
	(void)t, (void)argv;
	return argc;
}
