/* SPDX-License-Identifier: MPL-2.0 */
/* The audit log: appends chain onto the head inside the writer's transaction, also across one
 * batch of many requests; a failing request appends nothing; the head survives a reopen; iteration
 * is in seq order and bounded; the test-only raw edit lets a verifier see edits, deletions and
 * truncation. The entries here are a stand-in for the identity library's encoding:
 *   seq u64 || prev_hash (32) || input || hash (32), hash = toy_hash(everything before it). */
#include "test.h"
#include "storage_test.h"

#define HASH STORE_AUDIT_HASH_BYTES

/* Not cryptographic: four FNV-1a lanes, enough to tell entries apart in a test. */
static void toy_hash(const uint8_t *p, size_t n, uint8_t out[HASH])
{
	for (int lane = 0; lane < 4; lane++) {
		uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)(lane + 1) * 0x9e3779b97f4a7c15ull;
		for (size_t i = 0; i < n; i++) {
			h ^= p[i];
			h *= 0x100000001b3ull;
		}
		for (int j = 0; j < 8; j++)
			out[lane * 8 + j] = (uint8_t)(h >> (8 * j));
	}
}

/* Input "fail" makes the builder fail; "big" returns a length past out_cap. */
static int build(uint64_t prev_seq, const uint8_t prev_hash[HASH], const void *input,
		 size_t input_len, uint8_t *out, size_t out_cap, size_t *out_len, uint8_t out_hash[HASH])
{
	if (input_len == 4 && memcmp(input, "fail", 4) == 0)
		return -1;
	if (input_len == 3 && memcmp(input, "big", 3) == 0) {
		*out_len = out_cap + 1;
		return 0;
	}
	size_t n = 8 + HASH + input_len;
	if (n + HASH > out_cap)
		return -1;
	wakks_store_be64(out, prev_seq + 1);
	memcpy(out + 8, prev_hash, HASH);
	if (input_len)
		memcpy(out + 8 + HASH, input, input_len);
	toy_hash(out, n, out + n);
	memcpy(out_hash, out + n, HASH);
	*out_len = n + HASH;
	return 0;
}

#define MAX_APPENDS 4

struct ares {
	int done, result;
	size_t n;
	struct store_audit_append_result r[MAX_APPENDS];
	int ops[MAX_APPENDS];
};

static void acb(struct store_req *req, int result, void *data)
{
	struct ares *a = data;
	a->done = 1;
	a->result = result;
	for (size_t i = 0; i < a->n; i++) {
		const struct store_audit_append_result *r = store_req_audit_result(req, a->ops[i]);
		if (r)
			a->r[i] = *r;
		else
			memset(&a->r[i], 0, sizeof a->r[i]);
	}
}

static void wait_ares(struct t_env *e, struct ares *a, size_t n)
{
	for (;;) {
		size_t done = 0;
		for (size_t i = 0; i < n; i++)
			done += a[i].done ? 1 : 0;
		if (done == n)
			return;
		uv_run(&e->loop, UV_RUN_ONCE);
	}
}

/* Appends one entry with the given input text and waits. */
static int append1(struct t_env *e, const char *input, struct store_audit_append_result *out)
{
	struct ares a = {0};
	struct store_req *req = store_req_new(e->s, acb, &a);
	a.ops[0] = store_req_audit_append(req, build, input, strlen(input));
	if (a.ops[0] < 0) {
		store_req_free(req);
		return a.ops[0];
	}
	a.n = 1;
	if (store_submit(req) != 0)
		return -100;
	wait_ares(e, &a, 1);
	if (out)
		*out = a.r[0];
	return a.result;
}

/* A verifier in the manner of spec/identity.md §10.2 over the stand-in encoding. */
enum { V_OK = 0, V_HASH = 1, V_SEQ = 2, V_PREV = 3, V_HEAD = 4, V_LEN = 5 };
struct verify {
	uint64_t prev_seq, first_bad_at;
	uint8_t prev_hash[HASH];
	int err;
	size_t visited;
};

static int verify_cb(uint64_t seq, const uint8_t *entry, size_t len, void *data)
{
	struct verify *v = data;
	uint8_t h[HASH];
	v->visited++;
	if (len < 8 + 2 * HASH) {
		v->err = V_LEN;
	} else {
		toy_hash(entry, len - HASH, h);
		if (memcmp(h, entry + len - HASH, HASH) != 0)
			v->err = V_HASH;
		else if (wakks_load_be64(entry) != v->prev_seq + 1 || seq != wakks_load_be64(entry))
			v->err = V_SEQ;
		else if (memcmp(entry + 8, v->prev_hash, HASH) != 0)
			v->err = V_PREV;
	}
	if (v->err) {
		v->first_bad_at = seq;
		return 1;
	}
	v->prev_seq = seq;
	memcpy(v->prev_hash, entry + len - HASH, HASH);
	return 0;
}

