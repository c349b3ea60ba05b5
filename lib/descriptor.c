/*
 * descriptor.c - a module's descriptor: the model (names, purge modes,
 * memory, copies) and the one validator every reader runs, so a module is
 * judged by the same rules whichever way it was read. The codecs are
 * descriptor_text.c (the ledger's text forms), descriptor_json.c (plans),
 * descriptor_raw.c (a struct lm_module_desc, as a dlopen'ed module has it)
 * and descriptor_elf.c (the ELF file, with libelf, no module code run);
 * descriptor_internal.h is what they share.
 */
#include "descriptor_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* ---------------------------------------------------------------------
 * Names, versions, signatures
 * ------------------------------------------------------------------- */

bool lm_module_name_valid(const char *name)
{
	size_t i;

	if (!name || !(name[0] >= 'a' && name[0] <= 'z'))
		return false;
	for (i = 1; name[i]; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
	}
	return i < LM_NAME_MAX;
}

bool lm_vsn_valid(const char *vsn)
{
	size_t i;

	if (!vsn || !vsn[0])
		return false;
	for (i = 0; vsn[i]; i++) {
		unsigned char c = (unsigned char)vsn[i];

		/* The excluded characters would need quoting in an OTP term
		 * or in the ledger's text forms. */
		if (c <= ' ' || c >= 0x7f || strchr("\"\\,{}[]", c))
			return false;
	}
	return i < LM_VSN_MAX;
}

static bool c_identifier_valid(const char *s)
{
	size_t i;

	if (!s || !((s[0] >= 'a' && s[0] <= 'z') ||
		    (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return false;
	for (i = 1; s[i]; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return i < LM_NAME_MAX;
}

/* Printable ASCII, spaces allowed: tabs and newlines are the separators of
 * the ledger's exports text. */
static bool signature_valid(const char *s)
{
	size_t i;

	if (!s || !s[0])
		return false;
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] < ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	return i < LM_SIG_MAX;
}

/* Text from a file may hold anything: show it in messages with every
 * unprintable byte as '?', cut to the buffer. */
const char *lmd_shown(const char *s, char *buf, size_t cap)
{
	size_t i;

	assert(cap > 0);
	if (!s)
		s = "(null)";
	for (i = 0; s[i] && i + 1 < cap; i++)
		buf[i] = ((unsigned char)s[i] < ' ' ||
			  (unsigned char)s[i] >= 0x7f) ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}


/* ---------------------------------------------------------------------
 * Purge modes, callbacks
 * ------------------------------------------------------------------- */

const char *lm_purge_name(lm_purge_mode m)
{
	switch (m) {
	case LM_SOFT_PURGE:
		return "soft_purge";
	case LM_BRUTAL_PURGE:
		return "brutal_purge";
	default:
		return NULL;
	}
}

int lm_purge_parse(const char *s)
{
	if (s && strcmp(s, "soft_purge") == 0)
		return LM_SOFT_PURGE;
	if (s && strcmp(s, "brutal_purge") == 0)
		return LM_BRUTAL_PURGE;
	return -1;
}

const struct lmd_callback_name lmd_callback_names[LMD_NCALLBACKS] = {
	{ LM_CB_INIT, "init" },
	{ LM_CB_CODE_CHANGE, "code_change" },
	{ LM_CB_TERMINATE, "terminate" },
	{ LM_CB_CHANGE_COMMIT, "change_commit" },
	{ LM_CB_CHANGE_ABORT, "change_abort" },
};


/* ---------------------------------------------------------------------
 * Memory
 * ------------------------------------------------------------------- */

void lmd_free_exports(lm_export_info *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].signature);
	}
	free(v);
}

void lmd_free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void lm_descriptor_free(lm_descriptor *d)
{
	if (!d)
		return;
	/* name and vsn live in d's own block (lm_descriptor_new) */
	lmd_free_strings(d->deps, d->ndeps);
	lmd_free_exports(d->exports, d->nexports);
	free(d);
}

int lmd_oom(void)
{
	return lm_error_set(LM_ERROR, "out of memory");
}

lm_descriptor *lm_descriptor_new(const char *name, const char *vsn)
{
	size_t nl, vl;
	lm_descriptor *d;

	name = name ? name : "";
	vsn = vsn ? vsn : "";
	nl = strlen(name) + 1;
	vl = strlen(vsn) + 1;
	if (!(d = calloc(1, sizeof(*d) + nl + vl)))
		return NULL;
	d->name = memcpy((char *)(d + 1), name, nl);
	d->vsn = memcpy(d->name + nl, vsn, vl);
	return d;
}

int lmd_push_dep(lm_descriptor *d, const char *dep)
{
	char **v = realloc(d->deps, (d->ndeps + 1) * sizeof(*v));

	if (!v)
		return lmd_oom();
	d->deps = v;
	if (!(v[d->ndeps] = strdup(dep)))
		return lmd_oom();
	d->ndeps++;
	return 0;
}

