/* SPDX-License-Identifier: MPL-2.0 */
/* A write request whose only answer is `ok` once its operations are durable, or an `error` that
 * says what storage refused. Used by every handler that has nothing else to reply. */
#ifndef WAKKS_RELAY_HANDLERS_CALL_H
#define WAKKS_RELAY_HANDLERS_CALL_H

#include <stdint.h>

struct relay_conn;
struct store_req;

struct relay_ok_request {
	struct relay *relay;
	uint64_t conn_id;
	uint32_t request_id;
	struct store_req *req; /* add operations to it, then relay_ok_request_submit */
	const char *limit_text; /* the error text when storage answers STORE_ELIMIT */
	/* Optional: run after a durable success (also when the connection has gone), e.g. to notify
	 * other devices; `after_data` is freed afterwards. */
	void (*after)(struct relay *r, struct store_req *req, void *after_data);
	void *after_data;
};

/* A new request for connection c; NULL after answering an error itself. */
struct relay_ok_request *relay_ok_request_new(struct relay_conn *c, uint32_t request_id,
					      const char *limit_text);

/* Submits the request. `op` is the lowest result of the operation builders: if it is negative,
 * nothing is submitted and the error is answered. Frees k in every case but success, where the
 * completion frees it. */
void relay_ok_request_submit(struct relay_conn *c, struct relay_ok_request *k, int op);

/* Answers a storage failure with the protocol error that fits it. */
void relay_send_store_error(struct relay_conn *c, uint32_t request_id, int store_rc,
			    const char *limit_text);

#endif
