/*
 * descriptor.c - a module's descriptor: validation, copies, the JSON form
 * of plans, the text forms of the ledger, and the two readers: from the ELF
 * file with libelf (plan time, no module code runs) and from the struct of
 * a dlopen'ed module (apply time).
 *
 * Both readers build an lm_descriptor and then run the one validator, so a
 * module is judged by the same rules whichever way it was read.
 */
#include "descriptor.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elflib.h"
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
static const char *shown(const char *s, char *buf, size_t cap)
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

#define SHOWN_MAX 256
#define SHOW(s) shown((s), (char[SHOWN_MAX]){0}, SHOWN_MAX)

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

static const struct {
	unsigned bit;
	const char *name;
} callback_names[] = {
	{ LM_CB_INIT, "init" },
	{ LM_CB_CODE_CHANGE, "code_change" },
	{ LM_CB_TERMINATE, "terminate" },
};

#define NCALLBACKS (sizeof(callback_names) / sizeof(callback_names[0]))
#define LM_CB_ALL (LM_CB_INIT | LM_CB_CODE_CHANGE | LM_CB_TERMINATE)

/* ---------------------------------------------------------------------
 * Memory
 * ------------------------------------------------------------------- */

static void free_exports(lm_export_info *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].signature);
	}
	free(v);
}

static void free_strings(char **v, size_t n)
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
	free_strings(d->deps, d->ndeps);
	free_exports(d->exports, d->nexports);
	free(d);
}

static int oom(void)
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

static int push_dep(lm_descriptor *d, const char *dep)
{
	char **v = realloc(d->deps, (d->ndeps + 1) * sizeof(*v));

	if (!v)
		return oom();
	d->deps = v;
	if (!(v[d->ndeps] = strdup(dep)))
		return oom();
	d->ndeps++;
	return 0;
}

