/* SPDX-License-Identifier: MPL-2.0 */
/* The batch commit of the PostgreSQL engine (spec/storage-postgresql.md §2.3): one transaction
 * per batch with a commit marker, savepoints for requests once one has failed, the wake
 * notifications of the stored envelopes, a synchronous COMMIT; retries after deadlocks and races
 * with other relays; after a lost connection a reconnect that looks the marker up to learn
 * whether the COMMIT took effect. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "pg_internal.h"
#include "pg_records.h"

typedef int (*pg_apply_fn)(struct pg_wtxn *w, struct store__op *op);

static const pg_apply_fn apply_table[STORE__OP_COUNT] = {
#define PG__OP_TABLE(name) [STORE__OP_##name] = pg__op_##name##_apply,
	STORE__OPS(PG__OP_TABLE)
#undef PG__OP_TABLE
};

/* The COMMIT was sent but its answer never came: committed or not, the marker will tell. */
#define PG__EUNKNOWN (-1905)

/* How long the writer keeps reconnecting (a fail-over: Patroni promotes the standby within tens
 * of seconds) before it fails the batch with STORE_EIO, which is never taken for "stored". */
#define RECONNECT_WINDOW_MS 60000u
/* Runs of one batch after deadlocks and races before it fails with STORE_EBUSY. */
#define MAX_RETRIES 64
/* Device ids per wake notification: payload = instance hex + 32 hex digits per id, below
 * PostgreSQL's 8000-byte limit. */
#define WAKE_IDS_PER_NOTIFY 240

