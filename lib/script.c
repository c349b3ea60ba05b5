/*
 * script.c - from a diff to the four scripts of a plan: dependency order,
 * the high-level script, and its translation to the low-level script, on
 * the way up and on the way back.
 *
 * The rules are OTP systools_rc's, adapted to a process that keeps both
 * versions mapped until the new one is published; docs/plan-format.md
 * ("Translation rules") is their exact statement and must change with
 * this file. A release may hold thousands of modules (the benchmark plans
 * 10,000): dependency order costs O((n + e) log n) in the modules it
 * orders, and a plan orders only its own modules and what they depend on.
 */
#include "script.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* ---- dependency order ------------------------------------------------ */

/* The dependency graph among `names`: node i depends on the nodes
 * edges[first[i] .. first[i+1]); by_name lists the nodes sorted by name,
 * and rank[i] is node i's place in it, so "smallest name" is "smallest
 * rank" and a name is found by binary search. A release may hold
 * thousands of modules: everything here is O((n + e) log n). */
typedef struct graph {
	const char *const *names;
	size_t n;
	size_t *first; /* n + 1 entries */
	size_t *edges;
	size_t *by_name;
	size_t *rank;
} graph;

static const char *const *sort_names; /* qsort has no context argument */

static int cmp_by_name(const void *a, const void *b)
{
	return strcmp(sort_names[*(const size_t *)a],
		      sort_names[*(const size_t *)b]);
}

static size_t name_index(const graph *g, const char *s)
{
	size_t lo = 0, hi = g->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(g->names[g->by_name[mid]], s);

		if (c == 0)
			return g->by_name[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return g->n;
}

static const lm_descriptor *set_desc(const lm_modset *set, const char *name)
{
	const lm_modinfo *mi = lm_modset_find(set, name);

	return mi ? mi->desc : NULL;
}

static int graph_build(graph *g, const char *const *names, size_t n,
		       const lm_modset *set)
{
	size_t ne = 0;

	g->names = names;
	g->n = n;
	g->first = calloc(n + 1, sizeof(size_t));
	g->by_name = malloc((n + 1) * sizeof(size_t));
	g->rank = malloc((n + 1) * sizeof(size_t));
	for (size_t i = 0; g->first && i < n; i++) {
		const lm_descriptor *d = set_desc(set, names[i]);

		ne += d ? d->ndeps : 0;
	}
	g->edges = malloc((ne ? ne : 1) * sizeof(size_t));
	if (!g->first || !g->edges || !g->by_name || !g->rank)
		return lm_error_set(LM_ERROR, "out of memory");
	for (size_t i = 0; i < n; i++)
		g->by_name[i] = i;
	sort_names = names;
	qsort(g->by_name, n, sizeof(size_t), cmp_by_name);
	for (size_t i = 0; i < n; i++)
		g->rank[g->by_name[i]] = i;
	ne = 0;
	for (size_t i = 0; i < n; i++) {
		const lm_descriptor *d = set_desc(set, names[i]);

		g->first[i] = ne;
		for (size_t k = 0; d && k < d->ndeps; k++) {
			size_t j = name_index(g, d->deps[k]);

			if (j < n) /* deps outside the set are not ordered */
				g->edges[ne++] = j;
		}
	}
	g->first[n] = ne;
	return 0;
}

static void graph_free(graph *g)
{
	free(g->first);
	free(g->edges);
	free(g->by_name);
	free(g->rank);
}

/* A binary min-heap of node indices ordered by rank (name). */
typedef struct heap {
	size_t *v, n;
	const size_t *rank;
} heap;

static void heap_push(heap *h, size_t x)
{
	size_t i = h->n++;

	while (i > 0 && h->rank[h->v[(i - 1) / 2]] > h->rank[x]) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = x;
}

static size_t heap_pop(heap *h)
{
	size_t top = h->v[0], last = h->v[--h->n], i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->rank[h->v[c + 1]] < h->rank[h->v[c]])
			c++;
		if (h->rank[h->v[c]] >= h->rank[last])
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}

