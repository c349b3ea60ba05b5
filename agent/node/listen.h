/*
 * listen.h - the control API's listening sockets and the names of the
 * peers that connect to them (listen.c).
 */
#ifndef LM_LISTEN_H
#define LM_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

/* Listens on STATE_DIR/agent.sock, created mode 0600. A socket a dead
 * node left there is replaced; one a live node answers on is LM_EBUSY
 * and left alone; a file there that is not a socket is LM_EINVAL. */
int lm_listen_unix(const char *state_dir, int *out);

/* Listens on "HOST:PORT" ("[::1]:PORT"; PORT 0 for any free one), HOST a
 * loopback address unless `spec` starts with '!' (then with a WARNING on
 * stderr). *port and *bound say where it listens. LM_EINVAL naming `spec`
 * when malformed. */
int lm_listen_tcp(const char *spec, int *out, int *port,
		  struct sockaddr_storage *bound);

/* The peer of connected socket `fd`, as a name the gate counts by and
 * logs: "pid 4242" on a unix socket (SO_PEERCRED), the numeric address
 * on TCP ("127.0.0.1", "::1"). */
void lm_listen_peer(int fd, char *buf, size_t len);

#endif
