/*
 * unmap.c - unloading versions, and checking that the code really left.
 *
 * Order matters: (1) a grace period, so no short call that started before
 * the version was unpublished is still running its code; (2) terminate
 * the states no live version shares; (3) rcu_barrier, so no call_rcu
 * callback queued by the module (or by its terminate) can still jump into
 * it; (4) dlclose; (5) verify with /proc/self/maps (and, to name the
 * reason when one stayed, dlopen(RTLD_NOLOAD)) that the object is gone.
 * Each step is done once for a whole batch of versions: a grace period
 * and a maps read cost the same for one version as for twenty. dlclose may keep an object mapped without
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

/* Parses a hex or decimal number at *p, advancing it; false when none. */
static bool parse_num(const char **p, int base, unsigned long *out)
{
	char *end;

	*out = strtoul(*p, &end, base);
	if (end == *p)
		return false;
	*p = end;
	return true;
}

/* The device and inode of one /proc/self/maps line
 * ("start-end perms offset maj:min inode path"); false when the line has
 * none. Hand-parsed: sscanf of every line of a big process was most of
 * an unload's CPU time. */
static bool maps_line_file(const char *l, unsigned long *maj,
			   unsigned long *min, unsigned long *ino)
{
	int field;

	for (field = 0; field < 3; field++) { /* range, perms, offset */
		l = strchr(l, ' ');
		if (!l)
			return false;
		l++;
	}
	return parse_num(&l, 16, maj) && *l++ == ':' &&
	       parse_num(&l, 16, min) && *l++ == ' ' &&
	       parse_num(&l, 10, ino);
}

/* Marks mapped[i] for each v[i] whose file (dev, ino) /proc/self/maps
 * still maps; false when the maps cannot be read. One read serves a whole
 * batch of unloads. */
static bool scan_maps(struct lm_version *const *v, size_t n, bool *mapped)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4096];
	bool line_start = true;
	size_t i;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long maj, min, ino;
		bool starts = line_start;

		/* A line longer than the buffer arrives in pieces: only the
		 * first piece holds the fields. */
		line_start = strchr(line, '\n') != NULL;
		if (!starts || !maps_line_file(line, &maj, &min, &ino) ||
		    ino == 0)
			continue;
		for (i = 0; i < n; i++)
			if ((ino_t)ino == v[i]->ino &&
			    maj == major(v[i]->dev) && min == minor(v[i]->dev))
				mapped[i] = true;
	}
	fclose(f);
	return true;
}

static bool noload_finds(const struct lm_version *v)
{
	void *h = dlopen(v->path, RTLD_NOW | RTLD_NOLOAD);

	if (h)
		dlclose(h);
	return h != NULL;
}

/* After dlclose: every object of the batch must be gone from memory. The
 * maps read is the proof (nothing maps the file); dlopen(RTLD_NOLOAD) is
 * asked only to name the reason for one still there, or for every one
 * when the maps cannot be read. */
static void verify_unmapped(lm_runtime *rt, struct lm_version *const *v,
			    size_t n)
{
	bool *mapped = calloc(n, sizeof(*mapped));
	bool have_maps = mapped && scan_maps(v, n, mapped);
	size_t i;

	for (i = 0; i < n; i++) {
		const char *how = NULL;
		char why[512];

		if (have_maps && !mapped[i])
			continue;
		if (noload_finds(v[i]))
			how = "dlopen(RTLD_NOLOAD) still finds it";
		else if (have_maps)
			how = "/proc/self/maps still maps it";
		if (!how)
			continue;
		lm__elf_reasons(v[i]->elf, why, sizeof(why));
		lm__warn(rt, "module %s %s (%s) is still mapped after dlclose: "
			 "%s; %s", v[i]->mod->name, v[i]->desc->vsn, v[i]->path,
			 how, *why ? why : "another object depends on it or "
					   "someone else dlopen'ed it");
	}
	free(mapped);
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
	lm__barrier();
	for (i = 0; i < n; i++) {
		dlclose(v[i]->dl);
		v[i]->dl = NULL;
	}
	verify_unmapped(rt, v, n);
	for (i = 0; i < n; i++)
		lm__version_free(v[i]);
}

bool lm__moves_state(const struct lm_version *v)
{
	/* the descriptor says so only for ABI 2 (its slots exist) */
	return (v->desc->callbacks & LM_CB_CHANGE_ABORT) &&
	       v->raw->change_commit && v->raw->change_abort;
}

void lm__move_abort(struct lm_version *v)
{
	if (!v->mover)
		return;
	v->mover->raw->change_abort(v->move_mode, v->move_from, v->state);
	v->mover = NULL;
	v->state = NULL;
	v->has_state = false;
}

void lm__close_unpublished(lm_runtime *rt, struct lm_version *v)
{
	assert(v->stage == LM_V_STAGED);
	lm__move_abort(v); /* before its terminate could end what it moved */
	lm__unload(rt, &v, 1);
}
