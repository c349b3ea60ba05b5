/*
 * fuzz_resp.c - libFuzzer target: kvd's request parser
 * (examples/kvd/resp.c) on arbitrary bytes, as any client may send them.
 *
 * Input: one byte, the size of the pieces the bytes arrive in (1 to
 * 256), then the bytes. They are parsed as kvd's loop parses them: every
 * complete command in what arrived, then more bytes.
 *
 * Checked beyond the sanitizers (which catch any read past what arrived:
 * the buffer is exactly as large as the bytes): each command's arguments
 * lie within the bytes it consumed; an error has a message; fed whole and
 * fed in pieces, the same commands come out and the parse ends the same
 * way (an error, or the same bytes left over).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "resp.h"

/* What a run saw: a hash of every command's arguments in order, how many
 * commands, and how it ended. */
struct seen {
	uint64_t hash;
	size_t ncmd, left;
	int error;
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

/* Parses every complete command in buf[0..n): 1 on a protocol error,
 * else 0 with *used what the commands took. */
static int drain(struct resp_cmd *c, const char *buf, size_t n, size_t *used,
		 struct seen *s)
{
	size_t off = 0, u;
	const char *err;

	*used = 0;
	for (;;) {
		enum resp_rc rc = resp_parse(c, buf + off, n - off, &u, &err);

		if (rc == RESP_MORE)
			break;
		if (rc == RESP_ERROR) {
			if (!err || !*err)
				fuzz_fail("a protocol error without a message");
			return 1;
		}
		if (u == 0 || u > n - off)
			fuzz_fail("consumed %zu of %zu bytes", u, n - off);
		for (int i = 0; i < c->argc; i++) {
			if (c->argv[i] < buf + off ||
			    c->argv[i] + c->len[i] > buf + off + u)
				fuzz_fail("argument %d outside its command", i);
			s->hash = mix(s->hash, &c->len[i], sizeof(c->len[i]));
			s->hash = mix(s->hash, c->argv[i], c->len[i]);
		}
		s->ncmd += c->argc > 0;
		off += u;
	}
	*used = off;
	return 0;
}

/* Feeds data in pieces of `piece` bytes into a buffer that holds exactly
 * what arrived and not yet consumed (a copy each time: an overread is
 * caught). */
static void run(const uint8_t *data, size_t size, size_t piece,
		struct seen *s)
{
	struct resp_cmd c = { 0 };
	char *pending = NULL;
	size_t npend = 0, at = 0;

	memset(s, 0, sizeof(*s));
	while (at < size && !s->error) {
		size_t n = size - at < piece ? size - at : piece, used;
		char *buf = malloc(npend + n ? npend + n : 1);

		if (!buf)
			fuzz_fail("out of memory");
		if (npend)
			memcpy(buf, pending, npend);
		memcpy(buf + npend, data + at, n);
		at += n;
		npend += n;
		free(pending);
		s->error = drain(&c, buf, npend, &used, s);
		memmove(buf, buf + used, npend - used);
		npend -= used;
		pending = buf;
	}
	s->left = s->error ? 0 : npend;
	free(pending);
	resp_cmd_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen whole, cut;
	size_t piece;

	if (size < 1)
		return 0;
	piece = (size_t)data[0] + 1;
	run(data + 1, size - 1, size, &whole);
	run(data + 1, size - 1, piece, &cut);
	/* Pieces may end the parse earlier, at an error the whole input
	 * reaches too; up to it, the same commands. */
	if (whole.error != cut.error)
		fuzz_fail("whole: error %d, in pieces of %zu: error %d",
			  whole.error, piece, cut.error);
	if (whole.hash != cut.hash || whole.ncmd != cut.ncmd ||
	    whole.left != cut.left)
		fuzz_fail("whole: %zu commands, %zu left; in pieces of %zu: "
			  "%zu commands, %zu left", whole.ncmd, whole.left,
			  piece, cut.ncmd, cut.left);
	return 0;
}
