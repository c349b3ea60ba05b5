/*
 * descriptor_json.c - the JSON form of a descriptor, as plans carry it
 * (docs/plan-format.md, "descriptor").
 */
#include "descriptor_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

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
	const char *v[LMD_NCALLBACKS];
	size_t i, n = 0;

	for (i = 0; i < LMD_NCALLBACKS; i++)
		if (callbacks & lmd_callback_names[i].bit)
			v[n++] = lmd_callback_names[i].name;
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
		if ((rc = lmd_push_dep(d, v->valuestring)) != 0)
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
		if ((rc = lmd_push_export(d, n->valuestring, s->valuestring)) != 0)
			return rc;
		i++;
	}
	lmd_sort_exports(d);
	return 0;
}

static int callback_bit(const char *name)
{
	size_t i;

	for (i = 0; i < LMD_NCALLBACKS; i++)
		if (strcmp(name, lmd_callback_names[i].name) == 0)
			return (int)lmd_callback_names[i].bit;
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
					    "code_change, terminate, "
					    "change_commit or change_abort",
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
		return lmd_oom();
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
