/* SPDX-License-Identifier: MPL-2.0 */
/* Sends, idempotent resends, quotas, acks and expiry. */
#include <lmdb.h>

#include "test.h"
#include "storage_test.h"
#include "store_internal.h" /* store__seal: to write data as schema version 2 did */

static uint64_t fake_now = 10000;
static uint64_t fake_clock(void *data)
{
	(void)data;
	return fake_now;
}

/* Account 1 with devices 1..3 (the recipients), account 2 with device 10 (the sender). */
static int setup_people(struct t_env *e)
{
	if (t_put_account(e, 1, STORE_ACCOUNT_CITIZEN) || t_put_account(e, 2, STORE_ACCOUNT_CASEWORKER))
		return -1;
	for (unsigned d = 1; d <= 3; d++)
		if (t_put_device(e, 1, d))
			return -1;
	return t_put_device(e, 2, 10);
}

/* Builds a send from device 10, message id msg, to the listed devices; payload "m<msg>-d<dev>". */
struct t_send {
	struct store_send send;
	struct store_recipient r[8];
	char payload[8][32];
};

static void make_send(struct t_send *ts, unsigned msg, const unsigned *devs, size_t n,
		      uint64_t expires)
{
	memset(ts, 0, sizeof *ts);
	t_id(ts->send.sender_account, 'A', 2);
	t_id(ts->send.sender_device, 'D', 10);
	t_id(ts->send.message_id, 'M', msg);
	ts->send.kind = STORE_KIND_ENVELOPE;
	for (size_t i = 0; i < n; i++) {
		snprintf(ts->payload[i], sizeof ts->payload[i], "m%u-d%u", msg, devs[i]);
		t_id(ts->r[i].device_id, 'D', devs[i]);
		ts->r[i].payload = (const uint8_t *)ts->payload[i];
		ts->r[i].payload_len = strlen(ts->payload[i]);
		ts->r[i].expires_at_ms = expires;
	}
	ts->send.recipients = ts->r;
	ts->send.n_recipients = n;
}

static int run_send(struct t_env *e, struct t_send *ts, struct t_res *res)
{
	memset(res, 0, sizeof *res);
	struct store_req *req = store_req_new(e->s, t_cb, res);
	int op = store_req_store_envelopes(req, &ts->send);
	if (op != 0) {
		store_req_free(req);
		return op;
	}
	return t_run(e, req, res);
}

struct collect {
	size_t n;
	uint64_t seqs[64];
	char payloads[64][32];
	struct store_envelope_ref refs[64];
};

static int collect_cb(const struct store_envelope *env, void *data)
{
	struct collect *c = data;
	c->seqs[c->n] = env->ref.seq;
	c->refs[c->n] = env->ref;
	snprintf(c->payloads[c->n], sizeof c->payloads[c->n], "%.*s", (int)env->payload_len,
		 (const char *)env->payload);
	c->n++;
	return 0;
}

static int mailbox(struct t_env *e, unsigned dev, uint64_t from, size_t max, struct collect *c)
{
	uint8_t id[STORE_ID_BYTES];
	t_id(id, 'D', dev);
	memset(c, 0, sizeof *c);
	return store_mailbox_iter(e->s, id, from, max, collect_cb, c);
}

