/*
 * imports.c - the host's declared imports and the checks against them;
 * see imports.h.
 */
#include "imports.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "descriptor.h"
#include "error.h"
#include "modset.h"
#include "plan.h"

static int ident(int c)
{
	return isalnum(c) || c == '_';
}

/* The next character of `*p` in normal form (0 at the end): a run of
 * whitespace gives ' ' when it stands between two identifier characters
 * (`prev` is the last character given), else nothing. */
static int sig_next(const unsigned char **p, int prev)
{
	const unsigned char *s = *p;

	if (isspace(*s)) {
		while (isspace(*s))
			s++;
		if (prev && *s && ident(prev) && ident(*s)) {
			*p = s;
			return ' ';
		}
	}
	*p = *s ? s + 1 : s;
	return *s;
}

bool lm_sig_equal(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a;
	const unsigned char *y = (const unsigned char *)b;
	int cx = 0, cy = 0;

	do {
		cx = sig_next(&x, cx);
		cy = sig_next(&y, cy);
		if (cx != cy)
			return false;
	} while (cx);
	return true;
}

char *lm_sig_normalize(const char *sig)
{
	const unsigned char *s = (const unsigned char *)sig;
	char *out = malloc(strlen(sig) + 1), *o = out;
	int c = 0;

	if (!out)
		return NULL;
	while ((c = sig_next(&s, c)))
		*o++ = (char)c;
	*o = '\0';
	return out;
}

static const lm_import_decl *find(const lm_imports *im, const char *module,
				  const char *name)
{
	for (size_t i = 0; i < im->n; i++)
		if (strcmp(im->v[i].module, module) == 0 &&
		    strcmp(im->v[i].name, name) == 0)
			return &im->v[i];
	return NULL;
}

int lm_imports_add(lm_imports *im, const char *module, const char *name,
		   const char *signature)
{
	const lm_import_decl *old;
	lm_import_decl d = { 0 }, *nv;
	int rc = 0;

	if (!module || !name || !signature || !*module || !*name || !*signature)
		return lm_error_set(LM_EINVAL, "import: module, name and "
				    "signature are required");
	if (!(d.signature = lm_sig_normalize(signature)))
		return lm_error_set(LM_ERROR, "out of memory");
	if ((old = find(im, module, name))) {
		if (strcmp(old->signature, d.signature) != 0)
			rc = lm_error_set(LM_EINVAL, "import %s.%s declared "
					  "twice, as '%s' and as '%s'", module,
					  name, old->signature, d.signature);
		free(d.signature);
		return rc;
	}
	nv = realloc(im->v, (im->n + 1) * sizeof(*nv));
	if (nv)
		im->v = nv;
	if (!nv || !(d.module = strdup(module)) || !(d.name = strdup(name))) {
		free(d.module);
		free(d.signature);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	im->v[im->n++] = d;
	return 0;
}

void lm_imports_clear(lm_imports *im)
{
	for (size_t i = 0; i < im->n; i++) {
		free(im->v[i].module);
		free(im->v[i].name);
		free(im->v[i].signature);
	}
	free(im->v);
	im->v = NULL;
	im->n = 0;
}

int lm_imports_check_desc(const lm_imports *im, const lm_descriptor *d)
{
	for (size_t i = 0; i < im->n; i++) {
		const lm_import_decl *x = &im->v[i];
		const lm_export_info *e;

		if (strcmp(x->module, d->name) != 0)
			continue;
		if (!(e = lm_descriptor_export(d, x->name)))
			return lm_error_set(LM_ECHECK, "module %s %s lacks export "
					    "%s, which the host declared it "
					    "uses ('%s')", d->name, d->vsn,
					    x->name, x->signature);
		if (!lm_sig_equal(e->signature, x->signature))
			return lm_error_set(LM_ECHECK, "module %s %s: export %s "
					    "has signature '%s', the host "
					    "declared '%s'", d->name, d->vsn,
					    x->name, e->signature,
					    x->signature);
	}
	return 0;
}

int lm_imports_check_set(const lm_imports *im, const lm_modset *set)
{
	int rc = 0;

	for (size_t i = 0; i < im->n; i++)
		if (!lm_modset_find(set, im->v[i].module))
			return lm_error_set(LM_ECHECK, "module %s, which the "
					    "host declared it uses (export %s), "
					    "is not in the release",
					    im->v[i].module, im->v[i].name);
	for (size_t i = 0; i < set->n && rc == 0; i++)
		rc = lm_imports_check_desc(im, set->v[i].desc);
	return rc;
}

int lm_imports_check_plan(const lm_imports *im, const lm_plan *p)
{
	int rc = 0;

	for (size_t i = 0; i < p->nmodules && rc == 0; i++) {
		const lm_plan_module *m = &p->modules[i];
		const lm_import_decl *x = NULL;

		for (size_t k = 0; k < im->n && !x; k++)
			if (strcmp(im->v[k].module, m->name) == 0)
				x = &im->v[k];
		if (!x)
			continue;
		if (!m->new_side)
			rc = lm_error_set(LM_ECHECK, "remove: module %s: the host "
					  "declared it uses its export %s; a "
					  "plan cannot remove it", m->name,
					  x->name);
		else
			rc = lm_imports_check_desc(im, m->new_side->desc);
	}
	return rc;
}
