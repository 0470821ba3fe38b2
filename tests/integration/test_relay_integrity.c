/* SPDX-License-Identifier: MPL-2.0 */
/* What the relay does with what it stores and how it hands it out: bit rot in data.mdb is never
 * delivered as data but reported lost (spec/storage.md §2.1, spec/protocol.md §8.3) and listed by
 * check-data; the in-flight window caps unacknowledged deliveries (§8.3). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay_proc.h"
#include "tclient.h"
#include "bitrot.h"
#include "test.h"
#include "wsclient.h"

static struct relay_proc relay;
static struct tdev anna, bo; /* two citizens, each with one device */

static int command(const char *what, char **out)
{
	char *err = NULL;
	char *args[] = { (char *)relay_binary(), "--config", relay.config_path, (char *)what, NULL };
	int rc = relay_run_command_io(args, NULL, out, &err);
	free(err);
	return rc;
}

static void ct_of(char *ct, size_t size, int n)
{
	snprintf(ct, size, "CT-%d-the-ciphertext-bytes-as-sent", n);
}

static uint64_t metric(const char *name)
{
	int status = 0;
	char *body = NULL;
	uint64_t v = UINT64_MAX;
	if (admin_get(relay.admin_port, "/metrics", &status, &body) != 0)
		return v;
	char key[128];
	snprintf(key, sizeof key, "\n%s ", name);
	const char *p = body ? strstr(body, key) : NULL;
	if (p)
		v = strtoull(p + strlen(key), NULL, 10);
	free(body);
	return v;
}

static void damaged_envelope_is_reported_lost_not_delivered(void)
{
	char ct[64], file[400];
	tdev_disconnect(&bo);
	uint8_t to[1][16], devs[1][16];
	memcpy(to[0], bo.account_id, 16);
	memcpy(devs[0], bo.device_id, 16);
	for (int i = 1; i <= 5; i++) {
		uint8_t cmid[16] = { (uint8_t)i };
		ct_of(ct, sizeof ct, i);
		CHECK_EQ_INT(tdev_send(&anna, cmid, (const uint8_t(*)[16])to, 1, NULL, NULL,
				       (const uint8_t(*)[16])devs, 1, ct, strlen(ct), false),
			     PROTO_T_STORED);
	}
	tdev_disconnect(&anna);
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);

	/* one bit of envelope 3's ciphertext rots on disk */
	snprintf(file, sizeof file, "%s/db/data.mdb", relay.data_dir);
	REQUIRE(bitrot_flip(file, "CT-3-the-", 12, 0x04) > 0);

	char *out = NULL;
	CHECK_EQ_INT(command("check-data", &out), 1);
	CHECK(out && strstr(out, "damaged: mailboxes key=") != NULL);
	CHECK(out && strstr(out, ", 1 damaged") != NULL);
	free(out);

	REQUIRE(relay_proc_restart(&relay, true) == 0);
	bo.port = relay.port;
	REQUIRE(tdev_login(&bo) == 0);
	int delivered = 0, lost = 0;
	for (;;) {
		int t = tdev_next(&bo, 1500);
		if (t <= 0)
			break;
		if (t == PROTO_T_ERROR) {
			CHECK_EQ_INT(bo.frame.request_id, 0);
			CHECK_EQ_INT(bo.frame.body.error.code, 45);
			lost++;
		} else if (t == PROTO_T_DELIVER) {
			int n = bo.frame.body.deliver.cmid[0];
			ct_of(ct, sizeof ct, n);
			CHECK(n != 3);
			CHECK_EQ_INT(bo.frame.body.deliver.ciphertext.len, strlen(ct));
			CHECK_MEM(bo.frame.body.deliver.ciphertext.ptr, ct, strlen(ct));
			delivered++;
			CHECK_EQ_INT(tdev_ack(&bo, bo.frame.body.deliver.seq), PROTO_T_OK);
		}
	}
	CHECK_EQ_INT(delivered, 4);
	CHECK_EQ_INT(lost, 1);
	CHECK(relay_log_contains(&relay, "envelope_damaged"));
	CHECK_EQ_INT(metric("wakks_envelopes_lost_total"), 1);
	CHECK(metric("wakks_store_corrupt_reads_total") >= 1);

	/* reported once: the damaged copy is gone, and the database is whole again */
	tdev_disconnect(&bo);
	REQUIRE(tdev_login(&bo) == 0);
	int again = 0;
	for (int t; (t = tdev_next(&bo, 500)) > 0;)
		again += t == PROTO_T_ERROR || t == PROTO_T_DELIVER;
	CHECK_EQ_INT(again, 0);
	out = NULL;
	CHECK_EQ_INT(command("check-data", &out), 0);
	CHECK(out && strstr(out, ", 0 damaged") != NULL);
	free(out);
}

