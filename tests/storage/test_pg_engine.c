/* SPDX-License-Identifier: MPL-2.0 */
/* The PostgreSQL engine against a real server this test starts (tests/support/pg_server): the
 * schema from an empty database and from the previous version, the identity checks, and two
 * stores on one database standing for two relays: concurrent sends to one device get distinct
 * consecutive seqs, a duplicate send through both is stored once, a one-time prekey is never
 * handed out twice, a send through one wakes the other's listener, a broadcast reaches the other,
 * a lost listening connection comes back with a wake-all, and a writer whose connection is killed
 * in the middle of a batch neither loses nor duplicates it. */
#include <stdlib.h>
#include <time.h>

#include <libpq-fe.h>

#include "test.h"
#include "storage_test.h"

static void test_open_empty_and_account_round_trip(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	CHECK(strcmp(store_engine(e.s), "postgresql") == 0);
	CHECK(store_shared(e.s));
	CHECK(store_created(e.s));

	struct t_res res = {0};
	struct store_account a;
	memset(&a, 0, sizeof a);
	t_id(a.id, 'A', 1);
	a.kind = STORE_ACCOUNT_CASEWORKER;
	strcpy(a.tenant, "varde");
	a.n_units = 2;
	strcpy(a.units[0], "jobcenter");
	strcpy(a.units[1], "borgerservice");
	a.created_ms = 1234;
	struct store_req *req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_put_account(req, &a), 0);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);

	struct store_account got;
	CHECK_EQ_INT(store_get_account(e.s, a.id, &got), 0);
	CHECK_MEM(got.id, a.id, STORE_ID_BYTES);
	CHECK_EQ_INT(got.kind, STORE_ACCOUNT_CASEWORKER);
	CHECK(strcmp(got.tenant, "varde") == 0);
	CHECK_EQ_INT(got.n_units, 2);
	CHECK(strcmp(got.units[0], "jobcenter") == 0);
	CHECK(strcmp(got.units[1], "borgerservice") == 0);
	CHECK_EQ_INT(got.created_ms, 1234);
	uint8_t missing[STORE_ID_BYTES];
	t_id(missing, 'A', 99);
	CHECK_EQ_INT(store_get_account(e.s, missing, &got), STORE_ENOTFOUND);

	/* reopening keeps it and does not create the schema again; the id stays */
	uint8_t id1[STORE_DB_ID_BYTES], id2[STORE_DB_ID_BYTES];
	store_db_id(e.s, id1);
	t_close(&e);
	REQUIRE_OK(t_open(&e));
	CHECK(!store_created(e.s));
	store_db_id(e.s, id2);
	CHECK_MEM(id1, id2, sizeof id1);
	CHECK_EQ_INT(store_get_account(e.s, a.id, &got), 0);
	CHECK_EQ_INT(got.n_units, 2);
	CHECK_EQ_INT(t_put_account(&e, 2, STORE_ACCOUNT_CITIZEN), 0);
	struct store_stats st;
	store_get_stats(e.s, &st);
	CHECK_EQ_INT(st.map_size, 0);
	CHECK_EQ_INT(st.map_size_max, 0);
	CHECK_EQ_INT(st.batches, 1);
	CHECK_EQ_INT(st.requests, 1);
	t_teardown(&e);
}

static void test_unreachable_server_fails_open(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	/* nothing listens on port 1 */
	e.cfg.pg_conninfo = "host=127.0.0.1 port=1 dbname=x connect_timeout=2";
	struct store *s = NULL;
	CHECK_EQ_INT(store_open(&s, &e.loop, &e.cfg), STORE_EIO);
	CHECK(s == NULL);
	t_teardown(&e);
}

static void test_identity_checks(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	uint8_t fp[STORE_KEY_FP_BYTES], other[STORE_KEY_FP_BYTES], id[STORE_DB_ID_BYTES];
	memset(fp, 7, sizeof fp);
	memset(other, 8, sizeof other);
	e.cfg.account_key_fp = fp;
	e.cfg.account_key_new = true; /* a new database and a new key: fine */
	REQUIRE_OK(t_open(&e));
	store_db_id(e.s, id);
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	t_close(&e);
	struct store *s = NULL;
	/* the key was lost and made again: refused, the database holds accounts */
	CHECK_EQ_INT(store_open(&s, &e.loop, &e.cfg), STORE_ENOKEY);
	e.cfg.account_key_new = false;
	/* another key */
	e.cfg.account_key_fp = other;
	CHECK_EQ_INT(store_open(&s, &e.loop, &e.cfg), STORE_EKEY);
	/* another database expected */
	e.cfg.account_key_fp = fp;
	uint8_t wrong[STORE_DB_ID_BYTES];
	memcpy(wrong, id, sizeof wrong);
	wrong[0] ^= 1;
	e.cfg.expect_db_id = wrong;
	CHECK_EQ_INT(store_open(&s, &e.loop, &e.cfg), STORE_EIDENTITY);
	CHECK(s == NULL);
	/* the right one */
	e.cfg.expect_db_id = id;
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(t_put_account(&e, 2, STORE_ACCOUNT_CITIZEN), 0);
	t_teardown(&e);
}

#ifdef WAKKS_TEST_HOOKS
static int mig_runs;

