/*
 * test_web.c - the web page's pure parts (agent/node/web.c): which /ui/
 * path names which file, a socket address as a URL authority, the Host
 * check against DNS rebinding, and STATE/http. The real listener, headers
 * and page are tests/e2e/test_web.sh's.
 *
 * web.c is compiled into this test (it belongs to the agent, which the
 * unit tests do not link), with a page of two files of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "../../agent/node/web.c"
#include "testutil.h"

const lm_ui_file lm_ui_files[] = {
	{ "index.html", "text/html; charset=utf-8", "<html>", 6 },
	{ "app.js", "text/javascript; charset=utf-8", "x", 1 },
	{ NULL, NULL, NULL, 0 },
};

static struct sockaddr_storage v4(const char *ip, int port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;

	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *ip, int port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

	a->sin6_family = AF_INET6;
	a->sin6_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static void test_lookup(void **st)
{
	(void)st;
	assert_string_equal(lm_ui_lookup("/ui/")->name, "index.html");
	assert_string_equal(lm_ui_lookup("/ui/index.html")->name, "index.html");
	assert_string_equal(lm_ui_lookup("/ui/app.js")->name, "app.js");
	assert_null(lm_ui_lookup("/ui/x"));
	assert_null(lm_ui_lookup("/ui/../token"));
	assert_null(lm_ui_lookup("/ui/app.js/"));
	assert_null(lm_ui_lookup("/ui"));
	assert_null(lm_ui_lookup("/uiapp.js"));
	assert_null(lm_ui_lookup("/app.js"));
}

static void test_authority(void **st)
{
	struct sockaddr_storage ss;
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	char buf[64];

	(void)st;
	ss = v4("127.0.0.1", 8470);
	assert_int_equal(lm_web_authority(buf, sizeof(buf), SA(ss)), 0);
	assert_string_equal(buf, "127.0.0.1:8470");
	/* a wildcard listener is reached on loopback */
	ss = v4("0.0.0.0", 8470);
	assert_int_equal(lm_web_authority(buf, sizeof(buf), SA(ss)), 0);
	assert_string_equal(buf, "127.0.0.1:8470");
	ss = v6("::1", 9);
	assert_int_equal(lm_web_authority(buf, sizeof(buf), SA(ss)), 0);
	assert_string_equal(buf, "[::1]:9");
	ss = v6("::", 9);
	assert_int_equal(lm_web_authority(buf, sizeof(buf), SA(ss)), 0);
	assert_string_equal(buf, "[::1]:9");
	/* an IPv4 client of a dual-stack listener */
	ss = v6("::ffff:127.0.0.1", 80);
	assert_int_equal(lm_web_authority(buf, sizeof(buf), SA(ss)), 0);
	assert_string_equal(buf, "127.0.0.1:80");
	ss = v4("127.0.0.1", 8470);
	assert_int_equal(lm_web_authority(buf, 8, SA(ss)), -1);
	assert_int_equal(lm_web_authority(buf, sizeof(buf),
					  (const struct sockaddr *)&un), -1);
}

static void test_host(void **st)
{
	struct sockaddr_storage a = v4("127.0.0.1", 8470), b = v6("::1", 8470);

	(void)st;
	assert_true(lm_web_host_ok("127.0.0.1:8470", SA(a)));
	assert_true(lm_web_host_ok("localhost:8470", SA(a)));
	assert_true(lm_web_host_ok("LocalHost:8470", SA(a)));
	assert_true(lm_web_host_ok("[::1]:8470", SA(b)));
	assert_true(lm_web_host_ok("localhost:8470", SA(b)));
	assert_false(lm_web_host_ok(NULL, SA(a)));
	assert_false(lm_web_host_ok("", SA(a)));
	assert_false(lm_web_host_ok("127.0.0.1", SA(a)));
	assert_false(lm_web_host_ok("localhost", SA(a)));
	assert_false(lm_web_host_ok("127.0.0.1:8471", SA(a)));
	assert_false(lm_web_host_ok("127.0.0.1:84700", SA(a)));
	assert_false(lm_web_host_ok("localhost:8470x", SA(a)));
	assert_false(lm_web_host_ok("localhost:8470 ", SA(a)));
	assert_false(lm_web_host_ok("evil.example:8470", SA(a)));
	assert_false(lm_web_host_ok("localhost.evil.example:8470", SA(a)));
	assert_false(lm_web_host_ok("127.0.0.2:8470", SA(a)));
	assert_false(lm_web_host_ok("[::1]:8470", SA(a)));
	assert_false(lm_web_host_ok("127.0.0.1:8470", SA(b)));
}

static void test_publish(void **st)
{
	char *dir = tu_tmpdir(), *path = NULL, *text;
	struct sockaddr_storage a = v4("127.0.0.1", 8470);
	struct stat sb;
	size_t n;

	(void)st;
	assert_true(asprintf(&path, "%s/http", dir) > 0);
	assert_int_equal(lm_web_publish(dir, SA(a)), 0);
	text = tu_read_file(path, &n);
	assert_string_equal(text, "127.0.0.1:8470\n");
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	free(text);
	lm_web_unpublish(dir);
	assert_int_not_equal(stat(path, &sb), 0);
	free(path);
	tu_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_authority),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_publish),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
