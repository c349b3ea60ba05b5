/*
 * resp.c - the RESP2 request parser (resp.h). Stateless: an incomplete
 * command is parsed again from its start once more bytes arrived; a
 * bulk's bytes are skipped by length, never scanned, so a large value
 * costs its header's parse per read, not its size.
 */
#include <stdlib.h>
#include <string.h>

#include "resp.h"

/* The line at p[0..n): its length without "\r\n" in *len and where the
 * next begins in *next; 0 when no '\n' arrived yet. */
static int line(const char *p, size_t n, size_t *len, size_t *next)
{
	const char *nl = memchr(p, '\n', n);

	if (!nl)
		return 0;
	*next = (size_t)(nl - p) + 1;
	*len = (size_t)(nl - p);
	if (*len && p[*len - 1] == '\r')
		(*len)--;
	return 1;
}

/* A decimal in p[0..n) within [min, max]; -2 when it is none. Digits
 * only, after an optional '-' (Redis's string2ll, as its parser uses). */
static long long number(const char *p, size_t n, long long min, long long max)
{
	long long v = 0;
	size_t i = 0;
	int neg = 0;

	if (n && p[0] == '-')
		neg = 1, i = 1;
	if (i == n || n - i > 12)
		return -2;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -2;
		v = v * 10 + (p[i] - '0');
	}
	v = neg ? -v : v;
	return v < min || v > max ? -2 : v;
}

static int reserve(struct resp_cmd *c, long long n)
{
	int cap = c->cap ? c->cap : 8;
	const char **a;
	size_t *l;

	if (n <= c->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	if (!(a = realloc(c->argv, (size_t)cap * sizeof(*a))))
		return -1;
	c->argv = a;
	if (!(l = realloc(c->len, (size_t)cap * sizeof(*l))))
		return -1;
	c->len = l;
	c->cap = cap;
	return 0;
}

/* "*N\r\n" then N times "$LEN\r\n" LEN bytes "\r\n". */
static enum resp_rc multibulk(struct resp_cmd *c, const char *b, size_t n,
			      size_t *used, const char **err)
{
	size_t off, ll, next;
	long long argc, i, bl;

	if (!line(b, n, &ll, &next))
		return n > RESP_MAX_INLINE ?
			       (*err = "Protocol error: too big mbulk count string",
				RESP_ERROR) : RESP_MORE;
	argc = number(b + 1, ll - 1, -1, RESP_MAX_ARGS);
	if (argc == -2) {
		*err = "Protocol error: invalid multibulk length";
		return RESP_ERROR;
	}
	off = next;
	if (argc <= 0) { /* "*0", "*-1": nothing to run */
		c->argc = 0;
		*used = off;
		return RESP_OK;
	}
	if (reserve(c, argc) < 0) {
		*err = "Protocol error: out of memory";
		return RESP_ERROR;
	}
	for (i = 0; i < argc; i++) {
		if (off == n)
			return RESP_MORE;
		if (b[off] != '$') {
			*err = "Protocol error: expected '$'";
			return RESP_ERROR;
		}
		if (!line(b + off, n - off, &ll, &next))
			return n - off > RESP_MAX_INLINE ?
				       (*err = "Protocol error: too big bulk count string",
					RESP_ERROR) : RESP_MORE;
		bl = number(b + off + 1, ll - 1, 0, RESP_MAX_BULK);
		if (bl == -2) {
			*err = "Protocol error: invalid bulk length";
			return RESP_ERROR;
		}
		off += next;
		if (n - off < (size_t)bl + 2)
			return RESP_MORE;
		if (b[off + bl] != '\r' || b[off + bl + 1] != '\n') {
			*err = "Protocol error: bulk not ended by CRLF";
			return RESP_ERROR;
		}
		c->argv[i] = b + off;
		c->len[i] = (size_t)bl;
		off += (size_t)bl + 2;
	}
	c->argc = (int)argc;
	*used = off;
	return RESP_OK;
}

/* Words separated by spaces or tabs, on one line (no quoting). */
static enum resp_rc inline_cmd(struct resp_cmd *c, const char *b, size_t n,
			       size_t *used, const char **err)
{
	size_t ll, next, i = 0;

	if (!line(b, n, &ll, &next)) {
		if (n > RESP_MAX_INLINE) {
			*err = "Protocol error: too big inline request";
			return RESP_ERROR;
		}
		return RESP_MORE;
	}
	c->argc = 0;
	while (i < ll) {
		size_t s;

		while (i < ll && (b[i] == ' ' || b[i] == '\t'))
			i++;
		if (i == ll)
			break;
		for (s = i; i < ll && b[i] != ' ' && b[i] != '\t'; i++)
			;
		if (reserve(c, c->argc + 1) < 0) {
			*err = "Protocol error: out of memory";
			return RESP_ERROR;
		}
		c->argv[c->argc] = b + s;
		c->len[c->argc++] = i - s;
	}
	*used = next;
	return RESP_OK;
}

enum resp_rc resp_parse(struct resp_cmd *cmd, const char *buf, size_t n,
			size_t *used, const char **err)
{
	if (n == 0)
		return RESP_MORE;
	if (buf[0] == '*')
		return multibulk(cmd, buf, n, used, err);
	return inline_cmd(cmd, buf, n, used, err);
}

void resp_cmd_free(struct resp_cmd *cmd)
{
	free(cmd->argv);
	free(cmd->len);
	cmd->argv = NULL;
	cmd->len = NULL;
	cmd->cap = 0;
}
