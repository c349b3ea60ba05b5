/*
 * planning.c - computing and recording upgrade plans; see planning.h.
 */
#include "planning.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "script.h"

const char *lm_now_iso(void)
{
	static _Thread_local char buf[32];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* The CLI's line for a script (lm_script_labelled), under `key`. */
static void add_script_text(cJSON *o, const char *key, const char *label,
			    const lm_script *s, const lm_plan *p)
{
	char *text = lm_script_labelled(label, s, p);

	if (text)
		cJSON_AddStringToObject(o, key, text);
	free(text);
}

cJSON *lm_update_info_json(const char *libdir, int64_t release,
			   const lm_plan *p, const lm_scan *scan,
			   const char *check_error)
{
	cJSON *o = cJSON_CreateObject(), *mods, *check, *warn;
	char *pj = NULL;
	size_t i;

	cJSON_AddStringToObject(o, "libdir", libdir);
	cJSON_AddNumberToObject(o, "release", (double)release);
	mods = cJSON_AddArrayToObject(o, "modules");
	for (i = 0; p && i < p->nmodules; i++)
		cJSON_AddItemToArray(mods,
				     cJSON_CreateString(p->modules[i].name));
	if (p && lm_plan_to_json(&pj, p) == 0)
		cJSON_AddItemToObject(o, "plan", cJSON_Parse(pj));
	else
		cJSON_AddNullToObject(o, "plan");
	add_script_text(o, "script_text", "script", p ? &p->script : NULL, p);
	add_script_text(o, "low_level_script_text", "low level script",
			p ? &p->low_level : NULL, p);
	check = cJSON_AddObjectToObject(o, "check");
	if (check_error) {
		cJSON_AddStringToObject(check, "error", check_error);
	} else {
		warn = cJSON_AddArrayToObject(check, "ok");
		for (i = 0; i < scan->nwarnings; i++)
			cJSON_AddItemToArray(warn, cJSON_CreateString(
							   scan->warnings[i]));
	}
	free(pj);
	return o;
}

int lm_planning_check(const lm_state *st, const lm_plan *p)
{
	lm_imports im = { 0 };
	int rc = lm_ledger_imports_get(st->ledger, &im);

	if (rc == 0)
		rc = lm_imports_check_plan(&im, p);
	lm_imports_clear(&im);
	return rc;
}

int lm_state_open(lm_state *st, const char *dir, int readonly)
{
	char *path;
	int rc;

	memset(st, 0, sizeof(*st));
	if (!(st->dir = strdup(dir)) ||
	    !(path = lm_path_join(dir, "ledger.db"))) {
		free(st->dir);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	if (access(path, F_OK) != 0) {
		rc = lm_error_set(LM_EINVAL,
				  "state dir %s is not initialised (run "
				  "'livemod init --libdir DIR')", dir);
		goto fail;
	}
	/* the commands' state: mapped, as they live for one command */
	rc = lm_ledger_open(&st->ledger, path,
			    LM_LEDGER_MMAP | (readonly ? LM_LEDGER_READONLY : 0));
	if (rc == 0)
		rc = lm_ledger_node_get(st->ledger, &st->node);
	if (rc == LM_ENOTFOUND)
		rc = lm_error_set(LM_EINVAL, "%s: no node recorded (run "
				  "'livemod init --libdir DIR')", path);
	if (rc < 0)
		goto fail;
	free(path);
	return 0;
fail:
	free(path);
	lm_state_close(st);
	return rc;
}

void lm_state_close(lm_state *st)
{
	lm_ledger_free(st->ledger);
	lm_node_info_clear(&st->node);
	free(st->dir);
	memset(st, 0, sizeof(*st));
}

static int share_into(lm_modset *dst, const lm_modinfo *m)
{
	return lm_modset_add_shared(dst, m->file, m->oid, m->desc);
}

static int only_has(const lm_plan_opts *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->nonly; i++)
		if (strcmp(o->only[i], name) == 0)
			return 1;
	return 0;
}

/* The to-release: everything scanned (taken from the scan), or with
 * named modules, the base release with just those replaced, added or
 * removed (sharing the descriptors of the scan and its base): 10,000
 * copies would cost more than the rest of a warm plan. */
static int build_new_set(lm_modset *out, lm_scan *scan,
			 const lm_plan_opts *o, const lm_state *st)
{
	const lm_modset *old = &scan->base, *scanned = &scan->mods;
	size_t i;
	int rc = 0;

	for (i = 0; i < o->nonly && rc == 0; i++) {
		if (!lm_module_name_valid(o->only[i]))
			rc = lm_error_set(LM_EINVAL, "'%s' is not a module "
					  "name ([a-z][a-z0-9_]*)", o->only[i]);
		else if (!lm_modset_find(old, o->only[i]) &&
			 !lm_modset_find(scanned, o->only[i]))
			rc = lm_error_set(LM_ENOTFOUND,
					  "unknown module '%s': not in %s nor "
					  "in release %lld", o->only[i],
					  st->node.libdir,
					  (long long)scan->base_release);
	}
	if (!o->nonly) {
		*out = scan->mods; /* sorted and checked by the scan */
		memset(&scan->mods, 0, sizeof(scan->mods));
		return 0;
	}
	for (i = 0; i < old->n && rc == 0; i++)
		if (!only_has(o, old->v[i].desc->name))
			rc = share_into(out, &old->v[i]);
	for (i = 0; i < scanned->n && rc == 0; i++)
		if (only_has(o, scanned->v[i].desc->name))
			rc = share_into(out, &scanned->v[i]);
	if (rc == 0)
		rc = lm_modset_sort(out);
	return rc;
}

/* A plan side carries the whole descriptor: bulk reads of the ledger give
 * partial ones (no exports), completed here for the few modules a plan
 * names. */
static int side_new(lm_plan_side **out, lm_ledger *l, const lm_modinfo *m)
{
	lm_plan_side *s = calloc(1, sizeof(*s));
	int rc = 0;

	*out = NULL;
	if (!s)
		return lm_error_set(LM_ERROR, "out of memory");
	memcpy(s->oid, m->oid, sizeof(s->oid));
	if (m->desc->partial)
		rc = lm_ledger_module_version(l, m->oid, &s->desc);
	else if (!(s->desc = lm_descriptor_dup(m->desc)))
		rc = lm_error_set(LM_ERROR, "out of memory");
	if (rc == 0 && !(s->file = strdup(m->file)))
		rc = lm_error_set(LM_ERROR, "out of memory");
	if (rc < 0) {
		free(s->file);
		lm_descriptor_free(s->desc);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static const char *extra_for(const lm_plan_opts *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->nextras; i++)
		if (strcmp(o->extras[i].module, name) == 0)
			return o->extras[i].extra;
	return "";
}

/* A module changed to bytes that an earlier release recorded for it
 * before the bytes it replaces is a downgrade (an operator copied v1
 * back over v2); any other change goes up. Which bytes are older is
 * which release first held them: a version's number says nothing the
 * ledger can trust. */
static int change_kind(lm_change_kind *out, lm_ledger *l,
		       const lm_modinfo *old, const lm_modinfo *new)
{
	int64_t was = 0, now = 0;
	int rc;

	*out = LM_CHANGED;
	if ((rc = lm_ledger_oid_first_release(l, new->desc->name, new->oid,
					      &now)) < 0 ||
	    !now ||
	    (rc = lm_ledger_oid_first_release(l, old->desc->name, old->oid,
					      &was)) < 0)
		return rc;
	if (now < was)
		*out = LM_DOWNGRADED;
	return 0;
}

static int add_change(lm_plan *p, lm_ledger *l, lm_change_kind kind,
		      const lm_modinfo *old, const lm_modinfo *new,
		      const lm_plan_opts *o)
{
	const lm_modinfo *m = new ? new : old;
	lm_plan_module *pm, *v;
	lm_purge_mode purge = o->purge;
	int rc;

	v = realloc(p->modules, (p->nmodules + 1) * sizeof(*v));
	if (!v)
		return lm_error_set(LM_ERROR, "out of memory");
	p->modules = v;
	pm = &v[p->nmodules];
	memset(pm, 0, sizeof(*pm));
	pm->change = kind;
	if (purge == LM_PURGE_DEFAULT)
		purge = m->desc->purge;
	if (purge == LM_PURGE_DEFAULT)
		purge = LM_BRUTAL_PURGE; /* OTP's default */
	pm->pre_purge = pm->post_purge = purge;
	pm->name = strdup(m->desc->name);
	pm->extra = strdup(extra_for(o, m->desc->name));
	p->nmodules++;
	if (!pm->name || !pm->extra)
		return lm_error_set(LM_ERROR, "out of memory");
	if (old && (rc = side_new(&pm->old_side, l, old)) < 0)
		return rc;
	if (new && (rc = side_new(&pm->new_side, l, new)) < 0)
		return rc;
	return 0;
}

/* One merge pass over two name-sorted sets. */
static int diff_sets(lm_plan *p, lm_ledger *l, const lm_modset *old,
		     const lm_modset *new, const lm_plan_opts *o)
{
	size_t i = 0, j = 0;
	int rc = 0;

	while (rc == 0 && (i < old->n || j < new->n)) {
		int c = i == old->n   ? 1
			: j == new->n ? -1
				      : strcmp(old->v[i].desc->name,
					       new->v[j].desc->name);
		if (c < 0) {
			rc = add_change(p, l, LM_REMOVED, &old->v[i++], NULL, o);
		} else if (c > 0) {
			rc = add_change(p, l, LM_ADDED, NULL, &new->v[j++], o);
		} else {
			lm_change_kind kind = LM_CHANGED;

			if (strcmp(old->v[i].oid, new->v[j].oid) != 0 &&
			    (rc = change_kind(&kind, l, &old->v[i],
					      &new->v[j])) == 0)
				rc = add_change(p, l, kind, &old->v[i],
						&new->v[j], o);
			i++;
			j++;
		}
	}
	return rc;
}

static int check_extras(const lm_plan *p, const lm_plan_opts *o)
{
	size_t i, k;

	for (i = 0; i < o->nextras; i++) {
		for (k = 0; k < p->nmodules; k++)
			if (strcmp(p->modules[k].name, o->extras[i].module) == 0)
				break;
		if (k == p->nmodules)
			return lm_error_set(LM_EINVAL,
					    "--extra names %s, which this plan "
					    "does not change", o->extras[i].module);
	}
	return 0;
}

int lm_planning_diff(lm_plan **out, const lm_state *st,
		     const lm_release_info *from, const lm_modset *old,
		     const lm_modset *new_set, const lm_plan_opts *opts)
{
	lm_plan *p = calloc(1, sizeof(*p));
	int rc;

	*out = NULL;
	if (!p)
		return lm_error_set(LM_ERROR, "out of memory");
	if ((rc = diff_sets(p, st->ledger, old, new_set, opts)) < 0 ||
	    p->nmodules == 0)
		goto out;
	p->app = strdup(st->node.app);
	p->libdir = strdup(st->node.libdir);
	p->created_at = strdup(lm_now_iso());
	p->from_release = from->id;
	memcpy(p->from_commit, from->commit, sizeof(p->from_commit));
	if (!p->app || !p->libdir || !p->created_at) {
		rc = lm_error_set(LM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = check_extras(p, opts)) < 0 ||
	    (rc = lm_script_build(p, old, new_set)) < 0)
		goto out;
	*out = p;
	p = NULL;
out:
	lm_plan_free(p);
	return rc;
}

int lm_planning_compute(lm_plan **out, lm_modset *new_set, lm_state *st,
			lm_scan *scan, const lm_plan_opts *opts)
{
	lm_release_info from = {0};
	int rc;

	*out = NULL;
	memset(new_set, 0, sizeof(*new_set));
	assert(st->node.current_release > 0);
	/* The scan read the current release again: when the node moved in
	 * between, the plan is made from where it is now. */
	if (scan->base_release <= 0)
		return lm_error_set(LM_EINVAL, "the libdir scan was made "
				    "without the node's ledger");
	if ((rc = lm_ledger_release_get(st->ledger, scan->base_release,
					&from)) == 0 &&
	    (rc = build_new_set(new_set, scan, opts, st)) == 0)
		rc = lm_planning_diff(out, st, &from, &scan->base, new_set,
				      opts);
	lm_release_info_clear(&from);
	if (rc < 0)
		lm_modset_clear(new_set);
	return rc;
}

/* "mod_a 1.0.0 -> 1.1.0, mod_b added" for the release commit. */
static char *release_message(const lm_plan *p)
{
	char *msg = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&msg, &len);

	if (!f)
		return NULL;
	fprintf(f, "livemod release planned from release %lld\n\n",
		(long long)p->from_release);
	for (i = 0; i < p->nmodules; i++) {
		const lm_plan_module *m = &p->modules[i];

		fprintf(f, "%s %s", m->name, lm_change_name(m->change));
		if (m->old_side)
			fprintf(f, " %s", m->old_side->desc->vsn);
		if (m->new_side)
			fprintf(f, " -> %s", m->new_side->desc->vsn);
		fputc('\n', f);
	}
	fclose(f);
	return msg;
}

static int cmp_modinfo_file(const void *a, const void *b)
{
	return strcmp((*(const lm_modinfo *const *)a)->file,
		      (*(const lm_modinfo *const *)b)->file);
}

static int cmp_key_modinfo_file(const void *key, const void *elem)
{
	return strcmp(key, (*(const lm_modinfo *const *)elem)->file);
}

/* Stat entries of the files that made it into the release: the cache may
 * only name recorded module versions. */
static int store_stats(lm_state *st, const lm_scan *scan,
		       const lm_modset *new_set)
{
	lm_stat_entry *v = calloc(scan->nstats + 1, sizeof(*v));
	const lm_modinfo **by_file = calloc(new_set->n + 1, sizeof(*by_file));
	size_t i, n = 0;
	int rc;

	if (!v || !by_file) {
		free(v);
		free(by_file);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	for (i = 0; i < new_set->n; i++)
		by_file[i] = &new_set->v[i];
	qsort(by_file, new_set->n, sizeof(*by_file), cmp_modinfo_file);
	for (i = 0; i < scan->nstats; i++) {
		const lm_stat_entry *e = &scan->stats[i];
		const lm_modinfo *const *m =
			bsearch(e->file, by_file, new_set->n, sizeof(*by_file),
				cmp_key_modinfo_file);

		if (m && strcmp((*m)->oid, e->oid) == 0)
			v[n++] = *e; /* shallow: strings stay the scan's */
	}
	rc = lm_ledger_stat_store(st->ledger, v, n);
	free(by_file);
	free(v);
	return rc;
}

int lm_planning_refresh_stats(lm_state *st, const lm_scan *scan,
			      size_t *written)
{
	lm_ledger *w = NULL;
	lm_stat_entry *v;
	char *path;
	size_t i;
	int rc;

	if (written)
		*written = 0;
	if (!scan->nfresh)
		return 0;
	if (!(v = calloc(scan->nfresh, sizeof(*v))) ||
	    !(path = lm_path_join(st->dir, "ledger.db"))) {
		free(v);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	for (i = 0; i < scan->nfresh; i++)
		v[i] = scan->stats[scan->fresh[i]]; /* shallow: the scan's */
	/* a connection of its own, even beside a writable one: the refresh
	 * is never worth waiting for a lock */
	if ((rc = lm_ledger_open(&w, path, LM_LEDGER_NOWAIT)) == 0)
		rc = lm_ledger_stat_refresh(w, v, scan->nfresh, written);
	lm_ledger_free(w);
	free(path);
	free(v);
	return rc;
}

static int store_objects(lm_store *store, const lm_plan *p,
			 const char *libdir)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < p->nmodules && rc == 0; i++) {
		const lm_plan_side *s = p->modules[i].new_side;
		char *path;

		if (!s)
			continue;
		if (!(path = lm_path_join(libdir, s->file)))
			return lm_error_set(LM_ERROR, "out of memory");
		rc = lm_store_put_file(store, path, s->oid);
		free(path);
	}
	return rc;
}

/*
 * A plan file appears only once its row is committed, so every
 * plans/<id>.json is a recorded plan. Inside the transaction the plan is
 * written whole and fsynced to plans/<id>.json.pending, which no command
 * reads (the space is taken before the commit, so a full disk fails
 * cleanly); after COMMIT it is renamed into place. A kill before the
 * commit leaves the pending file of an id no row has (the newest + 1), a
 * kill after it the pending file of the newest row: lm_planning_settle
 * finishes either before the next plan is recorded.
 */
static char *plan_file(const lm_state *st, int64_t id, const char *suffix)
{
	char *path;

	if (asprintf(&path, "%s/plans/%lld.json%s", st->dir, (long long)id,
		     suffix) < 0)
		return NULL;
	return path;
}

/* Moves plan `id`'s pending file into place; one that another process
 * (settling, or the plan's own maker) already moved is fine. */
static int publish_plan_file(const lm_state *st, int64_t id)
{
	char *pending = plan_file(st, id, ".pending");
	char *path = plan_file(st, id, "");
	int rc = 0, e;

	if (!pending || !path) {
		rc = lm_error_set(LM_ERROR, "out of memory");
	} else if (rename(pending, path) != 0) {
		e = errno;
		if (e != ENOENT || access(path, F_OK) != 0)
			rc = lm_error_set(LM_ERROR, "plan %lld is recorded but "
					  "%s is not (%s); the next plan or gc "
					  "writes it", (long long)id, path,
					  strerror(e));
	}
	free(pending);
	free(path);
	return rc;
}

int lm_planning_settle(lm_state *st)
{
	int64_t newest;
	char *next = NULL, *last = NULL;
	int rc = lm_ledger_plan_newest(st->ledger, &newest);

	if (rc < 0)
		return rc;
	if (!(next = plan_file(st, newest + 1, ".pending")) ||
	    !(last = plan_file(st, newest, ".pending")))
		rc = lm_error_set(LM_ERROR, "out of memory");
	else if (unlink(next) != 0 && errno != ENOENT)
		rc = lm_error_set(LM_ERROR, "%s: %s", next, strerror(errno));
	/* only a pending file: a plan file someone removed stays removed */
	if (rc == 0 && newest > 0 && access(last, F_OK) == 0)
		rc = publish_plan_file(st, newest);
	free(next);
	free(last);
	return rc;
}

/* Within the transaction: the plan's text into its row and its pending
 * file, whose path is left in *pending for record_failed to remove. The
 * file's fsync goes on in `sync` while the recording does the rest; the
 * recording finishes it before its COMMIT. */
static int write_plan_file(lm_state *st, lm_plan *p, char **pending,
			   lm_file_sync *sync)
{
	char *json = NULL, relpath[48];
	int rc;

	snprintf(relpath, sizeof(relpath), "plans/%lld.json", (long long)p->id);
	if ((rc = lm_plan_to_json(&json, p)) < 0)
		return rc;
	if (!(*pending = plan_file(st, p->id, ".pending")))
		rc = lm_error_set(LM_ERROR, "out of memory");
	if (rc == 0)
		rc = lm_file_write_start(sync, *pending, json, strlen(json),
					 0644);
	if (rc == 0)
		rc = lm_ledger_plan_set_json(st->ledger, p->id, relpath, json);
	free(json);
	return rc;
}

/* The release already planned from `parent` with exactly `set` (a plan
 * made again, after a failed apply or a dry look), in *rid and `commit`;
 * *rid is 0 when there is none. One tree from one parent is one release. */
static int find_release(lm_state *st, lm_store *store, int64_t parent,
			const char *tree, int64_t *rid,
			char commit[LM_OID_HEXSZ + 1])
{
	char got[LM_OID_HEXSZ + 1];
	lm_release_info *v = NULL;
	size_t n = 0, i;
	int rc = lm_ledger_release_children(st->ledger, parent, &v, &n);

	*rid = 0;
	for (i = 0; rc == 0 && i < n && !*rid; i++) {
		assert(v[i].parent == parent);
		if ((rc = lm_store_commit_tree(store, got, v[i].commit)) == 0 &&
		    strcmp(got, tree) == 0) {
			*rid = v[i].id;
			memcpy(commit, v[i].commit, LM_OID_HEXSZ + 1);
		}
	}
	for (i = 0; i < n; i++)
		lm_release_info_clear(&v[i]);
	free(v);
	return rc;
}

/* The plan's from-release must still be the node's, now that the ledger
 * is locked: the node may have moved since the plan was made. */
static int still_current(lm_state *st, const lm_plan *p)
{
	lm_node_info now = {0};
	int rc = lm_ledger_node_get(st->ledger, &now);

	if (rc == 0 && now.current_release != p->from_release)
		rc = lm_error_set(LM_ESTALE,
				  "the node moved to release %lld while this "
				  "plan was made from %lld; plan again",
				  (long long)now.current_release,
				  (long long)p->from_release);
	lm_node_info_clear(&now);
	return rc;
}

/* Records the plan's row (superseding an earlier unapplied plan) and
 * writes its pending file (path in *pending); first finishes what an
 * earlier recording cut short, as the write lock is now held. */
static int record_plan(lm_state *st, lm_plan *p, char **pending,
		       lm_file_sync *sync)
{
	int rc;

	if ((rc = lm_planning_settle(st)) < 0 ||
	    (rc = lm_ledger_plan_add(st->ledger, &p->id, p->from_release,
				     p->to_release)) < 0)
		return rc;
	return write_plan_file(st, p, pending, sync);
}

/* Undoes what a failed recording left outside the ledger's transaction
 * (rolled back here) and in `p`. */
static void record_failed(lm_state *st, lm_plan *p, const char *pending,
			  lm_file_sync *sync)
{
	(void)lm_file_write_finish(sync); /* the file goes anyway */
	lm_ledger_rollback(st->ledger);
	if (pending)
		unlink(pending);
	p->id = 0;
}

int lm_planning_record(lm_state *st, lm_plan *p, const lm_modset *new_set,
		       const lm_scan *scan)
{
	char commit[LM_OID_HEXSZ + 1], tree[LM_OID_HEXSZ + 1];
	char main_was[LM_OID_HEXSZ + 1];
	char *msg = NULL, *pending = NULL;
	char *store_path = lm_path_join(st->dir, "store.git");
	lm_file_sync sync = { 0 };
	lm_store *store = NULL;
	int64_t rid = 0;
	int rc, tagged = 0, made = 0, committed = 0;

	if (!store_path)
		return lm_error_set(LM_ERROR, "out of memory");
	if ((rc = lm_ledger_begin(st->ledger)) < 0) {
		free(store_path);
		return rc;
	}
	if ((rc = still_current(st, p)) < 0 ||
	    (rc = lm_store_open(&store, store_path, 0)) < 0 ||
	    (rc = store_objects(store, p, st->node.libdir)) < 0)
		goto out;
	if (!(msg = release_message(p))) {
		rc = lm_error_set(LM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = lm_store_write_tree(store, tree, new_set)) < 0 ||
	    (rc = find_release(st, store, p->from_release, tree, &rid,
			       commit)) < 0)
		goto out;
	made = rid == 0;
	if (made &&
	    ((rc = lm_store_commit(store, commit, tree, p->from_commit,
				   msg)) < 0 ||
	     (rc = lm_ledger_release_add(st->ledger, &rid, p->from_release,
					 commit, new_set, NULL)) < 0))
		goto out;
	p->to_release = rid;
	memcpy(p->to_commit, commit, sizeof(commit));
	if ((rc = record_plan(st, p, &pending, &sync)) < 0 ||
	    (rc = store_stats(st, scan, new_set)) < 0 ||
	    (rc = lm_store_main(store, main_was)) < 0)
		goto out;
	tagged = 1; /* from here the tag may be half made */
	if ((rc = lm_store_tag(store, rid, commit)) == 0 &&
	    (rc = lm_file_write_finish(&sync)) == 0 &&
	    (rc = lm_ledger_commit(st->ledger)) == 0)
		committed = 1;
out:
	if (committed) {
		rc = publish_plan_file(st, p->id);
	} else if (rc < 0) {
		record_failed(st, p, pending, &sync);
		/* a release planned again keeps the tag it already had */
		if (tagged)
			lm_store_untag(store, made ? rid : 0, main_was);
		p->to_release = 0;
		p->to_commit[0] = '\0';
	}
	lm_store_free(store);
	free(msg);
	free(pending);
	free(store_path);
	return rc;
}

int lm_planning_record_existing(lm_state *st, lm_plan *p)
{
	lm_file_sync sync = { 0 };
	char *pending = NULL;
	int rc;

	assert(p->to_release > 0 && p->to_commit[0]);
	if ((rc = lm_ledger_begin(st->ledger)) < 0)
		return rc;
	if ((rc = still_current(st, p)) == 0 &&
	    (rc = record_plan(st, p, &pending, &sync)) == 0 &&
	    (rc = lm_file_write_finish(&sync)) == 0 &&
	    (rc = lm_ledger_commit(st->ledger)) == 0)
		rc = publish_plan_file(st, p->id);
	else
		record_failed(st, p, pending, &sync);
	free(pending);
	return rc;
}

static int put_all(lm_store *store, const lm_scan *scan, const char *libdir)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < scan->mods.n && rc == 0; i++) {
		char *path = lm_path_join(libdir, scan->mods.v[i].file);

		rc = path ? lm_store_put_file(store, path, scan->mods.v[i].oid)
			  : lm_error_set(LM_ERROR, "out of memory");
		free(path);
	}
	return rc;
}

