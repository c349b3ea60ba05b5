/*
 * store.c - the content store on libgit2; see store.h.
 *
 * Only plain git objects are written (blobs, trees, commits, refs), so the
 * store stays readable by the git command line and by any later tool.
 * libgit2 is reached through lm_git (gitlib.h), loaded by lm_store_open:
 * every other call here takes the lm_store it returned.
 */
#include "store.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "fsutil.h"
#include "gitlib.h"
#include <git2/sys/odb_backend.h>
#include "mbedlib.h"

/* Above libgit2's own backends (packs 2, loose objects 1): the first
 * backend that can write takes every write. */
#define LM_STORE_LOOSE_PRIORITY 3

struct lm_store {
	git_repository *repo;
	char *path;
};

static pthread_once_t git_once = PTHREAD_ONCE_INIT;

static void git_init_once(void)
{
	lm_git.libgit2_init();
}

/* Records libgit2's last error under LM_ERROR (or `code`). */
static int git_fail(int code, const char *what, const char *path)
{
	const git_error *e = lm_git.error_last();

	return lm_error_set(code, "%s: %s: %s", path, what,
			    e && e->message ? e->message : "unknown error");
}

/*
 * libgit2 makes the directories of loose objects (objects/xx/) with mode
 * 0777 less the process's umask, which is the host's (a node) and may be
 * 0000; a host cannot tighten it for a moment, since its other threads
 * create files meanwhile. So the store's object database gets a loose
 * backend of its own in front of the default ones, which makes them 0700
 * (and the objects 0400) whatever the umask: every object write goes
 * there. Reads still find packs and older loose objects as before.
 */
static int private_loose_backend(lm_store *s)
{
	git_odb_backend *b = NULL;
	git_odb *odb = NULL;
	char *dir = lm_path_join(s->path, "objects");
	int rc;

	if (!dir)
		return lm_error_set(LM_ERROR, "out of memory");
	rc = lm_git.repository_odb(&odb, s->repo);
	if (rc == 0 && (rc = lm_git.odb_backend_loose(&b, dir, -1, 0, 0700,
						      0400)) == 0 &&
	    (rc = lm_git.odb_add_backend(odb, b, LM_STORE_LOOSE_PRIORITY)) < 0)
		b->free(b);
	lm_git.odb_free(odb);
	free(dir);
	return rc < 0 ? git_fail(LM_ERROR, "cannot open object database",
				 s->path)
		      : 0;
}

