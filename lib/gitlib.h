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
 * Calls go through the table (lib/lazylib.h): lm_git.blob_lookup(...)
 * for git_blob_lookup(...), valid once lm_git_load() has returned 0.
 */
#ifndef LM_GITLIB_H
#define LM_GITLIB_H

#include <git2.h>

#include "lazylib.h"

/* Every libgit2 function livemod calls: X(prefix, name). */
#define LM_GIT_FUNCTIONS(X)                                                 \
	X(git_, libgit2_init)                                                      \
	X(git_, error_last)                                                        \
	X(git_, repository_open_bare)                                              \
	X(git_, repository_init_options_init)                                      \
	X(git_, repository_init_ext)                                               \
	X(git_, repository_odb)                                                    \
	X(git_, repository_free)                                                   \
	X(git_, odb_exists)                                                        \
	X(git_, odb_free)                                                          \
	X(git_, oid_fromstr)                                                       \
	X(git_, oid_tostr)                                                         \
	X(git_, blob_create_from_buffer)                                           \
	X(git_, blob_lookup)                                                       \
	X(git_, blob_rawsize)                                                      \
	X(git_, blob_rawcontent)                                                   \
	X(git_, blob_free)                                                         \
	X(git_, treebuilder_new)                                                   \
	X(git_, treebuilder_insert)                                                \
	X(git_, treebuilder_write)                                                 \
	X(git_, treebuilder_free)                                                  \
	X(git_, tree_lookup)                                                       \
	X(git_, tree_free)                                                         \
	X(git_, signature_now)                                                     \
	X(git_, signature_free)                                                    \
	X(git_, commit_create)                                                     \
	X(git_, commit_lookup)                                                     \
	X(git_, commit_tree_id)                                                    \
	X(git_, commit_parentcount)                                                \
	X(git_, commit_parent_id)                                                  \
	X(git_, commit_free)                                                       \
	X(git_, reference_create)                                                  \
	X(git_, reference_name_to_id)                                              \
	X(git_, reference_foreach_glob)                                            \
	X(git_, reference_remove)                                                  \
	X(git_, reference_free)                                                    \
	X(git_, tree_entrycount)                                                   \
	X(git_, tree_entry_byindex)                                                \
	X(git_, tree_entry_name)                                                   \
	X(git_, tree_entry_id)                                                     \
	X(git_, tree_entry_type)                                                   \
	X(git_, tree_entry_filemode)                                               \
	X(git_, odb_foreach)                                                       \
	X(git_, odb_read)                                                          \
	X(git_, odb_write)                                                         \
	X(git_, odb_object_data)                                                   \
	X(git_, odb_object_size)                                                   \
	X(git_, odb_object_type)                                                   \
	X(git_, odb_object_free)                                                   \
	X(git_, odb_backend_loose)                                                 \
	X(git_, odb_add_backend)                                                   \
	X(git_, remote_create_anonymous)                                           \
	X(git_, remote_connect)                                                    \
	X(git_, remote_ls)                                                         \
	X(git_, remote_download)                                                   \
	X(git_, remote_push)                                                       \
	X(git_, remote_disconnect)                                                 \
	X(git_, remote_free)                                                       \
	X(git_, remote_init_callbacks)                                             \
	X(git_, fetch_options_init)                                                \
	X(git_, push_options_init)                                                 \
	X(git_, credential_ssh_key_from_agent)

/* Opens libgit2.so.<the soname compiled against> and resolves the table,
 * once per process, whichever thread comes first; it does not call
 * git_libgit2_init. LM_ERROR, naming the library and dlerror()'s reason,
 * when the library or a function is missing: then on every call. */
LM_LAZY_TABLE(lm_git_table, lm_git, lm_git_load, LM_GIT_FUNCTIONS)

#endif
