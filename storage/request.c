/* SPDX-License-Identifier: MPL-2.0 */
/* Write requests: building the operation list, submitting, dispatching operations to their apply
 * functions on the writer thread, and the result views the completion callback reads. */
#include <stdlib.h>
#include <string.h>

#include "records_internal.h"
#include "store_internal.h"
#include "wakks_protocol.h"

typedef int (*store__apply_fn)(struct store__wtxn *w, struct store__op *op);

static const store__apply_fn apply_table[STORE__OP_COUNT] = {
#define STORE__OP_TABLE(name) [STORE__OP_##name] = store__op_##name##_apply,
	STORE__OPS(STORE__OP_TABLE)
#undef STORE__OP_TABLE
};

struct store_req *store_req_new(struct store *store, store_done_cb cb, void *data)
{
	if (!store || !cb)
		return NULL;
	struct store_req *req = calloc(1, sizeof *req);
	if (!req)
		return NULL;
	req->store = store;
	req->cb = cb;
	req->data = data;
	return req;
}

/* Frees what an operation owns. */
static void op_release(struct store__op *op)
{
	switch (op->kind) {
	case STORE__OP_put_account:
		free(op->u.put_account);
		break;
	case STORE__OP_add_one_time_prekeys:
		free(op->u.add_one_time_prekeys.keys);
		break;
	case STORE__OP_take_one_time_prekeys:
		free(op->u.take_one_time_prekeys.keys);
		break;
	case STORE__OP_store_envelopes:
		if (op->u.store_envelopes) {
			free(op->u.store_envelopes->recips);
			free(op->u.store_envelopes->payloads);
			free(op->u.store_envelopes->seqs);
			free(op->u.store_envelopes);
		}
		break;
	case STORE__OP_expire:
		free(op->u.expire.items);
		free(op->u.expire.due);
		break;
	case STORE__OP_audit_append:
		free(op->u.audit_append.input);
		free(op->u.audit_append.out);
		break;
	case STORE__OP_put_consent:
		free(op->u.put_consent.record);
		break;
	case STORE__OP_put_push_sub:
		free(op->u.push_sub.sub);
		break;
	case STORE__OP_blob_ref:
	case STORE__OP_blob_release:
	case STORE__OP_blob_delete:
	case STORE__OP_blob_expire:
		free(op->u.blob_many.ids);
		free(op->u.blob_many.devices);
		free(op->u.blob_many.removed);
		break;
#ifdef WAKKS_TEST_HOOKS
	case STORE__OP_test_audit_raw:
		free(op->u.test_audit_raw.bytes);
		break;
#endif
	default:
		break;
	}
}

void store__req_destroy(struct store_req *req)
{
	if (!req)
		return;
	for (size_t i = 0; i < req->n_ops; i++)
		op_release(&req->ops[i]);
	free(req->ops);
	free(req);
}

void store_req_free(struct store_req *req)
{
	store__req_destroy(req);
}

struct store__op *store__req_add(struct store_req *req, enum store__op_kind kind, int *index,
				 int *err)
{
	if (req->n_ops >= STORE_REQ_MAX_OPS) {
		*err = STORE_ELIMIT;
		return NULL;
	}
	if (req->n_ops == req->cap_ops) {
		size_t cap = req->cap_ops ? req->cap_ops * 2 : 2;
		struct store__op *ops = realloc(req->ops, cap * sizeof *ops);
		if (!ops) {
			*err = STORE_ENOMEM;
			return NULL;
		}
		req->ops = ops;
		req->cap_ops = cap;
	}
	struct store__op *op = &req->ops[req->n_ops];
	memset(op, 0, sizeof *op);
	op->kind = kind;
	*index = (int)req->n_ops++;
	return op;
}

/* Drops the last operation again (its builder failed after store__req_add). */
static void req_pop(struct store_req *req)
{
	op_release(&req->ops[--req->n_ops]);
}

