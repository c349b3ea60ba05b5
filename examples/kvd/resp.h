/*
 * resp.h - reading client commands: RESP2 arrays of bulk strings (what
 * redis-cli and redis-benchmark send) and inline commands (words on a
 * line, what a person types into nc or telnet).
 *
 * Bad input never crashes and never reads past what arrived: it is a
 * protocol error with Redis's message, which kvd answers before it
 * closes the connection (as Redis does).
 */
#ifndef KVD_RESP_H
#define KVD_RESP_H

#include <stddef.h>

#define RESP_MAX_ARGS (1024 * 1024)      /* arguments in one command */
#define RESP_MAX_BULK (64 * 1024 * 1024) /* bytes in one argument */
#define RESP_MAX_INLINE (64 * 1024)      /* bytes in an inline line */

/* One parsed command. argv[i] points into the input buffer (argv[i] is
 * not NUL-terminated: len[i] bytes); valid until the buffer changes. */
struct resp_cmd {
	int argc;
	const char **argv;
	size_t *len;
	int cap; /* of argv and len: grown as needed */
};

enum resp_rc {
	RESP_ERROR = -1, /* bad input: *err is the message for the client */
	RESP_MORE = 0,   /* an incomplete command: read more */
	RESP_OK = 1      /* a command in cmd; *used bytes consumed */
};

/* Parses one command at the start of buf[0..n). RESP_OK may leave
 * cmd->argc 0 (an empty line, "*0"): skip it. */
enum resp_rc resp_parse(struct resp_cmd *cmd, const char *buf, size_t n,
			size_t *used, const char **err);

void resp_cmd_free(struct resp_cmd *cmd);

#endif
