/* SPDX-License-Identifier: MPL-2.0 */
/* Mailboxes in the PostgreSQL engine (spec/storage-postgresql.md §3.5): storing a send's
 * envelopes (sequence numbers under the recipients' row locks, quotas, the idempotency index,
 * the wake notifications), deleting on ack, expiry, deleting a mailbox, reading.
 *
 * Lock order: every change to a mailbox first locks its device's row (devices in id order when
 * there are several), so sends, acks and expiry on any relay never deadlock one another, and a
 * device's mailbox and counters only change under that lock. */
#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"

/* Envelopes fetched per statement while iterating: bounded memory for large payloads. */
#define ITER_PAGE 32
#define IDEM_SEQ_LEN (STORE_ID_BYTES + 8)

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int k = 0; k < 8; k++)
		v = v << 8 | p[k];
	return v;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, STORE_ID_BYTES);
}

/* Locks the devices' rows in id order (absent ids are skipped). ids may be unsorted; they are
 * sorted in place. */
static int lock_devices(struct pg_wtxn *w, uint8_t (*ids)[STORE_ID_BYTES], size_t n)
{
	struct pg_array a;
	struct pg_params p;
	qsort(ids, n, STORE_ID_BYTES, cmp_id);
	pg_a_init(&a, PG_OID_BYTEA);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || memcmp(ids[i], ids[i - 1], STORE_ID_BYTES) != 0)
			pg_a_bytes(&a, ids[i], STORE_ID_BYTES);
	pg_p_init(&p);
	int rc = pg_p_array(&p, &a, PG_OID_BYTEA_ARRAY);
	if (rc == 0)
		rc = pg_cmd(w->conn, "SELECT 1 FROM devices WHERE id = ANY($1) ORDER BY id FOR UPDATE",
			    &p);
	pg_a_free(&a);
	return rc;
}

/* ---- idempotency ----------------------------------------------------------------------------- */

/* Deletes up to max entries past their expiry, oldest first; *more when others are due. */
static int idem_expire(struct pg_wtxn *w, uint64_t now_ms, size_t max, size_t *deleted, bool *more)
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_int8(&p, now_ms);
	pg_p_int8(&p, (uint64_t)max + 1);
	/* Entries another relay's expiry holds are skipped: it deletes them. */
	PGresult *r = pg_exec(w->conn,
			      "SELECT sender_device, message_id FROM idempotency "
			      "WHERE expires_at_ms <= $1 ORDER BY expires_at_ms LIMIT $2 "
			      "FOR UPDATE SKIP LOCKED",
			      &p, &err);
	if (!r)
		return err;
	int rows = PQntuples(r);
	if ((size_t)rows > max) {
		*more = true;
		rows = (int)max;
	}
	struct pg_array devs, msgs;
	pg_a_init(&devs, PG_OID_BYTEA);
	pg_a_init(&msgs, PG_OID_BYTEA);
	for (int i = 0; i < rows; i++) {
		size_t l1, l2;
		const uint8_t *d = pg_r_bytes(r, i, 0, &l1), *m = pg_r_bytes(r, i, 1, &l2);
		pg_a_bytes(&devs, d, l1);
		pg_a_bytes(&msgs, m, l2);
	}
	PQclear(r);
	pg_p_init(&p);
	int rc = pg_p_array(&p, &devs, PG_OID_BYTEA_ARRAY);
	if (rc == 0)
		rc = pg_p_array(&p, &msgs, PG_OID_BYTEA_ARRAY);
	if (rc == 0 && rows > 0)
		rc = pg_cmd(w->conn,
			    "DELETE FROM idempotency WHERE (sender_device, message_id) IN "
			    "(SELECT * FROM unnest($1::bytea[], $2::bytea[]))",
			    &p);
	pg_a_free(&devs);
	pg_a_free(&msgs);
	if (rc == 0)
		*deleted = (size_t)rows;
	return rc;
}