static int mig_create(void *conn, void *data)
{
	(void)data;
	mig_runs++;
	PGresult *r = PQexec(conn, "CREATE TABLE migrated_marker (x int)");
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	return ok ? 0 : -1;
}

static int mig_fail(void *conn, void *data)
{
	(void)data;
	mig_runs++;
	/* half done, then failing: the whole opening transaction must be undone */
	PQclear(PQexec(conn, "CREATE TABLE half_done (x int)"));
	return -1;
}

static int table_exists(struct t_env *e, const char *name)
{
	PGconn *c = PQconnectdb(e->pg_conninfo);
	const char *vals[1] = {name};
	PGresult *r = PQexecParams(c, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, vals, NULL,
				   NULL, 0);
	int yes = PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	PQfinish(c);
	return yes;
}

static void test_schema_migration_from_previous_version(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e)); /* version 1 */
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	t_close(&e);

	/* a failing migration leaves the database as it was */
	struct store *s = NULL;
	mig_runs = 0;
	store_test_set_pg_schema(STORE_PG_SCHEMA_VERSION + 1, mig_fail, NULL);
	CHECK_EQ_INT(store_open(&s, &e.loop, &e.cfg), STORE_ESCHEMA);
	CHECK_EQ_INT(mig_runs, 1);
	CHECK(!table_exists(&e, "half_done"));

	/* the next version's migration runs once, in the opening transaction */
	mig_runs = 0;
	store_test_set_pg_schema(STORE_PG_SCHEMA_VERSION + 1, mig_create, NULL);
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(mig_runs, 1);
	CHECK(table_exists(&e, "migrated_marker"));
	struct store_account a;
	uint8_t aid[STORE_ID_BYTES];
	t_id(aid, 'A', 1);
	CHECK_EQ_INT(store_get_account(e.s, aid, &a), 0);
	t_close(&e);
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(mig_runs, 1); /* not again */
	t_close(&e);

	/* the real program now meets a newer schema: refused */
	store_test_set_pg_schema(0, NULL, NULL);
	CHECK_EQ_INT(store_open(&s, &e.loop, &e.cfg), STORE_ESCHEMA_NEWER);
	t_teardown(&e);
}

/* ---- two relays on one database -------------------------------------------------------------- */

struct two {
	struct t_env e;   /* store A: e.s */
	struct store *b;  /* store B, same database, same loop */
};

static int two_open(struct two *t)
{
	if (t_setup(&t->e) != 0 || t_open(&t->e) != 0)
		return -1;
	return store_open(&t->b, &t->e.loop, &t->e.cfg);
}

static void two_close(struct two *t)
{
	if (t->b) {
		store_close(t->b);
		t->b = NULL;
	}
	t_teardown(&t->e);
}

static int submit_send(struct store *s, struct t_res *res, unsigned sender_dev, unsigned msg,
		       const uint8_t (*to)[STORE_ID_BYTES], size_t n)
{
	struct store_recipient r[8];
	struct store_send send;
	uint8_t payload[16];
	memset(&send, 0, sizeof send);
	memset(payload, (int)msg, sizeof payload);
	for (size_t i = 0; i < n; i++) {
		memcpy(r[i].device_id, to[i], STORE_ID_BYTES);
		r[i].payload = payload;
		r[i].payload_len = sizeof payload;
		r[i].expires_at_ms = 10000000 + msg;
	}
	t_id(send.sender_account, 'A', 1);
	t_id(send.sender_device, 'D', sender_dev);
	t_id(send.message_id, 'M', msg);
	send.kind = STORE_KIND_ENVELOPE;
	send.recipients = r;
	send.n_recipients = n;
	struct store_req *req = store_req_new(s, t_cb, res);
	if (store_req_store_envelopes(req, &send) < 0)
		return -1;
	return store_submit(req);
}

#define SENDS 40

