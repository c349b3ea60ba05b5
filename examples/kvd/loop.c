/*
 * loop.c - kvd's event loop (loop.h): accepts, reads, parses (resp.c),
 * runs (kvd_execute) and writes back, level-triggered, on one thread.
 *
 * A read parses every complete command in the buffer before anything is
 * written: a pipelined batch is answered with one write. What cannot be
 * written at once waits for EPOLLOUT, and the connection is not read
 * meanwhile, so a client that stops reading holds only its own replies.
 * A protocol error is answered, then the connection closes (as Redis):
 * kvd's side is shut down once the answer is written and the rest of
 * what the client sends is read and dropped until it closes too, since a
 * close with unread input would reset the connection and could take the
 * answer with it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define LM_AGENT_QSBR /* before the livemod headers: the loop's read side */
#include <livemod/agent.h>

#include "loop.h"
#include "resp.h"

#define READ_CHUNK (64 * 1024)
#define OUT_LIMIT (256u * 1024 * 1024) /* a client's unread replies */

struct kvd_stats kvd_stats;

struct buf {
	char *p;
	size_t len, cap, off; /* off: what was written (out) */
};

typedef struct conn {
	struct conn *prev, *next; /* every connection, closed at the end */
	int fd;
	lm_task task;
	struct buf in, out;
	struct resp_cmd cmd;
	int closing; /* answered its last command: close once written */
	int draining; /* closing and written: input dropped until EOF */
	int oom;     /* its output could not grow */
} conn;

static int ep = -1;
static conn *conns;

static int reserve(struct buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	if (!(p = realloc(b->p, cap)))
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* ---- the services modules write their replies through ------------------ */

static void svc_write(lm_task *t, const void *p, size_t n)
{
	conn *c = t->host;

	if (c->oom || c->out.len + n > OUT_LIMIT || reserve(&c->out, n) < 0) {
		c->oom = 1; /* the connection closes; nothing more to say */
		return;
	}
	memcpy(c->out.p + c->out.len, p, n);
	c->out.len += n;
}

static void svc_error(lm_task *t, const char *msg)
{
	kvd_stats.errors++;
	svc_write(t, "-", 1);
	svc_write(t, msg, strlen(msg));
	svc_write(t, "\r\n", 2);
}

struct kvd_api kvd_services = { .write = svc_write, .error = svc_error };

/* ---- connections ---------------------------------------------------------- */

static void conn_close(conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in.p);
	free(c->out.p);
	resp_cmd_free(&c->cmd);
	free(c);
	kvd_stats.clients--;
}

static void conn_accept(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC),
		    one = 1;
		struct epoll_event ev = { .events = EPOLLIN };
		conn *c;

		if (fd < 0) /* EAGAIN: all taken; EMFILE and the like: later */
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (!(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->task.api = &kvd_services;
		c->task.host = c;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		if ((c->next = conns))
			conns->prev = c;
		conns = c;
		kvd_stats.clients++;
		kvd_stats.connections++;
	}
}

/* Runs every complete command in c->in. */
static void conn_run(conn *c)
{
	size_t off = 0, used;
	const char *err;

	while (!c->closing && !c->oom && off < c->in.len) {
		enum resp_rc rc = resp_parse(&c->cmd, c->in.p + off,
					     c->in.len - off, &used, &err);

		if (rc == RESP_MORE)
			break;
		if (rc == RESP_ERROR) {
			char msg[128];

			snprintf(msg, sizeof(msg), "ERR %s", err);
			svc_error(&c->task, msg);
			c->closing = 1;
			break;
		}
		off += used;
		if (c->cmd.argc == 0)
			continue;
		kvd_stats.commands++;
		if (kvd_execute(&c->task, c->cmd.argc, c->cmd.argv,
				c->cmd.len) == KVD_CLOSE)
			c->closing = 1;
	}
	memmove(c->in.p, c->in.p + off, c->in.len - off);
	c->in.len -= off;
}

/* Writes what it can; -1 when the connection is to close now. */
static int conn_flush(conn *c)
{
	struct epoll_event ev = { .data.ptr = c };

	while (c->out.off < c->out.len) {
		ssize_t w = send(c->fd, c->out.p + c->out.off,
				 c->out.len - c->out.off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0)
			return -1;
		c->out.off += (size_t)w;
	}
	if (c->out.off == c->out.len) {
		c->out.off = c->out.len = 0;
		if (c->oom)
			return -1;
		if (c->closing && !c->draining) {
			shutdown(c->fd, SHUT_WR);
			c->draining = 1;
		}
	}
	/* Wait to write, or read again: one or the other. */
	ev.events = c->out.len ? EPOLLOUT : EPOLLIN;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	return 0;
}

static void conn_event(conn *c, uint32_t events)
{
	if (events & EPOLLIN) {
		ssize_t r;

		if (reserve(&c->in, READ_CHUNK) < 0) {
			conn_close(c);
			return;
		}
		r = recv(c->fd, c->in.p + c->in.len, READ_CHUNK, 0);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(c);
			return;
		}
		if (r > 0 && !c->draining) {
			c->in.len += (size_t)r;
			conn_run(c);
		}
	} else if (events & (EPOLLERR | EPOLLHUP)) {
		conn_close(c);
		return;
	}
	if (conn_flush(c) < 0)
		conn_close(c);
}

/* ---- the loop ------------------------------------------------------------- */

int kvd_loop(int listen_fd, const void *stop)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[256];
	struct signalfd_siginfo si;
	int sfd = signalfd(-1, stop, SFD_NONBLOCK | SFD_CLOEXEC), sig = -1;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || ep < 0)
		return -1;
	ev.data.ptr = &listen_fd; /* tells the listener apart */
	epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
	ev.data.ptr = &sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	lm_thread_register(); /* a QSBR reader: LM_AGENT_QSBR above */
	while (sig < 0) {
		int n;

		/* A grace period must not wait for a thread asleep here. */
		lm_thread_offline();
		n = epoll_wait(ep, evs, 256, -1);
		lm_thread_online();
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &listen_fd)
				conn_accept(listen_fd);
			else if (p == &sfd && read(sfd, &si, sizeof(si)) ==
						      (ssize_t)sizeof(si))
				sig = (int)si.ssi_signo;
			else if (p != &sfd)
				conn_event(p, evs[i].events);
		}
		/* Nothing a module returned is held past here. */
		lm_quiescent();
	}
	while (conns)
		conn_close(conns);
	lm_thread_unregister();
	close(sfd);
	close(ep);
	return sig;
}
