/* SPDX-License-Identifier: MPL-2.0 */
/* Attachment blobs over the authenticated WebSocket (spec/protocol.md §10, spec/relay.md §9):
 * blob_put declares a blob (or resumes it), blob_chunk appends at the stored offset, blob_status
 * tells how much is stored, blob_get reads a complete blob for a device allowed to. The bytes go
 * to files through blob_store (threadpool), the record to storage (writer thread); the sender
 * hears about a chunk only once it is fsynced and its new `have` is committed. */
#include "handlers/blobs.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "handlers/call.h"
#include "handlers/handlers.h"
#include "net/conn.h"
#include "net/outgoing.h"
#include "relay_state.h"
#include "services/metrics.h"
#include "services/blob_files.h"
#include "services/storage_space.h"
#include "wakks_storage.h"

/* Blob bytes held in memory by reads and writes in flight, over all connections: bounds what a
 * burst of blob_get/blob_chunk requests (each up to 256 KiB) can make the relay buffer. */
#define BLOB_INFLIGHT_MAX_BYTES (64u << 20)
/* What a client waits before retrying when the bound above or a blob's busy writer refuses it. */
#define BLOB_RETRY_MS 50

struct blob_busy {
	struct blob_busy *next;
	uint8_t id[STORE_ID_BYTES];
};

/* An upload or download in flight through the blob files and storage (several steps, each
 * answering the same request). */
struct blob_ctx {
	struct relay_origin from;
	struct store_blob blob; /* the record as the request found it */
	uint64_t offset;
	size_t len;
};

/* ---- one write in flight per blob -------------------------------------------------------------- */

static bool busy_has(struct relay *r, const uint8_t id[STORE_ID_BYTES])
{
	for (struct blob_busy *b = r->blob_busy; b; b = b->next)
		if (memcmp(b->id, id, STORE_ID_BYTES) == 0)
			return true;
	return false;
}

static int busy_add(struct relay *r, const uint8_t id[STORE_ID_BYTES])
{
	struct blob_busy *b = malloc(sizeof *b);
	if (!b)
		return -1;
	memcpy(b->id, id, STORE_ID_BYTES);
	b->next = r->blob_busy;
	r->blob_busy = b;
	return 0;
}

static void busy_del(struct relay *r, const uint8_t id[STORE_ID_BYTES])
{
	for (struct blob_busy **p = &r->blob_busy; *p; p = &(*p)->next) {
		if (memcmp((*p)->id, id, STORE_ID_BYTES) == 0) {
			struct blob_busy *b = *p;
			*p = b->next;
			free(b);
			return;
		}
	}
}

void relay_blob_busy_free(struct relay *r)
{
	while (r->blob_busy)
		busy_del(r, r->blob_busy->id);
}

/* ---- replies ------------------------------------------------------------------------------------ */

static void reply_state(struct relay_conn *c, uint32_t request_id, const struct store_blob *b)
{
	proto_frame *out = relay_tx_frame(c->relay, PROTO_T_BLOB_STATE, request_id);
	out->body.blob_state.id = b->id;
	out->body.blob_state.size = b->size;
	out->body.blob_state.have = b->have;
	out->body.blob_state.done = b->state == STORE_BLOB_COMPLETE;
	relay_send_frame(c, out);
}

/* One answer for "absent" and "not yours": the relay does not reveal which blobs exist. */
static void reply_not_found(struct relay_conn *c, uint32_t request_id)
{
	relay_send_error(c, request_id, PROTO_E_NOT_FOUND, "no such blob for this device", NULL);
}

static void reply_retry(struct relay_conn *c, uint32_t request_id, const char *text)
{
	proto_error_details d = { 0 };
	d.retry_ms = BLOB_RETRY_MS;
	relay_send_error(c, request_id, PROTO_E_UNAVAILABLE, text, &d);
}

/* A blob file write failed (result: a libuv code, or 0 when the record could not be submitted).
 * A full disk is counted and reported by services/storage_space.c (one line a minute, not one per
 * chunk) and said as such to the client, with the retry time of a full storage; anything else is
 * logged here and is a passing failure. c may be NULL (the connection is gone). */
static void reply_write_failed(struct relay *r, struct relay_conn *c, uint32_t request_id,
			       int result, const char *event, const char *text)
{
	proto_error_details d = { 0 };
	if (result != 0 && relay_storage_full(r, 0, result)) {
		d.retry_ms = RELAY_RETRY_FULL_MS;
		if (c)
			relay_send_error(c, request_id, PROTO_E_UNAVAILABLE,
					 "the relay's storage is full; nothing was stored", &d);
		return;
	}
	if (result != 0)
		RLOG_ERROR("blob", event, "error=\"%s\"", uv_strerror(result));
	if (c)
		relay_send_error(c, request_id, PROTO_E_UNAVAILABLE, text, NULL);
}