/* Who depends on each node: the edges reversed, in the same layout. */
static int reverse_edges(size_t **rfirst, size_t **redges, const graph *g)
{
	size_t ne = g->first[g->n], *fill;

	*rfirst = calloc(g->n + 2, sizeof(size_t));
	*redges = malloc((ne ? ne : 1) * sizeof(size_t));
	fill = calloc(g->n + 1, sizeof(size_t));
	if (!*rfirst || !*redges || !fill) {
		free(fill);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	for (size_t e = 0; e < ne; e++)
		(*rfirst)[g->edges[e] + 1]++;
	for (size_t i = 0; i < g->n; i++)
		(*rfirst)[i + 1] += (*rfirst)[i];
	for (size_t i = 0; i < g->n; i++)
		for (size_t e = g->first[i]; e < g->first[i + 1]; e++) {
			size_t j = g->edges[e];

			(*redges)[(*rfirst)[j] + fill[j]++] = i;
		}
	free(fill);
	return 0;
}

/* The not-yet-done dependency of `i` with the smallest name, or n. */
static size_t first_pending_dep(const graph *g, size_t i, const bool *done)
{
	size_t best = g->n;

	for (size_t e = g->first[i]; e < g->first[i + 1]; e++) {
		size_t j = g->edges[e];

		if (!done[j] &&
		    (best == g->n || strcmp(g->names[j], g->names[best]) < 0))
			best = j;
	}
	return best;
}

/* Kahn stopped with modules left: each left one has a pending dependency
 * among them, so walking "smallest pending dependency" from the smallest
 * left module must revisit a module; the walk from that module on is a
 * cycle. It is printed from its smallest name, so the message does not
 * depend on where the walk started. */
static int report_cycle(const graph *g, const bool *done)
{
	size_t *path = malloc(g->n * sizeof(size_t)), len = 0, start = g->n;
	size_t *pos = malloc(g->n * sizeof(size_t)), from, low, i;
	char msg[1024];
	int off;

	if (!path || !pos) {
		free(path);
		free(pos);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	for (i = 0; i < g->n; i++) {
		pos[i] = g->n;
		if (!done[i] && (start == g->n ||
				 strcmp(g->names[i], g->names[start]) < 0))
			start = i;
	}
	assert(start < g->n);
	for (i = start; pos[i] == g->n; i = first_pending_dep(g, i, done)) {
		pos[i] = len;
		path[len++] = i;
		assert(first_pending_dep(g, i, done) < g->n);
	}
	from = pos[i];
	low = from;
	for (size_t k = from; k < len; k++)
		if (strcmp(g->names[path[k]], g->names[path[low]]) < 0)
			low = k;
	off = snprintf(msg, sizeof(msg), "dependency cycle: ");
	for (size_t k = 0; k <= len - from && off < (int)sizeof(msg); k++) {
		size_t at = from + (low - from + k) % (len - from);

		off += snprintf(msg + off, sizeof(msg) - (size_t)off, "%s%s",
				k ? " -> " : "", g->names[path[at]]);
	}
	free(path);
	free(pos);
	return lm_error_set(LM_EINVAL, "%s", msg);
}

int lm_deps_order(const char ***out, const char *const *names, size_t n,
		  const lm_modset *set)
{
	size_t *pending = calloc(n + 1, sizeof(size_t));
	bool *done = calloc(n + 1, sizeof(bool));
	const char **order = malloc((n + 1) * sizeof(char *));
	size_t *rfirst = NULL, *redges = NULL, k = 0;
	heap h = { malloc((n + 1) * sizeof(size_t)), 0, NULL };
	graph g = {0};
	int rc = !pending || !done || !order || !h.v
		 ? lm_error_set(LM_ERROR, "out of memory")
		 : graph_build(&g, names, n, set);

	*out = NULL;
	if (rc == 0)
		rc = reverse_edges(&rfirst, &redges, &g);
	h.rank = g.rank;
	for (size_t i = 0; rc == 0 && i < n; i++)
		if ((pending[i] = g.first[i + 1] - g.first[i]) == 0)
			heap_push(&h, i);
	/* Kahn's algorithm; the ready module with the smallest name goes
	 * next, so the order depends only on the graph. */
	while (rc == 0 && h.n > 0) {
		size_t next = heap_pop(&h);

		done[next] = true;
		order[k++] = names[next];
		for (size_t e = rfirst[next]; e < rfirst[next + 1]; e++)
			if (--pending[redges[e]] == 0)
				heap_push(&h, redges[e]);
	}
	if (rc == 0 && k < n)
		rc = report_cycle(&g, done);
	graph_free(&g);
	free(rfirst);
	free(redges);
	free(h.v);
	free(pending);
	free(done);
	if (rc) {
		free(order);
		return rc;
	}
	*out = order;
	return 0;
}

/* ---- checks over the releases ---------------------------------------- */

static const lm_plan_module *plan_find(const lm_plan *p, const char *name)
{
	for (size_t i = 0; i < p->nmodules; i++)
		if (strcmp(p->modules[i].name, name) == 0)
			return &p->modules[i];
	return NULL;
}

/* Every dependency of every module of `set` is in it: what the agent's
 * check would refuse after loading, refused before planning. `p`, when
 * given, names a dependency the plan removes as such. O(e log n): the
 * whole release is checked on every plan, which costs next to nothing
 * when most modules depend on nothing. */
static int deps_present(const lm_plan *p, const lm_modset *set)
{
	for (size_t i = 0; i < set->n; i++) {
		const lm_descriptor *d = set->v[i].desc;

		for (size_t k = 0; k < d->ndeps; k++) {
			const lm_plan_module *dep;

			if (lm_modset_find(set, d->deps[k]))
				continue;
			dep = p ? plan_find(p, d->deps[k]) : NULL;
			return lm_error_set(LM_EINVAL,
					    "%s depends on %s, which %s", d->name,
					    d->deps[k],
					    dep && dep->change == LM_REMOVED
					    ? "this plan removes"
					    : "is not installed");
		}
	}
	return 0;
}

int lm_release_check(const lm_modset *set)
{
	const char **names = malloc((set->n ? set->n : 1) * sizeof(char *));
	const char **order = NULL;
	int rc;

	if (!names)
		return lm_error_set(LM_ERROR, "out of memory");
	for (size_t k = 0; k < set->n; k++)
		names[k] = set->v[k].desc->name;
	if ((rc = deps_present(NULL, set)) == 0)
		rc = lm_deps_order(&order, names, set->n, set);
	free(order);
	free(names);
	return rc;
}

/*
 * The position in dependency order of the modules of `set` that a plan
 * orders: the plan's own modules and, transitively, what they depend on
 * (an unchanged module in between still orders the two it links; see
 * test_build_transitive_order). That closure holds every dependency of
 * its members, so Kahn's smallest-name-first order over it is the whole
 * release's order with the others left out, at the cost of the plan's
 * size rather than the release's. rank[k] is for set->v[k], valid where
 * in[k]; n counts those.
 */
typedef struct ranking {
	const lm_modset *set;
	size_t *rank;
	bool *in;
	size_t n;
} ranking;

static void ranking_free(ranking *r)
{
	free(r->rank);
	free(r->in);
}

/* Marks set->v[k] in the closure and queues it, unless it is already. */
static void closure_add(ranking *r, size_t *queue, size_t k)
{
	if (!r->in[k]) {
		r->in[k] = true;
		queue[r->n++] = k;
	}
}

static int ranking_build(ranking *r, const lm_plan *p, const lm_modset *set,
			 const char *which)
{
	size_t cap = set->n ? set->n : 1, *queue = malloc(cap * sizeof(size_t));
	const char **names = malloc(cap * sizeof(char *)), **order = NULL;
	int rc;

	r->set = set;
	r->n = 0;
	r->rank = malloc(cap * sizeof(size_t));
	r->in = calloc(cap, sizeof(bool));
	if (!queue || !names || !r->rank || !r->in) {
		rc = lm_error_set(LM_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < p->nmodules; i++) {
		const lm_modinfo *mi = lm_modset_find(set, p->modules[i].name);

		if (mi)
			closure_add(r, queue, (size_t)(mi - set->v));
	}
	/* Breadth first; r->n grows as dependencies are queued. */
	for (size_t q = 0; q < r->n; q++) {
		const lm_descriptor *d = set->v[queue[q]].desc;

		for (size_t k = 0; k < d->ndeps; k++) {
			const lm_modinfo *mi = lm_modset_find(set, d->deps[k]);

			if (mi)
				closure_add(r, queue, (size_t)(mi - set->v));
		}
	}
	for (size_t q = 0; q < r->n; q++)
		names[q] = set->v[queue[q]].desc->name;
	rc = lm_deps_order(&order, names, r->n, set);
	if (rc) {
		if (which)
			rc = lm_error_wrap("%s", which);
		goto out;
	}
	for (size_t i = 0; i < r->n; i++)
		r->rank[lm_modset_find(set, order[i]) - set->v] = i;
out:
	free(order);
	free(names);
	free(queue);
	return rc;
}

static int rank_of(size_t *out, const ranking *r, const char *name,
		   const char *release)
{
	const lm_modinfo *mi = lm_modset_find(r->set, name);

	if (!mi)
		return lm_error_set(LM_EINVAL, "%s is in the plan but not in "
				    "the %s release", name, release);
	assert(r->in[mi - r->set->v]); /* every plan module seeds the closure */
	*out = r->rank[mi - r->set->v];
	return 0;
}

/* ---- script order ---------------------------------------------------- */

typedef struct keyed {
	size_t key;
	lm_plan_module *m;
} keyed;

static int keyed_cmp(const void *a, const void *b)
{
	size_t x = ((const keyed *)a)->key, y = ((const keyed *)b)->key;

	return (x > y) - (x < y);
}

/*
 * Script order for one direction. `to` ranks the release being installed,
 * `from` the one being left. Modules that get code (present in `to`) come
 * first, in `to`'s dependency order; then the modules to delete, in
 * reverse `from` order, so that a dependent goes before what it uses.
 */
static int script_order(keyed *v, lm_plan *p, bool up, const ranking *to,
			const ranking *from)
{
	const char *to_name = up ? "new" : "old", *from_name = up ? "old" : "new";
	int rc;

	for (size_t i = 0; i < p->nmodules; i++) {
		lm_plan_module *m = &p->modules[i];
		bool gets_code = up ? m->new_side != NULL : m->old_side != NULL;
		size_t r = 0;

		rc = gets_code ? rank_of(&r, to, m->name, to_name)
			       : rank_of(&r, from, m->name, from_name);
		if (rc)
			return rc;
		v[i].m = m;
		v[i].key = gets_code ? r : to->n + from->n - r;
	}
	qsort(v, p->nmodules, sizeof(*v), keyed_cmp);
	return 0;
}

/* ---- the high-level script ------------------------------------------- */

/* DepMods: the dependencies of the version the instruction is about that
 * are themselves in the plan. OTP uses DepMods to order instructions
 * within one script; a dependency outside the plan does not move, so
 * listing it would say nothing (and DESIGN.md's example, whose module
 * depends on an unchanged mod_util, prints the short form). */
static char **plan_deps(const lm_plan *p, const lm_descriptor *d, size_t *n)
{
	char **v = malloc((d->ndeps ? d->ndeps : 1) * sizeof(char *));

	*n = 0;
	for (size_t k = 0; v && k < d->ndeps; k++)
		if (plan_find(p, d->deps[k]))
			v[(*n)++] = d->deps[k];
	return v;
}

static lm_op high_op(const lm_plan_module *m, bool up)
{
	switch (m->change) {
	case LM_ADDED:
		return up ? LM_OP_ADD_MODULE : LM_OP_DELETE_MODULE;
	case LM_REMOVED:
		return up ? LM_OP_DELETE_MODULE : LM_OP_ADD_MODULE;
	case LM_CHANGED:
		/* both ways the newer version's code_change converts the state */
		return m->new_side->desc->callbacks & LM_CB_CODE_CHANGE
		       ? LM_OP_UPDATE : LM_OP_LOAD_MODULE;
	case LM_DOWNGRADED: /* the newer version is the one replaced */
		return m->old_side->desc->callbacks & LM_CB_CODE_CHANGE
		       ? LM_OP_UPDATE : LM_OP_LOAD_MODULE;
	}
	assert(!"unknown change kind");
	return LM_OP_LOAD_MODULE;
}

static int push_high(lm_script *s, const lm_plan *p, const lm_plan_module *m,
		     bool up)
{
	const lm_plan_side *target = up ? m->new_side : m->old_side;
	const lm_plan_side *subject = target ? target : (up ? m->old_side
							    : m->new_side);
	lm_op op = high_op(m, up);
	bool purges = op == LM_OP_LOAD_MODULE || op == LM_OP_UPDATE;
	char *mod[1] = {m->name}, *extra[1] = {m->extra};
	lm_instr in = {
		.op = op,
		.modules = mod,
		.nmodules = 1,
		.extras = op == LM_OP_UPDATE ? extra : NULL,
		.pre_purge = purges ? m->pre_purge : LM_PURGE_DEFAULT,
		.post_purge = purges ? m->post_purge : LM_PURGE_DEFAULT,
	};
	int rc;

	assert(subject && subject->desc);
	in.dep_mods = plan_deps(p, subject->desc, &in.ndep_mods);
	if (!in.dep_mods)
		return lm_error_set(LM_ERROR, "out of memory");
	rc = lm_script_push(s, &in);
	free(in.dep_mods);
	return rc;
}

/* ---- the low-level script -------------------------------------------- */

static bool loads_code(lm_op op)
{
	return op == LM_OP_LOAD_MODULE || op == LM_OP_UPDATE ||
	       op == LM_OP_ADD_MODULE;
}

/* load_object_code lists every module that gets code, in script order;
 * with none (a plan that only deletes) it is left out, as OTP does. */
static int push_load_object_code(lm_script *low, const lm_script *high)
{
	char **mods = malloc((high->n ? high->n : 1) * sizeof(char *));
	lm_instr in = {.op = LM_OP_LOAD_OBJECT_CODE, .modules = mods};
	int rc = 0;

	if (!mods)
		return lm_error_set(LM_ERROR, "out of memory");
	for (size_t i = 0; i < high->n; i++)
		if (loads_code(high->v[i].op))
			mods[in.nmodules++] = high->v[i].modules[0];
	if (in.nmodules)
		rc = lm_script_push(low, &in);
	free(mods);
	return rc;
}

/* One low-level instruction about the module of high-level `h`. */
static int push_low(lm_script *low, lm_op op, const lm_instr *h,
		    lm_purge_mode pre, lm_purge_mode post, lm_change_mode mode)
{
	lm_instr in = {
		.op = op,
		.modules = h->modules,
		.nmodules = 1,
		.extras = op == LM_OP_CODE_CHANGE ? h->extras : NULL,
		.pre_purge = pre,
		.post_purge = post,
		.mode = mode,
	};

	return lm_script_push(low, &in);
}

/*
 * After point_of_no_return, per high-level instruction:
 *   load_module    -> load
 *   update         -> suspend, code_change, load, resume
 *   add_module     -> load (brutal, brutal: there is no old code)
 *   delete_module  -> remove (brutal, brutal), purge
 * OTP loads before an upward code_change; the agent instead keeps both
 * versions mapped and runs code_change before publishing the new one, so
 * that a failing code_change leaves the old version serving (DESIGN.md).
 */
static int translate(lm_script *low, const lm_instr *h, lm_change_mode mode)
{
	const lm_purge_mode B = LM_BRUTAL_PURGE, D = LM_PURGE_DEFAULT;
	int rc;

	switch (h->op) {
	case LM_OP_LOAD_MODULE:
		return push_low(low, LM_OP_LOAD, h, h->pre_purge, h->post_purge, mode);
	case LM_OP_UPDATE:
		if ((rc = push_low(low, LM_OP_SUSPEND, h, D, D, mode)) ||
		    (rc = push_low(low, LM_OP_CODE_CHANGE, h, D, D, mode)) ||
		    (rc = push_low(low, LM_OP_LOAD, h, h->pre_purge,
				   h->post_purge, mode)))
			return rc;
		return push_low(low, LM_OP_RESUME, h, D, D, mode);
	case LM_OP_ADD_MODULE:
		return push_low(low, LM_OP_LOAD, h, B, B, mode);
	case LM_OP_DELETE_MODULE:
		if ((rc = push_low(low, LM_OP_REMOVE, h, B, B, mode)))
			return rc;
		return push_low(low, LM_OP_PURGE, h, D, D, mode);
	default:
		assert(!"not a high-level instruction");
		return lm_error_set(LM_ERROR, "not a high-level instruction");
	}
}

/* `mode` is the direction's; a module taken to older bytes goes the
 * other way (LM_DOWNGRADED). */
static int build_low(lm_script *low, const lm_script *high, const lm_plan *p,
		     lm_change_mode mode)
{
	const lm_instr ponr = {.op = LM_OP_POINT_OF_NO_RETURN};
	int rc;

	if (high->n == 0)
		return 0;
	if ((rc = push_load_object_code(low, high)) ||
	    (rc = lm_script_push(low, &ponr)))
		return rc;
	for (size_t i = 0; i < high->n; i++) {
		const lm_plan_module *m = plan_find(p, high->v[i].modules[0]);
		bool older = m && m->change == LM_DOWNGRADED;

		if ((rc = translate(low, &high->v[i],
				    older ? (mode == LM_UP ? LM_DOWN : LM_UP)
					  : mode)))
			return rc;
	}
	return 0;
}

/* Both scripts of one direction, from modules in that direction's order. */
static int build_direction(lm_script *high, lm_script *low, const lm_plan *p,
			   const keyed *order, bool up)
{
	int rc;

	for (size_t i = 0; i < p->nmodules; i++)
		if ((rc = push_high(high, p, order[i].m, up)))
			return rc;
	return build_low(low, high, p, up ? LM_UP : LM_DOWN);
}

/* p->modules rearranged into the order of `v` (which points into it). */
static int reorder_modules(lm_plan *p, const keyed *v)
{
	lm_plan_module *m = malloc((p->nmodules ? p->nmodules : 1) * sizeof(*m));

	if (!m)
		return lm_error_set(LM_ERROR, "out of memory");
	for (size_t i = 0; i < p->nmodules; i++)
		m[i] = *v[i].m;
	if (p->nmodules) /* p->modules may be NULL then: memcpy wants it not */
		memcpy(p->modules, m, p->nmodules * sizeof(*m));
	free(m);
	return 0;
}

int lm_script_build(lm_plan *p, const lm_modset *old_set,
		    const lm_modset *new_set)
{
	ranking new_rank = {0}, old_rank = {0};
	keyed *up = calloc(p->nmodules + 1, sizeof(keyed));
	keyed *down = calloc(p->nmodules + 1, sizeof(keyed));
	int rc;

	lm_script_clear(&p->script);
	lm_script_clear(&p->low_level);
	lm_script_clear(&p->down_script);
	lm_script_clear(&p->down_low_level);
	if (!up || !down)
		rc = lm_error_set(LM_ERROR, "out of memory");
	else if (!(rc = deps_present(p, new_set)) &&
		 !(rc = ranking_build(&new_rank, p, new_set, NULL)) &&
		 !(rc = ranking_build(&old_rank, p, old_set, "old release")) &&
		 !(rc = script_order(up, p, true, &new_rank, &old_rank)) &&
		 !(rc = script_order(down, p, false, &old_rank, &new_rank)) &&
		 !(rc = build_direction(&p->down_script, &p->down_low_level, p,
					down, false)) &&
		 !(rc = build_direction(&p->script, &p->low_level, p, up, true)))
		rc = reorder_modules(p, up);
	ranking_free(&new_rank);
	ranking_free(&old_rank);
	free(up);
	free(down);
	return rc ? rc : lm_plan_validate(p, "plan");
}
