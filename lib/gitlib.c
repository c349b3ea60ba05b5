/*
 * gitlib.c - opening libgit2 at first use; see gitlib.h.
 *
 * The soname is the one of the headers compiled against, so the table's
 * prototypes and the library that fills it agree on the ABI.
 */
#include "gitlib.h"

#include <pthread.h>

#include "error.h"

#define LIBGIT2_SONAME "libgit2.so." LIBGIT2_SOVERSION

#define LM_LAZY_VAR lm_git
LM_LAZY_DEFINE(lm_git_table, lm_git, lm_git_load, LIBGIT2_SONAME,
	       LM_GIT_FUNCTIONS)
