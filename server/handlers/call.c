/* SPDX-License-Identifier: MPL-2.0 */
#include "handlers/call.h"

#include <stdlib.h>

#include "net/conn.h"
#include "net/outgoing.h"
#include "relay.h"
#include "wakks_storage.h"

void relay_send_store_error(struct relay_conn *c, uint32_t request_id, int store_rc,
			    const char *limit_text)
{
	switch (store_rc) {
	case STORE_ELIMIT:
		relay_send_error(c, request_id, PROTO_E_OVER_LIMIT,
				 limit_text ? limit_text : store_strerror(store_rc), NULL);
		break;
	case STORE_EQUOTA:
		relay_send_error(c, request_id, PROTO_E_QUOTA_EXCEEDED, store_strerror(store_rc), NULL);
		break;
	case STORE_EFULL:
		relay_send_error(c, request_id, PROTO_E_UNAVAILABLE,
				 "the relay's storage is full; nothing was stored", NULL);
		break;
	case STORE_ECLOSED:
		relay_send_error(c, request_id, PROTO_E_UNAVAILABLE, "the relay is shutting down", NULL);
		break;
	case STORE_EINVAL:
	case STORE_ENOMEM:
		relay_send_error(c, request_id, PROTO_E_INTERNAL, store_strerror(store_rc), NULL);
		break;
	default:
		relay_send_error(c, request_id, PROTO_E_UNAVAILABLE, store_strerror(store_rc), NULL);
	}
}

static void ok_done(struct store_req *req, int result, void *data)
{
	(void)req;
	struct relay_ok_request *k = data;
	struct relay_conn *c = relay_conn_find(k->relay, k->conn_id);
	if (c && result == 0)
		relay_send_ok(c, k->request_id);
	else if (c)
		relay_send_store_error(c, k->request_id, result, k->limit_text);
	if (result == 0 && k->after)
		k->after(k->relay, req, k->after_data);
	free(k->after_data);
	free(k);
}

struct relay_ok_request *relay_ok_request_new(struct relay_conn *c, uint32_t request_id,
					      const char *limit_text)
{
	struct relay_ok_request *k = calloc(1, sizeof *k);
	struct store_req *req = k ? store_req_new(c->relay->store, ok_done, k) : NULL;
	if (!req) {
		free(k);
		relay_send_error(c, request_id, PROTO_E_INTERNAL, "out of memory", NULL);
		return NULL;
	}
	k->relay = c->relay;
	k->conn_id = c->id;
	k->request_id = request_id;
	k->req = req;
	k->limit_text = limit_text;
	return k;
}

void relay_ok_request_submit(struct relay_conn *c, struct relay_ok_request *k, int op)
{
	if (op < 0) {
		relay_send_store_error(c, k->request_id, op, k->limit_text);
		store_req_free(k->req);
		free(k->after_data);
		free(k);
		return;
	}
	int rc = store_submit(k->req); /* frees the request on failure */
	if (rc != 0) {
		relay_send_store_error(c, k->request_id, rc, k->limit_text);
		free(k->after_data);
		free(k);
	}
}
