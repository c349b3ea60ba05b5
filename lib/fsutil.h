/*
 * fsutil.h - small file-system helpers the planner and agent share: whole
 * file reads, atomic writes (temp file, fsync, rename), directory creation,
 * path trust checks; and populating memory in one call.
 */
#ifndef LM_FSUTIL_H
#define LM_FSUTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* Reads the whole file into a malloc'ed buffer (NUL-terminated, the NUL
 * not counted in *len). LM_ENOTFOUND when missing, LM_ERROR otherwise;
 * the message names `path`. */
int lm_file_read(void **buf, size_t *len, const char *path);

/* Writes `len` bytes to `path` with `mode` and fsyncs them; on failure
 * removes what it wrote. Not atomic: for files no reader trusts before
 * their writer says so (a pending plan file). */
int lm_file_write(const char *path, const void *buf, size_t len,
		  unsigned mode);

/* lm_file_write in two halves, for a caller with work of its own to do
 * while the fsync waits for the disk: lm_file_write_start writes the
 * bytes and starts their fsync on a thread of its own (inline when no
 * thread can be made); lm_file_write_finish waits for it and is
 * lm_file_write's result, removing the file on failure. Finishing twice,
 * or a write that failed to start, is a no-op the second time. */
typedef struct lm_file_sync {
	char *path;      /* NULL: nothing to finish */
	int fd;
	int err;         /* errno of the fsync, 0 when it went well */
	bool threaded;   /* the fsync runs on `thread`, which holds `w`: it
			  * must stay where it is until finished */
	pthread_t thread;
} lm_file_sync;

int lm_file_write_start(lm_file_sync *w, const char *path, const void *buf,
			size_t len, unsigned mode);
int lm_file_write_finish(lm_file_sync *w);

/* Writes `len` bytes to `path` atomically with `mode`: a reader sees the
 * old file or the whole new one, never a part, even across a crash. */
int lm_file_write_atomic(const char *path, const void *buf, size_t len,
			 unsigned mode);

/* mkdir with `mode`; an existing directory is fine. */
int lm_mkdir(const char *path, unsigned mode);

/* Removes `path` and everything under it (rm -rf); a missing path is
 * fine. */
int lm_path_remove_tree(const char *path);

/*
 * ssh's StrictModes for the paths livemod loads code from: `path` and
 * every directory above it must be owned by this user or root and not
 * writable by group or others — except a directory with the sticky bit
 * (/tmp), where others cannot rename or remove what is ours. Anyone who
 * can write there can plant code the node will run. LM_EINVAL naming the
 * path, its mode and owner; `what` ("libdir", "state dir") starts it.
 */
int lm_path_trusted(const char *path, const char *what);

/* "<a>/<b>" in a malloc'ed string. */
char *lm_path_join(const char *a, const char *b);

#endif
