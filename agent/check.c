/*
 * check.c - the comparisons a staged version must pass: the loaded
 * descriptor against the planned one (naming the field that differs) and
 * every export the host holds a ref to against the new version's exports.
 */
#include "internal.h"
#include "imports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int differs(const char *path, const lm_descriptor *got,
		   const char *field, const char *have, const char *want)
{
	return lm_error_set(LM_ECHECK, "%s: module %s differs from the plan: "
			    "%s is '%s', planned '%s'", path, got->name, field,
			    have, want);
}

static const char *cb_text(unsigned cb, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s%s", cb & LM_CB_INIT ? "init " : "",
		 cb & LM_CB_CODE_CHANGE ? "code_change " : "",
		 cb & LM_CB_TERMINATE ? "terminate" : "");
	return buf;
}

int lm__descriptor_compare(const lm_descriptor *got,
			   const lm_descriptor *planned, const char *path)
{
	char a[64], b[64];
	size_t i;

	if (strcmp(got->name, planned->name) != 0)
		return differs(path, got, "name", got->name, planned->name);
	if (strcmp(got->vsn, planned->vsn) != 0)
		return differs(path, got, "vsn", got->vsn, planned->vsn);
	if (got->abi != planned->abi) {
		snprintf(a, sizeof(a), "%u", got->abi);
		snprintf(b, sizeof(b), "%u", planned->abi);
		return differs(path, got, "abi", a, b);
	}
	for (i = 0; i < got->ndeps || i < planned->ndeps; i++) {
		const char *x = i < got->ndeps ? got->deps[i] : "(none)";
		const char *y = i < planned->ndeps ? planned->deps[i] : "(none)";

		if (strcmp(x, y) != 0) {
			snprintf(a, sizeof(a), "deps[%zu]", i);
			return differs(path, got, a, x, y);
		}
	}
	/* A partial descriptor (a bulk ledger read) carries no exports. */
	for (i = 0; !planned->partial &&
		    (i < got->nexports || i < planned->nexports); i++) {
		const lm_export_info *x = i < got->nexports ? &got->exports[i] : NULL;
		const lm_export_info *y =
			i < planned->nexports ? &planned->exports[i] : NULL;

		snprintf(a, sizeof(a), "exports[%zu]", i);
		if (!x || !y || strcmp(x->name, y->name) != 0)
			return differs(path, got, a, x ? x->name : "(none)",
				       y ? y->name : "(none)");
		if (strcmp(x->signature, y->signature) != 0) {
			snprintf(a, sizeof(a), "export %s signature", x->name);
			return differs(path, got, a, x->signature, y->signature);
		}
	}
	if (got->callbacks != planned->callbacks) {
		char c[64], d[64];

		return differs(path, got, "callbacks",
			       cb_text(got->callbacks, c, sizeof(c)),
			       cb_text(planned->callbacks, d, sizeof(d)));
	}
	if (got->purge != planned->purge) {
		const char *x = lm_purge_name(got->purge);
		const char *y = lm_purge_name(planned->purge);

		return differs(path, got, "purge", x ? x : "default",
			       y ? y : "default");
	}
	return 0;
}

const struct lm_export_desc *lm__version_export(const struct lm_version *v,
						 const char *name)
{
	const struct lm_export_desc *e;

	for (e = v->raw->exports_begin; e && e < v->raw->exports_end; e++)
		if (strncmp(e->name, name, LM_NAME_MAX) == 0)
			return e;
	return NULL;
}

/* 1 when `v` exports `name` with the signature `sig` (normalized), 0 when
 * it lacks it, -1 when the signature differs (message set). */
int lm__export_matches(const struct lm_version *v, const char *name,
			  const char *sig, const struct lm_export_desc **e)
{
	*e = lm__version_export(v, name);
	if (!*e)
		return 0;
	if (!lm_sig_equal((*e)->signature, sig))
		return lm_error_set(LM_ECHECK, "module %s %s: export %s has "
				    "signature '%s', the host was built against "
				    "'%s'", v->desc->name, v->desc->vsn, name,
				    (*e)->signature, sig);
	return 1;
}

int lm__version_bind(struct lm_module *mod, struct lm_version *v)
{
	unsigned i;

	for (i = 0; i < mod->nslots; i++) {
		const struct lm_slot *s = &mod->slots[i];
		const struct lm_export_desc *e;
		int rc = lm__export_matches(v, s->name, s->sig, &e);

		if (rc < 0 && s->refs)
			return rc;
		if (rc == 0 && s->refs)
			return lm_error_set(LM_ECHECK, "module %s %s has no "
					    "export %s, which the host uses",
					    v->desc->name, v->desc->vsn, s->name);
		v->vtab[i] = rc > 0 ? e->fn : NULL;
	}
	lm_error_clear();
	return 0;
}

