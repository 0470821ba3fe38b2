/* SPDX-License-Identifier: MPL-2.0 */
/* The library's non-blocking TLS WebSocket against a real relay: certificate pinning and host
 * name checks, the upgrade, the hello, masked frames of each length encoding, ping/pong, and the
 * relay's close of a text message. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "relay_proc.h"
#include "test.h"
#include "wakks_internal.h"

static struct relay_proc relay;
static char ca[400];

struct inbox {
	int n;
	uint32_t types[16];
	uint32_t codes[16];
};

static void on_msg(void *arg, const uint8_t *msg, size_t len)
{
	struct inbox *in = arg;
	static proto_frame f;
	if (in->n < 16 && proto_frame_decode(msg, len, &f) == 0) {
		in->types[in->n] = f.type;
		in->codes[in->n] = f.type == PROTO_T_ERROR ? f.body.error.code : 0;
		in->n++;
	}
}

/* Runs the socket until `n` messages arrived, the connection ended, or 5 s passed. */
static int pump(wakks__ws *w, SSL_CTX *ctx, struct inbox *in, int n)
{
	for (int i = 0; i < 500 && in->n < n; i++) {
		struct pollfd p = { .fd = w->fd, .events = wakks__ws_want(w) };
		poll(&p, 1, 10);
		int rc = wakks__ws_io(w, ctx, on_msg, in);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void pinned_certificate_upgrade_and_hello(void)
{
	SSL_CTX *ctx;
	REQUIRE(wakks__tls_ctx(ca, &ctx) == 0);
	/* by name and by address: the development certificate names both */
	const char *hosts[2] = { "localhost", "127.0.0.1" };
	for (int h = 0; h < 2; h++) {
		wakks__ws w;
		struct inbox in = { 0 };
		REQUIRE(wakks__ws_start(&w, ctx, hosts[h], relay.port) == 0);
		CHECK_EQ_INT(pump(&w, ctx, &in, 1), 0);
		CHECK_EQ_INT(w.state, WS_OPEN);
		CHECK_EQ_INT(in.n, 1);
		CHECK_EQ_INT(in.types[0], PROTO_T_HELLO);
		wakks__ws_close(&w, true);
	}
	SSL_CTX_free(ctx);
}

static void unknown_certificate_is_refused(void)
{
	/* The system's CAs do not vouch for the development certificate. */
	SSL_CTX *ctx;
	REQUIRE(wakks__tls_ctx(NULL, &ctx) == 0);
	wakks__ws w;
	struct inbox in = { 0 };
	REQUIRE(wakks__ws_start(&w, ctx, "localhost", relay.port) == 0);
	CHECK_EQ_INT(pump(&w, ctx, &in, 1), WAKKS_E_TLS);
	CHECK_EQ_INT(in.n, 0);
	wakks__ws_close(&w, false);
	SSL_CTX_free(ctx);
}

static void frames_of_every_length_encoding(void)
{
	SSL_CTX *ctx;
	REQUIRE(wakks__tls_ctx(ca, &ctx) == 0);
	wakks__ws w;
	struct inbox in = { 0 };
	REQUIRE(wakks__ws_start(&w, ctx, "localhost", relay.port) == 0);
	REQUIRE(pump(&w, ctx, &in, 1) == 0 && in.n == 1);
	/* A ping is answered with a pong, which the client consumes silently. */
	CHECK_EQ_INT(wakks__ws_send(&w, 0x9, "ping", 4), 0);
	/* 7-bit, 16-bit and 64-bit payload lengths: each a well-masked message the relay reads
	 * whole; their content is not msgpack, so each draws an `error` (request id 0). */
	size_t sizes[3] = { 20, 300, 70000 };
	uint8_t *junk = malloc(70000);
	memset(junk, 0xc1, 70000); /* 0xC1 is never valid msgpack */
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(wakks__ws_send(&w, 0x2, junk, sizes[i]), 0);
	free(junk);
	CHECK_EQ_INT(pump(&w, ctx, &in, 4), 0);
	CHECK_EQ_INT(in.n, 4);
	for (int i = 1; i < in.n; i++) {
		CHECK_EQ_INT(in.types[i], PROTO_T_ERROR);
		CHECK_EQ_INT(in.codes[i], -PROTO_E_MALFORMED);
	}
	/* A valid request still works on the same connection. */
	static proto_frame f;
	static uint8_t buf[256];
	size_t len;
	proto_frame_init(&f, PROTO_T_KEY_COUNT_GET, 7);
	REQUIRE(proto_frame_encode(&f, buf, sizeof buf, &len) == 0);
	CHECK_EQ_INT(wakks__ws_send(&w, 0x2, buf, len), 0);
	CHECK_EQ_INT(pump(&w, ctx, &in, 5), 0);
	CHECK(in.n == 5 && in.types[4] == PROTO_T_ERROR && in.codes[4] == -PROTO_E_NOT_AUTHENTICATED);
	/* A text message is refused: the relay closes with 1003. */
	CHECK_EQ_INT(wakks__ws_send(&w, 0x1, "hello", 5), 0);
	int rc = pump(&w, ctx, &in, 99);
	CHECK_EQ_INT(rc, WAKKS_E_CLOSED);
	CHECK_EQ_INT(w.close_code, 1003);
	wakks__ws_close(&w, false);
	SSL_CTX_free(ctx);
}

/* The 64-bit length case sends 70000 bytes before authentication, past the relay's default
 * pre-authentication frame limit. */
#define UNAUTH_LARGE_FRAMES "[limits]\nunauth_max_frame_bytes = 1048576\n"

int main(void)
{
	if (sodium_init() < 0 || relay_proc_start(&relay, UNAUTH_LARGE_FRAMES, true) != 0)
		return 1;
	snprintf(ca, sizeof ca, "%s/dev-cert.pem", relay.data_dir);
	RUN(pinned_certificate_upgrade_and_hello);
	RUN(unknown_certificate_is_refused);
	RUN(frames_of_every_length_encoding);
	relay_proc_stop(&relay);
	int rc = TEST_RESULT();
	relay_proc_cleanup(&relay);
	return rc;
}