int store_submit(struct store_req *req)
{
	int rc;
	if (!req)
		return STORE_EINVAL;
	if (req->n_ops == 0)
		rc = STORE_EINVAL;
	else if (req->store->closing)
		rc = STORE_ECLOSED;
	else
		rc = store__queue_push(req->store, req);
	if (rc)
		store__req_destroy(req);
	return rc;
}

int store__req_apply(struct store__wtxn *w)
{
	struct store_req *req = w->req;
	for (size_t i = 0; i < req->n_ops; i++) {
		int rc = apply_table[req->ops[i].kind](w, &req->ops[i]);
		if (rc)
			return rc;
	}
	return 0;
}

void store__req_fail_device(struct store__wtxn *w, const uint8_t device_id[STORE_ID_BYTES])
{
	w->req->has_failed_device = true;
	memcpy(w->req->failed_device, device_id, STORE_ID_BYTES);
}

const uint8_t *store_req_failed_device(const struct store_req *req)
{
	return req && req->result != 0 && req->has_failed_device ? req->failed_device : NULL;
}

/* The operation at index op if it is of the given kind and the request succeeded. */
static struct store__op *result_op(const struct store_req *req, int op, enum store__op_kind kind)
{
	if (!req || req->result != 0 || op < 0 || (size_t)op >= req->n_ops ||
	    req->ops[op].kind != kind)
		return NULL;
	return &req->ops[op];
}

/* ---- builders -------------------------------------------------------------------------------- */

/* What is written now must be addressable on the wire: tenant and unit ids are slugs
 * (proto_slug_valid). The record format keeps its room for 64-byte names, so records written
 * before still decode. */
static bool slug_ok(const char *s, bool may_be_empty)
{
	size_t n = strnlen(s, PROTO_MAX_SLUG_BYTES + 1);
	return (may_be_empty && n == 0) || proto_slug_valid(s, n);
}

/* A citizen belongs to no tenant: the relay stores a placeholder there, not a tenant id. */
static bool account_ids_ok(const struct store_account *a)
{
	if (a->kind != STORE_ACCOUNT_CITIZEN && !slug_ok(a->tenant, false))
		return false;
	for (unsigned i = 0; i < a->n_units; i++)
		if (!slug_ok(a->units[i], false))
			return false;
	return true;
}

int store_req_put_account(struct store_req *req, const struct store_account *account)
{
	int idx, err;
	if (!req || !account)
		return STORE_EINVAL;
	if (!store__account_valid(account) || !account_ids_ok(account))
		return STORE_EINVAL;
	struct store_account *copy = malloc(sizeof *copy);
	if (!copy)
		return STORE_ENOMEM;
	*copy = *account;
	struct store__op *op = store__req_add(req, STORE__OP_put_account, &idx, &err);
	if (!op) {
		free(copy);
		return err;
	}
	op->u.put_account = copy;
	return idx;
}

int store_req_put_device(struct store_req *req, const struct store_device *device)
{
	int idx, err;
	if (!req || !device || !store__device_label_valid(device))
		return STORE_EINVAL;
	struct store__op *op = store__req_add(req, STORE__OP_put_device, &idx, &err);
	if (!op)
		return err;
	op->u.put_device = *device;
	/* The terminator the struct promises, whatever the caller left after the label. */
	op->u.put_device.label[device->label_len] = '\0';
	return idx;
}

int store_req_revoke_device(struct store_req *req, const uint8_t device_id[STORE_ID_BYTES],
			    uint64_t at_ms)
{
	int idx, err;
	if (!req || !device_id)
		return STORE_EINVAL;
	struct store__op *op = store__req_add(req, STORE__OP_revoke_device, &idx, &err);
	if (!op)
		return err;
	memcpy(op->u.revoke_device.device_id, device_id, STORE_ID_BYTES);
	op->u.revoke_device.at_ms = at_ms;
	return idx;
}

