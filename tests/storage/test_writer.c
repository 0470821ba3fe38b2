/* SPDX-License-Identifier: MPL-2.0 */
/* The writer: group commit batches requests, a failing request leaves its batch alone, one-time
 * prekeys are never handed out twice, the map grows from a tiny size while several threads read
 * (each read sees every commit reported before it began), and past the maximum writes fail with "storage full" instead of crashing. */
#include <pthread.h>

#include "test.h"
#include "storage_test.h"

static void add_prekeys(struct t_env *e, unsigned dev, uint32_t first, size_t n)
{
	struct store_prekey keys[STORE_OTPK_BATCH_MAX];
	uint8_t did[STORE_ID_BYTES];
	t_id(did, 'D', dev);
	for (size_t i = 0; i < n; i++) {
		keys[i].id = first + (uint32_t)i;
		memset(keys[i].public_key, (int)(first + i), STORE_KEY_BYTES);
	}
	struct t_res res = {0};
	struct store_req *req = store_req_new(e->s, t_cb, &res);
	CHECK_EQ_INT(store_req_add_one_time_prekeys(req, did, keys, n), 0);
	CHECK_EQ_INT(t_run(e, req, &res), 0);
}

#define TAKERS 60

static void test_take_one_time_prekey_never_twice(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 1), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 2), 0);
	add_prekeys(&e, 1, 100, 50);
	add_prekeys(&e, 2, 500, 10);
	uint8_t devs[3][STORE_ID_BYTES];
	t_id(devs[0], 'D', 1);
	t_id(devs[1], 'D', 2);
	t_id(devs[2], 'D', 3); /* unknown: "none", not an error */
	uint32_t count;
	CHECK_EQ_INT(store_count_one_time_prekeys(e.s, devs[0], &count), 0);
	CHECK_EQ_INT(count, 50);

	/* 60 concurrent fetches: half queued in one batch, the rest across later batches */
	static struct t_res res[TAKERS];
	memset(res, 0, sizeof res);
	store_test_pause_writer(e.s, true);
	for (int i = 0; i < TAKERS; i++) {
		if (i == TAKERS / 2)
			store_test_pause_writer(e.s, false);
		struct store_req *req = store_req_new(e.s, t_cb, &res[i]);
		CHECK_EQ_INT(store_req_take_one_time_prekeys(req, (const uint8_t(*)[STORE_ID_BYTES])devs, 3), 0);
		CHECK_EQ_INT(store_submit(req), 0);
	}
	t_wait_all(&e, res, TAKERS);

	int seen1[1000] = {0}, found1 = 0, found2 = 0;
	for (int i = 0; i < TAKERS; i++) {
		CHECK_EQ_INT(res[i].result, 0);
		CHECK_EQ_INT(res[i].op[0].n, 3);
		if (res[i].op[0].keys[0].found) {
			uint32_t id = res[i].op[0].keys[0].key.id;
			CHECK(id >= 100 && id < 150);
			CHECK_EQ_INT(res[i].op[0].keys[0].key.public_key[0], (uint8_t)id);
			CHECK_EQ_INT(seen1[id], 0);
			seen1[id]++;
			found1++;
		}
		if (res[i].op[0].keys[1].found) {
			uint32_t id = res[i].op[0].keys[1].key.id;
			CHECK(id >= 500 && id < 510);
			CHECK_EQ_INT(seen1[id], 0);
			seen1[id]++;
			found2++;
		}
		CHECK(!res[i].op[0].keys[2].found);
		CHECK_EQ_INT(res[i].op[0].keys[2].device_id[15], 3);
	}
	CHECK_EQ_INT(found1, 50);
	CHECK_EQ_INT(found2, 10);
	/* lowest id first: the first request got key 100 */
	CHECK_EQ_INT(res[0].op[0].keys[0].key.id, 100);
	CHECK_EQ_INT(store_count_one_time_prekeys(e.s, devs[0], &count), 0);
	CHECK_EQ_INT(count, 0);

	/* bounded per device */
	for (int i = 0; i < STORE_OTPK_MAX_PER_DEVICE / STORE_OTPK_BATCH_MAX; i++)
		add_prekeys(&e, 1, (uint32_t)(i * STORE_OTPK_BATCH_MAX), STORE_OTPK_BATCH_MAX);
	struct store_prekey one = {.id = 99999};
	struct t_res r = {0};
	struct store_req *req = store_req_new(e.s, t_cb, &r);
	CHECK_EQ_INT(store_req_add_one_time_prekeys(req, devs[0], &one, 1), 0);
	CHECK_EQ_INT(t_run(&e, req, &r), STORE_ELIMIT);
	CHECK_EQ_INT(store_count_one_time_prekeys(e.s, devs[0], &count), 0);
	CHECK_EQ_INT(count, STORE_OTPK_MAX_PER_DEVICE);

	/* revoking drops the prekeys */
	memset(&r, 0, sizeof r);
	req = store_req_new(e.s, t_cb, &r);
	CHECK_EQ_INT(store_req_revoke_device(req, devs[0], 1), 0);
	CHECK_EQ_INT(t_run(&e, req, &r), 0);
	CHECK_EQ_INT(store_count_one_time_prekeys(e.s, devs[0], &count), 0);
	CHECK_EQ_INT(count, 0);
	CHECK_EQ_INT(store_count_one_time_prekeys(e.s, devs[1], &count), 0);
	CHECK_EQ_INT(count, 0);
	t_teardown(&e);
}

