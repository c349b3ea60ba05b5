/*
 * transport.c - fetch and push of fleet releases over libgit2; see
 * transport.h.
 *
 * Fetched objects go to a quarantine repository first, as git's own
 * receive-pack quarantines a push: a release that fails a check leaves
 * the node's store exactly as it was, not holding unreferenced objects of
 * a remote that lied.
 */
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "fsutil.h"
#include "gitlib.h"

/* What the remote callbacks share: one ssh-agent attempt (libgit2 calls
 * the credentials callback again after each refusal, for ever), and the
 * remote's verdict on a pushed ref. */
typedef struct remote_ctx {
	int tries;
	char refused[512];
} remote_ctx;

static int remote_fail(const char *url, const char *what)
{
	const git_error *e = lm_git.error_last();

	return lm_error_set(LM_EINVAL, "%s: %s: %s", url, what,
			    e && e->message ? e->message : "unknown error");
}

static int credentials(git_credential **out, const char *url,
		       const char *user, unsigned int allowed, void *payload)
{
	remote_ctx *ctx = payload;

	(void)url;
	if (!(allowed & GIT_CREDENTIAL_SSH_KEY) || ctx->tries++ > 0)
		return GIT_PASSTHROUGH;
	return lm_git.credential_ssh_key_from_agent(out, user ? user : "git");
}

static int push_status(const char *ref, const char *status, void *payload)
{
	remote_ctx *ctx = payload;

	if (status)
		snprintf(ctx->refused, sizeof(ctx->refused), "%s: %s", ref,
			 status);
	return 0;
}

static void callbacks_init(git_remote_callbacks *cb, remote_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	lm_git.remote_init_callbacks(cb, GIT_REMOTE_CALLBACKS_VERSION);
	cb->credentials = credentials;
	cb->push_update_reference = push_status;
	cb->payload = ctx;
}

static int remote_open(git_remote **r, lm_store *s, const char *url,
		       git_direction dir, const git_remote_callbacks *cb)
{
	*r = NULL;
	if (lm_git.remote_create_anonymous(r, lm_store_repo(s), url) < 0)
		return remote_fail(url, "not a repository URL");
	if (lm_git.remote_connect(*r, dir, cb, NULL, NULL) < 0) {
		int rc = remote_fail(url, "cannot reach the repository");

		lm_git.remote_free(*r);
		*r = NULL;
		return rc;
	}
	return 0;
}

static void remote_close(git_remote *r)
{
	if (!r)
		return;
	lm_git.remote_disconnect(r);
	lm_git.remote_free(r);
}

/* True when `tree` is named by `want`: NULL (any), the whole id, or a
 * prefix of at least 7 hex digits. */
static int tree_matches(const char *tree, const char *want)
{
	size_t len;

	if (!want)
		return 1;
	len = strlen(want);
	return len >= 7 && len <= LM_OID_HEXSZ &&
	       strncmp(tree, want, len) == 0;
}

/* A tree id or prefix as the user may give it, checked before any
 * connection so that a typo is named as such. */
static int want_valid(const char *want)
{
	size_t len = want ? strlen(want) : 0;

	if (!want)
		return 0;
	if (len < 7 || len > LM_OID_HEXSZ ||
	    strspn(want, "0123456789abcdef") != len)
		return lm_error_set(LM_EINVAL, "'%s' is not a release tree id "
				    "(7 to 40 lowercase hex digits; see "
				    "'livemod push' or 'livemod fetch "
				    "REMOTE')", want);
	return 0;
}

/* A URL naming a path on this machine rather than a server (scp-like
 * "host:path" and "scheme://" are libgit2's to resolve). */
static int local_path(const char *url)
{
	return !strstr(url, "://") &&
	       (url[0] == '/' || url[0] == '.' || !strchr(url, ':'));
}

/* What a remote advertises, sorted out. */
typedef struct remote_refs {
	lm_fleet_release *v;
	size_t n;
	size_t nrefs;        /* refs of any kind */
	int release_tags;    /* it holds refs/tags/release-N: a node store */
} remote_refs;

static int remote_list(remote_refs *out, git_remote *r, const char *url)
{
	const git_remote_head **heads;
	size_t nheads, i;
	const size_t plen = sizeof(LM_FLEET_REFS) - 1;

	memset(out, 0, sizeof(*out));
	if (lm_git.remote_ls(&heads, &nheads, r) < 0)
		return remote_fail(url, "cannot list refs");
	if (!(out->v = calloc(nheads ? nheads : 1, sizeof(*out->v))))
		return lm_error_set(LM_ERROR, "out of memory");
	for (i = 0; i < nheads; i++) {
		const char *name = heads[i]->name;

		if (strcmp(name, "HEAD") == 0)
			continue;
		out->nrefs++;
		if (strncmp(name, "refs/tags/release-", 18) == 0)
			out->release_tags = 1;
		if (strncmp(name, LM_FLEET_REFS, plen) != 0 ||
		    !lm_oid_valid(name + plen))
			continue;
		memcpy(out->v[out->n].tree, name + plen, LM_OID_HEXSZ + 1);
		lm_git.oid_tostr(out->v[out->n].commit, LM_OID_HEXSZ + 1,
				 &heads[i]->oid);
		out->n++;
	}
	return 0;
}