/* Counts the deliver frames that arrive within ms, acking none; their seqs go to seqs. */
static int deliveries(struct tdev *d, int ms, uint64_t *seqs, int cap)
{
	int n = 0;
	for (int t; (t = tdev_wait(d, PROTO_T_DELIVER, ms)) > 0;) {
		if (n < cap)
			seqs[n] = d->frame.body.deliver.seq;
		n++;
	}
	return n;
}

static void inflight_window_caps_unacknowledged_deliveries(void)
{
	uint64_t seqs[32];
	tdev_disconnect(&bo);
	uint8_t to[1][16], devs[1][16];
	memcpy(to[0], bo.account_id, 16);
	memcpy(devs[0], bo.device_id, 16);
	for (int i = 1; i <= 10; i++) {
		uint8_t cmid[16] = { 0xc0, (uint8_t)i };
		CHECK_EQ_INT(tdev_send(&anna, cmid, (const uint8_t(*)[16])to, 1, NULL, NULL,
				       (const uint8_t(*)[16])devs, 1, "ct", 2, false),
			     PROTO_T_STORED);
	}

	/* the relay is configured with a window of 3: three, and no more until an ack */
	REQUIRE(tdev_login(&bo) == 0);
	CHECK_EQ_INT(deliveries(&bo, 700, seqs, 32), 3);
	/* an ack opens one slot, also for an envelope stored meanwhile */
	CHECK_EQ_INT(tdev_ack(&bo, seqs[1]), PROTO_T_OK);
	CHECK_EQ_INT(deliveries(&bo, 700, seqs + 3, 29), 1);
	uint8_t cmid[16] = { 0xc0, 11 };
	CHECK_EQ_INT(tdev_send(&anna, cmid, (const uint8_t(*)[16])to, 1, NULL, NULL,
			       (const uint8_t(*)[16])devs, 1, "ct", 2, false),
		     PROTO_T_STORED);
	CHECK_EQ_INT(deliveries(&bo, 500, seqs + 4, 28), 0);
	/* acking as they come, every envelope arrives, in order */
	uint64_t last = seqs[3];
	int total = 4;
	CHECK_EQ_INT(tdev_ack(&bo, seqs[0]), PROTO_T_OK);
	CHECK_EQ_INT(tdev_ack(&bo, seqs[2]), PROTO_T_OK);
	CHECK_EQ_INT(tdev_ack(&bo, seqs[3]), PROTO_T_OK);
	for (int t; (t = tdev_wait(&bo, PROTO_T_DELIVER, 700)) > 0;) {
		uint64_t seq = bo.frame.body.deliver.seq;
		CHECK(seq > last);
		last = seq;
		total++;
		CHECK_EQ_INT(tdev_ack(&bo, seq), PROTO_T_OK);
	}
	CHECK_EQ_INT(total, 11);

	/* With everything acknowledged the relay lets go of the window; the next deliveries get
	 * one again, as small as before: three, and no more until an ack. */
	for (int i = 12; i <= 16; i++) {
		uint8_t more[16] = { 0xc0, (uint8_t)i };
		CHECK_EQ_INT(tdev_send(&anna, more, (const uint8_t(*)[16])to, 1, NULL, NULL,
				       (const uint8_t(*)[16])devs, 1, "ct", 2, false),
			     PROTO_T_STORED);
	}
	CHECK_EQ_INT(deliveries(&bo, 700, seqs, 32), 3);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(tdev_ack(&bo, seqs[i]), PROTO_T_OK);
	CHECK_EQ_INT(deliveries(&bo, 700, seqs, 32), 2);
	for (int i = 0; i < 2; i++)
		CHECK_EQ_INT(tdev_ack(&bo, seqs[i]), PROTO_T_OK);
	CHECK_EQ_INT(deliveries(&bo, 300, seqs, 32), 0);
}

int main(void)
{
	if (sodium_init() < 0 ||
	    relay_proc_start(&relay, "[limits]\nmax_inflight_deliveries = 3\n", true) != 0)
		return 1;
	tdev_init(&anna, relay.port);
	tdev_init(&bo, relay.port);
	if (tdev_register(&anna, "dev-mitid", "anna", 1) != 0 ||
	    tdev_register(&bo, "dev-mitid", "bo", 1) != 0)
		return 1;
	RUN(inflight_window_caps_unacknowledged_deliveries);
	RUN(damaged_envelope_is_reported_lost_not_delivered);
	tdev_free(&anna);
	tdev_free(&bo);
	relay_proc_cleanup(&relay);
	return TEST_RESULT();
}
