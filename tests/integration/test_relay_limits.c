/* SPDX-License-Identifier: MPL-2.0 */
/* Limits against a real relay with small settings: mailbox quota refuses a send whole, envelopes
 * expire after their TTL and the sender is told, unauthenticated connections are closed at their
 * deadline, requests per second are limited, and connections per address are bounded. */
#include <sodium.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <string.h>
#include <unistd.h>

#include "relay_proc.h"
#include "tclient.h"
#include "test.h"

static struct relay_proc relay;
static struct tdev anna, bo;

static int send_to_bo(const char *ct, bool receipts)
{
	uint8_t cmid[16], to[1][16], devs[1][16];
	randombytes_buf(cmid, sizeof cmid);
	memcpy(to[0], bo.account_id, 16);
	memcpy(devs[0], bo.device_id, 16);
	return tdev_send(&anna, cmid, (const uint8_t(*)[16])to, 1, NULL, NULL,
			 (const uint8_t(*)[16])devs, 1, ct, strlen(ct), receipts);
}

static void quota_refuses_whole_send_and_stores_nothing(void)
{
	tdev_disconnect(&bo);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(send_to_bo("fits", false), PROTO_T_STORED);
	CHECK_EQ_INT(send_to_bo("one too many", false), PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_QUOTA_EXCEEDED);
	/* bo finds exactly the three that fitted, and nothing of the refused one. */
	REQUIRE(tdev_login(&bo) == 0);
	for (int i = 0; i < 3; i++) {
		REQUIRE(tdev_wait(&bo, PROTO_T_DELIVER, 5000) == PROTO_T_DELIVER);
		CHECK(bo.frame.body.deliver.ciphertext.len == 4);
		CHECK_EQ_INT(tdev_ack(&bo, bo.frame.body.deliver.seq), PROTO_T_OK);
	}
	CHECK_EQ_INT(tdev_wait(&bo, PROTO_T_DELIVER, 300), 0);
}

static void envelopes_expire_and_sender_is_told(void)
{
	tdev_disconnect(&bo);
	CHECK_EQ_INT(send_to_bo("too late", true), PROTO_T_STORED);
	uint8_t cmid[16];
	memcpy(cmid, anna.frame.body.stored.cmid, 16);
	/* TTL is 1 s; the expiry pass runs every second. */
	REQUIRE(tdev_wait(&anna, PROTO_T_EXPIRED, 5000) == PROTO_T_EXPIRED);
	CHECK_MEM(anna.frame.body.expired.cmid, cmid, 16);
	CHECK_MEM(anna.frame.body.expired.device, bo.device_id, 16);
	CHECK_MEM(anna.frame.body.expired.account, bo.account_id, 16);
	REQUIRE(tdev_login(&bo) == 0);
	CHECK_EQ_INT(tdev_wait(&bo, PROTO_T_DELIVER, 500), 0);
}

static void receipt_waits_for_an_offline_sender(void)
{
	CHECK_EQ_INT(send_to_bo("hello", true), PROTO_T_STORED);
	uint8_t cmid[16];
	memcpy(cmid, anna.frame.body.stored.cmid, 16);
	tdev_disconnect(&anna);
	REQUIRE(tdev_wait(&bo, PROTO_T_DELIVER, 5000) == PROTO_T_DELIVER);
	CHECK_EQ_INT(tdev_ack(&bo, bo.frame.body.deliver.seq), PROTO_T_OK);
	REQUIRE(tdev_login(&anna) == 0);
	REQUIRE(tdev_wait(&anna, PROTO_T_RECEIPT, 3000) == PROTO_T_RECEIPT);
	CHECK_MEM(anna.frame.body.receipt.cmid, cmid, 16);
	CHECK_MEM(anna.frame.body.receipt.device, bo.device_id, 16);
}

static void unauthenticated_connection_closed_at_deadline(void)
{
	struct tdev idle;
	tdev_init(&idle, relay.port);
	REQUIRE(tdev_connect(&idle) == 0);
	CHECK_EQ_INT(tdev_wait(&idle, PROTO_T_DELIVER, 3000), -1);
	CHECK_EQ_INT(idle.ws.close_code, 4002);
	CHECK(strcmp(idle.ws.close_reason, "authentication deadline passed") == 0);
	tdev_free(&idle);
}

static void requests_per_second_limited(void)
{
	int limited = 0;
	for (int i = 0; i < 40; i++) {
		proto_frame f;
		proto_frame_init(&f, PROTO_T_KEY_COUNT_GET, 0);
		int t = tdev_request(&anna, &f, 5000);
		if (t == PROTO_T_ERROR && anna.frame.body.error.code == -PROTO_E_RATE_LIMITED)
			limited++;
	}
	CHECK(limited > 0);
	sleep(1);
	proto_frame f;
	proto_frame_init(&f, PROTO_T_KEY_COUNT_GET, 0);
	CHECK_EQ_INT(tdev_request(&anna, &f, 5000), PROTO_T_KEY_COUNT);
}

