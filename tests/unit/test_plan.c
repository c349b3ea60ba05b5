/*
 * test_plan.c - the plan file and its OTP text (lib/plan.c): a plan built
 * in memory survives JSON and back unchanged; every kind of bad plan is
 * refused with the label and the exact field path; unknown keys are
 * ignored; the OTP text matches DESIGN.md byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "error.h"
#include "plan.h"
#include "testutil.h"

#define LABEL "plans/3.json"
#define B LM_BRUTAL_PURGE
#define S LM_SOFT_PURGE

/* ---- building a plan by hand ------------------------------------------ */

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

static lm_plan_side *side(const char *name, const char *vsn, char hex,
			  unsigned cb, const char *deps, const char *exports)
{
	lm_plan_side *sd = calloc(1, sizeof(*sd));
	lm_descriptor *d = lm_descriptor_new(name, vsn);
	char file[128];

	assert_non_null(sd);
	assert_non_null(d);
	snprintf(file, sizeof(file), "%s.so", name);
	sd->file = xstrdup(file);
	memset(sd->oid, hex, LM_OID_HEXSZ);
	d->abi = LM_ABI_VERSION;
	d->callbacks = cb;
	assert_int_equal(lm_descriptor_set_deps_text(d, deps), 0);
	assert_int_equal(lm_descriptor_set_exports_text(d, exports), 0);
	sd->desc = d;
	return sd;
}

static void add_module(lm_plan *p, const char *name, lm_change_kind change,
		       lm_plan_side *old, lm_plan_side *new,
		       lm_purge_mode pre, lm_purge_mode post, const char *extra)
{
	lm_plan_module *m;

	p->modules = realloc(p->modules, (p->nmodules + 1) * sizeof(*m));
	assert_non_null(p->modules);
	m = &p->modules[p->nmodules++];
	*m = (lm_plan_module){xstrdup(name), change, old, new, pre, post,
			      xstrdup(extra)};
}

/* Splits a space-separated list into a NULL-padded array of `cap`. */
static size_t split(char **v, size_t cap, char *text)
{
	size_t n = 0;

	for (char *save, *t = strtok_r(text, " ", &save); t && n < cap;
	     t = strtok_r(NULL, " ", &save))
		v[n++] = t;
	return n;
}

/* One instruction: `mods` and `deps` are space-separated; `extra` goes to
 * every module (update, code_change). */
static void push(lm_script *s, lm_op op, const char *mods, const char *extra,
		 lm_purge_mode pre, lm_purge_mode post, lm_change_mode mode,
		 const char *deps)
{
	char mbuf[256], dbuf[256], *mv[8], *dv[8], *ev[8];
	lm_instr in = {.op = op, .modules = mv, .dep_mods = dv,
		       .pre_purge = pre, .post_purge = post, .mode = mode};

	snprintf(mbuf, sizeof(mbuf), "%s", mods);
	snprintf(dbuf, sizeof(dbuf), "%s", deps);
	in.nmodules = split(mv, 8, mbuf);
	in.ndep_mods = split(dv, 8, dbuf);
	for (size_t i = 0; i < in.nmodules; i++)
		ev[i] = (char *)extra;
	in.extras = extra ? ev : NULL;
	assert_int_equal(lm_script_push(s, &in), 0);
}

static lm_plan *new_plan(void)
{
	lm_plan *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	p->id = 3;
	p->app = xstrdup("chatd");
	p->libdir = xstrdup("/srv/chatd/lib");
	p->created_at = xstrdup("2024-11-25T12:00:00Z");
	p->from_release = 1;
	memset(p->from_commit, 'a', LM_OID_HEXSZ);
	p->to_release = 2;
	memset(p->to_commit, 'b', LM_OID_HEXSZ);
	return p;
}

#define SIG "int (lm_task *, const char *, size_t)"