static void test_send_assigns_per_device_sequence(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	e.cfg.now_ms = fake_clock;
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(setup_people(&e));

	struct t_send ts;
	struct t_res res;
	unsigned all[] = {1, 2, 3}, two[] = {3, 1};
	make_send(&ts, 1, all, 3, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), 0);
	CHECK(res.op[0].send && !res.op[0].duplicate);
	CHECK_EQ_INT(res.op[0].stored_at_ms, 10000);
	CHECK_EQ_INT(res.op[0].n, 3);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(res.op[0].seqs[i].seq, 1);
	make_send(&ts, 2, two, 2, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), 0);
	CHECK_EQ_INT(res.op[0].seqs[0].seq, 2); /* device 3 */
	CHECK_EQ_INT(res.op[0].seqs[0].device_id[15], 3);
	CHECK_EQ_INT(res.op[0].seqs[1].seq, 2); /* device 1 */
	make_send(&ts, 3, all, 1, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), 0);
	CHECK_EQ_INT(res.op[0].seqs[0].seq, 3);

	struct collect c;
	CHECK_EQ_INT(mailbox(&e, 1, 0, 100, &c), 3);
	CHECK_EQ_INT(c.seqs[0], 1);
	CHECK_EQ_INT(c.seqs[1], 2);
	CHECK_EQ_INT(c.seqs[2], 3);
	CHECK(strcmp(c.payloads[0], "m1-d1") == 0);
	CHECK(strcmp(c.payloads[2], "m3-d1") == 0);
	CHECK_EQ_INT(c.refs[1].message_id[15], 2);
	CHECK_EQ_INT(c.refs[1].sender_device[15], 10);
	CHECK_EQ_INT(c.refs[1].sender_account[15], 2);
	CHECK_EQ_INT(c.refs[1].kind, STORE_KIND_ENVELOPE);
	CHECK_EQ_INT(mailbox(&e, 1, 2, 100, &c), 2); /* from seq 2 */
	CHECK_EQ_INT(c.seqs[0], 2);
	CHECK_EQ_INT(mailbox(&e, 1, 1, 2, &c), 2); /* bounded */
	CHECK_EQ_INT(mailbox(&e, 2, 0, 100, &c), 1);
	CHECK(strcmp(c.payloads[0], "m1-d2") == 0);
	CHECK_EQ_INT(mailbox(&e, 10, 0, 100, &c), 0);

	uint64_t count, bytes;
	uint8_t d1[STORE_ID_BYTES];
	t_id(d1, 'D', 1);
	CHECK_EQ_INT(store_mailbox_depth(e.s, d1, &count, &bytes), 0);
	CHECK_EQ_INT(count, 3);
	CHECK_EQ_INT(bytes, 15);

	/* unknown and revoked recipients fail the whole send, naming the device */
	unsigned bad[] = {1, 77};
	make_send(&ts, 4, bad, 2, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), STORE_ENODEVICE);
	CHECK(res.has_failed_device && res.failed_device[15] == 77);
	CHECK_EQ_INT(mailbox(&e, 1, 0, 100, &c), 3);

	struct store_stats st;
	store_get_stats(e.s, &st);
	CHECK_EQ_INT(st.envelopes_stored, 6);
	t_teardown(&e);
}

static void test_idempotent_resend_stores_nothing(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	e.cfg.now_ms = fake_clock;
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(setup_people(&e));
	struct t_send ts;
	struct t_res res, res2;
	unsigned devs[] = {2, 1};
	fake_now = 10000;
	make_send(&ts, 7, devs, 2, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), 0);
	fake_now = 20000;
	make_send(&ts, 7, devs, 2, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res2), 0);
	CHECK(res2.op[0].duplicate);
	CHECK_EQ_INT(res2.op[0].stored_at_ms, 10000);
	CHECK_EQ_INT(res2.op[0].n, 2);
	CHECK_MEM(res2.op[0].seqs, res.op[0].seqs, 2 * sizeof(struct store_seq));

	/* a resend naming only one device still gets the original result */
	make_send(&ts, 7, devs, 1, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res2), 0);
	CHECK(res2.op[0].duplicate);
	CHECK_EQ_INT(res2.op[0].n, 2);

	struct collect c;
	CHECK_EQ_INT(mailbox(&e, 1, 0, 100, &c), 1);
	CHECK_EQ_INT(mailbox(&e, 2, 0, 100, &c), 1);

	/* two identical sends in one batch: the second sees the first's entry */
	store_test_pause_writer(e.s, true);
	struct t_res r[2] = {{0}};
	for (int i = 0; i < 2; i++) {
		make_send(&ts, 8, devs, 2, 1u << 30);
		struct store_req *req = store_req_new(e.s, t_cb, &r[i]);
		CHECK_EQ_INT(store_req_store_envelopes(req, &ts.send), 0);
		CHECK_EQ_INT(store_submit(req), 0);
	}
	store_test_pause_writer(e.s, false);
	t_wait_all(&e, r, 2);
	CHECK(!r[0].op[0].duplicate);
	CHECK(r[1].op[0].duplicate);
	CHECK_EQ_INT(mailbox(&e, 1, 0, 100, &c), 2);

	/* without idempotency (relay-made notices) each store is new */
	make_send(&ts, 7, devs, 1, 1u << 30);
	ts.send.kind = STORE_KIND_NOTICE;
	ts.send.flags = STORE_SEND_NO_IDEMPOTENCY;
	CHECK_EQ_INT(run_send(&e, &ts, &res2), 0);
	CHECK(!res2.op[0].duplicate);
	CHECK_EQ_INT(mailbox(&e, 2, 0, 100, &c), 3);
	CHECK_EQ_INT(c.refs[2].kind, STORE_KIND_NOTICE);
	t_teardown(&e);
}