static struct blob_ctx *ctx_new(struct relay_conn *c, uint32_t request_id, const struct store_blob *b)
{
	struct blob_ctx *x = calloc(1, sizeof *x);
	if (!x)
		return NULL;
	x->from = relay_origin_of(c, request_id);
	if (b)
		x->blob = *b;
	return x;
}

static uint64_t orphan_deadline(struct relay *r)
{
	return relay_now_ms() + (uint64_t)r->cfg.blob_orphan_seconds * 1000u;
}

/* ---- finishing an upload: check the digest, rename, mark complete ------------------------------ */

static void completed(struct store_req *req, int result, void *data)
{
	struct blob_ctx *x = data;
	struct relay *r = x->from.relay;
	struct relay_conn *c = relay_origin_conn(&x->from);
	busy_del(r, x->blob.id);
	if (result != 0) {
		RLOG_ERROR("blob", "complete_failed", "error=\"%s\"", store_strerror(result));
		if (c)
			relay_call_reply_error(c, x->from.request_id, result, NULL, NULL);
	} else {
		const struct store_blob *b = store_req_blob_result(req, 0, NULL);
		RLOG_INFO("blob", "stored", "size=%llu", (unsigned long long)b->size);
		if (c)
			reply_state(c, x->from.request_id, b);
	}
	free(x);
}

static void refused_deleted(struct store_req *req, int result, void *data)
{
	struct blob_ctx *x = data;
	struct relay *r = x->from.relay;
	struct relay_conn *c = relay_origin_conn(&x->from);
	busy_del(r, x->blob.id);
	if (result == 0)
		relay_blob_removed(r, store_req_blob_removed(req, 0));
	else
		RLOG_ERROR("blob", "delete_failed", "error=\"%s\"", store_strerror(result));
	if (c)
		relay_send_error(c, x->from.request_id, PROTO_E_BAD_DIGEST,
				 "the uploaded bytes do not match the declared SHA-256; the blob was deleted",
				 NULL);
	free(x);
}

static void sealed(int result, const uint8_t *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	struct blob_ctx *x = arg;
	struct relay *r = x->from.relay;
	struct relay_conn *c = relay_origin_conn(&x->from);
	struct store_req *req = NULL;
	if (!r->store || r->stopping)
		goto drop;
	if (result == BLOB_STORE_EDIGEST) {
		RLOG_WARN("blob", "digest_mismatch", "size=%llu", (unsigned long long)x->blob.size);
		req = store_req_new(r->store, refused_deleted, x);
		if (req && store_req_blob_delete(req, x->blob.id) < 0) {
			store_req_free(req);
			req = NULL;
		}
	} else if (result != 0) {
		reply_write_failed(r, c, x->from.request_id, result, "seal_failed",
				   "the blob could not be stored; retry with blob_status");
		goto drop;
	} else {
		req = store_req_new(r->store, completed, x);
		if (req && store_req_blob_complete(req, x->blob.id, orphan_deadline(r)) < 0) {
			store_req_free(req);
			req = NULL;
		}
	}
	if (req && store_submit(req) == 0)
		return;
	if (c)
		relay_send_error(c, x->from.request_id, PROTO_E_UNAVAILABLE, "the relay is shutting down", NULL);
drop:
	busy_del(r, x->blob.id);
	free(x);
}

/* x->blob holds have == size; the blob is marked busy. */
static void finish_upload(struct blob_ctx *x)
{
	struct relay *r = x->from.relay;
	if (blob_store_seal(r, x->blob.id, x->blob.sha256, x->blob.size, sealed, x) != 0) {
		struct relay_conn *c = relay_origin_conn(&x->from);
		if (c)
			relay_send_error(c, x->from.request_id, PROTO_E_INTERNAL, "out of memory", NULL);
		busy_del(r, x->blob.id);
		free(x);
	}
}

/* Answers with the blob's state; an upload whose bytes are all stored but which is not yet
 * complete (the relay stopped while checking it) is finished first. */
static void answer_state(struct relay_conn *c, uint32_t request_id, const struct store_blob *b)
{
	struct relay *r = c->relay;
	if (b->state == STORE_BLOB_UPLOADING && b->have == b->size && !busy_has(r, b->id)) {
		struct blob_ctx *x = ctx_new(c, request_id, b);
		if (x && busy_add(r, b->id) == 0) {
			finish_upload(x);
			return;
		}
		free(x);
	}
	reply_state(c, request_id, b);
}

/* ---- blob_put ----------------------------------------------------------------------------------- */