/* DESIGN.md's example: mod_messager 1.0.0 -> 1.1.0, no code_change. */
static lm_plan *design_plan(void)
{
	lm_plan *p = new_plan();

	add_module(p, "mod_messager", LM_CHANGED,
		   side("mod_messager", "1.0.0", '1', 0, "mod_util",
			"handle\t" SIG),
		   side("mod_messager", "1.1.0", '2', LM_CB_INIT, "mod_util",
			"handle\t" SIG "\nflush\tvoid (void)"),
		   B, B, "");
	push(&p->script, LM_OP_LOAD_MODULE, "mod_messager", NULL, B, B, LM_UP, "");
	push(&p->low_level, LM_OP_LOAD_OBJECT_CODE, "mod_messager", NULL, 0, 0,
	     LM_UP, "");
	push(&p->low_level, LM_OP_POINT_OF_NO_RETURN, "", NULL, 0, 0, LM_UP, "");
	push(&p->low_level, LM_OP_LOAD, "mod_messager", NULL, B, B, LM_UP, "");
	push(&p->down_script, LM_OP_LOAD_MODULE, "mod_messager", NULL, B, B,
	     LM_DOWN, "");
	push(&p->down_low_level, LM_OP_LOAD_OBJECT_CODE, "mod_messager", NULL,
	     0, 0, LM_DOWN, "");
	push(&p->down_low_level, LM_OP_POINT_OF_NO_RETURN, "", NULL, 0, 0,
	     LM_DOWN, "");
	push(&p->down_low_level, LM_OP_LOAD, "mod_messager", NULL, B, B,
	     LM_DOWN, "");
	return p;
}

/* Every instruction and every change kind: modules[] is
 * [mod_messager, mod_room, mod_new, mod_old]; low_level_script[4] is the
 * code_change. */
#define EXTRA "layout \"2\"\n"
static lm_plan *rich_plan(void)
{
	lm_plan *p = design_plan();
	lm_script *up = &p->low_level, *dn = &p->down_low_level;

	add_module(p, "mod_room", LM_CHANGED,
		   side("mod_room", "1.0.0", '3', LM_CB_CODE_CHANGE, "", ""),
		   side("mod_room", "2.0.0", '4',
			LM_CB_CODE_CHANGE | LM_CB_INIT | LM_CB_TERMINATE,
			"mod_util", ""), S, B, EXTRA);
	add_module(p, "mod_new", LM_ADDED, NULL,
		   side("mod_new", "0.1", '5', 0, "mod_messager", ""), B, B, "");
	add_module(p, "mod_old", LM_REMOVED,
		   side("mod_old", "9", '6', LM_CB_TERMINATE, "", ""), NULL, S,
		   S, "");
	lm_script_clear(&p->script);
	lm_script_clear(up);
	lm_script_clear(&p->down_script);
	lm_script_clear(dn);

	push(&p->script, LM_OP_LOAD_MODULE, "mod_messager", NULL, B, B, LM_UP, "");
	push(&p->script, LM_OP_UPDATE, "mod_room", EXTRA, S, B, LM_UP, "");
	push(&p->script, LM_OP_ADD_MODULE, "mod_new", NULL, 0, 0, LM_UP,
	     "mod_messager");
	push(&p->script, LM_OP_DELETE_MODULE, "mod_old", NULL, 0, 0, LM_UP, "");
	push(up, LM_OP_LOAD_OBJECT_CODE, "mod_messager mod_room mod_new", NULL,
	     0, 0, LM_UP, "");
	push(up, LM_OP_POINT_OF_NO_RETURN, "", NULL, 0, 0, LM_UP, "");
	push(up, LM_OP_LOAD, "mod_messager", NULL, B, B, LM_UP, "");
	push(up, LM_OP_SUSPEND, "mod_room", NULL, 0, 0, LM_UP, "");
	push(up, LM_OP_CODE_CHANGE, "mod_room", EXTRA, 0, 0, LM_UP, "");
	push(up, LM_OP_LOAD, "mod_room", NULL, S, B, LM_UP, "");
	push(up, LM_OP_RESUME, "mod_room", NULL, 0, 0, LM_UP, "");
	push(up, LM_OP_LOAD, "mod_new", NULL, B, B, LM_UP, "");
	push(up, LM_OP_REMOVE, "mod_old", NULL, B, B, LM_UP, "");
	push(up, LM_OP_PURGE, "mod_old", NULL, 0, 0, LM_UP, "");

	push(&p->down_script, LM_OP_ADD_MODULE, "mod_old", NULL, 0, 0, LM_DOWN, "");
	push(&p->down_script, LM_OP_LOAD_MODULE, "mod_messager", NULL, B, B,
	     LM_DOWN, "");
	push(&p->down_script, LM_OP_UPDATE, "mod_room", EXTRA, S, B, LM_DOWN, "");
	push(&p->down_script, LM_OP_DELETE_MODULE, "mod_new", NULL, 0, 0,
	     LM_DOWN, "mod_messager");
	push(dn, LM_OP_LOAD_OBJECT_CODE, "mod_old mod_messager mod_room", NULL,
	     0, 0, LM_DOWN, "");
	push(dn, LM_OP_POINT_OF_NO_RETURN, "", NULL, 0, 0, LM_DOWN, "");
	push(dn, LM_OP_LOAD, "mod_old", NULL, B, B, LM_DOWN, "");
	push(dn, LM_OP_LOAD, "mod_messager", NULL, B, B, LM_DOWN, "");
	push(dn, LM_OP_SUSPEND, "mod_room", NULL, 0, 0, LM_DOWN, "");
	push(dn, LM_OP_CODE_CHANGE, "mod_room", EXTRA, 0, 0, LM_DOWN, "");
	push(dn, LM_OP_LOAD, "mod_room", NULL, S, B, LM_DOWN, "");
	push(dn, LM_OP_RESUME, "mod_room", NULL, 0, 0, LM_DOWN, "");
	push(dn, LM_OP_REMOVE, "mod_new", NULL, B, B, LM_DOWN, "");
	push(dn, LM_OP_PURGE, "mod_new", NULL, 0, 0, LM_DOWN, "");
	return p;
}

