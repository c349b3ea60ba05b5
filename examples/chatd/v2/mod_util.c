/*
 * mod_util 1.1.0 - helpers the other chatd modules use. No state.
 * v2 spells control characters as \xHH (and a backslash as \\) instead of
 * replacing them with '?': nothing a client sent is lost from view.
 * The export keeps its signature text, so the host's refs survive.
 */
#include <stddef.h>

#include "chatd_api.h"

LM_MODULE(mod_util, "1.1.0", .purge = LM_SOFT_PURGE);

LM_PROVIDE(CHATD_ESCAPE);
static int escape(const char *in, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (cap == 0)
		return 0;
	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;

		if (c < 0x20 || c == 0x7f) {
			if (n + 5 > cap)
				break;
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		} else if (c == '\\') {
			if (n + 3 > cap)
				break;
			out[n++] = '\\';
			out[n++] = '\\';
		} else {
			if (n + 2 > cap)
				break;
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	return (int)n;
}
