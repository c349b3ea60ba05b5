/*
 * descriptor_text.c - the compact text forms the ledger stores: deps as
 * "a b c", exports one "name\tsignature" a line.
 */
#include "descriptor_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* ---------------------------------------------------------------------
 * Text forms (ledger)
 * ------------------------------------------------------------------- */

/* A growing string; `failed` sticks after the first allocation failure so
 * callers check once at the end. */
typedef struct strbuf {
	char *s;
	size_t len, cap;
	bool failed;
} strbuf;

static void sb_add(strbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->s, cap);

		if (!p) {
			b->failed = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n + 1);
	b->len += n;
}

/* The string, "" when nothing was added; NULL after a failure. */
static char *sb_finish(strbuf *b)
{
	sb_add(b, "");
	if (b->failed) {
		free(b->s);
		return NULL;
	}
	return b->s;
}

char *lm_descriptor_deps_text(const lm_descriptor *d)
{
	strbuf b = { 0 };
	size_t i;

	assert(d);
	for (i = 0; i < d->ndeps; i++) {
		if (i)
			sb_add(&b, " ");
		sb_add(&b, d->deps[i]);
	}
	return sb_finish(&b);
}

char *lm_descriptor_exports_text(const lm_descriptor *d)
{
	strbuf b = { 0 };
	size_t i;

	assert(d);
	for (i = 0; i < d->nexports; i++) {
		sb_add(&b, d->exports[i].name);
		sb_add(&b, "\t");
		sb_add(&b, d->exports[i].signature);
		sb_add(&b, "\n");
	}
	return sb_finish(&b);
}

/* Label of the text-form setters, which have no file to name. */
static const char *text_label(const lm_descriptor *d, char *buf, size_t cap)
{
	/* Built on every ledger row read, so no printf: the ledger reads
	 * 10,000 of these on a warm plan. */
	const char *name = d->name && d->name[0] ? SHOW(d->name) : "?";
	size_t n = strnlen(name, cap - 11);

	memcpy(buf, "module '", 8);
	memcpy(buf + 8, name, n);
	memcpy(buf + 8 + n, "'", 2);
	return buf;
}

/* Moves the deps or exports of `src` into `dst`, freeing dst's old ones. */
static void take_deps(lm_descriptor *dst, lm_descriptor *src)
{
	lmd_free_strings(dst->deps, dst->ndeps);
	dst->deps = src->deps;
	dst->ndeps = src->ndeps;
	src->deps = NULL;
	src->ndeps = 0;
}

static void take_exports(lm_descriptor *dst, lm_descriptor *src)
{
	lmd_free_exports(dst->exports, dst->nexports);
	dst->exports = src->exports;
	dst->nexports = src->nexports;
	src->exports = NULL;
	src->nexports = 0;
}

int lm_descriptor_set_deps_text(lm_descriptor *d, const char *text)
{
	char label[LM_NAME_MAX + 16];
	lm_descriptor tmp = { 0 };
	char *copy, *tok, *save = NULL;
	int rc = 0;

	assert(d && text);
	if (!text[0]) {
		/* Most modules depend on nothing; the ledger reads thousands
		 * of these per plan, and there is nothing to validate. */
		take_deps(d, &tmp);
		return 0;
	}
	text_label(d, label, sizeof(label));
	if (!(copy = strdup(text)))
		return lmd_oom();
	for (tok = strtok_r(copy, " ", &save); tok && rc == 0;
	     tok = strtok_r(NULL, " ", &save))
		rc = lmd_push_dep(&tmp, tok);
	free(copy);
	if (rc == 0)
		rc = lmd_validate_deps(tmp.deps, tmp.ndeps, d->name, label);
	if (rc == 0)
		take_deps(d, &tmp);
	lmd_free_strings(tmp.deps, tmp.ndeps);
	return rc;
}

/* One "name\tsignature" line of `len` bytes (no newline) into `tmp`. */
static int parse_export_line(lm_descriptor *tmp, const char *line,
			     size_t len, size_t lineno, const char *label)
{
	const char *tab = memchr(line, '\t', len);
	char *name, *sig;
	int rc;

	if (!tab)
		return lm_error_set(LM_EINVAL,
				    "%s: exports text line %zu: no tab between "
				    "name and signature",
				    label, lineno);
	name = strndup(line, (size_t)(tab - line));
	sig = strndup(tab + 1, len - (size_t)(tab - line) - 1);
	rc = (name && sig) ? lmd_push_export(tmp, name, sig) : lmd_oom();
	free(name);
	free(sig);
	return rc;
}

int lm_descriptor_set_exports_text(lm_descriptor *d, const char *text)
{
	char label[LM_NAME_MAX + 16];
	lm_descriptor tmp = { 0 };
	const char *p = text;
	size_t lineno = 1;
	int rc = 0;

	assert(d && text);
	text_label(d, label, sizeof(label));
	while (*p && rc == 0) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		rc = parse_export_line(&tmp, p, len, lineno++, label);
		p += len + (nl ? 1 : 0);
	}
	if (rc == 0) {
		lmd_sort_exports(&tmp);
		rc = lmd_validate_exports(tmp.exports, tmp.nexports, label);
	}
	if (rc == 0)
		take_exports(d, &tmp);
	lmd_free_exports(tmp.exports, tmp.nexports);
	return rc;
}