int store_req_put_signed_prekey(struct store_req *req, const uint8_t device_id[STORE_ID_BYTES],
				const struct store_signed_prekey *spk)
{
	int idx, err;
	if (!req || !device_id || !spk)
		return STORE_EINVAL;
	struct store__op *op = store__req_add(req, STORE__OP_put_signed_prekey, &idx, &err);
	if (!op)
		return err;
	memcpy(op->u.put_signed_prekey.device_id, device_id, STORE_ID_BYTES);
	op->u.put_signed_prekey.spk = *spk;
	return idx;
}

int store_req_add_one_time_prekeys(struct store_req *req, const uint8_t device_id[STORE_ID_BYTES],
				   const struct store_prekey *keys, size_t n)
{
	int idx, err;
	if (!req || !device_id || !keys || n == 0)
		return STORE_EINVAL;
	if (n > STORE_OTPK_BATCH_MAX)
		return STORE_ELIMIT;
	struct store_prekey *copy = malloc(n * sizeof *copy);
	if (!copy)
		return STORE_ENOMEM;
	memcpy(copy, keys, n * sizeof *copy);
	struct store__op *op = store__req_add(req, STORE__OP_add_one_time_prekeys, &idx, &err);
	if (!op) {
		free(copy);
		return err;
	}
	memcpy(op->u.add_one_time_prekeys.device_id, device_id, STORE_ID_BYTES);
	op->u.add_one_time_prekeys.n = n;
	op->u.add_one_time_prekeys.keys = copy;
	return idx;
}

int store_req_take_one_time_prekeys(struct store_req *req,
				    const uint8_t (*device_ids)[STORE_ID_BYTES], size_t n)
{
	int idx, err;
	if (!req || !device_ids || n == 0)
		return STORE_EINVAL;
	if (n > STORE_TAKE_MAX_DEVICES)
		return STORE_ELIMIT;
	struct store_taken_prekey *keys = calloc(n, sizeof *keys);
	if (!keys)
		return STORE_ENOMEM;
	for (size_t i = 0; i < n; i++)
		memcpy(keys[i].device_id, device_ids[i], STORE_ID_BYTES);
	struct store__op *op = store__req_add(req, STORE__OP_take_one_time_prekeys, &idx, &err);
	if (!op) {
		free(keys);
		return err;
	}
	op->u.take_one_time_prekeys.keys = keys;
	op->u.take_one_time_prekeys.result.n = n;
	op->u.take_one_time_prekeys.result.keys = keys;
	return idx;
}

const struct store_take_result *store_req_take_result(const struct store_req *req, int op)
{
	struct store__op *o = result_op(req, op, STORE__OP_take_one_time_prekeys);
	return o ? &o->u.take_one_time_prekeys.result : NULL;
}

int store_req_store_envelopes(struct store_req *req, const struct store_send *send)
{
	int idx, err = STORE_ENOMEM;
	size_t total = 0;
	if (!req || !send || !send->recipients || send->n_recipients == 0)
		return STORE_EINVAL;
	if (send->kind < STORE_KIND_ENVELOPE || send->kind > STORE_KIND_NOTICE ||
	    (send->flags & ~STORE_SEND_NO_IDEMPOTENCY) != 0)
		return STORE_EINVAL;
	if (send->n_recipients > STORE_SEND_MAX_RECIPIENTS)
		return STORE_ELIMIT;
	for (size_t i = 0; i < send->n_recipients; i++) {
		const struct store_recipient *r = &send->recipients[i];
		if (r->payload_len > STORE_PAYLOAD_MAX)
			return STORE_ELIMIT;
		if (r->payload_len && !r->payload)
			return STORE_EINVAL;
		/* distinct devices: a device gets one copy per send */
		for (size_t j = 0; j < i; j++)
			if (memcmp(send->recipients[j].device_id, r->device_id, STORE_ID_BYTES) == 0)
				return STORE_EINVAL;
		total += r->payload_len;
	}
	struct store__op *op = store__req_add(req, STORE__OP_store_envelopes, &idx, &err);
	if (!op)
		return err;
	struct store__send_op *so = calloc(1, sizeof *so);
	op->u.store_envelopes = so;
	if (!so)
		goto nomem;
	so->recips = malloc(send->n_recipients * sizeof *so->recips);
	so->payloads = malloc(total ? total : 1);
	so->seqs = calloc(send->n_recipients, sizeof *so->seqs);
	if (!so->recips || !so->payloads || !so->seqs)
		goto nomem;
	so->send = *send;
	so->send.recipients = so->recips;
	size_t off = 0;
	for (size_t i = 0; i < send->n_recipients; i++) {
		so->recips[i] = send->recipients[i];
		if (send->recipients[i].payload_len)
			memcpy(so->payloads + off, send->recipients[i].payload,
			       send->recipients[i].payload_len);
		so->recips[i].payload = so->payloads + off;
		off += send->recipients[i].payload_len;
	}
	so->seqs_cap = send->n_recipients;
	so->result.n = send->n_recipients;
	so->result.seqs = so->seqs;
	return idx;
nomem:
	req_pop(req);
	return STORE_ENOMEM;
}

