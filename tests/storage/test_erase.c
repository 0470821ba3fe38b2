/* SPDX-License-Identifier: MPL-2.0 */
/* Removing data: deleting a revoked device's mailbox (with its expiry entries and counters, in
 * bounded steps) and the GDPR erase of an account, checked by scanning every database of the
 * environment with raw LMDB (or every table of the PostgreSQL database with raw SQL): the erased
 * account's ids are gone from every key (and from every value but the ones spec/storage.md says
 * keep them), and each database lost exactly the entries of the erased account, nothing of
 * another. */
#include <libpq-fe.h>
#include <lmdb.h>

#include "test.h"
#include "storage_test.h"

/* ---- raw scan of the environment ------------------------------------------------------------- */

#define SCAN_MAX_DBS 32

struct scan {
	bool pg; /* tables of the PostgreSQL engine: scan_count maps LMDB's names onto them */
	int n;
	char names[SCAN_MAX_DBS][64];
	size_t entries[SCAN_MAX_DBS];
	int hits; /* keys (or checked values) containing one of the forbidden ids */
	char first_hit[64];
};

static bool contains(const uint8_t *p, size_t n, const uint8_t id[STORE_ID_BYTES])
{
	for (size_t i = 0; i + STORE_ID_BYTES <= n; i++)
		if (memcmp(p + i, id, STORE_ID_BYTES) == 0)
			return true;
	return false;
}

/* Values that may still name an erased account's ids (spec/storage.md §5.8): envelopes it sent
 * in other devices' mailboxes and the recipient lists of other senders' idempotency entries. */
static bool values_exempt(const char *db)
{
	return strcmp(db, "mailboxes") == 0 || strcmp(db, "idempotency") == 0 ||
	       strcmp(db, "audit") == 0;
}

/* mailbox_senders keys are recipient device || sender account: the sender half names the erased
 * account as long as envelopes it sent stay in other mailboxes, like those envelopes do. */
static size_t key_scanned_len(const char *db, size_t len)
{
	return strcmp(db, "mailbox_senders") == 0 && len == 2 * STORE_ID_BYTES ? STORE_ID_BYTES : len;
}

