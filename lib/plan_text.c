/*
 * plan_text.c - a script as OTP term text, so that an Erlang operator
 * reads a plan at sight (`livemod show`, `plan --dry-run`):
 * {load_module, mod_a, brutal_purge, brutal_purge, []}.
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
	assert(lm_plan_purge_resolved(in->pre_purge) && lm_plan_purge_resolved(in->post_purge));
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
		fprintf(f, "{%s,%s,[", name, lm_plan_mode_name(in->mode));
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
