/*
 * transport.h - moving releases between a node's store and another git
 * repository (a fleet's central bare repository: a path, or any URL
 * libgit2 supports), for `livemod fetch` and `livemod push`.
 *
 * Release numbers belong to one node's ledger, so between nodes a release
 * is named by its tree: the set of module objects (docs/fleet.md). In the
 * other repository a release is the ref refs/livemod/releases/<tree>,
 * pointing at the commit of whichever node pushed that tree first; a fetch
 * makes the same ref in the node's store. Nothing here touches a ledger.
 */
#ifndef LM_TRANSPORT_H
#define LM_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define LM_FLEET_REFS "refs/livemod/releases/"

typedef struct lm_fleet_release {
	char tree[LM_OID_HEXSZ + 1];
	char commit[LM_OID_HEXSZ + 1];
	/* the tree of the commit's parent: the release it was planned from
	 * on the node that pushed it; "" when it has none or is not known
	 * (a listing fetches no object) */
	char parent_tree[LM_OID_HEXSZ + 1];
} lm_fleet_release;

/* The releases `url` holds whose tree is `want` (a tree id, or a prefix
 * of at least 7 hex digits naming exactly one), or all of them when
 * `want` is NULL; in *out (caller frees). LM_EINVAL naming `url` when it
 * cannot be reached or holds no refs/livemod/releases/ ref (not a livemod
 * fleet repository), LM_ENOTFOUND when `want` names none. Connects
 * through store `s` but writes nothing. */
int lm_transport_list(lm_fleet_release **out, size_t *n, lm_store *s,
		      const char *url, const char *want);

/*
 * Fetches releases `rels` (from lm_transport_list) from `url` into `s`.
 * The objects land first in a quarantine repository made at `tmp_dir`
 * (removed again), where each is read back, which makes libgit2 re-hash
 * it, and each release is checked: its commit's tree is the one its ref
 * names, that tree holds module files only and every file's bytes hash
 * to its blob id (lm_store_read). Only then are the objects copied into
 * `s` and the refs made. Any mismatch is LM_EINVAL naming the object,
 * with nothing written to `s`. Fills each release's parent_tree.
 */
int lm_transport_fetch(lm_store *s, const char *tmp_dir, const char *url,
		       lm_fleet_release *rels, size_t n);

/*
 * Pushes release commit `commit` (tagged release-`release` in `s`) whose
 * tree is `tree` to `url` as refs/livemod/releases/<tree>. A local path
 * that does not exist is made a bare repository first. *pushed is 0 when
 * `url` had that tree already (nothing sent). LM_EINVAL naming `url`
 * when it cannot be reached, or holds refs but none a livemod store or
 * fleet repository has (under refs/livemod/releases/ or refs/tags/release-).
 */
int lm_transport_push(int *pushed, lm_store *s, const char *url,
		      int64_t release, const char *commit, const char *tree);

/* The fleet release of the store `s` itself whose tree is `want` (as
 * lm_transport_list): what `stage` applies. LM_ENOTFOUND when none was
 * fetched. */
int lm_transport_local(lm_fleet_release *out, lm_store *s, const char *want);

#endif
