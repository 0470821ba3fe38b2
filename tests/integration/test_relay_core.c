/* SPDX-License-Identifier: MPL-2.0 */
/* Store-and-forward against a real relay process: registration through the development identity
 * provider, authentication, fan-out to several devices, in-order delivery, acks that delete,
 * offline drain, redelivery, idempotent resend, device-set mismatch, quota, expiry, revocation
 * and one-time prekeys handed out once. Ciphertexts are opaque bytes. */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay_proc.h"
#include "relay_store.h"
#include "tclient.h"
#include "test.h"
#include "wakks_storage.h"

static struct relay_proc relay;
static struct tdev anna, bo1, bo2, camilla;

static void cmid_make(uint8_t cmid[16])
{
	randombytes_buf(cmid, 16);
}

static void registration_binds_devices_to_accounts(void)
{
	tdev_init(&anna, relay.port);
	tdev_init(&bo1, relay.port);
	tdev_init(&bo2, relay.port);
	tdev_init(&camilla, relay.port);
	REQUIRE(tdev_register(&anna, "dev-mitid", "anna", 10) == 0);
	REQUIRE(tdev_register(&bo1, "dev-mitid", "bo", 10) == 0);
	REQUIRE(tdev_register(&bo2, "dev-mitid", "bo", 10) == 0);
	/* bo's first device hears that its account has a new device. */
	REQUIRE(tdev_wait(&bo1, PROTO_T_DEVICES_CHANGED, 3000) == PROTO_T_DEVICES_CHANGED);
	CHECK_MEM(bo1.frame.body.devices_changed.account, bo1.account_id, 16);
	REQUIRE(tdev_register(&camilla, "dev-adfs", "camilla", 10) == 0);
	/* Two devices of one person share an account; different people do not. */
	CHECK_MEM(bo1.account_id, bo2.account_id, 16);
	CHECK(memcmp(bo1.device_id, bo2.device_id, 16) != 0);
	CHECK(memcmp(anna.account_id, bo1.account_id, 16) != 0);
	CHECK(memcmp(anna.account_id, camilla.account_id, 16) != 0);
}

static void auth_with_registered_key_and_refusals(void)
{
	/* A new connection authenticates with the device key. */
	CHECK_EQ_INT(tdev_login(&anna), 0);
	CHECK_MEM(anna.frame.body.auth_ok.account, anna.account_id, 16);

	/* A wrong key is refused and the connection closed. */
	struct tdev forger;
	tdev_init(&forger, relay.port);
	memcpy(forger.device_id, anna.device_id, 16);
	REQUIRE(tdev_connect(&forger) == 0);
	CHECK_EQ_INT(tdev_auth(&forger), PROTO_T_ERROR);
	CHECK_EQ_INT(forger.frame.body.error.code, -PROTO_E_AUTH_FAILED);
	tdev_free(&forger);

	/* Before authenticating, only auth and register are served. */
	struct tdev anon;
	tdev_init(&anon, relay.port);
	REQUIRE(tdev_connect(&anon) == 0);
	proto_frame f;
	proto_frame_init(&f, PROTO_T_KEY_COUNT_GET, 0);
	CHECK_EQ_INT(tdev_request(&anon, &f, 5000), PROTO_T_ERROR);
	CHECK_EQ_INT(anon.frame.body.error.code, -PROTO_E_NOT_AUTHENTICATED);
	tdev_free(&anon);
}

static int device_set_size(struct tdev *asker, const uint8_t account[16])
{
	proto_frame f;
	proto_frame_init(&f, PROTO_T_DEVICE_SET_GET, 0);
	f.body.device_set_get.account = account;
	if (tdev_request(asker, &f, 5000) != PROTO_T_DEVICE_SET)
		return -1;
	return (int)asker->frame.body.device_set.count;
}