static void test_two_stores_concurrent_sends_get_consecutive_seqs(void)
{
	struct two t = {0};
	REQUIRE_OK(two_open(&t));
	CHECK_EQ_INT(t_put_account(&t.e, 1, STORE_ACCOUNT_CITIZEN), 0);
	for (unsigned d = 1; d <= 3; d++)
		CHECK_EQ_INT(t_put_device(&t.e, 1, d), 0);
	uint8_t to[2][STORE_ID_BYTES];
	t_id(to[0], 'D', 2);
	t_id(to[1], 'D', 3);
	struct t_res *res = calloc(2 * SENDS, sizeof *res);
	REQUIRE(res != NULL);
	/* both writers hold their batches, then both commit at once, both sends naming the two
	 * devices (in opposite orders on the two stores: the row locks must not deadlock) */
	store_test_pause_writer(t.e.s, true);
	store_test_pause_writer(t.b, true);
	uint8_t rev[2][STORE_ID_BYTES];
	memcpy(rev[0], to[1], STORE_ID_BYTES);
	memcpy(rev[1], to[0], STORE_ID_BYTES);
	for (unsigned i = 0; i < SENDS; i++) {
		CHECK_EQ_INT(submit_send(t.e.s, &res[i], 1, 1000 + i,
					 (const uint8_t(*)[STORE_ID_BYTES])to, 2), 0);
		CHECK_EQ_INT(submit_send(t.b, &res[SENDS + i], 1, 2000 + i,
					 (const uint8_t(*)[STORE_ID_BYTES])rev, 2), 0);
		if (i == SENDS / 2) {
			store_test_pause_writer(t.e.s, false);
			store_test_pause_writer(t.b, false);
		}
	}
	t_wait_all(&t.e, res, 2 * SENDS);
	bool seen[2][2 * SENDS + 1];
	memset(seen, 0, sizeof seen);
	int twice = 0, out_of_range = 0;
	for (int i = 0; i < 2 * SENDS; i++) {
		CHECK_EQ_INT(res[i].result, 0);
		CHECK(!res[i].op[0].duplicate);
		for (size_t j = 0; j < res[i].op[0].n && j < 2; j++) {
			int d = memcmp(res[i].op[0].seqs[j].device_id, to[0], STORE_ID_BYTES) == 0 ? 0 : 1;
			uint64_t seq = res[i].op[0].seqs[j].seq;
			if (seq < 1 || seq > 2 * SENDS) {
				out_of_range++;
				continue;
			}
			twice += seen[d][seq];
			seen[d][seq] = true;
		}
	}
	CHECK_EQ_INT(twice, 0);
	CHECK_EQ_INT(out_of_range, 0); /* 80 distinct seqs in 1..80: consecutive */
	struct store_device dev;
	CHECK_EQ_INT(store_get_device(t.b, to[0], &dev), 0);
	CHECK_EQ_INT(dev.next_seq, 2 * SENDS + 1);
	CHECK_EQ_INT(dev.mailbox_count, 2 * SENDS);
	uint64_t total = 0;
	CHECK_EQ_INT(store_mailbox_total(t.e.s, &total), 0);
	CHECK_EQ_INT(total, 4 * SENDS);
	free(res);
	two_close(&t);
}

