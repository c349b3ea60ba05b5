/*
 * fuzz_reply.c - libFuzzer target: the CLI's HTTP reply parser
 * (lib/httpreply.c) on arbitrary bytes, as a node, or whatever listens on
 * agent.sock or the TCP port in its place, may send them.
 *
 * Input: one byte of options, then the reply's bytes. Bit 0 of the
 * options: the request was HEAD; the rest: the size of the pieces the
 * reply is fed in (1 to 128 bytes), as reads may cut it anywhere.
 *
 * Checked beyond the sanitizers: a refusal is a clean LM_E* with a
 * message; the reply fed whole and fed in pieces ends the same way (the
 * same code, status and body); a complete reply has a NUL-terminated body
 * within the limit and a status from 100 to 599 that is not interim.
 */
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "httpreply.h"

/* Small, so that inputs reach the limit. */
#define BODY_MAX 2048

/* Feeds data[0..size) in pieces of `piece` bytes, then the end of the
 * connection when the reply wants more. 0 complete, or the error. */
static int run(lm_http_reply *r, const uint8_t *data, size_t size,
	       bool head, size_t piece)
{
	size_t at = 0, n;
	int rc = 0;

	lm_http_reply_init(r, head, BODY_MAX);
	while (rc == 0 && at < size) {
		n = size - at < piece ? size - at : piece;
		rc = FUZZ_MAY_FAIL(lm_http_reply_feed(r, data + at, n));
		at += n;
	}
	if (rc == 0)
		rc = FUZZ_MAY_FAIL(lm_http_reply_eof(r));
	return rc > 0 ? 0 : rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lm_http_reply whole, cut;
	bool head;
	size_t piece;
	int a, b;

	if (size < 1)
		return 0;
	head = data[0] & 1;
	piece = (size_t)(data[0] >> 1) + 1;
	a = run(&whole, data + 1, size - 1, head, size);
	b = run(&cut, data + 1, size - 1, head, piece);
	if (a != b)
		fuzz_fail("fed whole: %d, fed in pieces of %zu: %d", a, piece,
			  b);
	if (a == 0) {
		if (whole.status < 200 || whole.status > 599)
			fuzz_fail("a complete reply with status %d",
				  whole.status);
		if (!whole.body || whole.len > BODY_MAX ||
		    whole.body[whole.len] != '\0')
			fuzz_fail("a complete reply's body is not a string "
				  "within the limit (%zu bytes)", whole.len);
		if (whole.status != cut.status || whole.len != cut.len ||
		    memcmp(whole.body, cut.body, whole.len) != 0)
			fuzz_fail("fed whole and in pieces of %zu, the replies "
				  "differ", piece);
	}
	lm_http_reply_clear(&whole);
	lm_http_reply_clear(&cut);
	return 0;
}
