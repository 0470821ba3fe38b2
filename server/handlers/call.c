/* SPDX-License-Identifier: MPL-2.0 */
#include "handlers/call.h"

#include <stdlib.h>

#include "net/conn.h"
#include "net/outgoing.h"
#include "relay_state.h"
#include "services/storage_space.h"
#include "wakks_storage.h"

void relay_call_reply_error(struct relay_conn *c, uint32_t request_id, int store_rc,
			    const char *limit_text, const char *failure_text)
{
	proto_error_details retry = { 0 };
	/* A full map or disk is STORE_EFULL (the library tells a write cut short by a full disk
	 * from an I/O error); an I/O error while the disk is all but full is taken for one too. The
	 * sender is told the truth and when to try again. */
	if (relay_storage_full(c->relay, store_rc, 0)) {
		retry.retry_ms = RELAY_RETRY_FULL_MS;
		relay_send_error(c, request_id, PROTO_E_UNAVAILABLE,
				 "the relay's storage is full; nothing was stored", &retry);
		return;
	}
	switch (store_rc) {
	case STORE_ELIMIT:
		relay_send_error(c, request_id, PROTO_E_OVER_LIMIT,
				 limit_text ? limit_text : store_strerror(store_rc), NULL);
		break;
	case STORE_EQUOTA:
	case STORE_ESHARE:
		relay_send_error(c, request_id, PROTO_E_QUOTA_EXCEEDED, store_strerror(store_rc), NULL);
		break;
	case STORE_ECLOSED:
		relay_send_error(c, request_id, PROTO_E_UNAVAILABLE, "the relay is shutting down", NULL);
		break;
	case STORE_EINVAL: /* the request could not be built or run: the relay's fault, not the client's */
	case STORE_ENOMEM:
	case STORE_EAUDIT:
	case STORE_EINTERNAL:
		relay_send_error(c, request_id, PROTO_E_INTERNAL, store_strerror(store_rc), NULL);
		break;
	default:
		relay_send_error(c, request_id, PROTO_E_UNAVAILABLE,
				 failure_text ? failure_text : store_strerror(store_rc), NULL);
	}
}

struct relay_origin relay_origin_of(struct relay_conn *c, uint32_t request_id)
{
	return (struct relay_origin){ .relay = c->relay, .conn_id = c->id, .request_id = request_id };
}

struct relay_conn *relay_origin_conn(const struct relay_origin *o)
{
	return relay_conn_find(o->relay, o->conn_id);
}

static void call_done(struct store_req *req, int result, void *data)
{
	(void)req;
	struct relay_call *call = data;
	struct relay_conn *c = relay_origin_conn(&call->from);
	if (result != 0 && call->refused)
		call->refused(call, c, result);
	else if (result != 0 && c)
		relay_call_reply_error(c, call->from.request_id, result, call->limit_text, call->failure_text);
	else if (result == 0 && call->committed)
		call->committed(call, c);
	else if (result == 0 && c)
		relay_send_ok(c, call->from.request_id);
	free(call);
}

struct relay_call *relay_call_new(struct relay_conn *c, uint32_t request_id, size_t size,
				  relay_call_committed_fn committed)
{
	struct relay_call *call = calloc(1, size < sizeof *call ? sizeof *call : size);
	struct store_req *req = call ? store_req_new(c->relay->store, call_done, call) : NULL;
	if (!req) {
		free(call);
		relay_send_error(c, request_id, PROTO_E_INTERNAL, "out of memory", NULL);
		return NULL;
	}
	call->from = relay_origin_of(c, request_id);
	call->req = req;
	call->committed = committed;
	return call;
}

void relay_call_cancel(struct relay_call *call)
{
	store_req_free(call->req);
	free(call);
}

int relay_call_submit(struct relay_conn *c, struct relay_call *call, int op)
{
	if (op < 0) {
		relay_call_reply_error(c, call->from.request_id, op, call->limit_text, NULL);
		relay_call_cancel(call);
		return -1;
	}
	int rc = store_submit(call->req); /* frees the request on failure */
	if (rc != 0) {
		relay_call_reply_error(c, call->from.request_id, rc, call->limit_text, NULL);
		free(call);
		return -1;
	}
	return 0;
}