static void test_two_stores_duplicate_send_stored_once(void)
{
	struct two t = {0};
	REQUIRE_OK(two_open(&t));
	CHECK_EQ_INT(t_put_account(&t.e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK_EQ_INT(t_put_device(&t.e, 1, 1), 0);
	CHECK_EQ_INT(t_put_device(&t.e, 1, 2), 0);
	uint8_t to[1][STORE_ID_BYTES];
	t_id(to[0], 'D', 2);
	/* the same client message (sender device, message id) reaches both relays at once, ten
	 * times over: each is stored once, the other relay answers with the original seqs */
	struct t_res *res = calloc(20, sizeof *res);
	REQUIRE(res != NULL);
	store_test_pause_writer(t.e.s, true);
	store_test_pause_writer(t.b, true);
	for (unsigned i = 0; i < 10; i++) {
		CHECK_EQ_INT(submit_send(t.e.s, &res[2 * i], 1, 500 + i,
					 (const uint8_t(*)[STORE_ID_BYTES])to, 1), 0);
		CHECK_EQ_INT(submit_send(t.b, &res[2 * i + 1], 1, 500 + i,
					 (const uint8_t(*)[STORE_ID_BYTES])to, 1), 0);
	}
	store_test_pause_writer(t.e.s, false);
	store_test_pause_writer(t.b, false);
	t_wait_all(&t.e, res, 20);
	int dups = 0;
	for (unsigned i = 0; i < 10; i++) {
		struct t_res *x = &res[2 * i], *y = &res[2 * i + 1];
		CHECK_EQ_INT(x->result, 0);
		CHECK_EQ_INT(y->result, 0);
		CHECK(x->op[0].duplicate != y->op[0].duplicate);
		dups += x->op[0].duplicate + y->op[0].duplicate;
		CHECK_EQ_INT(x->op[0].seqs[0].seq, y->op[0].seqs[0].seq);
		CHECK_EQ_INT(x->op[0].stored_at_ms, y->op[0].stored_at_ms);
	}
	CHECK_EQ_INT(dups, 10);
	uint64_t depth = 0;
	CHECK_EQ_INT(store_mailbox_depth(t.b, to[0], &depth, NULL), 0);
	CHECK_EQ_INT(depth, 10);
	free(res);
	two_close(&t);
}

static void test_two_stores_one_time_prekey_never_twice(void)
{
	struct two t = {0};
	REQUIRE_OK(two_open(&t));
	CHECK_EQ_INT(t_put_account(&t.e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK_EQ_INT(t_put_device(&t.e, 1, 1), 0);
	uint8_t dev[1][STORE_ID_BYTES];
	t_id(dev[0], 'D', 1);
	struct store_prekey keys[STORE_OTPK_BATCH_MAX];
	for (uint32_t i = 0; i < 60; i++) {
		keys[i].id = 100 + i;
		memset(keys[i].public_key, (int)i, STORE_KEY_BYTES);
	}
	struct t_res r0 = {0};
	struct store_req *req = store_req_new(t.e.s, t_cb, &r0);
	CHECK_EQ_INT(store_req_add_one_time_prekeys(req, dev[0], keys, 60), 0);
	CHECK_EQ_INT(t_run(&t.e, req, &r0), 0);

	/* 80 takers across the two relays, each its own request, in several batches each */
	enum { TAKERS = 80 };
	struct t_res *res = calloc(TAKERS, sizeof *res);
	REQUIRE(res != NULL);
	store_test_pause_writer(t.e.s, true);
	store_test_pause_writer(t.b, true);
	for (int i = 0; i < TAKERS; i++) {
		if (i == TAKERS / 2) {
			store_test_pause_writer(t.e.s, false);
			store_test_pause_writer(t.b, false);
		}
		req = store_req_new(i % 2 ? t.b : t.e.s, t_cb, &res[i]);
		CHECK_EQ_INT(store_req_take_one_time_prekeys(req, (const uint8_t(*)[STORE_ID_BYTES])dev,
							     1), 0);
		CHECK_EQ_INT(store_submit(req), 0);
	}
	t_wait_all(&t.e, res, TAKERS);
	int seen[60] = {0}, found = 0, twice = 0;
	for (int i = 0; i < TAKERS; i++) {
		CHECK_EQ_INT(res[i].result, 0);
		if (!res[i].op[0].keys[0].found)
			continue;
		uint32_t id = res[i].op[0].keys[0].key.id;
		REQUIRE(id >= 100 && id < 160);
		twice += seen[id - 100];
		seen[id - 100] = 1;
		found++;
	}
	CHECK_EQ_INT(twice, 0);
	CHECK_EQ_INT(found, 60);
	uint32_t left = 1;
	CHECK_EQ_INT(store_count_one_time_prekeys(t.b, dev[0], &left), 0);
	CHECK_EQ_INT(left, 0);
	free(res);
	two_close(&t);
}

struct heard {
	int wakes, wake_all, events;
	uint8_t last_wake[STORE_ID_BYTES];
	uint8_t event[STORE_BROADCAST_MAX];
	size_t event_len;
};

static void on_wake(const uint8_t (*ids)[STORE_ID_BYTES], size_t n, void *data)
{
	struct heard *h = data;
	if (!ids) {
		h->wake_all++;
		return;
	}
	h->wakes += (int)n;
	memcpy(h->last_wake, ids[n - 1], STORE_ID_BYTES);
}

static void on_event(const uint8_t *msg, size_t len, void *data)
{
	struct heard *h = data;
	h->events++;
	memcpy(h->event, msg, len);
	h->event_len = len;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void tick_cb(uv_timer_t *t)
{
	(void)t;
}

/* Runs the loop until *flag reaches want or 10 s pass (a timer keeps the loop from blocking
 * forever). */
static int wait_for(uv_loop_t *loop, const int *flag, int want)
{
	uv_timer_t tick;
	uv_timer_init(loop, &tick);
	uv_timer_start(&tick, tick_cb, 10, 10);
	uint64_t end = now_ms() + 10000;
	while (*flag < want && now_ms() < end)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return *flag >= want ? 0 : -1;
}

static int run_for(uv_loop_t *loop, unsigned ms)
{
	uv_timer_t tick;
	uv_timer_init(loop, &tick);
	uv_timer_start(&tick, tick_cb, 10, 10);
	uint64_t end = now_ms() + ms;
	while (now_ms() < end)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return 0;
}

static int terminate_app(struct t_env *e, const char *app)
{
	PGconn *c = PQconnectdb(e->pg_conninfo);
	const char *vals[1] = {app};
	PGresult *r = PQexecParams(c,
				   "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
				   "WHERE application_name = $1 AND datname = current_database()",
				   1, NULL, vals, NULL, NULL, 0);
	int n = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;
	PQclear(r);
	PQfinish(c);
	return n;
}

static void test_wake_and_broadcast_reach_the_other_store(void)
{
	struct two t = {0};
	REQUIRE_OK(two_open(&t));
	struct heard ha = {0}, hb = {0};
	store_set_listeners(t.e.s, on_wake, on_event, &ha);
	store_set_listeners(t.b, on_wake, on_event, &hb);
	CHECK_EQ_INT(t_put_account(&t.e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK_EQ_INT(t_put_device(&t.e, 1, 1), 0);
	CHECK_EQ_INT(t_put_device(&t.e, 1, 2), 0);
	/* give both listening connections time to be up */
	run_for(&t.e.loop, 300);
	uint8_t to[1][STORE_ID_BYTES];
	t_id(to[0], 'D', 2);
	struct t_res res = {0};
	CHECK_EQ_INT(submit_send(t.e.s, &res, 1, 1, (const uint8_t(*)[STORE_ID_BYTES])to, 1), 0);
	t_wait_all(&t.e, &res, 1);
	CHECK_EQ_INT(res.result, 0);
	CHECK_EQ_INT(wait_for(&t.e.loop, &hb.wakes, 1), 0);
	CHECK_MEM(hb.last_wake, to[0], STORE_ID_BYTES);
	/* a failed send wakes nobody: its notification was rolled back with it */
	uint8_t unknown[1][STORE_ID_BYTES];
	t_id(unknown[0], 'D', 77);
	memset(&res, 0, sizeof res);
	CHECK_EQ_INT(submit_send(t.e.s, &res, 1, 2, (const uint8_t(*)[STORE_ID_BYTES])unknown, 1), 0);
	t_wait_all(&t.e, &res, 1);
	CHECK_EQ_INT(res.result, STORE_ENODEVICE);

	const uint8_t msg[] = "consent changed";
	CHECK_EQ_INT(store_broadcast(t.b, msg, sizeof msg), 0);
	CHECK_EQ_INT(wait_for(&t.e.loop, &ha.events, 1), 0);
	CHECK_EQ_INT(ha.event_len, sizeof msg);
	CHECK_MEM(ha.event, msg, sizeof msg);
	uint8_t big[STORE_BROADCAST_MAX];
	memset(big, 0xab, sizeof big);
	CHECK_EQ_INT(store_broadcast(t.b, big, sizeof big), 0);
	CHECK_EQ_INT(wait_for(&t.e.loop, &ha.events, 2), 0);
	CHECK_EQ_INT(ha.event_len, sizeof big);
	CHECK_MEM(ha.event, big, sizeof big);
	CHECK_EQ_INT(store_broadcast(t.b, big, sizeof big + 1), STORE_EINVAL);
	CHECK_EQ_INT(store_broadcast(t.b, big, 0), STORE_EINVAL);
	run_for(&t.e.loop, 200);
	/* neither store hears itself; B heard one wake (the failed send woke nobody) */
	CHECK_EQ_INT(ha.wakes, 0);
	CHECK_EQ_INT(hb.events, 0);
	CHECK_EQ_INT(hb.wakes, 1);
	CHECK_EQ_INT(ha.wake_all + hb.wake_all, 0);

	/* the listening connections die (a restart, a fail-over): both come back and wake every
	 * online device, since what was committed meanwhile went unannounced */
	CHECK(terminate_app(&t.e, "wakks-listen") == 2);
	CHECK_EQ_INT(wait_for(&t.e.loop, &hb.wake_all, 1), 0);
	CHECK_EQ_INT(wait_for(&t.e.loop, &ha.wake_all, 1), 0);
	memset(&res, 0, sizeof res);
	CHECK_EQ_INT(submit_send(t.e.s, &res, 1, 3, (const uint8_t(*)[STORE_ID_BYTES])to, 1), 0);
	t_wait_all(&t.e, &res, 1);
	CHECK_EQ_INT(wait_for(&t.e.loop, &hb.wakes, 2), 0);
	/* three sends to the device in one batch: one wake */
	struct t_res three[3];
	memset(three, 0, sizeof three);
	store_test_pause_writer(t.e.s, true);
	for (unsigned i = 0; i < 3; i++)
		CHECK_EQ_INT(submit_send(t.e.s, &three[i], 1, 10 + i,
					 (const uint8_t(*)[STORE_ID_BYTES])to, 1), 0);
	store_test_pause_writer(t.e.s, false);
	t_wait_all(&t.e, three, 3);
	CHECK_EQ_INT(wait_for(&t.e.loop, &hb.wakes, 3), 0);
	run_for(&t.e.loop, 200);
	CHECK_EQ_INT(hb.wakes, 3);
	two_close(&t);
}

static int64_t sql_count(struct t_env *e, const char *sql)
{
	PGconn *c = PQconnectdb(e->pg_conninfo);
	PGresult *r = PQexec(c, sql);
	int64_t n = PQresultStatus(r) == PGRES_TUPLES_OK ? atoll(PQgetvalue(r, 0, 0)) : -1;
	PQclear(r);
	PQfinish(c);
	return n;
}

static void test_two_stores_expire_reports_each_envelope_once(void)
{
	struct two t = {0};
	REQUIRE_OK(two_open(&t));
	CHECK_EQ_INT(t_put_account(&t.e, 1, STORE_ACCOUNT_CITIZEN), 0);
	for (unsigned d = 1; d <= 4; d++)
		CHECK_EQ_INT(t_put_device(&t.e, 1, d), 0);
	uint8_t to[3][STORE_ID_BYTES];
	for (unsigned d = 0; d < 3; d++)
		t_id(to[d], 'D', 2 + d);
	/* 20 sends to 3 devices: 60 envelopes, all due at 10000000 + msg (submit_send) */
	for (unsigned i = 0; i < 20; i++) {
		struct t_res res = {0};
		CHECK_EQ_INT(submit_send(t.e.s, &res, 1, 1 + i, (const uint8_t(*)[STORE_ID_BYTES])to, 3), 0);
		t_wait_all(&t.e, &res, 1);
		CHECK_EQ_INT(res.result, 0);
	}
	CHECK_EQ_INT(sql_count(&t.e, "SELECT count(*) FROM mailbox_senders"), 3);
	/* both relays' expiry passes at once, 8 each of at most 10 envelopes */
	enum { PASSES = 8 };
	struct t_res *res = calloc(PASSES, sizeof *res);
	REQUIRE(res != NULL);
	store_test_pause_writer(t.e.s, true);
	store_test_pause_writer(t.b, true);
	for (int i = 0; i < PASSES; i++) {
		struct store_req *req = store_req_new(i % 2 ? t.b : t.e.s, t_cb, &res[i]);
		CHECK_EQ_INT(store_req_expire(req, 20000000, 10), 0);
		CHECK_EQ_INT(store_submit(req), 0);
		if (i == PASSES / 2) {
			store_test_pause_writer(t.e.s, false);
			store_test_pause_writer(t.b, false);
		}
	}
	t_wait_all(&t.e, res, PASSES);
	bool seen[3][21];
	memset(seen, 0, sizeof seen);
	int reported = 0, twice = 0;
	for (int i = 0; i < PASSES; i++) {
		CHECK_EQ_INT(res[i].result, 0);
		CHECK(res[i].op[0].n <= 10);
		for (size_t j = 0; j < res[i].op[0].n; j++) {
			const struct store_envelope_ref *ref = &res[i].op[0].expired[j];
			int d = ref->device_id[15] - 2;
			REQUIRE(d >= 0 && d < 3 && ref->seq >= 1 && ref->seq <= 20);
			twice += seen[d][ref->seq];
			seen[d][ref->seq] = true;
			reported++;
			CHECK_EQ_INT(ref->kind, STORE_KIND_ENVELOPE);
		}
		/* oldest expiry first within a pass */
		for (size_t j = 1; j < res[i].op[0].n; j++)
			CHECK(res[i].op[0].expired[j - 1].seq <= res[i].op[0].expired[j].seq);
	}
	/* A pass that met rows the other relay's pass had locked skips them; the relay's next
	 * expiry tick takes them. Further passes, one at a time, must find exactly the rest. */
	for (int pass = 0; pass < 10 && reported < 60; pass++) {
		struct t_res more = {0};
		struct store_req *req = store_req_new(t.b, t_cb, &more);
		CHECK_EQ_INT(store_req_expire(req, 20000000, 10), 0);
		CHECK_EQ_INT(store_submit(req), 0);
		t_wait_all(&t.e, &more, 1);
		CHECK_EQ_INT(more.result, 0);
		for (size_t j = 0; j < more.op[0].n; j++) {
			const struct store_envelope_ref *ref = &more.op[0].expired[j];
			int d = ref->device_id[15] - 2;
			REQUIRE(d >= 0 && d < 3 && ref->seq >= 1 && ref->seq <= 20);
			twice += seen[d][ref->seq];
			seen[d][ref->seq] = true;
			reported++;
		}
	}
	CHECK_EQ_INT(twice, 0);
	CHECK_EQ_INT(reported, 60);
	uint64_t total = 1;
	CHECK_EQ_INT(store_mailbox_total(t.b, &total), 0);
	CHECK_EQ_INT(total, 0);
	struct store_device dev;
	CHECK_EQ_INT(store_get_device(t.b, to[1], &dev), 0);
	CHECK_EQ_INT(dev.mailbox_count, 0);
	CHECK_EQ_INT(dev.mailbox_bytes, 0);
	CHECK_EQ_INT(dev.next_seq, 21);
	/* the senders' shares went with the envelopes: no row left at zero */
	CHECK_EQ_INT(sql_count(&t.e, "SELECT count(*) FROM mailbox_senders"), 0);
	/* the idempotency entries (due with the sends' latest envelope) went too */
	CHECK_EQ_INT(sql_count(&t.e, "SELECT count(*) FROM idempotency"), 0);
	free(res);
	two_close(&t);
}

static uint64_t fake_now;
static uint64_t fake_clock(void *data)
{
	(void)data;
	return fake_now;
}

static void test_expire_deletes_commit_markers_after_a_day(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	fake_now = 1000000000000ull;
	e.cfg.now_ms = fake_clock;
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 1), 0);
	CHECK_EQ_INT(sql_count(&e, "SELECT count(*) FROM commit_markers"), 2);
	/* 23 hours later: kept (a writer may still look one up) */
	fake_now += 23ull * 3600 * 1000;
	struct t_res res = {0};
	struct store_req *req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_expire(req, fake_now, 100), 0);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);
	CHECK_EQ_INT(sql_count(&e, "SELECT count(*) FROM commit_markers"), 3);
	/* past a day: the first two go, the expire batches' own stay */
	fake_now += 2ull * 3600 * 1000;
	memset(&res, 0, sizeof res);
	req = store_req_new(e.s, t_cb, &res);
	CHECK_EQ_INT(store_req_expire(req, fake_now, 100), 0);
	CHECK_EQ_INT(t_run(&e, req, &res), 0);
	CHECK_EQ_INT(sql_count(&e, "SELECT count(*) FROM commit_markers"), 2);
	t_teardown(&e);
}

/* ---- a writer losing its connection mid-batch ------------------------------------------------ */

struct kill_plan {
	int point;  /* where to kill */
	int times;  /* how many batches to hit */
	int calls[3];
	const char *conninfo;
};

static int kill_hook(int point, void *pgconn, void *data)
{
	struct kill_plan *k = data;
	k->calls[point]++;
	if (point != k->point || k->times == 0)
		return 0;
	k->times--;
	/* from another connection, as an operator or a dying server would: waits until the
	 * backend is gone */
	char pid[32];
	snprintf(pid, sizeof pid, "%d", PQbackendPID(pgconn));
	PGconn *c = PQconnectdb(k->conninfo);
	const char *vals[1] = {pid};
	PQclear(PQexecParams(c, "SELECT pg_terminate_backend($1::int, 5000)", 1, NULL, vals, NULL,
			     NULL, 0));
	PQfinish(c);
	return 1;
}

static void killed_batch(int point)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 1), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 2), 0);
	int pid_before = store_test_pg_writer_pid(e.s);
	CHECK(pid_before > 0);
	struct kill_plan k = {.point = point, .times = 1, .conninfo = e.pg_conninfo};
	store_test_set_pg_hook(e.s, kill_hook, &k);
	uint8_t to[1][STORE_ID_BYTES];
	t_id(to[0], 'D', 2);
	enum { N = 10 };
	struct t_res res[N];
	memset(res, 0, sizeof res);
	store_test_pause_writer(e.s, true);
	for (unsigned i = 0; i < N; i++)
		CHECK_EQ_INT(submit_send(e.s, &res[i], 1, 700 + i, (const uint8_t(*)[STORE_ID_BYTES])to,
					 1), 0);
	store_test_pause_writer(e.s, false);
	t_wait_all(&e, res, N);
	store_test_set_pg_hook(e.s, NULL, NULL);
	CHECK(store_test_pg_writer_pid(e.s) != pid_before); /* it reconnected */
	bool seen[N + 1] = {false};
	for (unsigned i = 0; i < N; i++) {
		CHECK_EQ_INT(res[i].result, 0);
		/* before COMMIT: rolled back and run again; after COMMIT: recognised by its marker,
		 * not run again (which would have found every send a duplicate) */
		CHECK(!res[i].op[0].duplicate);
		uint64_t seq = res[i].op[0].seqs[0].seq;
		REQUIRE(seq >= 1 && seq <= N);
		CHECK(!seen[seq]);
		seen[seq] = true;
	}
	if (point == STORE_TEST_PG_BEFORE_COMMIT)
		CHECK(k.calls[STORE_TEST_PG_BEFORE_COMMIT] >= 2); /* the batch ran twice */
	else
		CHECK_EQ_INT(k.calls[STORE_TEST_PG_BEFORE_COMMIT], 1); /* once */
	uint64_t depth = 0;
	CHECK_EQ_INT(store_mailbox_depth(e.s, to[0], &depth, NULL), 0);
	CHECK_EQ_INT(depth, N);
	uint64_t total = 0;
	CHECK_EQ_INT(store_mailbox_total(e.s, &total), 0);
	CHECK_EQ_INT(total, N);
	/* the same sends again are duplicates with the stored seqs */
	struct t_res again = {0};
	CHECK_EQ_INT(submit_send(e.s, &again, 1, 700, (const uint8_t(*)[STORE_ID_BYTES])to, 1), 0);
	t_wait_all(&e, &again, 1);
	CHECK(again.op[0].duplicate);
	CHECK_EQ_INT(again.op[0].seqs[0].seq, res[0].op[0].seqs[0].seq);
	t_teardown(&e);
}