int pg__idem_delete_sender(struct pg_wtxn *w, const uint8_t sender_device[STORE_ID_BYTES],
			   size_t max, size_t *n, bool *more)
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, sender_device, STORE_ID_BYTES);
	pg_p_int8(&p, max);
	PGresult *r = pg_exec(w->conn,
			      "WITH d AS (DELETE FROM idempotency WHERE sender_device = $1 AND "
			      "message_id IN (SELECT message_id FROM idempotency WHERE sender_device = $1 "
			      "ORDER BY message_id LIMIT $2) RETURNING 1) "
			      "SELECT (SELECT count(*) FROM d), EXISTS (SELECT 1 FROM idempotency "
			      "WHERE sender_device = $1 AND message_id NOT IN "
			      "(SELECT message_id FROM idempotency WHERE sender_device = $1 "
			      "ORDER BY message_id LIMIT $2))",
			      &p, &err);
	if (!r)
		return err;
	*n = (size_t)pg_r_int(r, 0, 0);
	*more = pg_r_bool(r, 0, 1);
	PQclear(r);
	return 0;
}

int pg_get_idempotency(struct store *s, const uint8_t sender_device[STORE_ID_BYTES],
		       const uint8_t message_id[STORE_ID_BYTES], struct store_idempotency *out,
		       struct store_seq *seqs, size_t cap)
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, sender_device, STORE_ID_BYTES);
	pg_p_bytea(&p, message_id, STORE_ID_BYTES);
	PGresult *r = pg__read(s,
			       "SELECT stored_at_ms, expires_at_ms, seqs FROM idempotency "
			       "WHERE sender_device = $1 AND message_id = $2",
			       &p, &err);
	if (!r)
		return err;
	int rc = STORE_ENOTFOUND;
	if (PQntuples(r) == 1) {
		size_t len;
		const uint8_t *v = pg_r_bytes(r, 0, 2, &len);
		rc = len % IDEM_SEQ_LEN || len == 0 ? STORE_ECORRUPT : 0;
		if (rc == 0) {
			out->stored_at_ms = pg_r_int(r, 0, 0);
			out->expires_at_ms = pg_r_int(r, 0, 1);
			out->n = len / IDEM_SEQ_LEN;
			for (size_t i = 0; i < out->n && i < cap; i++) {
				memcpy(seqs[i].device_id, v + i * IDEM_SEQ_LEN, STORE_ID_BYTES);
				seqs[i].seq = get64(v + i * IDEM_SEQ_LEN + STORE_ID_BYTES);
			}
		}
	}
	PQclear(r);
	return rc;
}

/* ---- storing --------------------------------------------------------------------------------- */

/* Reads the original result of a resend from an idempotency entry's seqs into so->result. */
static int idem_result(struct store__send_op *so, uint64_t stored_at, const uint8_t *v, size_t len)
{
	size_t n = len / IDEM_SEQ_LEN;
	if (len % IDEM_SEQ_LEN || n == 0 || n > STORE_SEND_MAX_RECIPIENTS)
		return STORE_ECORRUPT;
	if (n > so->seqs_cap) {
		/* The resend names fewer devices than the original: room for the original's list. */
		struct store_seq *seqs = realloc(so->seqs, n * sizeof *seqs);
		if (!seqs)
			return STORE_ENOMEM;
		so->seqs = seqs;
		so->seqs_cap = n;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(so->seqs[i].device_id, v + i * IDEM_SEQ_LEN, STORE_ID_BYTES);
		so->seqs[i].seq = get64(v + i * IDEM_SEQ_LEN + STORE_ID_BYTES);
	}
	so->result.duplicate = true;
	so->result.stored_at_ms = stored_at;
	so->result.n = n;
	so->result.seqs = so->seqs;
	return 0;
}

/* The sending device's revocation (a client's envelope is never stored from a revoked device: a
 * revocation committed before this statement wins, as in LMDB) and the idempotency entry, in one
 * statement. 1: a resend, so->result holds the original; 0: go on; or an error. */