#define GROUP 100

static void test_group_commit_batches(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	struct store_stats before, after;
	store_get_stats(e.s, &before);

	/* Submitted back to back before the loop runs: the writer groups whatever has queued. */
	static struct t_res res[GROUP];
	memset(res, 0, sizeof res);
	for (unsigned i = 0; i < GROUP; i++) {
		struct store_account a;
		memset(&a, 0, sizeof a);
		t_id(a.id, 'A', i);
		a.kind = STORE_ACCOUNT_CITIZEN;
		strcpy(a.tenant, "varde");
		struct store_req *req = store_req_new(e.s, t_cb, &res[i]);
		CHECK_EQ_INT(store_req_put_account(req, &a), 0);
		CHECK_EQ_INT(store_submit(req), 0);
	}
	t_wait_all(&e, res, GROUP);
	store_get_stats(e.s, &after);
	CHECK(after.batches - before.batches < GROUP);
	CHECK_EQ_INT(after.requests - before.requests, GROUP);
	CHECK(after.max_batch_size > 1);

	/* paused: exactly one batch */
	memset(res, 0, sizeof res);
	store_test_pause_writer(e.s, true);
	for (unsigned i = 0; i < GROUP; i++) {
		struct store_account a;
		memset(&a, 0, sizeof a);
		t_id(a.id, 'B', i);
		a.kind = STORE_ACCOUNT_CITIZEN;
		strcpy(a.tenant, "varde");
		struct store_req *req = store_req_new(e.s, t_cb, &res[i]);
		CHECK_EQ_INT(store_req_put_account(req, &a), 0);
		CHECK_EQ_INT(store_submit(req), 0);
	}
	store_test_pause_writer(e.s, false);
	t_wait_all(&e, res, GROUP);
	store_get_stats(e.s, &before);
	CHECK_EQ_INT(before.batches - after.batches, 1);
	CHECK_EQ_INT(before.last_batch_size, GROUP);
	CHECK(before.batch_hist[6] >= 1); /* 64..127 */
	for (unsigned i = 0; i < GROUP; i++)
		CHECK_EQ_INT(res[i].result, 0);

	/* max_batch bounds a batch */
	t_close(&e);
	e.cfg.max_batch = 10;
	REQUIRE_OK(t_open(&e));
	memset(res, 0, sizeof res);
	store_test_pause_writer(e.s, true);
	for (unsigned i = 0; i < 35; i++) {
		struct store_account a;
		memset(&a, 0, sizeof a);
		t_id(a.id, 'C', i);
		a.kind = STORE_ACCOUNT_CITIZEN;
		strcpy(a.tenant, "varde");
		struct store_req *req = store_req_new(e.s, t_cb, &res[i]);
		CHECK_EQ_INT(store_req_put_account(req, &a), 0);
		CHECK_EQ_INT(store_submit(req), 0);
	}
	store_test_pause_writer(e.s, false);
	t_wait_all(&e, res, 35);
	store_get_stats(e.s, &after);
	CHECK_EQ_INT(after.batches, 4);
	CHECK_EQ_INT(after.max_batch_size, 10);
	t_teardown(&e);
}

