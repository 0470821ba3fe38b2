/* SPDX-License-Identifier: MPL-2.0 */
/* The record areas of the PostgreSQL engine with several relays on one database: two stores (each
 * with its own writer thread and connection, as two relays have) on one fresh database write at
 * once, their batches queued while their writers were paused and then released together.
 * - the audit log stays one chain: every entry's prev is the hash of the one before, no seq is
 *   given twice, and the head is the last entry; a batch that appends never deadlocks with one
 *   that holds other locks;
 * - the consent report's counters equal what the stored records say;
 * - an account erased by one relay while the other writes for it leaves nothing behind;
 * - a blob's references taken and released through both stores end with exactly one removal
 *   that reports its file unused, and a quota is never passed by declares through two stores;
 * - store_check_data finds nothing wrong in all that, and finds a counter changed behind the
 *   store's back and a damaged page; store_backup says that this engine is backed up by the
 *   server's tools.
 * And one store of each engine given the same random requests gives the same answers: every
 * result of every request and every read of the record areas. */
#include <libpq-fe.h>
#include <unistd.h>

#include "pg_server.h"
#include "pg_two.h"
#include "test.h"
#include "storage_test.h"

#define HASH STORE_AUDIT_HASH_BYTES

static void pause_both(struct pg_two *t, bool paused)
{
	store_test_pause_writer(t->s[0], paused);
	store_test_pause_writer(t->s[1], paused);
}

/* Runs the loop until n results are done. */
static void wait_n(struct pg_two *t, const int *done, size_t n, size_t stride)
{
	for (;;) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			k += *(const int *)((const char *)done + i * stride) ? 1 : 0;
		if (k == n)
			return;
		uv_run(&t->loop, UV_RUN_ONCE);
	}
}

static int run1(struct pg_two *t, struct store_req *req, struct t_res *res)
{
	int rc = store_submit(req);
	if (rc)
		return rc;
	wait_n(t, &res->done, 1, sizeof *res);
	return res->result;
}

/* ---- audit: one chain ------------------------------------------------------------------------ */

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

/* seq u64 || prev_hash || input || hash(all before). Runs on both writer threads: pure. */
static int build(uint64_t prev_seq, const uint8_t prev_hash[HASH], const void *input,
		 size_t input_len, uint8_t *out, size_t out_cap, size_t *out_len, uint8_t out_hash[HASH])
{
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

#define APPENDS_MAX 3

struct ares {
	int done, result;
	size_t n;
	int ops[APPENDS_MAX];
	struct store_audit_append_result r[APPENDS_MAX];
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
	}
}

struct walk {
	uint64_t prev_seq, entries, bad_at;
	uint8_t prev_hash[HASH];
	int input_from[2]; /* entries appended through each store, from the inputs */
};

static int walk_cb(uint64_t seq, const uint8_t *e, size_t len, void *data)
{
	struct walk *w = data;
	uint8_t h[HASH];
	if (len < 8 + 2 * HASH + 1)
		goto bad;
	toy_hash(e, len - HASH, h);
	if (memcmp(h, e + len - HASH, HASH) != 0 || wakks_load_be64(e) != seq ||
	    seq != w->prev_seq + 1 || memcmp(e + 8, w->prev_hash, HASH) != 0)
		goto bad;
	w->input_from[e[8 + HASH] == 'B' ? 1 : 0]++;
	w->prev_seq = seq;
	memcpy(w->prev_hash, e + len - HASH, HASH);
	w->entries++;
	return 0;
bad:
	w->bad_at = seq;
	return 1;
}

static void test_audit_two_relays_one_chain(void)
{
	enum { ROUNDS = 3, PER_STORE = 50 };
	static struct ares res[2 * PER_STORE];
	struct pg_two t;
	REQUIRE(pg_two_open(&t, 256) == 0);
	uint64_t expect = 0;
	for (int round = 0; round < ROUNDS; round++) {
		memset(res, 0, sizeof res);
		pause_both(&t, true);
		for (unsigned i = 0; i < 2 * PER_STORE; i++) {
			int which = (int)(i % 2);
			struct store_req *req = store_req_new(t.s[which], acb, &res[i]);
			REQUIRE(req != NULL);
			res[i].n = 1 + (i / 2 + (unsigned)round) % APPENDS_MAX;
			for (size_t j = 0; j < res[i].n; j++) {
				char input[32];
				int len = snprintf(input, sizeof input, "%c r%d i%u j%zu", which ? 'B' : 'A',
						   round, i, j);
				res[i].ops[j] = store_req_audit_append(req, build, input, (size_t)len);
				CHECK_EQ_INT(res[i].ops[j], (int)j);
			}
			expect += res[i].n;
			CHECK_EQ_INT(store_submit(req), 0);
		}
		/* Both writers start their batches at once and contend for the head. */
		pause_both(&t, false);
		wait_n(&t, &res[0].done, 2 * PER_STORE, sizeof res[0]);

		/* Within a request the seqs are consecutive (one transaction holds the head). */
		for (unsigned i = 0; i < 2 * PER_STORE; i++) {
			CHECK_EQ_INT(res[i].result, 0);
			for (size_t j = 1; j < res[i].n; j++)
				CHECK_EQ_INT(res[i].r[j].seq, res[i].r[0].seq + j);
		}
	}

	/* The log: one chain, every seq once, each entry's prev the hash of the one before. */
	struct walk w;
	memset(&w, 0, sizeof w);
	CHECK_EQ_INT(store_audit_iter(t.s[0], 1, SIZE_MAX, walk_cb, &w), (int)expect);
	CHECK_EQ_INT(w.bad_at, 0);
	CHECK_EQ_INT(w.entries, expect);
	CHECK(w.input_from[0] > 0 && w.input_from[1] > 0);
	uint64_t seq[2];
	uint8_t hash[2][HASH];
	for (int i = 0; i < 2; i++)
		CHECK_EQ_INT(store_audit_head(t.s[i], &seq[i], hash[i]), 0);
	CHECK_EQ_INT(seq[0], expect);
	CHECK_EQ_INT(seq[1], expect);
	CHECK_MEM(hash[0], w.prev_hash, HASH);
	CHECK_MEM(hash[1], w.prev_hash, HASH);
	pg_two_close(&t);
}

/* Appends in the same requests as consent records (which lock the account's row), in both
 * orders, through two stores at once: a batch that appends takes the head before any other lock,
 * so no two batches ever wait for each other in a cycle (the server counts deadlocks it broke). */
static int put_account(struct pg_two *t, int which, unsigned n, uint8_t kind);