/* A partition before COMMIT: the writer's side is gone, the server's session is still in the
 * batch's transaction holding the recipients' row locks. The writer must end that session
 * (else its re-run would wait on those locks) and then run the batch once. */
static PGconn *abandoned;

static int abandon_hook(int point, void *pgconn, void *data)
{
	int *times = data;
	if (point != STORE_TEST_PG_BEFORE_COMMIT || *times == 0)
		return 0;
	(*times)--;
	abandoned = pgconn;
	return 2;
}

static void test_partition_before_commit_ends_old_session(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 1), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 2), 0);
	int times = 1;
	abandoned = NULL;
	store_test_set_pg_hook(e.s, abandon_hook, &times);
	uint8_t to[1][STORE_ID_BYTES];
	t_id(to[0], 'D', 2);
	enum { N = 5 };
	struct t_res res[N];
	memset(res, 0, sizeof res);
	store_test_pause_writer(e.s, true);
	for (unsigned i = 0; i < N; i++)
		CHECK_EQ_INT(submit_send(e.s, &res[i], 1, 900 + i, (const uint8_t(*)[STORE_ID_BYTES])to,
					 1), 0);
	store_test_pause_writer(e.s, false);
	t_wait_all(&e, res, N);
	store_test_set_pg_hook(e.s, NULL, NULL);
	REQUIRE(abandoned != NULL);
	/* the abandoned session was ended by the writer: its connection finds itself closed */
	PGresult *r = PQexec(abandoned, "SELECT 1");
	CHECK(PQresultStatus(r) != PGRES_TUPLES_OK);
	PQclear(r);
	PQfinish(abandoned);
	for (unsigned i = 0; i < N; i++) {
		CHECK_EQ_INT(res[i].result, 0);
		CHECK(!res[i].op[0].duplicate);
		CHECK_EQ_INT(res[i].op[0].seqs[0].seq, i + 1);
	}
	uint64_t depth = 0;
	CHECK_EQ_INT(store_mailbox_depth(e.s, to[0], &depth, NULL), 0);
	CHECK_EQ_INT(depth, N);
	t_teardown(&e);
}