static char *to_json(const lm_plan *p)
{
	char *text = NULL;

	assert_int_equal(lm_plan_to_json(&text, p), 0);
	assert_non_null(text);
	return text;
}

/* ---- equality --------------------------------------------------------- */

static void assert_strv_equal(char **a, char **b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_string_equal(a[i], b[i]);
}

static void assert_side_equal(const lm_plan_side *a, const lm_plan_side *b)
{
	if (!a || !b) {
		assert_ptr_equal(a, b);
		return;
	}
	assert_string_equal(a->file, b->file);
	assert_string_equal(a->oid, b->oid);
	assert_true(lm_descriptor_equal(a->desc, b->desc));
}

static void assert_script_equal(const lm_script *a, const lm_script *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const lm_instr *x = &a->v[i], *y = &b->v[i];

		assert_int_equal(x->op, y->op);
		assert_int_equal(x->nmodules, y->nmodules);
		assert_strv_equal(x->modules, y->modules, x->nmodules);
		assert_int_equal(!x->extras, !y->extras);
		if (x->extras)
			assert_strv_equal(x->extras, y->extras, x->nmodules);
		assert_int_equal(x->ndep_mods, y->ndep_mods);
		assert_strv_equal(x->dep_mods, y->dep_mods, x->ndep_mods);
		assert_int_equal(x->pre_purge, y->pre_purge);
		assert_int_equal(x->post_purge, y->post_purge);
		if (x->op == LM_OP_CODE_CHANGE)
			assert_int_equal(x->mode, y->mode);
	}
}

static void assert_plan_equal(const lm_plan *a, const lm_plan *b)
{
	assert_int_equal(a->id, b->id);
	assert_string_equal(a->app, b->app);
	assert_string_equal(a->libdir, b->libdir);
	assert_string_equal(a->created_at, b->created_at);
	assert_int_equal(a->from_release, b->from_release);
	assert_string_equal(a->from_commit, b->from_commit);
	assert_int_equal(a->to_release, b->to_release);
	assert_string_equal(a->to_commit, b->to_commit);
	assert_int_equal(a->nmodules, b->nmodules);
	for (size_t i = 0; i < a->nmodules; i++) {
		const lm_plan_module *x = &a->modules[i], *y = &b->modules[i];

		assert_string_equal(x->name, y->name);
		assert_int_equal(x->change, y->change);
		assert_side_equal(x->old_side, y->old_side);
		assert_side_equal(x->new_side, y->new_side);
		assert_int_equal(x->pre_purge, y->pre_purge);
		assert_int_equal(x->post_purge, y->post_purge);
		assert_string_equal(x->extra, y->extra);
	}
	assert_script_equal(&a->script, &b->script);
	assert_script_equal(&a->low_level, &b->low_level);
	assert_script_equal(&a->down_script, &b->down_script);
	assert_script_equal(&a->down_low_level, &b->down_low_level);
}

/* JSON -> plan -> JSON gives the same plan and the same text. */
static void round_trip(lm_plan *p)
{
	char *text = to_json(p), *again;
	lm_plan *q = NULL;

	assert_int_equal(lm_plan_validate(p, "mem"), 0);
	if (lm_plan_from_json(&q, text, strlen(text), LABEL) != 0)
		fail_msg("%s", lm_error_last());
	assert_plan_equal(p, q);
	again = to_json(q);
	assert_string_equal(text, again);
	free(again);
	free(text);
	lm_plan_free(q);
	lm_plan_free(p);
}

/* ---- round trips ------------------------------------------------------ */

static void test_round_trip_design(void **state)
{
	(void)state;
	round_trip(design_plan());
}

static void test_round_trip_rich(void **state)
{
	(void)state;
	round_trip(rich_plan());
}