static void test_quota_exceeded_stores_nothing(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	e.cfg.mailbox_max_envelopes = 2;
	e.cfg.mailbox_max_bytes = 1000;
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(setup_people(&e));
	struct t_send ts;
	struct t_res res;
	unsigned only2[] = {2}, all[] = {1, 2, 3};
	make_send(&ts, 1, only2, 1, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), 0);
	make_send(&ts, 2, only2, 1, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), 0);
	make_send(&ts, 3, all, 3, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), STORE_EQUOTA);
	CHECK(res.has_failed_device && res.failed_device[15] == 2);
	CHECK(!res.op[0].send); /* no result views on failure */

	struct collect c;
	CHECK_EQ_INT(mailbox(&e, 1, 0, 100, &c), 0);
	CHECK_EQ_INT(mailbox(&e, 3, 0, 100, &c), 0);
	CHECK_EQ_INT(mailbox(&e, 2, 0, 100, &c), 2);
	struct store_idempotency idem;
	CHECK_EQ_INT(store_get_idempotency(e.s, ts.send.sender_device, ts.send.message_id, &idem,
					   NULL, 0),
		     STORE_ENOTFOUND);
	uint8_t d1[STORE_ID_BYTES];
	struct store_device d;
	t_id(d1, 'D', 1);
	CHECK_EQ_INT(store_get_device(e.s, d1, &d), 0);
	CHECK_EQ_INT(d.next_seq, 1); /* no sequence number consumed */

	/* byte quota */
	static uint8_t big[1001];
	make_send(&ts, 4, all, 1, 1u << 30);
	ts.r[0].payload = big;
	ts.r[0].payload_len = sizeof big;
	CHECK_EQ_INT(run_send(&e, &ts, &res), STORE_EQUOTA);
	ts.r[0].payload_len = 1000;
	CHECK_EQ_INT(run_send(&e, &ts, &res), 0);
	t_teardown(&e);
}

static int ack(struct t_env *e, unsigned dev, uint64_t seq)
{
	uint8_t id[STORE_ID_BYTES];
	struct t_res res;
	t_id(id, 'D', dev);
	memset(&res, 0, sizeof res);
	struct store_req *req = store_req_new(e->s, t_cb, &res);
	if (store_req_delete_envelope(req, id, seq) != 0) {
		store_req_free(req);
		return -1;
	}
	return t_run(e, req, &res);
}

/* Rewrites the environment as schema version 2 wrote it: values sealed (spec/storage.md §2.1),
 * no mailbox_senders entries. */
static int as_schema_2(const char *path)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, senders;
	uint8_t two[4 + STORE__CHECK_LEN];
	wakks_store_be32(two, 2);
	store__seal("schema_version", 14, two, 4);
	MDB_val k = {.mv_size = 14, .mv_data = "schema_version"}, v = {.mv_size = sizeof two, .mv_data = two};
	int rc = mdb_env_create(&env);
	if (rc)
		return rc;
	mdb_env_set_maxdbs(env, 32);
	if ((rc = mdb_env_open(env, path, 0, 0600)) == 0 && (rc = mdb_txn_begin(env, NULL, 0, &txn)) == 0) {
		rc = mdb_dbi_open(txn, "meta", 0, &meta);
		if (rc == 0)
			rc = mdb_put(txn, meta, &k, &v, 0);
		if (rc == 0)
			rc = mdb_dbi_open(txn, "mailbox_senders", 0, &senders);
		if (rc == 0)
			rc = mdb_drop(txn, senders, 0);
		rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
	}
	mdb_env_close(env);
	return rc;
}

