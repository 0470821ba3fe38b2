/* SPDX-License-Identifier: MPL-2.0 */
/* The PostgreSQL engine's batches never deadlock one another (spec/storage-postgresql.md §2.5).
 * Two stores (each with its own writer thread and connection, as two relays have) on one fresh
 * database: round after round, for a few seconds, both writers are paused, each is given a batch
 * of multi-recipient sends whose recipient sets overlap, store 0 in ascending order of the sets
 * and store 1 in descending order, and both are released together. Every send is stored, every
 * mailbox holds exactly its envelopes with sequence numbers 1..n, and the server counted no
 * deadlock in the database (pg_stat_database.deadlocks).
 *
 * Each request locking its own recipients in order is not enough: two batches take them request
 * by request, so they meet in opposite orders; only the batch's locks taken up front, in one
 * ordered statement, keep them apart. */
#include <time.h>
#include <unistd.h>

#include "pg_server.h"
#include "pg_two.h"
#include "test.h"
#include "storage_test.h"

#define DEVICES 10
#define SENDS 8  /* per store per round */
#define FANOUT 3 /* recipients per send */
#define RUN_MS 3000
#define MAX_ROUNDS 400

struct res {
	int done, result;
};

static void cb(struct store_req *req, int result, void *data)
{
	(void)req;
	struct res *r = data;
	r->done = 1;
	r->result = result;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void wait_all(struct pg_two *t, const struct res *r, size_t n)
{
	for (size_t i = 0; i < n;) {
		if (r[i].done)
			i++;
		else
			uv_run(&t->loop, UV_RUN_ONCE);
	}
}

static int setup_devices(struct pg_two *t)
{
	struct res r[1 + DEVICES + 1];
	struct store_account a;
	memset(r, 0, sizeof r);
	memset(&a, 0, sizeof a);
	t_id(a.id, 'A', 1);
	a.kind = STORE_ACCOUNT_CITIZEN;
	strcpy(a.tenant, "varde");
	a.created_ms = 1000;
	struct store_req *req = store_req_new(t->s[0], cb, &r[0]);
	if (!req || store_req_put_account(req, &a) < 0 || store_submit(req) != 0)
		return -1;
	wait_all(t, r, 1);
	if (r[0].result)
		return r[0].result;
	/* device 0 sends; 1..DEVICES receive */
	for (unsigned n = 0; n <= DEVICES; n++) {
		struct store_device d;
		memset(&d, 0, sizeof d);
		t_id(d.id, 'D', n);
		t_id(d.account_id, 'A', 1);
		memset(d.identity_key, (int)n + 1, sizeof d.identity_key);
		d.created_ms = 2000 + n;
		req = store_req_new(t->s[0], cb, &r[1 + n]);
		if (!req || store_req_put_device(req, &d) < 0 || store_submit(req) != 0)
			return -1;
	}
	wait_all(t, r + 1, DEVICES + 1);
	for (unsigned n = 0; n <= DEVICES; n++)
		if (r[1 + n].result)
			return r[1 + n].result;
	return 0;
}

/* Send k of a round: recipients k+1 .. k+FANOUT (wrapping within 1..DEVICES). */
static int queue_send(struct pg_two *t, int which, unsigned round, unsigned k, struct res *r,
		      unsigned *per_device)
{
	static const uint8_t payload[] = "sealed";
	struct store_recipient rc[FANOUT];
	struct store_send s;
	memset(&s, 0, sizeof s);
	memset(rc, 0, sizeof rc);
	t_id(s.sender_account, 'A', 1);
	t_id(s.sender_device, 'D', 0);
	t_id(s.message_id, which ? 'N' : 'M', round * SENDS + k);
	s.kind = STORE_KIND_ENVELOPE;
	for (unsigned j = 0; j < FANOUT; j++) {
		unsigned dev = 1 + (k + j) % DEVICES;
		t_id(rc[j].device_id, 'D', dev);
		rc[j].payload = payload;
		rc[j].payload_len = sizeof payload;
		rc[j].expires_at_ms = UINT64_C(1) << 50;
		per_device[dev]++;
	}
	s.recipients = rc;
	s.n_recipients = FANOUT;
	struct store_req *req = store_req_new(t->s[which], cb, r);
	if (!req)
		return -1;
	if (store_req_store_envelopes(req, &s) < 0) {
		store_req_free(req);
		return -1;
	}
	return store_submit(req);
}

struct count {
	unsigned n;
	uint64_t max_seq;
};

static int count_cb(const struct store_envelope *env, void *data)
{
	struct count *c = data;
	c->n++;
	if (env->ref.seq > c->max_seq)
		c->max_seq = env->ref.seq;
	return 0;
}

static void test_overlapping_batches_never_deadlock(void)
{
	static struct res res[2 * SENDS];
	unsigned per_device[DEVICES + 1] = {0};
	struct pg_two t;
	REQUIRE(pg_two_open(&t, 256) == 0);
	REQUIRE(setup_devices(&t) == 0);
	long long before = pg_test_deadlocks(t.conninfo);
	CHECK(before >= 0);
	unsigned rounds = 0, failed = 0;
	uint64_t start = mono_ms();
	while (rounds < MAX_ROUNDS && mono_ms() - start < RUN_MS) {
		memset(res, 0, sizeof res);
		store_test_pause_writer(t.s[0], true);
		store_test_pause_writer(t.s[1], true);
		for (unsigned k = 0; k < SENDS; k++) {
			/* store 0 ascending, store 1 descending: the first requests of the two
			 * batches lock opposite ends of the ring, and each batch then moves on
			 * into the other's */
			CHECK_EQ_INT(queue_send(&t, 0, rounds, k, &res[k], per_device), 0);
			CHECK_EQ_INT(queue_send(&t, 1, rounds, SENDS - 1 - k, &res[SENDS + k],
						per_device),
				     0);
		}
		store_test_pause_writer(t.s[0], false);
		store_test_pause_writer(t.s[1], false);
		wait_all(&t, res, 2 * SENDS);
		for (unsigned i = 0; i < 2 * SENDS; i++)
			if (res[i].result != 0)
				failed++;
		rounds++;
	}
	CHECK_EQ_INT(failed, 0);
	CHECK(rounds >= 5);
	fprintf(stderr, "%u rounds of %u sends in %llu ms\n", rounds, 2 * SENDS,
		(unsigned long long)(mono_ms() - start));
	/* every send stored: each mailbox holds its envelopes, numbered 1..n without a gap */
	for (unsigned d = 1; d <= DEVICES; d++) {
		uint8_t id[STORE_ID_BYTES];
		struct count c = {0, 0};
		t_id(id, 'D', d);
		CHECK(store_mailbox_iter(t.s[d % 2], id, 1, SIZE_MAX, count_cb, &c) >= 0);
		CHECK_EQ_INT(c.n, per_device[d]);
		CHECK_EQ_INT(c.max_seq, per_device[d]);
	}
	/* a backend's statistics reach the server's view within a second of it going idle */
	usleep(1500 * 1000);
	long long after = pg_test_deadlocks(t.conninfo);
	fprintf(stderr, "deadlocks: %lld\n", after - before);
	CHECK_EQ_INT(after, before);
	pg_two_close(&t);
}

int main(void)
{
	if (!pg_test_admin_conninfo()) {
		fprintf(stderr, "no PostgreSQL server for the test\n");
		return 1;
	}
	RUN(test_overlapping_batches_never_deadlock);
	return TEST_RESULT();
}