static void directory_lists_current_device_sets(void)
{
	/* A citizen sees her own account's devices and the municipality's, never another citizen's
	 * (test_access covers who may see what). */
	CHECK_EQ_INT(device_set_size(&bo1, bo1.account_id), 2);
	CHECK_EQ_INT(device_set_size(&anna, anna.account_id), 1);
	CHECK_EQ_INT(device_set_size(&anna, camilla.account_id), 1);
	proto_frame f;
	proto_frame_init(&f, PROTO_T_DEVICE_SET_GET, 0);
	f.body.device_set_get.tenant = (proto_str){ "varde", 5 };
	f.body.device_set_get.unit = (proto_str){ "jobcenter", 9 };
	CHECK_EQ_INT(tdev_request(&anna, &f, 5000), PROTO_T_DEVICE_SET);
	CHECK_EQ_INT(anna.frame.body.device_set.count, 1);
	CHECK(anna.frame.body.device_set.count == 1 &&
	      memcmp(anna.frame.body.device_set.list[0].device, camilla.device_id, 16) == 0);
	proto_frame_init(&f, PROTO_T_TENANTS_LIST, 0);
	CHECK_EQ_INT(tdev_request(&anna, &f, 5000), PROTO_T_TENANTS);
	CHECK_EQ_INT(anna.frame.body.tenants.count, 1);
	proto_frame_init(&f, PROTO_T_UNITS_LIST, 0);
	f.body.units_list.tenant = (proto_str){ "varde", 5 };
	CHECK_EQ_INT(tdev_request(&anna, &f, 5000), PROTO_T_UNITS);
	CHECK_EQ_INT(anna.frame.body.units.count, 2);
}

static void fan_out_delivers_in_order_and_acks_delete(void)
{
	/* A citizen's message reaches a caseworker through the caseworker's unit (and so the unit's
	 * journal devices); accounts may be addressed beside it. */
	uint8_t to[1][16];
	memcpy(to[0], bo1.account_id, 16);
	uint8_t devs[3][16];
	memcpy(devs[0], bo1.device_id, 16);
	memcpy(devs[1], bo2.device_id, 16);
	memcpy(devs[2], camilla.device_id, 16);
	for (int i = 0; i < 5; i++) {
		uint8_t cmid[16];
		char ct[32];
		cmid_make(cmid);
		int n = snprintf(ct, sizeof ct, "opaque-%d", i);
		CHECK_EQ_INT(tdev_send(&anna, cmid, (const uint8_t(*)[16])to, 1, "varde", "jobcenter",
				       (const uint8_t(*)[16])devs, 3, ct, (size_t)n, true),
			     PROTO_T_STORED);
		CHECK_MEM(anna.frame.body.stored.cmid, cmid, 16);
	}
	struct tdev *rcpt[3] = { &bo1, &bo2, &camilla };
	for (int r = 0; r < 3; r++) {
		uint64_t last = 0;
		for (int i = 0; i < 5; i++) {
			REQUIRE(tdev_wait(rcpt[r], PROTO_T_DELIVER, 5000) == PROTO_T_DELIVER);
			const proto_deliver *dl = &rcpt[r]->frame.body.deliver;
			char want[32];
			int n = snprintf(want, sizeof want, "opaque-%d", i);
			CHECK_EQ_INT(dl->ciphertext.len, n);
			CHECK(memcmp(dl->ciphertext.ptr, want, (size_t)n) == 0);
			CHECK_MEM(dl->account, anna.account_id, 16);
			CHECK_MEM(dl->device, anna.device_id, 16);
			CHECK(dl->seq > last);
			last = dl->seq;
			uint64_t seq = dl->seq;
			CHECK_EQ_INT(tdev_ack(rcpt[r], seq), PROTO_T_OK);
		}
	}
	/* The sender hears a receipt per device and message: which device, never content. */
	int receipts = 0;
	while (tdev_wait(&anna, PROTO_T_RECEIPT, 2000) == PROTO_T_RECEIPT)
		receipts++;
	CHECK_EQ_INT(receipts, 15);
}