static int send_precheck(struct pg_wtxn *w, struct store__send_op *so, bool idempotent)
{
	const struct store_send *send = &so->send;
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, send->sender_device, STORE_ID_BYTES);
	pg_p_bytea(&p, send->message_id, STORE_ID_BYTES);
	pg_p_bool(&p, send->kind == STORE_KIND_ENVELOPE);
	pg_p_bool(&p, idempotent);
	PGresult *r = pg_exec(w->conn,
			      "SELECT (SELECT revoked FROM devices WHERE id = $1 AND $3), "
			      "i.stored_at_ms, i.seqs FROM (SELECT 1) AS one "
			      "LEFT JOIN idempotency i ON $4 AND i.sender_device = $1 "
			      "AND i.message_id = $2",
			      &p, &err);
	if (!r)
		return err;
	int rc = 0;
	if (pg_r_bool(r, 0, 0)) {
		pg__req_fail_device(w, send->sender_device);
		rc = STORE_EREVOKED;
	} else if (!pg_r_null(r, 0, 2)) {
		size_t len;
		const uint8_t *v = pg_r_bytes(r, 0, 2, &len);
		rc = idem_result(so, pg_r_int(r, 0, 1), v, len);
		if (rc == 0)
			rc = 1;
	}
	PQclear(r);
	return rc;
}

struct recip_state {
	bool found, revoked;
	uint64_t count, bytes, held; /* mailbox counters; the sender's envelopes in it */
};

/* Finds id in the sorted ids; its index or -1. */
static long find_sorted(uint8_t (*ids)[STORE_ID_BYTES], size_t n, const uint8_t *id)
{
	const uint8_t(*hit)[STORE_ID_BYTES] = bsearch(id, ids, n, STORE_ID_BYTES, cmp_id);
	return hit ? (long)(hit - (const uint8_t(*)[STORE_ID_BYTES])ids) : -1;
}

/* Locks the recipients' rows in id order and reads their state, with the sender's share of each
 * mailbox, into st (indexed like sorted). */
static int load_recipients(struct pg_wtxn *w, const struct store_send *send,
			   uint8_t (*sorted)[STORE_ID_BYTES], struct recip_state *st)
{
	size_t n = send->n_recipients;
	struct pg_array a;
	struct pg_params p;
	int err = 0;
	pg_a_init(&a, PG_OID_BYTEA);
	for (size_t i = 0; i < n; i++)
		pg_a_bytes(&a, sorted[i], STORE_ID_BYTES);
	pg_p_init(&p);
	int rc = pg_p_array(&p, &a, PG_OID_BYTEA_ARRAY);
	if (rc) {
		pg_a_free(&a);
		return rc;
	}
	pg_p_bytea(&p, send->sender_account, STORE_ID_BYTES);
	PGresult *r = pg_exec(w->conn,
			      "SELECT d.id, d.revoked, d.mailbox_count, d.mailbox_bytes, "
			      "coalesce(m.count, 0) FROM devices d "
			      "LEFT JOIN mailbox_senders m ON m.device_id = d.id AND m.sender_account = $2 "
			      "WHERE d.id = ANY($1) ORDER BY d.id FOR UPDATE OF d",
			      &p, &err);
	pg_a_free(&a);
	if (!r)
		return err;
	for (int i = 0; i < PQntuples(r); i++) {
		uint8_t id[STORE_ID_BYTES];
		long k = pg_r_copy(r, i, 0, id, sizeof id) == 0 ? find_sorted(sorted, n, id) : -1;
		if (k < 0)
			continue;
		st[k].found = true;
		st[k].revoked = pg_r_bool(r, i, 1);
		st[k].count = pg_r_int(r, i, 2);
		st[k].bytes = pg_r_int(r, i, 3);
		st[k].held = pg_r_int(r, i, 4);
	}
	PQclear(r);
	return 0;
}

/* The checks of the LMDB engine, in the recipients' order: the first failing one names the
 * device. */