int lmd_push_export(lm_descriptor *d, const char *name, const char *sig)
{
	lm_export_info *v = realloc(d->exports, (d->nexports + 1) * sizeof(*v));
	lm_export_info *e;

	if (!v)
		return lmd_oom();
	d->exports = v;
	e = &v[d->nexports];
	e->name = strdup(name);
	e->signature = strdup(sig);
	if (!e->name || !e->signature) {
		free(e->name);
		free(e->signature);
		return lmd_oom();
	}
	d->nexports++;
	return 0;
}

lm_descriptor *lm_descriptor_dup(const lm_descriptor *d)
{
	lm_descriptor *c;
	size_t i;

	if (!d)
		return NULL;
	if (!(c = lm_descriptor_new(d->name, d->vsn)))
		return NULL;
	c->abi = d->abi;
	c->callbacks = d->callbacks;
	c->purge = d->purge;
	c->partial = d->partial;
	for (i = 0; i < d->ndeps; i++)
		if (lmd_push_dep(c, d->deps[i]) != 0)
			goto fail;
	for (i = 0; i < d->nexports; i++)
		if (lmd_push_export(c, d->exports[i].name,
				d->exports[i].signature) != 0)
			goto fail;
	return c;
fail:
	lm_descriptor_free(c);
	return NULL;
}

static int export_cmp(const void *a, const void *b)
{
	return strcmp(((const lm_export_info *)a)->name,
		      ((const lm_export_info *)b)->name);
}

void lmd_sort_exports(lm_descriptor *d)
{
	if (d->nexports > 1)
		qsort(d->exports, d->nexports, sizeof(*d->exports),
		      export_cmp);
}

/* ---------------------------------------------------------------------
 * Validation
 * ------------------------------------------------------------------- */

int lmd_validate_name(const char *name, const char *label)
{
	if (!name || !name[0])
		return lm_error_set(LM_EINVAL, "%s: name is empty", label);
	if (strlen(name) >= LM_NAME_MAX)
		return lm_error_set(LM_EINVAL,
				    "%s: name '%.20s...' is longer than %d characters",
				    label, SHOW(name), LM_NAME_MAX - 1);
	if (!lm_module_name_valid(name))
		return lm_error_set(LM_EINVAL,
				    "%s: name '%s' is not [a-z][a-z0-9_]*",
				    label, SHOW(name));
	return 0;
}

int lmd_validate_vsn(const char *vsn, const char *label)
{
	if (!vsn || !vsn[0])
		return lm_error_set(LM_EINVAL, "%s: vsn is empty", label);
	if (!lm_vsn_valid(vsn))
		return lm_error_set(LM_EINVAL,
				    "%s: vsn '%s' is not 1..%d printable characters "
				    "without space, quote, backslash, comma, "
				    "braces or brackets",
				    label, SHOW(vsn), LM_VSN_MAX - 1);
	return 0;
}

int lmd_validate_abi(unsigned abi, const char *label)
{
	if (abi == 0)
		return lm_error_set(LM_EINVAL, "%s: abi 0 is not a livemod ABI",
				    label);
	if (abi > LM_ABI_VERSION)
		return lm_error_set(LM_EINVAL,
				    "%s: abi: ABI %u is newer than this livemod's (%d)",
				    label, abi, LM_ABI_VERSION);
	return 0;
}

/* Deps of module `self`: valid names, at most LM_DEPS_MAX, no duplicate,
 * not `self`. Quadratic, but n <= 16. */
int lmd_validate_deps(char *const *deps, size_t n, const char *self,
		      const char *label)
{
	size_t i, j;

	if (n > LM_DEPS_MAX)
		return lm_error_set(LM_EINVAL,
				    "%s: deps: %zu dependencies, at most %d allowed",
				    label, n, LM_DEPS_MAX);
	for (i = 0; i < n; i++) {
		if (!lm_module_name_valid(deps[i]))
			return lm_error_set(LM_EINVAL,
					    "%s: deps[%zu]: '%s' is not a module name "
					    "([a-z][a-z0-9_]*)",
					    label, i, SHOW(deps[i]));
		if (self && strcmp(deps[i], self) == 0)
			return lm_error_set(LM_EINVAL,
					    "%s: deps[%zu]: module '%s' depends on itself",
					    label, i, SHOW(self));
		for (j = 0; j < i; j++)
			if (strcmp(deps[i], deps[j]) == 0)
				return lm_error_set(LM_EINVAL,
						    "%s: deps[%zu]: '%s' is listed twice",
						    label, i, deps[i]);
	}
	return 0;
}