static void citizen_writes_to_a_unit(void)
{
	uint8_t devs[1][16], cmid[16];
	memcpy(devs[0], camilla.device_id, 16);
	cmid_make(cmid);
	CHECK_EQ_INT(tdev_send(&anna, cmid, NULL, 0, "varde", "jobcenter", (const uint8_t(*)[16])devs,
			       1, "to the unit", 11, false),
		     PROTO_T_STORED);
	REQUIRE(tdev_wait(&camilla, PROTO_T_DELIVER, 5000) == PROTO_T_DELIVER);
	const proto_deliver *d = &camilla.frame.body.deliver;
	CHECK(d->tenant.len == 5 && memcmp(d->tenant.ptr, "varde", 5) == 0);
	CHECK(d->unit.len == 9 && memcmp(d->unit.ptr, "jobcenter", 9) == 0);
	CHECK_MEM(d->account, anna.account_id, 16);
	CHECK_EQ_INT(tdev_ack(&camilla, d->seq), PROTO_T_OK);
	/* A unit that does not exist. */
	cmid_make(cmid);
	CHECK_EQ_INT(tdev_send(&anna, cmid, NULL, 0, "varde", "nowhere", (const uint8_t(*)[16])devs,
			       1, "x", 1, false),
		     PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_NOT_FOUND);
}

static void device_set_mismatch_lists_missing_and_stale(void)
{
	uint8_t to[1][16], devs[2][16], cmid[16];
	memcpy(to[0], bo1.account_id, 16);
	memcpy(devs[0], bo1.device_id, 16);      /* bo2 missing */
	memcpy(devs[1], camilla.device_id, 16);  /* camilla not addressed: stale */
	cmid_make(cmid);
	CHECK_EQ_INT(tdev_send(&anna, cmid, (const uint8_t(*)[16])to, 1, NULL, NULL,
			       (const uint8_t(*)[16])devs, 2, "x", 1, false),
		     PROTO_T_ERROR);
	const proto_error *e = &anna.frame.body.error;
	CHECK_EQ_INT(e->code, -PROTO_E_DEVICE_MISMATCH);
	CHECK(e->has_details);
	CHECK_EQ_INT(e->details.missing_count, 1);
	CHECK(e->details.missing_count == 1 && memcmp(e->details.missing[0], bo2.device_id, 16) == 0);
	CHECK_EQ_INT(e->details.stale_count, 1);
	CHECK(e->details.stale_count == 1 && memcmp(e->details.stale[0], camilla.device_id, 16) == 0);
	/* Nothing was stored: bo1 gets nothing. */
	CHECK_EQ_INT(tdev_wait(&bo1, PROTO_T_DELIVER, 300), 0);
}

