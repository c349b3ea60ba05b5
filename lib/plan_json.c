/*
 * plan_json.c - the upgrade plan as a "livemod.plan/1" JSON file: the
 * writer, and the reader that checks shapes and types field by field and
 * names the field path in every message (then runs lm_plan_validate).
 * docs/plan-format.md is the format.
 */
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
	unsigned f = lm_plan_op_fields(in->op);
	cJSON *o = cJSON_CreateObject();
	bool ok = put(o, "op", cJSON_CreateString(lm_op_name(in->op)));

	if (ok && (f & F_CHANGES))
		ok = put(o, "mode", cJSON_CreateString(lm_plan_mode_name(in->mode))) &&
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
		      cJSON_CreateString(lm_plan_mode_name(p->direction)));

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



/* The member `key` of `obj`, checked with `is`; NULL for a JSON null when
 * `nullable`. Missing or of the wrong type: LM_EINVAL naming the path. */
static int member(const cJSON **out, const cJSON *obj, const loc *at,
		  const char *key, cJSON_bool (*is)(const cJSON *),
		  const char *what, bool nullable)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	*out = NULL;
	if (!v)
		return lm_plan_field_err(at, key, "missing");
	if (nullable && cJSON_IsNull(v))
		return 0;
	if (!is(v))
		return lm_plan_field_err(at, key, "not %s%s", what,
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
		return lm_plan_field_err(at, key, "empty");
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
		return lm_plan_field_err(at, key, "not a positive integer");
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
		return lm_plan_field_err(at, key, "not a 40-hex object id");
	memcpy(out, s, LM_OID_HEXSZ + 1);
	return 0;
}

static int get_name(char **out, const cJSON *obj, const loc *at,
		    const char *key)
{
	int rc = dup_string(out, obj, at, key);

	return rc ? rc : lm_plan_check_name(*out, at, key);
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
		return lm_plan_field_err(at, key,
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
		return lm_plan_field_err(at, key, "empty list");
	if (n && !(*out = calloc(n, sizeof(char *))))
		return lm_error_set(LM_ERROR, "out of memory");
	*nout = n;
	cJSON_ArrayForEach(e, a) {
		char buf[PATH_MAX_LEN];
		loc el = lm_plan_sub_index(buf, sizeof(buf), at, key, i);

		if (!cJSON_IsString(e))
			return lm_plan_field_err(&el, "", "not a string");
		if (!((*out)[i] = strdup(e->valuestring)))
			return lm_error_set(LM_ERROR, "out of memory");
		if ((rc = lm_plan_check_name((*out)[i], &el, "")))
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
		return lm_plan_field_err(at, "modules", "empty list");
	in->modules = calloc(n, sizeof(char *));
	in->extras = calloc(n, sizeof(char *));
	in->nmodules = n;
	if (!in->modules || !in->extras)
		return lm_error_set(LM_ERROR, "out of memory");
	cJSON_ArrayForEach(e, a) {
		char buf[PATH_MAX_LEN];
		loc el = lm_plan_sub_index(buf, sizeof(buf), at, "modules", i);

		if (!cJSON_IsObject(e))
			return lm_plan_field_err(&el, "", "not an object");
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
		return lm_plan_field_err(at, key, "'%s' is not up or down", s);
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
		return lm_plan_field_err(at, "app", "'%s' is not the plan's app '%s'",
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
		return lm_plan_field_err(at, "change", "'%s' is not advanced", s);
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
		return lm_plan_field_err(at, "", "not an object");
	if ((rc = get_string(&opname, obj, at, "op", false)))
		return rc;
	if ((op = lm_plan_op_parse(opname)) < 0)
		return lm_plan_field_err(at, "op", "unknown instruction '%s'", opname);
	in->op = (lm_op)op;
	f = lm_plan_op_fields(in->op);
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
		loc el = lm_plan_sub_index(buf, sizeof(buf), at, key, i++);
		lm_instr *in = lm_plan_script_grow(s);

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
	in = lm_plan_sub(buf, sizeof(buf), at, key);
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
		return lm_plan_field_err(&in, "vsn", "'%s' is not the descriptor's '%s'",
				 vsn, sd->desc->vsn);
	return 0;
}

static int module_parse(lm_plan_module *m, const cJSON *obj, const loc *at)
{
	const char *change;
	int rc, c;

	if (!cJSON_IsObject(obj))
		return lm_plan_field_err(at, "", "not an object");
	if ((rc = get_name(&m->name, obj, at, "name")) ||
	    (rc = get_string(&change, obj, at, "change", false)))
		return rc;
	if ((c = lm_plan_change_parse(change)) < 0)
		return lm_plan_field_err(at, "change",
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
		loc el = lm_plan_sub_index(buf, sizeof(buf), at, "modules", i);

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
	in = lm_plan_sub(buf, sizeof(buf), at, key);
	if ((rc = get_id(release, v, &in, "release", nullable)) ||
	    (rc = get_oid(commit, v, &in, "commit", nullable)))
		return rc;
	if ((*release == 0) != (commit[0] == '\0'))
		return lm_plan_field_err(&in, "", "release and commit must both be "
				 "set or both be null");
	return 0;
}

/* The format comes first: a plan from a newer livemod may differ in any
 * other field, and its author should hear about the format, not a field. */
static int format_check(const cJSON *root, const loc *at)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "format");

	if (!f)
		return lm_plan_field_err(at, "format", "missing; not a %s plan",
				 LM_PLAN_FORMAT);
	if (!cJSON_IsString(f))
		return lm_plan_field_err(at, "format", "not a string; not a %s plan",
				 LM_PLAN_FORMAT);
	if (strcmp(f->valuestring, LM_PLAN_FORMAT) != 0)
		return lm_plan_field_err(at, "format",
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
	dn = lm_plan_sub(buf, sizeof(buf), at, "downgrade");
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

