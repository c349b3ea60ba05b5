/*
 * plan.c - the upgrade plan in memory: the instruction table, the names
 * of instructions and changes, the four scripts, and the field locations
 * every message names. Its JSON form is plan_json.c's, its cross-field
 * checks plan_validate.c's, its OTP term text plan_text.c's
 * (plan_internal.h is what they share).
 *
 * One table (op_specs) says which fields each instruction carries; the
 * JSON writer, the JSON parser and the cross-field validator all read it,
 * so adding an instruction means adding one row and its OTP text. The
 * parser checks shapes and types and names the field path in every
 * message; lm_plan_validate checks what spans fields (names of the plan,
 * point_of_no_return, code_change only where a version defines it), and
 * runs on every parsed plan and on every plan the planner builds.
 * docs/plan-format.md is the user-facing statement of all this.
 */
#include "plan.h"
#include "plan_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "error.h"

/* ---- the instruction table ------------------------------------------ */

static const struct op_spec {
	const char *name;
	unsigned fields;
} op_specs[] = {
	[LM_OP_LOAD_MODULE] = {"load_module", F_HIGH | F_MODULE | F_PURGES | F_DEPS},
	[LM_OP_UPDATE] = {"update",
			  F_HIGH | F_MODULE | F_ADVANCED | F_PURGES | F_DEPS},
	[LM_OP_ADD_MODULE] = {"add_module", F_HIGH | F_MODULE | F_DEPS},
	[LM_OP_DELETE_MODULE] = {"delete_module", F_HIGH | F_MODULE | F_DEPS},
	[LM_OP_LOAD_OBJECT_CODE] = {"load_object_code", F_APP | F_MODULES},
	[LM_OP_POINT_OF_NO_RETURN] = {"point_of_no_return", 0},
	[LM_OP_SUSPEND] = {"suspend", F_MODULES},
	[LM_OP_CODE_CHANGE] = {"code_change", F_CHANGES},
	[LM_OP_LOAD] = {"load", F_MODULE | F_PURGES},
	[LM_OP_RESUME] = {"resume", F_MODULES},
	[LM_OP_PURGE] = {"purge", F_MODULES},
	[LM_OP_REMOVE] = {"remove", F_MODULE | F_PURGES},
};
#define NOPS (sizeof(op_specs) / sizeof(op_specs[0]))

bool lm_plan_op_known(lm_op op)
{
	return (size_t)op < NOPS;
}

unsigned lm_plan_op_fields(lm_op op)
{
	assert((size_t)op < NOPS);
	return op_specs[op].fields;
}

const char *lm_op_name(lm_op op)
{
	return (size_t)op < NOPS ? op_specs[op].name : "?";
}

int lm_plan_op_parse(const char *s)
{
	for (size_t i = 0; i < NOPS; i++)
		if (strcmp(op_specs[i].name, s) == 0)
			return (int)i;
	return -1;
}

static const char *const change_names[] = {
	[LM_ADDED] = "added", [LM_CHANGED] = "changed", [LM_REMOVED] = "removed",
	[LM_DOWNGRADED] = "downgraded"
};

const char *lm_change_name(lm_change_kind c)
{
	return (unsigned)c <= LM_DOWNGRADED ? change_names[c] : "?";
}

int lm_plan_change_parse(const char *s)
{
	for (int i = LM_ADDED; i <= LM_DOWNGRADED; i++)
		if (strcmp(change_names[i], s) == 0)
			return i;
	return -1;
}

const char *lm_plan_mode_name(lm_change_mode m)
{
	return m == LM_DOWN ? "down" : "up";
}

/* ---- string lists and the script array ------------------------------ */

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* Deep copy; NULL entries stay NULL. Returns false when out of memory. */
static bool strv_dup(char ***out, char *const *v, size_t n)
{
	*out = NULL;
	if (!v || n == 0)
		return true;
	*out = calloc(n, sizeof(char *));
	if (!*out)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] && !((*out)[i] = strdup(v[i])))
			return false;
	return true;
}

static void instr_clear(lm_instr *in)
{
	/* extras are parallel to modules: code_change has one per module,
	 * update (one module) has one */
	strv_free(in->extras, in->nmodules);
	strv_free(in->modules, in->nmodules);
	strv_free(in->dep_mods, in->ndep_mods);
	memset(in, 0, sizeof(*in));
}

/* A zeroed slot at the end of `s`, already counted, so that lm_script_clear
 * frees whatever the caller managed to put in it before failing. */
lm_instr *lm_plan_script_grow(lm_script *s)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		lm_instr *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		s->v = v;
		s->cap = cap;
	}
	memset(&s->v[s->n], 0, sizeof(s->v[0]));
	return &s->v[s->n++];
}

