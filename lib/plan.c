/*
 * plan.c - the upgrade plan in memory, as a "livemod.plan/1" JSON file, and
 * as OTP term text.
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

static unsigned op_fields(lm_op op)
{
	assert((size_t)op < NOPS);
	return op_specs[op].fields;
}

const char *lm_op_name(lm_op op)
{
	return (size_t)op < NOPS ? op_specs[op].name : "?";
}

static int op_parse(const char *s)
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

static int change_parse(const char *s)
{
	for (int i = LM_ADDED; i <= LM_DOWNGRADED; i++)
		if (strcmp(change_names[i], s) == 0)
			return i;
	return -1;
}

static const char *mode_name(lm_change_mode m)
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
static lm_instr *script_grow(lm_script *s)
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
	lm_instr *d = script_grow(s);
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
enum { S_UP_HIGH, S_UP_LOW, S_DOWN_HIGH, S_DOWN_LOW, NSCRIPTS };

static const char *const script_paths[NSCRIPTS] = {
	"script", "low_level_script", "downgrade.script",
	"downgrade.low_level_script"
};

static lm_script *plan_script(lm_plan *p, int which)
{
	lm_script *s[NSCRIPTS] = {&p->script, &p->low_level, &p->down_script,
				  &p->down_low_level};
	return s[which];
}

static const lm_script *plan_script_c(const lm_plan *p, int which)
{
	return plan_script((lm_plan *)p, which);
}

static bool script_is_high(int which)
{
	return which == S_UP_HIGH || which == S_DOWN_HIGH;
}

/* code_change's mode in script `which` for module `m`: the plan's
 * direction, and the reverse in its downgrade; the reverse again for a
 * module the plan takes to older bytes (LM_DOWNGRADED). */
static lm_change_mode script_mode(const lm_plan *p, int which,
				  const lm_plan_module *m)
{
	bool back = which >= S_DOWN_HIGH;
	bool older = m && m->change == LM_DOWNGRADED;

	return ((p->direction == LM_DOWN) != back) != older ? LM_DOWN : LM_UP;
}

/* ---- JSON writing ---------------------------------------------------- */

/* Adds `item` under `key`; false (and `item` freed) when either failed, so
 * that a chain of puts reports out-of-memory once at the end. */
static bool put(cJSON *obj, const char *key, cJSON *item)
{
	if (item && cJSON_AddItemToObject(obj, key, item))
		return true;
	cJSON_Delete(item);
	return false;
}

static bool push(cJSON *arr, cJSON *item)
{
	if (item && cJSON_AddItemToArray(arr, item))
		return true;
	cJSON_Delete(item);
	return false;
}