int lm_store_open(lm_store **out, const char *path, int create)
{
	lm_store *s;
	struct stat st;
	int rc;

	*out = NULL;
	if ((rc = lm_git_load()) < 0)
		return rc;
	pthread_once(&git_once, git_init_once);
	if (stat(path, &st) != 0 && !create)
		return lm_error_set(LM_ENOTFOUND, "%s: no store here", path);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	if (stat(path, &st) == 0) {
		rc = lm_git.repository_open_bare(&s->repo, path);
	} else {
		git_repository_init_options o;

		lm_git.repository_init_options_init(
			&o, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
		o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
		/* The store holds the code the node runs: its own, whatever
		 * the umask (0000 would make it 0777, and the node would
		 * refuse it; docs/SECURITY.md). A mode of libgit2's own
		 * (not one of GIT_REPOSITORY_INIT_SHARED_*) is taken as is
		 * for the directories it makes. */
		o.mode = 0700;
		o.initial_head = "main";
		rc = lm_git.repository_init_ext(&s->repo, path, &o);
	}
	if (rc < 0) {
		rc = git_fail(LM_ERROR, "cannot open store", path);
		lm_store_free(s);
		return rc;
	}
	if ((rc = private_loose_backend(s)) < 0) {
		lm_store_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void lm_store_free(lm_store *s)
{
	if (!s)
		return;
	lm_git.repository_free(s->repo);
	free(s->path);
	free(s);
}

/*
 * A blob id is SHA-1("blob <len>\0" <bytes>). It is computed here with
 * mbedTLS, the library Debian's libgit2 itself hashes with, rather than
 * with git_odb_hash: libgit2 must be initialised first, and its
 * initialisation parses the system's CA bundle (about 15 ms), which a
 * read-only plan of an unchanged libdir never needs. The tests check the
 * ids against `git hash-object`.
 */
int lm_store_hash_buf(char out[LM_OID_HEXSZ + 1], const void *buf, size_t len)
{
	static const char hexdigit[] = "0123456789abcdef";
	unsigned char md[20];
	char head[32];
	int hl = snprintf(head, sizeof(head), "blob %zu", len) + 1;
	mbedtls_sha1_context c;
	size_t i;

	if (lm_mbed_load() < 0)
		return lm_error_wrap("cannot hash %zu bytes", len);
	lm_mbed.sha1_init(&c);
	if (lm_mbed.sha1_starts_ret(&c) != 0 ||
	    lm_mbed.sha1_update_ret(&c, (const unsigned char *)head, (size_t)hl) ||
	    lm_mbed.sha1_update_ret(&c, buf, len) != 0 ||
	    lm_mbed.sha1_finish_ret(&c, md) != 0) {
		lm_mbed.sha1_free(&c);
		return lm_error_set(LM_ERROR, "cannot hash %zu bytes", len);
	}
	lm_mbed.sha1_free(&c);
	for (i = 0; i < sizeof(md); i++) {
		out[2 * i] = hexdigit[md[i] >> 4];
		out[2 * i + 1] = hexdigit[md[i] & 15];
	}
	out[LM_OID_HEXSZ] = '\0';
	return 0;
}

int lm_store_hash_file(char out[LM_OID_HEXSZ + 1], const char *path)
{
	void *buf;
	size_t len;
	int rc;

	if ((rc = lm_file_read(&buf, &len, path)) < 0)
		return rc;
	rc = lm_store_hash_buf(out, buf, len);
	free(buf);
	return rc;
}

int lm_store_put_file(lm_store *s, const char *path, const char *expect)
{
	char hex[LM_OID_HEXSZ + 1];
	git_oid oid;
	void *buf;
	size_t len;
	int rc;

	if (expect && lm_store_has(s, expect))
		return 0;
	if ((rc = lm_file_read(&buf, &len, path)) < 0)
		return rc;
	if ((rc = lm_store_hash_buf(hex, buf, len)) == 0 && expect &&
	    strcmp(hex, expect) != 0)
		rc = lm_error_set(LM_EINVAL,
				  "%s: changed while planning (was %.12s, now "
				  "%.12s); run the plan again", path, expect,
				  hex);
	if (rc == 0 && lm_git.blob_create_from_buffer(&oid, s->repo, buf, len) < 0)
		rc = git_fail(LM_ERROR, "cannot store", path);
	free(buf);
	return rc;
}

int lm_store_has(lm_store *s, const char *oid_hex)
{
	git_odb *odb;
	git_oid oid;
	int has;

	if (lm_git.oid_fromstr(&oid, oid_hex) < 0 ||
	    lm_git.repository_odb(&odb, s->repo) < 0)
		return 0;
	has = lm_git.odb_exists(odb, &oid);
	lm_git.odb_free(odb);
	return has;
}

int lm_store_read(lm_store *s, const char *oid_hex, void **buf, size_t *len)
{
	char again[LM_OID_HEXSZ + 1];
	git_blob *blob;
	git_oid oid;
	int rc;

	*buf = NULL;
	*len = 0;
	if (lm_git.oid_fromstr(&oid, oid_hex) < 0)
		return lm_error_set(LM_EINVAL, "'%s' is not an object id",
				    oid_hex);
	if ((rc = lm_git.blob_lookup(&blob, s->repo, &oid)) < 0)
		return rc == GIT_ENOTFOUND
			? lm_error_set(LM_ENOTFOUND, "%s: object %s is missing",
				       s->path, oid_hex)
			: git_fail(LM_EINVAL, "cannot read object", s->path);
	*len = (size_t)lm_git.blob_rawsize(blob);
	*buf = malloc(*len ? *len : 1);
	if (!*buf) {
		lm_git.blob_free(blob);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	memcpy(*buf, lm_git.blob_rawcontent(blob), *len);
	lm_git.blob_free(blob);
	/* libgit2 does not re-hash loose objects on read; an object altered
	 * on disk must not reach dlopen. */
	rc = lm_store_hash_buf(again, *buf, *len);
	if (rc == 0 && strcmp(again, oid_hex) != 0)
		rc = lm_error_set(LM_EINVAL,
				  "%s: object %s is altered (its bytes hash to "
				  "%s)", s->path, oid_hex, again);
	if (rc < 0) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	return rc;
}

static int build_tree(lm_store *s, git_oid *tree_oid, const lm_modset *mods)
{
	git_treebuilder *tb;
	git_oid oid;
	size_t i;
	int rc = 0;

	if (lm_git.treebuilder_new(&tb, s->repo, NULL) < 0)
		return git_fail(LM_ERROR, "cannot build tree", s->path);
	for (i = 0; i < mods->n && rc == 0; i++) {
		const lm_modinfo *m = &mods->v[i];

		if (lm_git.oid_fromstr(&oid, m->oid) < 0 ||
		    lm_git.treebuilder_insert(NULL, tb, m->file, &oid,
					   GIT_FILEMODE_BLOB) < 0)
			rc = git_fail(LM_ERROR, "cannot add to tree", m->file);
	}
	if (rc == 0 && lm_git.treebuilder_write(tree_oid, tb) < 0)
		rc = git_fail(LM_ERROR, "cannot write tree", s->path);
	lm_git.treebuilder_free(tb);
	return rc;
}

int lm_store_write_tree(lm_store *s, char out[LM_OID_HEXSZ + 1],
			const lm_modset *mods)
{
	git_oid tree_oid;
	int rc = build_tree(s, &tree_oid, mods);

	if (rc == 0)
		lm_git.oid_tostr(out, LM_OID_HEXSZ + 1, &tree_oid);
	return rc;
}

int lm_store_commit_tree(lm_store *s, char out[LM_OID_HEXSZ + 1],
			 const char *commit)
{
	git_commit *c = NULL;
	git_oid commit_oid;

	if (lm_git.oid_fromstr(&commit_oid, commit) < 0 ||
	    lm_git.commit_lookup(&c, s->repo, &commit_oid) < 0)
		return git_fail(LM_ERROR, "release commit missing", s->path);
	lm_git.oid_tostr(out, LM_OID_HEXSZ + 1, lm_git.commit_tree_id(c));
	lm_git.commit_free(c);
	return 0;
}

int lm_store_commit(lm_store *s, char out[LM_OID_HEXSZ + 1],
		    const char *tree_hex, const char *parent,
		    const char *message)
{
	git_commit *pc = NULL;
	git_signature *sig = NULL;
	git_tree *tree = NULL;
	git_oid tree_oid, commit_oid, parent_oid;
	int rc = 0;

	if (lm_git.oid_fromstr(&tree_oid, tree_hex) < 0 ||
	    lm_git.tree_lookup(&tree, s->repo, &tree_oid) < 0 ||
	    lm_git.signature_now(&sig, "livemod", "livemod@localhost") < 0) {
		rc = git_fail(LM_ERROR, "cannot commit", s->path);
		goto out;
	}
	if (parent && *parent &&
	    (lm_git.oid_fromstr(&parent_oid, parent) < 0 ||
	     lm_git.commit_lookup(&pc, s->repo, &parent_oid) < 0)) {
		rc = git_fail(LM_ERROR, "parent release commit missing",
			      s->path);
		goto out;
	}
	if (lm_git.commit_create(&commit_oid, s->repo, NULL, sig, sig, NULL,
			      message, tree, pc ? 1 : 0,
			      (const git_commit **)&pc) < 0) {
		rc = git_fail(LM_ERROR, "cannot commit", s->path);
		goto out;
	}
	lm_git.oid_tostr(out, LM_OID_HEXSZ + 1, &commit_oid);
out:
	lm_git.commit_free(pc);
	lm_git.tree_free(tree);
	lm_git.signature_free(sig);
	return rc;
}

/* Removes the lock file git leaves beside ref `name` when a writer is
 * killed mid-update. Callers hold the ledger's write lock, and only its
 * holder writes this store's refs: any lock file found now is stale, and
 * left in place it would refuse every later release. */
static void clear_stale_lock(lm_store *s, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s.lock", s->path, name);
	unlink(path);
}

int lm_store_tag(lm_store *s, int64_t release, const char *commit)
{
	char name[64];
	git_reference *ref = NULL;
	git_oid oid;

	assert(release > 0);
	snprintf(name, sizeof(name), "refs/tags/release-%lld",
		 (long long)release);
	clear_stale_lock(s, name);
	clear_stale_lock(s, "refs/heads/main");
	if (lm_git.oid_fromstr(&oid, commit) < 0)
		return lm_error_set(LM_EINVAL, "'%s' is not a commit id",
				    commit);
	if (lm_git.reference_create(&ref, s->repo, name, &oid, 1,
				 "livemod: release") < 0)
		return git_fail(LM_ERROR, "cannot tag release", s->path);
	lm_git.reference_free(ref);
	if (lm_git.reference_create(&ref, s->repo, "refs/heads/main", &oid, 1,
				 "livemod: newest release") < 0)
		return git_fail(LM_ERROR, "cannot move main", s->path);
	lm_git.reference_free(ref);
	return 0;
}

typedef struct tag_list {
	int64_t *v;
	size_t n, cap;
} tag_list;

static int tag_cb(const char *name, void *payload)
{
	static const char prefix[] = "refs/tags/release-";
	const char *num = name + sizeof(prefix) - 1;
	tag_list *t = payload;

	if (strncmp(name, prefix, sizeof(prefix) - 1) != 0 || !*num ||
	    strlen(num) > 18 || strspn(num, "0123456789") != strlen(num))
		return 0;
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		int64_t *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return -1;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = strtoll(num, NULL, 10);
	return 0;
}

int lm_store_release_tags(lm_store *s, int64_t **ids, size_t *n)
{
	tag_list t = { NULL, 0, 0 };

	*ids = NULL;
	*n = 0;
	if (lm_git.reference_foreach_glob(s->repo, "refs/tags/release-*", tag_cb,
				       &t) < 0) {
		free(t.v);
		return git_fail(LM_ERROR, "cannot list release tags", s->path);
	}
	*ids = t.v;
	*n = t.n;
	return 0;
}

int lm_store_commit_parents(lm_store *s, const char *commit,
			    char (*out)[LM_OID_HEXSZ + 1], size_t max,
			    size_t *n)
{
	git_commit *c = NULL;
	git_oid oid;
	unsigned k;

	*n = 0;
	if (lm_git.oid_fromstr(&oid, commit) < 0)
		return lm_error_set(LM_EINVAL, "'%s' is not a commit id",
				    commit);
	if (lm_git.commit_lookup(&c, s->repo, &oid) < 0)
		return git_fail(LM_ENOTFOUND, "commit missing", s->path);
	for (k = 0; k < lm_git.commit_parentcount(c) && *n < max; k++)
		lm_git.oid_tostr(out[(*n)++], LM_OID_HEXSZ + 1,
			      lm_git.commit_parent_id(c, k));
	lm_git.commit_free(c);
	return 0;
}

int lm_store_main(lm_store *s, char out[LM_OID_HEXSZ + 1])
{
	git_oid oid;
	int rc = lm_git.reference_name_to_id(&oid, s->repo, "refs/heads/main");

	out[0] = '\0';
	if (rc == GIT_ENOTFOUND)
		return 0;
	if (rc < 0)
		return git_fail(LM_ERROR, "cannot read main", s->path);
	lm_git.oid_tostr(out, LM_OID_HEXSZ + 1, &oid);
	return 0;
}

int lm_store_untag(lm_store *s, int64_t release, const char *main_was)
{
	git_reference *ref = NULL;
	char name[64];
	git_oid oid;
	int rc;

	snprintf(name, sizeof(name), "refs/tags/release-%lld",
		 (long long)release);
	rc = release > 0 ? lm_git.reference_remove(s->repo, name) : 0;
	if (rc < 0 && rc != GIT_ENOTFOUND)
		return git_fail(LM_ERROR, "cannot untag release", s->path);
	if (!main_was)
		return 0;
	if (!*main_was)
		rc = lm_git.reference_remove(s->repo, "refs/heads/main");
	else if ((rc = lm_git.oid_fromstr(&oid, main_was)) == 0 &&
		 (rc = lm_git.reference_create(&ref, s->repo, "refs/heads/main",
					    &oid, 1, "livemod: undo")) == 0)
		lm_git.reference_free(ref);
	if (rc < 0 && rc != GIT_ENOTFOUND)
		return git_fail(LM_ERROR, "cannot move main back", s->path);
	return 0;
}

struct git_repository *lm_store_repo(lm_store *s)
{
	return s->repo;
}

const char *lm_store_path(const lm_store *s)
{
	return s->path;
}

/* A module file name as the planner writes it into a release tree; an
 * entry that is anything else must not reach a libdir (a name with a
 * '/' or a leading '.' could write outside it or hide there). */
static int module_file_name(const char *name)
{
	size_t len = strlen(name);
	size_t i;

	if (len < 4 || len > 255 || name[0] == '.' ||
	    strcmp(name + len - 3, ".so") != 0)
		return 0;
	for (i = 0; i < len; i++)
		if (name[i] == '/' || (unsigned char)name[i] < 0x21 ||
		    (unsigned char)name[i] > 0x7e)
			return 0;
	return 1;
}

void lm_store_entries_free(lm_store_entry *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i].file);
	free(v);
}

int lm_store_tree_entries(lm_store *s, const char *tree_hex,
			  lm_store_entry **out, size_t *n)
{
	git_tree *tree = NULL;
	git_oid oid;
	size_t i, count;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (lm_git.oid_fromstr(&oid, tree_hex) < 0)
		return lm_error_set(LM_EINVAL, "'%s' is not a tree id", tree_hex);
	if (lm_git.tree_lookup(&tree, s->repo, &oid) < 0)
		return git_fail(LM_EINVAL, "release tree missing or unreadable",
				s->path);
	count = lm_git.tree_entrycount(tree);
	if (!(*out = calloc(count ? count : 1, sizeof(**out)))) {
		lm_git.tree_free(tree);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	for (i = 0; i < count && rc == 0; i++) {
		const git_tree_entry *e = lm_git.tree_entry_byindex(tree, i);
		const char *name = lm_git.tree_entry_name(e);
		git_filemode_t mode = lm_git.tree_entry_filemode(e);

		if (lm_git.tree_entry_type(e) != GIT_OBJECT_BLOB ||
		    (mode != GIT_FILEMODE_BLOB &&
		     mode != GIT_FILEMODE_BLOB_EXECUTABLE) ||
		    !module_file_name(name)) {
			rc = lm_error_set(LM_EINVAL, "%s: tree %.12s: entry '%s' "
					  "is not a module file (not a "
					  "release tree)", s->path, tree_hex,
					  name);
			break;
		}
		if (!((*out)[i].file = strdup(name))) {
			rc = lm_error_set(LM_ERROR, "out of memory");
			break;
		}
		lm_git.oid_tostr((*out)[i].oid, LM_OID_HEXSZ + 1,
				 lm_git.tree_entry_id(e));
		*n = i + 1;
	}
	lm_git.tree_free(tree);
	if (rc < 0) {
		lm_store_entries_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}
