/*
 * token.h - the bearer token of the control API's TCP listener
 * (docs/control-api.md, "Where it listens"): STATE/token, 32 random
 * bytes from getrandom(2) as 64 lower-case hex digits and a newline, mode
 * 0600, published whole (link(2)) so that two nodes starting at once
 * agree on one; compared in constant time.
 */
#ifndef LM_TOKEN_H
#define LM_TOKEN_H

#define LM_TOKEN_HEX 64

/* STATE/token into tok (LM_TOKEN_HEX + 1 bytes, NUL-terminated), made on
 * first use. A token file group or others may read, or that is not 64
 * hex digits, is LM_EINVAL naming it (as ssh with its keys). */
int lm_token_load(const char *state_dir, char *tok);

/* Whether `header`, an Authorization header's value (NULL when there is
 * none), is "Bearer <tok>" (the scheme in any case), compared in time
 * independent of where they differ. */
int lm_token_authorizes(const char *tok, const char *header);

#endif