static void test_audit_with_other_locks_never_deadlocks(void)
{
	enum { PER_STORE = 80 };
	static struct ares res[2 * PER_STORE];
	static const uint8_t rec[] = "record";
	struct pg_two t;
	REQUIRE(pg_two_open(&t, 256) == 0);
	REQUIRE(put_account(&t, 0, 1, STORE_ACCOUNT_CITIZEN) == 0);
	REQUIRE(put_account(&t, 1, 2, STORE_ACCOUNT_CITIZEN) == 0);
	long long before = pg_test_deadlocks(t.conninfo);
	memset(res, 0, sizeof res);
	pause_both(&t, true);
	for (unsigned i = 0; i < 2 * PER_STORE; i++) {
		struct store_consent c;
		memset(&c, 0, sizeof c);
		t_id(c.account_id, 'A', 1 + (i / 2) % 2);
		c.kind = STORE_CONSENT_GRANT;
		strcpy(c.tenant, "varde");
		strcpy(c.text_version, "v1");
		c.record = rec;
		c.record_len = sizeof rec;
		struct store_req *req = store_req_new(t.s[i % 2], acb, &res[i]);
		REQUIRE(req != NULL);
		res[i].n = 1;
		/* store 0: consent then append; store 1: append then consent */
		if (i % 2 == 0)
			CHECK_EQ_INT(store_req_put_consent(req, &c), 0);
		res[i].ops[0] = store_req_audit_append(req, build, i % 2 ? "B" : "A", 1);
		if (i % 2 == 1)
			CHECK_EQ_INT(store_req_put_consent(req, &c), 1);
		CHECK_EQ_INT(store_submit(req), 0);
		/* small batches, many of them: many chances to interleave */
		if (i % 16 == 15) {
			pause_both(&t, false);
			pause_both(&t, true);
		}
	}
	pause_both(&t, false);
	wait_n(&t, &res[0].done, 2 * PER_STORE, sizeof res[0]);
	for (unsigned i = 0; i < 2 * PER_STORE; i++)
		CHECK_EQ_INT(res[i].result, 0);
	struct walk w;
	memset(&w, 0, sizeof w);
	CHECK_EQ_INT(store_audit_iter(t.s[1], 1, SIZE_MAX, walk_cb, &w), 2 * PER_STORE);
	CHECK_EQ_INT(w.bad_at, 0);
	/* the writers' statistics reach the server's view within a second */
	usleep(1500 * 1000);
	CHECK(before >= 0);
	CHECK_EQ_INT(pg_test_deadlocks(t.conninfo), before);
	pg_two_close(&t);
}

/* ---- consent: counters under concurrent writers ---------------------------------------------- */

static int put_account(struct pg_two *t, int which, unsigned n, uint8_t kind)
{
	struct t_res res = {0};
	struct store_account a;
	memset(&a, 0, sizeof a);
	t_id(a.id, 'A', n);
	a.kind = kind;
	strcpy(a.tenant, "varde");
	a.created_ms = 1000 + n;
	struct store_req *req = store_req_new(t->s[which], t_cb, &res);
	if (store_req_put_account(req, &a) < 0) {
		store_req_free(req);
		return -100;
	}
	return run1(t, req, &res);
}

static int put_device(struct pg_two *t, int which, unsigned account, unsigned n)
{
	struct t_res res = {0};
	struct store_device d;
	memset(&d, 0, sizeof d);
	t_id(d.id, 'D', n);
	t_id(d.account_id, 'A', account);
	memset(d.identity_key, (int)n, sizeof d.identity_key);
	d.created_ms = 2000 + n;
	struct store_req *req = store_req_new(t->s[which], t_cb, &res);
	if (store_req_put_device(req, &d) < 0) {
		store_req_free(req);
		return -100;
	}
	return run1(t, req, &res);
}

static const char *const units[] = {"", "jobcenter"};
static const char *const versions[] = {"v1", "v2", "2026-11"};

struct tally {
	uint64_t grants, withdrawals, active;
};

struct expect {
	struct tally t[2][3]; /* unit, version */
	int latest_kind[2];   /* of the account being walked, per unit */
	int latest_version[2];
	uint64_t next_seq, records;
	bool seq_gap;
};

static int unit_ix(const char *u)
{
	return strcmp(u, "") == 0 ? 0 : 1;
}

static int version_ix(const char *v)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(v, versions[i]) == 0)
			return i;
	return -1;
}

static int history_cb(const struct store_consent *c, void *data)
{
	struct expect *e = data;
	int u = unit_ix(c->unit), v = version_ix(c->text_version);
	if (v < 0 || c->seq != e->next_seq)
		e->seq_gap = true;
	e->next_seq = c->seq + 1;
	e->records++;
	if (v < 0)
		return 0;
	if (c->kind == STORE_CONSENT_GRANT)
		e->t[u][v].grants++;
	else
		e->t[u][v].withdrawals++;
	e->latest_kind[u] = c->kind;
	e->latest_version[u] = v;
	return 0;
}

static int report_cb(const struct store_consent_count *row, void *data)
{
	struct tally (*got)[3] = data;
	int v = version_ix(row->text_version);
	if (v < 0)
		return 1;
	struct tally *g = &got[unit_ix(row->unit)][v];
	g->grants = row->grants;
	g->withdrawals = row->withdrawals;
	g->active = row->active;
	return 0;
}

static void test_consent_counters_two_relays(void)
{
	enum { ACCOUNTS = 6, PER_STORE = 64, OPS = 4 };
	static struct t_res res[2 * PER_STORE];
	struct pg_two t;
	REQUIRE(pg_two_open(&t, 256) == 0);
	for (unsigned a = 1; a <= ACCOUNTS; a++)
		REQUIRE(put_account(&t, (int)(a % 2), a, STORE_ACCOUNT_CITIZEN) == 0);

	/* Every request appends for several accounts, both stores for the same ones. */
	static const uint8_t rec[] = "signed consent record";
	memset(res, 0, sizeof res);
	pause_both(&t, true);
	unsigned k = 0;
	for (unsigned i = 0; i < 2 * PER_STORE; i++) {
		struct store_req *req = store_req_new(t.s[i % 2], t_cb, &res[i]);
		REQUIRE(req != NULL);
		for (int j = 0; j < OPS; j++, k++) {
			struct store_consent c;
			memset(&c, 0, sizeof c);
			t_id(c.account_id, 'A', 1 + (k * 7 + i) % ACCOUNTS);
			c.kind = (k % 3 == 1) ? STORE_CONSENT_WITHDRAW : STORE_CONSENT_GRANT;
			strcpy(c.tenant, "varde");
			strcpy(c.unit, units[(k / 2) % 2]);
			strcpy(c.text_version, versions[(k / 3) % 3]);
			c.record = rec;
			c.record_len = sizeof rec;
			memset(c.signature, 0x5a, sizeof c.signature);
			CHECK_EQ_INT(store_req_put_consent(req, &c), j);
		}
		CHECK_EQ_INT(store_submit(req), 0);
	}
	pause_both(&t, false);
	wait_n(&t, &res[0].done, 2 * PER_STORE, sizeof res[0]);
	for (unsigned i = 0; i < 2 * PER_STORE; i++)
		CHECK_EQ_INT(res[i].result, 0);

	/* What the records say, account by account (seqs 1..n without a gap), against the report. */
	struct tally want[2][3];
	memset(want, 0, sizeof want);
	uint64_t records = 0;
	for (unsigned a = 1; a <= ACCOUNTS; a++) {
		struct expect e;
		uint8_t id[STORE_ID_BYTES];
		memset(&e, 0, sizeof e);
		e.next_seq = 1;
		t_id(id, 'A', a);
		CHECK(store_consent_iter(t.s[a % 2], id, history_cb, &e) > 0);
		CHECK(!e.seq_gap);
		records += e.records;
		for (int u = 0; u < 2; u++) {
			for (int v = 0; v < 3; v++) {
				want[u][v].grants += e.t[u][v].grants;
				want[u][v].withdrawals += e.t[u][v].withdrawals;
			}
			if (e.latest_kind[u] == STORE_CONSENT_GRANT)
				want[u][e.latest_version[u]].active++;
			uint8_t kind = 0;
			int rc = store_consent_latest(t.s[0], id, "varde", units[u], &kind, NULL);
			if (e.latest_kind[u]) {
				CHECK_EQ_INT(rc, 0);
				CHECK_EQ_INT(kind, e.latest_kind[u]);
			} else {
				CHECK_EQ_INT(rc, STORE_ENOTFOUND);
			}
		}
	}
	CHECK_EQ_INT(records, 2 * PER_STORE * OPS);
	for (int which = 0; which < 2; which++) {
		struct tally got[2][3];
		memset(got, 0, sizeof got);
		CHECK(store_consent_report(t.s[which], "varde", report_cb, got) > 0);
		for (int u = 0; u < 2; u++)
			for (int v = 0; v < 3; v++) {
				CHECK_EQ_INT(got[u][v].grants, want[u][v].grants);
				CHECK_EQ_INT(got[u][v].withdrawals, want[u][v].withdrawals);
				CHECK_EQ_INT(got[u][v].active, want[u][v].active);
			}
	}
	pg_two_close(&t);
}

