/* SPDX-License-Identifier: MPL-2.0 */
/* The batch's row locks taken up front (spec/storage-postgresql.md §2.5): after the commit marker
 * and the audit head, every account, device and blob row that the batch's operations will lock,
 * one ordered statement per table, accounts before devices before blobs.
 *
 * Each operation locks its own rows in id order, but a batch runs its requests one after the
 * other: two relays whose batches hold sends with overlapping recipients in opposite orders would
 * each lock a device the other waits for, a deadlock the server breaks only after its
 * deadlock_timeout (a second), and the batch runs again. Locked here first, in one global order,
 * the operations' own lock statements find their rows held already.
 *
 * Operations whose rows are known only from a query (expiry, erasing an account, blob expiry) run
 * in a batch of their own (pg__req_alone): alone, their ordered statements are the whole order. */
#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"

struct id_set {
	uint8_t (*ids)[STORE_ID_BYTES];
	size_t n, cap;
	int err;
};

static void add(struct id_set *s, const uint8_t id[STORE_ID_BYTES])
{
	if (s->err)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		void *ids = realloc(s->ids, cap * sizeof *s->ids);
		if (!ids) {
			s->err = STORE_ENOMEM;
			return;
		}
		s->ids = ids;
		s->cap = cap;
	}
	memcpy(s->ids[s->n++], id, STORE_ID_BYTES);
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, STORE_ID_BYTES);
}

bool pg__req_alone(const struct store_req *req)
{
	for (size_t i = 0; i < req->n_ops; i++)
		switch (req->ops[i].kind) {
		case STORE__OP_expire:
		case STORE__OP_erase_account:
		case STORE__OP_blob_expire:
			return true;
		default:
			break;
		}
	return false;
}

/* The rows one operation locks (beyond the audit head, which pg__audit_prelock takes). Kept in
 * step with the operations' SQL: an operation that comes to lock another row adds it here. */
static void collect(const struct store__op *op, struct id_set *acc, struct id_set *dev,
		    struct id_set *blob)
{
	switch (op->kind) {
	case STORE__OP_put_account: /* the upsert locks an existing row */
		add(acc, op->u.put_account->id);
		break;
	case STORE__OP_put_device: /* the account (share), then the device's upsert */
		add(acc, op->u.put_device.account_id);
		add(dev, op->u.put_device.id);
		break;
	case STORE__OP_revoke_device:
		add(dev, op->u.revoke_device.device_id);
		break;
	case STORE__OP_put_signed_prekey:
		add(dev, op->u.put_signed_prekey.device_id);
		break;
	case STORE__OP_add_one_time_prekeys:
		add(dev, op->u.add_one_time_prekeys.device_id);
		break;
	case STORE__OP_store_envelopes: {
		const struct store_send *send = &op->u.store_envelopes->send;
		for (size_t i = 0; i < send->n_recipients; i++)
			add(dev, send->recipients[i].device_id);
		break;
	}
	case STORE__OP_delete_envelope:
		add(dev, op->u.delete_envelope.device_id);
		break;
	case STORE__OP_delete_mailbox:
		add(dev, op->u.delete_mailbox.device_id);
		break;
	case STORE__OP_put_consent:
		add(acc, op->u.put_consent.c.account_id);
		break;
	case STORE__OP_put_push_sub:
	case STORE__OP_delete_push_sub:
		add(dev, op->u.push_sub.device_id);
		break;
	case STORE__OP_blob_declare:
	case STORE__OP_blob_progress:
	case STORE__OP_blob_complete:
		add(blob, op->u.blob_one.blob.id);
		break;
	case STORE__OP_blob_ref:
	case STORE__OP_blob_release:
	case STORE__OP_blob_delete:
		for (size_t i = 0; i < op->u.blob_many.n; i++)
			add(blob, op->u.blob_many.ids[i]);
		break;
	default: /* take_one_time_prekeys skips locked keys and locks no device; audit_append:
		  * the head; expire, erase_account, blob_expire: alone */
		break;
	}
}

/* Locks the set's existing rows of table in id order, one statement; nothing for an empty set. */
static int lock_rows(PGconn *c, const char *sql, struct id_set *s)
{
	if (s->err)
		return s->err;
	if (s->n == 0)
		return 0;
	qsort(s->ids, s->n, STORE_ID_BYTES, cmp_id);
	struct pg_array a;
	struct pg_params p;
	pg_a_init(&a, PG_OID_BYTEA);
	for (size_t i = 0; i < s->n; i++)
		if (i == 0 || memcmp(s->ids[i], s->ids[i - 1], STORE_ID_BYTES) != 0)
			pg_a_bytes(&a, s->ids[i], STORE_ID_BYTES);
	pg_p_init(&p);
	int rc = pg_p_array(&p, &a, PG_OID_BYTEA_ARRAY);
	if (rc == 0)
		rc = pg_cmd(c, sql, &p);
	pg_a_free(&a);
	return rc;
}

int pg__batch_prelock(PGconn *c, struct store_req *const *reqs, size_t n)
{
	struct id_set acc = {0}, dev = {0}, blob = {0};
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < reqs[i]->n_ops; j++)
			collect(&reqs[i]->ops[j], &acc, &dev, &blob);
	/* FOR UPDATE, the strongest mode any operation takes on these rows: a weaker lock taken
	 * here and strengthened later would let two batches holding it both wait to strengthen. */
	int rc = lock_rows(c, "SELECT 1 FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE",
			   &acc);
	if (rc == 0)
		rc = lock_rows(c, "SELECT 1 FROM devices WHERE id = ANY($1) ORDER BY id FOR UPDATE",
			       &dev);
	if (rc == 0)
		rc = lock_rows(c, "SELECT 1 FROM blobs WHERE id = ANY($1) ORDER BY id FOR UPDATE",
			       &blob);
	free(acc.ids);
	free(dev.ids);
	free(blob.ids);
	return rc;
}