static cJSON *str_or_null(const char *s)
{
	return s && *s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *int_or_null(int64_t v)
{
	return v ? cJSON_CreateNumber((double)v) : cJSON_CreateNull();
}

static cJSON *names_json(char *const *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	bool ok = a != NULL;

	for (size_t i = 0; ok && i < n; i++)
		ok = push(a, cJSON_CreateString(v[i]));
	if (!ok) {
		cJSON_Delete(a);
		return NULL;
	}
	return a;
}

static cJSON *changes_json(const lm_instr *in)
{
	cJSON *a = cJSON_CreateArray();
	bool ok = a != NULL;

	for (size_t i = 0; ok && i < in->nmodules; i++) {
		cJSON *e = cJSON_CreateObject();

		ok = push(a, e) && put(e, "module", cJSON_CreateString(in->modules[i])) &&
		     put(e, "extra", cJSON_CreateString(in->extras[i]));
	}
	if (!ok) {
		cJSON_Delete(a);
		return NULL;
	}
	return a;
}

static cJSON *instr_json(const lm_instr *in, const lm_plan *p)
{
	unsigned f = op_fields(in->op);
	cJSON *o = cJSON_CreateObject();
	bool ok = put(o, "op", cJSON_CreateString(lm_op_name(in->op)));

	if (ok && (f & F_CHANGES))
		ok = put(o, "mode", cJSON_CreateString(mode_name(in->mode))) &&
		     put(o, "modules", changes_json(in));
	if (ok && (f & F_APP))
		ok = put(o, "app", cJSON_CreateString(p->app)) &&
		     put(o, "vsn", cJSON_CreateString(""));
	if (ok && (f & F_MODULE))
		ok = put(o, "module", cJSON_CreateString(in->modules[0]));
	if (ok && (f & F_MODULES))
		ok = put(o, "modules", names_json(in->modules, in->nmodules));
	if (ok && (f & F_ADVANCED))
		ok = put(o, "change", cJSON_CreateString("advanced")) &&
		     put(o, "extra", cJSON_CreateString(in->extras[0]));
	if (ok && (f & F_PURGES))
		ok = put(o, "pre_purge",
			 cJSON_CreateString(lm_purge_name(in->pre_purge))) &&
		     put(o, "post_purge",
			 cJSON_CreateString(lm_purge_name(in->post_purge)));
	if (ok && (f & F_DEPS))
		ok = put(o, "dep_mods", names_json(in->dep_mods, in->ndep_mods));
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *script_json(const lm_script *s, const lm_plan *p)
{
	cJSON *a = cJSON_CreateArray();
	bool ok = a != NULL;

	for (size_t i = 0; ok && i < s->n; i++)
		ok = push(a, instr_json(&s->v[i], p));
	if (!ok) {
		cJSON_Delete(a);
		return NULL;
	}
	return a;
}

static cJSON *side_json(const lm_plan_side *sd)
{
	cJSON *o;
	bool ok;

	if (!sd)
		return cJSON_CreateNull();
	assert(sd->file && sd->desc);
	o = cJSON_CreateObject();
	ok = put(o, "file", cJSON_CreateString(sd->file)) &&
	     put(o, "oid", cJSON_CreateString(sd->oid)) &&
	     put(o, "vsn", cJSON_CreateString(sd->desc->vsn)) &&
	     put(o, "descriptor", lm_descriptor_to_json(sd->desc));
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *module_json(const lm_plan_module *m)
{
	cJSON *o = cJSON_CreateObject();
	bool ok = put(o, "name", cJSON_CreateString(m->name)) &&
		  put(o, "change", cJSON_CreateString(lm_change_name(m->change))) &&
		  put(o, "old", side_json(m->old_side)) &&
		  put(o, "new", side_json(m->new_side)) &&
		  put(o, "pre_purge", cJSON_CreateString(lm_purge_name(m->pre_purge))) &&
		  put(o, "post_purge", cJSON_CreateString(lm_purge_name(m->post_purge))) &&
		  put(o, "extra", cJSON_CreateString(m->extra ? m->extra : ""));

	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *release_json(int64_t release, const char *commit)
{
	cJSON *o = cJSON_CreateObject();

	if (put(o, "release", int_or_null(release)) &&
	    put(o, "commit", str_or_null(commit)))
		return o;
	cJSON_Delete(o);
	return NULL;
}

static cJSON *plan_json(const lm_plan *p)
{
	cJSON *o = cJSON_CreateObject(), *mods = cJSON_CreateArray();
	cJSON *down = cJSON_CreateObject();
	bool ok = put(o, "format", cJSON_CreateString(LM_PLAN_FORMAT)) &&
		  put(o, "id", int_or_null(p->id)) &&
		  put(o, "app", cJSON_CreateString(p->app)) &&
		  put(o, "libdir", cJSON_CreateString(p->libdir ? p->libdir : "")) &&
		  put(o, "created_at",
		      cJSON_CreateString(p->created_at ? p->created_at : "")) &&
		  put(o, "from", release_json(p->from_release, p->from_commit)) &&
		  put(o, "to", release_json(p->to_release, p->to_commit)) &&
		  put(o, "direction",
		      cJSON_CreateString(mode_name(p->direction)));

	ok = put(o, "modules", mods) && ok;
	for (size_t i = 0; ok && i < p->nmodules; i++)
		ok = push(mods, module_json(&p->modules[i]));
	ok = ok && put(o, "script", script_json(&p->script, p)) &&
	     put(o, "low_level_script", script_json(&p->low_level, p));
	ok = put(o, "downgrade", down) && ok;
	ok = ok && put(down, "script", script_json(&p->down_script, p)) &&
	     put(down, "low_level_script", script_json(&p->down_low_level, p));
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int lm_plan_to_json(char **out, const lm_plan *p)
{
	cJSON *j;

	*out = NULL;
	assert(p && p->app);
	j = plan_json(p);
	if (!j)
		return lm_error_set(LM_ERROR, "plan: out of memory");
	*out = cJSON_Print(j);
	cJSON_Delete(j);
	return *out ? 0 : lm_error_set(LM_ERROR, "plan: out of memory");
}

/* ---- JSON parsing ---------------------------------------------------- */

/* Where we are in the file: the label and the path of the current object
 * ("modules[1].new"); messages read "label: path.key: what is wrong". */
typedef struct loc {
	const char *label;
	const char *path;
} loc;

static int vfield_err(const loc *at, const char *key, const char *fmt,
		      va_list ap)
{
	char msg[512];
	const char *dot = at->path[0] && key[0] ? "." : "";

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return lm_error_set(LM_EINVAL, "%s: %s%s%s: %s", at->label, at->path,
			    dot, key, msg);
}

static int field_err(const loc *at, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int field_err(const loc *at, const char *key, const char *fmt, ...)
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
static loc sub(char *buf, size_t sz, const loc *at, const char *key)
{
	path_printf(buf, sz, "%s%s%s", at->path, at->path[0] ? "." : "", key);
	return (loc){at->label, buf};
}

static loc sub_index(char *buf, size_t sz, const loc *at, const char *key,
		     size_t i)
{
	path_printf(buf, sz, "%s%s%s[%zu]", at->path, at->path[0] ? "." : "",
		    key, i);
	return (loc){at->label, buf};
}

#define PATH_MAX_LEN 256

/* The member `key` of `obj`, checked with `is`; NULL for a JSON null when
 * `nullable`. Missing or of the wrong type: LM_EINVAL naming the path. */
static int member(const cJSON **out, const cJSON *obj, const loc *at,
		  const char *key, cJSON_bool (*is)(const cJSON *),
		  const char *what, bool nullable)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (!v)
		return field_err(at, key, "missing");
	if (nullable && cJSON_IsNull(v))
		return 0;
	if (!is(v))
		return field_err(at, key, "not %s%s", what,
				 nullable ? " or null" : "");
	*out = v;
	return 0;
}

static int get_string(const char **out, const cJSON *obj, const loc *at,
		      const char *key, bool nullable)
{
	const cJSON *v;
	int rc = member(&v, obj, at, key, cJSON_IsString, "a string", nullable);

	*out = v ? v->valuestring : NULL;
	return rc;
}

static int dup_string(char **out, const cJSON *obj, const loc *at,
		      const char *key)
{
	const char *s;
	int rc = get_string(&s, obj, at, key, false);

	if (rc)
		return rc;
	*out = strdup(s);
	return *out ? 0 : lm_error_set(LM_ERROR, "out of memory");
}

static int get_nonempty(char **out, const cJSON *obj, const loc *at,
			const char *key)
{
	int rc = dup_string(out, obj, at, key);

	if (rc == 0 && !**out)
		return field_err(at, key, "empty");
	return rc;
}

/* A positive integer, or 0 for null when `nullable`. */
static int get_id(int64_t *out, const cJSON *obj, const loc *at,
		  const char *key, bool nullable)
{
	const cJSON *v;
	int rc = member(&v, obj, at, key, cJSON_IsNumber, "an integer",
			nullable);

	*out = 0;
	if (rc || !v)
		return rc;
	/* 2^53: past it a double no longer holds every integer */
	if (v->valuedouble < 1 || v->valuedouble > 9007199254740992.0 ||
	    v->valuedouble != (double)(int64_t)v->valuedouble)
		return field_err(at, key, "not a positive integer");
	*out = (int64_t)v->valuedouble;
	return 0;
}

/* A 40-hex oid into `out`, "" for null when `nullable`. */
static int get_oid(char out[LM_OID_HEXSZ + 1], const cJSON *obj,
		   const loc *at, const char *key, bool nullable)
{
	const char *s;
	int rc = get_string(&s, obj, at, key, nullable);

	out[0] = '\0';
	if (rc || !s)
		return rc;
	if (!lm_oid_valid(s))
		return field_err(at, key, "not a 40-hex object id");
	memcpy(out, s, LM_OID_HEXSZ + 1);
	return 0;
}

/* A module name: the one check every name in a plan gets. */
static int check_name(const char *s, const loc *at, const char *key)
{
	if (!lm_module_name_valid(s))
		return field_err(at, key, "'%s' is not a valid module name", s);
	return 0;
}

static int get_name(char **out, const cJSON *obj, const loc *at,
		    const char *key)
{
	int rc = dup_string(out, obj, at, key);

	return rc ? rc : check_name(*out, at, key);
}

static int get_purge(lm_purge_mode *out, const cJSON *obj, const loc *at,
		     const char *key)
{
	const char *s;
	int rc = get_string(&s, obj, at, key, false), m;

	if (rc)
		return rc;
	m = lm_purge_parse(s);
	if (m != LM_SOFT_PURGE && m != LM_BRUTAL_PURGE)
		return field_err(at, key,
				 "'%s' is not soft_purge or brutal_purge", s);
	*out = (lm_purge_mode)m;
	return 0;
}

/* An array member: *n elements, NULL array only when empty. */
static int get_array(const cJSON **out, size_t *n, const cJSON *obj,
		     const loc *at, const char *key)
{
	int rc = member(out, obj, at, key, cJSON_IsArray, "an array", false);

	*n = rc ? 0 : (size_t)cJSON_GetArraySize(*out);
	return rc;
}

/* A list of module names; `nonempty` for the low-level list ops. */
static int get_names(char ***out, size_t *nout, const cJSON *obj,
		     const loc *at, const char *key, bool nonempty)
{
	const cJSON *a, *e;
	size_t n, i = 0;
	int rc = get_array(&a, &n, obj, at, key);

	*out = NULL;
	*nout = 0;
	if (rc)
		return rc;
	if (nonempty && n == 0)
		return field_err(at, key, "empty list");
	if (n && !(*out = calloc(n, sizeof(char *))))
		return lm_error_set(LM_ERROR, "out of memory");
	*nout = n;
	cJSON_ArrayForEach(e, a) {
		char buf[PATH_MAX_LEN];
		loc el = sub_index(buf, sizeof(buf), at, key, i);

		if (!cJSON_IsString(e))
			return field_err(&el, "", "not a string");
		if (!((*out)[i] = strdup(e->valuestring)))
			return lm_error_set(LM_ERROR, "out of memory");
		if ((rc = check_name((*out)[i], &el, "")))
			return rc;
		i++;
	}
	return 0;
}

/* code_change's "modules": [{module, extra}], parallel arrays in `in`. */
static int get_changes(lm_instr *in, const cJSON *obj, const loc *at)
{
	const cJSON *a, *e;
	size_t n, i = 0;
	int rc = get_array(&a, &n, obj, at, "modules");

	if (rc)
		return rc;
	if (n == 0)
		return field_err(at, "modules", "empty list");
	in->modules = calloc(n, sizeof(char *));
	in->extras = calloc(n, sizeof(char *));
	in->nmodules = n;
	if (!in->modules || !in->extras)
		return lm_error_set(LM_ERROR, "out of memory");
	cJSON_ArrayForEach(e, a) {
		char buf[PATH_MAX_LEN];
		loc el = sub_index(buf, sizeof(buf), at, "modules", i);

		if (!cJSON_IsObject(e))
			return field_err(&el, "", "not an object");
		if ((rc = get_name(&in->modules[i], e, &el, "module")) ||
		    (rc = dup_string(&in->extras[i], e, &el, "extra")))
			return rc;
		i++;
	}
	return 0;
}

/* "up" or "down" under `key`; when `optional` and absent, up. */
static int get_mode(lm_change_mode *out, const cJSON *obj, const loc *at,
		    const char *key, bool optional)
{
	const char *s;
	int rc;

	*out = LM_UP;
	if (optional && !cJSON_GetObjectItemCaseSensitive(obj, key))
		return 0;
	if ((rc = get_string(&s, obj, at, key, false)))
		return rc;
	if (strcmp(s, "up") != 0 && strcmp(s, "down") != 0)
		return field_err(at, key, "'%s' is not up or down", s);
	*out = strcmp(s, "down") == 0 ? LM_DOWN : LM_UP;
	return 0;
}

/* load_object_code's App must be the plan's: the agent checks the objects
 * against one application, and the OTP text prints p->app. */
static int get_app(const cJSON *obj, const loc *at, const char *plan_app)
{
	const char *s;
	int rc = get_string(&s, obj, at, "app", false);

	if (rc)
		return rc;
	if (strcmp(s, plan_app) != 0)
		return field_err(at, "app", "'%s' is not the plan's app '%s'",
				 s, plan_app);
	return get_string(&s, obj, at, "vsn", false);
}

static int get_advanced(lm_instr *in, const cJSON *obj, const loc *at)
{
	const char *s;
	int rc = get_string(&s, obj, at, "change", false);

	if (rc)
		return rc;
	if (strcmp(s, "advanced") != 0)
		return field_err(at, "change", "'%s' is not advanced", s);
	if (!(in->extras = calloc(1, sizeof(char *))))
		return lm_error_set(LM_ERROR, "out of memory");
	return dup_string(&in->extras[0], obj, at, "extra");
}

static int get_one_module(lm_instr *in, const cJSON *obj, const loc *at)
{
	if (!(in->modules = calloc(1, sizeof(char *))))
		return lm_error_set(LM_ERROR, "out of memory");
	in->nmodules = 1;
	return get_name(&in->modules[0], obj, at, "module");
}

/* Fills `in` (already in its script, so freed with it on failure) from the
 * fields its op's row of op_specs names. */
static int instr_parse(lm_instr *in, const cJSON *obj, const loc *at,
		       const char *plan_app)
{
	const char *opname;
	unsigned f;
	int rc, op;

	if (!cJSON_IsObject(obj))
		return field_err(at, "", "not an object");
	if ((rc = get_string(&opname, obj, at, "op", false)))
		return rc;
	if ((op = op_parse(opname)) < 0)
		return field_err(at, "op", "unknown instruction '%s'", opname);
	in->op = (lm_op)op;
	f = op_fields(in->op);
	if ((f & F_CHANGES) &&
	    ((rc = get_mode(&in->mode, obj, at, "mode", false)) ||
	     (rc = get_changes(in, obj, at))))
		return rc;
	if ((f & F_APP) && (rc = get_app(obj, at, plan_app)))
		return rc;
	if ((f & F_MODULE) && (rc = get_one_module(in, obj, at)))
		return rc;
	if ((f & F_MODULES) &&
	    (rc = get_names(&in->modules, &in->nmodules, obj, at, "modules",
			    true)))
		return rc;
	if ((f & F_ADVANCED) && (rc = get_advanced(in, obj, at)))
		return rc;
	if ((f & F_PURGES) &&
	    ((rc = get_purge(&in->pre_purge, obj, at, "pre_purge")) ||
	     (rc = get_purge(&in->post_purge, obj, at, "post_purge"))))
		return rc;
	if ((f & F_DEPS) &&
	    (rc = get_names(&in->dep_mods, &in->ndep_mods, obj, at,
			    "dep_mods", false)))
		return rc;
	return 0;
}

static int script_parse(lm_script *s, const cJSON *obj, const loc *at,
			const char *key, const char *plan_app)
{
	const cJSON *a, *e;
	size_t n, i = 0;
	int rc = get_array(&a, &n, obj, at, key);

	if (rc)
		return rc;
	cJSON_ArrayForEach(e, a) {
		char buf[PATH_MAX_LEN];
		loc el = sub_index(buf, sizeof(buf), at, key, i++);
		lm_instr *in = script_grow(s);

		if (!in)
			return lm_error_set(LM_ERROR, "out of memory");
		if ((rc = instr_parse(in, e, &el, plan_app)))
			return rc;
	}
	return 0;
}

static int side_parse(lm_plan_side **out, const cJSON *obj, const loc *at,
		      const char *key)
{
	char buf[PATH_MAX_LEN], dlabel[PATH_MAX_LEN + 64];
	const cJSON *v, *d;
	const char *vsn;
	lm_plan_side *sd;
	loc in;
	int rc = member(&v, obj, at, key, cJSON_IsObject, "an object", true);

	*out = NULL;
	if (rc || !v)
		return rc;
	in = sub(buf, sizeof(buf), at, key);
	if (!(sd = *out = calloc(1, sizeof(*sd))))
		return lm_error_set(LM_ERROR, "out of memory");
	if ((rc = get_nonempty(&sd->file, v, &in, "file")) ||
	    (rc = get_oid(sd->oid, v, &in, "oid", false)) ||
	    (rc = get_string(&vsn, v, &in, "vsn", false)) ||
	    (rc = member(&d, v, &in, "descriptor", cJSON_IsObject,
			 "an object", false)))
		return rc;
	snprintf(dlabel, sizeof(dlabel), "%s: %s.descriptor", at->label,
		 in.path);
	if ((rc = lm_descriptor_from_json(&sd->desc, d, dlabel)))
		return rc;
	/* `vsn` is there for the reader; the descriptor is the truth */
	if (strcmp(vsn, sd->desc->vsn) != 0)
		return field_err(&in, "vsn", "'%s' is not the descriptor's '%s'",
				 vsn, sd->desc->vsn);
	return 0;
}

static int module_parse(lm_plan_module *m, const cJSON *obj, const loc *at)
{
	const char *change;
	int rc, c;

	if (!cJSON_IsObject(obj))
		return field_err(at, "", "not an object");
	if ((rc = get_name(&m->name, obj, at, "name")) ||
	    (rc = get_string(&change, obj, at, "change", false)))
		return rc;
	if ((c = change_parse(change)) < 0)
		return field_err(at, "change",
				 "'%s' is not added, changed or removed",
				 change);
	m->change = (lm_change_kind)c;
	if ((rc = side_parse(&m->old_side, obj, at, "old")) ||
	    (rc = side_parse(&m->new_side, obj, at, "new")) ||
	    (rc = get_purge(&m->pre_purge, obj, at, "pre_purge")) ||
	    (rc = get_purge(&m->post_purge, obj, at, "post_purge")) ||
	    (rc = dup_string(&m->extra, obj, at, "extra")))
		return rc;
	return 0;
}

static int modules_parse(lm_plan *p, const cJSON *obj, const loc *at)
{
	const cJSON *a, *e;
	size_t n, i = 0;
	int rc = get_array(&a, &n, obj, at, "modules");

	if (rc)
		return rc;
	if (n && !(p->modules = calloc(n, sizeof(*p->modules))))
		return lm_error_set(LM_ERROR, "out of memory");
	p->nmodules = n;
	cJSON_ArrayForEach(e, a) {
		char buf[PATH_MAX_LEN];
		loc el = sub_index(buf, sizeof(buf), at, "modules", i);

		if ((rc = module_parse(&p->modules[i++], e, &el)))
			return rc;
	}
	return 0;
}

/* {release, commit}: both set, or (for `to` of a dry run) both null. */
static int release_parse(int64_t *release, char commit[LM_OID_HEXSZ + 1],
			 const cJSON *obj, const loc *at, const char *key,
			 bool nullable)
{
	char buf[PATH_MAX_LEN];
	const cJSON *v;
	loc in;
	int rc = member(&v, obj, at, key, cJSON_IsObject, "an object", false);

	if (rc)
		return rc;
	in = sub(buf, sizeof(buf), at, key);
	if ((rc = get_id(release, v, &in, "release", nullable)) ||
	    (rc = get_oid(commit, v, &in, "commit", nullable)))
		return rc;
	if ((*release == 0) != (commit[0] == '\0'))
		return field_err(&in, "", "release and commit must both be "
				 "set or both be null");
	return 0;
}

/* The format comes first: a plan from a newer livemod may differ in any
 * other field, and its author should hear about the format, not a field. */
static int format_check(const cJSON *root, const loc *at)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "format");

	if (!f)
		return field_err(at, "format", "missing; not a %s plan",
				 LM_PLAN_FORMAT);
	if (!cJSON_IsString(f))
		return field_err(at, "format", "not a string; not a %s plan",
				 LM_PLAN_FORMAT);
	if (strcmp(f->valuestring, LM_PLAN_FORMAT) != 0)
		return field_err(at, "format",
				 "plan format '%s' is not %s (written by a "
				 "newer livemod?)",
				 f->valuestring, LM_PLAN_FORMAT);
	return 0;
}

static int plan_parse(lm_plan *p, const cJSON *root, const loc *at)
{
	char buf[PATH_MAX_LEN];
	const cJSON *down;
	loc dn;
	int rc;

	if ((rc = format_check(root, at)) ||
	    (rc = get_id(&p->id, root, at, "id", true)) ||
	    (rc = get_nonempty(&p->app, root, at, "app")) ||
	    (rc = dup_string(&p->libdir, root, at, "libdir")) ||
	    (rc = dup_string(&p->created_at, root, at, "created_at")) ||
	    (rc = release_parse(&p->from_release, p->from_commit, root, at,
				"from", false)) ||
	    (rc = release_parse(&p->to_release, p->to_commit, root, at, "to",
				true)) ||
	    (rc = get_mode(&p->direction, root, at, "direction", true)) ||
	    (rc = modules_parse(p, root, at)) ||
	    (rc = script_parse(&p->script, root, at, "script", p->app)) ||
	    (rc = script_parse(&p->low_level, root, at, "low_level_script",
			       p->app)) ||
	    (rc = member(&down, root, at, "downgrade", cJSON_IsObject,
			 "an object", false)))
		return rc;
	dn = sub(buf, sizeof(buf), at, "downgrade");
	if ((rc = script_parse(&p->down_script, down, &dn, "script", p->app)) ||
	    (rc = script_parse(&p->down_low_level, down, &dn,
			       "low_level_script", p->app)))
		return rc;
	return 0;
}

int lm_plan_from_json(lm_plan **out, const char *text, size_t len,
		      const char *label)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	loc at = {label ? label : "plan", ""};
	lm_plan *p;
	int rc;

	*out = NULL;
	if (!root) {
		size_t off = end && end >= text ? (size_t)(end - text) : 0;

		return lm_error_set(LM_EINVAL, "%s: not JSON (syntax error "
				    "near byte %zu)", at.label, off);
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return lm_error_set(LM_EINVAL, "%s: not a JSON object",
				    at.label);
	}
	if (!(p = calloc(1, sizeof(*p)))) {
		cJSON_Delete(root);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	rc = plan_parse(p, root, &at);
	cJSON_Delete(root);
	if (rc == 0)
		rc = lm_plan_validate(p, at.label);
	if (rc) {
		lm_plan_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

/* The whole stream in a malloc'ed buffer. */
static bool read_all(FILE *f, char **buf, size_t *len)
{
	FILE *m = open_memstream(buf, len);
	char chunk[8192];
	size_t k;
	bool ok = m != NULL;

	while (ok && (k = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ok = fwrite(chunk, 1, k, m) == k;
	ok = ok && !ferror(f);
	if (m && fclose(m) != 0)
		ok = false;
	return ok;
}

int lm_plan_load_file(lm_plan **out, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;
	bool ok;
	int rc;

	*out = NULL;
	if (!f)
		return lm_error_set(errno == ENOENT ? LM_ENOTFOUND : LM_ERROR,
				    "%s: %s", path, strerror(errno));
	ok = read_all(f, &buf, &len);
	fclose(f);
	if (!ok) {
		free(buf);
		return lm_error_set(LM_ERROR, "%s: read failed", path);
	}
	rc = lm_plan_from_json(out, buf, len, path);
	free(buf);
	return rc;
}

/* ---- cross-field validation ------------------------------------------ */

static const lm_plan_module *plan_module(const lm_plan *p, const char *name)
{
	for (size_t i = 0; i < p->nmodules; i++)
		if (strcmp(p->modules[i].name, name) == 0)
			return &p->modules[i];
	return NULL;
}

static bool purge_resolved(lm_purge_mode m)
{
	return m == LM_SOFT_PURGE || m == LM_BRUTAL_PURGE;
}

static int side_validate(const lm_plan_side *sd, const char *name,
			 const loc *at, const char *key)
{
	char buf[PATH_MAX_LEN];
	loc in = sub(buf, sizeof(buf), at, key);

	if (!sd->file || !sd->file[0])
		return field_err(&in, "file", "empty");
	if (!lm_oid_valid(sd->oid))
		return field_err(&in, "oid", "not a 40-hex object id");
	if (!sd->desc)
		return field_err(&in, "descriptor", "missing");
	if (strcmp(sd->desc->name, name) != 0)
		return field_err(&in, "descriptor.name",
				 "'%s' is not the module's name '%s'",
				 sd->desc->name, name);
	return 0;
}

static int module_validate(const lm_plan *p, size_t i, const loc *at)
{
	const lm_plan_module *m = &p->modules[i];
	bool want_old = m->change != LM_ADDED, want_new = m->change != LM_REMOVED;
	int rc;

	if (!m->name || !lm_module_name_valid(m->name))
		return field_err(at, "name", "'%s' is not a valid module name",
				 m->name ? m->name : "");
	for (size_t j = 0; j < i; j++)
		if (strcmp(p->modules[j].name, m->name) == 0)
			return field_err(at, "name",
					 "'%s' appears twice (also "
					 "modules[%zu])",
					 m->name, j);
	if (!m->old_side != !want_old)
		return field_err(at, "old", want_old ? "missing for a %s module"
					: "must be null for an %s module",
				 lm_change_name(m->change));
	if (!m->new_side != !want_new)
		return field_err(at, "new", want_new ? "missing for a %s module"
					: "must be null for a %s module",
				 lm_change_name(m->change));
	if (m->old_side && (rc = side_validate(m->old_side, m->name, at, "old")))
		return rc;
	if (m->new_side && (rc = side_validate(m->new_side, m->name, at, "new")))
		return rc;
	if (!purge_resolved(m->pre_purge))
		return field_err(at, "pre_purge", "not resolved");
	if (!purge_resolved(m->post_purge))
		return field_err(at, "post_purge", "not resolved");
	if (!m->extra)
		return field_err(at, "extra", "missing");
	return 0;
}

/* The key of module `k` of an instruction, as the JSON file spells it. */
static const char *instr_module_key(char *buf, size_t sz, const lm_instr *in,
				    size_t k)
{
	unsigned f = op_fields(in->op);

	if (f & F_MODULE)
		return "module";
	snprintf(buf, sz, (f & F_CHANGES) ? "modules[%zu].module"
					  : "modules[%zu]", k);
	return buf;
}

/* update and code_change run the code_change callback of the module's
 * newer version — the new side, or the old side of a plan whose
 * direction is down: on the way up it converts the old state, on the way
 * back it runs before the old code is loaded (OTP's order). */
static int code_change_check(const lm_plan *p, const lm_plan_module *m,
			     const loc *at, const char *key)
{
	const lm_plan_side *newer;

	if (!m->old_side || !m->new_side)
		return field_err(at, key, "'%s' is %s; code_change needs a "
				 "changed module", m->name,
				 lm_change_name(m->change));
	newer = (p->direction == LM_DOWN) != (m->change == LM_DOWNGRADED)
			? m->old_side : m->new_side;
	if (!(newer->desc->callbacks & LM_CB_CODE_CHANGE))
		return field_err(at, key, "'%s' %s defines no code_change",
				 m->name, newer->desc->vsn);
	return 0;
}

/* What the parser guarantees, checked again for plans built in memory:
 * the rest of this file relies on it. */
static int instr_shape(const lm_instr *in, unsigned f, const loc *at)
{
	if ((f & F_MODULE) && in->nmodules != 1)
		return field_err(at, "module", "%zu modules, not one",
				 in->nmodules);
	if ((f & (F_MODULES | F_CHANGES)) && in->nmodules == 0)
		return field_err(at, "modules", "empty list");
	if ((f & (F_ADVANCED | F_CHANGES)) && !in->extras)
		return field_err(at, "extra", "missing");
	if ((f & F_PURGES) && !purge_resolved(in->pre_purge))
		return field_err(at, "pre_purge", "not resolved");
	if ((f & F_PURGES) && !purge_resolved(in->post_purge))
		return field_err(at, "post_purge", "not resolved");
	return 0;
}

static int instr_validate(const lm_plan *p, const lm_instr *in, int which,
			  const loc *at)
{
	unsigned f;
	int rc;

	if ((size_t)in->op >= NOPS)
		return field_err(at, "op", "unknown instruction %d", (int)in->op);
	f = op_fields(in->op);
	if (!(f & F_HIGH) != !script_is_high(which))
		return field_err(at, "op", "%s is a %s instruction",
				 lm_op_name(in->op),
				 (f & F_HIGH) ? "high-level" : "low-level");
	if ((rc = instr_shape(in, f, at)))
		return rc;
	for (size_t k = 0; k < in->nmodules; k++) {
		char kb[64];
		const char *key = instr_module_key(kb, sizeof(kb), in, k);
		const lm_plan_module *m = plan_module(p, in->modules[k]);

		if (!m)
			return field_err(at, key, "'%s' is not a module of "
					 "this plan", in->modules[k]);
		if ((f & (F_ADVANCED | F_CHANGES)) &&
		    (rc = code_change_check(p, m, at, key)))
			return rc;
		if ((f & F_CHANGES) && in->mode != script_mode(p, which, m))
			return field_err(at, "mode", "%s, but this script goes "
					 "%s%s%s", mode_name(in->mode),
					 mode_name(script_mode(p, which, m)),
					 m->change == LM_DOWNGRADED
						 ? " for downgraded " : "",
					 m->change == LM_DOWNGRADED ? m->name
								    : "");
	}
	for (size_t k = 0; k < in->ndep_mods; k++) {
		char kb[64];

		snprintf(kb, sizeof(kb), "dep_mods[%zu]", k);
		if ((rc = check_name(in->dep_mods[k], at, kb)))
			return rc;
	}
	return 0;
}

/* Exactly one point_of_no_return; only load_object_code before it, and
 * never after: everything before it must be undoable by unloading. */
static int ponr_validate(const lm_script *s, const loc *at)
{
	size_t ponr = s->n;

	if (s->n == 0)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		char buf[PATH_MAX_LEN];
		loc el = sub_index(buf, sizeof(buf), &(loc){at->label, ""},
				   at->path, i);
		lm_op op = s->v[i].op;

		if (op == LM_OP_POINT_OF_NO_RETURN && ponr < s->n)
			return field_err(&el, "", "a second point_of_no_return"
					 " (the first is [%zu])", ponr);
		if (op == LM_OP_POINT_OF_NO_RETURN)
			ponr = i;
		else if (op == LM_OP_LOAD_OBJECT_CODE && ponr < s->n)
			return field_err(&el, "", "load_object_code after "
					 "point_of_no_return");
		else if (op != LM_OP_LOAD_OBJECT_CODE && ponr == s->n)
			return field_err(&el, "", "%s before point_of_no_return"
					 " (only load_object_code may come "
					 "before it)", lm_op_name(op));
	}
	if (ponr == s->n)
		return field_err(at, "", "no point_of_no_return");
	return 0;
}

static int script_validate(const lm_plan *p, int which, const char *label)
{
	const lm_script *s = plan_script_c(p, which);
	loc at = {label, script_paths[which]};
	int rc;

	for (size_t i = 0; i < s->n; i++) {
		char buf[PATH_MAX_LEN];
		loc el = sub_index(buf, sizeof(buf), &(loc){label, ""},
				   script_paths[which], i);

		if ((rc = instr_validate(p, &s->v[i], which, &el)))
			return rc;
	}
	if (!script_is_high(which)) {
		/* each low-level script follows its high-level one */
		const lm_script *high = plan_script_c(p, which - 1);

		assert(script_is_high(which - 1));
		if ((high->n == 0) != (s->n == 0))
			return field_err(&at, "", high->n
					 ? "empty while %s is not"
					 : "not empty while %s is empty",
					 script_paths[which - 1]);
		return ponr_validate(s, &at);
	}
	return 0;
}

int lm_plan_validate(const lm_plan *p, const char *label)
{
	loc top = {label ? label : "plan", ""};
	int rc;

	if (!p->app || !p->app[0])
		return field_err(&top, "app", "empty");
	for (size_t i = 0; i < p->nmodules; i++) {
		char buf[PATH_MAX_LEN];
		loc el = sub_index(buf, sizeof(buf), &top, "modules", i);

		if ((rc = module_validate(p, i, &el)))
			return rc;
	}
	for (int w = 0; w < NSCRIPTS; w++)
		if ((rc = script_validate(p, w, top.label)))
			return rc;
	return 0;
}

/* ---- OTP term text --------------------------------------------------- */

static bool atom_is_bare(const char *s)
{
	/* Erlang's reserved words must be quoted even though they look like
	 * plain atoms; module names may legally be spelt like them. */
	static const char *const reserved[] = {
		"after", "and", "andalso", "band", "begin", "bnot", "bor",
		"bsl", "bsr", "bxor", "case", "catch", "cond", "div", "else",
		"end", "fun", "if", "let", "maybe", "not", "of", "or",
		"orelse", "receive", "rem", "try", "when", "xor"
	};

	if (!(*s >= 'a' && *s <= 'z'))
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '@'))
			return false;
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strcmp(s, reserved[i]) == 0)
			return false;
	return true;
}

/* Characters between `q` quotes, with Erlang's escapes. */
static void put_quoted(FILE *f, const char *s, char q)
{
	fputc(q, f);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == (unsigned char)q || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if (*c == '\n')
			fputs("\\n", f);
		else if (*c == '\t')
			fputs("\\t", f);
		else if (*c < 0x20 || *c >= 0x7f)
			fprintf(f, "\\x{%X}", *c);
		else
			fputc(*c, f);
	}
	fputc(q, f);
}

static void put_atom(FILE *f, const char *s)
{
	if (atom_is_bare(s))
		fputs(s, f);
	else
		put_quoted(f, s, '\'');
}

/* An Erlang string: "" is the empty list, printed [] as OTP does. */
static void put_string(FILE *f, const char *s)
{
	if (!s || !*s)
		fputs("[]", f);
	else
		put_quoted(f, s, '"');
}

static void put_atoms(FILE *f, char *const *v, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		put_atom(f, v[i]);
	}
	fputc(']', f);
}

static void put_purges(FILE *f, const lm_instr *in)
{
	assert(purge_resolved(in->pre_purge) && purge_resolved(in->post_purge));
	fprintf(f, ",%s,%s", lm_purge_name(in->pre_purge),
		lm_purge_name(in->post_purge));
}

/* {Op,Mod} or, with dependencies, {Op,Mod,[Dep]}. */
static void put_mod_deps(FILE *f, const lm_instr *in)
{
	fprintf(f, "{%s,", lm_op_name(in->op));
	put_atom(f, in->modules[0]);
	if (in->ndep_mods) {
		fputc(',', f);
		put_atoms(f, in->dep_mods, in->ndep_mods);
	}
	fputc('}', f);
}

static void put_instr(FILE *f, const lm_instr *in, const lm_plan *p)
{
	const char *name = lm_op_name(in->op);

	switch (in->op) {
	case LM_OP_LOAD_MODULE:
		/* OTP's own abbreviation for the defaults */
		if (in->pre_purge == LM_BRUTAL_PURGE &&
		    in->post_purge == LM_BRUTAL_PURGE && in->ndep_mods == 0) {
			put_mod_deps(f, in);
			return;
		}
		fprintf(f, "{%s,", name);
		put_atom(f, in->modules[0]);
		put_purges(f, in);
		fputc(',', f);
		put_atoms(f, in->dep_mods, in->ndep_mods);
		fputc('}', f);
		return;
	case LM_OP_UPDATE:
		fprintf(f, "{%s,", name);
		put_atom(f, in->modules[0]);
		fputs(",{advanced,", f);
		put_string(f, in->extras[0]);
		fputc('}', f);
		put_purges(f, in);
		fputc(',', f);
		put_atoms(f, in->dep_mods, in->ndep_mods);
		fputc('}', f);
		return;
	case LM_OP_ADD_MODULE:
	case LM_OP_DELETE_MODULE:
		put_mod_deps(f, in);
		return;
	case LM_OP_LOAD_OBJECT_CODE:
		fprintf(f, "{%s,{", name);
		put_atom(f, p->app);
		fputs(",[],", f);
		put_atoms(f, in->modules, in->nmodules);
		fputs("}}", f);
		return;
	case LM_OP_POINT_OF_NO_RETURN:
		fputs(name, f);
		return;
	case LM_OP_SUSPEND:
	case LM_OP_RESUME:
	case LM_OP_PURGE:
		fprintf(f, "{%s,", name);
		put_atoms(f, in->modules, in->nmodules);
		fputc('}', f);
		return;
	case LM_OP_CODE_CHANGE:
		fprintf(f, "{%s,%s,[", name, mode_name(in->mode));
		for (size_t i = 0; i < in->nmodules; i++) {
			fputs(i ? ",{" : "{", f);
			put_atom(f, in->modules[i]);
			fputc(',', f);
			put_string(f, in->extras[i]);
			fputc('}', f);
		}
		fputs("]}", f);
		return;
	case LM_OP_LOAD:
	case LM_OP_REMOVE:
		fprintf(f, "{%s,{", name);
		put_atom(f, in->modules[0]);
		put_purges(f, in);
		fputs("}}", f);
		return;
	}
	assert(!"unknown op");
}

char *lm_script_format(const lm_script *s, const lm_plan *p, int indent)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert(p && p->app);
	if (!f)
		return NULL;
	fputc('[', f);
	for (size_t i = 0; i < s->n; i++) {
		if (i && indent >= 0)
			fprintf(f, ",\n%*s", indent + 1, "");
		else if (i)
			fputc(',', f);
		put_instr(f, &s->v[i], p);
	}
	fputc(']', f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *lm_script_labelled(const char *label, const lm_script *s,
			 const lm_plan *p)
{
	char *text = p && s ? lm_script_format(s, p, (int)strlen(label) + 2)
			    : NULL, *out = NULL;

	if (p && s && !text)
		return NULL;
	if (asprintf(&out, "%s: %s", label, text ? text : "[]") < 0)
		out = NULL;
	free(text);
	return out;
}