int pg__wake_add(struct pg_wtxn *w, const uint8_t device_id[STORE_ID_BYTES])
{
	struct pg_wakes *wk = w->wakes;
	if (wk->n == wk->cap) {
		size_t cap = wk->cap ? wk->cap * 2 : 64;
		void *ids = realloc(wk->ids, cap * sizeof *wk->ids);
		if (!ids)
			return STORE_ENOMEM;
		wk->ids = ids;
		wk->cap = cap;
	}
	memcpy(wk->ids[wk->n++], device_id, STORE_ID_BYTES);
	return 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static uint64_t mono_ms(void)
{
	return store__mono_us() / 1000u;
}

/* Records which server session the writer's connection is (its pid and start time), so that
 * after losing the connection the writer can find that session and make sure its transaction has
 * ended before deciding anything (settle_old_session). And since another relay cannot end this
 * session if this relay is cut off from the server, the session asks the server to end it by
 * itself: when idle inside a transaction for 30 s (a writer never is, between two statements of a
 * batch), and through TCP keepalives when idle otherwise. */
static int record_session(struct pgstore *pg)
{
	int err = 0;
	PGresult *r = pg_exec(pg->wconn,
			      "SELECT pg_backend_pid(), "
			      "(extract(epoch FROM backend_start) * 1000000)::bigint, "
			      "set_config('idle_in_transaction_session_timeout', '30s', false), "
			      "set_config('tcp_keepalives_idle', '10', false), "
			      "set_config('tcp_keepalives_interval', '5', false), "
			      "set_config('tcp_keepalives_count', '3', false) "
			      "FROM pg_stat_activity WHERE pid = pg_backend_pid()",
			      NULL, &err);
	if (!r)
		return err;
	int rc = PQntuples(r) == 1 ? 0 : PG__ECONN;
	if (rc == 0) {
		pg->w_pid = (int)pg_r_int(r, 0, 0);
		pg->w_start_us = pg_r_int(r, 0, 1);
		pg->w_session = pg->wconn;
	}
	PQclear(r);
	return rc;
}

/* A working writer connection with its session recorded, or PG__ECONN. */
static int ensure_conn(struct pgstore *pg)
{
	if (pg->wconn && PQstatus(pg->wconn) == CONNECTION_OK)
		return pg->w_session == pg->wconn ? 0 : record_session(pg);
	if (pg->wconn)
		PQfinish(pg->wconn);
	pg->w_session = NULL;
	pg->wconn = pg__connect(pg->conninfo, "wakks-writer");
#ifdef WAKKS_TEST_HOOKS
	__atomic_store_n(&pg->writer_pid, pg->wconn ? PQbackendPID(pg->wconn) : 0, __ATOMIC_RELAXED);
#endif
	return pg->wconn ? record_session(pg) : PG__ECONN;
}

/* Drops the writer's connection (the test hook may have abandoned it already). */
static void drop_conn(struct pgstore *pg)
{
	if (pg->wconn)
		PQfinish(pg->wconn);
	pg->wconn = NULL;
	pg->w_session = NULL;
}

/* Reconnects with back-off until the deadline (mono ms). */
static int reconnect(struct pgstore *pg, uint64_t deadline)
{
	unsigned backoff = 20;
	drop_conn(pg);
	for (;;) {
		if (ensure_conn(pg) == 0)
			return 0;
		if (mono_ms() >= deadline)
			return PG__ECONN;
		sleep_ms(backoff);
		if (backoff < 1000)
			backoff *= 2;
	}
}

struct old_session {
	int pid;
	uint64_t start_us;
};

/* After the connection was lost in a batch: the server may not know yet (a network partition
 * sends no reset), and the old session may still hold the batch's row locks, or even be
 * committing it. On the server we reconnected to (the pid and start time match only there):
 * a session still inside a transaction that never got COMMIT (commit_sent false, or it is idle
 * in it) is terminated, which rolls it back; one running the COMMIT (waiting for the synchronous
 * standby) is waited for, since its outcome is what the marker will show. 0 once the old session
 * is gone or idle, PG__ECONN past the deadline or on another lost connection. */
static int settle_old_session(struct pgstore *pg, const struct old_session *old, bool commit_sent,
			      uint64_t deadline)
{
	for (;;) {
		struct pg_params p;
		int err = 0;
		pg_p_init(&p);
		pg_p_int8(&p, (uint64_t)old->pid);
		pg_p_int8(&p, old->start_us);
		PGresult *r = pg_exec(pg->wconn,
				      "SELECT state FROM pg_stat_activity WHERE pid = $1 AND "
				      "(extract(epoch FROM backend_start) * 1000000)::bigint = $2",
				      &p, &err);
		if (!r)
			return PG__ECONN;
		const char *state = PQntuples(r) == 1 && !pg_r_null(r, 0, 0) ? PQgetvalue(r, 0, 0) : "";
		bool gone = PQntuples(r) == 0 || strcmp(state, "idle") == 0;
		bool in_txn = strncmp(state, "idle in transaction", 19) == 0;
		PQclear(r);
		if (gone)
			return 0;
		if (in_txn || !commit_sent) {
			pg_p_init(&p);
			pg_p_int8(&p, (uint64_t)old->pid);
			pg_p_int8(&p, old->start_us);
			r = pg_exec(pg->wconn,
				    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
				    "WHERE pid = $1 AND "
				    "(extract(epoch FROM backend_start) * 1000000)::bigint = $2",
				    &p, &err);
			if (!r)
				return PG__ECONN;
			PQclear(r);
		} else {
			sleep_ms(50); /* its COMMIT is under way */
		}
		if (mono_ms() >= deadline)
			return PG__ECONN;
	}
}

/* After the connection was lost in a batch (PG__ECONN: COMMIT not sent; PG__EUNKNOWN: sent,
 * unanswered): reconnect, settle the old session, and for PG__EUNKNOWN look the marker up.
 * 1 (the batch committed), 0 (it did not: run it again), or PG__ECONN past the deadline. */
static int recover(struct pgstore *pg, bool commit_sent, const uint8_t *marker, uint64_t deadline)
{
	struct old_session old = {pg->w_pid, pg->w_start_us};
	bool known = pg->w_session != NULL;
	for (;;) {
		int rc = reconnect(pg, deadline);
		if (rc == 0 && known)
			rc = settle_old_session(pg, &old, commit_sent, deadline);
		if (rc == 0 && !commit_sent)
			return 0;
		if (rc == 0) {
			struct pg_params p;
			int err = 0;
			pg_p_init(&p);
			pg_p_bytea(&p, marker, 16);
			PGresult *r = pg_exec(pg->wconn, "SELECT 1 FROM commit_markers WHERE id = $1",
					      &p, &err);
			if (r) {
				int found = PQntuples(r) > 0;
				PQclear(r);
				return found;
			}
		}
		if (mono_ms() >= deadline)
			return PG__ECONN;
	}
}

#ifdef WAKKS_TEST_HOOKS
static int test_hook(struct store *s, int point)
{
	pthread_mutex_lock(&s->lock);
	store_test_pg_hook_fn fn = s->pg->test_hook;
	void *data = s->pg->test_hook_data;
	pthread_mutex_unlock(&s->lock);
	return fn ? fn(point, s->pg->wconn, data) : 0;
}
#endif

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, STORE_ID_BYTES);
}

