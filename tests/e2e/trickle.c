/*
 * trickle.c - slow clients of the node's control API, for test_busy.sh
 * and test_control.sh (the gate of agent/node/gate.c).
 *
 *   trickle -u SOCKET | -t 127.0.0.1:PORT  -n N  -d DIR  [-f] [-b [-l LEN]]
 *           [-i MS]
 *
 * Opens N connections one after the other, each once the one before is
 * ready. A connection in head mode (the default) sends the start of a
 * request head and then one more header byte every MS milliseconds
 * (200), never ending the head: it is ready once its first byte is sent.
 * In body mode (-b) it sends a whole head announcing a body, with
 * "Expect: 100-continue" (of LEN bytes, 1000 unless -l says), and then
 * nothing: it is ready once the node answers, "100 Continue" when the
 * request is being served (so the node holds it), or its refusal. With -f each connection is its own process
 * (a peer of its own on the unix socket); else all are this one's.
 *
 * What happens is written to DIR, for the test to wait on: DIR/ready once
 * all N are ready; DIR/events, a line per connection and event, "closed
 * I" when the node closed connection I (0-based) and "answer I
 * STATUS-LINE" when it answered; DIR/answer.I the whole answer. Every
 * connection ends when DIR/stop appears, or after 120 s (a hang guard).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#define GUARD_MS 120000
#define MAX_CONNS 64

static const char *dir, *unix_path, *tcp_spec;
static int interval_ms = 200, body_mode, nconns = 1, forked;
static long body_len = 1000;
static int64_t start_ms;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what)
{
	fprintf(stderr, "trickle: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void event(const char *fmt, int i, const char *text)
{
	char path[4096], line[512];
	int fd, len;

	snprintf(path, sizeof(path), "%s/events", dir);
	len = snprintf(line, sizeof(line), fmt, i, text);
	/* one write with O_APPEND: lines of several processes never mix */
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644)) < 0 ||
	    write(fd, line, (size_t)len) != len)
		die(path);
	close(fd);
}

static int stopped(void)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/stop", dir);
	return access(path, F_OK) == 0 || now_ms() - start_ms > GUARD_MS;
}

static int dial(void)
{
	int fd;

	if (unix_path) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		snprintf(a.sun_path, sizeof(a.sun_path), "%s", unix_path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
			die("socket");
		while (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			if (errno != EINTR)
				die(unix_path);
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET };
		const char *colon = strrchr(tcp_spec, ':');
		char host[64];

		if (!colon || (size_t)(colon - tcp_spec) >= sizeof(host))
			die("-t HOST:PORT");
		memcpy(host, tcp_spec, (size_t)(colon - tcp_spec));
		host[colon - tcp_spec] = '\0';
		a.sin_port = htons((unsigned short)atoi(colon + 1));
		if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
			die("-t: not an IPv4 address");
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
			die("socket");
		while (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			if (errno != EINTR)
				die(tcp_spec);
	}
	return fd;
}

static void put(int fd, const char *s)
{
	size_t len = strlen(s);

	/* a node that closed first is an event the reader sees, not ours */
	if (send(fd, s, len, MSG_NOSIGNAL) < 0 && errno != EPIPE &&
	    errno != ECONNRESET)
		die("send");
}

/* One connection's state. */
struct conn {
	int fd, i, ready, done;
	char answer[4096];
	size_t len;
};

/* Reads what the node sent on c; records the answer or the close. */
static void take(struct conn *c)
{
	char path[4096], line[256];
	ssize_t n = recv(c->fd, c->answer + c->len,
			 sizeof(c->answer) - 1 - c->len, MSG_DONTWAIT);
	FILE *f;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		c->len += (size_t)n;
		c->answer[c->len] = '\0';
		if (!strstr(c->answer, "\r\n\r\n"))
			return;
		if (strncmp(c->answer, "HTTP/1.1 100", 12) == 0) {
			/* served: the node holds it, waiting for the body */
			c->ready = 1;
			c->len = 0;
			return;
		}
		snprintf(line, sizeof(line), "%.*s",
			 (int)strcspn(c->answer, "\r"), c->answer);
		event("answer %d %s\n", c->i, line);
		snprintf(path, sizeof(path), "%s/answer.%d", dir, c->i);
		if ((f = fopen(path, "w"))) {
			fputs(c->answer, f);
			fclose(f);
		}
		c->ready = 1;
		c->len = 0;
		return;
	}
	/* the end (0) or a reset: the node closed it */
	event("closed %d%s\n", c->i, "");
	c->ready = c->done = 1;
}

