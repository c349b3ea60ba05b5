/*
 * gitlib.h - the libgit2 functions livemod calls, opened with dlopen at
 * the first use of the store instead of linked.
 *
 * Linking libgit2 makes every process load its dependency closure (about
 * 20 shared objects on Debian 12: mbedTLS, libssh2, OpenSSL, krb5, PCRE,
 * http_parser, ...) at start: an empty main linked with -lgit2 takes
 * 8.9 ms against 2.8 ms. `livemod plan --dry-run` and most commands never
 * open the store, and a host's agent opens it only on an update. The
 * prototypes still come from <git2.h>, so every call stays typed.
 *
 * Calls go through the table: lm_git.blob_lookup(...) for
 * git_blob_lookup(...), valid once lm_git_load() has returned 0.
 */
#ifndef LM_GITLIB_H
#define LM_GITLIB_H

#include <git2.h>

/* Every libgit2 function livemod calls, without its git_ prefix. */
#define LM_GIT_FUNCTIONS(X)                                                 \
	X(libgit2_init)                                                     \
	X(error_last)                                                       \
	X(repository_open_bare)                                             \
	X(repository_init_options_init)                                     \
	X(repository_init_ext)                                              \
	X(repository_odb)                                                   \
	X(repository_free)                                                  \
	X(odb_exists)                                                       \
	X(odb_free)                                                         \
	X(oid_fromstr)                                                      \
	X(oid_tostr)                                                        \
	X(blob_create_from_buffer)                                          \
	X(blob_lookup)                                                      \
	X(blob_rawsize)                                                     \
	X(blob_rawcontent)                                                  \
	X(blob_free)                                                        \
	X(treebuilder_new)                                                  \
	X(treebuilder_insert)                                               \
	X(treebuilder_write)                                                \
	X(treebuilder_free)                                                 \
	X(tree_lookup)                                                      \
	X(tree_free)                                                        \
	X(signature_now)                                                    \
	X(signature_free)                                                   \
	X(commit_create)                                                    \
	X(commit_lookup)                                                    \
	X(commit_tree_id)                                                   \
	X(commit_parentcount)                                               \
	X(commit_parent_id)                                                 \
	X(commit_free)                                                      \
	X(reference_create)                                                 \
	X(reference_name_to_id)                                             \
	X(reference_foreach_glob)                                           \
	X(reference_remove)                                                 \
	X(reference_free)                                                   \
	X(tree_entrycount)                                                  \
	X(tree_entry_byindex)                                               \
	X(tree_entry_name)                                                  \
	X(tree_entry_id)                                                    \
	X(tree_entry_type)                                                  \
	X(tree_entry_filemode)                                              \
	X(odb_foreach)                                                      \
	X(odb_read)                                                         \
	X(odb_write)                                                        \
	X(odb_object_data)                                                  \
	X(odb_object_size)                                                  \
	X(odb_object_type)                                                  \
	X(odb_object_free)                                                  \
	X(remote_create_anonymous)                                          \
	X(remote_connect)                                                   \
	X(remote_ls)                                                        \
	X(remote_download)                                                  \
	X(remote_push)                                                      \
	X(remote_disconnect)                                                \
	X(remote_free)                                                      \
	X(remote_init_callbacks)                                            \
	X(fetch_options_init)                                               \
	X(push_options_init)                                                \
	X(credential_ssh_key_from_agent)

struct lm_git_table {
#define LM_GIT_FIELD(name) __typeof__(git_##name) *name;
	LM_GIT_FUNCTIONS(LM_GIT_FIELD)
#undef LM_GIT_FIELD
};

extern struct lm_git_table lm_git;

/* Opens libgit2.so.<the soname compiled against> and resolves the table,
 * once per process, whichever thread comes first; it does not call
 * git_libgit2_init. LM_ERROR, naming the library and dlerror()'s reason,
 * when the library or a function is missing: then on every call. */
int lm_git_load(void);

#endif