static int check_recipients(struct pg_wtxn *w, const struct store_send *send,
			    uint8_t (*sorted)[STORE_ID_BYTES], const struct recip_state *st)
{
	const struct store_config *cfg = &w->store->cfg;
	for (size_t i = 0; i < send->n_recipients; i++) {
		const struct store_recipient *r = &send->recipients[i];
		const struct recip_state *d = &st[find_sorted(sorted, send->n_recipients, r->device_id)];
		int rc = 0;
		if (!d->found)
			rc = STORE_ENODEVICE;
		else if (d->revoked)
			rc = STORE_EREVOKED;
		else if ((cfg->mailbox_max_envelopes && d->count + 1 > cfg->mailbox_max_envelopes) ||
			 (cfg->mailbox_max_bytes && d->bytes + r->payload_len > cfg->mailbox_max_bytes))
			rc = STORE_EQUOTA;
		else if (cfg->mailbox_max_per_sender && d->held + 1 > cfg->mailbox_max_per_sender)
			rc = STORE_ESHARE;
		if (rc) {
			pg__req_fail_device(w, r->device_id);
			return rc;
		}
	}
	return 0;
}

/* One statement for any number of recipients, under the row locks taken by load_recipients:
 * each device's next seq (UPDATE ... RETURNING), the envelopes, the senders' shares and the
 * idempotency entry (the original recipients' order; expiring with the latest envelope). */
static const char write_sql[] =
	"WITH v AS (SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bigint[], $4::bytea[]) "
	"WITH ORDINALITY AS v(id, len, exp, payload, ord)), "
	"u AS (UPDATE devices d SET next_seq = d.next_seq + 1, "
	"mailbox_count = d.mailbox_count + 1, mailbox_bytes = d.mailbox_bytes + v.len "
	"FROM v WHERE d.id = v.id RETURNING d.id, d.next_seq - 1 AS seq), "
	"m AS (INSERT INTO mailbox (device_id, seq, kind, sender_account, sender_device, message_id, "
	"stored_at_ms, expires_at_ms, payload) "
	"SELECT v.id, u.seq, $5, $6, $7, $8, $9, v.exp, v.payload FROM v JOIN u ON u.id = v.id), "
	"s AS (INSERT INTO mailbox_senders (device_id, sender_account, count) "
	"SELECT v.id, $6, 1 FROM v ON CONFLICT (device_id, sender_account) "
	"DO UPDATE SET count = mailbox_senders.count + 1), "
	"i AS (INSERT INTO idempotency (sender_device, message_id, stored_at_ms, expires_at_ms, seqs) "
	"SELECT $7, $8, $9, max(v.exp), string_agg(v.id || int8send(u.seq), ''::bytea ORDER BY v.ord) "
	"FROM v JOIN u ON u.id = v.id HAVING $10) "
	"SELECT v.ord, u.seq FROM v JOIN u ON u.id = v.id ORDER BY v.ord";