static void start(struct conn *c, int i)
{
	char head[256];

	c->fd = dial();
	c->i = i;
	if (body_mode) {
		snprintf(head, sizeof(head), "POST /update-modules HTTP/1.1\r\n"
			 "Host: localhost\r\nContent-Type: application/json\r\n"
			 "Content-Length: %ld\r\nExpect: 100-continue\r\n\r\n",
			 body_len);
		put(c->fd, head);
	} else {
		put(c->fd, "G");
		c->ready = 1;
	}
}

/* The next byte of a head that never ends: a request line, a header,
 * then the header's value for ever. */
static void dribble(struct conn *c, size_t *sent)
{
	static const char prefix[] =
		"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
	char b[2] = { *sent < sizeof(prefix) - 1 ? prefix[*sent] : 'a', 0 };

	put(c->fd, b);
	(*sent)++;
}

/* Runs connections [first, first + n) of this process until each is
 * closed or the stop; `ready` gets a byte as each becomes ready (-f). */
static void run(int first, int n, int ready_fd)
{
	struct conn cs[MAX_CONNS] = { { 0 } };
	struct pollfd pf[MAX_CONNS];
	size_t sent[MAX_CONNS] = { 0 };
	int k, open = 0, announced = 0;
	int64_t next = now_ms() + interval_ms;

	while (!stopped()) {
		/* the next connection once the ones before are ready */
		if (open < n && (open == 0 || cs[open - 1].ready)) {
			start(&cs[open], first + open);
			sent[open] = 1;
			open++;
		}
		if (open == n && !announced) {
			int all = 1;

			for (k = 0; k < n; k++)
				all &= cs[k].ready;
			if (all) {
				announced = 1;
				if (ready_fd >= 0 && write(ready_fd, "r", 1) != 1)
					die("ready pipe");
			}
		}
		for (k = 0; k < open; k++)
			pf[k] = (struct pollfd){ .fd = cs[k].done ? -1 : cs[k].fd,
						 .events = POLLIN };
		poll(pf, (nfds_t)open, 20);
		for (k = 0; k < open; k++)
			if (!cs[k].done && (pf[k].revents & (POLLIN | POLLHUP |
							     POLLERR)))
				take(&cs[k]);
		if (now_ms() >= next) {
			for (k = 0; k < open; k++)
				if (!cs[k].done && !body_mode)
					dribble(&cs[k], &sent[k]);
			next = now_ms() + interval_ms;
		}
	}
	for (k = 0; k < open; k++)
		close(cs[k].fd);
}

int main(int argc, char **argv)
{
	char path[4096];
	int opt, k, pipefd[2], fd;
	char b;

	while ((opt = getopt(argc, argv, "u:t:n:d:fbl:i:")) != -1) {
		switch (opt) {
		case 'u': unix_path = optarg; break;
		case 't': tcp_spec = optarg; break;
		case 'n': nconns = atoi(optarg); break;
		case 'd': dir = optarg; break;
		case 'f': forked = 1; break;
		case 'b': body_mode = 1; break;
		case 'l': body_len = atol(optarg); break;
		case 'i': interval_ms = atoi(optarg); break;
		default: return 2;
		}
	}
	if (!dir || (!unix_path == !tcp_spec) || nconns < 1 ||
	    nconns > MAX_CONNS || interval_ms < 1 || body_len < 0) {
		fprintf(stderr, "usage: trickle -u SOCKET|-t HOST:PORT -n N "
			"-d DIR [-f] [-b [-l LEN]] [-i MS]\n");
		return 2;
	}
	start_ms = now_ms();
	if (!forked) {
		if (pipe(pipefd) < 0)
			die("pipe");
		if (fork() == 0) {
			close(pipefd[0]);
			run(0, nconns, pipefd[1]);
			_exit(0);
		}
		close(pipefd[1]);
		k = (int)read(pipefd[0], &b, 1) == 1 ? nconns : 0;
	} else {
		if (pipe(pipefd) < 0)
			die("pipe");
		for (k = 0; k < nconns; k++) {
			if (fork() == 0) {
				close(pipefd[0]);
				run(k, 1, pipefd[1]);
				_exit(0);
			}
			/* the next one once this one is ready */
			if (read(pipefd[0], &b, 1) != 1)
				break;
		}
		close(pipefd[1]);
	}
	if (k == nconns) {
		snprintf(path, sizeof(path), "%s/ready", dir);
		if ((fd = open(path, O_WRONLY | O_CREAT, 0644)) < 0)
			die(path);
		close(fd);
	}
	while (wait(NULL) > 0)
		;
	return 0;
}