static void test_round_trip_dry_run(void **state)
{
	lm_plan *p = design_plan();
	char *text;

	(void)state;
	p->id = 0;
	p->to_release = 0;
	p->to_commit[0] = '\0';
	text = to_json(p);
	assert_non_null(strstr(text, "\"id\":\tnull"));
	assert_non_null(strstr(text, "\"release\":\tnull"));
	free(text);
	round_trip(p);
}

static void test_round_trip_empty(void **state)
{
	lm_plan *p = new_plan();

	(void)state;
	round_trip(p);
}

static void test_json_layout(void **state)
{
	lm_plan *p = rich_plan();
	char *text = to_json(p);
	cJSON *j = cJSON_Parse(text), *ins;

	(void)state;
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "format")->valuestring,
			    "livemod.plan/1");
	ins = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "script"), 1);
	assert_string_equal(cJSON_GetObjectItem(ins, "op")->valuestring, "update");
	assert_string_equal(cJSON_GetObjectItem(ins, "change")->valuestring,
			    "advanced");
	assert_string_equal(cJSON_GetObjectItem(ins, "extra")->valuestring, EXTRA);
	ins = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "low_level_script"), 0);
	assert_string_equal(cJSON_GetObjectItem(ins, "app")->valuestring, "chatd");
	assert_string_equal(cJSON_GetObjectItem(ins, "vsn")->valuestring, "");
	ins = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "low_level_script"), 4);
	assert_string_equal(cJSON_GetObjectItem(ins, "mode")->valuestring, "up");
	assert_string_equal(
		cJSON_GetObjectItem(cJSON_GetArrayItem(
			cJSON_GetObjectItem(ins, "modules"), 0), "module")->valuestring,
		"mod_room");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(
		cJSON_GetArrayItem(cJSON_GetObjectItem(j, "modules"), 2), "old")));
	cJSON_Delete(j);
	free(text);
	lm_plan_free(p);
}

/* ---- rejections ------------------------------------------------------- */

static cJSON *step(cJSON *o, const char *tok)
{
	const char *br = strchr(tok, '[');
	char key[128];

	if (!br)
		return cJSON_GetObjectItemCaseSensitive(o, tok);
	snprintf(key, sizeof(key), "%.*s", (int)(br - tok), tok);
	return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, key),
				  atoi(br + 1));
}

/* Sets the member at `path` ("modules[1].new.oid") to `item`; NULL deletes
 * it; a path ending in "[]" appends to the array. */