static int raw_scan_lmdb(const char *path, const uint8_t (*ids)[STORE_ID_BYTES], size_t n_ids,
			 struct scan *out)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi main_dbi;
	MDB_cursor *mc;
	MDB_val k, v;
	int rc;
	memset(out, 0, sizeof *out);
	if ((rc = mdb_env_create(&env)) != 0)
		return rc;
	mdb_env_set_maxdbs(env, 32);
	if ((rc = mdb_env_open(env, path, MDB_RDONLY, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0) {
		mdb_env_close(env);
		return rc;
	}
	mdb_dbi_open(txn, NULL, 0, &main_dbi);
	mdb_cursor_open(txn, main_dbi, &mc);
	int mrc = mdb_cursor_get(mc, &k, &v, MDB_FIRST);
	while (mrc == 0 && out->n < SCAN_MAX_DBS) {
		char name[64];
		MDB_dbi dbi;
		MDB_cursor *c;
		MDB_val dk, dv;
		size_t len = k.mv_size < sizeof name - 1 ? k.mv_size : sizeof name - 1;
		memcpy(name, k.mv_data, len);
		name[len] = '\0';
		strcpy(out->names[out->n], name);
		if (mdb_dbi_open(txn, name, 0, &dbi) == 0 && mdb_cursor_open(txn, dbi, &c) == 0) {
			int r = mdb_cursor_get(c, &dk, &dv, MDB_FIRST);
			while (r == 0) {
				out->entries[out->n]++;
				for (size_t i = 0; i < n_ids; i++) {
					if (contains(dk.mv_data, key_scanned_len(name, dk.mv_size), ids[i]) ||
					    (!values_exempt(name) && contains(dv.mv_data, dv.mv_size, ids[i]))) {
						if (!out->hits)
							strcpy(out->first_hit, name);
						out->hits++;
					}
				}
				r = mdb_cursor_get(c, &dk, &dv, MDB_NEXT);
			}
			mdb_cursor_close(c);
		}
		out->n++;
		mrc = mdb_cursor_get(mc, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(mc);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return 0;
}

/* The bytea columns of a PostgreSQL table that hold keys in LMDB's sense (always scanned), when
 * the table's other columns are values spec/storage.md lets keep an erased account's ids: the
 * envelopes it sent, other senders' recipient lists, the audit log, the sender half of
 * mailbox_senders. NULL: every column is scanned. */
static const char *pg_key_columns(const char *table)
{
	if (strcmp(table, "mailbox") == 0 || strcmp(table, "mailbox_senders") == 0)
		return "device_id";
	if (strcmp(table, "idempotency") == 0)
		return "sender_device message_id";
	if (strcmp(table, "audit") == 0)
		return "";
	return NULL;
}

static bool pg_column_scanned(const char *table, const char *column)
{
	const char *keys = pg_key_columns(table);
	if (!keys)
		return true;
	size_t n = strlen(column);
	for (const char *p = keys; (p = strstr(p, column)) != NULL; p += n)
		if ((p == keys || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

static long long pg_count(PGconn *c, const char *sql, const uint8_t *id)
{
	const char *vals[1] = {(const char *)id};
	int lens[1] = {STORE_ID_BYTES}, fmts[1] = {1};
	Oid types[1] = {17};
	PGresult *r = PQexecParams(c, sql, id ? 1 : 0, id ? types : NULL, id ? vals : NULL,
				   id ? lens : NULL, id ? fmts : NULL, 0);
	long long n = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
			      ? strtoll(PQgetvalue(r, 0, 0), NULL, 10)
			      : -1;
	PQclear(r);
	return n;
}

/* Every table of the database: its row count, and rows whose scanned bytea columns contain one
 * of the ids. */
static int raw_scan_pg(const char *conninfo, const uint8_t (*ids)[STORE_ID_BYTES], size_t n_ids,
		       struct scan *out)
{
	memset(out, 0, sizeof *out);
	out->pg = true;
	PGconn *c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return -1;
	}
	PGresult *t = PQexec(c, "SELECT relname FROM pg_class WHERE relkind = 'r'"
				" AND relnamespace = current_schema()::regnamespace ORDER BY 1");
	int rc = PQresultStatus(t) == PGRES_TUPLES_OK ? 0 : -1;
	for (int i = 0; rc == 0 && i < PQntuples(t) && out->n < SCAN_MAX_DBS; i++) {
		char sql[512], *table = PQescapeIdentifier(c, PQgetvalue(t, i, 0), strlen(PQgetvalue(t, i, 0)));
		snprintf(out->names[out->n], sizeof out->names[0], "%s", PQgetvalue(t, i, 0));
		snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
		long long n = pg_count(c, sql, NULL);
		if (n < 0)
			rc = -1;
		out->entries[out->n] = (size_t)n;
		const char *cparams[1] = {PQgetvalue(t, i, 0)};
		PGresult *cols = PQexecParams(c, "SELECT column_name FROM information_schema.columns"
					      " WHERE table_schema = current_schema() AND table_name = $1"
					      " AND data_type = 'bytea'", 1, NULL, cparams, NULL, NULL, 0);
		for (int j = 0; rc == 0 && j < PQntuples(cols); j++) {
			if (!pg_column_scanned(out->names[out->n], PQgetvalue(cols, j, 0)))
				continue;
			char *col = PQescapeIdentifier(c, PQgetvalue(cols, j, 0), strlen(PQgetvalue(cols, j, 0)));
			snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE position($1 in %s) > 0", table, col);
			PQfreemem(col);
			for (size_t k = 0; k < n_ids; k++) {
				long long hits = pg_count(c, sql, ids[k]);
				if (hits < 0)
					rc = -1;
				if (hits > 0 && !out->hits)
					strcpy(out->first_hit, out->names[out->n]);
				if (hits > 0)
					out->hits += (int)hits;
			}
		}
		PQclear(cols);
		PQfreemem(table);
		out->n++;
	}
	PQclear(t);
	PQfinish(c);
	return rc;
}

static int raw_scan(const struct t_env *e, const uint8_t (*ids)[STORE_ID_BYTES], size_t n_ids,
		    struct scan *out)
{
	if (t_pg())
		return raw_scan_pg(e->pg_conninfo, ids, n_ids, out);
	return raw_scan_lmdb(e->dbpath, ids, n_ids, out);
}

/* LMDB's databases as PostgreSQL tables: an index database is the table it indexes. */
static const char *pg_table(const char *db)
{
	static const char *const map[][2] = {
		{"mailboxes", "mailbox"},         {"mailbox_expiry", "mailbox"},
		{"idempotency_expiry", "idempotency"}, {"tenant_accounts", "accounts"},
		{"unit_accounts", "account_units"}, {"account_devices", "devices"},
		{"blob_expiry", "blobs"},         {"account_blobs", "blobs"},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(db, map[i][0]) == 0)
			return map[i][1];
	return db;
}

static size_t scan_count(const struct scan *s, const char *db)
{
	if (s->pg)
		db = pg_table(db);
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->names[i], db) == 0)
			return s->entries[i];
	return 0;
}

/* ---- building data --------------------------------------------------------------------------- */

static int put_account(struct t_env *e, unsigned n, uint8_t kind, const char *unit)
{
	struct t_res res = {0};
	struct store_account a;
	memset(&a, 0, sizeof a);
	t_id(a.id, 'A', n);
	a.kind = kind;
	strcpy(a.tenant, "varde");
	if (unit)
		strcpy(a.units[a.n_units++], unit);
	struct store_req *req = store_req_new(e->s, t_cb, &res);
	if (store_req_put_account(req, &a) < 0) {
		store_req_free(req);
		return -100;
	}
	return t_run(e, req, &res);
}

/* Adds a send from (account, device) to devices to req. */
static int add_send(struct store_req *req, unsigned account, unsigned device, unsigned msg,
		    const unsigned *to, size_t n, size_t payload_len)
{
	static const uint8_t payload[64] = {7};
	struct store_recipient r[8];
	struct store_send snd;
	memset(&snd, 0, sizeof snd);
	memset(r, 0, sizeof r);
	t_id(snd.sender_account, 'A', account);
	t_id(snd.sender_device, 'D', device);
	t_id(snd.message_id, 'M', msg);
	snd.kind = STORE_KIND_ENVELOPE;
	for (size_t i = 0; i < n; i++) {
		t_id(r[i].device_id, 'D', to[i]);
		r[i].payload = payload;
		r[i].payload_len = payload_len;
		r[i].expires_at_ms = 100000 + msg;
	}
	snd.recipients = r;
	snd.n_recipients = n;
	return store_req_store_envelopes(req, &snd);
}

static int send1(struct t_env *e, unsigned account, unsigned device, unsigned msg, const unsigned *to,
		 size_t n, size_t payload_len)
{
	struct t_res res = {0};
	struct store_req *req = store_req_new(e->s, t_cb, &res);
	if (add_send(req, account, device, msg, to, n, payload_len) < 0) {
		store_req_free(req);
		return -100;
	}
	return t_run(e, req, &res);
}

/* count single-recipient sends from (account, device) to `to`, 64 per request. */
static int send_many(struct t_env *e, unsigned account, unsigned device, unsigned first_msg,
		     unsigned to, size_t count)
{
	static struct t_res res[128];
	size_t n_req = (count + STORE_REQ_MAX_OPS - 1) / STORE_REQ_MAX_OPS;
	if (n_req > 128)
		return -100;
	memset(res, 0, sizeof res);
	for (size_t i = 0; i < n_req; i++) {
		struct store_req *req = store_req_new(e->s, t_cb, &res[i]);
		for (size_t j = i * STORE_REQ_MAX_OPS; j < count && j < (i + 1) * STORE_REQ_MAX_OPS; j++)
			if (add_send(req, account, device, first_msg + (unsigned)j, &to, 1, 3) < 0)
				return -101;
		if (store_submit(req) != 0)
			return -102;
	}
	t_wait_all(e, res, n_req);
	for (size_t i = 0; i < n_req; i++)
		if (res[i].result)
			return res[i].result;
	return 0;
}

static int add_prekeys(struct t_env *e, unsigned device, size_t n_otpk)
{
	struct t_res res = {0};
	struct store_signed_prekey spk;
	struct store_prekey keys[16];
	uint8_t did[STORE_ID_BYTES];
	t_id(did, 'D', device);
	memset(&spk, 0, sizeof spk);
	spk.id = 1;
	memset(keys, 0, sizeof keys);
	for (size_t i = 0; i < n_otpk; i++)
		keys[i].id = (uint32_t)i + 1;
	struct store_req *req = store_req_new(e->s, t_cb, &res);
	store_req_put_signed_prekey(req, did, &spk);
	if (n_otpk)
		store_req_add_one_time_prekeys(req, did, keys, n_otpk);
	return t_run(e, req, &res);
}

static int consent(struct t_env *e, unsigned account, uint8_t kind, const char *unit, const char *tv)
{
	struct t_res res = {0};
	struct store_consent c;
	static const uint8_t rec[] = "signed consent record";
	memset(&c, 0, sizeof c);
	t_id(c.account_id, 'A', account);
	c.kind = kind;
	strcpy(c.tenant, "varde");
	strcpy(c.unit, unit);
	strcpy(c.text_version, tv);
	c.record = rec;
	c.record_len = sizeof rec;
	struct store_req *req = store_req_new(e->s, t_cb, &res);
	if (store_req_put_consent(req, &c) < 0) {
		store_req_free(req);
		return -100;
	}
	return t_run(e, req, &res);
}

/* A stand-in audit entry: the store treats entries as opaque bytes. */
static int build_entry(uint64_t prev_seq, const uint8_t prev_hash[STORE_AUDIT_HASH_BYTES],
		       const void *input, size_t input_len, uint8_t *out, size_t out_cap,
		       size_t *out_len, uint8_t out_hash[STORE_AUDIT_HASH_BYTES])
{
	(void)prev_hash;
	(void)input;
	(void)input_len;
	(void)out_cap;
	memset(out, (int)prev_seq, 40);
	memset(out_hash, (int)prev_seq + 1, STORE_AUDIT_HASH_BYTES);
	*out_len = 40;
	return 0;
}

struct eres {
	int done, result;
	struct store_erase_result r;
	struct store_delete_mailbox_result m;
	int op;
};

static void ecb(struct store_req *req, int result, void *data)
{
	struct eres *x = data;
	x->done = 1;
	x->result = result;
	const struct store_erase_result *r = store_req_erase_result(req, x->op);
	const struct store_delete_mailbox_result *m = store_req_delete_mailbox_result(req, x->op);
	if (r)
		x->r = *r;
	if (m)
		x->m = *m;
}

static int erase(struct t_env *e, unsigned account, struct store_erase_result *out)
{
	struct eres x = {0};
	uint8_t id[STORE_ID_BYTES];
	t_id(id, 'A', account);
	struct store_req *req = store_req_new(e->s, ecb, &x);
	x.op = store_req_erase_account(req, id);
	if (x.op < 0 || store_submit(req) != 0)
		return -100;
	while (!x.done)
		uv_run(&e->loop, UV_RUN_ONCE);
	*out = x.r;
	return x.result;
}

/* Deletes a device's mailbox, optionally revoking it in the same request. */
static int delete_mailbox(struct t_env *e, unsigned device, bool revoke,
			  struct store_delete_mailbox_result *out)
{
	struct eres x = {0};
	uint8_t id[STORE_ID_BYTES];
	t_id(id, 'D', device);
	struct store_req *req = store_req_new(e->s, ecb, &x);
	if (revoke && store_req_revoke_device(req, id, 777) < 0)
		return -100;
	x.op = store_req_delete_mailbox(req, id);
	if (x.op < 0 || store_submit(req) != 0)
		return -100;
	while (!x.done)
		uv_run(&e->loop, UV_RUN_ONCE);
	*out = x.m;
	return x.result;
}

static uint64_t depth(struct t_env *e, unsigned device, uint64_t *bytes)
{
	uint8_t id[STORE_ID_BYTES];
	uint64_t count = 9999;
	t_id(id, 'D', device);
	if (store_mailbox_depth(e->s, id, &count, bytes) != 0)
		return 9999;
	return count;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_delete_mailbox_fixes_counters(void)
{
	struct t_env e;
	struct store_delete_mailbox_result m;
	struct scan sc;
	uint64_t bytes;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(put_account(&e, 1, STORE_ACCOUNT_CITIZEN, NULL));
	REQUIRE_OK(put_account(&e, 2, STORE_ACCOUNT_CITIZEN, NULL));
	REQUIRE_OK(t_put_device(&e, 1, 1));
	REQUIRE_OK(t_put_device(&e, 2, 2));
	unsigned both[] = {1, 2};
	for (unsigned i = 0; i < 5; i++)
		CHECK_EQ_INT(send1(&e, 2, 2, 10 + i, both, 2, 10 + i), 0);
	CHECK_EQ_INT(depth(&e, 1, &bytes), 5);
	CHECK_EQ_INT(bytes, 10 + 11 + 12 + 13 + 14);

	/* revoke and delete the mailbox in one request */
	CHECK_EQ_INT(delete_mailbox(&e, 1, true, &m), 0);
	CHECK_EQ_INT(m.n, 5);
	CHECK_EQ_INT(m.bytes, 60);
	CHECK(!m.more);
	CHECK_EQ_INT(depth(&e, 1, &bytes), 0);
	CHECK_EQ_INT(bytes, 0);
	CHECK_EQ_INT(depth(&e, 2, &bytes), 5); /* the other device keeps its copies */
	struct store_device d;
	uint8_t did[STORE_ID_BYTES];
	t_id(did, 'D', 1);
	CHECK_EQ_INT(store_get_device(e.s, did, &d), 0);
	CHECK(d.revoked);
	CHECK_EQ_INT(d.next_seq, 6); /* seqs are never reused */

	/* again: nothing left; an unknown device is not an error either */
	CHECK_EQ_INT(delete_mailbox(&e, 1, false, &m), 0);
	CHECK_EQ_INT(m.n, 0);
	CHECK(!m.more);
	CHECK_EQ_INT(delete_mailbox(&e, 99, false, &m), 0);
	CHECK_EQ_INT(m.n, 0);

	t_close(&e);
	REQUIRE_OK(raw_scan(&e, NULL, 0, &sc));
	CHECK_EQ_INT(scan_count(&sc, "mailboxes"), 5);
	CHECK_EQ_INT(scan_count(&sc, "mailbox_expiry"), 5); /* I1 */
	t_teardown(&e);
}

static int first_seq_cb(const struct store_envelope *env, void *data)
{
	*(uint64_t *)data = env->ref.seq;
	return 1;
}

static void test_delete_mailbox_in_bounded_steps(void)
{
	struct t_env e;
	struct store_delete_mailbox_result m;
	struct scan sc;
	uint64_t bytes;
	const size_t total = STORE_DELETE_MAILBOX_MAX + 7;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(put_account(&e, 1, STORE_ACCOUNT_CITIZEN, NULL));
	REQUIRE_OK(t_put_device(&e, 1, 1));
	REQUIRE_OK(t_put_device(&e, 1, 2));
	CHECK_EQ_INT(send_many(&e, 1, 2, 1, 1, total), 0);
	CHECK_EQ_INT(depth(&e, 1, NULL), total);

	CHECK_EQ_INT(delete_mailbox(&e, 1, true, &m), 0);
	CHECK_EQ_INT(m.n, STORE_DELETE_MAILBOX_MAX);
	CHECK_EQ_INT(m.bytes, 3 * STORE_DELETE_MAILBOX_MAX);
	CHECK(m.more);
	CHECK_EQ_INT(depth(&e, 1, &bytes), 7);
	CHECK_EQ_INT(bytes, 21);
	/* the lowest seqs went first */
	uint64_t first = 0;
	uint8_t did[STORE_ID_BYTES];
	t_id(did, 'D', 1);
	CHECK_EQ_INT(store_mailbox_iter(e.s, did, 0, 1, first_seq_cb, &first), 1);
	CHECK_EQ_INT(first, STORE_DELETE_MAILBOX_MAX + 1);
	CHECK_EQ_INT(delete_mailbox(&e, 1, false, &m), 0);
	CHECK_EQ_INT(m.n, 7);
	CHECK(!m.more);
	CHECK_EQ_INT(depth(&e, 1, &bytes), 0);
	CHECK_EQ_INT(bytes, 0);
	t_close(&e);
	REQUIRE_OK(raw_scan(&e, NULL, 0, &sc));
	CHECK_EQ_INT(scan_count(&sc, "mailboxes"), 0);
	CHECK_EQ_INT(scan_count(&sc, "mailbox_expiry"), 0);
	CHECK_EQ_INT(scan_count(&sc, "idempotency"), total); /* sends by device 2 stay */
	t_teardown(&e);
}

struct ids {
	int n;
	uint8_t last[8];
};

static int ids_cb(const uint8_t account_id[STORE_ID_BYTES], void *data)
{
	struct ids *ids = data;
	if (ids->n < 8)
		ids->last[ids->n] = account_id[15];
	ids->n++;
	return 0;
}

static int count_row_cb(const struct store_consent_count *row, void *data)
{
	uint64_t *sums = data;
	sums[0] += row->grants;
	sums[1] += row->withdrawals;
	sums[2] += row->active;
	sums[3]++;
	return 0;
}

static int none_cb(const struct store_consent *c, void *data)
{
	(void)c;
	(*(int *)data)++;
	return 0;
}

/* Accounts: 1 citizen (devices 1, 2) to erase; 2 citizen (device 3); 3 caseworker in unit
 * jobcenter (device 4). Sends between all of them, prekeys, consents of 1 and 2, one audit entry. */
static void build_world(struct t_env *e)
{
	struct t_res res = {0};
	REQUIRE_OK(put_account(e, 1, STORE_ACCOUNT_CITIZEN, NULL));
	REQUIRE_OK(put_account(e, 2, STORE_ACCOUNT_CITIZEN, NULL));
	REQUIRE_OK(put_account(e, 3, STORE_ACCOUNT_CASEWORKER, "jobcenter"));
	REQUIRE_OK(t_put_device(e, 1, 1));
	REQUIRE_OK(t_put_device(e, 1, 2));
	REQUIRE_OK(t_put_device(e, 2, 3));
	REQUIRE_OK(t_put_device(e, 3, 4));
	REQUIRE_OK(add_prekeys(e, 1, 5));
	REQUIRE_OK(add_prekeys(e, 2, 0));
	REQUIRE_OK(add_prekeys(e, 3, 5));
	REQUIRE_OK(add_prekeys(e, 4, 2));
	unsigned m1[] = {3, 4, 2}, m2[] = {1, 4}, m3[] = {1, 3};
	REQUIRE_OK(send1(e, 1, 1, 1, m1, 3, 10)); /* 1 -> 2's, 3's and its own other device */
	REQUIRE_OK(send1(e, 2, 3, 2, m2, 2, 20));
	REQUIRE_OK(send1(e, 3, 4, 3, m3, 2, 30));
	REQUIRE_OK(consent(e, 1, STORE_CONSENT_GRANT, "", "v1"));
	REQUIRE_OK(consent(e, 1, STORE_CONSENT_GRANT, "jobcenter", "v1"));
	REQUIRE_OK(consent(e, 1, STORE_CONSENT_WITHDRAW, "", "v1"));
	REQUIRE_OK(consent(e, 2, STORE_CONSENT_GRANT, "", "v1"));
	struct store_req *req = store_req_new(e->s, t_cb, &res);
	REQUIRE(store_req_audit_append(req, build_entry, "x", 1) == 0);
	REQUIRE_OK(t_run(e, req, &res));
}

static void test_erase_removes_everything_of_the_account_only(void)
{
	struct t_env e;
	struct store_erase_result r;
	struct scan before, after;
	uint8_t forbidden[3][STORE_ID_BYTES];
	t_id(forbidden[0], 'A', 1);
	t_id(forbidden[1], 'D', 1);
	t_id(forbidden[2], 'D', 2);
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	build_world(&e);
	/* the erased account's first device has a push subscription */
	struct store_push_sub sub;
	memset(&sub, 0, sizeof sub);
	sub.kind = STORE_PUSH_FCM;
	strcpy(sub.app, "wakks-android");
	sub.addr_len = 3;
	memcpy(sub.addr, "tok", 3);
	struct t_res sres = {0};
	uint8_t d1[STORE_ID_BYTES];
	t_id(d1, 'D', 1);
	struct store_req *sreq = store_req_new(e.s, t_cb, &sres);
	CHECK(store_req_put_push_sub(sreq, d1, &sub) >= 0);
	REQUIRE_OK(t_run(&e, sreq, &sres));
	t_close(&e);
	REQUIRE_OK(raw_scan(&e, forbidden, 3, &before));
	CHECK(before.hits > 0);
	REQUIRE_OK(t_open(&e));

	CHECK_EQ_INT(erase(&e, 1, &r), 0);
	CHECK(r.found);
	CHECK(!r.more);
	CHECK(r.account_deleted);
	CHECK_EQ_INT(r.devices, 2);
	CHECK_EQ_INT(r.envelopes, 3);      /* device 1: from 2 and 3; device 2: its own send */
	CHECK_EQ_INT(r.envelope_bytes, 20 + 30 + 10);
	CHECK_EQ_INT(r.signed_prekeys, 2);
	CHECK_EQ_INT(r.one_time_prekeys, 5);
	CHECK_EQ_INT(r.idempotency, 1);
	CHECK_EQ_INT(r.consents, 3);
	CHECK_EQ_INT(r.consent_latest, 2);
	CHECK_EQ_INT(r.index_entries, 1);  /* the tenant index; a citizen has no units */

	/* through the API */
	uint8_t id[STORE_ID_BYTES];
	struct store_account a;
	struct store_device d;
	size_t n = 9;
	t_id(id, 'A', 1);
	CHECK_EQ_INT(store_get_account(e.s, id, &a), STORE_ENOTFOUND);
	CHECK_EQ_INT(store_list_devices(e.s, id, true, &d, 1, &n), 0);
	CHECK_EQ_INT(n, 0);
	int visited = 0;
	CHECK_EQ_INT(store_consent_iter(e.s, id, none_cb, &visited), 0);
	CHECK_EQ_INT(store_consent_latest(e.s, id, "varde", "", NULL, NULL), STORE_ENOTFOUND);
	t_id(id, 'D', 1);
	CHECK_EQ_INT(store_get_device(e.s, id, &d), STORE_ENOTFOUND);
	struct ids ids = {0};
	CHECK_EQ_INT(store_list_tenant_accounts(e.s, "varde", 0, ids_cb, &ids), 2);
	CHECK_EQ_INT(ids.last[0], 2);
	CHECK_EQ_INT(ids.last[1], 3);
	/* the others: intact */
	CHECK_EQ_INT(depth(&e, 3, NULL), 2); /* the envelope from 1 stays with its recipient */
	CHECK_EQ_INT(depth(&e, 4, NULL), 2);
	uint32_t otpks = 0;
	t_id(id, 'D', 3);
	CHECK_EQ_INT(store_count_one_time_prekeys(e.s, id, &otpks), 0);
	CHECK_EQ_INT(otpks, 5);
	uint8_t kind = 0;
	t_id(id, 'A', 2);
	CHECK_EQ_INT(store_consent_latest(e.s, id, "varde", "", &kind, NULL), 0);
	CHECK_EQ_INT(kind, STORE_CONSENT_GRANT);
	uint64_t sums[4] = {0};
	CHECK_EQ_INT(store_consent_report(e.s, "varde", count_row_cb, sums), 1);
	CHECK_EQ_INT(sums[0], 1); /* 2's grant */
	CHECK_EQ_INT(sums[1], 0);
	CHECK_EQ_INT(sums[2], 1);
	uint64_t head = 0;
	uint8_t hash[STORE_AUDIT_HASH_BYTES];
	CHECK_EQ_INT(store_audit_head(e.s, &head, hash), 0);
	CHECK_EQ_INT(head, 1);

	/* erasing again: nothing there, not an error */
	CHECK_EQ_INT(erase(&e, 1, &r), 0);
	CHECK(!r.found);
	CHECK(!r.account_deleted);

	/* every database, raw */
	t_close(&e);
	REQUIRE_OK(raw_scan(&e, forbidden, 3, &after));
	CHECK_EQ_INT(after.hits, 0);
	if (after.hits)
		fprintf(stderr, "erased ids still in %s\n", after.first_hit);
	static const struct {
		const char *db;
		size_t removed;
	} want[] = {
		{"meta", 0}, {"accounts", 1}, {"unit_accounts", 0}, {"tenant_accounts", 1},
		{"devices", 2}, {"account_devices", 2}, {"signed_prekeys", 2},
		{"one_time_prekeys", 5}, {"mailboxes", 3}, {"mailbox_expiry", 3}, {"idempotency", 1},
		{"idempotency_expiry", 1}, {"audit", 0}, {"consents", 3}, {"consent_latest", 2},
		{"consent_counts", 1}, {"blobs", 0}, {"blob_expiry", 0}, {"blob_grants", 0},
		{"blob_usage", 0}, {"blob_files", 0}, {"account_blobs", 0}, {"mailbox_senders", 3},
		{"push_subs", 1},
	};
	if (!t_pg()) /* PostgreSQL has tables of its own (commit markers, the relay's) */
		CHECK_EQ_INT(after.n, (int)(sizeof want / sizeof want[0]));
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		size_t b = scan_count(&before, want[i].db), a2 = scan_count(&after, want[i].db);
		if (b - a2 != want[i].removed)
			fprintf(stderr, "%s: %zu before, %zu after\n", want[i].db, b, a2);
		CHECK_EQ_INT(b - a2, want[i].removed);
	}
	CHECK_EQ_INT(scan_count(&after, "mailboxes"), scan_count(&after, "mailbox_expiry"));
	CHECK_EQ_INT(scan_count(&after, "idempotency"), scan_count(&after, "idempotency_expiry"));
	t_teardown(&e);
}

static void test_erase_caseworker_leaves_unit_index(void)
{
	struct t_env e;
	struct store_erase_result r;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	build_world(&e);
	struct ids ids = {0};
	CHECK_EQ_INT(store_list_unit_accounts(e.s, "varde", "jobcenter", ids_cb, &ids), 1);
	CHECK_EQ_INT(erase(&e, 3, &r), 0);
	CHECK(r.account_deleted);
	CHECK_EQ_INT(r.index_entries, 2); /* unit and tenant */
	CHECK_EQ_INT(r.devices, 1);
	CHECK_EQ_INT(r.consents, 0);
	memset(&ids, 0, sizeof ids);
	CHECK_EQ_INT(store_list_unit_accounts(e.s, "varde", "jobcenter", ids_cb, &ids), 0);
	t_teardown(&e);
}

/* A mailbox past the step bound: the first step removes STORE_ERASE_MAX envelopes and keeps the
 * account; the next one finishes. */
static void test_erase_in_bounded_steps(void)
{
	struct t_env e;
	struct store_erase_result r;
	struct scan sc;
	const size_t extra = 5;
	REQUIRE_OK(t_setup(&e));
	REQUIRE_OK(t_open(&e));
	REQUIRE_OK(put_account(&e, 1, STORE_ACCOUNT_CITIZEN, NULL));
	REQUIRE_OK(put_account(&e, 2, STORE_ACCOUNT_CITIZEN, NULL));
	REQUIRE_OK(t_put_device(&e, 1, 1));
	REQUIRE_OK(t_put_device(&e, 2, 2));
	CHECK_EQ_INT(send_many(&e, 2, 2, 1, 1, STORE_ERASE_MAX + extra), 0);
	CHECK_EQ_INT(send_many(&e, 1, 1, 100000, 2, 10), 0);
	REQUIRE_OK(consent(&e, 1, STORE_CONSENT_GRANT, "", "v1"));

	CHECK_EQ_INT(erase(&e, 1, &r), 0);
	CHECK(r.found);
	CHECK(r.more);
	CHECK(!r.account_deleted);
	CHECK_EQ_INT(r.envelopes, STORE_ERASE_MAX);
	CHECK_EQ_INT(r.devices, 0);
	CHECK_EQ_INT(r.consents, 0);
	CHECK_EQ_INT(depth(&e, 1, NULL), extra);
	uint8_t id[STORE_ID_BYTES];
	struct store_account a;
	t_id(id, 'A', 1);
	CHECK_EQ_INT(store_get_account(e.s, id, &a), 0);

	CHECK_EQ_INT(erase(&e, 1, &r), 0);
	CHECK(r.found);
	CHECK(!r.more);
	CHECK(r.account_deleted);
	CHECK_EQ_INT(r.envelopes, extra);
	CHECK_EQ_INT(r.idempotency, 10);
	CHECK_EQ_INT(r.devices, 1);
	CHECK_EQ_INT(r.consents, 1);
	CHECK_EQ_INT(store_get_account(e.s, id, &a), STORE_ENOTFOUND);
	CHECK_EQ_INT(depth(&e, 2, NULL), 10);
	t_close(&e);
	REQUIRE_OK(raw_scan(&e, NULL, 0, &sc));
	CHECK_EQ_INT(scan_count(&sc, "mailboxes"), 10);
	CHECK_EQ_INT(scan_count(&sc, "mailbox_expiry"), 10);
	CHECK_EQ_INT(scan_count(&sc, "idempotency"), STORE_ERASE_MAX + extra); /* account 2's sends */
	CHECK_EQ_INT(scan_count(&sc, "idempotency_expiry"), STORE_ERASE_MAX + extra);
	CHECK_EQ_INT(scan_count(&sc, "consent_counts"), 0);
	t_teardown(&e);
}

int main(void)
{
	RUN(test_delete_mailbox_fixes_counters);
	RUN(test_delete_mailbox_in_bounded_steps);
	RUN(test_erase_removes_everything_of_the_account_only);
	RUN(test_erase_caseworker_leaves_unit_index);
	RUN(test_erase_in_bounded_steps);
	return TEST_RESULT();
}