static int verify_log(struct store *s, uint64_t *n_entries)
{
	struct verify v;
	uint64_t head_seq;
	uint8_t head_hash[HASH];
	memset(&v, 0, sizeof v);
	int rc = store_audit_iter(s, 1, SIZE_MAX, verify_cb, &v);
	if (rc < 0)
		return -100 + rc;
	if (v.err)
		return v.err;
	if (store_audit_head(s, &head_seq, head_hash) != 0)
		return -200;
	if (head_seq != v.prev_seq || memcmp(head_hash, v.prev_hash, HASH) != 0)
		return V_HEAD;
	if (n_entries)
		*n_entries = v.prev_seq;
	return V_OK;
}

static void test_empty_log(void)
{
	struct t_env e;
	uint64_t seq = 99;
	uint8_t hash[HASH], zero[HASH] = {0};
	memset(hash, 0xee, sizeof hash);
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(store_audit_head(e.s, &seq, hash), 0);
	CHECK_EQ_INT(seq, 0);
	CHECK_MEM(hash, zero, HASH);
	CHECK_EQ_INT(verify_log(e.s, NULL), V_OK);
	t_teardown(&e);
}

/* Many requests in one batch, some with several appends, some failing after or before their
 * appends: the successful appends get consecutive seqs, each chained to the hash the builder
 * returned for the previous one; the failing requests leave no entry and no gap. */
static void test_batch_chains_and_failures_append_nothing(void)
{
	enum { N = 120 };
	static struct ares res[N];
	struct t_env e;
	struct store_stats before, after;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	memset(res, 0, sizeof res);
	/* One account and device, so that a store-envelopes op can fail for an unknown device. */
	REQUIRE_OK(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN));
	REQUIRE_OK(t_put_device(&e, 1, 1));
	store_get_stats(e.s, &before);

	size_t expect_entries = 0;
	store_test_pause_writer(e.s, true);
	for (unsigned i = 0; i < N; i++) {
		char input[32];
		struct store_req *req = store_req_new(e.s, acb, &res[i]);
		REQUIRE(req != NULL);
		res[i].n = 1 + i % 3;
		for (size_t j = 0; j < res[i].n; j++) {
			snprintf(input, sizeof input, "req %u op %zu", i, j);
			if (i % 10 == 3 && j == 1)
				strcpy(input, "fail"); /* the builder fails: STORE_EAUDIT */
			if (i % 10 == 7 && j == 0)
				strcpy(input, "big");  /* a length past out_cap: STORE_EAUDIT */
			res[i].ops[j] = store_req_audit_append(req, build, input, strlen(input));
			CHECK_EQ_INT(res[i].ops[j], (int)j);
		}
		if (i % 10 == 5) {
			/* the change the entries record fails after they were appended */
			uint8_t payload[4] = {1, 2, 3, 4};
			struct store_recipient r = {.payload = payload, .payload_len = 4, .expires_at_ms = 1};
			struct store_send snd;
			memset(&snd, 0, sizeof snd);
			t_id(r.device_id, 'D', 777);
			t_id(snd.message_id, 'M', i);
			snd.kind = STORE_KIND_ENVELOPE;
			snd.recipients = &r;
			snd.n_recipients = 1;
			CHECK(store_req_store_envelopes(req, &snd) >= 0);
		}
		bool fails = (i % 10 == 3 && res[i].n > 1) || i % 10 == 7 || i % 10 == 5;
		if (!fails)
			expect_entries += res[i].n;
		CHECK_EQ_INT(store_submit(req), 0);
	}
	store_test_pause_writer(e.s, false);
	wait_ares(&e, res, N);
	store_get_stats(e.s, &after);
	CHECK_EQ_INT(after.batches - before.batches, 1);

	/* Walk the requests in submission order: the writer applies them in that order. */
	uint64_t next = 1;
	uint8_t prev_hash[HASH] = {0};
	for (unsigned i = 0; i < N; i++) {
		bool fails = (i % 10 == 3 && res[i].n > 1) || i % 10 == 7 || i % 10 == 5;
		if (fails) {
			CHECK_EQ_INT(res[i].result, i % 10 == 5 ? STORE_ENODEVICE : STORE_EAUDIT);
			continue;
		}
		CHECK_EQ_INT(res[i].result, 0);
		for (size_t j = 0; j < res[i].n; j++) {
			CHECK_EQ_INT(res[i].r[j].seq, next);
			next++;
			memcpy(prev_hash, res[i].r[j].hash, HASH);
		}
	}
	CHECK_EQ_INT(next - 1, expect_entries);

	/* Stored: each entry's prev is the hash the builder returned for the one before. */
	uint64_t n = 0;
	CHECK_EQ_INT(verify_log(e.s, &n), V_OK);
	CHECK_EQ_INT(n, expect_entries);
	uint64_t head;
	uint8_t head_hash[HASH];
	CHECK_EQ_INT(store_audit_head(e.s, &head, head_hash), 0);
	CHECK_EQ_INT(head, expect_entries);
	CHECK_MEM(head_hash, prev_hash, HASH);
	/* the failing store-envelopes requests stored no envelope either */
	uint64_t count = 1;
	uint8_t did[STORE_ID_BYTES];
	t_id(did, 'D', 1);
	CHECK_EQ_INT(store_mailbox_depth(e.s, did, &count, NULL), 0);
	CHECK_EQ_INT(count, 0);
	t_teardown(&e);
}

