/* SPDX-License-Identifier: MPL-2.0 */
/* Hostile input: one connection sends truncated, oversized, wrong-type, text, random and
 * out-of-order frames while two devices keep exchanging messages, unaffected; the relay answers
 * every bad frame with an error naming what was wrong and stays healthy. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "relay_proc.h"
#include "tclient.h"
#include "test.h"

static struct relay_proc relay;
static struct tdev anna, bo, attacker;

static void exchange_one(int i)
{
	uint8_t cmid[16], to[1][16], devs[1][16];
	char ct[32];
	int n = snprintf(ct, sizeof ct, "msg-%d", i);
	randombytes_buf(cmid, sizeof cmid);
	memcpy(to[0], bo.account_id, 16);
	memcpy(devs[0], bo.device_id, 16);
	CHECK_EQ_INT(tdev_send(&anna, cmid, (const uint8_t(*)[16])to, 1, NULL, NULL,
			       (const uint8_t(*)[16])devs, 1, ct, (size_t)n, false),
		     PROTO_T_STORED);
	if (tdev_wait(&bo, PROTO_T_DELIVER, 5000) != PROTO_T_DELIVER) {
		CHECK(!"delivery");
		return;
	}
	CHECK(bo.frame.body.deliver.ciphertext.len == (size_t)n &&
	      memcmp(bo.frame.body.deliver.ciphertext.ptr, ct, (size_t)n) == 0);
	CHECK_EQ_INT(tdev_ack(&bo, bo.frame.body.deliver.seq), PROTO_T_OK);
}

/* Expects an error frame in answer to the last bad frame; returns its code. */
static int error_reply(void)
{
	if (tdev_wait(&attacker, PROTO_T_ERROR, 3000) != PROTO_T_ERROR)
		return -1;
	return (int)attacker.frame.body.error.code;
}

static void bad_frames_get_errors_and_others_are_unaffected(void)
{
	/* A valid send frame to mutate: [64, 7, {...}] */
	static proto_frame f;
	uint8_t cmid[16] = { 1 }, dev[16] = { 2 }, buf[4096];
	size_t len;
	proto_frame_init(&f, PROTO_T_SEND, 7);
	f.body.send.cmid = cmid;
	f.body.send.to[0] = dev;
	f.body.send.to_count = 1;
	f.body.send.env[0].device = dev;
	f.body.send.env[0].ciphertext = (proto_bytes){ (const uint8_t *)"ct", 2 };
	f.body.send.env_count = 1;
	REQUIRE(proto_frame_encode(&f, buf, sizeof buf, &len) == 0);

	for (int round = 0; round < 3; round++) {
		/* truncated */
		tdev_send_raw(&attacker, buf, len - 3);
		CHECK_EQ_INT(error_reply(), -PROTO_E_TRUNCATED);
		/* trailing bytes */
		uint8_t longer[4100];
		memcpy(longer, buf, len);
		longer[len] = 0xc0;
		tdev_send_raw(&attacker, longer, len + 1);
		CHECK_EQ_INT(error_reply(), -PROTO_E_TRAILING);
		/* wrong type: a string where the frame array should be */
		tdev_send_raw(&attacker, "\xa3" "abc", 4);
		CHECK_EQ_INT(error_reply(), -PROTO_E_BAD_SHAPE);
		/* unknown frame type keeps the connection open */
		tdev_send_raw(&attacker, "\x93\xcc\xc8\x05\x80", 5);
		CHECK_EQ_INT(error_reply(), -PROTO_E_UNKNOWN_TYPE);
		CHECK_EQ_INT(attacker.frame.request_id, 5);
		/* a relay-to-client frame sent to the relay */
		tdev_send_raw(&attacker, "\x93\x41\x06\x80", 4);
		CHECK(error_reply() > 0);
		/* random bytes */
		uint8_t noise[512];
		randombytes_buf(noise, sizeof noise);
		noise[0] = 0x93; /* an array of 3, so it is not trivially rejected */
		tdev_send_raw(&attacker, noise, sizeof noise);
		CHECK(error_reply() > 0);
		/* a request before authentication */
		proto_frame_init(&f, PROTO_T_SEND, 9);
		f.body.send.cmid = cmid;
		f.body.send.to[0] = dev;
		f.body.send.to_count = 1;
		f.body.send.env[0].device = dev;
		f.body.send.env[0].ciphertext = (proto_bytes){ (const uint8_t *)"ct", 2 };
		f.body.send.env_count = 1;
		REQUIRE(proto_frame_encode(&f, buf, sizeof buf, &len) == 0);
		tdev_send_raw(&attacker, buf, len);
		CHECK_EQ_INT(error_reply(), -PROTO_E_NOT_AUTHENTICATED);
		exchange_one(round);
	}
	/* Oversized: more than max_frame_bytes ends the connection with 1009 after an error. */
	size_t big_len = (1u << 20) + 1;
	uint8_t *big = calloc(1, big_len);
	big[0] = 0x93;
	wsc_send_fragmented(&attacker.ws, WS_OP_BINARY, big, big_len, 65536);
	free(big);
	CHECK_EQ_INT(error_reply(), -PROTO_E_TOO_LARGE);
	CHECK_EQ_INT(tdev_wait(&attacker, PROTO_T_ERROR, 3000), -1);
	CHECK_EQ_INT(attacker.ws.close_code, 1009);
	exchange_one(10);

	/* A text frame is refused with 1003. */
	REQUIRE(tdev_connect(&attacker) == 0);
	wsc_send(&attacker.ws, WS_OP_TEXT, "{\"hello\":1}", 11);
	CHECK(error_reply() > 0);
	CHECK_EQ_INT(tdev_wait(&attacker, PROTO_T_ERROR, 3000), -1);
	CHECK_EQ_INT(attacker.ws.close_code, 1003);
	CHECK(strcmp(attacker.ws.close_reason, "text frames are not accepted; use binary frames") == 0);

	/* Broken WebSocket framing from a fresh connection. */
	REQUIRE(tdev_connect(&attacker) == 0);
	wsc_send_raw(&attacker.ws, "\xff\xff\xff\xff\xff\xff", 6);
	tdev_disconnect(&attacker);
	exchange_one(11);
}

static void relay_still_healthy(void)
{
	int status = 0;
	char *body = NULL;
	REQUIRE(admin_get(relay.admin_port, "/healthz", &status, &body) == 0);
	CHECK_EQ_INT(status, 200);
	free(body);
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
}

int main(void)
{
	/* Many bad frames, before and after authentication: the rate limits are
	 * test_relay_edge's subject, not this one's. */
	const char *cfg = "[limits]\nrequests_per_second = 1000\n"
			  "unauth_requests_per_second = 1000\nunauth_request_burst = 1000\n";
	if (sodium_init() < 0 || relay_proc_start(&relay, cfg, true) != 0)
		return 1;
	tdev_init(&anna, relay.port);
	tdev_init(&bo, relay.port);
	tdev_init(&attacker, relay.port);
	if (tdev_register(&anna, "dev-mitid", "anna", 5) != 0 ||
	    tdev_register(&bo, "dev-mitid", "bo", 5) != 0 || tdev_connect(&attacker) != 0)
		return 1;
	RUN(bad_frames_get_errors_and_others_are_unaffected);
	RUN(relay_still_healthy);
	tdev_free(&anna);
	tdev_free(&bo);
	tdev_free(&attacker);
	relay_proc_cleanup(&relay);
	return TEST_RESULT();
}
