/*
 * token.c - the TCP listener's bearer token, STATE/token; see token.h.
 */
#include "token.h"

#include "ctequal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

#define LM_TOKEN_BYTES (LM_TOKEN_HEX / 2)

static int token_valid(const char *t)
{
	return strlen(t) == LM_TOKEN_HEX &&
	       strspn(t, "0123456789abcdef") == LM_TOKEN_HEX;
}

/* Reads state/token into tok; LM_ENOTFOUND when there is none. */
static int token_read(char *tok, const char *path)
{
	char buf[LM_TOKEN_HEX + 2];
	struct stat st;
	ssize_t len;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return errno == ENOENT
			       ? LM_ENOTFOUND
			       : lm_error_set(LM_ERROR, "%s: %s", path,
					      strerror(errno));
	if (fstat(fd, &st) < 0 || (len = read(fd, buf, sizeof(buf) - 1)) < 0) {
		close(fd);
		return lm_error_set(LM_ERROR, "%s: %s", path, strerror(errno));
	}
	close(fd);
	/* as ssh with its keys: a token others can read is no secret */
	if (st.st_mode & 077)
		return lm_error_set(LM_EINVAL, "%s: mode %03o lets others read "
				    "the token; chmod 600 it", path,
				    (unsigned)(st.st_mode & 0777));
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (!token_valid(buf))
		return lm_error_set(LM_EINVAL, "%s: not a %d-hex-digit token "
				    "(remove it to have a new one made)", path,
				    LM_TOKEN_HEX);
	memcpy(tok, buf, LM_TOKEN_HEX + 1);
	return 0;
}

/*
 * Makes a new token and publishes it with link(): the file appears whole,
 * and a node starting at the same moment either wins or reads ours.
 */
static int token_create(char *tok, const char *path)
{
	unsigned char raw[LM_TOKEN_BYTES];
	char text[LM_TOKEN_HEX + 2], *tmp = NULL;
	size_t i;
	int fd = -1, rc = 0;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return lm_error_set(LM_ERROR, "getrandom: %s", strerror(errno));
	for (i = 0; i < LM_TOKEN_BYTES; i++)
		sprintf(text + 2 * i, "%02x", raw[i]);
	text[LM_TOKEN_HEX] = '\n';
	text[LM_TOKEN_HEX + 1] = '\0';
	if (asprintf(&tmp, "%s.%ld.tmp", path, (long)getpid()) < 0)
		return lm_error_set(LM_ERROR, "out of memory");
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    write(fd, text, LM_TOKEN_HEX + 1) != LM_TOKEN_HEX + 1 || fsync(fd) < 0)
		rc = lm_error_set(LM_ERROR, "%s: %s", tmp, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (rc == 0 && link(tmp, path) < 0)
		rc = errno == EEXIST ? token_read(tok, path)
				     : lm_error_set(LM_ERROR, "%s: %s", path,
						    strerror(errno));
	else if (rc == 0)
		memcpy(tok, text, LM_TOKEN_HEX + 1);
	tok[LM_TOKEN_HEX] = '\0';
	unlink(tmp);
	free(tmp);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(text, sizeof(text));
	return rc;
}

int lm_token_load(const char *state_dir, char *tok)
{
	char *path = NULL;
	int rc;

	if (asprintf(&path, "%s/token", state_dir) < 0)
		return lm_error_set(LM_ERROR, "out of memory");
	if ((rc = token_read(tok, path)) == LM_ENOTFOUND)
		rc = token_create(tok, path);
	free(path);
	assert(rc < 0 || token_valid(tok));
	return rc;
}

int lm_token_authorizes(const char *tok, const char *header)
{
	assert(token_valid(tok));
	if (!header || strncasecmp(header, "Bearer ", 7) != 0)
		return 0;
	header += 7;
	/* the length is public (64); past it, every byte of the token is
	 * looked at whatever the header holds: the time taken tells nothing
	 * of where they differ */
	return strlen(header) == LM_TOKEN_HEX &&
	       lm_ct_equal(header, tok, LM_TOKEN_HEX);
}