static void test_failing_request_leaves_batch_alone(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 1), 0);
	struct store_stats before, after;
	store_get_stats(e.s, &before);

	struct t_res res[3] = {{0}};
	uint8_t did[STORE_ID_BYTES], unknown[STORE_ID_BYTES];
	t_id(did, 'D', 1);
	t_id(unknown, 'D', 9);
	store_test_pause_writer(e.s, true);
	/* 0: good put device 2 */
	struct store_device d;
	memset(&d, 0, sizeof d);
	t_id(d.id, 'D', 2);
	t_id(d.account_id, 'A', 1);
	struct store_req *req = store_req_new(e.s, t_cb, &res[0]);
	CHECK_EQ_INT(store_req_put_device(req, &d), 0);
	CHECK_EQ_INT(store_submit(req), 0);
	/* 1: a good operation followed by a failing one: neither takes effect */
	struct store_prekey pk = {.id = 1};
	struct store_recipient r = {.payload = (const uint8_t *)"x", .payload_len = 1, .expires_at_ms = 1};
	memcpy(r.device_id, unknown, STORE_ID_BYTES);
	struct store_send snd = {.kind = STORE_KIND_ENVELOPE, .recipients = &r, .n_recipients = 1};
	req = store_req_new(e.s, t_cb, &res[1]);
	CHECK_EQ_INT(store_req_add_one_time_prekeys(req, did, &pk, 1), 0);
	CHECK_EQ_INT(store_req_store_envelopes(req, &snd), 1);
	CHECK_EQ_INT(store_submit(req), 0);
	/* 2: good send to device 1 */
	memcpy(r.device_id, did, STORE_ID_BYTES);
	req = store_req_new(e.s, t_cb, &res[2]);
	CHECK_EQ_INT(store_req_store_envelopes(req, &snd), 0);
	CHECK_EQ_INT(store_submit(req), 0);
	store_test_pause_writer(e.s, false);
	t_wait_all(&e, res, 3);

	store_get_stats(e.s, &after);
	CHECK_EQ_INT(after.batches - before.batches, 1);
	CHECK_EQ_INT(after.requests_failed - before.requests_failed, 1);
	CHECK_EQ_INT(res[0].result, 0);
	CHECK_EQ_INT(res[1].result, STORE_ENODEVICE);
	CHECK(res[1].has_failed_device && memcmp(res[1].failed_device, unknown, STORE_ID_BYTES) == 0);
	CHECK_EQ_INT(res[2].result, 0);
	CHECK_EQ_INT(res[2].op[0].seqs[0].seq, 1);
	struct store_device got;
	t_id(d.id, 'D', 2);
	CHECK_EQ_INT(store_get_device(e.s, d.id, &got), 0);
	uint32_t count = 9;
	CHECK_EQ_INT(store_count_one_time_prekeys(e.s, did, &count), 0);
	CHECK_EQ_INT(count, 0);
	uint64_t depth;
	CHECK_EQ_INT(store_mailbox_depth(e.s, did, &depth, NULL), 0);
	CHECK_EQ_INT(depth, 1);
	t_teardown(&e);
}