struct damage {
	int n;
	char table[64];
};

static void damage_cb(const char *db, const void *key, size_t klen, void *data)
{
	struct damage *d = data;
	(void)key;
	(void)klen;
	if (!d->n)
		snprintf(d->table, sizeof d->table, "%s", db);
	d->n++;
}

/* ---- erase while another relay writes ---------------------------------------------------------- */

struct eres {
	int done, result;
	struct store_erase_result r;
};

static void ecb(struct store_req *req, int result, void *data)
{
	struct eres *e = data;
	e->done = 1;
	e->result = result;
	const struct store_erase_result *r = store_req_erase_result(req, 0);
	if (r)
		e->r = *r;
}

static int erase_step(struct pg_two *t, int which, struct eres *e)
{
	uint8_t id[STORE_ID_BYTES];
	memset(e, 0, sizeof *e);
	t_id(id, 'A', 1);
	struct store_req *req = store_req_new(t->s[which], ecb, e);
	if (!req || store_req_erase_account(req, id) != 0) {
		store_req_free(req);
		return -100;
	}
	return store_submit(req);
}

/* One relay erases account 1 step by step while the other appends consent records for it and
 * sends to its device: each write lands before the erasure or fails after it, and nothing of the
 * account is left, the report's counters included (store_check_data recounts them). */
static void test_erase_while_another_relay_writes(void)
{
	enum { WRITES = 120 };
	static struct t_res res[WRITES];
	static const uint8_t rec[] = "record";
	static const uint8_t payload[8] = {1};
	struct pg_two t;
	REQUIRE(pg_two_open(&t, 4) == 0); /* the writing relay commits in many small batches */
	REQUIRE(put_account(&t, 0, 1, STORE_ACCOUNT_CITIZEN) == 0);
	REQUIRE(put_account(&t, 1, 2, STORE_ACCOUNT_CITIZEN) == 0);
	REQUIRE(put_device(&t, 0, 1, 1) == 0);
	REQUIRE(put_device(&t, 1, 2, 2) == 0);

	memset(res, 0, sizeof res);
	pause_both(&t, true);
	for (unsigned i = 0; i < WRITES; i++) {
		struct store_req *req = store_req_new(t.s[1], t_cb, &res[i]);
		REQUIRE(req != NULL);
		struct store_consent c;
		memset(&c, 0, sizeof c);
		t_id(c.account_id, 'A', i % 3 == 2 ? 2 : 1);
		c.kind = i % 4 == 1 ? STORE_CONSENT_WITHDRAW : STORE_CONSENT_GRANT;
		strcpy(c.tenant, "varde");
		strcpy(c.text_version, i % 5 ? "v1" : "v2");
		c.record = rec;
		c.record_len = sizeof rec;
		CHECK_EQ_INT(store_req_put_consent(req, &c), 0);
		struct store_recipient r = {.payload = payload, .payload_len = sizeof payload,
					    .expires_at_ms = UINT64_MAX / 2};
		t_id(r.device_id, 'D', 1);
		struct store_send snd = {.kind = STORE_KIND_ENVELOPE, .recipients = &r, .n_recipients = 1};
		t_id(snd.sender_account, 'A', 2);
		t_id(snd.sender_device, 'D', 2);
		t_id(snd.message_id, 'M', i);
		if (i % 3 == 0) /* a request of its own: a send to an erased device fails alone */
			CHECK_EQ_INT(store_req_store_envelopes(req, &snd), 1);
		CHECK_EQ_INT(store_submit(req), 0);
	}
	/* The writes start; the erasure starts once a third of them are in. */
	struct eres e;
	REQUIRE(erase_step(&t, 0, &e) == 0);
	store_test_pause_writer(t.s[1], false);
	for (;;) {
		int done = 0;
		for (unsigned i = 0; i < WRITES; i++)
			done += res[i].done;
		if (done >= WRITES / 3)
			break;
		uv_run(&t.loop, UV_RUN_ONCE);
	}
	store_test_pause_writer(t.s[0], false);
	int steps = 0;
	for (;;) {
		wait_n(&t, &e.done, 1, sizeof e);
		CHECK_EQ_INT(e.result, 0);
		steps++;
		if (e.result || e.r.account_deleted || !e.r.found || steps > 100)
			break;
		REQUIRE(erase_step(&t, 0, &e) == 0);
	}
	CHECK(e.r.account_deleted);
	wait_n(&t, &res[0].done, WRITES, sizeof res[0]);
	int landed = 0, refused = 0;
	for (unsigned i = 0; i < WRITES; i++) {
		if (res[i].result == 0)
			landed++;
		else if (res[i].result == STORE_ENOTFOUND || res[i].result == STORE_ENODEVICE)
			refused++;
		else
			CHECK_EQ_INT(res[i].result, 0);
	}
	CHECK_EQ_INT(landed + refused, WRITES);
	CHECK(landed > WRITES / 3 && refused > 0); /* writes on both sides of the erasure */
	/* Whatever landed before the erasure went with it; writes after it found no account. */
	uint8_t id[STORE_ID_BYTES];
	struct store_account a;
	t_id(id, 'A', 1);
	CHECK_EQ_INT(store_get_account(t.s[1], id, &a), STORE_ENOTFOUND);
	struct expect x;
	memset(&x, 0, sizeof x);
	x.next_seq = 1;
	CHECK_EQ_INT(store_consent_iter(t.s[1], id, history_cb, &x), 0);
	CHECK_EQ_INT(store_consent_latest(t.s[1], id, "varde", "", NULL, NULL), STORE_ENOTFOUND);
	uint64_t depth = 0;
	t_id(id, 'D', 1);
	CHECK_EQ_INT(store_mailbox_depth(t.s[0], id, &depth, NULL), STORE_ENOTFOUND);
	/* The counters are those of account 2's records alone. */
	struct damage d = {0};
	CHECK_EQ_INT(store_check_data(t.s[0], damage_cb, &d, NULL), 0);
	pg_two_close(&t);
}

