/* SPDX-License-Identifier: MPL-2.0 */
/* The request object of the handlers. A handler that writes reads as: validate the frame →
 * relay_call_new → add the storage operations to call->req → relay_call_submit; once the write
 * is durable (or refused), the call's callbacks reply and run the side effects. The call carries
 * what every completion needs: which connection asked (by id: it may have closed meanwhile) and
 * which request to answer. Loop thread only. */
#ifndef WAKKS_RELAY_HANDLERS_CALL_H
#define WAKKS_RELAY_HANDLERS_CALL_H

#include <stddef.h>
#include <stdint.h>

struct relay;
struct relay_conn;
struct store_req;

struct relay_call;

/* c is the asking connection, or NULL when it has closed: a callback still runs its side effects
 * (notifications, receipts, metrics) and replies only when c is set. result is a STORE_E* code. */
typedef void (*relay_call_committed_fn)(struct relay_call *call, struct relay_conn *c);
typedef void (*relay_call_refused_fn)(struct relay_call *call, struct relay_conn *c, int result);

/* Who asked, kept past the handler's return to answer later: the connection by id (it may close
 * meanwhile, and its object is freed then) and the request to answer. */
struct relay_origin {
	struct relay *relay;
	uint64_t conn_id;
	uint32_t request_id;
};

/* The origin of request_id on c. */
struct relay_origin relay_origin_of(struct relay_conn *c, uint32_t request_id);

/* The asking connection if it is still open, else NULL. */
struct relay_conn *relay_origin_conn(const struct relay_origin *o);

struct relay_call {
	struct relay_origin from;
	struct store_req *req; /* add the operations here, then relay_call_submit */
	/* After a durable commit; NULL answers `ok`. */
	relay_call_committed_fn committed;
	/* When storage refuses; NULL answers through relay_call_reply_error. */
	relay_call_refused_fn refused;
	/* The error texts of relay_call_reply_error: for STORE_ELIMIT (which bound was hit), and for
	 * a failure the map has no better words for (e.g. "the acknowledgement could not be stored;
	 * retry"). NULL: the storage error's own text. Static strings. */
	const char *limit_text;
	const char *failure_text;
};

/* A call for request_id on c, with a new storage request. size is the size of the handler's
 * context, which starts with a struct relay_call (or sizeof(struct relay_call)); the whole block
 * is zeroed and freed after the last callback. Returns NULL after answering "out of memory". */
struct relay_call *relay_call_new(struct relay_conn *c, uint32_t request_id, size_t size,
				  relay_call_committed_fn committed);

/* Submits call->req. op is the lowest result of the operation builders: when it is negative
 * nothing is submitted. On any failure here the error is answered through the map and the call is
 * freed (c is the asking connection, still open). Returns 0 when submitted (a callback will
 * run), -1 when answered and freed here. */
int relay_call_submit(struct relay_conn *c, struct relay_call *call, int op);

/* Frees a call that will not be submitted, without answering (the handler has answered). */
void relay_call_cancel(struct relay_call *call);

/* The one storage-to-wire error map: answers request_id on c with the protocol error that fits a
 * storage failure. limit_text / failure_text as in struct relay_call (either may be NULL). */
void relay_call_reply_error(struct relay_conn *c, uint32_t request_id, int store_rc,
			    const char *limit_text, const char *failure_text);

#endif