static int notify_wakes(struct pgstore *pg, struct pg_wakes *wk)
{
	char payload[2 * PG__INSTANCE_BYTES + WAKE_IDS_PER_NOTIFY * 2 * STORE_ID_BYTES + 1];
	if (wk->n == 0)
		return 0;
	/* A device gets one wake per batch however many envelopes the batch stored for it. */
	qsort(wk->ids, wk->n, STORE_ID_BYTES, cmp_id);
	size_t u = 0;
	for (size_t i = 0; i < wk->n; i++)
		if (u == 0 || memcmp(wk->ids[i], wk->ids[u - 1], STORE_ID_BYTES) != 0)
			memmove(wk->ids[u++], wk->ids[i], STORE_ID_BYTES);
	wk->n = u;
	for (size_t i = 0; i < wk->n; i += WAKE_IDS_PER_NOTIFY) {
		size_t k = wk->n - i < WAKE_IDS_PER_NOTIFY ? wk->n - i : WAKE_IDS_PER_NOTIFY;
		memcpy(payload, pg->instance_hex, 2 * PG__INSTANCE_BYTES);
		char *p = payload + 2 * PG__INSTANCE_BYTES;
		for (size_t j = 0; j < k; j++, p += 2 * STORE_ID_BYTES)
			pg__hex(wk->ids[i + j], STORE_ID_BYTES, p);
		struct pg_params prm;
		pg_p_init(&prm);
		pg_p_text(&prm, payload);
		int rc = pg_cmd(pg->wconn, "SELECT pg_notify('" PG__WAKE_CHANNEL "', $1)", &prm);
		if (rc)
			return rc;
	}
	return 0;
}

struct totals {
	uint64_t stored, deleted, expired;
};

/* A request failed in a run without its own savepoint: the whole transaction must be rolled
 * back and the batch run again with savepoints from that request on. */
#define PG__ESAVEPOINT (-1906)

/* Applies one request. With a savepoint, a failure rolls back to it and becomes the request's
 * result; without, a failure is PG__ESAVEPOINT (its writes so far cannot be undone alone). */
static int apply_request(struct store *s, struct store_req *req, bool savepoint, uint64_t now,
			 struct pg_wakes *wk, struct totals *t)
{
	PGconn *c = s->pg->wconn;
	int rc = savepoint ? pg_cmd(c, "SAVEPOINT r", NULL) : 0;
	if (rc)
		return rc;
	size_t mark = wk->n;
	struct pg_wtxn w = {.store = s, .conn = c, .now_ms = now, .req = req, .wakes = wk};
	req->has_failed_device = false;
	for (size_t i = 0; i < req->n_ops && rc == 0; i++)
		rc = apply_table[req->ops[i].kind](&w, &req->ops[i]);
	if (rc == PG__ERETRY || rc == PG__ECONN)
		return rc;
	if (rc && !savepoint)
		return PG__ESAVEPOINT;
	if (rc == 0) {
		int rel = savepoint ? pg_cmd(c, "RELEASE SAVEPOINT r", NULL) : 0;
		if (rel)
			return rel == PG__ECONN || rel == PG__ERETRY ? rel : PG__ERETRY;
		t->stored += w.envelopes_stored;
		t->deleted += w.envelopes_deleted;
		t->expired += w.envelopes_expired;
	} else {
		int rb = pg_cmd(c, "ROLLBACK TO SAVEPOINT r", NULL);
		if (rb)
			return rb == PG__ECONN ? rb : PG__ERETRY;
		wk->n = mark;
	}
	req->result = rc;
	return 0;
}

/* One run of the batch; requests from *sp_from on get savepoints. 0 (committed; each request's
 * result set), PG__EUNKNOWN, PG__ECONN, PG__ERETRY, PG__ESAVEPOINT (*sp_from lowered), or
 * another error for the whole batch (its transaction rolled back or never begun). */
static int run_once(struct store *s, struct store_req **reqs, size_t n, size_t *sp_from,
		    const uint8_t *marker, struct pg_wakes *wk, uint64_t *commit_us, struct totals *t)
{
	struct pgstore *pg = s->pg;
	PGconn *c = pg->wconn;
	struct pg_params p;
	int rc = pg_cmd(c, "BEGIN", NULL);
	if (rc)
		return rc;
	uint64_t now = store__now_ms(s);
	pg_p_init(&p);
	pg_p_bytea(&p, marker, 16);
	pg_p_int8(&p, now);
	rc = pg_cmd(c, "INSERT INTO commit_markers (id, created_ms) VALUES ($1, $2)", &p);
	if (rc == 0)
		rc = pg__audit_prelock(c, reqs, n); /* the audit head first (storage/pg/audit.c) */
	if (rc == 0)
		rc = pg__batch_prelock(c, reqs, n); /* then every row the ops lock (locks.c) */
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = apply_request(s, reqs[i], i >= *sp_from, now, wk, t);
		if (rc == PG__ESAVEPOINT)
			*sp_from = i;
	}
	if (rc == 0)
		rc = notify_wakes(pg, wk);