static int write_envelopes(struct pg_wtxn *w, struct store__send_op *so, bool idempotent)
{
	const struct store_send *send = &so->send;
	size_t n = send->n_recipients;
	struct pg_array ids, lens, exps, payloads;
	struct pg_params p;
	int err = 0, rc;
	pg_a_init(&ids, PG_OID_BYTEA);
	pg_a_init(&lens, PG_OID_INT8);
	pg_a_init(&exps, PG_OID_INT8);
	pg_a_init(&payloads, PG_OID_BYTEA);
	for (size_t i = 0; i < n; i++) {
		const struct store_recipient *r = &send->recipients[i];
		pg_a_bytes(&ids, r->device_id, STORE_ID_BYTES);
		pg_a_int8(&lens, r->payload_len);
		pg_a_int8(&exps, r->expires_at_ms);
		pg_a_bytes(&payloads, r->payload, r->payload_len);
	}
	pg_p_init(&p);
	if ((rc = pg_p_array(&p, &ids, PG_OID_BYTEA_ARRAY)) == 0 &&
	    (rc = pg_p_array(&p, &lens, PG_OID_INT8_ARRAY)) == 0 &&
	    (rc = pg_p_array(&p, &exps, PG_OID_INT8_ARRAY)) == 0 &&
	    (rc = pg_p_array(&p, &payloads, PG_OID_BYTEA_ARRAY)) == 0) {
		pg_p_int2(&p, send->kind);
		pg_p_bytea(&p, send->sender_account, STORE_ID_BYTES);
		pg_p_bytea(&p, send->sender_device, STORE_ID_BYTES);
		pg_p_bytea(&p, send->message_id, STORE_ID_BYTES);
		pg_p_int8(&p, w->now_ms);
		pg_p_bool(&p, idempotent);
		/* A second relay storing the same send at the same moment waits on the idempotency
		 * key and fails with a unique violation once this one commits: its batch runs again
		 * and finds the entry (a duplicate). */
		PGresult *r = pg_exec(w->conn, write_sql, &p, &err);
		if (!r) {
			rc = err;
		} else {
			/* the rows are locked: every recipient has its seq */
			rc = (size_t)PQntuples(r) == n ? 0 : STORE_EINTERNAL;
			for (size_t i = 0; i < n && rc == 0; i++) {
				memcpy(so->seqs[i].device_id, send->recipients[i].device_id,
				       STORE_ID_BYTES);
				so->seqs[i].seq = pg_r_int(r, (int)i, 1);
			}
			PQclear(r);
		}
	}
	pg_a_free(&ids);
	pg_a_free(&lens);
	pg_a_free(&exps);
	pg_a_free(&payloads);
	return rc;
}