static void declare_refused(struct relay_call *call, struct relay_conn *c, int result)
{
	if (!c)
		return;
	if (result == STORE_EEXIST) {
		relay_send_error(c, call->from.request_id, PROTO_E_FORBIDDEN,
				 "this blob id is in use with another size or digest; choose a new id", NULL);
	} else if (result == STORE_EQUOTA) {
		proto_error_details d = { 0 };
		d.limit = call->from.relay->cfg.blob_quota_bytes;
		relay_send_error(c, call->from.request_id, PROTO_E_QUOTA_EXCEEDED,
				 "the account's attachment quota (blob_quota_bytes) would be exceeded; nothing was stored",
				 &d);
	} else {
		relay_call_reply_error(c, call->from.request_id, result, call->limit_text, NULL);
	}
}

static void declared(struct relay_call *call, struct relay_conn *c)
{
	if (c)
		answer_state(c, call->from.request_id, store_req_blob_result(call->req, 0, NULL));
}

void handle_blob_put(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	const proto_blob_put *m = &f->body.blob_put;
	/* The id is the digest's first half (spec/protocol.md §10): only the uploader and the
	 * recipients of the attachment descriptor can name a blob, so an answer about an id in use
	 * tells nothing to anyone else, and no one can take an id before its ciphertext exists. */
	if (memcmp(m->id, m->sha256, STORE_ID_BYTES) != 0) {
		relay_send_error(c, f->request_id, PROTO_E_INVALID,
				 "a blob id is the first 16 bytes of the SHA-256 of its ciphertext", NULL);
		return;
	}
	if (m->size > r->cfg.blob_max_bytes) {
		proto_error_details d = { 0 };
		d.limit = r->cfg.blob_max_bytes;
		relay_send_error(c, f->request_id, PROTO_E_OVER_LIMIT,
				 "the blob is larger than the relay's limit (blob_max_bytes)", &d);
		return;
	}
	struct store_blob b = { 0 };
	memcpy(b.id, m->id, STORE_ID_BYTES);
	memcpy(b.owner_account, c->account_id, STORE_ID_BYTES);
	memcpy(b.owner_device, c->device_id, STORE_ID_BYTES);
	b.size = m->size;
	memcpy(b.sha256, m->sha256, STORE_BLOB_SHA_BYTES);
	b.expires_at_ms = orphan_deadline(r);
	struct relay_call *call = relay_call_new(c, f->request_id, sizeof *call, declared);
	if (!call)
		return;
	call->refused = declare_refused;
	call->limit_text = "the account holds the most blobs allowed; wait until earlier attachments are acknowledged";
	relay_call_submit(c, call, store_req_blob_declare(call->req, &b, r->cfg.blob_quota_bytes));
}

/* ---- blob_status -------------------------------------------------------------------------------- */

void handle_blob_status(struct relay_conn *c, const proto_frame *f)
{
	struct store_blob b;
	if (store_get_blob(c->relay->store, f->body.blob_status.id, &b) != 0 ||
	    memcmp(b.owner_device, c->device_id, STORE_ID_BYTES) != 0) {
		reply_not_found(c, f->request_id);
		return;
	}
	answer_state(c, f->request_id, &b);
}

/* ---- blob_chunk --------------------------------------------------------------------------------- */

static void progressed(struct store_req *req, int result, void *data)
{
	struct blob_ctx *x = data;
	struct relay *r = x->from.relay;
	struct relay_conn *c = relay_origin_conn(&x->from);
	if (result == 0) {
		x->blob = *store_req_blob_result(req, 0, NULL);
		if (x->blob.have == x->blob.size && !r->stopping) {
			finish_upload(x);
			return;
		}
		if (c)
			reply_state(c, x->from.request_id, &x->blob);
	} else if (c) {
		if (result == STORE_ENOTFOUND)
			reply_not_found(c, x->from.request_id); /* expired meanwhile */
		else
			relay_call_reply_error(c, x->from.request_id, result, NULL, NULL);
	}
	busy_del(r, x->blob.id);
	free(x);
}

static void appended(int result, const uint8_t *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	struct blob_ctx *x = arg;
	struct relay *r = x->from.relay;
	struct relay_conn *c = relay_origin_conn(&x->from);
	if (result == 0)
		r->metrics.blob_bytes_in += x->len;
	if (result == 0 && r->store && !r->stopping) {
		struct store_req *req = store_req_new(r->store, progressed, x);
		if (req && store_req_blob_progress(req, x->blob.id, x->offset, x->offset + x->len,
						   orphan_deadline(r)) < 0) {
			store_req_free(req);
			req = NULL;
		}
		if (req && store_submit(req) == 0)
			return;
	}
	reply_write_failed(r, c, x->from.request_id, result, "write_failed",
			   "the chunk could not be stored; retry with blob_status");
	busy_del(r, x->blob.id);
	free(x);
}

