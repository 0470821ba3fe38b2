/* SPDX-License-Identifier: MPL-2.0 */
#include "net/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/clock.h"
#include "core/log.h"
#include "net/registry.h"
#include "net/ws.h"
#include "relay_state.h"
#include "wakks_storage.h"

#define RELAY_LWS_WRITE_CLOSE 4

/* How long a connection waits for the peer's answer to our close frame before lws drops it. */
#define CLOSE_ACK_TIMEOUT_S 5

struct relay_conn *relay_conn_new(struct relay *r, struct lws *wsi, const char *peer)
{
	struct relay_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->relay = r;
	c->wsi = wsi;
	c->h2_stream = lws_get_network_wsi(wsi) != wsi;
	c->id = ++r->next_conn_id;
	c->opened_ms = relay_monotonic_ms();
	c->state = CONN_UNAUTHENTICATED;
	c->tokens = r->cfg.unauth_request_burst;
	c->tokens_at_ms = c->opened_ms;
	randombytes_buf(c->challenge, sizeof c->challenge);
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	if (relay_registry_add(r, c) != 0) {
		free(c);
		return NULL;
	}
	c->next = r->conns;
	if (r->conns)
		r->conns->prev = c;
	r->conns = c;
	r->conn_count++;
	r->metrics.connections_total++;
	return c;
}