/* ---- blobs: references across two stores ------------------------------------------------------ */

struct bres {
	int done, result;
	bool created;
	size_t n_removed;
	struct store_blob_removed removed[4];
};

static void bcb(struct store_req *req, int result, void *data)
{
	struct bres *r = data;
	r->done = 1;
	r->result = result;
	for (int i = 0; i < 4; i++) {
		bool created = false;
		if (store_req_blob_result(req, i, &created))
			r->created = created;
		const struct store_blob_removal *rm = store_req_blob_removed(req, i);
		for (size_t j = 0; rm && j < rm->n && r->n_removed < 4; j++)
			r->removed[r->n_removed++] = rm->items[j];
	}
}

static void make_blob(struct store_blob *b, unsigned n, uint64_t size, uint8_t sha)
{
	memset(b, 0, sizeof *b);
	t_id(b->id, 'B', n);
	t_id(b->owner_account, 'A', 2);
	t_id(b->owner_device, 'D', 10);
	b->size = size;
	memset(b->sha256, sha, sizeof b->sha256);
	b->expires_at_ms = 4000;
}

static int blob_step(struct pg_two *t, int which, int kind, unsigned n, uint64_t size)
{
	struct bres r = {0};
	struct store_blob b;
	make_blob(&b, n, size, 0x61);
	struct store_req *req = store_req_new(t->s[which], bcb, &r);
	int op = kind == 0   ? store_req_blob_declare(req, &b, 0)
		 : kind == 1 ? store_req_blob_progress(req, b.id, 0, size, 5000)
			     : store_req_blob_complete(req, b.id, 6000);
	if (op < 0) {
		store_req_free(req);
		return -100;
	}
	CHECK_EQ_INT(store_submit(req), 0);
	wait_n(t, &r.done, 1, sizeof r);
	return r.result;
}

static void test_blob_refs_two_relays(void)
{
	enum { SENDS = 32 };
	static struct bres res[2 * SENDS];
	struct pg_two t;
	REQUIRE(pg_two_open(&t, 256) == 0);
	REQUIRE(put_account(&t, 0, 1, STORE_ACCOUNT_CASEWORKER) == 0);
	REQUIRE(put_account(&t, 1, 2, STORE_ACCOUNT_CITIZEN) == 0);
	REQUIRE(put_device(&t, 0, 1, 1) == 0);
	REQUIRE(put_device(&t, 1, 1, 2) == 0);
	REQUIRE(put_device(&t, 0, 2, 10) == 0);
	/* Declared through one store, completed through the other: the record is shared. */
	REQUIRE(blob_step(&t, 0, 0, 1, 100) == 0);
	REQUIRE(blob_step(&t, 1, 1, 1, 100) == 0);
	REQUIRE(blob_step(&t, 0, 2, 1, 100) == 0);
	/* A second complete blob with the same content: its file stays while this one lives. */
	REQUIRE(blob_step(&t, 1, 0, 2, 100) == 0);
	REQUIRE(blob_step(&t, 1, 1, 2, 100) == 0);
	REQUIRE(blob_step(&t, 1, 2, 2, 100) == 0);

	/* SENDS sends to devices 1 and 2 referencing blob 1, alternately through the two stores. */
	uint8_t blob[1][STORE_ID_BYTES], devs[2][STORE_ID_BYTES];
	t_id(blob[0], 'B', 1);
	t_id(devs[0], 'D', 1);
	t_id(devs[1], 'D', 2);
	memset(res, 0, sizeof res);
	pause_both(&t, true);
	for (unsigned i = 0; i < SENDS; i++) {
		struct store_recipient r[2];
		memset(r, 0, sizeof r);
		for (int d = 0; d < 2; d++) {
			memcpy(r[d].device_id, devs[d], STORE_ID_BYTES);
			r[d].payload = (const uint8_t *)"x";
			r[d].payload_len = 1;
			r[d].expires_at_ms = 9000;
		}
		struct store_send s = {.kind = STORE_KIND_ENVELOPE, .recipients = r, .n_recipients = 2};
		t_id(s.sender_account, 'A', 2);
		t_id(s.sender_device, 'D', 10);
		t_id(s.message_id, 'M', i);
		struct store_req *req = store_req_new(t.s[i % 2], bcb, &res[i]);
		int op = store_req_store_envelopes(req, &s);
		CHECK(op >= 0);
		CHECK(store_req_blob_ref(req, (const uint8_t(*)[STORE_ID_BYTES])blob, 1,
					 (const uint8_t(*)[STORE_ID_BYTES])devs, 2, 9000, op) >= 0);
		CHECK_EQ_INT(store_submit(req), 0);
	}
	pause_both(&t, false);
	wait_n(&t, &res[0].done, SENDS, sizeof res[0]);
	for (unsigned i = 0; i < SENDS; i++)
		CHECK_EQ_INT(res[i].result, 0);
	struct store_blob b;
	REQUIRE(store_get_blob(t.s[1], blob[0], &b) == 0);
	CHECK_EQ_INT(b.refs, 2 * SENDS);
	CHECK_EQ_INT(b.expires_at_ms, 9000);
	uint32_t count = 0;
	CHECK_EQ_INT(store_get_blob_grant(t.s[0], blob[0], devs[1], &count, NULL), 0);
	CHECK_EQ_INT(count, SENDS);

	/* Every envelope acknowledged, each device's acks through both stores at once. */
	memset(res, 0, sizeof res);
	pause_both(&t, true);
	for (unsigned i = 0; i < 2 * SENDS; i++) {
		int d = (int)(i % 2);
		struct store_req *req = store_req_new(t.s[(i / 2) % 2], bcb, &res[i]);
		int op = store_req_delete_envelope(req, devs[d], i / 2 + 1);
		CHECK(op >= 0);
		CHECK(store_req_blob_release(req, (const uint8_t(*)[STORE_ID_BYTES])blob, 1, devs[d], op) >= 0);
		CHECK_EQ_INT(store_submit(req), 0);
	}
	pause_both(&t, false);
	wait_n(&t, &res[0].done, 2 * SENDS, sizeof res[0]);
	size_t removals = 0;
	for (unsigned i = 0; i < 2 * SENDS; i++) {
		CHECK_EQ_INT(res[i].result, 0);
		removals += res[i].n_removed;
		if (res[i].n_removed) {
			CHECK_MEM(res[i].removed[0].id, blob[0], STORE_ID_BYTES);
			CHECK(!res[i].removed[0].file_unused); /* blob 2 names the same content */
		}
	}
	CHECK_EQ_INT(removals, 1);
	CHECK_EQ_INT(store_get_blob(t.s[0], blob[0], &b), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_get_blob_grant(t.s[1], blob[0], devs[0], &count, NULL), STORE_ENOTFOUND);
	uint8_t sha[STORE_BLOB_SHA_BYTES];
	memset(sha, 0x61, sizeof sha);
	CHECK_EQ_INT(store_get_blob_file_count(t.s[1], sha, &count), 0);
	CHECK_EQ_INT(count, 1);
	uint64_t used = 0;
	CHECK_EQ_INT(store_get_blob_usage(t.s[0], b.owner_account, &used, &count), 0);
	CHECK_EQ_INT(used, 100);
	CHECK_EQ_INT(count, 1);

	/* Declares through both stores against one quota: exactly as many as fit. */
	memset(res, 0, sizeof res);
	pause_both(&t, true);
	for (unsigned i = 0; i < 20; i++) {
		struct store_blob nb;
		make_blob(&nb, 100 + i, 100, 0x70);
		struct store_req *req = store_req_new(t.s[i % 2], bcb, &res[i]);
		CHECK(store_req_blob_declare(req, &nb, 1000) >= 0);
		CHECK_EQ_INT(store_submit(req), 0);
	}
	pause_both(&t, false);
	wait_n(&t, &res[0].done, 20, sizeof res[0]);
	int ok = 0, over = 0;
	for (unsigned i = 0; i < 20; i++) {
		ok += res[i].result == 0;
		over += res[i].result == STORE_EQUOTA;
	}
	CHECK_EQ_INT(ok, 9); /* 100 bytes used by blob 2, 9 x 100 more fit in 1000 */
	CHECK_EQ_INT(over, 11);
	CHECK_EQ_INT(store_get_blob_usage(t.s[1], b.owner_account, &used, &count), 0);
	CHECK_EQ_INT(used, 1000);
	CHECK_EQ_INT(count, 10);

	/* The last blob of a content removed through the other store: its file is unused. */
	struct bres r = {0};
	uint8_t id2[STORE_ID_BYTES];
	t_id(id2, 'B', 2);
	struct store_req *req = store_req_new(t.s[0], bcb, &r);
	REQUIRE(store_req_blob_delete(req, id2) >= 0);
	CHECK_EQ_INT(store_submit(req), 0);
	wait_n(&t, &r.done, 1, sizeof r);
	CHECK_EQ_INT(r.result, 0);
	CHECK_EQ_INT(r.n_removed, 1);
	CHECK(r.removed[0].file_unused);
	pg_two_close(&t);
}

