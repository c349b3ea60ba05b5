/*
 * chatd - a multi-client TCP chat server whose features are livemod
 * modules, upgraded live without dropping a connection.
 *
 *   chatd --listen 127.0.0.1:PORT --state DIR [--http 127.0.0.1:PORT]
 *
 * Runs in the foreground and logs to stderr; PORT 0 picks a free port (the
 * log says which: "chatd: listening on 127.0.0.1:N", "chatd: control API
 * on http://127.0.0.1:N"). SIGTERM or SIGINT stops it cleanly; SIGUSR2
 * purges every old module version now, brutally (Erlang's code:purge/1):
 * the connections still pinned to one are closed, saying why.
 *
 * The node (lm_node) boots the state dir's current release and serves the
 * control API on DIR/agent.sock and, with --http, on loopback TCP behind
 * the bearer token in DIR/token. See README.md for the protocol.
 *
 * Threads: one accepts, one per connection, the main thread waits for
 * signals; the node runs its own. Each connection pins mod_util,
 * mod_messager and mod_motd (the connection is the pins' task cookie) and
 * moves them to the newest versions between two lines: its safe point.
 *
 * The connection threads are QSBR readers (LM_AGENT_QSBR,
 * docs/host-guide.md "Choosing the read side"): each announces a
 * quiescent state after every line and is offline while it waits for the
 * peer (recv, send), so a swap's grace period costs about a microsecond
 * instead of a membarrier's IPIs to the busy connection threads.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LM_AGENT_QSBR /* before the livemod headers: LM_CALL's read side */
#include <livemod/error.h>
#include <livemod/node.h>

#include "chatd_api.h"

#define LINE_MAX_LEN 1024 /* a longer line is refused and dropped */
#define NAME_MAX_LEN 31

/* The modules a connection pins, in /version's order (by name). */
enum { P_MESSAGER, P_MOTD, P_UTIL, NPINS };
static const char *const pin_module[NPINS] = { "mod_messager", "mod_motd",
					       "mod_util" };

/* The exports chatd calls, typed by their declarations in chatd_api.h. */
static struct {
	LM_REF(CHATD_ESCAPE) escape;
	LM_REF(CHATD_RECORD) record;
	LM_REF(CHATD_FORMAT) format;
	LM_REF(CHATD_STATS) stats;
	LM_REF(CHATD_MOTD) motd;
} ref;

typedef struct conn {
	struct conn *prev, *next; /* the registry; under reg_lock */
	int fd;
	unsigned id;
	char peer[64];
	char nick[NAME_MAX_LEN + 1];
	char room[NAME_MAX_LEN + 1]; /* "" until /join; written under the
				      * registry's write lock */
	lm_task task;
	lm_pin *pin[NPINS];
	pthread_mutex_t wmu; /* one writer at a time on fd */
	int dead;            /* a write failed; under wmu */
	/* Set by the brutal-purge callback (or the shutdown): the reason
	 * the connection must close. The connection thread does the rest. */
	pthread_mutex_t flag_mu;
	char close_reason[160];
	atomic_int must_close;
} conn;

static lm_node *node;
static lm_runtime *rt;
static int listen_fd = -1;
static atomic_int stopping;

/* The registry of connections and their rooms: broadcasts read it,
 * joins and departures write it. Writers are preferred so a join is never
 * starved by a busy room. */
static pthread_rwlock_t reg_lock;
static conn *conns;
static unsigned next_id;
static pthread_mutex_t count_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t count_cv = PTHREAD_COND_INITIALIZER;
static int nthreads; /* connection threads alive */

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "chatd: %s\n", buf);
}

/* ---- the read side ---------------------------------------------------------- */

/* Set on the connection threads, the QSBR readers: any other thread that
 * sends (the accept thread, shutdown) is no reader and has no state to
 * announce. */
static __thread int qsbr_reader;

/* Around a wait for the peer: a grace period must not wait for it. */
static void peer_wait_begin(void)
{
	if (qsbr_reader)
		lm_thread_offline();
}

static void peer_wait_end(void)
{
	if (qsbr_reader)
		lm_thread_online();
}

/* ---- writing to a connection ------------------------------------------ */

