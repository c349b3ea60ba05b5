/*
 * decl_api.h - the declarations a host and its module share (tests/agent/
 * decl.sh): parameter types spelt through a typedef and through a macro,
 * and one with no parameters.
 */
#ifndef DECL_API_H
#define DECL_API_H

#include <stddef.h>
#include <livemod/module.h>

typedef const char *const *argv_t;
#define SIZES_T const size_t*

/* count(task, argc, argv, lens): the total length of the arguments. */
#define DECL_COUNT                                                          \
	LM_DECLARE(mod_decl, count, int, lm_task *, int, argv_t, SIZES_T)
/* which(): the version, as a number (1 old-style build, 2 new-style). */
#define DECL_WHICH LM_DECLARE(mod_decl, which, long, void)

#endif