static void test_map_grows_from_tiny_size(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	e.cfg.map_size_initial = 128u << 10;
	e.cfg.map_size_max = 64u << 20;
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 1), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 2), 0);
	static uint8_t payload[20000];
	struct store_recipient r[2] = {{.payload = payload, .payload_len = sizeof payload, .expires_at_ms = 1u << 30},
				       {.payload = payload, .payload_len = sizeof payload, .expires_at_ms = 1u << 30}};
	t_id(r[0].device_id, 'D', 1);
	t_id(r[1].device_id, 'D', 2);
	struct store_send snd = {.kind = STORE_KIND_ENVELOPE, .recipients = r, .n_recipients = 2};
	t_id(snd.sender_device, 'D', 1);
	/* 200 sends of 2 x 20 kB = 8 MB, many in each batch */
	enum { SENDS = 200 };
	static struct t_res res[SENDS];
	memset(res, 0, sizeof res);
	for (unsigned i = 0; i < SENDS; i++) {
		payload[0] = (uint8_t)i;
		t_id(snd.message_id, 'M', i);
		struct store_req *req = store_req_new(e.s, t_cb, &res[i]);
		CHECK_EQ_INT(store_req_store_envelopes(req, &snd), 0);
		CHECK_EQ_INT(store_submit(req), 0);
	}
	t_wait_all(&e, res, SENDS);
	int ok = 0;
	for (unsigned i = 0; i < SENDS; i++)
		ok += res[i].result == 0;
	CHECK_EQ_INT(ok, SENDS);
	struct store_stats st;
	store_get_stats(e.s, &st);
	CHECK(st.map_grows >= 5);
	CHECK(st.map_size >= (8u << 20));
	uint64_t depth;
	CHECK_EQ_INT(store_mailbox_depth(e.s, r[1].device_id, &depth, NULL), 0);
	CHECK_EQ_INT(depth, SENDS);
	t_close(&e);
	/* and it reopens with everything */
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(store_mailbox_depth(e.s, r[0].device_id, &depth, NULL), 0);
	CHECK_EQ_INT(depth, SENDS);
	t_teardown(&e);
}

struct find {
	uint64_t seq;
	bool found;
	size_t len;
};

static int find_cb(const struct store_envelope *env, void *data)
{
	struct find *f = data;
	f->found = env->ref.seq == f->seq;
	f->len = env->payload_len;
	return 1;
}

/* A store whose map starts at 128 KiB and must grow, an account with devices D1 and D2, and a
 * send from D1 of one 30 000-byte envelope to each (the caller sets the message id). */
static uint8_t big_payload[30000];