static void offline_drain_redelivery_and_idempotent_resend(void)
{
	tdev_disconnect(&bo2);
	uint8_t to[1][16], devs[2][16];
	memcpy(to[0], bo1.account_id, 16);
	memcpy(devs[0], bo1.device_id, 16);
	memcpy(devs[1], bo2.device_id, 16);
	uint8_t cmids[3][16];
	for (int i = 0; i < 3; i++) {
		cmid_make(cmids[i]);
		char ct[8] = { 'm', (char)('0' + i) };
		CHECK_EQ_INT(tdev_send(&anna, cmids[i], (const uint8_t(*)[16])to, 1, NULL, NULL,
				       (const uint8_t(*)[16])devs, 2, ct, 2, false),
			     PROTO_T_STORED);
	}
	uint64_t first_time = 0;
	/* Resend of the first message with the same id: same answer, nothing new stored. */
	CHECK_EQ_INT(tdev_send(&anna, cmids[0], (const uint8_t(*)[16])to, 1, NULL, NULL,
			       (const uint8_t(*)[16])devs, 2, "m0", 2, false),
		     PROTO_T_STORED);
	first_time = anna.frame.body.stored.time;
	CHECK(first_time > 0);

	/* bo2 comes back: drains in order; does not ack the last one. */
	REQUIRE(tdev_login(&bo2) == 0);
	uint64_t seqs[3];
	for (int i = 0; i < 3; i++) {
		REQUIRE(tdev_wait(&bo2, PROTO_T_DELIVER, 5000) == PROTO_T_DELIVER);
		CHECK(bo2.frame.body.deliver.ciphertext.len == 2 &&
		      bo2.frame.body.deliver.ciphertext.ptr[1] == '0' + i);
		CHECK_MEM(bo2.frame.body.deliver.cmid, cmids[i], 16);
		seqs[i] = bo2.frame.body.deliver.seq;
	}
	CHECK_EQ_INT(tdev_wait(&bo2, PROTO_T_DELIVER, 300), 0); /* the resend stored nothing */
	CHECK_EQ_INT(tdev_ack(&bo2, seqs[0]), PROTO_T_OK);
	CHECK_EQ_INT(tdev_ack(&bo2, seqs[1]), PROTO_T_OK);

	/* Unacknowledged envelopes are delivered again after a reconnect; acked ones are not. */
	REQUIRE(tdev_login(&bo2) == 0);
	REQUIRE(tdev_wait(&bo2, PROTO_T_DELIVER, 5000) == PROTO_T_DELIVER);
	CHECK_EQ_INT(bo2.frame.body.deliver.seq, seqs[2]);
	CHECK_EQ_INT(tdev_ack(&bo2, seqs[2]), PROTO_T_OK);
	CHECK_EQ_INT(tdev_wait(&bo2, PROTO_T_DELIVER, 300), 0);

	/* bo1 was online all along. */
	for (int i = 0; i < 3; i++) {
		REQUIRE(tdev_wait(&bo1, PROTO_T_DELIVER, 5000) == PROTO_T_DELIVER);
		CHECK_EQ_INT(tdev_ack(&bo1, bo1.frame.body.deliver.seq), PROTO_T_OK);
	}
}

static void one_connection_per_device(void)
{
	static struct tdev second;
	tdev_init(&second, relay.port);
	tdev_copy_identity(&second, &bo1);
	REQUIRE(tdev_login(&second) == 0);
	/* The older connection is closed with a reason. */
	CHECK_EQ_INT(tdev_wait(&bo1, PROTO_T_DELIVER, 3000), -1);
	CHECK_EQ_INT(bo1.ws.close_code, 4001);
	CHECK(strcmp(bo1.ws.close_reason, "replaced by a newer connection of this device") == 0);
	tdev_free(&second);
	REQUIRE(tdev_login(&bo1) == 0);
}

struct fetch_arg {
	int port;
	uint8_t target[16];
	uint32_t ids[64];
	int n;
};

static void *fetch_bundles(void *p)
{
	struct fetch_arg *a = p;
	struct tdev d;
	tdev_init(&d, a->port);
	if (tdev_register(&d, "dev-mitid", "bo", 0) != 0) {
		tdev_free(&d);
		return NULL;
	}
	for (int i = 0; i < 8; i++) {
		proto_frame f;
		proto_frame_init(&f, PROTO_T_BUNDLES_FETCH, 0);
		f.body.bundles_fetch.account = a->target;
		if (tdev_request(&d, &f, 10000) != PROTO_T_BUNDLES)
			break;
		for (uint32_t j = 0; j < d.frame.body.bundles.count; j++)
			if (d.frame.body.bundles.list[j].has_opk && a->n < 64)
				a->ids[a->n++] = d.frame.body.bundles.list[j].opk.id;
	}
	tdev_free(&d);
	return NULL;
}

