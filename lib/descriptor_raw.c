/*
 * descriptor_raw.c - a descriptor from the struct lm_module_desc
 * <livemod/module.h> emits: the fields every reader shares, and the
 * reader of a dlopen'ed module's `lm_module_descriptor` (apply time).
 */
#include "descriptor_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* ---------------------------------------------------------------------
 * From a struct lm_module_desc (both readers)
 * ------------------------------------------------------------------- */

/* "<label>: descriptor", the prefix of every message about the fields. */
char *lmd_field_label(const char *label)
{
	char *s;

	return asprintf(&s, "%s: descriptor", label) < 0 ? NULL : s;
}

static int unterminated(const char *label, const char *field, size_t cap)
{
	return lm_error_set(LM_EINVAL,
			    "%s: %s is not NUL-terminated within its %zu bytes",
			    label, field, cap);
}

/* magic, abi and size: the part every ABI shares, checked before the rest
 * is trusted to have this ABI's layout. */
int lmd_check_header(const struct lm_module_desc *raw, const char *label)
{
	int rc;

	if (memcmp(raw->magic, LM_DESC_MAGIC, sizeof(raw->magic)) != 0)
		return lm_error_set(LM_EINVAL, "%s: magic is not \"%s\"", label,
				    LM_DESC_MAGIC);
	if ((rc = lmd_validate_abi(raw->abi, label)) != 0)
		return rc;
	if (raw->size != lmd_desc_size(raw->abi))
		return lm_error_set(LM_EINVAL,
				    "%s: size %u is not the size of an ABI %u "
				    "descriptor (%zu)",
				    label, raw->size, raw->abi,
				    lmd_desc_size(raw->abi));
	return 0;
}

size_t lmd_desc_size(unsigned abi)
{
	return abi == 1 ? LM_DESC_SIZE_ABI1 : sizeof(struct lm_module_desc);
}

/* Deps end at the first empty entry; anything after it would be silently
 * dropped, so it is refused. */
static int deps_from_raw(lm_descriptor *d, const struct lm_module_desc *raw,
			 const char *label)
{
	char field[32];
	size_t i, n;
	int rc;

	for (n = 0; n < LM_DEPS_MAX && raw->deps[n][0]; n++) {
		snprintf(field, sizeof(field), "deps[%zu]", n);
		if (!memchr(raw->deps[n], '\0', LM_NAME_MAX))
			return unterminated(label, field, LM_NAME_MAX);
		if ((rc = lmd_push_dep(d, raw->deps[n])) != 0)
			return rc;
	}
	for (i = n; i < LM_DEPS_MAX; i++)
		if (raw->deps[i][0])
			return lm_error_set(LM_EINVAL,
					    "%s: deps[%zu] follows the empty deps[%zu]",
					    label, i, n);
	return 0;
}

/* A descriptor with name, vsn, abi, deps and purge of `raw`, whose header
 * lmd_check_header() passed. Callbacks and exports are the caller's. */