void relay_conn_closed(struct relay_conn *c)
{
	struct relay *r = c->relay;
	if (c->flush_queued)
		for (struct relay_conn **p = &r->flush_head; *p; p = &(*p)->flush_next)
			if (*p == c) {
				*p = c->flush_next;
				break;
			}
	relay_registry_remove(r, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	r->conn_count--;
	for (struct relay_out_frame *f = c->out_head, *n; f; f = n) {
		n = f->next;
		free(f);
	}
	relay_conn_rx_release(c);
	free(c->inflight);
	sodium_memzero(c->challenge, sizeof c->challenge);
	free(c);
}

struct relay_conn *relay_conn_find(struct relay *r, uint64_t id)
{
	return relay_registry_conn(r, id);
}

struct relay_conn *relay_conn_of_device(struct relay *r, const uint8_t device_id[RELAY_ID_BYTES])
{
	return relay_registry_device(r, device_id);
}

void relay_conn_bind_device(struct relay_conn *c)
{
	struct relay_conn *old = relay_registry_device(c->relay, c->device_id);
	if (old && old != c) {
		RLOG_INFO("conn", "replaced", "conn=%llu by=%llu", (unsigned long long)old->id,
			  (unsigned long long)c->id);
		relay_conn_close(old, 4001, "replaced by a newer connection of this device");
	}
	c->bound_ms = relay_now_ms();
	relay_registry_bind_device(c->relay, c);
}

static void update_rx_flow(struct relay_conn *c)
{
	if (!c->wsi)
		return;
	size_t cap = c->relay->cfg.send_queue_max_bytes;
	/* A closing connection always reads: what the peer sent is read and dropped until its
	 * close frame arrives, so the socket never closes with unread data (the kernel would then
	 * send a reset that can overtake our close frame, and the peer see 1006). */
	if (!c->rx_paused && c->out_bytes > cap && c->state != CONN_CLOSING) {
		c->rx_paused = true;
		c->relay->metrics.backpressure_pauses++;
		lws_rx_flow_control(c->wsi, 0);
	} else if (c->rx_paused && (c->out_bytes <= cap / 2 || c->state == CONN_CLOSING)) {
		c->rx_paused = false;
		lws_rx_flow_control(c->wsi, 1);
	}
}

int relay_conn_send(struct relay_conn *c, const void *data, size_t len)
{
	if (c->state == CONN_CLOSING || !c->wsi)
		return -1;
	struct relay_out_frame *f = malloc(sizeof *f + LWS_PRE + len);
	if (!f)
		return -1;
	f->next = NULL;
	f->len = len;
	memcpy(f->buf + LWS_PRE, data, len);
	if (c->out_tail)
		c->out_tail->next = f;
	else
		c->out_head = f;
	c->out_tail = f;
	c->out_bytes += len;
	update_rx_flow(c);
	/* Written before the loop waits again (net/ws.c), without arming POLLOUT: a writeable
	 * callback per burst cost two epoll_ctl calls and a loop wake-up. */
	if (c->h2_stream) {
		lws_callback_on_writable(c->wsi);
	} else if (!c->flush_queued) {
		c->flush_queued = true;
		c->flush_next = c->relay->flush_head;
		c->relay->flush_head = c;
	}
	return 0;
}

struct relay_conn *relay_conn_flush_pop(struct relay *r)
{
	struct relay_conn *c = r->flush_head;
	if (c) {
		r->flush_head = c->flush_next;
		c->flush_next = NULL;
		c->flush_queued = false;
	}
	return c;
}

bool relay_conn_can_push(const struct relay_conn *c)
{
	return c->state == CONN_AUTHENTICATED && c->out_bytes < c->relay->cfg.send_queue_max_bytes / 2;
}

void relay_conn_close(struct relay_conn *c, uint16_t code, const char *reason)
{
	if (c->state == CONN_CLOSING || !c->wsi)
		return;
	c->state = CONN_CLOSING;
	c->close_code = code;
	c->close_reason = reason ? reason : "";
	relay_registry_unbind_device(c->relay, c);
	update_rx_flow(c);
	lws_callback_on_writable(c->wsi);
}

/* Writes one queued frame; 0 when written, -1 when lws must close the connection. */
static int write_one(struct relay_conn *c)
{
	struct relay_out_frame *f = c->out_head;
	int n = lws_write(c->wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_BINARY);
	if (n < (int)f->len)
		return -1;
	c->relay->metrics.frames_out++;
	c->relay->metrics.bytes_out += f->len;
	c->out_head = f->next;
	if (!c->out_head)
		c->out_tail = NULL;
	c->out_bytes -= f->len;
	free(f);
	return 0;
}

/* Frames written together in one TLS record and one system call: a few dozen small replies and
 * deliveries, bounded so a write stays one record's worth (the protocol's tx_packet_size lets
 * lws pass that much to SSL_write at once, net/ws.h). */
#define COALESCE_MAX_BYTES RELAY_WS_TX_RECORD_BYTES

/* Size of a server-to-client WebSocket header (FIN, binary, unmasked) for a payload of len. */
static size_t ws_header_size(size_t len)
{
	return len < 126 ? 2 : len < 65536 ? 4 : 10;
}

static size_t ws_header(uint8_t *out, size_t len)
{
	out[0] = 0x82;
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len < 65536) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

/* Writes the queued frames that fit in COALESCE_MAX_BYTES as one raw write of complete
 * WebSocket frames (lws passes LWS_WRITE_HTTP through untouched on a WebSocket). Returns 0 or -1. */
static int write_coalesced(struct relay_conn *c)
{
	size_t total = 0, count = 0;
	for (struct relay_out_frame *f = c->out_head; f; f = f->next) {
		size_t need = ws_header_size(f->len) + f->len;
		if (count && total + need > COALESCE_MAX_BYTES)
			break;
		total += need;
		count++;
	}
	if (count == 1)
		return write_one(c);
	unsigned char *buf = malloc(LWS_PRE + total);
	if (!buf)
		return write_one(c);
	size_t off = LWS_PRE;
	struct relay_out_frame *f = c->out_head;
	for (size_t i = 0; i < count; i++, f = f->next) {
		off += ws_header(buf + off, f->len);
		memcpy(buf + off, f->buf + LWS_PRE, f->len);
		off += f->len;
	}
	int n = lws_write(c->wsi, buf + LWS_PRE, total, LWS_WRITE_HTTP);
	free(buf);
	if (n < (int)total)
		return -1;
	for (size_t i = 0; i < count; i++) {
		f = c->out_head;
		c->relay->metrics.frames_out++;
		c->relay->metrics.bytes_out += f->len;
		c->out_head = f->next;
		c->out_bytes -= f->len;
		free(f);
	}
	if (!c->out_head)
		c->out_tail = NULL;
	return 0;
}

int relay_conn_write_queued(struct relay_conn *c)
{
	/* As many frames as the socket takes now, several per TLS record: one writable event and
	 * one record per frame cost an epoll round trip and a system call for every frame. */
	while (c->out_head && !lws_send_pipe_choked(c->wsi))
		if (write_coalesced(c) != 0)
			return -1;
	update_rx_flow(c);
	if (c->out_head)
		lws_callback_on_writable(c->wsi);
	return 0;
}

int relay_conn_write_next(struct relay_conn *c)
{
	if (relay_conn_write_queued(c) != 0)
		return -1;
	if (c->out_head)
		return 0;
	if (c->state == CONN_CLOSING && !c->close_sent) {
		/* The close frame is written here, after every queued frame. The usual
		 * lws_close_reason() + return -1 loses the frame with Debian's lws 4.1 on a libuv loop
		 * (its debug build closes the connection a second time before the frame goes out).
		 * lws keeps the opcode out of its public enum; 4 is its LWS_WRITE_CLOSE.
		 * Then the close handshake (RFC 6455 §7.1.1): the connection stays open, reading and
		 * dropping, until the peer's close frame arrives (net/ws.c,
		 * LWS_CALLBACK_WS_PEER_INITIATED_CLOSE) or the timeout; dropping it at once would close a socket with unread data. */
		unsigned char frame[LWS_PRE + 2 + RELAY_CLOSE_REASON_MAX];
		size_t rl = strnlen(c->close_reason, RELAY_CLOSE_REASON_MAX);
		frame[LWS_PRE] = (unsigned char)(c->close_code >> 8);
		frame[LWS_PRE + 1] = (unsigned char)(c->close_code & 0xff);
		memcpy(frame + LWS_PRE + 2, c->close_reason, rl);
		if (lws_write(c->wsi, frame + LWS_PRE, 2 + rl,
			      (enum lws_write_protocol)RELAY_LWS_WRITE_CLOSE) < (int)(2 + rl))
			return -1;
		c->close_sent = true;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_ACK, CLOSE_ACK_TIMEOUT_S);
	}
	return 0;
}

