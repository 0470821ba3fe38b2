/* SPDX-License-Identifier: MPL-2.0 */
/* The relay process answers over TLS: WebSocket upgrade with wakks.v1 and a hello frame, refusal
 * of a missing or foreign subprotocol, /healthz JSON, configuration errors, and an orderly stop on
 * SIGTERM that closes WebSockets with 1001. */
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay_proc.h"
#include "test.h"
#include "wakks_protocol.h"
#include "wsclient.h"

static struct relay_proc relay;

static void handshake_with_subprotocol_gets_hello(void)
{
	struct wsc c;
	REQUIRE(wsc_connect(&c, relay.port, "/v1", "wakks.v1") == 0);
	CHECK(strcmp(c.protocol, "wakks.v1") == 0);
	CHECK_EQ_INT(wsc_recv(&c, 5000), WS_OP_BINARY);
	static proto_frame f;
	CHECK_EQ_INT(proto_frame_decode(c.msg, c.msg_len, &f), 0);
	CHECK_EQ_INT(f.type, PROTO_T_HELLO);
	CHECK_EQ_INT(f.body.hello.version, PROTO_VERSION);
	CHECK(f.body.hello.challenge != NULL);
	uint8_t first[32];
	memcpy(first, f.body.hello.challenge, 32);
	wsc_close(&c);

	/* Every connection gets a fresh challenge. */
	REQUIRE(wsc_connect(&c, relay.port, "/v1", "wakks.v1") == 0);
	CHECK_EQ_INT(wsc_recv(&c, 5000), WS_OP_BINARY);
	CHECK_EQ_INT(proto_frame_decode(c.msg, c.msg_len, &f), 0);
	CHECK(memcmp(first, f.body.hello.challenge, 32) != 0);
	wsc_close(&c);
}

static void missing_subprotocol_refused_with_reason(void)
{
	struct wsc c;
	CHECK_EQ_INT(wsc_connect(&c, relay.port, "/v1", NULL), 1);
	CHECK_EQ_INT(c.http_status, 400);
	CHECK(strstr(c.http_body, "wakks.v1") != NULL);
	wsc_close(&c);
}

static void foreign_subprotocol_refused_with_reason(void)
{
	struct wsc c;
	CHECK_EQ_INT(wsc_connect(&c, relay.port, "/v1", "chat, superchat"), 1);
	CHECK_EQ_INT(c.http_status, 400);
	CHECK(strstr(c.http_body, "subprotocol wakks.v1 is required") != NULL);
	wsc_close(&c);
}

static void wrong_path_refused(void)
{
	struct wsc c;
	CHECK_EQ_INT(wsc_connect(&c, relay.port, "/v2", "wakks.v1"), 1);
	CHECK_EQ_INT(c.http_status, 400);
	CHECK(strstr(c.http_body, "/v1") != NULL);
	wsc_close(&c);
}

static void healthz_answers_json(void)
{
	int status = 0;
	char *body = NULL;
	REQUIRE(admin_get(relay.admin_port, "/healthz", &status, &body) == 0);
	CHECK_EQ_INT(status, 200);
	json_error_t err;
	json_t *j = json_loads(body, 0, &err);
	CHECK(j != NULL);
	CHECK(j && strcmp(json_string_value(json_object_get(j, "status")), "ok") == 0);
	CHECK(j && json_is_string(json_object_get(j, "version")));
	CHECK(j && json_is_integer(json_object_get(j, "uptime_seconds")));
	CHECK(j && json_is_integer(json_object_get(j, "connections")));
	json_decref(j);
	free(body);
}

static void metrics_in_prometheus_format(void)
{
	int status = 0;
	char *body = NULL;
	REQUIRE(admin_get(relay.admin_port, "/metrics", &status, &body) == 0);
	CHECK_EQ_INT(status, 200);
	CHECK(strstr(body, "# TYPE wakks_connections_open gauge") != NULL);
	CHECK(strstr(body, "wakks_store_commits_total") != NULL);
	CHECK(strstr(body, "wakks_mailbox_depth_online_total") != NULL);
	free(body);
}