int lm_state_create(const char *dir, const char *libdir, const char *app,
		    const lm_scan *scan, int64_t *release,
		    char commit_out[LM_OID_HEXSZ + 1])
{
	char commit[LM_OID_HEXSZ + 1], tree[LM_OID_HEXSZ + 1];
	char host[256] = "node";
	char *ledger_path = lm_path_join(dir, "ledger.db");
	char *store_path = lm_path_join(dir, "store.git");
	char *objects = lm_path_join(dir, "objects");
	char *plans = lm_path_join(dir, "plans");
	lm_ledger *ledger = NULL;
	lm_store *store = NULL;
	int64_t node = 0;
	int rc;

	gethostname(host, sizeof(host) - 1);
	if (!ledger_path || !store_path || !objects || !plans) {
		rc = lm_error_set(LM_ERROR, "out of memory");
		goto out;
	}
	if ((rc = lm_mkdir(objects, 0700)) < 0 ||
	    (rc = lm_mkdir(plans, 0755)) < 0 ||
	    (rc = lm_store_open(&store, store_path, 1)) < 0 ||
	    (rc = put_all(store, scan, libdir)) < 0 ||
	    (rc = lm_store_write_tree(store, tree, &scan->mods)) < 0 ||
	    (rc = lm_store_commit(store, commit, tree, NULL,
				  "livemod release 1: installed at init\n")) < 0 ||
	    (rc = lm_ledger_open(&ledger, ledger_path, LM_LEDGER_CREATE)) < 0 ||
	    (rc = lm_ledger_begin(ledger)) < 0)
		goto out;
	if ((rc = lm_ledger_node_create(ledger, &node, host, app, libdir)) < 0 ||
	    (rc = lm_ledger_release_add(ledger, release, 0, commit, &scan->mods,
					"init")) < 0 ||
	    (rc = lm_ledger_node_set_current(ledger, node, *release)) < 0 ||
	    (rc = lm_ledger_node_set_permanent(ledger, node, *release)) < 0 ||
	    (rc = lm_ledger_stat_store(ledger, scan->stats, scan->nstats)) < 0 ||
	    (rc = lm_store_tag(store, *release, commit)) < 0 ||
	    (rc = lm_ledger_commit(ledger)) < 0)
		lm_ledger_rollback(ledger);
	if (rc == 0 && commit_out)
		memcpy(commit_out, commit, sizeof(commit));
out:
	lm_ledger_free(ledger);
	lm_store_free(store);
	free(ledger_path);
	free(store_path);
	free(objects);
	free(plans);
	return rc;
}

