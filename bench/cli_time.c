/*
 * cli_time.c - times short commands the way a person or a hook runs them,
 * each run a process of its own, and measures the floors they are
 * compared with (bench/bench_cli.sh):
 *
 *   cli_time RUNS [--prep SHELLCMD] -- CMD [ARG...]
 *       posix_spawn CMD RUNS times (output to /dev/null) and print
 *       "p50 P99 min" of the wall times in ms. SHELLCMD runs with sh -c
 *       before each run, outside the timing, with $1 the run's number
 *       (installing the next version of a module, say).
 *   cli_time --get SOCKET PATH
 *       one GET of PATH on the unix SOCKET, the answer read to the end:
 *       the tiny C client whose spawn is the floor of `livemod status`.
 *   cli_time RUNS --get SOCKET PATH
 *       that GET RUNS times in this process, timed as above: the raw
 *       round trip, the tiny client's floor without its process.
 *
 * Timing from inside one long-lived process, rather than `date +%s%N`
 * around each run, keeps the two date processes out of the figure (a
 * process costs ~2-3 ms on the project's VM, as much as the target).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* One GET of `path` on the unix socket `sock`, the reply read until the
 * node closes the connection (Connection: close); 0, or 1 with the cause
 * on stderr. */
static int get(const char *sock, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char buf[65536];
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror(sock);
		if (fd >= 0) /* the timed loop must not run out of fds */
			close(fd);
		return 1;
	}
	n = snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: localhost\r\n"
		     "Connection: close\r\n\r\n", path);
	if (write(fd, buf, (size_t)n) != n) {
		perror("write");
		close(fd);
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		perror("read");
	close(fd);
	return n < 0;
}

/* Spawns argv with output to /dev/null; its exit status. */
static int run(char **argv)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		perror(argv[0]);
		exit(2);
	}
	posix_spawn_file_actions_destroy(&fa);
	while (waitpid(pid, &st, 0) < 0)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Prints "p50 p99 min" of the `runs` times in `t` (sorted here), in ms. */
static void print_times(double *t, int runs)
{
	qsort(t, (size_t)runs, sizeof(*t), cmp_double);
	printf("%.2f %.2f %.2f\n", t[(runs - 1) / 2],
	       t[(int)(0.99 * (runs - 1) + 0.5)], t[0]);
}

int main(int argc, char **argv)
{
	char *prep[] = { "/bin/sh", "-c", NULL, "prep", NULL, NULL };
	char num[32];
	double *t;
	int runs, i, rc;

	if (argc == 4 && strcmp(argv[1], "--get") == 0)
		return get(argv[2], argv[3]);
	if (argc < 4 || (runs = atoi(argv[1])) < 1)
		return fprintf(stderr, "usage: cli_time RUNS [--prep SHELLCMD] "
			       "-- CMD [ARG...]\n       cli_time [RUNS] --get "
			       "SOCKET PATH\n"), 2;
	if (!(t = calloc((size_t)runs, sizeof(*t))))
		return 2;
	if (argc == 5 && strcmp(argv[2], "--get") == 0) {
		for (i = 0; i < runs; i++) {
			double t0 = now_ms();

			if (get(argv[3], argv[4]) != 0)
				return fprintf(stderr, "cli_time: GET failed "
					       "(run %d)\n", i), 1;
			t[i] = now_ms() - t0;
		}
		print_times(t, runs);
		free(t);
		return 0;
	}
	i = 2;
	if (strcmp(argv[i], "--prep") == 0 && i + 2 < argc)
		prep[2] = argv[i + 1], i += 2;
	if (strcmp(argv[i], "--") != 0 || i + 1 >= argc)
		return fprintf(stderr, "cli_time: expected -- CMD\n"), 2;
	argv += i + 1;
	for (i = 0; i < runs; i++) {
		double t0;

		if (prep[2]) {
			snprintf(num, sizeof(num), "%d", i);
			prep[4] = num;
			if (run(prep) != 0)
				return fprintf(stderr, "cli_time: prep failed "
					       "(run %d)\n", i), 1;
		}
		t0 = now_ms();
		rc = run(argv);
		t[i] = now_ms() - t0;
		if (rc != 0)
			return fprintf(stderr, "cli_time: %s exited %d (run "
				       "%d)\n", argv[0], rc, i), 1;
	}
	print_times(t, runs);
	free(t);
	return 0;
}
