/*
 * plan_validate.c - the checks of a plan that span fields: every name
 * is a module of the plan, each script has one point_of_no_return where
 * it belongs, code_change only where a version defines it, purges
 * resolved, low-level scripts present with their high-level ones. Runs
 * on every parsed plan and on every plan the planner builds.
 */
#include "plan_internal.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "error.h"

/* ---- cross-field validation ------------------------------------------ */

static const lm_plan_module *plan_module(const lm_plan *p, const char *name)
{
	for (size_t i = 0; i < p->nmodules; i++)
		if (strcmp(p->modules[i].name, name) == 0)
			return &p->modules[i];
	return NULL;
}


static int side_validate(const lm_plan_side *sd, const char *name,
			 const loc *at, const char *key)
{
	char buf[PATH_MAX_LEN];
	loc in = lm_plan_sub(buf, sizeof(buf), at, key);

	if (!sd->file || !sd->file[0])
		return lm_plan_field_err(&in, "file", "empty");
	if (!lm_oid_valid(sd->oid))
		return lm_plan_field_err(&in, "oid", "not a 40-hex object id");
	if (!sd->desc)
		return lm_plan_field_err(&in, "descriptor", "missing");
	if (strcmp(sd->desc->name, name) != 0)
		return lm_plan_field_err(&in, "descriptor.name",
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
		return lm_plan_field_err(at, "name", "'%s' is not a valid module name",
				 m->name ? m->name : "");
	for (size_t j = 0; j < i; j++)
		if (strcmp(p->modules[j].name, m->name) == 0)
			return lm_plan_field_err(at, "name",
					 "'%s' appears twice (also "
					 "modules[%zu])",
					 m->name, j);
	if (!m->old_side != !want_old)
		return lm_plan_field_err(at, "old", want_old ? "missing for a %s module"
					: "must be null for an %s module",
				 lm_change_name(m->change));
	if (!m->new_side != !want_new)
		return lm_plan_field_err(at, "new", want_new ? "missing for a %s module"
					: "must be null for a %s module",
				 lm_change_name(m->change));
	if (m->old_side && (rc = side_validate(m->old_side, m->name, at, "old")))
		return rc;
	if (m->new_side && (rc = side_validate(m->new_side, m->name, at, "new")))
		return rc;
	if (!lm_plan_purge_resolved(m->pre_purge))
		return lm_plan_field_err(at, "pre_purge", "not resolved");
	if (!lm_plan_purge_resolved(m->post_purge))
		return lm_plan_field_err(at, "post_purge", "not resolved");
	if (!m->extra)
		return lm_plan_field_err(at, "extra", "missing");
	return 0;
}

/* The key of module `k` of an instruction, as the JSON file spells it. */
static const char *instr_module_key(char *buf, size_t sz, const lm_instr *in,
				    size_t k)
{
	unsigned f = lm_plan_op_fields(in->op);

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
		return lm_plan_field_err(at, key, "'%s' is %s; code_change needs a "
				 "changed module", m->name,
				 lm_change_name(m->change));
	newer = (p->direction == LM_DOWN) != (m->change == LM_DOWNGRADED)
			? m->old_side : m->new_side;
	if (!(newer->desc->callbacks & LM_CB_CODE_CHANGE))
		return lm_plan_field_err(at, key, "'%s' %s defines no code_change",
				 m->name, newer->desc->vsn);
	return 0;
}

/* What the parser guarantees, checked again for plans built in memory:
 * the rest of this file relies on it. */
static int instr_shape(const lm_instr *in, unsigned f, const loc *at)
{
	if ((f & F_MODULE) && in->nmodules != 1)
		return lm_plan_field_err(at, "module", "%zu modules, not one",
				 in->nmodules);
	if ((f & (F_MODULES | F_CHANGES)) && in->nmodules == 0)
		return lm_plan_field_err(at, "modules", "empty list");
	if ((f & (F_ADVANCED | F_CHANGES)) && !in->extras)
		return lm_plan_field_err(at, "extra", "missing");
	if ((f & F_PURGES) && !lm_plan_purge_resolved(in->pre_purge))
		return lm_plan_field_err(at, "pre_purge", "not resolved");
	if ((f & F_PURGES) && !lm_plan_purge_resolved(in->post_purge))
		return lm_plan_field_err(at, "post_purge", "not resolved");
	return 0;
}

static int instr_validate(const lm_plan *p, const lm_instr *in, int which,
			  const loc *at)
{
	unsigned f;
	int rc;

	if (!lm_plan_op_known(in->op))
		return lm_plan_field_err(at, "op", "unknown instruction %d", (int)in->op);
	f = lm_plan_op_fields(in->op);
	if (!(f & F_HIGH) != !lm_plan_script_is_high(which))
		return lm_plan_field_err(at, "op", "%s is a %s instruction",
				 lm_op_name(in->op),
				 (f & F_HIGH) ? "high-level" : "low-level");
	if ((rc = instr_shape(in, f, at)))
		return rc;
	for (size_t k = 0; k < in->nmodules; k++) {
		char kb[64];
		const char *key = instr_module_key(kb, sizeof(kb), in, k);
		const lm_plan_module *m = plan_module(p, in->modules[k]);

		if (!m)
			return lm_plan_field_err(at, key, "'%s' is not a module of "
					 "this plan", in->modules[k]);
		if ((f & (F_ADVANCED | F_CHANGES)) &&
		    (rc = code_change_check(p, m, at, key)))
			return rc;
		if ((f & F_CHANGES) && in->mode != lm_plan_script_mode(p, which, m))
			return lm_plan_field_err(at, "mode", "%s, but this script goes "
					 "%s%s%s", lm_plan_mode_name(in->mode),
					 lm_plan_mode_name(lm_plan_script_mode(p, which, m)),
					 m->change == LM_DOWNGRADED
						 ? " for downgraded " : "",
					 m->change == LM_DOWNGRADED ? m->name
								    : "");
	}
	for (size_t k = 0; k < in->ndep_mods; k++) {
		char kb[64];

		snprintf(kb, sizeof(kb), "dep_mods[%zu]", k);
		if ((rc = lm_plan_check_name(in->dep_mods[k], at, kb)))
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
		loc el = lm_plan_sub_index(buf, sizeof(buf), &(loc){at->label, ""},
				   at->path, i);
		lm_op op = s->v[i].op;

		if (op == LM_OP_POINT_OF_NO_RETURN && ponr < s->n)
			return lm_plan_field_err(&el, "", "a second point_of_no_return"
					 " (the first is [%zu])", ponr);
		if (op == LM_OP_POINT_OF_NO_RETURN)
			ponr = i;
		else if (op == LM_OP_LOAD_OBJECT_CODE && ponr < s->n)
			return lm_plan_field_err(&el, "", "load_object_code after "
					 "point_of_no_return");
		else if (op != LM_OP_LOAD_OBJECT_CODE && ponr == s->n)
			return lm_plan_field_err(&el, "", "%s before point_of_no_return"
					 " (only load_object_code may come "
					 "before it)", lm_op_name(op));
	}
	if (ponr == s->n)
		return lm_plan_field_err(at, "", "no point_of_no_return");
	return 0;
}

static int script_validate(const lm_plan *p, int which, const char *label)
{
	const lm_script *s = lm_plan_script_c(p, which);
	loc at = {label, lm_plan_script_paths[which]};
	int rc;

	for (size_t i = 0; i < s->n; i++) {
		char buf[PATH_MAX_LEN];
		loc el = lm_plan_sub_index(buf, sizeof(buf), &(loc){label, ""},
				   lm_plan_script_paths[which], i);

		if ((rc = instr_validate(p, &s->v[i], which, &el)))
			return rc;
	}
	if (!lm_plan_script_is_high(which)) {
		/* each low-level script follows its high-level one */
		const lm_script *high = lm_plan_script_c(p, which - 1);

		assert(lm_plan_script_is_high(which - 1));
		if ((high->n == 0) != (s->n == 0))
			return lm_plan_field_err(&at, "", high->n
					 ? "empty while %s is not"
					 : "not empty while %s is empty",
					 lm_plan_script_paths[which - 1]);
		return ponr_validate(s, &at);
	}
	return 0;
}

int lm_plan_validate(const lm_plan *p, const char *label)
{
	loc top = {label ? label : "plan", ""};
	int rc;

	if (!p->app || !p->app[0])
		return lm_plan_field_err(&top, "app", "empty");
	for (size_t i = 0; i < p->nmodules; i++) {
		char buf[PATH_MAX_LEN];
		loc el = lm_plan_sub_index(buf, sizeof(buf), &top, "modules", i);

		if ((rc = module_validate(p, i, &el)))
			return rc;
	}
	for (int w = 0; w < NSCRIPTS; w++)
		if ((rc = script_validate(p, w, top.label)))
			return rc;
	return 0;
}

