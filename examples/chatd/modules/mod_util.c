/*
 * mod_util 1.0.0 - helpers the other chatd modules use (through the host:
 * see chatd_api.h). No state. v1 replaces every control character with
 * '?', so a message can never break the one-line-per-message protocol.
 */
#include <stddef.h>

#include "chatd_api.h"

LM_MODULE(mod_util, "1.0.0", .purge = LM_SOFT_PURGE);

LM_PROVIDE(CHATD_ESCAPE);
static int escape(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	if (cap == 0)
		return 0;
	for (; *in && n + 1 < cap; in++) {
		unsigned char c = (unsigned char)*in;

		out[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[n] = '\0';
	return (int)n;
}
