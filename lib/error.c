/*
 * error.c - per-thread last-error message; see error.h.
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define LM_ERRMSG_MAX 2048

static _Thread_local char errmsg[LM_ERRMSG_MAX];
static _Thread_local int errcode;

int lm_error_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	errcode = code;
	return code;
}

int lm_error_wrap(const char *fmt, ...)
{
	char old[LM_ERRMSG_MAX];
	size_t n;
	va_list ap;

	memcpy(old, errmsg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	n = strlen(errmsg);
	/* Truncation of a long message is fine; it stays NUL-terminated. */
	if (n + 2 < sizeof(errmsg)) {
		memcpy(errmsg + n, ": ", 2);
		strncpy(errmsg + n + 2, old, sizeof(errmsg) - n - 3);
		errmsg[sizeof(errmsg) - 1] = '\0';
	}
	return errcode ? errcode : LM_ERROR;
}

int lm_error_recode(int code)
{
	errcode = code;
	return code;
}

const char *lm_error_last(void)
{
	return errmsg;
}

int lm_error_code(void)
{
	return errcode;
}

void lm_error_clear(void)
{
	errmsg[0] = '\0';
	errcode = LM_OK;
}

int lm_error_exit_status(int code)
{
	switch (code) {
	case LM_OK:
		return 0;
	case LM_EINVAL:
	case LM_ENOTFOUND:
	case LM_ESTALE:
	case LM_ENOTELF:
	case LM_ENODESC:
		return 2;
	case LM_ENONODE:
		return 3;
	case LM_ENODEBUSY:
		return 4;
	default:
		return 1;
	}
}

static const struct {
	int code;
	const char *name;
} names[] = {
	{ LM_EINVAL, "bad_input" },
	{ LM_ENOTFOUND, "not_found" },
	{ LM_EBUSY, "busy" },
	{ LM_ESTALE, "stale" },
	{ LM_ECHECK, "check_failed" },
	{ LM_EEVAL, "eval_failed" },
	{ LM_ENOTELF, "not_elf" },
	{ LM_ENODESC, "no_descriptor" },
	{ LM_ENONODE, "no_node" },
	{ LM_ENODEBUSY, "node_busy" },
	{ LM_ERROR, "internal" },
};

const char *lm_error_name(int code)
{
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == code)
			return names[i].name;
	return "internal";
}

int lm_error_from_name(const char *name)
{
	size_t i;

	for (i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i].name, name) == 0)
			return names[i].code;
	return LM_ERROR;
}