/* ---- check and backup ------------------------------------------------------------------------ */

static void test_check_data_and_backup(void)
{
	struct pg_two t;
	REQUIRE(pg_two_open(&t, 256) == 0);
	REQUIRE(put_account(&t, 0, 2, STORE_ACCOUNT_CITIZEN) == 0);
	REQUIRE(blob_step(&t, 0, 0, 1, 100) == 0);
	REQUIRE(blob_step(&t, 1, 1, 1, 100) == 0);
	REQUIRE(blob_step(&t, 0, 2, 1, 100) == 0);
	struct store_consent c;
	static const uint8_t rec[] = "record";
	memset(&c, 0, sizeof c);
	t_id(c.account_id, 'A', 2);
	c.kind = STORE_CONSENT_GRANT;
	strcpy(c.tenant, "varde");
	strcpy(c.text_version, "v1");
	c.record = rec;
	c.record_len = sizeof rec;
	struct t_res res = {0};
	struct store_req *req = store_req_new(t.s[1], t_cb, &res);
	REQUIRE(store_req_put_consent(req, &c) == 0);
	REQUIRE(run1(&t, req, &res) == 0);

	struct damage d = {0};
	uint64_t records = 0;
	CHECK_EQ_INT(store_check_data(t.s[0], damage_cb, &d, &records), 0);
	CHECK_EQ_INT(d.n, 0);
	CHECK(records >= 7); /* meta, account, blob, usage, file count, consent, latest, counts... */

	/* A counter changed behind the store's back is found. */
	PGconn *conn = PQconnectdb(t.conninfo);
	REQUIRE(PQstatus(conn) == CONNECTION_OK);
	PGresult *r = PQexec(conn, "UPDATE blob_usage SET bytes = bytes + 1");
	CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
	PQclear(r);
	r = PQexec(conn, "UPDATE consent_counts SET active = 0");
	CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
	PQclear(r);
	PQfinish(conn);
	CHECK_EQ_INT(store_check_data(t.s[1], damage_cb, &d, NULL), 2);
	CHECK_EQ_INT(d.n, 2);
	CHECK(strcmp(d.table, "blob_usage") == 0);

	CHECK_EQ_INT(store_backup(t.s[0], "/nonexistent/backup"), STORE_ENOTSUP);
	CHECK(strcmp(store_strerror(STORE_ENOTSUP), "not supported by this storage engine") == 0);
	pg_two_close(&t);
}

/* A page of the consents table damaged on disk (the server stopped, one byte changed, started
 * again): the cluster's data checksums make the scan fail, and store_check_data reports the
 * table instead of counting it as read. */
