/*
 * update_driver.c - drives a burst of live updates of one module the way
 * a deployment tool that stays up would: no process per step.
 *
 *   update_driver SOCKET LIBDIR FILE V1DIR V2DIR COUNT FIRST [control]
 *
 * COUNT times: install FILE from V2DIR or V1DIR in turn, starting with
 * FIRST (1 or 2) — copied to a temporary name and renamed into LIBDIR, as
 * an install does — then GET /update-modules/all on the node's unix
 * SOCKET (the answer must say eval ok), then GET /modules every 50 ms
 * until no old version is left retiring. With `control`, nothing is
 * installed and every update must find nothing to update.
 *
 * bench/bench_chatd.sh runs it: on a 2-vCPU VM every process created
 * (cp, mv, the livemod command, even sleep) costs a busy server more tail
 * latency than the swap itself, so the benchmark of the swap must not
 * create any. Prints one line per update: its milliseconds.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static char answer[1 << 20];

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "update_driver: %s%s%s\n", what, detail ? ": " : "",
		detail ? detail : "");
	exit(1);
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* GET `path` on the unix socket; the whole answer (headers and body) in
 * `answer`. */
static void get(const char *sock, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char req[256];
	size_t len = 0;
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("cannot connect", sock);
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n"
		     "Connection: close\r\n\r\n", path);
	if (write(fd, req, (size_t)n) != n)
		die("cannot send", path);
	while (len < sizeof(answer) - 1 &&
	       (n = read(fd, answer + len, sizeof(answer) - 1 - len)) > 0)
		len += (size_t)n;
	answer[len] = '\0';
	close(fd);
}

/* Copies SRC to LIBDIR/.FILE.tmp and renames it to LIBDIR/FILE. */
static void install(const char *src, const char *libdir, const char *file)
{
	static char buf[1 << 16];
	char tmp[4096], dst[4096];
	int in = open(src, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", libdir, file);
	snprintf(dst, sizeof(dst), "%s/%s", libdir, file);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (in < 0 || out < 0)
		die("cannot install", src);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			die("cannot write", tmp);
	close(in);
	if (close(out) != 0 || rename(tmp, dst) != 0)
		die("cannot rename into place", dst);
}

int main(int argc, char **argv)
{
	const struct timespec poll = { 0, 50 * 1000 * 1000 };
	int count, version, control, i, n;
	char src[4096];

	if (argc < 8)
		die("usage: update_driver SOCKET LIBDIR FILE V1DIR V2DIR COUNT "
		    "FIRST [control]", NULL);
	count = atoi(argv[6]);
	version = atoi(argv[7]);
	control = argc > 8 && strcmp(argv[8], "control") == 0;
	for (i = 0; i < count; i++, version = 3 - version) {
		double t0 = now_ms();

		if (!control) {
			snprintf(src, sizeof(src), "%s/%s",
				 argv[version == 1 ? 4 : 5], argv[3]);
			install(src, argv[2], argv[3]);
		}
		get(argv[1], "/update-modules/all");
		/* the node prints its answers with cJSON (tab after ':') */
		if (!strstr(answer, control ? "\"plan\":\tnull"
					    : "\"eval\":\t\"{ok,[]}\""))
			die("update not ok", answer);
		for (n = 0;; n++) {
			get(argv[1], "/modules");
			if (!strstr(answer, "\"retiring\""))
				break;
			if (n > 200)
				die("the old version never retired", answer);
			nanosleep(&poll, NULL);
		}
		printf("%.1f\n", now_ms() - t0);
	}
	return 0;
}