/* Keeps the releases `want` names; LM_ENOTFOUND when none, LM_EINVAL
 * when a prefix names several. */
static int select_releases(lm_fleet_release **out, size_t *n,
			   remote_refs *refs, const char *where,
			   const char *want)
{
	size_t i, k = 0;

	for (i = 0; i < refs->n; i++)
		if (tree_matches(refs->v[i].tree, want))
			refs->v[k++] = refs->v[i];
	if (want && k == 0)
		return lm_error_set(LM_ENOTFOUND, "%s: no release %s (no ref "
				    LM_FLEET_REFS "%s*)", where, want, want);
	if (want && k > 1)
		return lm_error_set(LM_EINVAL, "%s: release %s is ambiguous "
				    "(%zu trees start so); give more digits",
				    where, want, k);
	*out = refs->v;
	*n = k;
	refs->v = NULL;
	return 0;
}

int lm_transport_list(lm_fleet_release **out, size_t *n, lm_store *s,
		      const char *url, const char *want)
{
	git_remote_callbacks cb;
	remote_refs refs = { 0 };
	git_remote *r = NULL;
	remote_ctx ctx;
	struct stat st;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = want_valid(want)) < 0)
		return rc;
	if (local_path(url) && stat(url, &st) != 0)
		return lm_error_set(LM_EINVAL, "%s: no such repository", url);
	callbacks_init(&cb, &ctx);
	if ((rc = remote_open(&r, s, url, GIT_DIRECTION_FETCH, &cb)) < 0)
		return rc;
	if ((rc = remote_list(&refs, r, url)) == 0 && refs.n == 0)
		rc = lm_error_set(LM_EINVAL, "%s: not a livemod fleet "
				  "repository: it holds no " LM_FLEET_REFS
				  "* (%s)", url, refs.release_tags
				  ? "a node's store: push its releases to a "
				    "fleet repository with 'livemod push'"
				  : "push a release there with 'livemod "
				    "push'");
	if (rc == 0)
		rc = select_releases(out, n, &refs, url, want);
	free(refs.v);
	remote_close(r);
	return rc;
}

/* ---- fetch ------------------------------------------------------------------ */

/* A release as it arrived in the quarantine store `q`: its commit has the
 * tree its ref names, the tree holds module files only, and each file's
 * bytes hash to its id. */
static int check_release(lm_store *q, lm_fleet_release *rel)
{
	char tree[LM_OID_HEXSZ + 1], parents[1][LM_OID_HEXSZ + 1];
	lm_store_entry *e = NULL;
	size_t n = 0, np = 0, i;
	void *buf;
	size_t len;
	int rc;

	if ((rc = lm_store_commit_tree(q, tree, rel->commit)) < 0)
		return lm_error_set(LM_EINVAL, "commit %s is missing or "
				    "corrupt", rel->commit);
	if (strcmp(tree, rel->tree) != 0)
		return lm_error_set(LM_EINVAL, "ref names tree %s but its "
				    "commit %.12s has tree %s", rel->tree,
				    rel->commit, tree);
	if ((rc = lm_store_tree_entries(q, tree, &e, &n)) < 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		if ((rc = lm_store_read(q, e[i].oid, &buf, &len)) < 0)
			lm_error_wrap("module file %s", e[i].file);
		else
			free(buf);
	}
	lm_store_entries_free(e, n);
	rel->parent_tree[0] = '\0';
	if (rc == 0 &&
	    lm_store_commit_parents(q, rel->commit, parents, 1, &np) == 0 &&
	    np == 1 && lm_store_commit_tree(q, tree, parents[0]) == 0)
		memcpy(rel->parent_tree, tree, sizeof(tree));
	lm_error_clear();
	return rc;
}

typedef struct copy_ctx {
	git_odb *src, *dst;
	char failed[512];
} copy_ctx;

/* Reading an object makes libgit2 check that its bytes hash to its id
 * (strict hash verification, on by default); writing it back computes
 * the id again. */