int lm_script_push(lm_script *s, const lm_instr *in)
{
	lm_instr *d = lm_plan_script_grow(s);
	bool ok;

	if (!d)
		return lm_error_set(LM_ERROR, "out of memory");
	d->op = in->op;
	d->pre_purge = in->pre_purge;
	d->post_purge = in->post_purge;
	d->mode = in->mode;
	d->nmodules = in->nmodules;
	d->ndep_mods = in->ndep_mods;
	ok = strv_dup(&d->modules, in->modules, in->nmodules) &&
	     strv_dup(&d->extras, in->extras, in->nmodules) &&
	     strv_dup(&d->dep_mods, in->dep_mods, in->ndep_mods);
	return ok ? 0 : lm_error_set(LM_ERROR, "out of memory");
}

void lm_script_clear(lm_script *s)
{
	for (size_t i = 0; i < s->n; i++)
		instr_clear(&s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static void side_free(lm_plan_side *sd)
{
	if (!sd)
		return;
	free(sd->file);
	lm_descriptor_free(sd->desc);
	free(sd);
}

void lm_plan_free(lm_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->modules && i < p->nmodules; i++) {
		lm_plan_module *m = &p->modules[i];

		free(m->name);
		side_free(m->old_side);
		side_free(m->new_side);
		free(m->extra);
	}
	free(p->modules);
	free(p->app);
	free(p->libdir);
	free(p->created_at);
	lm_script_clear(&p->script);
	lm_script_clear(&p->low_level);
	lm_script_clear(&p->down_script);
	lm_script_clear(&p->down_low_level);
	free(p);
}

/* The four scripts, with the field path each has in the JSON file. */
const char *const lm_plan_script_paths[NSCRIPTS] = {
	"script", "low_level_script", "downgrade.script",
	"downgrade.low_level_script"
};

lm_script *lm_plan_script(lm_plan *p, int which)
{
	lm_script *s[NSCRIPTS] = {&p->script, &p->low_level, &p->down_script,
				  &p->down_low_level};
	return s[which];
}

const lm_script *lm_plan_script_c(const lm_plan *p, int which)
{
	return lm_plan_script((lm_plan *)p, which);
}

bool lm_plan_script_is_high(int which)
{
	return which == S_UP_HIGH || which == S_DOWN_HIGH;
}

/* code_change's mode in script `which` for module `m`: the plan's
 * direction, and the reverse in its downgrade; the reverse again for a
 * module the plan takes to older bytes (LM_DOWNGRADED). */
lm_change_mode lm_plan_script_mode(const lm_plan *p, int which,
				  const lm_plan_module *m)
{
	bool back = which >= S_DOWN_HIGH;
	bool older = m && m->change == LM_DOWNGRADED;

	return ((p->direction == LM_DOWN) != back) != older ? LM_DOWN : LM_UP;
}

/* ---- field locations, for the reader's and the validator's messages */

static int vfield_err(const loc *at, const char *key, const char *fmt,
		      va_list ap)
{
	char msg[512];
	const char *dot = at->path[0] && key[0] ? "." : "";

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return lm_error_set(LM_EINVAL, "%s: %s%s%s: %s", at->label, at->path,
			    dot, key, msg);
}

int lm_plan_field_err(const loc *at, const char *key, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfield_err(at, key, fmt, ap);
	va_end(ap);
	return rc;
}

/* Paths are short (keys and indexes); an absurdly deep one is cut, which
 * still leaves a useful message. */
static void path_printf(char *buf, size_t sz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void path_printf(char *buf, size_t sz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sz, fmt, ap);
	va_end(ap);
}

/* A child location "path.key" or "path.key[i]" in `buf`. */
loc lm_plan_sub(char *buf, size_t sz, const loc *at, const char *key)
{
	path_printf(buf, sz, "%s%s%s", at->path, at->path[0] ? "." : "", key);
	return (loc){at->label, buf};
}

loc lm_plan_sub_index(char *buf, size_t sz, const loc *at, const char *key,
		     size_t i)
{
	path_printf(buf, sz, "%s%s%s[%zu]", at->path, at->path[0] ? "." : "",
		    key, i);
	return (loc){at->label, buf};
}

/* A module name: the one check every name in a plan gets. */
int lm_plan_check_name(const char *s, const loc *at, const char *key)
{
	if (!lm_module_name_valid(s))
		return lm_plan_field_err(at, key, "'%s' is not a valid module name", s);
	return 0;
}

bool lm_plan_purge_resolved(lm_purge_mode m)
{
	return m == LM_SOFT_PURGE || m == LM_BRUTAL_PURGE;
}