static int push_export(lm_descriptor *d, const char *name, const char *sig)
{
	lm_export_info *v = realloc(d->exports, (d->nexports + 1) * sizeof(*v));
	lm_export_info *e;

	if (!v)
		return oom();
	d->exports = v;
	e = &v[d->nexports];
	e->name = strdup(name);
	e->signature = strdup(sig);
	if (!e->name || !e->signature) {
		free(e->name);
		free(e->signature);
		return oom();
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
		if (push_dep(c, d->deps[i]) != 0)
			goto fail;
	for (i = 0; i < d->nexports; i++)
		if (push_export(c, d->exports[i].name,
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

static void sort_exports(lm_descriptor *d)
{
	if (d->nexports > 1)
		qsort(d->exports, d->nexports, sizeof(*d->exports),
		      export_cmp);
}

/* ---------------------------------------------------------------------
 * Validation
 * ------------------------------------------------------------------- */

static int validate_name(const char *name, const char *label)
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

static int validate_vsn(const char *vsn, const char *label)
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

static int validate_abi(unsigned abi, const char *label)
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
static int validate_deps(char *const *deps, size_t n, const char *self,
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
static int validate_exports(const lm_export_info *v, size_t n,
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
	if ((rc = validate_name(d->name, label)) != 0 ||
	    (rc = validate_vsn(d->vsn, label)) != 0 ||
	    (rc = validate_abi(d->abi, label)) != 0 ||
	    (rc = validate_deps(d->deps, d->ndeps, d->name, label)) != 0 ||
	    (rc = validate_exports(d->exports, d->nexports, label)) != 0)
		return rc;
	if (d->callbacks & ~(unsigned)LM_CB_ALL)
		return lm_error_set(LM_EINVAL,
				    "%s: callbacks: unknown bits 0x%x", label,
				    d->callbacks & ~(unsigned)LM_CB_ALL);
	if ((unsigned)d->purge > LM_BRUTAL_PURGE)
		return lm_error_set(LM_EINVAL,
				    "%s: purge: %u is not a purge mode", label,
				    (unsigned)d->purge);
	return 0;
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
	free_strings(dst->deps, dst->ndeps);
	dst->deps = src->deps;
	dst->ndeps = src->ndeps;
	src->deps = NULL;
	src->ndeps = 0;
}

static void take_exports(lm_descriptor *dst, lm_descriptor *src)
{
	free_exports(dst->exports, dst->nexports);
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
		return oom();
	for (tok = strtok_r(copy, " ", &save); tok && rc == 0;
	     tok = strtok_r(NULL, " ", &save))
		rc = push_dep(&tmp, tok);
	free(copy);
	if (rc == 0)
		rc = validate_deps(tmp.deps, tmp.ndeps, d->name, label);
	if (rc == 0)
		take_deps(d, &tmp);
	free_strings(tmp.deps, tmp.ndeps);
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
	rc = (name && sig) ? push_export(tmp, name, sig) : oom();
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
		sort_exports(&tmp);
		rc = validate_exports(tmp.exports, tmp.nexports, label);
	}
	if (rc == 0)
		take_exports(d, &tmp);
	free_exports(tmp.exports, tmp.nexports);
	return rc;
}

/* ---------------------------------------------------------------------
 * JSON form (plans)
 * ------------------------------------------------------------------- */

static cJSON *strings_json(char *const *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; a && i < n; i++) {
		cJSON *s = cJSON_CreateString(v[i]);

		if (!s || !cJSON_AddItemToArray(a, s)) {
			cJSON_Delete(s);
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

static cJSON *exports_json(const lm_descriptor *d)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; a && i < d->nexports; i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(a, o)) {
			cJSON_Delete(o);
			cJSON_Delete(a);
			return NULL;
		}
		/* From here `a` owns `o`. */
		if (!cJSON_AddStringToObject(o, "name", d->exports[i].name) ||
		    !cJSON_AddStringToObject(o, "signature",
					     d->exports[i].signature)) {
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

static cJSON *callbacks_json(unsigned callbacks)
{
	const char *v[NCALLBACKS];
	size_t i, n = 0;

	for (i = 0; i < NCALLBACKS; i++)
		if (callbacks & callback_names[i].bit)
			v[n++] = callback_names[i].name;
	return strings_json((char *const *)v, n);
}

/* Adds `item` (may be NULL after a failed create) under `key`. */
static bool add_item(cJSON *o, const char *key, cJSON *item)
{
	if (!item || !cJSON_AddItemToObject(o, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

cJSON *lm_descriptor_to_json(const lm_descriptor *d)
{
	const char *purge;
	cJSON *o;
	bool ok;

	assert(d && !d->partial);
	purge = lm_purge_name(d->purge);
	if (!(o = cJSON_CreateObject()))
		return NULL;
	ok = cJSON_AddStringToObject(o, "name", d->name) &&
	     cJSON_AddStringToObject(o, "vsn", d->vsn) &&
	     cJSON_AddNumberToObject(o, "abi", d->abi) &&
	     add_item(o, "deps", strings_json(d->deps, d->ndeps)) &&
	     add_item(o, "exports", exports_json(d)) &&
	     add_item(o, "callbacks", callbacks_json(d->callbacks)) &&
	     add_item(o, "purge", purge ? cJSON_CreateString(purge)
					: cJSON_CreateNull());
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* The string member `key` of `o`; LM_EINVAL naming it when missing or not
 * a string. */
static int json_string(const cJSON *o, const char *key, const char *label,
		       const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(v) || !v->valuestring)
		return lm_error_set(LM_EINVAL, "%s: %s: %s", label, key,
				    v ? "not a string" : "missing");
	*out = v->valuestring;
	return 0;
}

static int json_array(const cJSON *o, const char *key, const char *label,
		      const cJSON **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsArray(v))
		return lm_error_set(LM_EINVAL, "%s: %s: %s", label, key,
				    v ? "not an array" : "missing");
	*out = v;
	return 0;
}

static int abi_from_json(lm_descriptor *d, const cJSON *o, const char *label)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "abi");
	double x;

	if (!cJSON_IsNumber(v))
		return lm_error_set(LM_EINVAL, "%s: abi: %s", label,
				    v ? "not a number" : "missing");
	x = v->valuedouble;
	/* In range first, so the cast is defined; equal back if integral. */
	if (!(x >= 0 && x <= UINT32_MAX) || (double)(uint32_t)x != x)
		return lm_error_set(LM_EINVAL,
				    "%s: abi: %g is not an ABI version", label, x);
	d->abi = (unsigned)x;
	return 0;
}

static int deps_from_json(lm_descriptor *d, const cJSON *o, const char *label)
{
	const cJSON *a, *v;
	size_t i = 0;
	int rc;

	if ((rc = json_array(o, "deps", label, &a)) != 0)
		return rc;
	cJSON_ArrayForEach(v, a) {
		if (!cJSON_IsString(v) || !v->valuestring)
			return lm_error_set(LM_EINVAL,
					    "%s: deps[%zu]: not a string", label, i);
		if ((rc = push_dep(d, v->valuestring)) != 0)
			return rc;
		i++;
	}
	return 0;
}

static int exports_from_json(lm_descriptor *d, const cJSON *o,
			     const char *label)
{
	const cJSON *a, *v;
	size_t i = 0;
	int rc;

	if ((rc = json_array(o, "exports", label, &a)) != 0)
		return rc;
	cJSON_ArrayForEach(v, a) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(v, "name");
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(v, "signature");

		if (!cJSON_IsObject(v))
			return lm_error_set(LM_EINVAL,
					    "%s: exports[%zu]: not an object",
					    label, i);
		if (!cJSON_IsString(n) || !n->valuestring)
			return lm_error_set(LM_EINVAL,
					    "%s: exports[%zu].name: %s", label, i,
					    n ? "not a string" : "missing");
		if (!cJSON_IsString(s) || !s->valuestring)
			return lm_error_set(LM_EINVAL,
					    "%s: exports[%zu].signature: %s",
					    label, i,
					    s ? "not a string" : "missing");
		if ((rc = push_export(d, n->valuestring, s->valuestring)) != 0)
			return rc;
		i++;
	}
	sort_exports(d);
	return 0;
}

static int callback_bit(const char *name)
{
	size_t i;

	for (i = 0; i < NCALLBACKS; i++)
		if (strcmp(name, callback_names[i].name) == 0)
			return (int)callback_names[i].bit;
	return 0;
}

static int callbacks_from_json(lm_descriptor *d, const cJSON *o,
			       const char *label)
{
	const cJSON *a, *v;
	size_t i = 0;
	int rc, bit;

	if ((rc = json_array(o, "callbacks", label, &a)) != 0)
		return rc;
	cJSON_ArrayForEach(v, a) {
		if (!cJSON_IsString(v) || !v->valuestring)
			return lm_error_set(LM_EINVAL,
					    "%s: callbacks[%zu]: not a string",
					    label, i);
		if (!(bit = callback_bit(v->valuestring)))
			return lm_error_set(LM_EINVAL,
					    "%s: callbacks[%zu]: '%s' is not init, "
					    "code_change or terminate",
					    label, i, SHOW(v->valuestring));
		if (d->callbacks & (unsigned)bit)
			return lm_error_set(LM_EINVAL,
					    "%s: callbacks[%zu]: '%s' is listed twice",
					    label, i, v->valuestring);
		d->callbacks |= (unsigned)bit;
		i++;
	}
	return 0;
}

/* "purge" may be absent or null (the plan decides), or a purge name. */
static int purge_from_json(lm_descriptor *d, const cJSON *o, const char *label)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "purge");
	int m;

	if (!v || cJSON_IsNull(v)) {
		d->purge = LM_PURGE_DEFAULT;
		return 0;
	}
	if (!cJSON_IsString(v) || (m = lm_purge_parse(v->valuestring)) < 0)
		return lm_error_set(LM_EINVAL,
				    "%s: purge: not soft_purge, brutal_purge or null",
				    label);
	d->purge = (lm_purge_mode)m;
	return 0;
}

int lm_descriptor_from_json(lm_descriptor **out, const cJSON *json,
			    const char *label)
{
	const char *name, *vsn;
	lm_descriptor *d;
	int rc;

	assert(out && label);
	*out = NULL;
	if (!cJSON_IsObject(json))
		return lm_error_set(LM_EINVAL, "%s: descriptor is not an object",
				    label);
	if ((rc = json_string(json, "name", label, &name)) != 0 ||
	    (rc = json_string(json, "vsn", label, &vsn)) != 0)
		return rc;
	if (!(d = lm_descriptor_new(name, vsn)))
		return oom();
	if ((rc = abi_from_json(d, json, label)) != 0 ||
	    (rc = deps_from_json(d, json, label)) != 0 ||
	    (rc = exports_from_json(d, json, label)) != 0 ||
	    (rc = callbacks_from_json(d, json, label)) != 0 ||
	    (rc = purge_from_json(d, json, label)) != 0 ||
	    (rc = lm_descriptor_validate(d, label)) != 0) {
		lm_descriptor_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

/* ---------------------------------------------------------------------
 * From a struct lm_module_desc (both readers)
 * ------------------------------------------------------------------- */

/* "<label>: descriptor", the prefix of every message about the fields. */
static char *field_label(const char *label)
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
static int check_header(const struct lm_module_desc *raw, const char *label)
{
	int rc;

	if (memcmp(raw->magic, LM_DESC_MAGIC, sizeof(raw->magic)) != 0)
		return lm_error_set(LM_EINVAL, "%s: magic is not \"%s\"", label,
				    LM_DESC_MAGIC);
	if ((rc = validate_abi(raw->abi, label)) != 0)
		return rc;
	if (raw->size != sizeof(*raw))
		return lm_error_set(LM_EINVAL,
				    "%s: size %u is not the size of an ABI %d "
				    "descriptor (%zu)",
				    label, raw->size, LM_ABI_VERSION, sizeof(*raw));
	return 0;
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
		if ((rc = push_dep(d, raw->deps[n])) != 0)
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
 * check_header() passed. Callbacks and exports are the caller's. */
static int desc_from_raw(lm_descriptor **out, const struct lm_module_desc *raw,
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
	if ((rc = validate_name(raw->name, label)) != 0 ||
	    (rc = validate_vsn(raw->vsn, label)) != 0)
		return rc;
	if (!(d = lm_descriptor_new(raw->name, raw->vsn)))
		return oom();
	d->abi = raw->abi;
	d->purge = (lm_purge_mode)raw->purge;
	if ((rc = deps_from_raw(d, raw, label)) != 0) {
		lm_descriptor_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

static int exports_from_raw(lm_descriptor *d, const struct lm_export_desc *v,
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
		if ((rc = push_export(d, e->name, e->signature)) != 0)
			return rc;
	}
	sort_exports(d);
	return 0;
}

/* The callbacks whose slots hold a pointer. */
static unsigned callbacks_set(const struct lm_module_desc *m)
{
	return (m->init ? LM_CB_INIT : 0u) |
	       (m->code_change ? LM_CB_CODE_CHANGE : 0u) |
	       (m->terminate ? LM_CB_TERMINATE : 0u);
}

/* Validates `d` and hands it out, or frees it. */
static int finish(lm_descriptor **out, lm_descriptor *d, int rc,
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
	return exports_from_raw(d, m->exports_begin,
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
	if (!(ctx = field_label(label)))
		return oom();
	rc = check_header(desc, ctx);
	if (rc == 0)
		rc = desc_from_raw(&d, desc, ctx);
	if (rc == 0) {
		d->callbacks = callbacks_set(desc);
		rc = loaded_exports(d, desc, ctx);
	}
	rc = finish(out, d, rc, ctx);
	free(ctx);
	return rc;
}

/* ---------------------------------------------------------------------
 * From an ELF file, with libelf
 * ------------------------------------------------------------------- */

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define HOST_MACHINE EM_RISCV
#elif defined(__powerpc64__)
#define HOST_MACHINE EM_PPC64
#elif defined(__s390x__)
#define HOST_MACHINE EM_S390
#elif defined(__loongarch64)
#define HOST_MACHINE EM_LOONGARCH
#elif defined(__mips64)
#define HOST_MACHINE EM_MIPS
#else
#error "livemod: add this architecture's ELF e_machine"
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_DATA ELFDATA2LSB
#else
#define HOST_DATA ELFDATA2MSB
#endif

/* Files larger than this are not modules; refusing them bounds memory. */
#define MAX_OBJECT_SIZE ((size_t)1 << 30)

static const char *machine_name(unsigned m)
{
	switch (m) {
	case EM_X86_64: return "x86-64";
	case EM_386: return "i386";
	case EM_AARCH64: return "aarch64";
	case EM_ARM: return "arm";
	case EM_RISCV: return "riscv";
	case EM_PPC64: return "ppc64";
	case EM_S390: return "s390";
	case EM_MIPS: return "mips";
	default: return "other";
	}
}

static pthread_once_t elf_once = PTHREAD_ONCE_INIT;
static bool elf_ready;

static void elf_init(void)
{
	elf_ready = lm_elf.elf_version(EV_CURRENT) != EV_NONE;
}

/* What the reader learns about one image while walking its sections. */
typedef struct elf_image {
	const char *label;        /* the path, for messages */
	const unsigned char *buf; /* the whole file */
	size_t len;
	Elf *elf;
	size_t shstrndx;
	GElf_Shdr desc_sh, exports_sh;
	bool has_desc, has_exports;
} elf_image;

static int corrupt(const elf_image *im, const char *what)
{
	return lm_error_set(LM_EINVAL, "%s: corrupt ELF: %s: %s", im->label,
			    what, lm_elf.elf_errmsg(-1));
}

/* The section header table must lie inside the image: libelf takes a
 * table cut off by truncation for "no sections", which would turn a
 * truncated module into LM_ENODESC. */
static int check_shdr_table(const unsigned char *buf, size_t len,
			    const char *label)
{
	Elf64_Ehdr eh;
	Elf64_Shdr sh0;
	uint64_t n;

	memcpy(&eh, buf, sizeof(eh));
	if (eh.e_shoff == 0 && eh.e_shnum == 0)
		return 0;
	if (eh.e_shentsize != sizeof(Elf64_Shdr))
		return lm_error_set(LM_EINVAL,
				    "%s: corrupt ELF: e_shentsize %u is not %zu",
				    label, eh.e_shentsize, sizeof(Elf64_Shdr));
	if (eh.e_shoff > len || len - eh.e_shoff < sizeof(sh0))
		goto truncated;
	/* e_shnum 0 with a table: the count is in section 0 (extended). */
	memcpy(&sh0, buf + eh.e_shoff, sizeof(sh0));
	n = eh.e_shnum ? eh.e_shnum : sh0.sh_size;
	if (n > (len - eh.e_shoff) / sizeof(Elf64_Shdr))
		goto truncated;
	return 0;
truncated:
	return lm_error_set(LM_EINVAL,
			    "%s: truncated or corrupt ELF: the section header "
			    "table (at %llu) ends beyond the file (%zu bytes)",
			    label, (unsigned long long)eh.e_shoff, len);
}

/* The checks of the header bytes, before libelf sees the image. */
static int check_ident(const unsigned char *buf, size_t len, const char *label)
{
	if (len == 0)
		return lm_error_set(LM_ENOTELF,
				    "%s: empty file, not an ELF object", label);
	if (len < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0)
		return lm_error_set(LM_ENOTELF, "%s: not an ELF object", label);
	if (buf[EI_CLASS] != ELFCLASS64)
		return lm_error_set(LM_EINVAL,
				    "%s: ELF class %s: livemod reads 64-bit "
				    "(ELFCLASS64) objects only",
				    label,
				    buf[EI_CLASS] == ELFCLASS32 ? "32-bit"
								: "unknown");
	if (buf[EI_DATA] != HOST_DATA)
		return lm_error_set(LM_EINVAL,
				    "%s: ELF byte order %u is not this host's (%u)",
				    label, buf[EI_DATA], HOST_DATA);
	if (len < sizeof(Elf64_Ehdr))
		return lm_error_set(LM_EINVAL,
				    "%s: truncated ELF header (%zu bytes)", label,
				    len);
	return check_shdr_table(buf, len, label);
}

static int check_ehdr(elf_image *im)
{
	GElf_Ehdr eh;

	if (lm_elf.elf_kind(im->elf) != ELF_K_ELF || !lm_elf.gelf_getehdr(im->elf, &eh))
		return corrupt(im, "ELF header");
	if (eh.e_machine != HOST_MACHINE)
		return lm_error_set(LM_EINVAL,
				    "%s: e_machine %u (%s) is not this host's "
				    "%u (%s)",
				    im->label, eh.e_machine,
				    machine_name(eh.e_machine), HOST_MACHINE,
				    machine_name(HOST_MACHINE));
	if (eh.e_type != ET_DYN)
		return lm_error_set(LM_EINVAL,
				    "%s: e_type %u is not a shared object (ET_DYN)",
				    im->label, eh.e_type);
	return 0;
}

/* Keeps the header of our section `name`; two of one are refused. */
static int note_section(elf_image *im, const char *name, const GElf_Shdr *sh)
{
	bool is_desc = strcmp(name, LM_DESC_SECTION) == 0;
	bool *has = is_desc ? &im->has_desc : &im->has_exports;

	if (!is_desc && strcmp(name, LM_EXPORT_SECTION) != 0)
		return 0;
	if (*has)
		return lm_error_set(LM_EINVAL, "%s: two sections named %s",
				    im->label, name);
	if (sh->sh_type == SHT_NOBITS)
		return lm_error_set(LM_EINVAL,
				    "%s: section %s holds no bytes in the file "
				    "(SHT_NOBITS)",
				    im->label, name);
	*has = true;
	*(is_desc ? &im->desc_sh : &im->exports_sh) = *sh;
	return 0;
}

/* Every section: a readable header, a name, and data inside the file. */
static int walk_sections(elf_image *im)
{
	Elf_Scn *scn = NULL;
	size_t shnum;
	int rc;

	if (lm_elf.elf_getshdrnum(im->elf, &shnum) != 0)
		return corrupt(im, "section count");
	if (shnum == 0)
		return 0;
	if (lm_elf.elf_getshdrstrndx(im->elf, &im->shstrndx) != 0 ||
	    im->shstrndx == SHN_UNDEF || im->shstrndx >= shnum)
		return lm_error_set(LM_EINVAL,
				    "%s: corrupt ELF: bad section name table index",
				    im->label);
	while ((scn = lm_elf.elf_nextscn(im->elf, scn))) {
		size_t idx = lm_elf.elf_ndxscn(scn);
		GElf_Shdr sh;
		const char *name;

		if (!lm_elf.gelf_getshdr(scn, &sh))
			return corrupt(im, "section header");
		if (sh.sh_type != SHT_NOBITS &&
		    (sh.sh_offset > im->len || sh.sh_size > im->len - sh.sh_offset))
			return lm_error_set(LM_EINVAL,
					    "%s: truncated or corrupt ELF: section %zu "
					    "(%llu bytes at %llu) ends beyond the "
					    "file (%zu bytes)",
					    im->label, idx,
					    (unsigned long long)sh.sh_size,
					    (unsigned long long)sh.sh_offset,
					    im->len);
		if (!(name = lm_elf.elf_strptr(im->elf, im->shstrndx, sh.sh_name)))
			return corrupt(im, "section name");
		if ((rc = note_section(im, name, &sh)) != 0)
			return rc;
	}
	return 0;
}

/* Virtual addresses of the callback slots, and which were seen relocated. */
typedef struct slots {
	GElf_Addr addr[NCALLBACKS];
	unsigned found;
} slots;

static void slots_init(slots *s, GElf_Addr base)
{
	static const size_t off[NCALLBACKS] = {
		offsetof(struct lm_module_desc, init),
		offsetof(struct lm_module_desc, code_change),
		offsetof(struct lm_module_desc, terminate),
	};
	size_t i;

	/* off[] follows callback_names[]' order. */
	assert(callback_names[0].bit == LM_CB_INIT &&
	       callback_names[2].bit == LM_CB_TERMINATE);
	for (i = 0; i < NCALLBACKS; i++)
		s->addr[i] = base + off[i];
	s->found = 0;
}

static void slots_hit(slots *s, GElf_Addr a)
{
	size_t i;

	for (i = 0; i < NCALLBACKS; i++)
		if (a == s->addr[i])
			s->found |= callback_names[i].bit;
}

/* SHT_RELA or SHT_REL through gelf, which bounds every entry. */
static int scan_rel(elf_image *im, Elf_Scn *scn, const GElf_Shdr *sh,
		    slots *s)
{
	bool rela = sh->sh_type == SHT_RELA;
	Elf_Data *data = lm_elf.elf_getdata(scn, NULL);
	size_t i, n, entsize;

	if (!data)
		return corrupt(im, "relocation section");
	entsize = lm_elf.gelf_fsize(im->elf, rela ? ELF_T_RELA : ELF_T_REL, 1,
			     EV_CURRENT);
	assert(entsize > 0);
	n = data->d_size / entsize;
	for (i = 0; i < n; i++) {
		GElf_Rela r;
		GElf_Rel rl;

		if (rela ? !lm_elf.gelf_getrela(data, (int)i, &r)
			 : !lm_elf.gelf_getrel(data, (int)i, &rl))
			return corrupt(im, "relocation");
		if (!rela) {
			r.r_offset = rl.r_offset;
			r.r_info = rl.r_info;
		}
		/* R_*_NONE (0) relocates nothing on every machine. */
		if (GELF_R_TYPE(r.r_info) != 0)
			slots_hit(s, r.r_offset);
	}
	return 0;
}

/* SHT_RELR (DT_RELR): an even entry is an address to relocate; an odd
 * entry is a bitmap over the 63 words that follow the last address, bit i
 * (from 1) meaning word i-1. Read from the file bytes, bounded by
 * walk_sections(), since not every libelf knows the type. */
static int scan_relr(elf_image *im, const GElf_Shdr *sh, slots *s)
{
	const uint64_t word = sizeof(uint64_t);
	GElf_Addr where = 0;
	size_t i;

	if (sh->sh_size % word != 0)
		return lm_error_set(LM_EINVAL,
				    "%s: corrupt ELF: SHT_RELR section of %llu "
				    "bytes is not whole entries",
				    im->label, (unsigned long long)sh->sh_size);
	for (i = 0; i < sh->sh_size / word; i++) {
		uint64_t e;
		unsigned bit;

		memcpy(&e, im->buf + sh->sh_offset + i * word, sizeof(e));
		if ((e & 1) == 0) {
			slots_hit(s, e);
			where = e + word;
			continue;
		}
		for (bit = 1; bit < 64; bit++)
			if (e >> bit & 1)
				slots_hit(s, where + (bit - 1) * word);
		where += 63 * word;
	}
	return 0;
}

/* The callbacks whose slots some dynamic relocation fills. */
static int relocated_slots(elf_image *im, slots *s)
{
	Elf_Scn *scn = NULL;
	int rc = 0;

	while (rc == 0 && (scn = lm_elf.elf_nextscn(im->elf, scn))) {
		GElf_Shdr sh;

		if (!lm_elf.gelf_getshdr(scn, &sh))
			return corrupt(im, "section header");
		if (sh.sh_type == SHT_RELA || sh.sh_type == SHT_REL)
			rc = scan_rel(im, scn, &sh, s);
		else if (sh.sh_type == SHT_RELR)
			rc = scan_relr(im, &sh, s);
	}
	return rc;
}

/* The descriptor struct from section lm_module: the shared header first,
 * so a descriptor of another ABI is named as such rather than by size. */
static int read_desc_section(const elf_image *im,
			     struct lm_module_desc *raw, const char *ctx)
{
	const GElf_Shdr *sh = &im->desc_sh;
	size_t head = offsetof(struct lm_module_desc, size) + sizeof(raw->size);
	int rc;

	memset(raw, 0, sizeof(*raw));
	if (sh->sh_size < head)
		return lm_error_set(LM_EINVAL,
				    "%s: section %s holds %llu bytes, too few for "
				    "a descriptor",
				    ctx, LM_DESC_SECTION,
				    (unsigned long long)sh->sh_size);
	memcpy(raw, im->buf + sh->sh_offset, head);
	if ((rc = check_header(raw, ctx)) != 0)
		return rc;
	if (sh->sh_size != sizeof(*raw))
		return lm_error_set(LM_EINVAL,
				    "%s: section %s holds %llu bytes, not one "
				    "descriptor (%zu)",
				    ctx, LM_DESC_SECTION,
				    (unsigned long long)sh->sh_size, sizeof(*raw));
	memcpy(raw, im->buf + sh->sh_offset, sizeof(*raw));
	return 0;
}

static int read_exports_section(const elf_image *im, lm_descriptor *d,
				const char *ctx)
{
	const GElf_Shdr *sh = &im->exports_sh;
	const size_t esz = sizeof(struct lm_export_desc);
	struct lm_export_desc *v;
	size_t n;
	int rc;

	if (!im->has_exports)
		return 0;
	if (sh->sh_size % esz != 0)
		return lm_error_set(LM_EINVAL,
				    "%s: section %s holds %llu bytes, not a whole "
				    "number of exports (%zu bytes each)",
				    ctx, LM_EXPORT_SECTION,
				    (unsigned long long)sh->sh_size, esz);
	if ((n = (size_t)(sh->sh_size / esz)) == 0)
		return 0;
	/* A copy: the file bytes need not be aligned for the struct. */
	if (!(v = malloc(n * esz)))
		return oom();
	memcpy(v, im->buf + sh->sh_offset, n * esz);
	rc = exports_from_raw(d, v, n, ctx);
	free(v);
	return rc;
}

/* Everything after the ELF headers were accepted. */
static int read_image(elf_image *im, lm_descriptor **out)
{
	struct lm_module_desc raw;
	lm_descriptor *d = NULL;
	slots s;
	char *ctx;
	int rc;

	if ((rc = check_ehdr(im)) != 0 || (rc = walk_sections(im)) != 0)
		return rc;
	if (!im->has_desc)
		return lm_error_set(LM_ENODESC,
				    "%s: no %s section: not a livemod module",
				    im->label, LM_DESC_SECTION);
	if (!(ctx = field_label(im->label)))
		return oom();
	rc = read_desc_section(im, &raw, ctx);
	if (rc == 0)
		rc = desc_from_raw(&d, &raw, ctx);
	if (rc == 0) {
		slots_init(&s, im->desc_sh.sh_addr);
		rc = relocated_slots(im, &s);
		/* A slot already holding a value needs no relocation
		 * (SHT_REL keeps its addend there; prelinked objects). */
		d->callbacks = s.found | callbacks_set(&raw);
	}
	if (rc == 0)
		rc = read_exports_section(im, d, ctx);
	rc = finish(out, d, rc, ctx);
	free(ctx);
	return rc;
}

/* Reads from `buf`, which libelf may use in place (it wants it writable). */
static int read_owned(lm_descriptor **out, char *buf, size_t len,
		      const char *label)
{
	elf_image im = { .label = label, .buf = (unsigned char *)buf,
			 .len = len };
	int rc;

	if ((rc = lm_elf_load()) < 0)
		return lm_error_wrap("%s", label);
	pthread_once(&elf_once, elf_init);
	if (!elf_ready)
		return lm_error_set(LM_ERROR, "%s: libelf: %s", label,
				    lm_elf.elf_errmsg(-1));
	if (!(im.elf = lm_elf.elf_memory(buf, len)))
		return corrupt(&im, "ELF header");
	rc = read_image(&im, out);
	lm_elf.elf_end(im.elf);
	return rc;
}

int lm_descriptor_read_mem(lm_descriptor **out, const void *buf, size_t len,
			   const char *label)
{
	char *copy;
	int rc;

	assert(out && label && (buf || len == 0));
	*out = NULL;
	if ((rc = check_ident(buf, len, label)) != 0)
		return rc;
	if (len > MAX_OBJECT_SIZE)
		return lm_error_set(LM_EINVAL, "%s: %zu bytes, too large for a "
				    "module", label, len);
	/* libelf wants writable, aligned memory; the caller's is neither
	 * promised. */
	if (!(copy = malloc(len)))
		return oom();
	memcpy(copy, buf, len);
	rc = read_owned(out, copy, len, label);
	free(copy);
	return rc;
}

/* The whole regular file at `path` in a malloc'ed buffer. */
static int slurp(const char *path, char **buf, size_t *len)
{
	struct stat st;
	size_t got = 0;
	char *p = NULL;
	int fd, rc = 0;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return lm_error_set(LM_ERROR, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0)
		rc = lm_error_set(LM_ERROR, "%s: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = lm_error_set(LM_EINVAL, "%s: not a regular file", path);
	else if ((uint64_t)st.st_size > MAX_OBJECT_SIZE)
		rc = lm_error_set(LM_EINVAL, "%s: %lld bytes, too large for a "
				  "module", path, (long long)st.st_size);
	else if (!(p = malloc((size_t)st.st_size + 1)))
		rc = oom();
	while (rc == 0 && got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = lm_error_set(LM_ERROR, "%s: %s", path,
					  strerror(errno));
		if (n <= 0)
			break; /* a file that shrank is read as it is now */
		got += (size_t)n;
	}
	close(fd);
	if (rc != 0) {
		free(p);
		return rc;
	}
	*buf = p;
	*len = got;
	return 0;
}

int lm_descriptor_read_file(lm_descriptor **out, const char *path)
{
	char *buf;
	size_t len;
	int rc;

	assert(out && path);
	*out = NULL;
	if ((rc = slurp(path, &buf, &len)) != 0)
		return rc;
	rc = check_ident((unsigned char *)buf, len, path);
	if (rc == 0)
		rc = read_owned(out, buf, len, path);
	free(buf);
	return rc;
}
