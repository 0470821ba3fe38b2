/* SPDX-License-Identifier: MPL-2.0 */
/* One WebSocket connection of a device. libwebsockets owns the socket; this object owns what we
 * keep about it. It is freed when lws reports the close; storage completions that outlive it look
 * it up by id (relay_conn_find) instead of holding a pointer. */
#ifndef WAKKS_RELAY_NET_CONN_H
#define WAKKS_RELAY_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

struct relay;

#define RELAY_CHALLENGE_BYTES 32
#define RELAY_ID_BYTES 16

enum relay_conn_state {
	CONN_UNAUTHENTICATED, /* hello sent; only auth/register allowed */
	CONN_AUTHENTICATED,
	CONN_CLOSING, /* a close is queued; nothing more is read or sent */
};

struct relay_out_frame {
	struct relay_out_frame *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE bytes of headroom, then the frame */
};

/* Fields ordered by size so that the compiler leaves no holes: every idle connection holds one
 * of these for its life (docs/benchmarks.md, "Where an idle connection's memory goes"). */
struct relay_conn {
	struct relay *relay;
	struct lws *wsi; /* NULL once lws has closed the connection */
	struct relay_conn *prev, *next;
	uint64_t id;
	uint64_t opened_ms; /* monotonic */
	uint64_t bound_ms;  /* wall clock when it became its device's connection (relays compare) */

	/* Outgoing frames; bounded by send_queue_max_bytes, past which reading stops. */
	struct relay_out_frame *out_head, *out_tail;
	size_t out_bytes;
	/* On the relay's list of connections with frames queued since the loop last flushed them
	 * (relay.flush_head; net/ws.c writes them before the loop waits again). */
	struct relay_conn *flush_next;

	/* A frame being reassembled from WebSocket fragments. */
	unsigned char *rx;
	size_t rx_len, rx_cap;
	size_t rx_unauth; /* of rx_cap, what counts against relay.unauth_rx_bytes */

	/* Token bucket for requests per second. */
	double tokens;
	uint64_t tokens_at_ms;

	/* Mailbox delivery: next sequence number to push (and deliver_more below: a drain in
	 * progress). */
	uint64_t deliver_from_seq;
	/* Seqs pushed on this connection and not yet acknowledged, at most max_inflight_deliveries
	 * (allocated by a delivery, freed when the last one is acknowledged); pushing waits for an
	 * ack when it is full. */
	uint64_t *inflight;

	/* The close's reason: a string with static storage duration (relay_conn_close). Pointed to
	 * rather than copied, since only a closing connection has one. */
	const char *close_reason;

	enum relay_conn_state state;
	uint32_t n_inflight;
	uint16_t close_code;

	char peer[64];
	uint8_t challenge[RELAY_CHALLENGE_BYTES];
	uint8_t device_id[RELAY_ID_BYTES];
	uint8_t account_id[RELAY_ID_BYTES];
	char tenant[65]; /* caseworkers and journal devices: their tenant */
	uint8_t account_kind; /* enum store_account_kind, once authenticated */
	/* A register is being stored: the connection is becoming that device, so a second auth or
	 * register meanwhile is refused (one device per connection, one answer per request). */
	bool registering;
	bool rx_paused;
	bool flush_queued;
	/* A WebSocket inside an HTTP/2 connection (RFC 8441; browsers): lws writes a stream only
	 * from its writeable callback, which it schedules among the connection's streams. */
	bool h2_stream;
	bool rx_oversize;
	bool deliver_more;
	bool close_sent; /* our close frame is written; waiting for the peer's */
};

/* Creates the connection object for a new WebSocket; NULL when out of memory. */
struct relay_conn *relay_conn_new(struct relay *r, struct lws *wsi, const char *peer);

/* Called when lws reports the close; frees the object. */
void relay_conn_closed(struct relay_conn *c);

/* The connection with this id, if still open. */
struct relay_conn *relay_conn_find(struct relay *r, uint64_t id);

/* The authenticated connection of a device, if any. */
struct relay_conn *relay_conn_of_device(struct relay *r, const uint8_t device_id[RELAY_ID_BYTES]);

/* The connection has proved which device it is (auth or register): it becomes that device's one
 * live connection and may send post-authentication frames. */
void relay_conn_authenticated(struct relay_conn *c, const uint8_t device_id[RELAY_ID_BYTES],
			      const uint8_t account_id[RELAY_ID_BYTES]);

/* Marks the connection as the device's one live connection; an older one is closed. */
void relay_conn_bind_device(struct relay_conn *c);

/* Queues one binary frame (copied). Returns 0, or -1 when the connection is closing or out of
 * memory. Queueing past the bound pauses reading from this peer until the queue drains. */
int relay_conn_send(struct relay_conn *c, const void *data, size_t len);

/* True while the outgoing queue has room for pushes (deliveries) that can wait in the mailbox. */
bool relay_conn_can_push(const struct relay_conn *c);

/* Queues a WebSocket close with code and reason after the frames already queued. reason must
 * have static storage duration (a literal): it is kept until the close frame is written, and
 * sent cut to RELAY_CLOSE_REASON_MAX bytes. */
#define RELAY_CLOSE_REASON_MAX 95
void relay_conn_close(struct relay_conn *c, uint16_t code, const char *reason);

/* Writes the queued frames, and the close frame once they are written; called from lws's
 * writeable callback. Returns -1 when lws must close the connection now. */
int relay_conn_write_next(struct relay_conn *c);

/* Writes as many queued frames as the socket takes now and asks lws for a writeable callback
 * for the rest; the close frame is left to relay_conn_write_next. May be called outside lws's
 * callbacks. Returns -1 when the socket failed (nothing more can be written). */
int relay_conn_write_queued(struct relay_conn *c);

/* Takes the next connection off the relay's list of connections with frames queued since the
 * last flush; NULL when the list is empty. */
struct relay_conn *relay_conn_flush_pop(struct relay *r);

/* Takes a rate-limit token; false when the connection is over its requests per second (the
 * unauthenticated rate before auth or register, the configured one after). */
bool relay_conn_take_token(struct relay_conn *c, uint64_t now_ms);

/* The requests per second the connection's bucket refills at in its current state. */
uint32_t relay_conn_rate(const struct relay_conn *c);

/* Frees the reassembly buffer and returns its memory to the unauthenticated budget. */
void relay_conn_rx_release(struct relay_conn *c);

#endif
