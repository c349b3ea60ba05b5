/*
 * script.h - from a diff to scripts: dependency order, the high-level
 * script, and its translation to the low-level script, both ways.
 *
 * The rules follow OTP's systools_rc: load_object_code for every module
 * that gets new code, then point_of_no_return, then per module in
 * dependency order: load_module -> load; update with advanced ->
 * suspend, code_change, load, resume; add_module -> load; delete_module ->
 * remove then purge. docs/plan-format.md states the translation exactly.
 */
#ifndef LM_SCRIPT_H
#define LM_SCRIPT_H

#include "plan.h"

/*
 * Orders module names so that each comes after the modules it depends on
 * (among those in `set`; deps outside `set` are ignored). Ties break by
 * name, so the order is deterministic. A cycle: LM_EINVAL, "dependency
 * cycle: a -> b -> c -> a" naming every module in it.
 * `names` are the modules to order (a subset of `set`); out is a new array
 * of pointers into `names` (caller frees the array only).
 */
int lm_deps_order(const char ***out, const char *const *names, size_t n,
		  const lm_modset *set);

/*
 * Checks a whole release: every dependency is in `set` ("mod_a depends on
 * mod_x, which is not installed") and there is no dependency cycle
 * (lm_deps_order's message); LM_EINVAL otherwise. Planning relies on the
 * release it starts from passing this (a new cycle must go through a
 * module the plan adds or changes), so `livemod init` refuses a libdir
 * that does not.
 */
int lm_release_check(const lm_modset *set);

/*
 * Fills p->script, p->low_level, p->down_script, p->down_low_level from
 * p->modules (their change kinds, sides, purge modes, extras) and orders
 * p->modules in script order. `old_set` and `new_set` are the whole from
 * and to releases, for dependency order and for the check that every
 * dependency is present ("mod_a depends on mod_x, which is not installed":
 * LM_EINVAL) and that no remaining module depends on a removed one. Only
 * the plan's modules and what they depend on are ordered, so a cycle is
 * found when it goes through a module the plan adds or changes: the from
 * release has none (lm_release_check).
 */
int lm_script_build(lm_plan *p, const lm_modset *old_set,
		    const lm_modset *new_set);

#endif