static void concurrent_bundle_fetches_never_share_a_one_time_prekey(void)
{
	/* Camilla's device has 10 one-time prekeys; four citizen devices, who may write to her,
	 * fetch 8 times each at once. */
	struct fetch_arg args[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		memset(&args[i], 0, sizeof args[i]);
		args[i].port = relay.port;
		memcpy(args[i].target, camilla.account_id, 16);
		pthread_create(&th[i], NULL, fetch_bundles, &args[i]);
	}
	int total = 0;
	uint32_t seen[256];
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		for (int j = 0; j < args[i].n; j++) {
			for (int k = 0; k < total; k++)
				CHECK(seen[k] != args[i].ids[j]);
			seen[total++] = args[i].ids[j];
		}
	}
	CHECK_EQ_INT(total, 10);
	/* Camilla is told her one-time prekeys run low. */
	CHECK_EQ_INT(tdev_wait(&camilla, PROTO_T_PREKEYS_LOW, 3000), PROTO_T_PREKEYS_LOW);
	proto_frame f;
	proto_frame_init(&f, PROTO_T_KEY_COUNT_GET, 0);
	CHECK_EQ_INT(tdev_request(&camilla, &f, 5000), PROTO_T_KEY_COUNT);
	CHECK_EQ_INT(camilla.frame.body.key_count.count, 0);
}

static void revoked_device_is_refused(void)
{
	proto_frame f;
	proto_frame_init(&f, PROTO_T_DEVICES_LIST, 0);
	CHECK_EQ_INT(tdev_request(&bo1, &f, 5000), PROTO_T_DEVICES);
	CHECK(bo1.frame.body.devices.count >= 2);
	proto_frame_init(&f, PROTO_T_DEVICE_REVOKE, 0);
	f.body.device_revoke.device = bo2.device_id;
	while (tdev_wait(&bo1, PROTO_T_DEVICES_CHANGED, 200) == PROTO_T_DEVICES_CHANGED)
		; /* the registrations of the bundle test */
	CHECK_EQ_INT(tdev_request(&bo1, &f, 5000), PROTO_T_OK);
	CHECK_EQ_INT(tdev_wait(&bo1, PROTO_T_DEVICES_CHANGED, 3000), PROTO_T_DEVICES_CHANGED);
	/* Its live connection is closed, and it can no longer authenticate. */
	CHECK_EQ_INT(tdev_wait(&bo2, PROTO_T_DELIVER, 3000), -1);
	CHECK_EQ_INT(bo2.ws.close_code, 4004);
	REQUIRE(tdev_connect(&bo2) == 0);
	CHECK_EQ_INT(tdev_auth(&bo2), PROTO_T_ERROR);
	CHECK_EQ_INT(bo2.frame.body.error.code, -PROTO_E_AUTH_FAILED);
	/* A send must no longer include it. */
	uint8_t to[1][16], devs[2][16], cmid[16];
	memcpy(to[0], bo1.account_id, 16);
	memcpy(devs[0], bo1.device_id, 16);
	memcpy(devs[1], bo2.device_id, 16);
	cmid_make(cmid);
	CHECK_EQ_INT(tdev_send(&anna, cmid, (const uint8_t(*)[16])to, 1, NULL, NULL,
			       (const uint8_t(*)[16])devs, 2, "x", 1, false),
		     PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_DEVICE_MISMATCH);
}

static void hot_backup_while_running(void)
{
	/* LMDB's own backup command; PostgreSQL is backed up with pg_basebackup, and the command
	 * refuses there. */
	if (relay_test_engine_pg())
		return;
	char dir[400], *out = NULL, *err = NULL;
	snprintf(dir, sizeof dir, "%s/backup", relay.dir);
	char *args[] = { (char *)relay_binary(), "--config", relay.config_path, "backup", dir, NULL };
	CHECK_EQ_INT(relay_run_command_io(args, NULL, &out, &err), 0);
	free(out);
	free(err);
	/* The copy of the database opens and holds the accounts (the whole round trip is in
	 * test_backup.c). */
	char db[420];
	snprintf(db, sizeof db, "%s/db", dir);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct store *s;
	struct store_config sc = { .path = db };
	REQUIRE(store_open(&s, &loop, &sc) == 0);
	struct store_account acc;
	CHECK_EQ_INT(store_get_account(s, anna.account_id, &acc), 0);
	store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	/* A second backup into the same directory is refused. */
	CHECK_EQ_INT(relay_run_command_io(args, NULL, &out, &err), 1);
	free(out);
	free(err);
}

