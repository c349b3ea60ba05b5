/*
 * stage.c - writing a release's module files into the libdir; see
 * stage.h.
 *
 * Two passes: the first reads every object the libdir lacks (lm_store_read
 * re-hashes it) and decides every file's fate; only when all is well does
 * the second write. A write that fails half-way (a full disk) leaves some
 * files new and some old, as an interrupted `make install` would; staging
 * again finishes it, and nothing of it runs before an update.
 */
#include "stage.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"

static int list_add(lm_stage_list *l, const char *file)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (!v || !(v[l->n] = strdup(file))) {
		if (v)
			l->v = v;
		return lm_error_set(LM_ERROR, "out of memory");
	}
	l->v = v;
	l->n++;
	return 0;
}

static void list_clear(lm_stage_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void lm_stage_result_clear(lm_stage_result *r)
{
	list_clear(&r->written);
	list_clear(&r->unchanged);
	list_clear(&r->removed);
	list_clear(&r->extra);
}

static const lm_store_entry *find_entry(const lm_store_entry *v, size_t n,
					const char *file)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].file, file) == 0)
			return &v[i];
	return NULL;
}

/* A module file in the libdir whose bytes are the object's already. */
static int same_bytes(const char *path, const char *oid)
{
	char hex[LM_OID_HEXSZ + 1];
	int same;

	if (access(path, F_OK) != 0)
		return 0;
	same = lm_store_hash_file(hex, path) == 0 && strcmp(hex, oid) == 0;
	lm_error_clear();
	return same;
}

/* The libdir's *.so files that neither release names. */
static int find_extra(lm_stage_result *out, const char *libdir,
		      const lm_store_entry *e, size_t n,
		      const lm_store_entry *current, size_t ncurrent)
{
	struct dirent *d;
	DIR *dir = opendir(libdir);
	int rc = 0;

	if (!dir)
		return lm_error_set(errno == ENOENT ? LM_EINVAL : LM_ERROR,
				    "%s: cannot read the libdir: %s", libdir,
				    strerror(errno));
	while (rc == 0 && (d = readdir(dir))) {
		size_t len = strlen(d->d_name);

		if (len < 4 || strcmp(d->d_name + len - 3, ".so") != 0 ||
		    find_entry(e, n, d->d_name) ||
		    find_entry(current, ncurrent, d->d_name))
			continue;
		rc = list_add(&out->extra, d->d_name);
	}
	closedir(dir);
	return rc;
}

int lm_stage_tree(lm_stage_result *out, lm_store *s, const char *libdir,
		  const char *tree, const lm_store_entry *current,
		  size_t ncurrent, int dry_run)
{
	lm_store_entry *e = NULL;
	void **bufs = NULL;
	size_t *lens = NULL;
	size_t n = 0, i;
	char *path;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = lm_store_tree_entries(s, tree, &e, &n)) < 0)
		return rc;
	bufs = calloc(n ? n : 1, sizeof(*bufs));
	lens = calloc(n ? n : 1, sizeof(*lens));
	if (!bufs || !lens)
		rc = lm_error_set(LM_ERROR, "out of memory");
	rc = rc ? rc : find_extra(out, libdir, e, n, current, ncurrent);
	/* pass 1: read and verify everything the libdir lacks */
	for (i = 0; i < n && rc == 0; i++) {
		if (!(path = lm_path_join(libdir, e[i].file))) {
			rc = lm_error_set(LM_ERROR, "out of memory");
			break;
		}
		if (same_bytes(path, e[i].oid)) {
			rc = list_add(&out->unchanged, e[i].file);
		} else if ((rc = lm_store_read(s, e[i].oid, &bufs[i],
					       &lens[i])) < 0) {
			lm_error_wrap("release tree %.12s: module file %s", tree,
				      e[i].file);
		} else {
			rc = list_add(&out->written, e[i].file);
		}
		free(path);
	}
	for (i = 0; i < ncurrent && rc == 0; i++) {
		if (find_entry(e, n, current[i].file) ||
		    !(path = lm_path_join(libdir, current[i].file)))
			continue;
		if (access(path, F_OK) == 0)
			rc = list_add(&out->removed, current[i].file);
		free(path);
	}
	/* pass 2: write, as `make install` would: a new file renamed over
	 * the old, never the old one rewritten in place */
	for (i = 0; i < n && rc == 0 && !dry_run; i++) {
		if (!bufs[i])
			continue;
		if (!(path = lm_path_join(libdir, e[i].file)))
			rc = lm_error_set(LM_ERROR, "out of memory");
		else
			rc = lm_file_write_atomic(path, bufs[i], lens[i], 0755);
		free(path);
	}
	for (i = 0; i < out->removed.n && rc == 0 && !dry_run; i++) {
		if (!(path = lm_path_join(libdir, out->removed.v[i])))
			rc = lm_error_set(LM_ERROR, "out of memory");
		else if (unlink(path) != 0 && errno != ENOENT)
			rc = lm_error_set(LM_ERROR, "%s: %s", path,
					  strerror(errno));
		free(path);
	}
	for (i = 0; bufs && i < n; i++)
		free(bufs[i]);
	free(bufs);
	free(lens);
	lm_store_entries_free(e, n);
	if (rc < 0)
		lm_stage_result_clear(out);
	return rc;
}
