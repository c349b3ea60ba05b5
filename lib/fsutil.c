/*
 * fsutil.c - file-system helpers; see fsutil.h.
 */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

int lm_file_read(void **buf, size_t *len, const char *path)
{
	struct stat st;
	char *p = NULL;
	size_t got = 0;
	int fd;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return lm_error_set(errno == ENOENT ? LM_ENOTFOUND : LM_ERROR,
				    "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return lm_error_set(LM_EINVAL, "%s: not a regular file", path);
	}
	if (!(p = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return lm_error_set(LM_ERROR, "out of memory");
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, p + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : EIO;

			close(fd);
			free(p);
			return lm_error_set(LM_ERROR, "%s: %s", path,
					    r < 0 ? strerror(e)
						  : "file shrank while read");
		}
		got += (size_t)r;
	}
	close(fd);
	p[got] = '\0';
	*buf = p;
	*len = got;
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static void *fsync_run(void *arg)
{
	lm_file_sync *w = arg;

	w->err = fsync(w->fd) == 0 ? 0 : errno;
	return NULL;
}

/* Creates (or truncates) `path` with `mode`, writes `len` bytes and
 * fsyncs them into `w`: on a thread of its own when `thread` and one can
 * be made, else here. On failure nothing is left at `path` and there is
 * nothing to finish. */
static int write_start(lm_file_sync *w, const char *path, const void *buf,
		       size_t len, unsigned mode, bool thread)
{
	int e;

	memset(w, 0, sizeof(*w));
	if (!(w->path = strdup(path)))
		return lm_error_set(LM_ERROR, "out of memory");
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (w->fd < 0 || write_all(w->fd, buf, len) != 0) {
		e = errno;
		if (w->fd >= 0) {
			close(w->fd);
			unlink(path);
		}
		free(w->path);
		w->path = NULL;
		return lm_error_set(LM_ERROR, "%s: %s", path, strerror(e));
	}
	w->threaded = thread &&
		      pthread_create(&w->thread, NULL, fsync_run, w) == 0;
	if (!w->threaded)
		fsync_run(w);
	return 0;
}

int lm_file_write(const char *path, const void *buf, size_t len,
		  unsigned mode)
{
	lm_file_sync w;
	int rc = write_start(&w, path, buf, len, mode, false);

	return rc < 0 ? rc : lm_file_write_finish(&w);
}

int lm_file_write_start(lm_file_sync *w, const char *path, const void *buf,
			size_t len, unsigned mode)
{
	return write_start(w, path, buf, len, mode, true);
}

int lm_file_write_finish(lm_file_sync *w)
{
	int e, rc = 0;

	if (!w->path)
		return 0;
	if (w->threaded)
		pthread_join(w->thread, NULL);
	e = w->err;
	if (close(w->fd) != 0 && !e)
		e = errno;
	if (e) {
		unlink(w->path);
		rc = lm_error_set(LM_ERROR, "%s: %s", w->path, strerror(e));
	}
	free(w->path);
	memset(w, 0, sizeof(*w));
	return rc;
}

int lm_file_write_atomic(const char *path, const void *buf, size_t len,
			 unsigned mode)
{
	char *tmp;
	int rc, e;

	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
		return lm_error_set(LM_ERROR, "out of memory");
	if ((rc = lm_file_write(tmp, buf, len, mode)) == 0 &&
	    rename(tmp, path) != 0) {
		e = errno;
		unlink(tmp);
		rc = lm_error_set(LM_ERROR, "%s: %s", path, strerror(e));
	}
	free(tmp);
	return rc;
}

int lm_mkdir(const char *path, unsigned mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return lm_error_set(errno == EEXIST ? LM_EINVAL : LM_ERROR,
			    "%s: cannot create directory: %s", path,
			    errno == EEXIST ? "exists and is not a directory"
					    : strerror(errno));
}

char *lm_path_join(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		return NULL;
	return p;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int lm_path_remove_tree(const char *path)
{
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 &&
	    errno != ENOENT)
		return lm_error_set(LM_ERROR, "%s: cannot remove: %s", path,
				    strerror(errno));
	return 0;
}

/* One path component: owned by us or root; not writable by group or
 * others unless sticky. */
static int component_trusted(const char *path, const char *what,
			     const char *full)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return lm_error_set(errno == ENOENT ? LM_ENOTFOUND : LM_ERROR,
				    "%s %s: %s: %s", what, full, path,
				    strerror(errno));
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return lm_error_set(LM_EINVAL, "%s %s: %s is owned by uid %u, "
				    "not by this user or root: refusing to "
				    "load code from it", what, full, path,
				    (unsigned)st.st_uid);
	if ((st.st_mode & 022) && !(S_ISDIR(st.st_mode) &&
				    (st.st_mode & S_ISVTX)))
		return lm_error_set(LM_EINVAL, "%s %s: %s is writable by %s "
				    "(mode %04o): refusing to load code from "
				    "it; chmod go-w it", what, full, path,
				    (st.st_mode & 002) ? "others" : "its group",
				    (unsigned)(st.st_mode & 07777));
	return 0;
}

int lm_path_trusted(const char *path, const char *what)
{
	char *abs = realpath(path, NULL), *slash;
	int rc;

	if (!abs)
		return lm_error_set(errno == ENOENT ? LM_ENOTFOUND : LM_ERROR,
				    "%s %s: %s", what, path, strerror(errno));
	for (;;) {
		if ((rc = component_trusted(abs, what, path)) < 0 ||
		    strcmp(abs, "/") == 0)
			break;
		slash = strrchr(abs, '/');
		slash[slash == abs] = '\0'; /* "/a" -> "/" */
	}
	free(abs);
	return rc;
}