void handle_blob_chunk(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	const proto_blob_chunk *m = &f->body.blob_chunk;
	struct store_blob b;
	if (store_get_blob(r->store, m->id, &b) != 0 ||
	    memcmp(b.owner_device, c->device_id, STORE_ID_BYTES) != 0) {
		reply_not_found(c, f->request_id);
		return;
	}
	if (busy_has(r, b.id)) {
		reply_retry(c, f->request_id, "a chunk of this blob is being stored");
		return;
	}
	/* Only the next bytes are appended; anything else gets the state to continue from. */
	if (b.state != STORE_BLOB_UPLOADING || m->offset != b.have) {
		answer_state(c, f->request_id, &b);
		return;
	}
	if (m->data.len > b.size - b.have) {
		proto_error_details d = { 0 };
		d.limit = b.size;
		relay_send_error(c, f->request_id, PROTO_E_OVER_LIMIT,
				 "the chunk runs past the blob's declared size", &d);
		return;
	}
	if (blob_store_inflight_bytes(r) + m->data.len > BLOB_INFLIGHT_MAX_BYTES) {
		reply_retry(c, f->request_id, "the relay is busy with other blob transfers");
		return;
	}
	struct blob_ctx *x = ctx_new(c, f->request_id, &b);
	if (!x || busy_add(r, b.id) != 0) {
		free(x);
		relay_send_error(c, f->request_id, PROTO_E_INTERNAL, "out of memory", NULL);
		return;
	}
	x->offset = m->offset;
	x->len = m->data.len;
	if (blob_store_append(r, b.id, m->offset, m->data.ptr, m->data.len, appended, x) != 0) {
		busy_del(r, b.id);
		free(x);
		relay_send_error(c, f->request_id, PROTO_E_INTERNAL, "out of memory", NULL);
	}
}

/* ---- blob_get ----------------------------------------------------------------------------------- */

static void read_done(int result, const uint8_t *data, size_t len, void *arg)
{
	struct blob_ctx *x = arg;
	struct relay_conn *c = relay_origin_conn(&x->from);
	if (c) {
		if (result != 0 || len == 0) {
			RLOG_ERROR("blob", "read_failed", "error=\"%s\"",
				   result ? uv_strerror(result) : "short file");
			relay_send_error(c, x->from.request_id, PROTO_E_UNAVAILABLE,
					 "the blob could not be read", NULL);
		} else {
			proto_frame *out = relay_tx_frame(c->relay, PROTO_T_BLOB_DATA, x->from.request_id);
			out->body.blob_data.id = x->blob.id;
			out->body.blob_data.offset = x->offset;
			out->body.blob_data.data = (proto_bytes){ data, len };
			if (relay_send_frame(c, out) == 0)
				c->relay->metrics.blob_bytes_out += len;
		}
	}
	free(x);
}

/* The uploading device, and every device holding an unacknowledged envelope referencing it. */
static bool may_read(struct relay *r, const struct store_blob *b, const uint8_t device[STORE_ID_BYTES])
{
	uint32_t n;
	uint64_t until;
	if (b->state != STORE_BLOB_COMPLETE)
		return false;
	if (memcmp(b->owner_device, device, STORE_ID_BYTES) == 0)
		return true;
	/* Until the expiry pass removes them, expired envelopes still count in the grant; their
	 * time is what decides. */
	return store_get_blob_grant(r->store, b->id, device, &n, &until) == 0 && until > relay_now_ms();
}

void handle_blob_get(struct relay_conn *c, const proto_frame *f)
{
	struct relay *r = c->relay;
	const proto_blob_get *m = &f->body.blob_get;
	struct store_blob b;
	if (store_get_blob(r->store, m->id, &b) != 0 || !may_read(r, &b, c->device_id)) {
		reply_not_found(c, f->request_id);
		return;
	}
	if (m->offset >= b.size) {
		proto_error_details d = { 0 };
		d.limit = b.size;
		relay_send_error(c, f->request_id, PROTO_E_OUT_OF_RANGE, "offset at or past the blob's end", &d);
		return;
	}
	size_t len = m->length;
	if (len > b.size - m->offset)
		len = (size_t)(b.size - m->offset);
	if (blob_store_inflight_bytes(r) + len > BLOB_INFLIGHT_MAX_BYTES) {
		reply_retry(c, f->request_id, "the relay is busy with other blob transfers");
		return;
	}
	struct blob_ctx *x = ctx_new(c, f->request_id, &b);
	if (!x) {
		relay_send_error(c, f->request_id, PROTO_E_INTERNAL, "out of memory", NULL);
		return;
	}
	x->offset = m->offset;
	x->len = len;
	if (blob_store_read(r, b.sha256, m->offset, len, read_done, x) != 0) {
		free(x);
		relay_send_error(c, f->request_id, PROTO_E_INTERNAL, "out of memory", NULL);
	}
}