static void test_head_survives_reopen(void)
{
	struct t_env e;
	struct store_audit_append_result r1, r2, r3;
	uint64_t seq;
	uint8_t hash[HASH];
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(append1(&e, "config-loaded", &r1), 0);
	CHECK_EQ_INT(append1(&e, "device-registered", &r2), 0);
	CHECK_EQ_INT(r1.seq, 1);
	CHECK_EQ_INT(r2.seq, 2);
	t_close(&e);
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(store_audit_head(e.s, &seq, hash), 0);
	CHECK_EQ_INT(seq, 2);
	CHECK_MEM(hash, r2.hash, HASH);
	CHECK_EQ_INT(append1(&e, "device-revoked", &r3), 0);
	CHECK_EQ_INT(r3.seq, 3);
	CHECK_EQ_INT(verify_log(e.s, NULL), V_OK);
	t_teardown(&e);
}

struct collect {
	int n;
	uint64_t seqs[16];
	size_t lens[16];
	int stop_after;
};

static int collect_cb(uint64_t seq, const uint8_t *entry, size_t len, void *data)
{
	struct collect *c = data;
	(void)entry;
	if (c->n < 16) {
		c->seqs[c->n] = seq;
		c->lens[c->n] = len;
	}
	c->n++;
	return c->stop_after && c->n >= c->stop_after;
}

static void test_iteration_bounds(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	for (int i = 0; i < 10; i++)
		CHECK_EQ_INT(append1(&e, i % 2 ? "odd" : "even entry", NULL), 0);
	struct collect c = {0};
	CHECK_EQ_INT(store_audit_iter(e.s, 4, 3, collect_cb, &c), 3);
	CHECK_EQ_INT(c.seqs[0], 4);
	CHECK_EQ_INT(c.seqs[2], 6);
	CHECK_EQ_INT(c.lens[0], 8 + HASH + 3 + HASH);  /* seq 4: "odd" */
	CHECK_EQ_INT(c.lens[1], 8 + HASH + 10 + HASH); /* seq 5: "even entry" */
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(store_audit_iter(e.s, 0, 100, collect_cb, &c), 10);
	CHECK_EQ_INT(c.seqs[0], 1);
	memset(&c, 0, sizeof c);
	c.stop_after = 2;
	CHECK_EQ_INT(store_audit_iter(e.s, 9, 100, collect_cb, &c), 2);
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(store_audit_iter(e.s, 11, 100, collect_cb, &c), 0);
	CHECK_EQ_INT(store_audit_iter(e.s, 1, 0, collect_cb, &c), 0);
	CHECK_EQ_INT(store_audit_iter(e.s, 1, 1, NULL, &c), STORE_EINVAL);
	t_teardown(&e);
}

static int raw(struct t_env *e, uint64_t seq, const uint8_t *bytes, size_t len)
{
	struct t_res res = {0};
	struct store_req *req = store_req_new(e->s, t_cb, &res);
	if (store_test_req_audit_raw(req, seq, bytes, len) < 0) {
		store_req_free(req);
		return -100;
	}
	return t_run(e, req, &res);
}

struct grab {
	uint8_t bytes[STORE_AUDIT_ENTRY_MAX];
	size_t len;
};

static int grab_cb(uint64_t seq, const uint8_t *entry, size_t len, void *data)
{
	struct grab *g = data;
	(void)seq;
	memcpy(g->bytes, entry, len);
	g->len = len;
	return 1;
}

