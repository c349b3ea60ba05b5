/*
 * lazylib.h - a shared library opened with dlopen at its first use
 * instead of linked, its functions called through a table typed from the
 * library's own header.
 *
 * Every library linked into `livemod` is loaded, relocated and
 * initialised at every start, whether the command uses it or not: the
 * HTTP commands (status, update, apply) need neither SQLite nor libelf
 * nor mbedTLS, and one-shot commands are timed in milliseconds
 * (docs/BENCHMARKS.md). lib/gitlib.c, lib/sqlitelib.c, lib/elflib.c and
 * lib/mbedlib.c each declare their table with LM_LAZY_TABLE and define
 * it with LM_LAZY_DEFINE; callers write lm_sqlite.step(...) for
 * sqlite3_step(...) once lm_sqlite_load() has returned 0.
 */
#ifndef LM_LAZYLIB_H
#define LM_LAZYLIB_H

#include <stddef.h>

/* A table field: the function `prefix##name`'s pointer, as `name`. */
#define LM_LAZY_FIELD(prefix, name) __typeof__(prefix##name) *name;

/* struct TAG { one field per function of FUNCS }; extern struct TAG VAR;
 * int LOAD(void); FUNCS(X) calls X(prefix, name) for each function. */
#define LM_LAZY_TABLE(tag, var, load, FUNCS)                                \
	struct tag {                                                        \
		FUNCS(LM_LAZY_FIELD)                                        \
	};                                                                  \
	extern struct tag var;                                              \
	int load(void);

#define LM_LAZY_NAME(prefix, name) #prefix #name,
#define LM_LAZY_SLOT(prefix, name) (void **)&LM_LAZY_VAR.name,

/*
 * Defines the table VAR and LOAD(): opens SONAME (the soname of the
 * headers compiled against, so prototypes and library agree on the ABI)
 * and resolves every function, once per process, whichever thread comes
 * first. LOAD returns 0, or LM_ERROR naming the library and dlerror()'s
 * reason, on every call after a failed load. Needs LM_LAZY_VAR defined
 * as VAR, <pthread.h> and "error.h".
 */
#define LM_LAZY_DEFINE(tag, var, load, soname, FUNCS)                       \
	struct tag var;                                                     \
	static pthread_once_t var##_once = PTHREAD_ONCE_INIT;               \
	static char var##_error[512];                                       \
	static void var##_open(void)                                        \
	{                                                                   \
		static const char *const names[] = { FUNCS(LM_LAZY_NAME) }; \
		void **const slots[] = { FUNCS(LM_LAZY_SLOT) };             \
		lm_lazy_open(soname, names, slots,                          \
			     sizeof(names) / sizeof(names[0]), var##_error, \
			     sizeof(var##_error));                          \
	}                                                                   \
	int load(void)                                                      \
	{                                                                   \
		pthread_once(&var##_once, var##_open);                      \
		return var##_error[0]                                       \
			       ? lm_error_set(LM_ERROR, "%s", var##_error)  \
			       : 0;                                         \
	}

/* Opens `soname` and stores dlsym(names[i]) in *slots[i]; on failure
 * writes the reason to `err` (left empty on success). The handle stays
 * open for the process's life. */
void lm_lazy_open(const char *soname, const char *const *names,
		  void **const *slots, size_t n, char *err, size_t errlen);

#endif