/* One sender fills only its share of a mailbox: past it its sends fail STORE_ESHARE and store
 * nothing, while another sender still gets through; an ack frees a place; the share survives a
 * reopen and is rebuilt from the mailboxes when schema 2 data is migrated. */
static void test_sender_share_of_a_mailbox(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	e.cfg.mailbox_max_envelopes = 10;
	e.cfg.mailbox_max_per_sender = 2;
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(setup_people(&e));
	REQUIRE_OK(t_put_device(&e, 1, 4)); /* device 4 of account 1 sends to its own account's device 1 */
	struct t_send ts;
	struct t_res res;
	unsigned to1[] = {1}, to12[] = {1, 2};
	make_send(&ts, 1, to1, 1, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), 0);
	make_send(&ts, 2, to12, 2, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), 0);
	make_send(&ts, 3, to12, 2, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), STORE_ESHARE);
	CHECK(res.has_failed_device && res.failed_device[15] == 1);
	struct collect c;
	CHECK_EQ_INT(mailbox(&e, 1, 0, 100, &c), 2);
	CHECK_EQ_INT(mailbox(&e, 2, 0, 100, &c), 1); /* nothing of the refused send */
	/* another sender account still reaches device 1 */
	make_send(&ts, 4, to1, 1, 1u << 30);
	t_id(ts.send.sender_account, 'A', 1);
	t_id(ts.send.sender_device, 'D', 4);
	CHECK_EQ_INT(run_send(&e, &ts, &res), 0);
	/* an ack of one of sender 2's envelopes frees one place for it */
	CHECK_EQ_INT(ack(&e, 1, 1), 0);
	make_send(&ts, 5, to1, 1, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), 0);
	make_send(&ts, 6, to1, 1, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), STORE_ESHARE);
	/* the counts are stored: after a reopen, and after a migration from schema 2 */
	t_close(&e);
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(run_send(&e, &ts, &res), STORE_ESHARE);
	if (!t_pg()) { /* LMDB only: schema 2 had no counts, the migration builds them */
		t_close(&e);
		REQUIRE_OK(as_schema_2(e.dbpath));
		REQUIRE_OK(t_open(&e));
		CHECK_EQ_INT(run_send(&e, &ts, &res), STORE_ESHARE);
	}
	CHECK_EQ_INT(ack(&e, 1, 2), 0);
	CHECK_EQ_INT(run_send(&e, &ts, &res), 0);
	/* revoking a device empties its mailbox and its senders' counts */
	memset(&res, 0, sizeof res);
	uint8_t d1[STORE_ID_BYTES];
	t_id(d1, 'D', 1);
	struct store_req *req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_delete_mailbox(req, d1), 0);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);
	make_send(&ts, 7, to1, 1, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), 0);
	make_send(&ts, 8, to1, 1, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), 0);
	t_teardown(&e);
}

