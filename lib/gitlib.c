/*
 * gitlib.c - opening libgit2 at first use; see gitlib.h.
 *
 * The soname is the one of the headers compiled against, so the table's
 * prototypes and the library that fills it agree on the ABI.
 */
#include "gitlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "error.h"

#define LIBGIT2_SONAME "libgit2.so." LIBGIT2_SOVERSION

struct lm_git_table lm_git;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
/* Set by the one load, read by every caller after pthread_once: the
 * message of a failed load, which each caller records for its thread. */
static char load_error[512];

static void load(void)
{
	void *h = dlopen(LIBGIT2_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(load_error, sizeof(load_error), "cannot load %s: %s",
			 LIBGIT2_SONAME, dlerror());
		return;
	}
#define LM_GIT_RESOLVE(name)                                                \
	lm_git.name = (__typeof__(git_##name) *)dlsym(h, "git_" #name);     \
	if (!lm_git.name) {                                                 \
		snprintf(load_error, sizeof(load_error), "cannot use %s: %s", \
			 LIBGIT2_SONAME, dlerror());                        \
		dlclose(h);                                                 \
		return;                                                     \
	}
	LM_GIT_FUNCTIONS(LM_GIT_RESOLVE)
#undef LM_GIT_RESOLVE
	/* the handle stays open for the process's life */
}

int lm_git_load(void)
{
	pthread_once(&load_once, load);
	if (load_error[0])
		return lm_error_set(LM_ERROR, "%s", load_error);
	return 0;
}
