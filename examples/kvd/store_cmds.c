/*
 * store_cmds.c - the keyspace commands (store_cmds.h), as Redis answers
 * them: GET, SET, DEL, INCR, MGET, MSET, EXISTS, DBSIZE, APPEND, STRLEN.
 * Values are bytes; INCR reads them as a signed 64-bit decimal.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "kvd_state.h"
#include "store_cmds.h"

#define OOM "OOM command not allowed: out of memory"

void cmd_get(lm_task *t, struct store_ctx *c, int argc,
	     const char *const *argv, const size_t *len)
{
	struct dict_val *v = dict_get(c->keys, argv[1], len[1]);

	(void)argc;
	if (c->hits)
		(*(v ? c->hits : c->misses))++;
	if (v)
		kvd_reply_bulk(t, v->data, v->len);
	else
		kvd_reply_nil(t);
}

void cmd_set(lm_task *t, struct store_ctx *c, int argc,
	     const char *const *argv, const size_t *len)
{
	if (argc != 3) /* no EX, PX, NX, XX: kvd keeps no expiry */
		kvd_reply_error(t, "ERR syntax error");
	else if (dict_set(c->keys, argv[1], len[1], argv[2], len[2]) < 0)
		kvd_reply_error(t, OOM);
	else
		kvd_reply_raw(t, "+OK\r\n");
}

void cmd_mset(lm_task *t, struct store_ctx *c, int argc,
	      const char *const *argv, const size_t *len)
{
	if (argc % 2 == 0) {
		kvd_reply_arity(t, "mset");
		return;
	}
	for (int i = 1; i < argc; i += 2)
		if (dict_set(c->keys, argv[i], len[i], argv[i + 1],
			     len[i + 1]) < 0) {
			kvd_reply_error(t, OOM);
			return;
		}
	kvd_reply_raw(t, "+OK\r\n");
}

void cmd_del(lm_task *t, struct store_ctx *c, int argc,
	     const char *const *argv, const size_t *len)
{
	long long n = 0;

	for (int i = 1; i < argc; i++)
		n += dict_del(c->keys, argv[i], len[i]);
	kvd_reply_num(t, ':', n);
}

void cmd_exists(lm_task *t, struct store_ctx *c, int argc,
		const char *const *argv, const size_t *len)
{
	long long n = 0;

	for (int i = 1; i < argc; i++)
		n += dict_get(c->keys, argv[i], len[i]) != NULL;
	kvd_reply_num(t, ':', n);
}

void cmd_dbsize(lm_task *t, struct store_ctx *c, int argc,
		const char *const *argv, const size_t *len)
{
	(void)argc, (void)argv, (void)len;
	kvd_reply_num(t, ':', (long long)dict_size(c->keys));
}

/* The value as a signed 64-bit decimal, exactly (no spaces, no sign
 * alone), as Redis's string2ll; 0 when it is one. */
static int as_int64(const struct dict_val *v, int64_t *out)
{
	char b[24], *end;

	if (v->len == 0 || v->len >= sizeof(b))
		return -1;
	memcpy(b, v->data, v->len);
	b[v->len] = '\0';
	if (!(b[0] == '-' || (b[0] >= '0' && b[0] <= '9')))
		return -1;
	errno = 0;
	*out = strtoll(b, &end, 10);
	return *end || errno ? -1 : 0;
}

void cmd_incr(lm_task *t, struct store_ctx *c, int argc,
	      const char *const *argv, const size_t *len)
{
	struct dict_val *v = dict_get(c->keys, argv[1], len[1]);
	int64_t n = 0;
	char b[24];

	(void)argc;
	if (v && as_int64(v, &n) < 0) {
		kvd_reply_error(t, "ERR value is not an integer or out of range");
		return;
	}
	if (n == INT64_MAX) {
		kvd_reply_error(t, "ERR increment or decrement would overflow");
		return;
	}
	n++;
	snprintf(b, sizeof(b), "%" PRId64, n);
	if (dict_set(c->keys, argv[1], len[1], b, strlen(b)) < 0)
		kvd_reply_error(t, OOM);
	else
		kvd_reply_num(t, ':', n);
}

void cmd_mget(lm_task *t, struct store_ctx *c, int argc,
	      const char *const *argv, const size_t *len)
{
	kvd_reply_num(t, '*', argc - 1);
	for (int i = 1; i < argc; i++)
		cmd_get(t, c, 2, argv + i - 1, len + i - 1);
}

void cmd_append(lm_task *t, struct store_ctx *c, int argc,
		const char *const *argv, const size_t *len)
{
	long long n = dict_append(c->keys, argv[1], len[1], argv[2], len[2]);

	(void)argc;
	if (n < 0)
		kvd_reply_error(t, OOM);
	else
		kvd_reply_num(t, ':', n);
}

void cmd_strlen(lm_task *t, struct store_ctx *c, int argc,
		const char *const *argv, const size_t *len)
{
	struct dict_val *v = dict_get(c->keys, argv[1], len[1]);

	(void)argc;
	kvd_reply_num(t, ':', v ? (long long)v->len : 0);
}

int store_exec(lm_task *t, const struct store_cmd *tab, size_t n,
	       struct store_ctx *c, int argc, const char *const *argv,
	       const size_t *len)
{
	char msg[128];

	for (size_t i = 0; i < n; i++) {
		const struct store_cmd *k = &tab[i];

		if (!kvd_arg_is(argv[0], len[0], k->name))
			continue;
		if (k->arity >= 0 ? argc != k->arity : argc < -k->arity)
			kvd_reply_arity(t, k->name);
		else
			k->fn(t, c, argc, argv, len);
		return 0;
	}
	snprintf(msg, sizeof(msg), "ERR unknown command '%.*s'",
		 (int)(len[0] > 64 ? 64 : len[0]), argv[0]);
	kvd_reply_error(t, msg);
	return 0;
}