const struct store_send_result *store_req_send_result(const struct store_req *req, int op)
{
	struct store__op *o = result_op(req, op, STORE__OP_store_envelopes);
	return o ? &o->u.store_envelopes->result : NULL;
}

int store_req_delete_envelope(struct store_req *req, const uint8_t device_id[STORE_ID_BYTES],
			      uint64_t seq)
{
	int idx, err;
	if (!req || !device_id)
		return STORE_EINVAL;
	struct store__op *op = store__req_add(req, STORE__OP_delete_envelope, &idx, &err);
	if (!op)
		return err;
	memcpy(op->u.delete_envelope.device_id, device_id, STORE_ID_BYTES);
	op->u.delete_envelope.seq = seq;
	return idx;
}

const struct store_delete_result *store_req_delete_result(const struct store_req *req, int op)
{
	struct store__op *o = result_op(req, op, STORE__OP_delete_envelope);
	return o ? &o->u.delete_envelope.result : NULL;
}

int store_req_expire(struct store_req *req, uint64_t now_ms, size_t max)
{
	int idx, err;
	if (!req || max == 0)
		return STORE_EINVAL;
	if (max > STORE_EXPIRE_MAX)
		return STORE_ELIMIT;
	struct store_envelope_ref *items = calloc(max, sizeof *items);
	uint64_t *due = calloc(max, sizeof *due);
	struct store__op *op = NULL;
	err = STORE_ENOMEM;
	if (items && due)
		op = store__req_add(req, STORE__OP_expire, &idx, &err);
	if (!op) {
		free(items);
		free(due);
		return err;
	}
	op->u.expire.due = due;
	op->u.expire.now_ms = now_ms;
	op->u.expire.max = max;
	op->u.expire.items = items;
	op->u.expire.result.items = items;
	return idx;
}

const struct store_expire_result *store_req_expire_result(const struct store_req *req, int op)
{
	struct store__op *o = result_op(req, op, STORE__OP_expire);
	return o ? &o->u.expire.result : NULL;
}

int store_req_delete_mailbox(struct store_req *req, const uint8_t device_id[STORE_ID_BYTES])
{
	int idx, err;
	if (!req || !device_id)
		return STORE_EINVAL;
	struct store__op *op = store__req_add(req, STORE__OP_delete_mailbox, &idx, &err);
	if (!op)
		return err;
	memcpy(op->u.delete_mailbox.device_id, device_id, STORE_ID_BYTES);
	return idx;
}

const struct store_delete_mailbox_result *
store_req_delete_mailbox_result(const struct store_req *req, int op)
{
	struct store__op *o = result_op(req, op, STORE__OP_delete_mailbox);
	return o ? &o->u.delete_mailbox.result : NULL;
}

