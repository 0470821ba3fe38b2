/* SPDX-License-Identifier: MPL-2.0 */
/* GDPR erasure of an account in PostgreSQL, in bounded steps with the LMDB engine's semantics and
 * result counters (storage/erase.c): first the bulk (its devices' mailboxes and the idempotency
 * entries of their sends, then the blobs it uploaded), at most STORE_ERASE_MAX rows per step;
 * then, in the step that finds no bulk left, its prekeys, push subscriptions, devices, consent
 * records, unit rows and the account row itself, last, so that a later step finds the rest.
 *
 * The step locks the account's row and its devices' rows first: a send to one of the devices, a
 * consent append for the account and another relay's erase step wait for it. The mailbox and
 * idempotency steps are the core area's (storage/pg/mailbox.c), as delete-mailbox uses them. */
#include <string.h>

#include "erase_bulk.h"
#include "pg_records.h"

/* The ids of the account's devices in id order, their rows locked; a malloc'd array. */
static int lock_devices(struct pg_wtxn *w, const uint8_t account[STORE_ID_BYTES],
			uint8_t (**out)[STORE_ID_BYTES], size_t *n_out)
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, account, STORE_ID_BYTES);
	PGresult *r = pg_exec(w->conn,
			      "SELECT id FROM devices WHERE account_id = $1 ORDER BY id FOR UPDATE", &p,
			      &err);
	if (!r)
		return err;
	size_t n = (size_t)PQntuples(r);
	uint8_t (*ids)[STORE_ID_BYTES] = malloc((n ? n : 1) * STORE_ID_BYTES);
	if (!ids)
		err = STORE_ENOMEM;
	for (size_t i = 0; i < n && !err; i++)
		err = pg_r_copy(r, (int)i, 0, ids[i], STORE_ID_BYTES);
	PQclear(r);
	if (err) {
		free(ids);
		return err;
	}
	*out = ids;
	*n_out = n;
	return 0;
}

/* A DELETE's row count into *n (may be NULL). */
static int delete_count(struct pg_wtxn *w, const char *sql, const uint8_t id[STORE_ID_BYTES],
			size_t *n)
{
	struct pg_params p;
	int err = 0;
	pg_p_init(&p);
	pg_p_bytea(&p, id, STORE_ID_BYTES);
	PGresult *r = pg_exec(w->conn, sql, &p, &err);
	if (!r)
		return err;
	if (n)
		*n = pg__cmd_rows(r);
	PQclear(r);
	return 0;
}

/* Removes everything of one device but its mailbox and idempotency entries (already gone). */
static int erase_device(struct pg_wtxn *w, const uint8_t device[STORE_ID_BYTES],
			struct store_erase_result *res)
{
	size_t n = 0;
	int err = delete_count(w, "DELETE FROM signed_prekeys WHERE device_id = $1", device, &n);
	if (err)
		return err;
	res->signed_prekeys += n;
	if ((err = delete_count(w, "DELETE FROM one_time_prekeys WHERE device_id = $1", device, &n)))
		return err;
	res->one_time_prekeys += n;
	if ((err = delete_count(w, "DELETE FROM push_subs WHERE device_id = $1", device, NULL)) ||
	    (err = delete_count(w, "DELETE FROM devices WHERE id = $1", device, &n)))
		return err;
	res->devices += n;
	return 0;
}

static int pg_mailbox_delete_some(void *w, const uint8_t device[STORE_ID_BYTES], size_t max,
				  size_t *n, uint64_t *bytes, bool *more)
{
	return pg__mailbox_delete_some(w, device, max, n, bytes, more);
}

static int pg_idem_delete_sender(void *w, const uint8_t device[STORE_ID_BYTES], size_t max,
				 size_t *n, bool *more)
{
	return pg__idem_delete_sender(w, device, max, n, more);
}

static int pg_blob_erase_owner(void *w, const uint8_t account[STORE_ID_BYTES], size_t max,
			       size_t *n, bool *more)
{
	return pg__blob_erase_owner(w, account, max, n, more);
}

static const struct store__erase_steps pg_steps = {
	pg_mailbox_delete_some, pg_idem_delete_sender, pg_blob_erase_owner
};

int pg__op_erase_account_apply(struct pg_wtxn *w, struct store__op *op)
{
	const uint8_t *account = op->u.erase_account.account_id;
	struct store_erase_result *res = &op->u.erase_account.result;
	uint8_t (*devices)[STORE_ID_BYTES] = NULL;
	size_t n_devices = 0;
	struct pg_params p;
	int err = 0;

	memset(res, 0, sizeof *res);
	pg_p_init(&p);
	pg_p_bytea(&p, account, STORE_ID_BYTES);
	PGresult *r = pg_exec(w->conn, "SELECT kind FROM accounts WHERE id = $1 FOR UPDATE", &p, &err);
	if (!r)
		return err;
	int found = PQntuples(r);
	PQclear(r);
	if (found != 1)
		return 0; /* absent, or erased by an earlier step */
	res->found = true;
	err = lock_devices(w, account, &devices, &n_devices);
	if (err)
		return err;

	/* The bulk, bounded. */
	err = store__erase_bulk(&pg_steps, w, account, (const uint8_t(*)[STORE_ID_BYTES])devices,
				n_devices, res, &w->envelopes_deleted);
	if (err)
		goto done;
	if (res->more)
		goto done; /* the rest in a later step */

	/* The last step: everything else, the account row last. */
	for (size_t i = 0; i < n_devices; i++) {
		err = erase_device(w, devices[i], res);
		if (err)
			goto done;
	}
	err = pg__consent_erase(w, account, &res->consents, &res->consent_latest);
	if (err)
		goto done;
	/* The unit rows, and the tenant index entry that is the account row's own index entry in
	 * this engine: counted as LMDB counts its index entries. */
	size_t units = 0;
	err = delete_count(w, "DELETE FROM account_units WHERE account_id = $1", account, &units);
	if (err)
		goto done;
	size_t gone = 0;
	err = delete_count(w, "DELETE FROM accounts WHERE id = $1", account, &gone);
	if (err)
		goto done;
	res->index_entries = units + gone;
	res->account_deleted = gone == 1;
done:
	free(devices);
	return err;
}
