/*
 * plan_internal.h - what the four parts of the plan code share, and
 * nothing outside them uses: the instruction table's field flags, the
 * four scripts, and the field locations every message names.
 *
 *   plan.c           the model: instruction table, names, scripts, free
 *   plan_json.c      the "livemod.plan/1" JSON writer and reader
 *   plan_validate.c  the checks that span fields (lm_plan_validate)
 *   plan_text.c      the OTP term text (lm_script_format)
 */
#ifndef LM_PLAN_INTERNAL_H
#define LM_PLAN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "plan.h"

/* Which fields an instruction carries: its row of the table in plan.c. */
enum {
	F_HIGH = 1u << 0,     /* belongs to the high-level scripts */
	F_MODULE = 1u << 1,   /* "module": exactly one name */
	F_MODULES = 1u << 2,  /* "modules": a non-empty list of names */
	F_CHANGES = 1u << 3,  /* "mode", "modules": [{module, extra}] */
	F_APP = 1u << 4,      /* "app", "vsn" (load_object_code) */
	F_ADVANCED = 1u << 5, /* "change": "advanced", "extra" (update) */
	F_PURGES = 1u << 6,   /* "pre_purge", "post_purge" */
	F_DEPS = 1u << 7      /* "dep_mods" */
};

bool lm_plan_op_known(lm_op op);
unsigned lm_plan_op_fields(lm_op op);
int lm_plan_op_parse(const char *s);             /* -1 when unknown */
int lm_plan_change_parse(const char *s);         /* -1 when unknown */
const char *lm_plan_mode_name(lm_change_mode m); /* "up" or "down" */
bool lm_plan_purge_resolved(lm_purge_mode m);

/* The four scripts, in file order, and their JSON paths. */
enum { S_UP_HIGH, S_UP_LOW, S_DOWN_HIGH, S_DOWN_LOW, NSCRIPTS };
extern const char *const lm_plan_script_paths[NSCRIPTS];
lm_script *lm_plan_script(lm_plan *p, int which);
const lm_script *lm_plan_script_c(const lm_plan *p, int which);
bool lm_plan_script_is_high(int which);
/* A zeroed instruction appended to `s`; NULL when out of memory. */
lm_instr *lm_plan_script_grow(lm_script *s);
/* code_change's mode in script `which` for module `m` (may be NULL). */
lm_change_mode lm_plan_script_mode(const lm_plan *p, int which,
				   const lm_plan_module *m);

/* Where we are in the file: the label and the path of the current object
 * ("modules[1].new"); messages read "label: path.key: what is wrong". */
typedef struct loc {
	const char *label;
	const char *path;
} loc;

/* Room for a location path (keys and indexes; a deeper one is cut). */
#define PATH_MAX_LEN 256

/* LM_EINVAL with "label: path.key: message". */
int lm_plan_field_err(const loc *at, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A child location "path.key" or "path.key[i]", written in `buf`. */
loc lm_plan_sub(char *buf, size_t sz, const loc *at, const char *key);
loc lm_plan_sub_index(char *buf, size_t sz, const loc *at, const char *key,
		      size_t i);
/* A module name: the one check every name in a plan gets. */
int lm_plan_check_name(const char *s, const loc *at, const char *key);

#endif