int store_req_audit_append(struct store_req *req, store_audit_build_cb cb, const void *input,
			   size_t input_len)
{
	int idx, err = STORE_ENOMEM;
	uint8_t *copy = NULL, *out;
	if (!req || !cb || (input_len && !input))
		return STORE_EINVAL;
	if (input_len > STORE_AUDIT_INPUT_MAX)
		return STORE_ELIMIT;
	if (input_len && !(copy = malloc(input_len)))
		return STORE_ENOMEM;
	if (input_len)
		memcpy(copy, input, input_len);
	out = malloc(STORE_AUDIT_ENTRY_MAX);
	struct store__op *op = out ? store__req_add(req, STORE__OP_audit_append, &idx, &err) : NULL;
	if (!op) {
		free(copy);
		free(out);
		return err;
	}
	op->u.audit_append.cb = cb;
	op->u.audit_append.input = copy;
	op->u.audit_append.input_len = input_len;
	op->u.audit_append.out = out;
	return idx;
}

const struct store_audit_append_result *store_req_audit_result(const struct store_req *req, int op)
{
	struct store__op *o = result_op(req, op, STORE__OP_audit_append);
	return o ? &o->u.audit_append.result : NULL;
}

int store_req_put_consent(struct store_req *req, const struct store_consent *consent)
{
	int idx, err;
	if (!req || !consent)
		return STORE_EINVAL;
	if (consent->record_len > STORE_CONSENT_RECORD_MAX)
		return STORE_ELIMIT;
	if (!store__consent_valid(consent) || !slug_ok(consent->tenant, false) ||
	    !slug_ok(consent->unit, true))
		return STORE_EINVAL;
	uint8_t *copy = malloc(consent->record_len);
	if (!copy)
		return STORE_ENOMEM;
	memcpy(copy, consent->record, consent->record_len);
	struct store__op *op = store__req_add(req, STORE__OP_put_consent, &idx, &err);
	if (!op) {
		free(copy);
		return err;
	}
	op->u.put_consent.c = *consent;
	op->u.put_consent.c.seq = 0;
	op->u.put_consent.c.record = copy;
	op->u.put_consent.record = copy;
	return idx;
}

const struct store_put_consent_result *store_req_put_consent_result(const struct store_req *req,
								   int op)
{
	struct store__op *o = result_op(req, op, STORE__OP_put_consent);
	return o ? &o->u.put_consent.result : NULL;
}

int store_req_erase_account(struct store_req *req, const uint8_t account_id[STORE_ID_BYTES])
{
	int idx, err;
	if (!req || !account_id)
		return STORE_EINVAL;
	struct store__op *op = store__req_add(req, STORE__OP_erase_account, &idx, &err);
	if (!op)
		return err;
	memcpy(op->u.erase_account.account_id, account_id, STORE_ID_BYTES);
	return idx;
}

const struct store_erase_result *store_req_erase_result(const struct store_req *req, int op)
{
	struct store__op *o = result_op(req, op, STORE__OP_erase_account);
	return o ? &o->u.erase_account.result : NULL;
}

#ifdef WAKKS_TEST_HOOKS
int store_test_req_audit_raw(struct store_req *req, uint64_t seq, const uint8_t *bytes, size_t len)
{
	int idx, err;
	uint8_t *copy = NULL;
	if (!req || (len && !bytes))
		return STORE_EINVAL;
	if (len > STORE_AUDIT_ENTRY_MAX)
		return STORE_ELIMIT;
	if (len && !(copy = malloc(len)))
		return STORE_ENOMEM;
	if (len)
		memcpy(copy, bytes, len);
	struct store__op *op = store__req_add(req, STORE__OP_test_audit_raw, &idx, &err);
	if (!op) {
		free(copy);
		return err;
	}
	op->u.test_audit_raw.seq = seq;
	op->u.test_audit_raw.bytes = copy;
	op->u.test_audit_raw.len = len;
	return idx;
}
#endif

bool store__req_guard_allows(const struct store_req *req, int guard)
{
	if (guard < 0 || (size_t)guard >= req->n_ops)
		return true;
	const struct store__op *g = &req->ops[guard];
	if (g->kind == STORE__OP_store_envelopes)
		return !g->u.store_envelopes->result.duplicate;
	if (g->kind == STORE__OP_delete_envelope)
		return g->u.delete_envelope.result.found;
	return true;
}