static void set_path(cJSON *root, const char *path, cJSON *item)
{
	char buf[256], *last, *tok, *save;
	cJSON *o = root;

	snprintf(buf, sizeof(buf), "%s", path);
	last = strrchr(buf, '.');
	if (last) {
		*last++ = '\0';
		for (tok = strtok_r(buf, ".", &save); tok;
		     tok = strtok_r(NULL, ".", &save))
			assert_non_null(o = step(o, tok));
	} else {
		last = buf;
	}
	if (strchr(last, '[')) {
		char *br = strchr(last, '[');
		cJSON *arr;

		*br = '\0';
		assert_non_null(arr = cJSON_GetObjectItemCaseSensitive(o, last));
		if (br[1] == ']')
			cJSON_AddItemToArray(arr, item);
		else if (item)
			cJSON_ReplaceItemInArray(arr, atoi(br + 1), item);
		else
			cJSON_DeleteItemFromArray(arr, atoi(br + 1));
		return;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(o, last);
	if (item)
		cJSON_AddItemToObject(o, last, item);
}

static char *mutated(const char *path, cJSON *item)
{
	lm_plan *p = rich_plan();
	char *text = to_json(p), *out;
	cJSON *j = cJSON_Parse(text);

	assert_non_null(j);
	set_path(j, path, item);
	out = cJSON_Print(j);
	cJSON_Delete(j);
	free(text);
	lm_plan_free(p);
	return out;
}

static void expect_reject(const char *path, cJSON *item, const char *want)
{
	char *text = mutated(path, item);
	lm_plan *p = (lm_plan *)1;

	assert_int_equal(lm_plan_from_json(&p, text, strlen(text), LABEL),
			 LM_EINVAL);
	assert_null(p);
	assert_string_equal(lm_error_last(), want);
	free(text);
}

static void expect_accept(const char *path, cJSON *item)
{
	char *text = mutated(path, item);
	lm_plan *p = NULL;

	if (lm_plan_from_json(&p, text, strlen(text), LABEL) != 0)
		fail_msg("%s", lm_error_last());
	lm_plan_free(p);
	free(text);
}

static void test_reject_format(void **state)
{
	(void)state;
	expect_reject("format", cJSON_CreateString("livemod.plan/2"),
		      LABEL ": format: plan format 'livemod.plan/2' is not "
		      "livemod.plan/1 (written by a newer livemod?)");
	expect_reject("format", NULL,
		      LABEL ": format: missing; not a livemod.plan/1 plan");
	expect_reject("format", cJSON_CreateNumber(1),
		      LABEL ": format: not a string; not a livemod.plan/1 plan");
}

static void test_reject_not_json(void **state)
{
	lm_plan *p = NULL;
	const char *bad = "{\"format\": \"livemod.plan/1\", ";

	(void)state;
	assert_int_equal(lm_plan_from_json(&p, bad, strlen(bad), LABEL), LM_EINVAL);
	assert_null(p);
	assert_string_equal(lm_error_last(),
			    LABEL ": not JSON (syntax error near byte 28)");
	assert_int_equal(lm_plan_from_json(&p, "[1]", 3, LABEL), LM_EINVAL);
	assert_string_equal(lm_error_last(), LABEL ": not a JSON object");
	/* the length bounds the text: no reading past it */
	assert_int_equal(lm_plan_from_json(&p, "{}garbage", 2, LABEL), LM_EINVAL);
	assert_string_equal(lm_error_last(),
			    LABEL ": format: missing; not a livemod.plan/1 plan");
}

static void test_reject_wrong_types(void **state)
{
	(void)state;
	expect_reject("id", cJSON_CreateString("7"),
		      LABEL ": id: not an integer or null");
	expect_reject("id", cJSON_CreateNumber(1.5),
		      LABEL ": id: not a positive integer");
	expect_reject("from.release", cJSON_CreateString("1"),
		      LABEL ": from.release: not an integer");
	expect_reject("modules", cJSON_CreateObject(),
		      LABEL ": modules: not an array");
	expect_reject("modules[2].change", cJSON_CreateNumber(3),
		      LABEL ": modules[2].change: not a string");
	expect_reject("modules[0].new", cJSON_CreateString("x"),
		      LABEL ": modules[0].new: not an object or null");
	expect_reject("script[0].module", cJSON_CreateNumber(5),
		      LABEL ": script[0].module: not a string");
	expect_reject("low_level_script[1]", cJSON_CreateString("x"),
		      LABEL ": low_level_script[1]: not an object");
	expect_reject("low_level_script[4].modules[0].extra",
		      cJSON_CreateNumber(1),
		      LABEL ": low_level_script[4].modules[0].extra: not a string");
	expect_reject("downgrade.script", cJSON_CreateNull(),
		      LABEL ": downgrade.script: not an array");
	expect_reject("downgrade", cJSON_CreateArray(),
		      LABEL ": downgrade: not an object");
}

static void test_reject_missing_and_bad_values(void **state)
{
	(void)state;
	expect_reject("low_level_script[2].pre_purge", NULL,
		      LABEL ": low_level_script[2].pre_purge: missing");
	expect_reject("modules[3].old.file", NULL,
		      LABEL ": modules[3].old.file: missing");
	expect_reject("modules[0].pre_purge", cJSON_CreateString("gentle"),
		      LABEL ": modules[0].pre_purge: 'gentle' is not soft_purge "
		      "or brutal_purge");
	expect_reject("modules[0].change", cJSON_CreateString("moved"),
		      LABEL ": modules[0].change: 'moved' is not added, changed "
		      "or removed");
	expect_reject("script[1].change", cJSON_CreateString("soft"),
		      LABEL ": script[1].change: 'soft' is not advanced");
	expect_reject("low_level_script[0].app", cJSON_CreateString("other"),
		      LABEL ": low_level_script[0].app: 'other' is not the "
		      "plan's app 'chatd'");
	expect_reject("low_level_script[3].modules", cJSON_CreateArray(),
		      LABEL ": low_level_script[3].modules: empty list");
	expect_reject("to.commit", cJSON_CreateNull(),
		      LABEL ": to: release and commit must both be set or both "
		      "be null");
	expect_reject("modules[0].new.descriptor.vsn", NULL,
		      LABEL ": modules[0].new.descriptor: vsn: missing");
	expect_reject("modules[0].new.vsn", cJSON_CreateString("9"),
		      LABEL ": modules[0].new.vsn: '9' is not the descriptor's "
		      "'1.1.0'");
}

static void test_reject_bad_oid(void **state)
{
	(void)state;
	expect_reject("modules[1].new.oid",
		      cJSON_CreateString("4444444444444444444444444444444444444ABC"),
		      LABEL ": modules[1].new.oid: not a 40-hex object id");
	expect_reject("from.commit", cJSON_CreateString("abc"),
		      LABEL ": from.commit: not a 40-hex object id");
}

static void test_reject_bad_module_name(void **state)
{
	(void)state;
	expect_reject("modules[0].name", cJSON_CreateString("Mod_Messager"),
		      LABEL ": modules[0].name: 'Mod_Messager' is not a valid "
		      "module name");
	expect_reject("script[2].dep_mods[0]", cJSON_CreateString("bad-name"),
		      LABEL ": script[2].dep_mods[0]: 'bad-name' is not a valid "
		      "module name");
	expect_reject("low_level_script[3].modules[0]", cJSON_CreateString("9x"),
		      LABEL ": low_level_script[3].modules[0]: '9x' is not a "
		      "valid module name");
}

static void test_reject_unknown_op(void **state)
{
	(void)state;
	expect_reject("script[0].op", cJSON_CreateString("restart_emulator"),
		      LABEL ": script[0].op: unknown instruction "
		      "'restart_emulator'");
	expect_reject("script[0].op", cJSON_CreateNumber(5),
		      LABEL ": script[0].op: not a string");
	expect_reject("script[0].op", NULL, LABEL ": script[0].op: missing");
}

static void test_reject_unknown_module(void **state)
{
	(void)state;
	expect_reject("script[0].module", cJSON_CreateString("mod_ghost"),
		      LABEL ": script[0].module: 'mod_ghost' is not a module of "
		      "this plan");
	expect_reject("low_level_script[0].modules[1]",
		      cJSON_CreateString("mod_ghost"),
		      LABEL ": low_level_script[0].modules[1]: 'mod_ghost' is "
		      "not a module of this plan");
	expect_reject("downgrade.low_level_script[5].modules[0].module",
		      cJSON_CreateString("mod_ghost"),
		      LABEL ": downgrade.low_level_script[5].modules[0].module: "
		      "'mod_ghost' is not a module of this plan");
}

static cJSON *instr(const char *json)
{
	cJSON *j = cJSON_Parse(json);

	assert_non_null(j);
	return j;
}

static void test_reject_point_of_no_return(void **state)
{
	(void)state;
	expect_reject("low_level_script[]",
		      instr("{\"op\":\"point_of_no_return\"}"),
		      LABEL ": low_level_script[10]: a second point_of_no_return "
		      "(the first is [1])");
	expect_reject("downgrade.low_level_script[]",
		      instr("{\"op\":\"load_object_code\",\"app\":\"chatd\","
			    "\"vsn\":\"\",\"modules\":[\"mod_room\"]}"),
		      LABEL ": downgrade.low_level_script[10]: load_object_code "
		      "after point_of_no_return");
	expect_reject("low_level_script[1]",
		      instr("{\"op\":\"suspend\",\"modules\":[\"mod_room\"]}"),
		      LABEL ": low_level_script[1]: suspend before "
		      "point_of_no_return (only load_object_code may come "
		      "before it)");
	expect_reject("low_level_script",
		      instr("[{\"op\":\"load_object_code\",\"app\":\"chatd\","
			    "\"vsn\":\"\",\"modules\":[\"mod_room\"]}]"),
		      LABEL ": low_level_script: no point_of_no_return");
}

static void test_reject_cross_field(void **state)
{
	(void)state;
	expect_reject("script[0]",
		      instr("{\"op\":\"load\",\"module\":\"mod_messager\","
			    "\"pre_purge\":\"brutal_purge\","
			    "\"post_purge\":\"brutal_purge\"}"),
		      LABEL ": script[0].op: load is a low-level instruction");
	expect_reject("low_level_script[2]",
		      instr("{\"op\":\"add_module\",\"module\":\"mod_new\","
			    "\"dep_mods\":[]}"),
		      LABEL ": low_level_script[2].op: add_module is a "
		      "high-level instruction");
	expect_reject("low_level_script[4].modules[0].module",
		      cJSON_CreateString("mod_messager"),
		      LABEL ": low_level_script[4].modules[0].module: "
		      "'mod_messager' 1.1.0 defines no code_change");
	expect_reject("script[1].module", cJSON_CreateString("mod_new"),
		      LABEL ": script[1].module: 'mod_new' is added; "
		      "code_change needs a changed module");
	expect_reject("low_level_script[4].mode", cJSON_CreateString("down"),
		      LABEL ": low_level_script[4].mode: down, but this "
		      "script goes up");
	expect_reject("direction", cJSON_CreateString("sideways"),
		      LABEL ": direction: 'sideways' is not up or down");
	/* plans written before the field existed went up */
	expect_accept("direction", NULL);
	/* a down plan's script must then say down */
	expect_reject("direction", cJSON_CreateString("down"),
		      LABEL ": low_level_script[4].mode: up, but this "
		      "script goes down");
	expect_reject("modules[0].old", cJSON_CreateNull(),
		      LABEL ": modules[0].old: missing for a changed module");
	expect_reject("modules[3].new", NULL, LABEL ": modules[3].new: missing");
	expect_reject("modules[1].name", cJSON_CreateString("mod_messager"),
		      LABEL ": modules[1].name: 'mod_messager' appears twice "
		      "(also modules[0])");
	expect_reject("modules[0].new.descriptor.name",
		      cJSON_CreateString("mod_other"),
		      LABEL ": modules[0].new.descriptor.name: 'mod_other' is not "
		      "the module's name 'mod_messager'");
	expect_reject("downgrade.low_level_script", cJSON_CreateArray(),
		      LABEL ": downgrade.low_level_script: empty while "
		      "downgrade.script is not");
}

/* Plans built in memory get the checks the parser makes on shapes. */
static void test_validate_in_memory(void **state)
{
	lm_plan *p = design_plan();

	(void)state;
	push(&p->script, LM_OP_LOAD_MODULE, "mod_messager mod_messager", NULL,
	     B, B, LM_UP, "");
	assert_int_equal(lm_plan_validate(p, "mem"), LM_EINVAL);
	assert_string_equal(lm_error_last(),
			    "mem: script[1].module: 2 modules, not one");
	lm_script_clear(&p->script);
	push(&p->script, LM_OP_LOAD_MODULE, "mod_messager", NULL, B,
	     LM_PURGE_DEFAULT, LM_UP, "");
	assert_int_equal(lm_plan_validate(p, "mem"), LM_EINVAL);
	assert_string_equal(lm_error_last(),
			    "mem: script[0].post_purge: not resolved");
	lm_plan_free(p);
}

/* Keys a newer livemod may add are ignored at every level. */
static void test_unknown_keys_ignored(void **state)
{
	(void)state;
	expect_accept("comment", cJSON_CreateString("reviewed by ops"));
	expect_accept("modules[0].x_future", cJSON_CreateTrue());
	expect_accept("modules[0].new.x_future", cJSON_CreateNumber(1));
	expect_accept("script[0].timeout", cJSON_CreateNumber(5000));
	expect_accept("downgrade.note", cJSON_CreateString("x"));
}

static void test_load_file(void **state)
{
	char *dir = tu_tmpdir(), *path, *text;
	lm_plan *p = design_plan(), *q = NULL;

	(void)state;
	assert_true(asprintf(&path, "%s/3.json", dir) > 0);
	assert_int_equal(lm_plan_load_file(&q, path), LM_ENOTFOUND);
	assert_null(q);
	text = to_json(p);
	tu_write_file(path, text, strlen(text));
	assert_int_equal(lm_plan_load_file(&q, path), 0);
	assert_plan_equal(p, q);
	lm_plan_free(q);
	tu_write_file(path, "{\"format\":\"livemod.plan/9\"}", 27);
	assert_int_equal(lm_plan_load_file(&q, path), LM_EINVAL);
	assert_non_null(strstr(lm_error_last(), "/3.json: format: plan format "
			       "'livemod.plan/9' is not livemod.plan/1"));
	free(text);
	free(path);
	lm_plan_free(p);
	tu_rm_rf(dir);
	free(dir);
}

/* ---- OTP text --------------------------------------------------------- */

static void assert_format(const lm_script *s, const lm_plan *p, int indent,
			  const char *want)
{
	char *text = lm_script_format(s, p, indent);

	assert_non_null(text);
	assert_string_equal(text, want);
	free(text);
}

/* The two lines DESIGN.md prints, byte for byte. */
static void test_otp_design_example(void **state)
{
	static const char want[] =
		"script:           [{load_module,mod_messager}]\n"
		"low level script: [{load_object_code,{chatd,[],[mod_messager]}},\n"
		"                   point_of_no_return,\n"
		"                   {load,{mod_messager,brutal_purge,brutal_purge}}]\n";
	lm_plan *p = design_plan();
	char *hi = lm_script_format(&p->script, p, 18);
	char *lo = lm_script_format(&p->low_level, p, 18);
	char *got;

	(void)state;
	assert_true(asprintf(&got, "script:           %s\nlow level script: %s\n",
			     hi, lo) > 0);
	assert_string_equal(got, want);
	free(got);
	free(hi);
	free(lo);
	lm_plan_free(p);
}

static void test_otp_every_instruction(void **state)
{
	lm_plan *p = rich_plan();

	(void)state;
	assert_format(&p->script, p, -1,
		      "[{load_module,mod_messager},"
		      "{update,mod_room,{advanced,\"layout \\\"2\\\"\\n\"},"
		      "soft_purge,brutal_purge,[]},"
		      "{add_module,mod_new,[mod_messager]},"
		      "{delete_module,mod_old}]");
	assert_format(&p->down_low_level, p, 0,
		      "[{load_object_code,{chatd,[],[mod_old,mod_messager,mod_room]}},\n"
		      " point_of_no_return,\n"
		      " {load,{mod_old,brutal_purge,brutal_purge}},\n"
		      " {load,{mod_messager,brutal_purge,brutal_purge}},\n"
		      " {suspend,[mod_room]},\n"
		      " {code_change,down,[{mod_room,\"layout \\\"2\\\"\\n\"}]},\n"
		      " {load,{mod_room,soft_purge,brutal_purge}},\n"
		      " {resume,[mod_room]},\n"
		      " {remove,{mod_new,brutal_purge,brutal_purge}},\n"
		      " {purge,[mod_new]}]");
	lm_plan_free(p);
}

static void test_otp_long_forms_and_quoting(void **state)
{
	lm_plan *p = new_plan();
	lm_script s = {0};

	(void)state;
	free(p->app);
	p->app = xstrdup("chat-d");
	push(&s, LM_OP_LOAD_MODULE, "mod_x", NULL, S, S, LM_UP, "mod_util");
	push(&s, LM_OP_LOAD_MODULE, "mod_y", NULL, B, B, LM_UP, "mod_util");
	push(&s, LM_OP_LOAD_MODULE, "mod_z", NULL, B, S, LM_UP, "");
	push(&s, LM_OP_UPDATE, "mod_x", "", B, B, LM_UP, "");
	push(&s, LM_OP_UPDATE, "end", "a\\b\t\x01\xc3\xa9", B, B, LM_UP, "");
	push(&s, LM_OP_LOAD_OBJECT_CODE, "mod_x end", NULL, 0, 0, LM_UP, "");
	push(&s, LM_OP_CODE_CHANGE, "mod_x mod_y", "", 0, 0, LM_UP, "");
	assert_format(&s, p, -1,
		      "[{load_module,mod_x,soft_purge,soft_purge,[mod_util]},"
		      "{load_module,mod_y,brutal_purge,brutal_purge,[mod_util]},"
		      "{load_module,mod_z,brutal_purge,soft_purge,[]},"
		      "{update,mod_x,{advanced,[]},brutal_purge,brutal_purge,[]},"
		      "{update,'end',{advanced,\"a\\\\b\\t\\x{1}\\x{C3}\\x{A9}\"},"
		      "brutal_purge,brutal_purge,[]},"
		      "{load_object_code,{'chat-d',[],[mod_x,'end']}},"
		      "{code_change,up,[{mod_x,[]},{mod_y,[]}]}]");
	lm_script_clear(&s);
	assert_format(&s, p, 4, "[]");
	lm_plan_free(p);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(lm_op_name(LM_OP_POINT_OF_NO_RETURN),
			    "point_of_no_return");
	assert_string_equal(lm_op_name(LM_OP_DELETE_MODULE), "delete_module");
	assert_string_equal(lm_change_name(LM_REMOVED), "removed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_design),
		cmocka_unit_test(test_round_trip_rich),
		cmocka_unit_test(test_round_trip_dry_run),
		cmocka_unit_test(test_round_trip_empty),
		cmocka_unit_test(test_json_layout),
		cmocka_unit_test(test_reject_format),
		cmocka_unit_test(test_reject_not_json),
		cmocka_unit_test(test_reject_wrong_types),
		cmocka_unit_test(test_reject_missing_and_bad_values),
		cmocka_unit_test(test_reject_bad_oid),
		cmocka_unit_test(test_reject_bad_module_name),
		cmocka_unit_test(test_reject_unknown_op),
		cmocka_unit_test(test_reject_unknown_module),
		cmocka_unit_test(test_reject_point_of_no_return),
		cmocka_unit_test(test_reject_cross_field),
		cmocka_unit_test(test_validate_in_memory),
		cmocka_unit_test(test_unknown_keys_ignored),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_otp_design_example),
		cmocka_unit_test(test_otp_every_instruction),
		cmocka_unit_test(test_otp_long_forms_and_quoting),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