int lmd_desc_from_raw(lm_descriptor **out, const struct lm_module_desc *raw,
		      const char *label)
{
	lm_descriptor *d;
	int rc;

	*out = NULL;
	if (!memchr(raw->name, '\0', sizeof(raw->name)))
		return unterminated(label, "name", sizeof(raw->name));
	if (!memchr(raw->vsn, '\0', sizeof(raw->vsn)))
		return unterminated(label, "vsn", sizeof(raw->vsn));
	if (raw->purge > LM_BRUTAL_PURGE)
		return lm_error_set(LM_EINVAL,
				    "%s: purge %u is not 0 (default), 1 (soft_purge) "
				    "or 2 (brutal_purge)",
				    label, raw->purge);
	/* Before the exports are compared with the name, or the deps. */
	if ((rc = lmd_validate_name(raw->name, label)) != 0 ||
	    (rc = lmd_validate_vsn(raw->vsn, label)) != 0)
		return rc;
	if (!(d = lm_descriptor_new(raw->name, raw->vsn)))
		return lmd_oom();
	d->abi = raw->abi;
	d->purge = (lm_purge_mode)raw->purge;
	if ((rc = deps_from_raw(d, raw, label)) != 0) {
		lm_descriptor_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

int lmd_exports_from_raw(lm_descriptor *d, const struct lm_export_desc *v,
			 size_t n, const char *label)
{
	char field[48];
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		const struct lm_export_desc *e = &v[i];

		snprintf(field, sizeof(field), "exports[%zu].module", i);
		if (!memchr(e->module, '\0', sizeof(e->module)))
			return unterminated(label, field, sizeof(e->module));
		snprintf(field, sizeof(field), "exports[%zu].name", i);
		if (!memchr(e->name, '\0', sizeof(e->name)))
			return unterminated(label, field, sizeof(e->name));
		snprintf(field, sizeof(field), "exports[%zu].signature", i);
		if (!memchr(e->signature, '\0', sizeof(e->signature)))
			return unterminated(label, field, sizeof(e->signature));
		if (strcmp(e->module, d->name) != 0)
			return lm_error_set(LM_EINVAL,
					    "%s: exports[%zu] '%s' is declared for "
					    "module '%s', not '%s'",
					    label, i, SHOW(e->name),
					    SHOW(e->module), SHOW(d->name));
		if ((rc = lmd_push_export(d, e->name, e->signature)) != 0)
			return rc;
	}
	lmd_sort_exports(d);
	return 0;
}

/* The callbacks whose slots hold a pointer. */
unsigned lmd_callbacks_set(const struct lm_module_desc *m)
{
	unsigned cb = (m->init ? LM_CB_INIT : 0u) |
		      (m->code_change ? LM_CB_CODE_CHANGE : 0u) |
		      (m->terminate ? LM_CB_TERMINATE : 0u);

	/* An ABI 1 descriptor ends before these slots. */
	if (m->abi >= 2)
		cb |= (m->change_commit ? LM_CB_CHANGE_COMMIT : 0u) |
		      (m->change_abort ? LM_CB_CHANGE_ABORT : 0u);
	return cb;
}

/* Validates `d` and hands it out, or frees it. */
int lmd_finish(lm_descriptor **out, lm_descriptor *d, int rc,
	       const char *label)
{
	if (rc == 0)
		rc = lm_descriptor_validate(d, label);
	if (rc != 0) {
		lm_descriptor_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

static int loaded_exports(lm_descriptor *d, const struct lm_module_desc *m,
			  const char *label)
{
	uintptr_t b = (uintptr_t)m->exports_begin;
	uintptr_t e = (uintptr_t)m->exports_end;

	/* Compared as integers: the bounds may be NULL (no lm_exports). */
	if ((b == 0) != (e == 0) || e < b ||
	    (e - b) % sizeof(struct lm_export_desc) != 0)
		return lm_error_set(LM_EINVAL,
				    "%s: exports_begin..exports_end (%p..%p) is not "
				    "an array of exports",
				    label, (const void *)m->exports_begin,
				    (const void *)m->exports_end);
	return lmd_exports_from_raw(d, m->exports_begin,
				(e - b) / sizeof(struct lm_export_desc), label);
}

int lm_descriptor_from_loaded(lm_descriptor **out,
			      const struct lm_module_desc *desc,
			      const char *label)
{
	lm_descriptor *d = NULL;
	char *ctx;
	int rc;

	assert(out && label);
	*out = NULL;
	if (!desc)
		return lm_error_set(LM_EINVAL, "%s: no lm_module_descriptor",
				    label);
	if (!(ctx = lmd_field_label(label)))
		return lmd_oom();
	rc = lmd_check_header(desc, ctx);
	if (rc == 0)
		rc = lmd_desc_from_raw(&d, desc, ctx);
	if (rc == 0) {
		d->callbacks = lmd_callbacks_set(desc);
		rc = loaded_exports(d, desc, ctx);
	}
	rc = lmd_finish(out, d, rc, ctx);
	free(ctx);
	return rc;
}