static void open_growing_store(struct t_env *e, size_t max_batch, struct store_send *snd,
			       struct store_recipient r[2])
{
	REQUIRE_OK(t_setup(e));
	e->cfg.map_size_initial = 128u << 10;
	e->cfg.max_batch = max_batch;
	REQUIRE_OK(t_open(e));
	CHECK_EQ_INT(t_put_account(e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK_EQ_INT(t_put_device(e, 1, 1), 0);
	CHECK_EQ_INT(t_put_device(e, 1, 2), 0);
	for (int i = 0; i < 2; i++) {
		r[i] = (struct store_recipient){.payload = big_payload, .payload_len = sizeof big_payload,
						.expires_at_ms = 1u << 30};
		t_id(r[i].device_id, 'D', (unsigned)i + 1);
	}
	*snd = (struct store_send){.kind = STORE_KIND_ENVELOPE, .recipients = r, .n_recipients = 2};
	t_id(snd->sender_device, 'D', 1);
}

/* The loop thread keeps reading while the writer grows the map under it: every read sees whole
 * requests (an idempotency entry implies both of its envelopes) and intact payloads. */
static void test_reads_during_map_growth(void)
{
	struct t_env e;
	struct store_recipient r[2];
	struct store_send snd;
	open_growing_store(&e, 4, &snd, r);
	enum { SENDS = 150 };
	static struct t_res res[SENDS];
	memset(res, 0, sizeof res);
	for (unsigned i = 0; i < SENDS; i++) {
		t_id(snd.message_id, 'M', i);
		struct store_req *req = store_req_new(e.s, t_cb, &res[i]);
		CHECK_EQ_INT(store_req_store_envelopes(req, &snd), 0);
		CHECK_EQ_INT(store_submit(req), 0);
	}
	unsigned reads = 0, done;
	do {
		uv_run(&e.loop, UV_RUN_NOWAIT);
		done = 0;
		for (unsigned i = 0; i < SENDS; i++)
			done += res[i].done ? 1 : 0;
		unsigned i = reads++ % SENDS;
		struct store_idempotency idem;
		struct store_seq seqs[2];
		t_id(snd.message_id, 'M', i);
		int rc = store_get_idempotency(e.s, snd.sender_device, snd.message_id, &idem, seqs, 2);
		if (rc == STORE_ENOTFOUND)
			continue;
		CHECK_EQ_INT(rc, 0);
		for (int d = 0; d < 2; d++) {
			struct find f = {.seq = seqs[d].seq};
			CHECK_EQ_INT(store_mailbox_iter(e.s, seqs[d].device_id, seqs[d].seq, 1, find_cb, &f), 1);
			CHECK(f.found);
			CHECK_EQ_INT(f.len, sizeof big_payload);
		}
	} while (done < SENDS);
	struct store_stats st;
	store_get_stats(e.s, &st);
	CHECK(st.map_grows >= 3);
	for (unsigned i = 0; i < SENDS; i++)
		CHECK_EQ_INT(res[i].result, 0);
	t_teardown(&e);
}

/* Several threads read at once, more of them than the store keeps finished read transactions
 * for reuse, while the writer commits and grows the map. A read begun after a commit was reported
 * sees it (a reused transaction reads the newest snapshot, as a new one would), and sees it whole. */
enum { READERS = 6, FRESH_SENDS = 120 };

struct reader {
	struct store *s;
	const uint8_t *sender;
	const unsigned *committed; /* sends reported done, in order; written by the loop thread */
	const int *stop;
	unsigned reads, stale, torn, errors;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	while (!__atomic_load_n(rd->stop, __ATOMIC_ACQUIRE)) {
		/* Readers hold the map lock shared, and glibc's rwlock lets a reader in while
		 * another reads even with the writer waiting to remap: leave it gaps, as the loop
		 * thread does between its reads. */
		usleep(100);
		unsigned n = __atomic_load_n(rd->committed, __ATOMIC_ACQUIRE);
		if (n == 0)
			continue;
		uint8_t msg[STORE_ID_BYTES];
		struct store_idempotency idem;
		struct store_seq seqs[2];
		t_id(msg, 'M', n - 1);
		int rc = store_get_idempotency(rd->s, rd->sender, msg, &idem, seqs, 2);
		rd->reads++;
		if (rc == STORE_ENOTFOUND) {
			rd->stale++;
			continue;
		}
		if (rc != 0 || idem.n != 2) {
			rd->errors++;
			continue;
		}
		for (int d = 0; d < 2; d++) {
			struct find f = {.seq = seqs[d].seq};
			rc = store_mailbox_iter(rd->s, seqs[d].device_id, seqs[d].seq, 1, find_cb, &f);
			if (rc != 1 || !f.found || f.len != 30000)
				rd->torn++;
		}
	}
	return NULL;
}

static void test_concurrent_readers_see_every_commit(void)
{
	struct t_env e;
	struct store_recipient r[2];
	struct store_send snd;
	open_growing_store(&e, 2, &snd, r);

	unsigned committed = 0;
	int stop = 0;
	struct reader rd[READERS];
	pthread_t th[READERS];
	for (int i = 0; i < READERS; i++) {
		rd[i] = (struct reader){.s = e.s, .sender = snd.sender_device, .committed = &committed,
					.stop = &stop};
		REQUIRE(pthread_create(&th[i], NULL, reader_main, &rd[i]) == 0);
	}
	/* One send at a time: when its callback has run, it is committed, and every read begun
	 * from then on must find it. */
	for (unsigned i = 0; i < FRESH_SENDS; i++) {
		struct t_res res = {0};
		t_id(snd.message_id, 'M', i);
		struct store_req *req = store_req_new(e.s, t_cb, &res);
		CHECK_EQ_INT(store_req_store_envelopes(req, &snd), 0);
		CHECK_EQ_INT(t_run(&e, req, &res), 0);
		__atomic_store_n(&committed, i + 1, __ATOMIC_RELEASE);
		/* let the readers read this one for a moment (they also keep going during the next) */
		usleep(500);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	unsigned reads = 0;
	for (int i = 0; i < READERS; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(rd[i].stale, 0);
		CHECK_EQ_INT(rd[i].torn, 0);
		CHECK_EQ_INT(rd[i].errors, 0);
		reads += rd[i].reads;
	}
	CHECK(reads >= FRESH_SENDS);
	struct store_stats st;
	store_get_stats(e.s, &st);
	CHECK(st.map_grows >= 3);
	/* closing with the kept transactions in place, then opening again, works */
	t_close(&e);
	REQUIRE_OK(t_open(&e));
	struct store_idempotency idem;
	struct store_seq seqs[2];
	t_id(snd.message_id, 'M', FRESH_SENDS - 1);
	CHECK_EQ_INT(store_get_idempotency(e.s, snd.sender_device, snd.message_id, &idem, seqs, 2), 0);
	t_teardown(&e);
}

static void test_full_map_is_an_error_not_a_crash(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	e.cfg.map_size_initial = 256u << 10;
	e.cfg.map_size_max = 1u << 20;
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 1), 0);
	static uint8_t payload[100000];
	struct store_recipient r = {.payload = payload, .payload_len = sizeof payload, .expires_at_ms = 5};
	t_id(r.device_id, 'D', 1);
	struct store_send snd = {.kind = STORE_KIND_ENVELOPE, .recipients = &r, .n_recipients = 1};
	enum { SENDS = 20 };
	static struct t_res res[SENDS];
	memset(res, 0, sizeof res);
	store_test_pause_writer(e.s, true);
	for (unsigned i = 0; i < SENDS; i++) {
		t_id(snd.message_id, 'M', i);
		struct store_req *req = store_req_new(e.s, t_cb, &res[i]);
		CHECK_EQ_INT(store_req_store_envelopes(req, &snd), 0);
		CHECK_EQ_INT(store_submit(req), 0);
	}
	store_test_pause_writer(e.s, false);
	t_wait_all(&e, res, SENDS);
	int ok = 0, full = 0;
	for (unsigned i = 0; i < SENDS; i++) {
		ok += res[i].result == 0;
		full += res[i].result == STORE_EFULL;
	}
	/* the batch is split when full at the maximum, so the ones that fit are stored */
	CHECK(ok >= 3);
	CHECK(full >= 1);
	CHECK_EQ_INT(ok + full, SENDS);
	struct store_stats st;
	store_get_stats(e.s, &st);
	CHECK_EQ_INT(st.full_errors, full);
	CHECK_EQ_INT(st.disk_full_errors, 0); /* the map was full, not the disk */
	/* What the relay warns with: the map's maximum and how much of it is in use, near all. */
	CHECK_EQ_INT(st.map_size_max, 1u << 20);
	CHECK(st.map_used > (1u << 20) * 8 / 10 && st.map_used <= st.map_size_max);
	uint64_t depth;
	CHECK_EQ_INT(store_mailbox_depth(e.s, r.device_id, &depth, NULL), 0);
	CHECK_EQ_INT(depth, ok);

	/* expiry frees room again; then small writes succeed */
	struct t_res x = {0};
	struct store_req *req = store_req_new(e.s, t_cb, &x);
	CHECK_EQ_INT(store_req_expire(req, 10, 100), 0);
	CHECK_EQ_INT(t_run(&e, req, &x), 0);
	CHECK_EQ_INT(x.op[0].n, ok);
	memset(&x, 0, sizeof x);
	r.payload_len = 10;
	t_id(snd.message_id, 'M', 999);
	req = store_req_new(e.s, t_cb, &x);
	CHECK_EQ_INT(store_req_store_envelopes(req, &snd), 0);
	CHECK_EQ_INT(t_run(&e, req, &x), 0);
	t_teardown(&e);
}

int main(void)
{
	RUN(test_take_one_time_prekey_never_twice);
	RUN(test_group_commit_batches);
	RUN(test_failing_request_leaves_batch_alone);
	RUN_LMDB(test_map_grows_from_tiny_size);
	RUN_LMDB(test_reads_during_map_growth);
	RUN_LMDB(test_concurrent_readers_see_every_commit);
	RUN_LMDB(test_full_map_is_an_error_not_a_crash);
	return TEST_RESULT();
}
