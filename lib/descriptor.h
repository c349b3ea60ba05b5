/*
 * descriptor.h - a module's descriptor, as read from its ELF file.
 *
 * The planner learns everything about a module from the two sections that
 * <livemod/module.h> emits ("lm_module", "lm_exports"), read with libelf:
 * no code of the module runs at plan time. The agent compares the same
 * fields, read after dlopen, with what was planned.
 */
#ifndef LM_DESCRIPTOR_H
#define LM_DESCRIPTOR_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <livemod/module.h>

/* Which optional callbacks a module defines. */
enum {
	LM_CB_INIT = 1u << 0,
	LM_CB_CODE_CHANGE = 1u << 1,
	LM_CB_TERMINATE = 1u << 2,
	LM_CB_CHANGE_COMMIT = 1u << 3, /* ABI 2: state by move */
	LM_CB_CHANGE_ABORT = 1u << 4
};

typedef struct lm_export_info {
	char *name;      /* C identifier */
	char *signature; /* type text as written by the author */
} lm_export_info;

typedef struct lm_descriptor {
	char *name;            /* [a-z][a-z0-9_]*, < LM_NAME_MAX */
	char *vsn;             /* non-empty, printable ASCII, no spaces */
	unsigned abi;          /* 1..LM_ABI_VERSION */
	char **deps;           /* ndeps valid module names, no duplicates */
	size_t ndeps;
	lm_export_info *exports; /* sorted by name, no duplicates */
	size_t nexports;
	unsigned callbacks;    /* LM_CB_* */
	lm_purge_mode purge;   /* the module's own choice, or LM_PURGE_DEFAULT */
	bool partial;          /* exports not loaded: a bulk ledger read for
				* planning; lm_ledger_module_version gives the
				* whole descriptor */
} lm_descriptor;

/* True when `name` is a valid module name: [a-z][a-z0-9_]*, shorter than
 * LM_NAME_MAX. */
bool lm_module_name_valid(const char *name);

/* True when `vsn` is a valid version text: 1..LM_VSN_MAX-1 printable ASCII
 * characters other than space, quote, backslash, comma, braces, brackets. */
bool lm_vsn_valid(const char *vsn);

/*
 * Reads the descriptor of the ELF object at `path` without running it.
 * Errors (message names `path` and the field):
 *   LM_ENOTELF  not an ELF file (including empty or too short to be one)
 *   LM_ENODESC  a valid ELF object with no "lm_module" section
 *   LM_EINVAL   truncated or corrupt ELF, wrong class or machine, malformed
 *               descriptor (bad name, empty vsn, ABI from the future, bad
 *               dependency name, export of another module, ...)
 *   LM_ERROR    I/O error
 */
int lm_descriptor_read_file(lm_descriptor **out, const char *path);

/* Same, from bytes in memory; `label` names them in messages. */
int lm_descriptor_read_mem(lm_descriptor **out, const void *buf, size_t len,
			   const char *label);

/* Reads the descriptor of a module the agent has dlopen'ed, from its
 * `lm_module_descriptor` symbol; validates as above. */
int lm_descriptor_from_loaded(lm_descriptor **out,
			      const struct lm_module_desc *desc,
			      const char *label);

/* Checks every field; LM_EINVAL naming `label` and the field. */
int lm_descriptor_validate(const lm_descriptor *d, const char *label);

/* The same rules for every field but the deps and exports, as a
 * predicate with no message: for a reader of many descriptors (the
 * ledger) that names only the one that fails, through validate. */
bool lm_descriptor_head_valid(const lm_descriptor *d);

/* True when both describe the same name, vsn, abi, deps, exports,
 * callbacks and purge. */
bool lm_descriptor_equal(const lm_descriptor *a, const lm_descriptor *b);

/* The export named `name`, or NULL. */
const lm_export_info *lm_descriptor_export(const lm_descriptor *d,
					   const char *name);

lm_descriptor *lm_descriptor_dup(const lm_descriptor *d);

/* JSON form used in plans: {"name","vsn","abi","deps":[...],
 * "exports":[{"name","signature"}],"callbacks":["init",...] (also
 * "change_commit", "change_abort"),
 * "purge":"soft_purge"|"brutal_purge"|null}. from_json validates and names
 * `label` (e.g. "plans/3.json: modules[1].new") in its messages. */
cJSON *lm_descriptor_to_json(const lm_descriptor *d);
int lm_descriptor_from_json(lm_descriptor **out, const cJSON *json,
			    const char *label);

/* Compact text forms the ledger stores: deps as "a b c"; exports one
 * "name\tsignature" a line. Parse functions validate. */
char *lm_descriptor_deps_text(const lm_descriptor *d);
char *lm_descriptor_exports_text(const lm_descriptor *d);
int lm_descriptor_set_deps_text(lm_descriptor *d, const char *text);
int lm_descriptor_set_exports_text(lm_descriptor *d, const char *text);

/* "soft_purge", "brutal_purge", or NULL for LM_PURGE_DEFAULT. */
const char *lm_purge_name(lm_purge_mode m);
/* Parses a purge name; -1 when unknown. */
int lm_purge_parse(const char *s);

/* A zeroed descriptor with `name` and `vsn` (NULL: "") copied into its
 * own block: a release's 10,000 descriptors are 10,000 allocations, not
 * 30,000. name and vsn are not to be freed or replaced. NULL when out of
 * memory. */
lm_descriptor *lm_descriptor_new(const char *name, const char *vsn);
void lm_descriptor_free(lm_descriptor *d);

#endif
