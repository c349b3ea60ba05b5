/*
 * loadgen - load for chatd: N connections in R rooms, each sending lines
 * and verifying every line it should receive.
 *
 *   loadgen --connect 127.0.0.1:PORT [--conns N] [--rooms R] [--rate X]
 *           [--count M] [--duration S] [--drain S] [--prefix P] [--quiet]
 *
 * Connection i joins room P-r(i mod R) as nick P-c(i). Once every
 * connection has joined, "ready" is printed and each sends messages
 *   "lgm:<sender>:<seq>:<monotonic ns>"
 * at X per second (0: as fast as it can, at most 4 of its own unanswered).
 * Every member of the room, the sender too, must receive every message of
 * every other member exactly once, in each sender's order, whatever the
 * server's formatting around it (it changes across module versions).
 * Sending stops after M messages per connection, after S seconds, or on
 * SIGINT/SIGTERM/SIGUSR1; then it waits up to --drain seconds for what is
 * still on its way.
 *
 * Prints per room "room NAME sent N" and one summary line:
 *   loadgen: conns N rooms R sent S received V expected E lost L errors X
 *            disconnects D latency_us p50 A p99 B max C elapsed_s T rate Q/s
 * (latency: a sender's own message, from send to its return). Exit status
 * 0 when nothing was lost, no error and no disconnect; 1 otherwise; 2 on
 * bad usage. Loopback addresses only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF 65536
#define WINDOW 4

typedef struct lconn {
	int fd;
	int room;
	int joined;
	int closed;
	long sent;        /* own messages sent */
	long own_back;    /* own messages received back */
	long received;    /* valid messages received (any sender) */
	long *last_seq;   /* per sender: last seq received from it */
	int64_t next_send;
	size_t rlen;
	char rbuf[RBUF];
	char last_line[160]; /* what it said last before closing */
} lconn;

static volatile sig_atomic_t stop_sending;
static int nconns = 10, nrooms = 2, quiet;
static double rate = 20;
static long count;
static double duration, drain_s = 10;
static const char *prefix = "lg";
static lconn *cs;
static long errors, disconnects;
static uint32_t *lat;
static size_t nlat, caplat;

