/*
 * store.h - the content store: a bare git repository (libgit2) holding
 * every module object ever planned as a blob and every release as a
 * commit whose tree maps module file -> blob.
 *
 * Releases are tagged refs/tags/release-N and refs/heads/main follows the
 * newest, so `git --git-dir=store.git log` and `git ls-tree release-3`
 * read the history with plain git.
 */
#ifndef LM_STORE_H
#define LM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "modset.h"

typedef struct lm_store lm_store;

/* Opens the bare repository at `path`; with `create`, makes it first when
 * missing. LM_ENOTFOUND when missing and not `create`. */
int lm_store_open(lm_store **out, const char *path, int create);
void lm_store_free(lm_store *s);

/* The blob id of a file or buffer, without writing anything. */
int lm_store_hash_file(char out[LM_OID_HEXSZ + 1], const char *path);
int lm_store_hash_buf(char out[LM_OID_HEXSZ + 1], const void *buf,
		      size_t len);

/* Writes the file as a blob (a no-op when present); checks that its id is
 * `expect` when given (the file changed since it was hashed: LM_EINVAL).
 * With `expect` already in the store the file is not read at all: what is
 * recorded is the object `expect` names, and the store holds its bytes. */
int lm_store_put_file(lm_store *s, const char *path, const char *expect);

/* True when the store holds blob `oid`. */
int lm_store_has(lm_store *s, const char *oid);

/* Reads blob `oid` into a malloc'ed buffer, verifying that the bytes hash
 * to `oid` (an altered object is refused: LM_EINVAL). */
int lm_store_read(lm_store *s, const char *oid, void **buf, size_t *len);

/* Writes the release tree of `mods` (file -> blob, every blob already
 * stored); its id in `out`. */
int lm_store_write_tree(lm_store *s, char out[LM_OID_HEXSZ + 1],
			const lm_modset *mods);

/* The tree id of release commit `commit`. */
int lm_store_commit_tree(lm_store *s, char out[LM_OID_HEXSZ + 1],
			 const char *commit);

/* Commits tree `tree` with parent `parent` ("" or NULL for none). */
int lm_store_commit(lm_store *s, char out[LM_OID_HEXSZ + 1],
		    const char *tree, const char *parent,
		    const char *message);

/* Points refs/tags/release-N at `commit` and refs/heads/main too. */
int lm_store_tag(lm_store *s, int64_t release, const char *commit);

/* The release numbers N of every refs/tags/release-N, in *ids (caller
 * frees), in no particular order. */
int lm_store_release_tags(lm_store *s, int64_t **ids, size_t *n);

/* The parent ids of commit `commit`, at most `max` of them, in `out`;
 * their number in *n. LM_ENOTFOUND when the store lacks the commit. */
int lm_store_commit_parents(lm_store *s, const char *commit,
			    char (*out)[LM_OID_HEXSZ + 1], size_t max,
			    size_t *n);

/* The commit refs/heads/main points at, "" when there is none yet. */
int lm_store_main(lm_store *s, char out[LM_OID_HEXSZ + 1]);

/* Removes refs/tags/release-N (none when `release` is 0) and, when
 * `main_was` is given ("" for none), points refs/heads/main back at it:
 * undoing a lm_store_tag whose ledger write failed. */
int lm_store_untag(lm_store *s, int64_t release, const char *main_was);

/* ---- what fetch, push and stage need (lib/transport.c, lib/stage.c) ---- */

struct git_repository;

/* The libgit2 repository and the path of an open store. */
struct git_repository *lm_store_repo(lm_store *s);
const char *lm_store_path(const lm_store *s);

/* One entry of a release tree: a module file and its blob. */
typedef struct lm_store_entry {
	char *file;
	char oid[LM_OID_HEXSZ + 1];
} lm_store_entry;

/* The entries of release tree `tree`, in tree (name) order. A release tree
 * holds module files only: an entry that is not a plain blob named
 * "<name>.so" (no '/', no leading '.') is LM_EINVAL naming it, as is a
 * tree the store lacks. The caller frees with lm_store_entries_free. */
int lm_store_tree_entries(lm_store *s, const char *tree,
			  lm_store_entry **out, size_t *n);
void lm_store_entries_free(lm_store_entry *v, size_t n);

#endif