static int validate_export(const lm_export_info *e, const char *label)
{
	if (!c_identifier_valid(e->name))
		return lm_error_set(LM_EINVAL,
				    "%s: exports: name '%s' is not a C identifier",
				    label, SHOW(e->name));
	if (!e->signature || !e->signature[0])
		return lm_error_set(LM_EINVAL,
				    "%s: export '%s': signature is empty",
				    label, e->name);
	if (!signature_valid(e->signature))
		return lm_error_set(LM_EINVAL,
				    "%s: export '%s': signature '%s' is not 1..%d "
				    "printable characters",
				    label, e->name, SHOW(e->signature),
				    LM_SIG_MAX - 1);
	return 0;
}

/* Exports must be sorted by name with no duplicate (lookups bsearch). */
int lmd_validate_exports(const lm_export_info *v, size_t n,
			 const char *label)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		if ((rc = validate_export(&v[i], label)) != 0)
			return rc;
		if (i == 0)
			continue;
		rc = strcmp(v[i - 1].name, v[i].name);
		if (rc == 0)
			return lm_error_set(LM_EINVAL,
					    "%s: export '%s' is declared twice",
					    label, v[i].name);
		if (rc > 0)
			return lm_error_set(LM_EINVAL,
					    "%s: exports: not sorted by name ('%s' "
					    "before '%s')",
					    label, v[i - 1].name, v[i].name);
	}
	return 0;
}

int lm_descriptor_validate(const lm_descriptor *d, const char *label)
{
	int rc;

	assert(label);
	if (!d)
		return lm_error_set(LM_EINVAL, "%s: no descriptor", label);
	if ((rc = lmd_validate_name(d->name, label)) != 0 ||
	    (rc = lmd_validate_vsn(d->vsn, label)) != 0 ||
	    (rc = lmd_validate_abi(d->abi, label)) != 0 ||
	    (rc = lmd_validate_deps(d->deps, d->ndeps, d->name, label)) != 0 ||
	    (rc = lmd_validate_exports(d->exports, d->nexports, label)) != 0)
		return rc;
	if (d->callbacks & ~(unsigned)LM_CB_ALL)
		return lm_error_set(LM_EINVAL,
				    "%s: callbacks: unknown bits 0x%x", label,
				    d->callbacks & ~(unsigned)LM_CB_ALL);
	if ((d->callbacks & LM_CB_MOVE) && d->abi < 2)
		return lm_error_set(LM_EINVAL,
				    "%s: callbacks: change_commit and "
				    "change_abort need ABI 2 (abi is %u)",
				    label, d->abi);
	if ((d->callbacks & LM_CB_MOVE) &&
	    (d->callbacks & LM_CB_MOVE) != LM_CB_MOVE)
		return lm_error_set(LM_EINVAL,
				    "%s: callbacks: %s without %s: a module that "
				    "moves its state defines both",
				    label,
				    d->callbacks & LM_CB_CHANGE_COMMIT ?
				    "change_commit" : "change_abort",
				    d->callbacks & LM_CB_CHANGE_COMMIT ?
				    "change_abort" : "change_commit");
	if ((unsigned)d->purge > LM_BRUTAL_PURGE)
		return lm_error_set(LM_EINVAL,
				    "%s: purge: %u is not a purge mode", label,
				    (unsigned)d->purge);
	/* what passes here passes the ledger's quick check */
	assert(lm_descriptor_head_valid(d));
	return 0;
}

bool lm_descriptor_head_valid(const lm_descriptor *d)
{
	unsigned move = d->callbacks & LM_CB_MOVE;

	return lm_module_name_valid(d->name) && lm_vsn_valid(d->vsn) &&
	       d->abi >= 1 && d->abi <= LM_ABI_VERSION &&
	       !(d->callbacks & ~(unsigned)LM_CB_ALL) &&
	       (!move || (d->abi >= 2 && move == LM_CB_MOVE)) &&
	       (unsigned)d->purge <= LM_BRUTAL_PURGE;
}

bool lm_descriptor_equal(const lm_descriptor *a, const lm_descriptor *b)
{
	size_t i;

	if (a == b)
		return true;
	if (!a || !b)
		return false;
	if (strcmp(a->name, b->name) != 0 || strcmp(a->vsn, b->vsn) != 0 ||
	    a->abi != b->abi || a->callbacks != b->callbacks ||
	    a->purge != b->purge || a->ndeps != b->ndeps ||
	    a->nexports != b->nexports)
		return false;
	for (i = 0; i < a->ndeps; i++)
		if (strcmp(a->deps[i], b->deps[i]) != 0)
			return false;
	for (i = 0; i < a->nexports; i++)
		if (strcmp(a->exports[i].name, b->exports[i].name) != 0 ||
		    strcmp(a->exports[i].signature,
			   b->exports[i].signature) != 0)
			return false;
	return true;
}

const lm_export_info *lm_descriptor_export(const lm_descriptor *d,
					   const char *name)
{
	lm_export_info key = { .name = (char *)name };

	if (!d || !name || d->nexports == 0)
		return NULL;
	return bsearch(&key, d->exports, d->nexports, sizeof(key),
		       export_cmp);
}
