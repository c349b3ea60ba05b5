/*
 * unmap.c - unloading versions, and checking that the code really left.
 *
 * Order matters: (1) a grace period, so no short call that started before
 * the version was unpublished is still running its code; (2) terminate
 * the states no live version shares; (3) rcu_barrier, so no call_rcu
 * callback queued by the module (or by its terminate) can still jump into
 * it; (4) dlclose; (5) verify with dlopen(RTLD_NOLOAD) and /proc/self/maps
 * that the object is gone. dlclose may keep an object mapped without
 * saying so; that is reported as a warning with the likely reason.
 */
#include "internal.h"

#include <assert.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

/* True when some version of `v`'s module other than `v` (still listed, or
 * later in the batch) holds the same state: it is not `v`'s to end. */
static bool state_shared(const struct lm_version *v,
			 struct lm_version *const *batch, size_t n)
{
	const struct lm_module *mod = v->mod;
	const struct lm_version *o;
	size_t i;

	if (mod->published && mod->published->has_state &&
	    mod->published->state == v->state)
		return true;
	if (mod->staged && mod->staged->has_state &&
	    mod->staged->state == v->state)
		return true;
	for (o = mod->old; o; o = o->next)
		if (o != v && o->has_state && o->state == v->state)
			return true;
	for (i = 0; i < n; i++)
		if (batch[i] != v && batch[i]->mod == mod &&
		    batch[i]->has_state && batch[i]->state == v->state) {
			/* In a batch, the last holder ends the state. */
			size_t self;

			for (self = 0; batch[self] != v; self++)
				;
			if (i > self)
				return true;
		}
	return false;
}

/* True when /proc/self/maps still maps the file (dev, ino). */
static bool in_maps(dev_t dev, ino_t ino)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4096];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long ino_l;

		if (sscanf(line, "%*x-%*x %*s %*x %x:%x %lu", &maj, &min,
			   &ino_l) == 3 &&
		    ino_l != 0 && (ino_t)ino_l == ino &&
		    maj == major(dev) && min == minor(dev))
			found = true;
	}
	fclose(f);
	return found;
}

static void verify_unmapped(lm_runtime *rt, const struct lm_version *v)
{
	const char *how = NULL;
	char why[512];
	void *h;

	h = dlopen(v->path, RTLD_NOW | RTLD_NOLOAD);
	if (h) {
		dlclose(h);
		how = "dlopen(RTLD_NOLOAD) still finds it";
	} else if (in_maps(v->dev, v->ino)) {
		how = "/proc/self/maps still maps it";
	}
	if (!how)
		return;
	lm__elf_reasons(v->elf, why, sizeof(why));
	lm__warn(rt, "module %s %s (%s) is still mapped after dlclose: %s; "
		 "%s", v->mod->name, v->desc->vsn, v->path, how,
		 *why ? why : "another object depends on it or someone else "
			      "dlopen'ed it");
}

static void end_state(struct lm_version *v, struct lm_version *const *batch,
		      size_t n)
{
	if (v->has_state && v->raw->terminate && !state_shared(v, batch, n))
		v->raw->terminate(v->state);
	v->has_state = false;
}

void lm__unload(lm_runtime *rt, struct lm_version **v, size_t n)
{
	size_t i;

	if (!n)
		return;
	lm__assert_outside_call(__func__);
	for (i = 0; i < n; i++) {
		assert(v[i]->mod->published != v[i]);
		assert(lm__version_pins(v[i]) == 0);
	}
	lm__synchronize();
	for (i = 0; i < n; i++)
		end_state(v[i], v, n);
	urcu_memb_barrier();
	for (i = 0; i < n; i++) {
		dlclose(v[i]->dl);
		v[i]->dl = NULL;
		verify_unmapped(rt, v[i]);
		lm__version_free(v[i]);
	}
}

void lm__close_unpublished(lm_runtime *rt, struct lm_version *v)
{
	assert(v->stage == LM_V_STAGED);
	lm__unload(rt, &v, 1);
}
