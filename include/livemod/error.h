/*
 * error.h - livemod's error codes and the last-error message.
 *
 * Public arguments are checked with assert() at entry (a NULL runtime,
 * node or out-param is a bug in the caller, as in SQLite); a `_free`
 * says whether it takes NULL. Every lm_* call that can fail returns an
 * int: 0 on success, a negative LM_E* code on failure, with a message for
 * a person kept per thread until the next failure (as libgit2's
 * git_error_last). Messages name the file, field or module at fault.
 */
#ifndef LIVEMOD_ERROR_H
#define LIVEMOD_ERROR_H

#include <livemod/common.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
	LM_OK = 0,
	LM_ERROR = -1,     /* internal or I/O failure */
	LM_EINVAL = -2,    /* bad input: usage, file, field, descriptor */
	LM_ENOTFOUND = -3, /* unknown module, plan, release, path */
	LM_EBUSY = -4,     /* ledger locked, another apply running */
	LM_ESTALE = -5,    /* plan's from-release is not the current one */
	LM_ECHECK = -6,    /* check failed (before point_of_no_return) */
	LM_EEVAL = -7,     /* eval failed (after point_of_no_return) */
	LM_ENOTELF = -8,   /* a file is not an ELF object */
	LM_ENODESC = -9,   /* an ELF object carries no livemod descriptor */
	LM_ENONODE = -10,  /* no running node to talk to */
	LM_ENODEBUSY = -11 /* a node listens but has no room for the
			    * request now (its control API's connections
			    * all serve requests): retry later */
};

/* The last message of this thread, or "" when none. Never NULL. */
LM_EXTERN(const char *) lm_error_last(void);

/* The last code of this thread, LM_OK when none. */
LM_EXTERN(int) lm_error_code(void);

#ifdef __cplusplus
}
#endif
#endif