/* What the relay's `audit verify` relies on: an edit, a deletion and a truncation all show. */
static void test_tampering_is_visible(void)
{
	struct t_env e;
	struct grab g;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(append1(&e, "entry", NULL), 0);
	CHECK_EQ_INT(verify_log(e.s, NULL), V_OK);

	/* edit entry 3 in place */
	CHECK_EQ_INT(store_audit_iter(e.s, 3, 1, grab_cb, &g), 1);
	struct grab orig = g;
	g.bytes[8 + HASH] ^= 1;
	CHECK_EQ_INT(raw(&e, 3, g.bytes, g.len), 0);
	CHECK_EQ_INT(verify_log(e.s, NULL), V_HASH);
	CHECK_EQ_INT(raw(&e, 3, orig.bytes, orig.len), 0);
	CHECK_EQ_INT(verify_log(e.s, NULL), V_OK);

	/* delete entry 2 */
	CHECK_EQ_INT(store_audit_iter(e.s, 2, 1, grab_cb, &g), 1);
	orig = g;
	CHECK_EQ_INT(raw(&e, 2, NULL, 0), 0);
	CHECK_EQ_INT(verify_log(e.s, NULL), V_SEQ);
	CHECK_EQ_INT(raw(&e, 2, NULL, 0), STORE_ENOTFOUND);
	CHECK_EQ_INT(raw(&e, 2, orig.bytes, orig.len), 0);
	CHECK_EQ_INT(verify_log(e.s, NULL), V_OK);

	/* truncate: the last entry goes, the head stays */
	CHECK_EQ_INT(raw(&e, 5, NULL, 0), 0);
	CHECK_EQ_INT(verify_log(e.s, NULL), V_HEAD);
	/* the next append still takes seq head + 1 */
	struct store_audit_append_result r;
	CHECK_EQ_INT(append1(&e, "after", &r), 0);
	CHECK_EQ_INT(r.seq, 6);
	t_teardown(&e);
}

/* The map grows in the middle of a batch: the writer retries the batch, calling the builders
 * again, and the stored chain is still whole. */
static void test_chain_whole_across_map_growth(void)
{
	enum { N = 200 };
	static struct ares res[N];
	static char input[3000];
	struct t_env e;
	struct store_stats st;
	REQUIRE_OK(t_setup(&e));
	e.cfg.map_size_initial = 64u << 10;
	REQUIRE_OK(t_open(&e));
	memset(res, 0, sizeof res);
	store_test_pause_writer(e.s, true);
	for (unsigned i = 0; i < N; i++) {
		memset(input, 'a' + i % 26, sizeof input);
		struct store_req *req = store_req_new(e.s, acb, &res[i]);
		res[i].n = 1;
		res[i].ops[0] = store_req_audit_append(req, build, input, sizeof input);
		CHECK_EQ_INT(store_submit(req), 0);
	}
	store_test_pause_writer(e.s, false);
	wait_ares(&e, res, N);
	store_get_stats(e.s, &st);
	/* PostgreSQL has no map to grow: there the batch runs again after a deadlock or a lost
	 * connection (test_pg_records: two stores appending at once). */
	if (!t_pg())
		CHECK(st.map_grows > 0);
	for (unsigned i = 0; i < N; i++) {
		CHECK_EQ_INT(res[i].result, 0);
		CHECK_EQ_INT(res[i].r[0].seq, i + 1);
	}
	uint64_t n = 0;
	CHECK_EQ_INT(verify_log(e.s, &n), V_OK);
	CHECK_EQ_INT(n, N);
	t_teardown(&e);
}

static void test_limits(void)
{
	struct t_env e;
	static uint8_t big[STORE_AUDIT_INPUT_MAX + 1];
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	struct t_res res = {0};
	struct store_req *req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_audit_append(req, build, big, sizeof big), STORE_ELIMIT);
	CHECK_EQ_INT(store_req_audit_append(req, NULL, big, 1), STORE_EINVAL);
	CHECK_EQ_INT(store_req_audit_append(req, build, NULL, 1), STORE_EINVAL);
	CHECK_EQ_INT(store_req_audit_append(req, build, NULL, 0), 0); /* empty input is fine */
	CHECK_EQ_INT(t_run(&e, req, &res), 0);
	CHECK_EQ_INT(append1(&e, "big", NULL), STORE_EAUDIT);
	CHECK_EQ_INT(append1(&e, "fail", NULL), STORE_EAUDIT);
	CHECK(strcmp(store_strerror(STORE_EAUDIT), "audit entry could not be built") == 0);
	uint64_t seq;
	uint8_t hash[HASH];
	CHECK_EQ_INT(store_audit_head(e.s, &seq, hash), 0);
	CHECK_EQ_INT(seq, 1);
	t_teardown(&e);
}

int main(void)
{
	RUN(test_empty_log);
	RUN(test_batch_chains_and_failures_append_nothing);
	RUN(test_head_survives_reopen);
	RUN(test_iteration_bounds);
	RUN(test_tampering_is_visible);
	RUN(test_chain_whole_across_map_growth);
	RUN(test_limits);
	return TEST_RESULT();
}