static int send_line(conn *c, const char *text)
{
	size_t n = strlen(text), off = 0;
	char buf[LINE_MAX_LEN * 6];
	int rc = 0;

	if (n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	memcpy(buf, text, n);
	buf[n++] = '\n';
	peer_wait_begin(); /* the lock too: its holder may be sending */
	pthread_mutex_lock(&c->wmu);
	while (!c->dead && off < n) {
		ssize_t w = send(c->fd, buf + off, n - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			/* A peer that is gone or stopped reading (the send
			 * timeout): its own thread notices at its next read. */
			c->dead = 1;
			shutdown(c->fd, SHUT_RDWR);
			rc = -1;
			break;
		}
		off += (size_t)w;
	}
	if (c->dead)
		rc = -1;
	pthread_mutex_unlock(&c->wmu);
	peer_wait_end();
	return rc;
}

static void send_fmt(conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void send_fmt(conn *c, const char *fmt, ...)
{
	char buf[LINE_MAX_LEN * 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	send_line(c, buf);
}

/* ---- asking a connection to close -------------------------------------- */

/* May run in the brutal-purge callback (a module's pin lock held): no lm_*
 * call, nothing that blocks; the first reason wins. */
static void request_close(conn *c, const char *reason)
{
	pthread_mutex_lock(&c->flag_mu);
	if (!atomic_load(&c->must_close)) {
		snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
		atomic_store(&c->must_close, 1);
	}
	pthread_mutex_unlock(&c->flag_mu);
	/* Wakes the thread from its read; it still can write its last line. */
	shutdown(c->fd, SHUT_RD);
}

static void on_brutal_purge(void *ctx, const lm_pin_victim *v)
{
	lm_task *t = v->task;
	char why[160];

	(void)ctx;
	snprintf(why, sizeof(why), "module %s %s purged (brutal_purge)",
		 v->module, v->vsn);
	request_close(t->host, why);
}

/* ---- the services modules get through lm_task --------------------------- */

static int svc_escape(lm_task *t, const char *in, char *out, size_t cap)
{
	conn *c = t->host;
	int n;

	LM_PIN_INVOKE(c->pin[P_UTIL], ref.escape, n, in, out, cap);
	return n;
}

static const struct chatd_api api = { .escape = svc_escape };

/* ---- the protocol -------------------------------------------------------- */

static int valid_name(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		      (s[n] >= '0' && s[n] <= '9') || s[n] == '_' || s[n] == '-'))
			return 0;
	return n > 0 && n <= NAME_MAX_LEN;
}

static void broadcast(const char *room, const char *line)
{
	conn *m;

	pthread_rwlock_rdlock(&reg_lock);
	for (m = conns; m; m = m->next)
		if (strcmp(m->room, room) == 0)
			send_line(m, line);
	pthread_rwlock_unlock(&reg_lock);
}

static void do_message(conn *c, const char *text)
{
	char out[LINE_MAX_LEN * 5];
	char room[NAME_MAX_LEN + 1];
	long seq;
	int n;

	if (!c->room[0]) {
		send_line(c, "error join a room first: /join ROOM");
		return;
	}
	memcpy(room, c->room, sizeof(room)); /* only this thread writes it */
	/* The count is shared state: a short call, so it always runs the
	 * current version on the one live copy of the state. */
	LM_INVOKE(ref.record, seq, &c->task, room, c->nick,
		strlen(text));
	if (seq < 0) {
		send_line(c, "error too many rooms");
		return;
	}
	/* The line's form is this connection's: through its pin. */
	LM_PIN_INVOKE(c->pin[P_MESSAGER], ref.format, n, &c->task,
		    room, seq, c->nick, text, out, sizeof(out));
	if (n < 0) {
		send_line(c, "error cannot format the message");
		return;
	}
	broadcast(room, out);
}

static void do_version(conn *c)
{
	char buf[256];
	size_t off = 0;
	int i;

	off += (size_t)snprintf(buf, sizeof(buf), "version");
	for (i = 0; i < NPINS && off < sizeof(buf); i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, " %s %s",
					pin_module[i], lm_pin_vsn(c->pin[i]));
	send_line(c, buf);
}

/* Returns 1 when the connection should close. */
static int handle_line(conn *c, char *line)
{
	char out[LINE_MAX_LEN * 2];
	char *arg;
	int n;

	if (line[0] != '/') {
		if (line[0])
			do_message(c, line);
		return 0;
	}
	arg = strchr(line, ' ');
	if (arg) {
		*arg++ = '\0';
		while (*arg == ' ')
			arg++;
	} else {
		arg = line + strlen(line);
	}
	if (strcmp(line, "/nick") == 0) {
		if (!valid_name(arg)) {
			send_line(c, "error bad nick: 1-31 of [A-Za-z0-9_-]");
			return 0;
		}
		snprintf(c->nick, sizeof(c->nick), "%s", arg);
		send_fmt(c, "ok nick %s", c->nick);
	} else if (strcmp(line, "/join") == 0) {
		if (!valid_name(arg)) {
			send_line(c, "error bad room: 1-31 of [A-Za-z0-9_-]");
			return 0;
		}
		pthread_rwlock_wrlock(&reg_lock);
		snprintf(c->room, sizeof(c->room), "%s", arg);
		pthread_rwlock_unlock(&reg_lock);
		send_fmt(c, "ok join %s", c->room);
	} else if (strcmp(line, "/version") == 0) {
		do_version(c);
	} else if (strcmp(line, "/stats") == 0) {
		const char *room = *arg ? arg : c->room;

		if (!valid_name(room)) {
			send_line(c, "error /stats ROOM, or /join ROOM first");
			return 0;
		}
		LM_INVOKE(ref.stats, n, &c->task, room, out,
			sizeof(out));
		send_line(c, n < 0 ? "error stats failed" : out);
	} else if (strcmp(line, "/motd") == 0) {
		LM_PIN_INVOKE(c->pin[P_MOTD], ref.motd, n, &c->task, out,
			    sizeof(out));
		send_line(c, n < 0 ? "error motd failed" : out);
	} else if (strcmp(line, "/quit") == 0) {
		send_line(c, "bye");
		return 1;
	} else {
		send_fmt(c, "error unknown command %.64s", line);
	}
	return 0;
}

/* ---- a connection --------------------------------------------------------- */

/* Reads one line into line[]; 1 a line, 0 end of input, -1 too long (the
 * rest of it is dropped). `buf`/`len` keep what was read past it. */
static int read_line(conn *c, char *buf, size_t *len, char *line)
{
	int too_long = 0;

	for (;;) {
		char *nl = memchr(buf, '\n', *len);
		ssize_t r;

		if (nl) {
			size_t n = (size_t)(nl - buf);

			if (!too_long) {
				memcpy(line, buf, n);
				line[n] = '\0';
				if (n && line[n - 1] == '\r')
					line[n - 1] = '\0';
			}
			memmove(buf, nl + 1, *len - n - 1);
			*len -= n + 1;
			return too_long ? -1 : 1;
		}
		if (*len >= LINE_MAX_LEN) { /* no newline in a full buffer */
			too_long = 1;
			*len = 0;
		}
		peer_wait_begin();
		r = recv(c->fd, buf + *len, LINE_MAX_LEN - *len, 0);
		peer_wait_end();
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		*len += (size_t)r;
	}
}

static void conn_free(conn *c)
{
	pthread_mutex_destroy(&c->wmu);
	pthread_mutex_destroy(&c->flag_mu);
	free(c);
}

/* Takes `c` out of the registry the brutal-purge callback and shutdown
 * walk. */
static void conn_unlink(conn *c)
{
	pthread_rwlock_wrlock(&reg_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_rwlock_unlock(&reg_lock);
}

static void *conn_main(void *arg)
{
	conn *c = arg;
	char buf[LINE_MAX_LEN], line[LINE_MAX_LEN + 1], out[LINE_MAX_LEN];
	size_t len = 0;
	int i, n, rc = 0;

	lm_thread_register(); /* QSBR: LM_AGENT_QSBR above */
	qsbr_reader = 1;
	for (i = 0; i < NPINS; i++)
		if ((rc = lm_pin_acquire(&c->pin[i], rt, pin_module[i], &c->task)) < 0)
			break;
	if (rc < 0) {
		logf_("connection %u: cannot pin %s: %s", c->id, pin_module[i],
		      lm_error_last());
		send_line(c, "error server not ready");
	} else {
		LM_PIN_INVOKE(c->pin[P_MOTD], ref.motd, n, &c->task, out,
			    sizeof(out));
		send_line(c, n < 0 ? "motd" : out);
		for (;;) {
			int got = read_line(c, buf, &len, line);

			if (atomic_load(&c->must_close)) {
				char last[200];

				pthread_mutex_lock(&c->flag_mu);
				snprintf(last, sizeof(last), "closing: %s",
					 c->close_reason);
				pthread_mutex_unlock(&c->flag_mu);
				send_line(c, last);
				logf_("connection %u (%s): %s", c->id, c->nick,
				      last);
				break;
			}
			if (got == 0)
				break;
			/* The safe point: between two lines, every pin moves
			 * to the newest version, and nothing the last line's
			 * calls returned is held (the quiescent state). */
			lm_quiescent();
			for (i = 0; i < NPINS; i++)
				lm_pin_refresh(c->pin[i]);
			if (got < 0) {
				send_line(c, "error line too long");
				continue;
			}
			if (handle_line(c, line))
				break;
		}
	}
	conn_unlink(c);
	/* No other thread can reach c now but the brutal-purge callback,
	 * through the pins: release them before the memory goes. */
	for (i = 0; i < NPINS; i++)
		if (c->pin[i])
			lm_pin_release(c->pin[i]);
	close(c->fd);
	qsbr_reader = 0;
	lm_thread_unregister();
	conn_free(c);
	pthread_mutex_lock(&count_mu);
	if (--nthreads == 0)
		pthread_cond_broadcast(&count_cv);
	pthread_mutex_unlock(&count_mu);
	return NULL;
}

static void *accept_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		struct timeval tv = { 10, 0 };
		pthread_attr_t at;
		pthread_t th;
		int fd = accept(listen_fd, (struct sockaddr *)&sa, &sl), one = 1;
		conn *c;

		if (fd < 0) {
			if (atomic_load(&stopping))
				return NULL;
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE) {
				if (errno != EINTR && errno != ECONNABORTED)
					usleep(10000);
				continue;
			}
			logf_("accept: %s", strerror(errno));
			return NULL;
		}
		if (atomic_load(&stopping)) {
			close(fd);
			return NULL;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* A peer that stops reading cannot hold a writer forever. */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (!(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->task.api = &api;
		c->task.host = c;
		pthread_mutex_init(&c->wmu, NULL);
		pthread_mutex_init(&c->flag_mu, NULL);
		inet_ntop(AF_INET, &sa.sin_addr, c->peer, sizeof(c->peer));
		pthread_rwlock_wrlock(&reg_lock);
		c->id = ++next_id;
		snprintf(c->nick, sizeof(c->nick), "guest%u", c->id);
		c->next = conns;
		if (conns)
			conns->prev = c;
		conns = c;
		pthread_rwlock_unlock(&reg_lock);
		pthread_mutex_lock(&count_mu);
		nthreads++;
		pthread_mutex_unlock(&count_mu);
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&at, 256 * 1024);
		if (pthread_create(&th, &at, conn_main, c) != 0) {
			/* conn_main's cleanup, without a thread */
			conn_unlink(c);
			close(fd);
			conn_free(c);
			pthread_mutex_lock(&count_mu);
			nthreads--;
			pthread_mutex_unlock(&count_mu);
		}
		pthread_attr_destroy(&at);
	}
}

/* ---- start, stop, purge ---------------------------------------------------- */

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 0 || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int open_listener(const char *addr)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int one = 1;

	if (parse_addr(addr, &sa) < 0) {
		logf_("--listen %s: want IPV4:PORT, e.g. 127.0.0.1:7000", addr);
		return -1;
	}
	if ((listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(listen_fd, 128) < 0 ||
	    getsockname(listen_fd, (struct sockaddr *)&sa, &sl) < 0) {
		logf_("--listen %s: %s", addr, strerror(errno));
		return -1;
	}
	logf_("listening on %s:%u", inet_ntoa(sa.sin_addr), ntohs(sa.sin_port));
	return 0;
}

/* What chatd looks up, declared to the node once: booting a release
 * checks it gives each of these, and every plan is checked against them
 * (docs/host-guide.md, "Declaring imports"). */
static const lm_import imports[] = {
	LM_IMPORT_DECL(CHATD_ESCAPE), LM_IMPORT_DECL(CHATD_RECORD),
	LM_IMPORT_DECL(CHATD_FORMAT), LM_IMPORT_DECL(CHATD_STATS),
	LM_IMPORT_DECL(CHATD_MOTD),
};

/* Each declared export, looked up; 0 or -1 (logged). */
static int resolve(void)
{
	if (LM_LOOKUP(&ref.escape, rt, CHATD_ESCAPE) == 0 &&
	    LM_LOOKUP(&ref.record, rt, CHATD_RECORD) == 0 &&
	    LM_LOOKUP(&ref.format, rt, CHATD_FORMAT) == 0 &&
	    LM_LOOKUP(&ref.stats, rt, CHATD_STATS) == 0 &&
	    LM_LOOKUP(&ref.motd, rt, CHATD_MOTD) == 0)
		return 0;
	logf_("%s", lm_error_last());
	return -1;
}

static void free_refs(void)
{
	lm_export_ref_free(ref.escape.ref);
	lm_export_ref_free(ref.record.ref);
	lm_export_ref_free(ref.format.ref);
	lm_export_ref_free(ref.stats.ref);
	lm_export_ref_free(ref.motd.ref);
}

/* SIGUSR2: every old version of every module, purged brutally now. */
static void purge_old(void)
{
	lm_module_info *mods;
	size_t n, i;

	if (lm_runtime_modules(&mods, &n, rt) < 0) {
		logf_("purge: %s", lm_error_last());
		return;
	}
	for (i = 0; i < n; i++) {
		if (!mods[i].nold)
			continue;
		if (lm_runtime_purge(rt, mods[i].name, LM_BRUTAL_PURGE, 0) < 0)
			logf_("purge %s: %s", mods[i].name, lm_error_last());
		else
			logf_("purged the old versions of %s (brutal_purge)",
			      mods[i].name);
	}
	lm_module_info_free(mods, n);
}

static void usage(void)
{
	fprintf(stderr, "usage: chatd --listen 127.0.0.1:PORT --state DIR "
			"[--http 127.0.0.1:PORT]\n");
}

int main(int argc, char **argv)
{
	lm_node_options o = { 0 };
	pthread_rwlockattr_t ra;
	const char *listen_addr = NULL;
	sigset_t sigs;
	pthread_t acceptor;
	conn *c;
	int i, sig;

	for (i = 1; i < argc; i++) {
		if (i + 1 < argc && strcmp(argv[i], "--listen") == 0)
			listen_addr = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--state") == 0)
			o.state_dir = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "--http") == 0)
			o.http_listen = argv[++i];
		else {
			usage();
			return 2;
		}
	}
	if (!listen_addr || !o.state_dir) {
		usage();
		return 2;
	}
	/* Every thread, the node's too, inherits this mask: signals are
	 * taken by the main thread's sigwait only. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra,
		PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&reg_lock, &ra);
	pthread_rwlockattr_destroy(&ra);

	o.control_socket = 1;
	o.on_brutal_purge = on_brutal_purge;
	o.imports = imports;
	o.nimports = sizeof(imports) / sizeof(imports[0]);
	if (lm_node_start(&node, &o) < 0) {
		logf_("cannot start the node: %s", lm_error_last());
		return 1;
	}
	rt = lm_node_runtime(node);
	if (resolve() < 0 || open_listener(listen_addr) < 0) {
		free_refs();
		lm_node_stop(node);
		return 1;
	}
	logf_("release %lld; state %s", (long long)lm_node_release(node),
	      o.state_dir);
	if (o.http_listen)
		logf_("control API on http://127.0.0.1:%d (bearer token in %s/token)",
		      lm_node_http_port(node), o.state_dir);
	if (pthread_create(&acceptor, NULL, accept_main, NULL) != 0) {
		logf_("cannot start the accept thread");
		free_refs();
		lm_node_stop(node);
		return 1;
	}
	logf_("ready");

	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGUSR2) {
			purge_old();
			continue;
		}
		break;
	}
	logf_("stopping (%s)", sig == SIGINT ? "SIGINT" : "SIGTERM");
	atomic_store(&stopping, 1);
	shutdown(listen_fd, SHUT_RDWR);
	pthread_join(acceptor, NULL);
	close(listen_fd);
	pthread_rwlock_rdlock(&reg_lock);
	for (c = conns; c; c = c->next)
		request_close(c, "server shutting down");
	pthread_rwlock_unlock(&reg_lock);
	pthread_mutex_lock(&count_mu);
	while (nthreads > 0)
		pthread_cond_wait(&count_cv, &count_mu);
	pthread_mutex_unlock(&count_mu);
	free_refs();
	lm_node_stop(node);
	logf_("stopped");
	return 0;
}