static void connections_per_address_bounded(void)
{
	/* anna and bo hold two; the limit is 6. */
	struct wsc extra[6];
	int opened = 0, refused = 0;
	for (int i = 0; i < 6; i++) {
		if (wsc_connect(&extra[i], relay.port, "/v1", "wakks.v1") != 0)
			continue;
		opened++;
		int op = wsc_recv(&extra[i], 3000);
		if (op == WS_OP_CLOSE && extra[i].close_code == 1008)
			refused++;
	}
	CHECK_EQ_INT(refused, 2);
	for (int i = 0; i < opened; i++)
		wsc_close(&extra[i]);
}

static void slow_reader_is_not_buffered_without_bound(void)
{
	/* A second relay with a small outgoing queue and no practical rate limit: a peer that sends
	 * requests without reading the replies makes the relay stop reading from it. */
	if (relay_test_engine_pg()) {
		/* The connection layer's, the same with either engine; but with PostgreSQL each
		 * devices_list is a round trip to the database, so filling the kernel's socket
		 * buffers (megabytes of replies) would take minutes. */
		fprintf(stderr, "  (skipped with PostgreSQL)\n");
		return;
	}
	struct relay_proc r2;
	REQUIRE(relay_proc_start(&r2, "[limits]\nsend_queue_max_bytes = 65536\n"
				      "requests_per_second = 1000000\nrequest_burst = 1000000\n", true) == 0);
	struct tdev slow;
	tdev_init(&slow, r2.port);
	REQUIRE(tdev_register(&slow, "dev-mitid", "anna", 1) == 0);
	static proto_frame f;
	uint8_t buf[64];
	size_t len;
	proto_frame_init(&f, PROTO_T_DEVICES_LIST, 1);
	REQUIRE(proto_frame_encode(&f, buf, sizeof buf, &len) == 0);
	/* Each reply lists the device (~90 bytes): 300000 of them are ~27 MB, past what the kernel's
	 * socket buffers absorb. Once the relay stops reading, our writes time out and we stop. */
	struct timeval tv = { 2, 0 };
	setsockopt(slow.ws.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int sent = 0;
	for (; sent < 300000; sent++)
		if (wsc_send(&slow.ws, WS_OP_BINARY, buf, len) != 0)
			break;
	int status = 0;
	char *body = NULL;
	REQUIRE(admin_get(r2.admin_port, "/metrics", &status, &body) == 0);
	const char *at = strstr(body, "\nwakks_backpressure_pauses_total ");
	CHECK(at && atol(at + strlen("\nwakks_backpressure_pauses_total ")) > 0);
	free(body);
	/* Reading the replies resumes the connection: the last request is answered. */
	int replies = 0;
	while (tdev_wait(&slow, PROTO_T_DEVICES, 3000) == PROTO_T_DEVICES)
		replies++;
	CHECK(replies > 0);
	CHECK(replies >= sent - 1); /* the write that timed out may have left a partial frame */
	tdev_free(&slow);
	CHECK_EQ_INT(relay_proc_stop(&r2), 0);
	relay_proc_cleanup(&r2);
}

int main(void)
{
	const char *cfg = "[limits]\nmailbox_max_envelopes = 3\nenvelope_ttl_seconds = 1\n"
			  "unauth_timeout_ms = 1500\nrequests_per_second = 10\nrequest_burst = 10\n"
			  "max_connections_per_address = 6\n";
	if (sodium_init() < 0 || relay_proc_start(&relay, cfg, true) != 0)
		return 1;
	tdev_init(&anna, relay.port);
	tdev_init(&bo, relay.port);
	if (tdev_register(&anna, "dev-mitid", "anna", 5) != 0 ||
	    tdev_register(&bo, "dev-mitid", "bo", 5) != 0)
		return 1;
	RUN(quota_refuses_whole_send_and_stores_nothing);
	RUN(envelopes_expire_and_sender_is_told);
	RUN(receipt_waits_for_an_offline_sender);
	RUN(unauthenticated_connection_closed_at_deadline);
	RUN(requests_per_second_limited);
	RUN(connections_per_address_bounded);
	RUN(slow_reader_is_not_buffered_without_bound);
	tdev_free(&anna);
	tdev_free(&bo);
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
	relay_proc_cleanup(&relay);
	return TEST_RESULT();
}