void relay_conn_rx_release(struct relay_conn *c)
{
	c->relay->unauth_rx_bytes -= c->rx_unauth;
	c->rx_unauth = 0;
	free(c->rx);
	c->rx = NULL;
	c->rx_len = 0;
	c->rx_cap = 0;
}

uint32_t relay_conn_rate(const struct relay_conn *c)
{
	const struct relay_config *cfg = &c->relay->cfg;
	return c->state == CONN_UNAUTHENTICATED ? cfg->unauth_requests_per_second
						: cfg->requests_per_second;
}

bool relay_conn_take_token(struct relay_conn *c, uint64_t now_ms)
{
	const struct relay_config *cfg = &c->relay->cfg;
	uint32_t burst = c->state == CONN_UNAUTHENTICATED ? cfg->unauth_request_burst
							  : cfg->request_burst;
	double elapsed = (double)(now_ms - c->tokens_at_ms) / 1000.0;
	c->tokens_at_ms = now_ms;
	c->tokens += elapsed * relay_conn_rate(c);
	if (c->tokens > burst)
		c->tokens = burst;
	if (c->tokens < 1.0)
		return false;
	c->tokens -= 1.0;
	return true;
}

void relay_conn_authenticated(struct relay_conn *c, const uint8_t device_id[16],
			      const uint8_t account_id[16])
{
	memcpy(c->device_id, device_id, 16);
	memcpy(c->account_id, account_id, 16);
	struct store_account acc;
	if (store_get_account(c->relay->store, account_id, &acc) == 0) {
		c->account_kind = acc.kind;
		snprintf(c->tenant, sizeof c->tenant, "%s", acc.tenant);
	}
	c->state = CONN_AUTHENTICATED;
	/* The authenticated bucket starts full: what the connection spent proving itself is not
	 * held against the device. */
	c->tokens = c->relay->cfg.request_burst;
	c->deliver_from_seq = 0;
	c->relay->metrics.auth_ok++;
	relay_conn_bind_device(c);
}