static void on_signal(int sig)
{
	(void)sig;
	stop_sending = 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void add_latency(int64_t ns)
{
	if (nlat == caplat) {
		size_t nc = caplat ? caplat * 2 : 4096;
		uint32_t *n = realloc(lat, nc * sizeof(*n));

		if (!n)
			return;
		lat = n;
		caplat = nc;
	}
	lat[nlat++] = (uint32_t)(ns / 1000 > UINT32_MAX ? UINT32_MAX : ns / 1000);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int send_all(lconn *c, const char *s)
{
	size_t n = strlen(s), off = 0;

	while (off < n) {
		ssize_t w = send(c->fd, s + off, n - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

static void lost_conn(lconn *c, int i, const char *why)
{
	if (c->closed)
		return;
	c->closed = 1;
	disconnects++;
	if (!quiet)
		fprintf(stderr, "loadgen: connection %d closed (%s)%s%s\n", i,
			why, c->last_line[0] ? "; last line: " : "",
			c->last_line);
	close(c->fd);
	c->fd = -1;
}

static void on_line(lconn *c, int i, char *line)
{
	char *p = strstr(line, "lgm:");
	long s, q;
	long long t;

	snprintf(c->last_line, sizeof(c->last_line), "%.159s", line);
	if (!p) {
		if (strncmp(line, "ok join", 7) == 0)
			c->joined = 1;
		else if (strncmp(line, "error", 5) == 0) {
			errors++;
			if (!quiet)
				fprintf(stderr, "loadgen: connection %d: %s\n",
					i, line);
		}
		return; /* motd, ok nick, closing: ... */
	}
	if (sscanf(p, "lgm:%ld:%ld:%lld", &s, &q, &t) != 3 || s < 0 ||
	    s >= nconns || cs[s].room != c->room) {
		errors++;
		if (!quiet)
			fprintf(stderr, "loadgen: connection %d: unexpected "
				"line: %s\n", i, line);
		return;
	}
	if (q != c->last_seq[s] + 1) {
		/* a gap is counted as lost at the end; out of order or
		 * twice is an error now */
		if (q <= c->last_seq[s]) {
			errors++;
			if (!quiet)
				fprintf(stderr, "loadgen: connection %d: "
					"message %ld of %ld again or out of "
					"order\n", i, q, s);
			return;
		}
	}
	c->last_seq[s] = q;
	c->received++;
	if (s == i) {
		c->own_back++;
		add_latency(now_ns() - (int64_t)t);
	}
}

/* Reads what is there; splits lines. */
static void on_readable(lconn *c, int i)
{
	for (;;) {
		ssize_t r = recv(c->fd, c->rbuf + c->rlen, RBUF - c->rlen,
				 MSG_DONTWAIT);
		char *start, *nl;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			lost_conn(c, i, r == 0 ? "by the server" : strerror(errno));
			return;
		}
		c->rlen += (size_t)r;
		start = c->rbuf;
		while ((nl = memchr(start, '\n', c->rlen - (size_t)(start - c->rbuf)))) {
			*nl = '\0';
			if (nl > start && nl[-1] == '\r')
				nl[-1] = '\0';
			on_line(c, i, start);
			start = nl + 1;
		}
		c->rlen -= (size_t)(start - c->rbuf);
		memmove(c->rbuf, start, c->rlen);
		if (c->rlen == RBUF) { /* a line longer than the buffer */
			errors++;
			c->rlen = 0;
		}
	}
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	long port;
	char *end;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -1;
	/* loopback only: 127.0.0.0/8 */
	return (ntohl(sa->sin_addr.s_addr) >> 24) == 127 ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen --connect 127.0.0.1:PORT [--conns N] "
			"[--rooms R] [--rate X] [--count M] [--duration S] "
			"[--drain S] [--prefix P] [--quiet]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	const char *addr = NULL;
	struct pollfd *pfd;
	long *room_sent, *members, sent = 0, received = 0, expected = 0;
	int64_t t0, stop_at = 0, drain_until = 0, start_ns;
	int i, ready = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--quiet") == 0) {
			quiet = 1;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (strcmp(a, "--connect") == 0)
			addr = v;
		else if (strcmp(a, "--conns") == 0)
			nconns = atoi(v);
		else if (strcmp(a, "--rooms") == 0)
			nrooms = atoi(v);
		else if (strcmp(a, "--rate") == 0)
			rate = atof(v);
		else if (strcmp(a, "--count") == 0)
			count = atol(v);
		else if (strcmp(a, "--duration") == 0)
			duration = atof(v);
		else if (strcmp(a, "--drain") == 0)
			drain_s = atof(v);
		else if (strcmp(a, "--prefix") == 0)
			prefix = v;
		else
			usage();
	}
	if (!addr || nconns < 1 || nconns > 4096 || nrooms < 1 ||
	    nrooms > nconns || rate < 0 || count < 0 || duration < 0)
		usage();
	if (parse_addr(addr, &sa) < 0) {
		fprintf(stderr, "loadgen: --connect %s: want 127.x.y.z:PORT "
			"(loopback only)\n", addr);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGUSR1, on_signal);
	signal(SIGPIPE, SIG_IGN);
	cs = calloc((size_t)nconns, sizeof(*cs));
	pfd = calloc((size_t)nconns, sizeof(*pfd));
	room_sent = calloc((size_t)nrooms, sizeof(*room_sent));
	members = calloc((size_t)nrooms, sizeof(*members));
	if (!cs || !pfd || !room_sent || !members)
		return 1;
	for (i = 0; i < nconns; i++)
		members[i % nrooms]++;
	t0 = now_ns();
	for (i = 0; i < nconns; i++) {
		lconn *c = &cs[i];
		char hello[128];
		int one = 1;

		c->room = i % nrooms;
		c->last_seq = calloc((size_t)nconns, sizeof(long));
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (!c->last_seq || c->fd < 0 ||
		    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			fprintf(stderr, "loadgen: connect %s: %s\n", addr,
				strerror(errno));
			return 1;
		}
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		snprintf(hello, sizeof(hello), "/nick %s-c%d\n/join %s-r%d\n",
			 prefix, i, prefix, c->room);
		if (send_all(c, hello) < 0) {
			fprintf(stderr, "loadgen: send: %s\n", strerror(errno));
			return 1;
		}
	}
	start_ns = 0;
	for (;;) {
		int64_t now = now_ns(), wake = now + 100000000; /* 100 ms */
		int open = 0, all_joined = 1, timeout_ms;

		if (!ready) {
			for (i = 0; i < nconns; i++)
				if (!cs[i].joined && !cs[i].closed)
					all_joined = 0;
			if (all_joined) {
				ready = 1;
				start_ns = now;
				if (duration > 0)
					stop_at = now + (int64_t)(duration * 1e9);
				printf("ready\n");
				fflush(stdout);
				for (i = 0; i < nconns; i++)
					cs[i].next_send = now;
			} else if (now - t0 > 30000000000LL) {
				fprintf(stderr, "loadgen: not every connection "
					"joined within 30 s\n");
				return 1;
			}
		}
		if (ready && !drain_until) {
			int more = 0;

			if (stop_at && now >= stop_at)
				stop_sending = 1;
			for (i = 0; i < nconns && !stop_sending; i++) {
				lconn *c = &cs[i];
				char msg[128];

				if (c->closed || (count && c->sent >= count))
					continue;
				more = 1;
				if (rate > 0 ? now < c->next_send
					     : c->sent - c->own_back >= WINDOW)
					continue;
				snprintf(msg, sizeof(msg), "lgm:%d:%ld:%lld\n",
					 i, c->sent + 1, (long long)now_ns());
				if (send_all(c, msg) < 0) {
					lost_conn(c, i, strerror(errno));
					continue;
				}
				c->sent++;
				room_sent[c->room]++;
				if (rate > 0) {
					c->next_send += (int64_t)(1e9 / rate);
					if (c->next_send < now - 1000000000LL)
						c->next_send = now; /* no burst after a stall */
				}
			}
			if (stop_sending || !more)
				drain_until = now_ns() + (int64_t)(drain_s * 1e9);
		}
		/* done? */
		sent = received = expected = 0;
		for (i = 0; i < nconns; i++) {
			sent += cs[i].sent;
			received += cs[i].received;
			expected += cs[i].sent * members[cs[i].room];
			if (!cs[i].closed)
				open++;
		}
		if (drain_until && (received >= expected || now >= drain_until ||
				    !open))
			break;
		if (!open)
			break;
		for (i = 0; i < nconns; i++) {
			pfd[i].fd = cs[i].closed ? -1 : cs[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			if (ready && !drain_until && rate > 0 && !cs[i].closed &&
			    cs[i].next_send < wake)
				wake = cs[i].next_send;
		}
		timeout_ms = (int)((wake - now_ns()) / 1000000);
		if (timeout_ms < 0)
			timeout_ms = 0;
		if (ready && !drain_until && rate == 0)
			timeout_ms = timeout_ms > 10 ? 10 : timeout_ms;
		if (poll(pfd, (nfds_t)nconns, timeout_ms) < 0 && errno != EINTR) {
			perror("loadgen: poll");
			return 1;
		}
		for (i = 0; i < nconns; i++)
			if (!cs[i].closed && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				on_readable(&cs[i], i);
	}
	{
		double el = (double)(now_ns() - (start_ns ? start_ns : t0)) / 1e9;
		uint32_t p50 = 0, p99 = 0, mx = 0;
		long lost = expected - received;

		if (nlat) {
			qsort(lat, nlat, sizeof(*lat), cmp_u32);
			p50 = lat[nlat / 2];
			p99 = lat[(nlat * 99) / 100 < nlat ? (nlat * 99) / 100 : nlat - 1];
			mx = lat[nlat - 1];
		}
		for (i = 0; i < nrooms; i++)
			printf("room %s-r%d sent %ld\n", prefix, i, room_sent[i]);
		printf("loadgen: conns %d rooms %d sent %ld received %ld expected %ld "
		       "lost %ld errors %ld disconnects %ld latency_us p50 %u p99 %u "
		       "max %u elapsed_s %.1f rate %.0f/s\n",
		       nconns, nrooms, sent, received, expected, lost < 0 ? 0 : lost,
		       errors, disconnects, p50, p99, mx, el,
		       el > 0 ? (double)sent / el : 0.0);
		fflush(stdout);
		for (i = 0; i < nconns; i++)
			if (!cs[i].closed)
				close(cs[i].fd);
		return lost == 0 && errors == 0 && disconnects == 0 ? 0 : 1;
	}
}