static void test_connection_lost_before_commit_reruns_batch(void)
{
	killed_batch(STORE_TEST_PG_BEFORE_COMMIT);
}

static void test_connection_lost_after_commit_found_by_marker(void)
{
	killed_batch(STORE_TEST_PG_AFTER_COMMIT);
}

/* A statement the server refuses (a tenant that is not UTF-8: the column is text) fails its own
 * request only, in a batch whose first run had no savepoints. */
static void test_refused_statement_fails_only_its_request(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	struct t_res res[3];
	memset(res, 0, sizeof res);
	store_test_pause_writer(e.s, true);
	for (unsigned i = 0; i < 3; i++) {
		struct store_account a;
		memset(&a, 0, sizeof a);
		t_id(a.id, 'A', 10 + i);
		a.kind = STORE_ACCOUNT_CITIZEN;
		strcpy(a.tenant, i == 1 ? "\xff\xfe" : "-");
		struct store_req *req = store_req_new(e.s, t_cb, &res[i]);
		REQUIRE(store_req_put_account(req, &a) == 0);
		REQUIRE(store_submit(req) == 0);
	}
	store_test_pause_writer(e.s, false);
	t_wait_all(&e, res, 3);
	CHECK_EQ_INT(res[0].result, 0);
	CHECK_EQ_INT(res[1].result, STORE_EINVAL);
	CHECK_EQ_INT(res[2].result, 0);
	struct store_account got;
	uint8_t id[STORE_ID_BYTES];
	t_id(id, 'A', 10);
	CHECK_EQ_INT(store_get_account(e.s, id, &got), 0);
	t_id(id, 'A', 11);
	CHECK_EQ_INT(store_get_account(e.s, id, &got), STORE_ENOTFOUND);
	t_id(id, 'A', 12);
	CHECK_EQ_INT(store_get_account(e.s, id, &got), 0);
	struct store_stats st;
	store_get_stats(e.s, &st);
	CHECK_EQ_INT(st.batches, 1);
	t_teardown(&e);
}