static void test_ack_deletes_and_reports_sender(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(setup_people(&e));
	struct t_send ts;
	struct t_res res;
	unsigned devs[] = {1, 2};
	make_send(&ts, 5, devs, 2, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), 0);

	uint8_t d1[STORE_ID_BYTES];
	t_id(d1, 'D', 1);
	memset(&res, 0, sizeof res);
	struct store_req *req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_delete_envelope(req, d1, 1), 0);
	CHECK_EQ_INT(store_req_delete_envelope(req, d1, 99), 1);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);
	CHECK(res.op[0].del && res.op[0].deleted.found);
	CHECK_EQ_INT(res.op[0].deleted.ref.seq, 1);
	CHECK_EQ_INT(res.op[0].deleted.ref.sender_device[15], 10);
	CHECK_EQ_INT(res.op[0].deleted.ref.message_id[15], 5);
	CHECK_EQ_INT(res.op[0].deleted.ref.device_id[15], 1);
	CHECK(res.op[1].del && !res.op[1].deleted.found);

	struct collect c;
	CHECK_EQ_INT(mailbox(&e, 1, 0, 100, &c), 0);
	CHECK_EQ_INT(mailbox(&e, 2, 0, 100, &c), 1);
	uint64_t count = 9, bytes = 9;
	CHECK_EQ_INT(store_mailbox_depth(e.s, d1, &count, &bytes), 0);
	CHECK_EQ_INT(count, 0);
	CHECK_EQ_INT(bytes, 0);

	/* a resend after the ack does not deliver it again */
	make_send(&ts, 5, devs, 2, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &res), 0);
	CHECK(res.op[0].duplicate);
	CHECK_EQ_INT(mailbox(&e, 1, 0, 100, &c), 0);

	/* acking again: not found, not an error */
	memset(&res, 0, sizeof res);
	req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_delete_envelope(req, d1, 1), 0);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);
	CHECK(!res.op[0].deleted.found);
	struct store_stats st;
	store_get_stats(e.s, &st);
	CHECK_EQ_INT(st.envelopes_deleted, 1);
	t_teardown(&e);
}

static void test_expiry_removes_due_envelopes(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	e.cfg.now_ms = fake_clock;
	fake_now = 1000;
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(setup_people(&e));
	struct t_send ts;
	struct t_res res;
	unsigned devs[] = {1, 2};
	for (unsigned m = 1; m <= 5; m++) {
		make_send(&ts, m, devs, 2, 5000 + m * 1000); /* expires 6000 ... 10000 */
		CHECK_EQ_INT(run_send(&e, &ts, &res), 0);
	}
	/* one acked early: expiry must not report it */
	uint8_t d1[STORE_ID_BYTES];
	t_id(d1, 'D', 1);
	memset(&res, 0, sizeof res);
	struct store_req *req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_delete_envelope(req, d1, 1), 0);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);

	/* at 8000: messages 1..3 due (5 envelopes left of 6), bounded to 3 per call */
	memset(&res, 0, sizeof res);
	req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_expire(req, 8000, 3), 0);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);
	CHECK_EQ_INT(res.op[0].n, 3);
	CHECK(res.op[0].more);
	CHECK_EQ_INT(res.op[0].idem_deleted, 3); /* entries of messages 1..3 (expiry 6000..8000) */
	memset(&res, 0, sizeof res);
	req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_expire(req, 8000, 3), 0);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);
	CHECK_EQ_INT(res.op[0].n, 2);
	CHECK(!res.op[0].more);
	CHECK_EQ_INT(res.op[0].idem_deleted, 0);
	CHECK_EQ_INT(res.op[0].expired[1].message_id[15], 3);
	CHECK_EQ_INT(res.op[0].expired[1].sender_device[15], 10);

	struct collect c;
	CHECK_EQ_INT(mailbox(&e, 1, 0, 100, &c), 2);
	CHECK_EQ_INT(c.seqs[0], 4);
	CHECK_EQ_INT(mailbox(&e, 2, 0, 100, &c), 2);
	uint64_t count, bytes;
	CHECK_EQ_INT(store_mailbox_depth(e.s, d1, &count, &bytes), 0);
	CHECK_EQ_INT(count, 2);
	struct store_idempotency idem;
	make_send(&ts, 1, devs, 2, 0);
	CHECK_EQ_INT(store_get_idempotency(e.s, ts.send.sender_device, ts.send.message_id, &idem,
					   NULL, 0),
		     STORE_ENOTFOUND);
	make_send(&ts, 4, devs, 2, 0);
	CHECK_EQ_INT(store_get_idempotency(e.s, ts.send.sender_device, ts.send.message_id, &idem,
					   NULL, 0),
		     0);
	CHECK_EQ_INT(idem.expires_at_ms, 9000);

	/* nothing due: nothing happens */
	memset(&res, 0, sizeof res);
	req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_expire(req, 8000, 100), 0);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);
	CHECK_EQ_INT(res.op[0].n, 0);
	struct store_stats st;
	store_get_stats(e.s, &st);
	CHECK_EQ_INT(st.envelopes_expired, 5);
	t_teardown(&e);
}