#ifdef WAKKS_TEST_HOOKS
	if (rc == 0 && test_hook(s, STORE_TEST_PG_BEFORE_COMMIT) == 2) {
		/* a partition: the connection is gone for us, not for the server (the hook owns
		 * the PGconn now) */
		pg->wconn = NULL;
		return PG__ECONN;
	}
#endif
	if (rc) {
		if (rc != PG__ECONN)
			pg_cmd(c, "ROLLBACK", NULL);
		return rc;
	}
	uint64_t t0 = store__mono_us();
	PGresult *r = PQexec(c, "COMMIT");
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
		rc = pg__err(c, r);
		PQclear(r);
		/* A failure answered by the server ended the transaction: run it again. Silence
		 * (the connection died) leaves the outcome open. */
		return rc == PG__ECONN ? PG__EUNKNOWN : PG__ERETRY;
	}
	/* A transaction that had failed answers COMMIT with ROLLBACK: nothing was written. */
	bool committed = strcmp(PQcmdStatus(r), "COMMIT") == 0;
	PQclear(r);
	if (!committed)
		return PG__ERETRY;
	*commit_us = store__mono_us() - t0;
#ifdef WAKKS_TEST_HOOKS
	if (test_hook(s, STORE_TEST_PG_AFTER_COMMIT))
		return PG__EUNKNOWN;
#endif
	return 0;
}

static void fail_all(struct store_req **reqs, size_t n, int rc)
{
	for (size_t i = 0; i < n; i++)
		reqs[i]->result = rc;
}

static void run_batch(struct store *s, struct store_req **reqs, size_t n)
{
	struct pgstore *pg = s->pg;
	struct pg_wakes wk = {0};
	uint64_t deadline = mono_ms() + RECONNECT_WINDOW_MS;
	int retries = 0;
	/* Savepoints cost two round trips per request and a subtransaction each (more than 64 in
	 * one transaction slow every other session's snapshots): a batch first runs without them,
	 * and only from a request that failed on are they used. */
	size_t sp_from = n;
	unsigned lost_pause = 0;
	for (;;) {
		uint8_t marker[16];
		uint64_t commit_us = 0;
		struct totals t = {0, 0, 0};
		int rc = ensure_conn(pg);
		if (rc)
			rc = reconnect(pg, deadline);
		if (rc) {
			fail_all(reqs, n, STORE_EIO);
			break;
		}
		if (getrandom(marker, sizeof marker, 0) != (ssize_t)sizeof marker) {
			fail_all(reqs, n, STORE_EIO);
			break;
		}
		wk.n = 0;
		rc = run_once(s, reqs, n, &sp_from, marker, &wk, &commit_us, &t);
		if (rc == PG__EUNKNOWN || rc == PG__ECONN) {
			int found = recover(pg, rc == PG__EUNKNOWN, marker, deadline);
			if (found == 1) {
				rc = 0; /* the results gathered stand; the latency is unknown */
			} else if (found == 0 && mono_ms() < deadline) {
				/* rolled back with the connection: run it again (at once the first time;
				 * a connection that keeps failing at once gets a pause) */
				sleep_ms(lost_pause);
				lost_pause = lost_pause ? (lost_pause < 1000 ? lost_pause * 2 : 1000) : 20;
				continue;
			} else {
				fail_all(reqs, n, STORE_EIO);
				break;
			}
		}
		if (rc == 0) {
			store__stats_batch(s, n, commit_us, t.stored, t.deleted, t.expired);
			break;
		}
		if (rc == PG__ESAVEPOINT)
			continue; /* rolled back; runs again with savepoints from the failing request */
		if (rc == PG__ERETRY && ++retries < MAX_RETRIES) {
			/* Another relay holds what we need: let it finish first. */
			uint32_t jitter;
			if (getrandom(&jitter, sizeof jitter, 0) != (ssize_t)sizeof jitter)
				jitter = 0;
			sleep_ms(retries < 4 ? 0 : 1 + jitter % (unsigned)(retries * 2));
			continue;
		}
		fail_all(reqs, n, rc == PG__ERETRY ? STORE_EBUSY : rc);
		break;
	}
	free(wk.ids);
}

void pg__run_batch(struct store *s, struct store_req **reqs, size_t n)
{
	/* A request whose locked rows come from a query (locks.c) commits in a batch of its own;
	 * the requests before and after it form batches as they came, so the order of commits
	 * stays the order of arrival. */
	size_t from = 0;
	for (size_t i = 0; i < n; i++) {
		if (n == 1 || !pg__req_alone(reqs[i]))
			continue;
		if (i > from)
			run_batch(s, reqs + from, i - from);
		run_batch(s, reqs + i, 1);
		from = i + 1;
	}
	if (from < n)
		run_batch(s, reqs + from, n - from);
}