static int copy_object(const git_oid *id, void *payload)
{
	copy_ctx *c = payload;
	const git_error *e;
	git_odb_object *o = NULL;
	git_oid written;
	char hex[LM_OID_HEXSZ + 1];

	if (lm_git.odb_read(&o, c->src, id) == 0 &&
	    lm_git.odb_write(&written, c->dst, lm_git.odb_object_data(o),
			     lm_git.odb_object_size(o),
			     lm_git.odb_object_type(o)) == 0) {
		lm_git.odb_object_free(o);
		return 0;
	}
	lm_git.odb_object_free(o);
	e = lm_git.error_last();
	lm_git.oid_tostr(hex, sizeof(hex), id);
	snprintf(c->failed, sizeof(c->failed), "object %s: %s", hex,
		 e && e->message ? e->message : "cannot copy");
	return -1;
}

static int copy_objects(lm_store *q, lm_store *s, const char *url)
{
	copy_ctx c = { NULL, NULL, "" };
	int rc = 0;

	if (lm_git.repository_odb(&c.src, lm_store_repo(q)) < 0 ||
	    lm_git.repository_odb(&c.dst, lm_store_repo(s)) < 0)
		rc = remote_fail(url, "cannot open object database");
	else if (lm_git.odb_foreach(c.src, copy_object, &c) != 0)
		rc = lm_error_set(LM_EINVAL, "%s: %s", url,
				  c.failed[0] ? c.failed : "cannot copy objects");
	lm_git.odb_free(c.src);
	lm_git.odb_free(c.dst);
	return rc;
}

static int make_ref(lm_store *s, const lm_fleet_release *rel)
{
	git_reference *ref = NULL;
	char name[128];
	git_oid oid;

	snprintf(name, sizeof(name), LM_FLEET_REFS "%s", rel->tree);
	if (lm_git.oid_fromstr(&oid, rel->commit) < 0 ||
	    lm_git.reference_create(&ref, lm_store_repo(s), name, &oid, 1,
				    "livemod: fetch") < 0)
		return remote_fail(lm_store_path(s), "cannot make the ref");
	lm_git.reference_free(ref);
	return 0;
}