/* The server restarts (or a fail-over's new primary comes up) under an open store: a write
 * submitted while it is down completes once it is back, reads work again, and the listener
 * reconnects and wakes everything. A server of this test's own. */
static void test_server_restart_under_the_store(void)
{
	struct pg_server srv;
	memset(&srv, 0, sizeof srv);
	REQUIRE(pg_server_start(&srv) == 0);
	struct t_env e;
	if (t_setup(&e) != 0) {
		pg_server_cleanup(&srv);
		REQUIRE(false);
	}
	char conninfo[512];
	REQUIRE(pg_server_conninfo(&srv, "postgres", conninfo, sizeof conninfo) == 0);
	e.cfg.pg_conninfo = conninfo;
	REQUIRE_OK(t_open(&e));
	struct heard h = {0};
	store_set_listeners(e.s, on_wake, on_event, &h);
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK_EQ_INT(t_put_device(&e, 1, 1), 0);
	run_for(&e.loop, 200);

	REQUIRE(pg_server_stop(&srv) == 0);
	/* down: a read fails (no waiting on the loop), a write waits for the server */
	struct store_device d;
	uint8_t did[STORE_ID_BYTES];
	t_id(did, 'D', 1);
	CHECK_EQ_INT(store_get_device(e.s, did, &d), STORE_EIO);
	struct t_res res = {0};
	uint8_t to[1][STORE_ID_BYTES];
	memcpy(to[0], did, STORE_ID_BYTES);
	CHECK_EQ_INT(submit_send(e.s, &res, 1, 1, (const uint8_t(*)[STORE_ID_BYTES])to, 1), 0);
	run_for(&e.loop, 300);
	CHECK(!res.done);
	REQUIRE(pg_server_restart(&srv) == 0);
	t_wait_all(&e, &res, 1);
	CHECK_EQ_INT(res.result, 0);
	CHECK_EQ_INT(res.op[0].seqs[0].seq, 1);
	CHECK_EQ_INT(wait_for(&e.loop, &h.wake_all, 1), 0);
	/* reads: at once, or after the pause that follows a failed connect */
	int rc = store_get_device(e.s, did, &d);
	if (rc == STORE_EIO) {
		run_for(&e.loop, 1100);
		rc = store_get_device(e.s, did, &d);
	}
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(d.mailbox_count, 1);
	t_close(&e);
	pg_server_cleanup(&srv);
	e.pg_schema[0] = '\0'; /* lived on the test's own server */
	t_teardown(&e);
}

