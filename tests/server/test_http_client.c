/* SPDX-License-Identifier: MPL-2.0 */
/* The relay's outbound HTTPS client against a real TLS server on loopback (a Python stand-in):
 * trust, size limit, timeout without holding up other requests, methods and headers, HTTP/2
 * requirement, plain-HTTP refusal for remote hosts, and cancellation when the client is freed. */
#include "net/http_client.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/test_cert.h"
#include "test.h"

struct outcome {
	int calls;
	enum http_client_error error;
	long status;
	char body[64];
	char cache_control[64];
	char got_type[64];
	int order;
};

static int finished_count;
static int expected_count;
static uv_loop_t *loop;

static void record(void *ctx, const struct http_response *r)
{
	struct outcome *o = ctx;
	o->calls++;
	o->error = r->error;
	o->status = r->status;
	snprintf(o->body, sizeof o->body, "%.*s", (int)(r->body_len < 60 ? r->body_len : 60),
		 (const char *)r->body);
	http_header_value(r->headers, "cache-control", o->cache_control, sizeof o->cache_control);
	http_header_value(r->headers, "X-Got-Type", o->got_type, sizeof o->got_type);
	o->order = ++finished_count;
	if (finished_count == expected_count)
		uv_stop(loop);
}

static void give_up(uv_timer_t *t)
{
	(void)t;
	fprintf(stderr, "timed out waiting for responses\n");
	uv_stop(loop);
}

static void run_until(int count)
{
	expected_count = count;
	uv_timer_t guard;
	uv_timer_init(loop, &guard);
	uv_timer_start(&guard, give_up, 15000, 0);
	if (finished_count < count)
		uv_run(loop, UV_RUN_DEFAULT);
	uv_timer_stop(&guard);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
}

static void test_header_lookup(void)
{
	const char *block = "HTTP/1.1 200 OK\r\nContent-Type: text/plain \r\nX-A:b\r\n\r\n";
	char v[32];
	CHECK_EQ_INT(http_header_value(block, "content-type", v, sizeof v), 10);
	CHECK(strcmp(v, "text/plain") == 0);
	CHECK_EQ_INT(http_header_value(block, "x-a", v, sizeof v), 1);
	CHECK_EQ_INT(http_header_value(block, "X", v, sizeof v), -1);
	CHECK_EQ_INT(http_header_value(block, "content-type", v, 5), -1);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s STAND_IN_SCRIPT\n", argv[0]);
		return 2;
	}
	test_header_lookup();

	char dir[] = "/tmp/wakks-http-client-XXXXXX", cert[256], key[256], cmd[1024];
	CHECK(mkdtemp(dir) != NULL);
	CHECK(test_cert_write(dir, cert, key, sizeof cert) == 0);
	snprintf(cmd, sizeof cmd, "python3 '%s' '%s' '%s'", argv[1], cert, key);
	FILE *server = popen(cmd, "r");
	int port = 0, pid = 0;
	CHECK(server && fscanf(server, "%d %d", &port, &pid) == 2);

	loop = uv_default_loop();
	struct http_client *client = http_client_new(loop, 4, 16);
	CHECK(client != NULL);
	char base[64], url[128];
	snprintf(base, sizeof base, "https://localhost:%d", port);

	struct outcome ok = {0}, untrusted = {0}, big = {0}, slow = {0}, echo = {0}, missing = {0},
		       h2 = {0};
	snprintf(url, sizeof url, "%s/slow", base);
	CHECK(http_client_submit(client, &(struct http_request){.url = url, .ca_file = cert,
								 .timeout_ms = 1500},
				 record, &slow) == 0);
	snprintf(url, sizeof url, "%s/ok", base);
	CHECK(http_client_submit(client, &(struct http_request){.url = url, .ca_file = cert}, record,
				 &ok) == 0);
	CHECK(http_client_submit(client, &(struct http_request){.url = url}, record, &untrusted) == 0);
	CHECK(http_client_submit(client,
				 &(struct http_request){.url = url, .ca_file = cert, .require_http2 = true},
				 record, &h2) == 0);
	snprintf(url, sizeof url, "%s/big", base);
	CHECK(http_client_submit(client, &(struct http_request){.url = url, .ca_file = cert}, record,
				 &big) == 0);
	snprintf(url, sizeof url, "%s/echo", base);
	const char *headers[] = {"Content-Type: application/x-test", NULL};
	CHECK(http_client_submit(client,
				 &(struct http_request){.method = "POST", .url = url, .ca_file = cert,
							.headers = headers, .body = (const uint8_t *)"abc",
							.body_len = 3},
				 record, &echo) == 0);
	snprintf(url, sizeof url, "%s/status/404", base);
	CHECK(http_client_submit(client, &(struct http_request){.url = url, .ca_file = cert}, record,
				 &missing) == 0);
	run_until(7);

	CHECK_EQ_INT(ok.error, HTTP_CLIENT_OK);
	CHECK_EQ_INT(ok.status, 200);
	CHECK(strcmp(ok.body, "hello") == 0);
	CHECK(strcmp(ok.cache_control, "public, max-age=60") == 0);
	CHECK_EQ_INT(untrusted.error, HTTP_CLIENT_TRANSPORT);
	CHECK_EQ_INT(untrusted.status, 0);
	CHECK_EQ_INT(h2.error, HTTP_CLIENT_NOT_HTTP2);
	CHECK_EQ_INT(big.error, HTTP_CLIENT_TOO_LARGE);
	CHECK_EQ_INT(echo.status, 200);
	CHECK(strcmp(echo.body, "abc") == 0);
	CHECK(strcmp(echo.got_type, "application/x-test") == 0);
	CHECK_EQ_INT(missing.status, 404);
	/* The slow request timed out, and did not hold up the six submitted after it. */
	CHECK_EQ_INT(slow.error, HTTP_CLIENT_TRANSPORT);
	CHECK_EQ_INT(slow.order, 7);
	CHECK_EQ_INT(ok.calls + untrusted.calls + h2.calls + big.calls + echo.calls + missing.calls +
			     slow.calls,
		     7);

	/* Plain HTTP only to loopback: a remote http:// URL is refused before anything is sent. */
	CHECK(http_client_submit(client, &(struct http_request){.url = "http://example.org/x"},
				 record, &ok) == -1);
	CHECK(http_client_submit(client, &(struct http_request){.url = "ftp://127.0.0.1/x"}, record,
				 &ok) == -1);
	http_client_free(client);

	/* A full queue refuses; freeing the client completes every accepted request as cancelled. */
	client = http_client_new(loop, 1, 2);
	struct outcome waiting[4] = {{0}};
	int accepted = 0;
	snprintf(url, sizeof url, "%s/slow", base);
	for (int i = 0; i < 4; i++)
		if (http_client_submit(client, &(struct http_request){.url = url, .ca_file = cert},
				       record, &waiting[i]) == 0)
			accepted++;
	CHECK(accepted >= 2 && accepted <= 3);
	usleep(200 * 1000);
	http_client_free(client);
	uv_run(loop, UV_RUN_NOWAIT);
	for (int i = 0; i < accepted; i++) {
		CHECK_EQ_INT(waiting[i].calls, 1);
		CHECK_EQ_INT(waiting[i].error, HTTP_CLIENT_CANCELLED);
	}
	CHECK_EQ_INT(uv_loop_close(loop), 0);

	if (pid > 0)
		kill(pid, SIGTERM);
	if (server)
		pclose(server);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return TEST_RESULT();
}