int lm_transport_fetch(lm_store *s, const char *tmp_dir, const char *url,
		       lm_fleet_release *rels, size_t n)
{
	git_remote_callbacks cb;
	git_fetch_options fo;
	git_strarray specs = { NULL, 0 };
	git_remote *r = NULL;
	lm_store *q = NULL;
	remote_ctx ctx;
	size_t i;
	int rc;

	lm_path_remove_tree(tmp_dir);
	if ((rc = lm_store_open(&q, tmp_dir, 1)) < 0)
		return rc;
	if (!(specs.strings = calloc(n ? n : 1, sizeof(char *)))) {
		rc = lm_error_set(LM_ERROR, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++, specs.count++)
		if (asprintf(&specs.strings[i], LM_FLEET_REFS "%s:"
			     LM_FLEET_REFS "%s", rels[i].tree,
			     rels[i].tree) < 0) {
			rc = lm_error_set(LM_ERROR, "out of memory");
			goto out;
		}
	callbacks_init(&cb, &ctx);
	if ((rc = remote_open(&r, q, url, GIT_DIRECTION_FETCH, &cb)) < 0)
		goto out;
	lm_git.fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.callbacks = cb;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	if (lm_git.remote_download(r, &specs, &fo) < 0) {
		rc = remote_fail(url, "fetch failed");
		goto out;
	}
	for (i = 0; i < n && rc == 0; i++)
		if ((rc = check_release(q, &rels[i])) < 0)
			lm_error_wrap("%s: release %s", url, rels[i].tree);
	if (rc == 0)
		rc = copy_objects(q, s, url);
	for (i = 0; i < n && rc == 0; i++)
		rc = make_ref(s, &rels[i]);
out:
	remote_close(r);
	for (i = 0; i < specs.count; i++)
		free(specs.strings[i]);
	free(specs.strings);
	lm_store_free(q);
	lm_path_remove_tree(tmp_dir);
	return rc;
}

/* ---- push ------------------------------------------------------------------- */

/* After a push: the remote's ref names our commit (what the remote's
 * indexer took in, it verified object by object). */
static int pushed_as(lm_store *s, const char *url, const char *commit,
		     const char *tree)
{
	lm_fleet_release *v = NULL;
	size_t n = 0;
	int rc = lm_transport_list(&v, &n, s, url, tree);

	if (rc == 0 && (n != 1 || strcmp(v[0].commit, commit) != 0))
		rc = lm_error_set(LM_ERROR, "%s: after the push, "
				  LM_FLEET_REFS "%s names %s, not %s", url,
				  tree, n ? v[0].commit : "nothing", commit);
	free(v);
	return rc;
}

int lm_transport_push(int *pushed, lm_store *s, const char *url,
		      int64_t release, const char *commit, const char *tree)
{
	git_remote_callbacks cb;
	git_push_options po;
	remote_refs refs = { 0 };
	git_remote *r = NULL;
	remote_ctx ctx;
	struct stat st;
	char *spec = NULL;
	git_strarray specs = { &spec, 1 };
	size_t i;
	int rc;

	*pushed = 0;
	if (local_path(url) && stat(url, &st) != 0) {
		lm_store *fresh = NULL;

		if ((rc = lm_store_open(&fresh, url, 1)) < 0)
			return lm_error_wrap("cannot create the fleet "
					     "repository");
		lm_store_free(fresh);
	}
	callbacks_init(&cb, &ctx);
	if ((rc = remote_open(&r, s, url, GIT_DIRECTION_PUSH, &cb)) < 0)
		return rc;
	if ((rc = remote_list(&refs, r, url)) < 0)
		goto out;
	if (refs.nrefs > 0 && refs.n == 0 && !refs.release_tags) {
		rc = lm_error_set(LM_EINVAL, "%s: not a livemod store: it "
				  "holds refs, but no " LM_FLEET_REFS "* and "
				  "no refs/tags/release-*", url);
		goto out;
	}
	for (i = 0; i < refs.n; i++)
		if (strcmp(refs.v[i].tree, tree) == 0)
			goto out; /* there already, from this node or another */
	if (asprintf(&spec, "refs/tags/release-%lld:" LM_FLEET_REFS "%s",
		     (long long)release, tree) < 0) {
		spec = NULL;
		rc = lm_error_set(LM_ERROR, "out of memory");
		goto out;
	}
	lm_git.push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	po.callbacks = cb;
	if (lm_git.remote_push(r, &specs, &po) < 0)
		rc = remote_fail(url, "push failed");
	else if (ctx.refused[0])
		rc = lm_error_set(LM_EINVAL, "%s: the repository refused %s",
				  url, ctx.refused);
	else
		*pushed = 1;
out:
	free(spec);
	free(refs.v);
	remote_close(r);
	return rc == 0 && *pushed ? pushed_as(s, url, commit, tree) : rc;
}

/* ---- the node's own fetched releases ------------------------------------------ */

static int local_cb(const char *name, void *payload)
{
	remote_refs *refs = payload;
	const size_t plen = sizeof(LM_FLEET_REFS) - 1;
	lm_fleet_release *v;

	if (strncmp(name, LM_FLEET_REFS, plen) != 0 ||
	    !lm_oid_valid(name + plen))
		return 0;
	if (!(v = realloc(refs->v, (refs->n + 1) * sizeof(*v))))
		return -1;
	refs->v = v;
	memset(&v[refs->n], 0, sizeof(*v));
	memcpy(v[refs->n++].tree, name + plen, LM_OID_HEXSZ + 1);
	return 0;
}

int lm_transport_local(lm_fleet_release *out, lm_store *s, const char *want)
{
	char parents[1][LM_OID_HEXSZ + 1], name[128];
	remote_refs refs = { 0 };
	lm_fleet_release *v = NULL;
	size_t n = 0, np = 0;
	git_oid oid;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = want_valid(want)) < 0)
		return rc;
	if (lm_git.reference_foreach_glob(lm_store_repo(s), LM_FLEET_REFS "*",
					  local_cb, &refs) < 0) {
		free(refs.v);
		return remote_fail(lm_store_path(s), "cannot list fetched "
				   "releases");
	}
	rc = select_releases(&v, &n, &refs, lm_store_path(s), want);
	free(refs.v);
	if (rc == 0 && n == 0) {
		free(v);
		rc = LM_ENOTFOUND;
	}
	if (rc == LM_ENOTFOUND)
		return lm_error_set(LM_ENOTFOUND, "no fetched release %s in "
				    "%s (run 'livemod fetch REMOTE %s' "
				    "first)", want, lm_store_path(s), want);
	if (rc < 0)
		return rc;
	*out = v[0];
	free(v);
	snprintf(name, sizeof(name), LM_FLEET_REFS "%s", out->tree);
	if (lm_git.reference_name_to_id(&oid, lm_store_repo(s), name) < 0)
		return remote_fail(lm_store_path(s), "cannot read the ref");
	lm_git.oid_tostr(out->commit, LM_OID_HEXSZ + 1, &oid);
	if (lm_store_commit_parents(s, out->commit, parents, 1, &np) == 0 &&
	    np == 1)
		lm_store_commit_tree(s, out->parent_tree, parents[0]);
	lm_error_clear();
	return 0;
}