/* Monitoring is on its own listener only: the public port knows neither path. */
static void monitoring_not_on_the_public_port(void)
{
	const char *paths[] = { "/metrics", "/healthz", "/readyz" };
	for (int i = 0; i < 3; i++) {
		int status = 0;
		char *body = NULL;
		REQUIRE(https_request(relay.port, "GET", paths[i], NULL, NULL, &status, &body, NULL, 0) == 0);
		CHECK_EQ_INT(status, 404);
		CHECK(strstr(body, "wakks_") == NULL);
		free(body);
	}
}

/* Without --dev the relay serves the configured certificate (the test support writes one) and
 * generates none; the development certificate is tested in test_relay_startup.c. */
static void production_relay_generates_no_certificate(void)
{
	char path[400];
	snprintf(path, sizeof path, "%s/dev-key.pem", relay.data_dir);
	struct stat st;
	CHECK(stat(path, &st) != 0);
	CHECK(!relay_log_contains(&relay, "event=dev_cert_generated"));
}

static void bad_config_value_exits_2_naming_key(void)
{
	char path[] = "/tmp/wakks-badconf-XXXXXX";
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	const char text[] = "[relay]\nport = 8443\n\n[limits]\nmax_frame_bytes = lots\n";
	CHECK(write(fd, text, sizeof text - 1) == (ssize_t)(sizeof text - 1));
	close(fd);
	char *err = NULL;
	char *args[] = { (char *)relay_binary(), "--config", path, NULL };
	CHECK_EQ_INT(relay_run_command(args, &err), 2);
	CHECK(err && strstr(err, path) != NULL);
	CHECK(err && strstr(err, ":5:") != NULL);
	CHECK(err && strstr(err, "max_frame_bytes") != NULL);
	free(err);

	/* An unknown key, too. */
	fd = open(path, O_WRONLY | O_TRUNC);
	const char text2[] = "[relay]\nprot = 8443\n";
	CHECK(write(fd, text2, sizeof text2 - 1) == (ssize_t)(sizeof text2 - 1));
	close(fd);
	CHECK_EQ_INT(relay_run_command(args, &err), 2);
	CHECK(err && strstr(err, ":2:") != NULL && strstr(err, "'prot'") != NULL);
	free(err);
	unlink(path);

	/* A configuration file that does not exist. */
	char *missing[] = { (char *)relay_binary(), "--config", "/nonexistent/relay.conf", NULL };
	CHECK_EQ_INT(relay_run_command(missing, &err), 2);
	CHECK(err && strstr(err, "/nonexistent/relay.conf") != NULL);
	free(err);
}

static void sigterm_closes_websockets_with_1001_and_exits_0(void)
{
	struct wsc a, b;
	REQUIRE(wsc_connect(&a, relay.port, "/v1", "wakks.v1") == 0);
	REQUIRE(wsc_connect(&b, relay.port, "/v1", "wakks.v1") == 0);
	CHECK_EQ_INT(wsc_recv(&a, 5000), WS_OP_BINARY);
	CHECK_EQ_INT(wsc_recv(&b, 5000), WS_OP_BINARY);
	kill(relay.pid, SIGTERM);
	CHECK_EQ_INT(wsc_recv(&a, 5000), WS_OP_CLOSE);
	CHECK_EQ_INT(a.close_code, 1001);
	CHECK_EQ_INT(wsc_recv(&b, 5000), WS_OP_CLOSE);
	CHECK_EQ_INT(b.close_code, 1001);
	wsc_close(&a);
	wsc_close(&b);
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
	CHECK(relay_log_contains(&relay, "event=stopped"));
}

int main(void)
{
	if (sodium_init() < 0 || relay_proc_start(&relay, NULL, false) != 0)
		return 1;
	RUN(handshake_with_subprotocol_gets_hello);
	RUN(missing_subprotocol_refused_with_reason);
	RUN(foreign_subprotocol_refused_with_reason);
	RUN(wrong_path_refused);
	RUN(healthz_answers_json);
	RUN(metrics_in_prometheus_format);
	RUN(monitoring_not_on_the_public_port);
	RUN(production_relay_generates_no_certificate);
	RUN(bad_config_value_exits_2_naming_key);
	RUN(sigterm_closes_websockets_with_1001_and_exits_0);
	relay_proc_cleanup(&relay);
	return TEST_RESULT();
}
