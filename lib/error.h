/*
 * error.h - setting errors, for livemod's own code; the codes and
 * lm_error_last() are public, in <livemod/error.h>.
 *
 * Every lm_* call that can fail returns an int: 0 on success, a negative
 * LM_E* code on failure, with a message for a person kept per thread until
 * the next failure (libgit2's git_error_last, in spirit). Messages name the
 * file, field or module at fault.
 */
#ifndef LM_ERROR_H
#define LM_ERROR_H

#include <livemod/error.h>

/* Records `code` and a printf-style message; returns `code`. */
int lm_error_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefixes the current message with "<prefix>: " (adds context on the way
 * up); returns the current code. */
int lm_error_wrap(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Keeps the current message and changes its code to `code` (a step's
 * failure becomes a check failure); returns `code`. */
int lm_error_recode(int code);

void lm_error_clear(void);

/* The stable name of a code, used as error.code in JSON answers and CLI
 * output ("bad_input", "busy", "stale", ...; "internal" for others), and
 * back; lm_error_from_name gives LM_ERROR for an unknown name. */
const char *lm_error_name(int code);
int lm_error_from_name(const char *name);

/* The livemod exit status for an error code (DESIGN.md: 1 check or eval
 * failed or busy, 2 usage or bad input, 3 no running node; 4 the node
 * busy: no room for the request on its control API). */
int lm_error_exit_status(int code);

#endif