static void device_revoking_itself_hears_ok_then_close(void)
{
	struct tdev leaving;
	tdev_init(&leaving, relay.port);
	REQUIRE(tdev_register(&leaving, "dev-mitid", "anna", 1) == 0);
	proto_frame f;
	proto_frame_init(&f, PROTO_T_DEVICE_REVOKE, 0);
	f.body.device_revoke.device = leaving.device_id;
	CHECK_EQ_INT(tdev_request(&leaving, &f, 5000), PROTO_T_OK);
	CHECK_EQ_INT(tdev_wait(&leaving, PROTO_T_DELIVER, 3000), -1);
	CHECK_EQ_INT(leaving.ws.close_code, 4004);
	tdev_free(&leaving);
}

/* A new member device of a unit is announced to the unit's online devices (spec/protocol.md
 * §5.5), not to citizens; the new device itself hears nothing of its own registration. */
static void a_unit_hears_of_a_new_member_device(void)
{
	static struct tdev dennis;
	tdev_init(&dennis, relay.port);
	REQUIRE(tdev_register(&dennis, "dev-adfs", "dennis", 5) == 0);
	REQUIRE(tdev_wait(&camilla, PROTO_T_UNIT_DEVICES_CHANGED, 3000) == PROTO_T_UNIT_DEVICES_CHANGED);
	const proto_unit_devices_changed *u = &camilla.frame.body.unit_devices_changed;
	CHECK(u->tenant.len == 5 && memcmp(u->tenant.ptr, "varde", 5) == 0);
	CHECK(u->unit.len == 9 && memcmp(u->unit.ptr, "jobcenter", 9) == 0);
	CHECK(tdev_wait(&anna, PROTO_T_UNIT_DEVICES_CHANGED, 300) != PROTO_T_UNIT_DEVICES_CHANGED);
	CHECK(tdev_wait(&dennis, PROTO_T_UNIT_DEVICES_CHANGED, 300) != PROTO_T_UNIT_DEVICES_CHANGED);
}

static void mailboxes_empty_after_acks(void)
{
	/* Storage inspected directly once the relay has stopped. */
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
	char path[400];
	struct store_config sc = relay_store_config(&relay, path, sizeof path);
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct store *s;
	REQUIRE(store_open(&s, &loop, &sc) == 0);
	struct tdev *devs[] = { &bo1, &camilla };
	for (int i = 0; i < 2; i++) {
		uint64_t count = 99, bytes = 99;
		CHECK_EQ_INT(store_mailbox_depth(s, devs[i]->device_id, &count, &bytes), 0);
		CHECK_EQ_INT(count, 0);
		CHECK_EQ_INT(bytes, 0);
	}
	store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
}

int main(void)
{
	if (sodium_init() < 0 || relay_proc_start(&relay, NULL, true) != 0)
		return 1;
	RUN(registration_binds_devices_to_accounts);
	RUN(auth_with_registered_key_and_refusals);
	RUN(directory_lists_current_device_sets);
	RUN(fan_out_delivers_in_order_and_acks_delete);
	RUN(citizen_writes_to_a_unit);
	RUN(device_set_mismatch_lists_missing_and_stale);
	RUN(offline_drain_redelivery_and_idempotent_resend);
	RUN(one_connection_per_device);
	RUN(concurrent_bundle_fetches_never_share_a_one_time_prekey);
	RUN(revoked_device_is_refused);
	RUN(hot_backup_while_running);
	RUN(device_revoking_itself_hears_ok_then_close);
	RUN(a_unit_hears_of_a_new_member_device);
	RUN(mailboxes_empty_after_acks);
	tdev_free(&anna);
	tdev_free(&bo1);
	tdev_free(&bo2);
	tdev_free(&camilla);
	relay_proc_cleanup(&relay);
	return TEST_RESULT();
}