static void test_builders_validate(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	struct t_res res = {0};
	struct t_send ts;
	unsigned dup[] = {1, 1};
	struct store_req *req = store_req_new(e.s, t_cb, &res);
	make_send(&ts, 1, dup, 2, 1);
	CHECK_EQ_INT(store_req_store_envelopes(req, &ts.send), STORE_EINVAL);
	make_send(&ts, 1, dup, 1, 1);
	ts.r[0].payload_len = STORE_PAYLOAD_MAX + 1;
	CHECK_EQ_INT(store_req_store_envelopes(req, &ts.send), STORE_ELIMIT);
	make_send(&ts, 1, dup, 1, 1);
	ts.send.kind = 0;
	CHECK_EQ_INT(store_req_store_envelopes(req, &ts.send), STORE_EINVAL);
	CHECK_EQ_INT(store_req_expire(req, 1, STORE_EXPIRE_MAX + 1), STORE_ELIMIT);
	CHECK_EQ_INT(store_submit(req), STORE_EINVAL); /* empty: freed */
	t_teardown(&e);
}


/* A send checked before its sending device was revoked reaches the writer after the revocation:
 * the writer refuses it inside the transaction, whether the revocation committed in an earlier
 * batch or earlier in the same one (issue 15 item 1). */
static void test_revoked_sender_stores_nothing(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(setup_people(&e));
	uint8_t sender[STORE_ID_BYTES];
	t_id(sender, 'D', 10);
	struct t_send ts;
	unsigned devs[] = {1};
	make_send(&ts, 1, devs, 1, 1u << 30);
	/* Revocation and send queued in one batch, the revocation first. */
	struct t_res rr, sr;
	memset(&rr, 0, sizeof rr);
	memset(&sr, 0, sizeof sr);
	store_test_pause_writer(e.s, true);
	struct store_req *rev = store_req_new(e.s, t_cb, &rr);
	CHECK_EQ_INT(store_req_revoke_device(rev, sender, 5), 0);
	CHECK_EQ_INT(store_submit(rev), 0);
	struct store_req *snd = store_req_new(e.s, t_cb, &sr);
	CHECK_EQ_INT(store_req_store_envelopes(snd, &ts.send), 0);
	CHECK_EQ_INT(store_submit(snd), 0);
	store_test_pause_writer(e.s, false);
	t_wait_all(&e, &sr, 1);
	t_wait_all(&e, &rr, 1);
	CHECK_EQ_INT(sr.result, STORE_EREVOKED);
	CHECK(rr.done && rr.result == 0);
	CHECK(sr.has_failed_device && memcmp(sr.failed_device, sender, STORE_ID_BYTES) == 0);
	struct collect c;
	CHECK_EQ_INT(mailbox(&e, 1, 0, 100, &c), 0);
	/* And in a later batch. */
	make_send(&ts, 2, devs, 1, 1u << 30);
	CHECK_EQ_INT(run_send(&e, &ts, &sr), STORE_EREVOKED);
	CHECK_EQ_INT(mailbox(&e, 1, 0, 100, &c), 0);
	t_teardown(&e);
}

int main(void)
{
	RUN(test_send_assigns_per_device_sequence);
	RUN(test_idempotent_resend_stores_nothing);
	RUN(test_quota_exceeded_stores_nothing);
	RUN(test_sender_share_of_a_mailbox);
	RUN(test_ack_deletes_and_reports_sender);
	RUN(test_expiry_removes_due_envelopes);
	RUN(test_builders_validate);
	RUN(test_revoked_sender_stores_nothing);
	return TEST_RESULT();
}