static void test_check_data_finds_a_damaged_page(void)
{
	struct pg_server srv;
	char conninfo[512], path[700];
	uv_loop_t loop;
	struct store *s = NULL;
	struct store_config cfg;
	memset(&srv, 0, sizeof srv);
	REQUIRE(pg_server_start(&srv) == 0);
	REQUIRE(pg_server_exec(&srv, NULL, "CREATE DATABASE chk") == 0);
	REQUIRE(pg_server_conninfo(&srv, "chk", conninfo, sizeof conninfo) == 0);
	REQUIRE(uv_loop_init(&loop) == 0);
	memset(&cfg, 0, sizeof cfg);
	cfg.pg_conninfo = conninfo;
	REQUIRE(store_open(&s, &loop, &cfg) == 0);

	/* an account and a consent record, so that the consents table has a page */
	struct t_res res = {0};
	struct store_account a;
	memset(&a, 0, sizeof a);
	t_id(a.id, 'A', 1);
	a.kind = STORE_ACCOUNT_CITIZEN;
	strcpy(a.tenant, "varde");
	struct store_req *req = store_req_new(s, t_cb, &res);
	REQUIRE(store_req_put_account(req, &a) == 0);
	static const uint8_t rec[] = "record";
	struct store_consent c;
	memset(&c, 0, sizeof c);
	memcpy(c.account_id, a.id, STORE_ID_BYTES);
	c.kind = STORE_CONSENT_GRANT;
	strcpy(c.tenant, "varde");
	strcpy(c.text_version, "v1");
	c.record = rec;
	c.record_len = sizeof rec;
	REQUIRE(store_req_put_consent(req, &c) == 1);
	REQUIRE(store_submit(req) == 0);
	while (!res.done)
		uv_run(&loop, UV_RUN_ONCE);
	CHECK_EQ_INT(res.result, 0);
	struct damage d = {0};
	CHECK_EQ_INT(store_check_data(s, damage_cb, &d, NULL), 0);

	PGconn *conn = PQconnectdb(conninfo);
	PGresult *r = PQexec(conn, "SELECT pg_relation_filepath('consents')");
	REQUIRE(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
	snprintf(path, sizeof path, "%s/%s", srv.data_dir, PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(conn);
	store_close(s);
	uv_run(&loop, UV_RUN_NOWAIT);

	/* stopped cleanly (checkpoint: the page is on disk), one byte of it changed */
	REQUIRE(pg_server_stop(&srv) == 0);
	FILE *f = fopen(path, "r+b");
	REQUIRE(f != NULL);
	uint8_t byte = 0;
	CHECK(fseek(f, 4000, SEEK_SET) == 0 && fread(&byte, 1, 1, f) == 1);
	byte ^= 0x5a;
	CHECK(fseek(f, 4000, SEEK_SET) == 0 && fwrite(&byte, 1, 1, f) == 1);
	fclose(f);
	REQUIRE(pg_server_restart(&srv) == 0);

	REQUIRE(store_open(&s, &loop, &cfg) == 0);
	memset(&d, 0, sizeof d);
	uint64_t records = 0;
	int n = store_check_data(s, damage_cb, &d, &records);
	CHECK(n >= 1);
	CHECK_EQ_INT(n, d.n);
	CHECK(strcmp(d.table, "consents") == 0);
	store_close(s);
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_loop_close(&loop);
	pg_server_cleanup(&srv);
}

/* ---- the same answers as LMDB ---------------------------------------------------------------- */

/* Everything a request's results say, captured for comparison (zeroed first: compared whole). */
struct dres {
	int done, result;
	bool has_failed_device;
	uint8_t failed_device[STORE_ID_BYTES];
	struct {
		struct store_put_consent_result consent;
		struct store_audit_append_result audit;
		struct store_blob blob;
		bool created;
		size_t n_removed;
		struct store_blob_removed removed[8];
		bool more;
		struct store_erase_result erase;
		bool duplicate;
		size_t n_seqs;
		struct store_seq seqs[4];
		struct store_delete_result del;
	} op[4];
};

/* Field by field into zeroed structs: padding bytes are not results. */
static void blob_copy(struct store_blob *to, const struct store_blob *b)
{
	memset(to, 0, sizeof *to);
	memcpy(to->id, b->id, STORE_ID_BYTES);
	to->state = b->state;
	memcpy(to->owner_account, b->owner_account, STORE_ID_BYTES);
	memcpy(to->owner_device, b->owner_device, STORE_ID_BYTES);
	to->size = b->size;
	to->have = b->have;
	memcpy(to->sha256, b->sha256, STORE_BLOB_SHA_BYTES);
	to->created_ms = b->created_ms;
	to->expires_at_ms = b->expires_at_ms;
	to->refs = b->refs;
}

static void removed_copy(struct store_blob_removed *to, const struct store_blob_removed *r)
{
	memset(to, 0, sizeof *to);
	memcpy(to->id, r->id, STORE_ID_BYTES);
	to->state = r->state;
	memcpy(to->sha256, r->sha256, STORE_BLOB_SHA_BYTES);
	to->file_unused = r->file_unused;
}

static void erase_copy(struct store_erase_result *to, const struct store_erase_result *e)
{
	memset(to, 0, sizeof *to);
	to->found = e->found;
	to->more = e->more;
	to->account_deleted = e->account_deleted;
	to->devices = e->devices;
	to->envelopes = e->envelopes;
	to->envelope_bytes = e->envelope_bytes;
	to->signed_prekeys = e->signed_prekeys;
	to->one_time_prekeys = e->one_time_prekeys;
	to->idempotency = e->idempotency;
	to->consents = e->consents;
	to->consent_latest = e->consent_latest;
	to->index_entries = e->index_entries;
	to->blobs = e->blobs;
}

static void del_copy(struct store_delete_result *to, const struct store_delete_result *d)
{
	memset(to, 0, sizeof *to);
	to->found = d->found;
	to->damaged = d->damaged;
	memcpy(to->ref.device_id, d->ref.device_id, STORE_ID_BYTES);
	to->ref.seq = d->ref.seq;
	to->ref.kind = d->ref.kind;
	memcpy(to->ref.sender_account, d->ref.sender_account, STORE_ID_BYTES);
	memcpy(to->ref.sender_device, d->ref.sender_device, STORE_ID_BYTES);
	memcpy(to->ref.message_id, d->ref.message_id, STORE_ID_BYTES);
}

static void dcb(struct store_req *req, int result, void *data)
{
	struct dres *d = data;
	d->done = 1;
	d->result = result;
	const uint8_t *fd = store_req_failed_device(req);
	d->has_failed_device = fd != NULL;
	if (fd)
		memcpy(d->failed_device, fd, STORE_ID_BYTES);
	for (int i = 0; i < 4; i++) {
		const struct store_put_consent_result *c = store_req_put_consent_result(req, i);
		const struct store_audit_append_result *a = store_req_audit_result(req, i);
		const struct store_blob *b = store_req_blob_result(req, i, &d->op[i].created);
		const struct store_blob_removal *rm = store_req_blob_removed(req, i);
		const struct store_erase_result *e = store_req_erase_result(req, i);
		const struct store_send_result *sr = store_req_send_result(req, i);
		const struct store_delete_result *dr = store_req_delete_result(req, i);
		if (c)
			d->op[i].consent = *c;
		if (a)
			d->op[i].audit = *a;
		if (b)
			blob_copy(&d->op[i].blob, b);
		if (rm) {
			d->op[i].n_removed = rm->n;
			d->op[i].more = rm->more;
			for (size_t k = 0; k < rm->n && k < 8; k++)
				removed_copy(&d->op[i].removed[k], &rm->items[k]);
		}
		if (e)
			erase_copy(&d->op[i].erase, e);
		if (sr) {
			d->op[i].duplicate = sr->duplicate;
			d->op[i].n_seqs = sr->n;
			for (size_t k = 0; k < sr->n && k < 4; k++) {
				memcpy(d->op[i].seqs[k].device_id, sr->seqs[k].device_id, STORE_ID_BYTES);
				d->op[i].seqs[k].seq = sr->seqs[k].seq;
			}
		}
		if (dr)
			del_copy(&d->op[i].del, dr);
	}
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static unsigned rnd(unsigned n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (unsigned)(rnd_state % n);
}

static uint64_t diff_now = 1000;
static uint64_t diff_clock(void *data)
{
	(void)data;
	return diff_now;
}

/* Adds one random operation (or a pair: a send with its blob reference, an ack with its release)
 * to req; the same draws build the same request for both engines. */
static void add_random_op(struct store_req *req)
{
	static const uint8_t rec[] = "consent record";
	static const uint8_t payload[5] = {9, 8, 7, 6, 5};
	uint8_t id[STORE_ID_BYTES], devs[2][STORE_ID_BYTES];
	unsigned kind = rnd(100);
	if (kind < 20) {
		struct store_consent c;
		memset(&c, 0, sizeof c);
		t_id(c.account_id, 'A', 1 + rnd(5)); /* 4: a caseworker; 5: no such account */
		c.kind = rnd(3) ? STORE_CONSENT_GRANT : STORE_CONSENT_WITHDRAW;
		strcpy(c.tenant, rnd(4) ? "varde" : "esbjerg");
		strcpy(c.unit, rnd(2) ? "" : "jobcenter");
		strcpy(c.text_version, rnd(2) ? "v1" : "2026-11");
		c.record = rec;
		c.record_len = 1 + rnd(sizeof rec - 1);
		memset(c.signature, (int)rnd(256), sizeof c.signature);
		if (rnd(5) == 0)
			c.received_at_ms = 777;
		store_req_put_consent(req, &c);
	} else if (kind < 32) {
		char in[16];
		int len = snprintf(in, sizeof in, "e%u", rnd(1000));
		store_req_audit_append(req, build, in, (size_t)len);
	} else if (kind < 47) {
		struct store_blob b;
		memset(&b, 0, sizeof b);
		t_id(b.id, 'B', 1 + rnd(6));
		unsigned owner = 2 + rnd(2);
		t_id(b.owner_account, 'A', owner);
		t_id(b.owner_device, 'D', 10 * owner + rnd(2));
		b.size = 10 * (1 + rnd(2));
		memset(b.sha256, (int)rnd(3), sizeof b.sha256);
		b.expires_at_ms = 2000 + 100 * rnd(20);
		store_req_blob_declare(req, &b, rnd(2) ? 0 : 50);
	} else if (kind < 57) {
		t_id(id, 'B', 1 + rnd(6));
		store_req_blob_progress(req, id, 10 * rnd(2), 10 * (1 + rnd(2)), 2000 + 100 * rnd(20));
	} else if (kind < 65) {
		t_id(id, 'B', 1 + rnd(6));
		store_req_blob_complete(req, id, 2000 + 100 * rnd(20));
	} else if (kind < 68) {
		t_id(id, 'B', 1 + rnd(6));
		store_req_blob_delete(req, id);
	} else if (kind < 72) {
		store_req_blob_expire(req, 1500 + 100 * rnd(30), 1 + rnd(3));
	} else if (kind < 86) {
		struct store_recipient r[2];
		memset(r, 0, sizeof r);
		size_t n = 1 + rnd(2);
		for (size_t k = 0; k < n; k++) {
			t_id(r[k].device_id, 'D', 1 + (unsigned)k);
			memcpy(devs[k], r[k].device_id, STORE_ID_BYTES);
			r[k].payload = payload;
			r[k].payload_len = 1 + rnd(sizeof payload);
			r[k].expires_at_ms = 3000 + 100 * rnd(20);
		}
		struct store_send snd = {.kind = STORE_KIND_ENVELOPE, .recipients = r, .n_recipients = n};
		t_id(snd.sender_account, 'A', 2);
		t_id(snd.sender_device, 'D', 20);
		t_id(snd.message_id, 'M', rnd(40)); /* repeats: duplicates */
		int op = store_req_store_envelopes(req, &snd);
		t_id(id, 'B', 1 + rnd(6));
		if (op >= 0 && rnd(3))
			store_req_blob_ref(req, (const uint8_t(*)[STORE_ID_BYTES])id, 1,
					   (const uint8_t(*)[STORE_ID_BYTES])devs, n, r[0].expires_at_ms, op);
	} else if (kind < 98) {
		uint8_t dev[STORE_ID_BYTES];
		t_id(dev, 'D', 1 + rnd(2));
		int op = store_req_delete_envelope(req, dev, 1 + rnd(12));
		t_id(id, 'B', 1 + rnd(6));
		if (op >= 0)
			store_req_blob_release(req, (const uint8_t(*)[STORE_ID_BYTES])id, 1, dev, op);
	} else {
		t_id(id, 'A', 1 + rnd(3));
		store_req_erase_account(req, id);
	}
}

struct cons_list {
	size_t n;
	uint8_t bytes[64][512];
	size_t len[64];
};

static int cons_cb(const struct store_consent *c, void *data)
{
	struct cons_list *l = data;
	if (l->n < 64) {
		uint8_t *p = l->bytes[l->n];
		size_t off = 0;
#define PUT(src, n) (memcpy(p + off, (src), (n)), off += (n))
		PUT(c->account_id, STORE_ID_BYTES);
		PUT(&c->seq, 8);
		PUT(&c->kind, 1);
		PUT(c->tenant, strlen(c->tenant) + 1);
		PUT(c->unit, strlen(c->unit) + 1);
		PUT(c->text_version, strlen(c->text_version) + 1);
		PUT(&c->received_at_ms, 8);
		PUT(&c->record_len, sizeof c->record_len);
		PUT(c->record, c->record_len);
		PUT(c->signature, STORE_SIG_BYTES);
#undef PUT
		l->len[l->n] = off;
	}
	l->n++;
	return 0;
}

struct flat {
	size_t len;
	uint8_t buf[1 << 16];
};

static void flat_add(struct flat *f, const void *p, size_t n)
{
	if (f->len + n <= sizeof f->buf) {
		memcpy(f->buf + f->len, p, n);
		f->len += n;
	}
}

static int report_flat(const struct store_consent_count *row, void *data)
{
	flat_add(data, row->unit, strlen(row->unit) + 1);
	flat_add(data, row->text_version, strlen(row->text_version) + 1);
	flat_add(data, &row->grants, 8);
	flat_add(data, &row->withdrawals, 8);
	flat_add(data, &row->active, 8);
	return 0;
}

static int audit_flat(uint64_t seq, const uint8_t *e, size_t len, void *data)
{
	flat_add(data, &seq, 8);
	flat_add(data, e, len);
	return 0;
}

static int blob_flat(const struct store_blob *b, void *data)
{
	struct store_blob c;
	blob_copy(&c, b);
	flat_add(data, &c, sizeof c);
	return 0;
}

/* Everything the reads of the record areas say, flattened. */
static void snapshot(struct store *s, struct flat *f)
{
	static struct cons_list cl;
	memset(f, 0, sizeof *f);
	for (unsigned a = 1; a <= 5; a++) {
		uint8_t id[STORE_ID_BYTES];
		t_id(id, 'A', a);
		memset(&cl, 0, sizeof cl);
		int rc = store_consent_iter(s, id, cons_cb, &cl);
		flat_add(f, &rc, sizeof rc);
		for (size_t i = 0; i < cl.n && i < 64; i++)
			flat_add(f, cl.bytes[i], cl.len[i]);
		for (int t = 0; t < 2; t++)
			for (int u = 0; u < 2; u++) {
				uint8_t kind = 0;
				uint64_t at = 0;
				rc = store_consent_latest(s, id, t ? "varde" : "esbjerg", u ? "jobcenter" : "",
							  &kind, &at);
				flat_add(f, &rc, sizeof rc);
				flat_add(f, &kind, 1);
				flat_add(f, &at, 8);
			}
		uint64_t bytes = 0;
		uint32_t count = 0;
		rc = store_get_blob_usage(s, id, &bytes, &count);
		flat_add(f, &rc, sizeof rc);
		flat_add(f, &bytes, 8);
		flat_add(f, &count, 4);
	}
	int rc = store_consent_report(s, "varde", report_flat, f);
	flat_add(f, &rc, sizeof rc);
	rc = store_consent_report(s, "esbjerg", report_flat, f);
	flat_add(f, &rc, sizeof rc);
	uint64_t head = 0;
	uint8_t hash[HASH];
	rc = store_audit_head(s, &head, hash);
	flat_add(f, &rc, sizeof rc);
	flat_add(f, &head, 8);
	flat_add(f, hash, HASH);
	rc = store_audit_iter(s, 0, SIZE_MAX, audit_flat, f);
	flat_add(f, &rc, sizeof rc);
	rc = store_list_blobs(s, blob_flat, f);
	flat_add(f, &rc, sizeof rc);
	for (int sha = 0; sha < 3; sha++) {
		uint8_t h[STORE_BLOB_SHA_BYTES];
		uint32_t n = 0;
		memset(h, sha, sizeof h);
		rc = store_get_blob_file_count(s, h, &n);
		flat_add(f, &rc, sizeof rc);
		flat_add(f, &n, 4);
	}
	for (unsigned b = 1; b <= 6; b++)
		for (unsigned d = 1; d <= 2; d++) {
			uint8_t bid[STORE_ID_BYTES], did[STORE_ID_BYTES];
			uint32_t n = 0;
			uint64_t until = 0;
			t_id(bid, 'B', b);
			t_id(did, 'D', d);
			rc = store_get_blob_grant(s, bid, did, &n, &until);
			flat_add(f, &rc, sizeof rc);
			flat_add(f, &n, 4);
			flat_add(f, &until, 8);
		}
	for (unsigned d = 1; d <= 3; d++) {
		uint8_t did[STORE_ID_BYTES];
		uint64_t count = 0, bytes = 0;
		t_id(did, 'D', d);
		rc = store_mailbox_depth(s, did, &count, &bytes);
		flat_add(f, &rc, sizeof rc);
		flat_add(f, &count, 8);
		flat_add(f, &bytes, 8);
	}
}

/* The same random requests, one at a time with the same clock, to an LMDB store and a
 * PostgreSQL store: every result (code and views) and, every 50 requests, every read of the
 * record areas are the same. */
static void test_same_answers_as_lmdb(void)
{
	enum { REQUESTS = 400 };
	static struct flat fl, fp;
	static struct dres rl, rp;
	char dir[256], path[300], conninfo[512], db[64];
	uv_loop_t loop;
	struct store *s[2] = {NULL, NULL};
	struct store_config cfg;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/wakks-diff-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/db", dir);
	REQUIRE(pg_test_create_db(conninfo, sizeof conninfo, db, sizeof db) == 0);
	REQUIRE(uv_loop_init(&loop) == 0);
	memset(&cfg, 0, sizeof cfg);
	cfg.now_ms = diff_clock;
	cfg.path = path;
	REQUIRE(store_open(&s[0], &loop, &cfg) == 0);
	cfg.path = NULL;
	cfg.pg_conninfo = conninfo;
	REQUIRE(store_open(&s[1], &loop, &cfg) == 0);

	/* accounts: 1, 2, 3 citizens, 4 a caseworker; devices 1, 2 (account 1), 20, 21 (2), 3 (3) */
	static const unsigned acc[][2] = {{1, 1}, {2, 1}, {3, 1}, {4, 2}};
	static const unsigned dev[][2] = {{1, 1}, {1, 2}, {2, 20}, {2, 21}, {3, 3}, {3, 30}};
	for (int k = 0; k < 2; k++) {
		struct t_res res = {0};
		struct store_req *req = store_req_new(s[k], t_cb, &res);
		for (size_t i = 0; i < 4; i++) {
			struct store_account a;
			memset(&a, 0, sizeof a);
			t_id(a.id, 'A', acc[i][0]);
			a.kind = (uint8_t)acc[i][1];
			strcpy(a.tenant, "varde");
			store_req_put_account(req, &a);
		}
		REQUIRE(store_submit(req) == 0);
		while (!res.done)
			uv_run(&loop, UV_RUN_ONCE);
		REQUIRE(res.result == 0);
		memset(&res, 0, sizeof res);
		req = store_req_new(s[k], t_cb, &res);
		for (size_t i = 0; i < 6; i++) {
			struct store_device d;
			memset(&d, 0, sizeof d);
			t_id(d.id, 'D', dev[i][1]);
			t_id(d.account_id, 'A', dev[i][0]);
			store_req_put_device(req, &d);
		}
		REQUIRE(store_submit(req) == 0);
		while (!res.done)
			uv_run(&loop, UV_RUN_ONCE);
		REQUIRE(res.result == 0);
	}

	int differ = 0, failed = 0;
	for (unsigned i = 0; i < REQUESTS && differ < 5; i++) {
		uint64_t seed = rnd_state;
		diff_now = 1000 + 10 * i;
		struct dres *r[2] = {&rl, &rp};
		for (int k = 0; k < 2; k++) {
			rnd_state = seed;
			memset(r[k], 0, sizeof *r[k]);
			struct store_req *req = store_req_new(s[k], dcb, r[k]);
			size_t n = 1 + rnd(2);
			for (size_t j = 0; j < n; j++)
				add_random_op(req);
			if (store_submit(req) != 0) /* every builder refused: nothing to run */
				r[k]->done = 1;
			while (!r[k]->done)
				uv_run(&loop, UV_RUN_ONCE);
		}
		failed += rl.result != 0;
		if (memcmp(&rl, &rp, sizeof rl) != 0) {
			differ++;
			fprintf(stderr, "request %u: lmdb %d, postgresql %d\n", i, rl.result, rp.result);
		}
		if (i % 50 == 49 || i == REQUESTS - 1) {
			snapshot(s[0], &fl);
			snapshot(s[1], &fp);
			if (fl.len != fp.len || memcmp(fl.buf, fp.buf, fl.len) != 0) {
				differ++;
				fprintf(stderr, "reads differ after request %u\n", i);
			}
		}
	}
	CHECK_EQ_INT(differ, 0);
	CHECK(failed > 0 && failed < REQUESTS); /* both outcomes were compared */
	store_close(s[0]);
	store_close(s[1]);
	uv_run(&loop, UV_RUN_NOWAIT);
	uv_loop_close(&loop);
	t_rmrf(dir);
	pg_test_drop_db(db);
}

int main(void)
{
	if (!pg_test_admin_conninfo()) {
		fprintf(stderr, "no PostgreSQL server for the test\n");
		return 1;
	}
	RUN(test_audit_two_relays_one_chain);
	RUN(test_audit_with_other_locks_never_deadlocks);
	RUN(test_consent_counters_two_relays);
	RUN(test_erase_while_another_relay_writes);
	RUN(test_blob_refs_two_relays);
	RUN(test_same_answers_as_lmdb);
	RUN(test_check_data_and_backup);
	RUN(test_check_data_finds_a_damaged_page);
	return TEST_RESULT();
}
