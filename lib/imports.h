/*
 * imports.h - the exports a host declares it looks up (module, name,
 * signature), and the check of a release or a plan against them.
 *
 * The host declares them when it starts its node (lm_node_options
 * imports); the node validates them while booting a release, records
 * them in the ledger, and checks every plan against them; the planner
 * checks plans against the recorded set offline. One check serves all
 * three, so a plan the planner accepts is one the node's check accepts.
 */
#ifndef LM_IMPORTS_H
#define LM_IMPORTS_H

#include <stdbool.h>
#include <stddef.h>

struct lm_descriptor;
struct lm_plan;
struct lm_modset;

typedef struct lm_import_decl {
	char *module;
	char *name;
	char *signature; /* normalised (lm_sig_normalize) */
} lm_import_decl;

typedef struct lm_imports {
	lm_import_decl *v;
	size_t n;
} lm_imports;

/* Adds one declaration (copied, signature normalised); a second one of
 * the same module and name must have the same signature (LM_EINVAL). */
int lm_imports_add(lm_imports *im, const char *module, const char *name,
		   const char *signature);
void lm_imports_clear(lm_imports *im);

/* Tokens are what matter: "lm_task*" and "lm_task *" are one type. Keeps
 * one space only where it separates two identifier characters. NULL when
 * out of memory; caller frees. */
char *lm_sig_normalize(const char *sig);

/* True when `a` and `b` are one signature: equal once normalised as
 * lm_sig_normalize does (whitespace dropped except one blank between two
 * identifier characters), compared without allocating. `const char*const*`
 * and `const char *const *` are equal; `unsigned` and `unsigned int` are
 * not (the text is the ABI, docs/module-guide.md). */
bool lm_sig_equal(const char *a, const char *b);

/* Does version `d` of its module give every import declared from that
 * module, each with its signature? LM_ECHECK naming the module, its
 * version, the export and what differs. */
int lm_imports_check_desc(const lm_imports *im, const struct lm_descriptor *d);

/* Every declared import present in release `set` (whole descriptors). */
int lm_imports_check_set(const lm_imports *im, const struct lm_modset *set);

/* A plan keeps every declared import: no module declared from is removed,
 * and each new version gives what is declared from it. */
int lm_imports_check_plan(const lm_imports *im, const struct lm_plan *p);

#endif