static void test_read_connection_lost_reconnects(void)
{
	struct t_env e;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	CHECK_EQ_INT(t_put_account(&e, 1, STORE_ACCOUNT_CITIZEN), 0);
	CHECK(terminate_app(&e, "wakks-relay") == 1);
	struct store_account a;
	uint8_t id[STORE_ID_BYTES];
	t_id(id, 'A', 1);
	CHECK_EQ_INT(store_get_account(e.s, id, &a), 0);
	t_teardown(&e);
}
#endif

int main(void)
{
	if (!t_pg())
		setenv("WAKKS_TEST_ENGINE", "postgresql", 1);
	RUN(test_open_empty_and_account_round_trip);
	RUN(test_unreachable_server_fails_open);
	RUN(test_identity_checks);
#ifdef WAKKS_TEST_HOOKS
	RUN(test_schema_migration_from_previous_version);
	RUN(test_two_stores_concurrent_sends_get_consecutive_seqs);
	RUN(test_two_stores_duplicate_send_stored_once);
	RUN(test_two_stores_one_time_prekey_never_twice);
	RUN(test_wake_and_broadcast_reach_the_other_store);
	RUN(test_two_stores_expire_reports_each_envelope_once);
	RUN(test_expire_deletes_commit_markers_after_a_day);
	RUN(test_connection_lost_before_commit_reruns_batch);
	RUN(test_connection_lost_after_commit_found_by_marker);
	RUN(test_partition_before_commit_ends_old_session);
	RUN(test_refused_statement_fails_only_its_request);
	RUN(test_server_restart_under_the_store);
	RUN(test_read_connection_lost_reconnects);
#endif
	return TEST_RESULT();
}
