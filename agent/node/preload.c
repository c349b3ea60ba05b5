/*
 * preload.c - staging ahead of the apply; see preload.h.
 */
#include "preload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "fsutil.h"
#include "node_internal.h"
#include "runtime_node.h"
#include "objects.h"
#include "store.h"

static long mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

static int stage_item(lm_preload *pre, lm_store **store, lm_preload_item *it)
{
	lm_node *n = pre->n;
	char *path = NULL;
	int rc = lm_objects_reuse(&path, n->state_dir, n->rt, it->oid);

	if (rc == 0 && it->src)
		rc = lm_objects_copy(&path, n->state_dir, it->src, n->rt,
				     it->oid);
	else if (rc == 0 && (*store ||
			     (rc = lm_store_open(store, n->store_path, 0)) == 0))
		rc = lm_objects_extract(&path, n->state_dir, *store, n->rt,
					it->oid);
	if (rc >= 0)
		rc = lm__runtime_stage_desc(n->rt, path, it->oid, it->desc);
	free(path);
	return rc;
}

static void *loader(void *arg)
{
	lm_preload *pre = arg;
	lm_store *store = NULL;
	long t0 = mono_us();

	for (size_t i = 0; i < pre->count; i++)
		pre->v[i].staged = stage_item(pre, &store, &pre->v[i]) == 0;
	lm_store_free(store);
	pre->us = mono_us() - t0;
	return NULL;
}

void lm_preload_start(lm_preload *pre, lm_node *n, const lm_plan *p,
		      const char *libdir)
{
	size_t k = 0;

	memset(pre, 0, sizeof(*pre));
	pre->n = n;
	if (!(pre->v = calloc(p->nmodules ? p->nmodules : 1, sizeof(*pre->v))))
		return;
	for (size_t i = 0; i < p->nmodules; i++) {
		const lm_plan_side *s = p->modules[i].new_side;
		lm_preload_item *it = &pre->v[k];

		if (!s)
			continue;
		it->module = strdup(p->modules[i].name);
		it->src = libdir ? lm_path_join(libdir, s->file) : NULL;
		it->desc = s->desc;
		memcpy(it->oid, s->oid, sizeof(it->oid));
		k++;
		if (!it->module || (libdir && !it->src)) {
			pre->count = k;
			return; /* nothing started: the apply stages inline */
		}
	}
	pre->count = k;
	pre->running = k && pthread_create(&pre->th, NULL, loader, pre) == 0;
}

void lm_preload_join(lm_preload *pre)
{
	if (!pre->running)
		return;
	pthread_join(pre->th, NULL);
	pre->running = false;
	for (size_t i = 0; i < pre->count; i++)
		pre->v[i].desc = NULL;
}

bool lm_preload_take(lm_preload *pre, const char *module, const char *oid)
{
	for (size_t i = 0; pre && i < pre->count; i++) {
		lm_preload_item *it = &pre->v[i];

		if (it->staged && !it->taken && strcmp(it->module, module) == 0 &&
		    strcmp(it->oid, oid) == 0)
			return it->taken = true;
	}
	return false;
}

void lm_preload_finish(lm_preload *pre)
{
	lm_preload_join(pre);
	for (size_t i = 0; i < pre->count; i++) {
		if (pre->v[i].staged && !pre->v[i].taken)
			lm_runtime_unstage(pre->n->rt, pre->v[i].module);
		free(pre->v[i].module);
		free(pre->v[i].src);
	}
	free(pre->v);
	memset(pre, 0, sizeof(*pre));
}