int pg__op_store_envelopes_apply(struct pg_wtxn *w, struct store__op *op)
{
	struct store__send_op *so = op->u.store_envelopes;
	const struct store_send *send = &so->send;
	bool idempotent = !(send->flags & STORE_SEND_NO_IDEMPOTENCY);
	size_t n = send->n_recipients;

	so->result.duplicate = false;
	so->result.stored_at_ms = w->now_ms;
	so->result.n = n;
	so->result.seqs = so->seqs;
	int rc = send_precheck(w, so, idempotent);
	if (rc < 0)
		return rc;
	if (rc == 1)
		return 0; /* a resend: the original result, nothing stored */
	uint8_t(*sorted)[STORE_ID_BYTES] = malloc(n * sizeof *sorted);
	struct recip_state *st = calloc(n, sizeof *st);
	if (!sorted || !st) {
		free(sorted);
		free(st);
		return STORE_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		memcpy(sorted[i], send->recipients[i].device_id, STORE_ID_BYTES);
	qsort(sorted, n, STORE_ID_BYTES, cmp_id);
	rc = load_recipients(w, send, sorted, st);
	if (rc == 0)
		rc = check_recipients(w, send, sorted, st);
	free(sorted);
	free(st);
	if (rc == 0)
		rc = write_envelopes(w, so, idempotent);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = pg__wake_add(w, send->recipients[i].device_id);
	if (rc == 0)
		w->envelopes_stored += n;
	return rc;
}

/* ---- deleting -------------------------------------------------------------------------------- */

/* Deletes the listed envelopes that exist, after locking their devices, with the devices'
 * counters and the senders' shares; refs (may be NULL; room for n) gets the deleted ones, oldest
 * expiry first. */
static int delete_envelopes(struct pg_wtxn *w, uint8_t (*devs)[STORE_ID_BYTES],
			    const uint64_t *seqs, size_t n, struct store_envelope_ref *refs,
			    size_t *found, uint64_t *bytes)
{
	struct pg_array ad, as;
	struct pg_params p;
	int err = 0;
	*found = 0;
	*bytes = 0;
	if (n == 0)
		return 0;
	pg_a_init(&ad, PG_OID_BYTEA);
	pg_a_init(&as, PG_OID_INT8);
	for (size_t i = 0; i < n; i++) {
		pg_a_bytes(&ad, devs[i], STORE_ID_BYTES);
		pg_a_int8(&as, seqs[i]);
	}
	/* (the pairs are in the arrays: sorting devs for the locks changes nothing) */
	int rc = lock_devices(w, devs, n);
	pg_p_init(&p);
	if (rc == 0 && (rc = pg_p_array(&p, &ad, PG_OID_BYTEA_ARRAY)) == 0)
		rc = pg_p_array(&p, &as, PG_OID_INT8_ARRAY);
	PGresult *r = NULL;
	if (rc == 0) {
		r = pg_exec(w->conn,
			    "WITH del AS (DELETE FROM mailbox WHERE (device_id, seq) IN "
			    "(SELECT * FROM unnest($1::bytea[], $2::bigint[])) "
			    "RETURNING device_id, seq, kind, sender_account, sender_device, message_id, "
			    "expires_at_ms, length(payload)::bigint AS len), "
			    "dev AS (UPDATE devices d SET "
			    "mailbox_count = greatest(d.mailbox_count - x.n, 0), "
			    "mailbox_bytes = greatest(d.mailbox_bytes - x.b, 0) "
			    "FROM (SELECT device_id, count(*) AS n, sum(len) AS b FROM del "
			    "GROUP BY device_id) x WHERE d.id = x.device_id), "
			    "x AS (SELECT device_id, sender_account, count(*) AS n FROM del "
			    "GROUP BY device_id, sender_account), "
			    /* a share reaching zero is no row (as LMDB's counter): the two statements
			     * see the same snapshot and touch disjoint rows */
			    "snd AS (UPDATE mailbox_senders m SET count = m.count - x.n FROM x "
			    "WHERE m.device_id = x.device_id AND m.sender_account = x.sender_account "
			    "AND m.count > x.n), "
			    "gone AS (DELETE FROM mailbox_senders m USING x "
			    "WHERE m.device_id = x.device_id AND m.sender_account = x.sender_account "
			    "AND m.count <= x.n) "
			    "SELECT device_id, seq, kind, sender_account, sender_device, message_id, len "
			    "FROM del ORDER BY expires_at_ms, device_id, seq",
			    &p, &err);
		if (!r)
			rc = err;
	}
	if (r) {
		int rows = PQntuples(r);
		for (int i = 0; i < rows && rc == 0; i++) {
			*bytes += pg_r_int(r, i, 6);
			if (!refs)
				continue;
			struct store_envelope_ref *ref = &refs[i];
			memset(ref, 0, sizeof *ref);
			ref->seq = pg_r_int(r, i, 1);
			ref->kind = (uint8_t)pg_r_int(r, i, 2);
			if ((rc = pg_r_copy(r, i, 0, ref->device_id, STORE_ID_BYTES)) == 0 &&
			    (rc = pg_r_copy(r, i, 3, ref->sender_account, STORE_ID_BYTES)) == 0 &&
			    (rc = pg_r_copy(r, i, 4, ref->sender_device, STORE_ID_BYTES)) == 0)
				rc = pg_r_copy(r, i, 5, ref->message_id, STORE_ID_BYTES);
		}
		*found = (size_t)rows;
		PQclear(r);
	}
	pg_a_free(&ad);
	pg_a_free(&as);
	return rc;
}

int pg__op_delete_envelope_apply(struct pg_wtxn *w, struct store__op *op)
{
	struct store_delete_result *res = &op->u.delete_envelope.result;
	uint8_t dev[1][STORE_ID_BYTES];
	uint64_t seq = op->u.delete_envelope.seq, bytes;
	size_t found;
	memset(res, 0, sizeof *res);
	memcpy(dev[0], op->u.delete_envelope.device_id, STORE_ID_BYTES);
	int rc = delete_envelopes(w, dev, &seq, 1, &res->ref, &found, &bytes);
	if (rc)
		return rc;
	res->found = found == 1;
	if (!res->found)
		memset(&res->ref, 0, sizeof res->ref);
	w->envelopes_deleted += found;
	return 0;
}

int pg__mailbox_delete_some(struct pg_wtxn *w, const uint8_t device_id[STORE_ID_BYTES], size_t max,
			    size_t *n, uint64_t *bytes, bool *more)
{
	uint8_t lock[1][STORE_ID_BYTES];
	struct pg_params p;
	int err = 0;
	memcpy(lock[0], device_id, STORE_ID_BYTES);
	/* Under the device's lock its mailbox holds still while we pick the lowest seqs. */
	int rc = lock_devices(w, lock, 1);
	if (rc)
		return rc;
	pg_p_init(&p);
	pg_p_bytea(&p, device_id, STORE_ID_BYTES);
	pg_p_int8(&p, (uint64_t)max + 1);
	PGresult *r = pg_exec(w->conn,
			      "SELECT seq FROM mailbox WHERE device_id = $1 ORDER BY seq LIMIT $2", &p,
			      &err);
	if (!r)
		return err;
	size_t rows = (size_t)PQntuples(r), k = rows > max ? max : rows;
	uint8_t(*devs)[STORE_ID_BYTES] = malloc((k ? k : 1) * sizeof *devs);
	uint64_t *seqs = malloc((k ? k : 1) * sizeof *seqs);
	if (!devs || !seqs) {
		PQclear(r);
		free(devs);
		free(seqs);
		return STORE_ENOMEM;
	}
	for (size_t i = 0; i < k; i++) {
		memcpy(devs[i], device_id, STORE_ID_BYTES);
		seqs[i] = pg_r_int(r, (int)i, 0);
	}
	PQclear(r);
	rc = delete_envelopes(w, devs, seqs, k, NULL, n, bytes);
	free(devs);
	free(seqs);
	*more = rows > max;
	return rc;
}

int pg__op_delete_mailbox_apply(struct pg_wtxn *w, struct store__op *op)
{
	struct store_delete_mailbox_result *res = &op->u.delete_mailbox.result;
	memset(res, 0, sizeof *res);
	int rc = pg__mailbox_delete_some(w, op->u.delete_mailbox.device_id, STORE_DELETE_MAILBOX_MAX,
					 &res->n, &res->bytes, &res->more);
	if (rc == 0)
		w->envelopes_deleted += res->n;
	return rc;
}

/* A day: a writer that lost its connection looks its marker up within seconds. */
#define MARKER_KEEP_MS (24u * 3600u * 1000u)
#define MARKER_DELETE_MAX 10000

int pg__op_expire_apply(struct pg_wtxn *w, struct store__op *op)
{
	struct store_expire_result *res = &op->u.expire.result;
	struct store_envelope_ref *items = op->u.expire.items;
	size_t max = op->u.expire.max;
	struct pg_params p;
	int err = 0;

	res->n = 0;
	res->idempotency_deleted = 0;
	res->more = false;
	pg_p_init(&p);
	pg_p_int8(&p, op->u.expire.now_ms);
	pg_p_int8(&p, (uint64_t)max + 1);
	PGresult *r = pg_exec(w->conn,
			      "SELECT device_id, seq FROM mailbox WHERE expires_at_ms <= $1 "
			      "ORDER BY expires_at_ms, device_id, seq LIMIT $2",
			      &p, &err);
	if (!r)
		return err;
	size_t rows = (size_t)PQntuples(r), k = rows > max ? max : rows;
	res->more = rows > max;
	uint8_t(*devs)[STORE_ID_BYTES] = malloc((k ? k : 1) * sizeof *devs);
	uint64_t *seqs = malloc((k ? k : 1) * sizeof *seqs);
	int rc = devs && seqs ? 0 : STORE_ENOMEM;
	for (size_t i = 0; i < k && rc == 0; i++) {
		rc = pg_r_copy(r, (int)i, 0, devs[i], STORE_ID_BYTES);
		seqs[i] = pg_r_int(r, (int)i, 1);
	}
	PQclear(r);
	/* Another relay's expiry may have taken some meanwhile: what this one deleted is what it
	 * reports, so no envelope is reported expired twice. */
	uint64_t bytes;
	if (rc == 0)
		rc = delete_envelopes(w, devs, seqs, k, items, &res->n, &bytes);
	free(devs);
	free(seqs);
	if (rc)
		return rc;
	w->envelopes_expired += res->n;
	rc = idem_expire(w, op->u.expire.now_ms, max, &res->idempotency_deleted, &res->more);
	if (rc)
		return rc;
	/* Commit markers past a day, by the batch's clock (the op's now may be a test's future). */
	if (w->now_ms > MARKER_KEEP_MS) {
		pg_p_init(&p);
		pg_p_int8(&p, w->now_ms - MARKER_KEEP_MS);
		pg_p_int8(&p, MARKER_DELETE_MAX);
		rc = pg_cmd(w->conn,
			    "DELETE FROM commit_markers WHERE id IN (SELECT id FROM commit_markers "
			    "WHERE created_ms < $1 ORDER BY created_ms LIMIT $2 FOR UPDATE SKIP LOCKED)",
			    &p);
	}
	return rc;
}

/* ---- reading --------------------------------------------------------------------------------- */

int pg_mailbox_iter(struct store *s, const uint8_t device_id[STORE_ID_BYTES], uint64_t from_seq,
		    size_t max, store_mailbox_cb cb, void *data)
{
	int visited = 0;
	if (max > INT32_MAX)
		max = INT32_MAX;
	if (from_seq > INT64_MAX)
		return 0;
	while ((size_t)visited < max) {
		struct pg_params p;
		int err = 0;
		size_t page = max - (size_t)visited < ITER_PAGE ? max - (size_t)visited : ITER_PAGE;
		pg_p_init(&p);
		pg_p_bytea(&p, device_id, STORE_ID_BYTES);
		pg_p_int8(&p, from_seq);
		pg_p_int8(&p, page);
		PGresult *r = pg__read(s,
				       "SELECT seq, kind, sender_account, sender_device, message_id, "
				       "stored_at_ms, expires_at_ms, payload FROM mailbox "
				       "WHERE device_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
				       &p, &err);
		if (!r)
			return err;
		int rows = PQntuples(r), rc = 0;
		bool stop = false;
		for (int i = 0; i < rows && !stop; i++) {
			struct store_envelope e;
			memset(&e, 0, sizeof e);
			memcpy(e.ref.device_id, device_id, STORE_ID_BYTES);
			e.ref.seq = pg_r_int(r, i, 0);
			e.ref.kind = (uint8_t)pg_r_int(r, i, 1);
			if ((rc = pg_r_copy(r, i, 2, e.ref.sender_account, STORE_ID_BYTES)) != 0 ||
			    (rc = pg_r_copy(r, i, 3, e.ref.sender_device, STORE_ID_BYTES)) != 0 ||
			    (rc = pg_r_copy(r, i, 4, e.ref.message_id, STORE_ID_BYTES)) != 0)
				break;
			e.stored_at_ms = pg_r_int(r, i, 5);
			e.expires_at_ms = pg_r_int(r, i, 6);
			e.payload = pg_r_bytes(r, i, 7, &e.payload_len);
			visited++;
			from_seq = e.ref.seq + 1;
			stop = cb(&e, data) != 0 || (size_t)visited >= max;
		}
		PQclear(r);
		if (rc)
			return rc;
		if (stop || (size_t)rows < page)
			break;
	}
	return visited;
}

int pg_mailbox_total(struct store *s, uint64_t *count)
{
	int err = 0;
	PGresult *r = pg__read(s, "SELECT count(*) FROM mailbox", NULL, &err);
	if (!r)
		return err;
	*count = pg_r_int(r, 0, 0);
	PQclear(r);
	return 0;
}
