/* SPDX-License-Identifier: MPL-2.0 */
#include "tls_conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "bench_util.h"
#include "ws_proto.h"

/* A WebSocket message larger than this from the server ends the connection: the relay's frames
 * are at most 1 MiB (PROTO_MAX_FRAME_BYTES) plus a WebSocket header. */
#define TC_MAX_MESSAGE ((1u << 20) + 16u)
/* Bytes read per SSL_read call. */
#define TC_READ_CHUNK 16384u

static void fail(struct tls_conn *c)
{
	if (c->state == TC_CLOSED)
		return;
	tc_close(c);
	if (c->on_close)
		c->on_close(c);
}

int tc_start(struct tls_conn *c, SSL_CTX *ctx, int epfd, unsigned src, int port)
{
	c->fd = bench_tcp_connect(src, port, 1);
	if (c->fd < 0)
		return -1;
	c->port = port;
	c->ssl = SSL_new(ctx);
	if (!c->ssl) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, "localhost");
	SSL_set_connect_state(c->ssl);
	c->state = TC_TCP;
	c->mask_state = (uint32_t)(uintptr_t)c ^ 0x9e3779b9u;
	if (!c->mask_state)
		c->mask_state = 1;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP, .data.ptr = c };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		tc_close(c);
		return -1;
	}
	return 0;
}

static void reserve_out(struct tls_conn *c, size_t more)
{
	if (c->out_off && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + more <= c->out_cap)
		return;
	size_t cap = c->out_cap ? c->out_cap : 4096;
	while (cap < c->out_len + more)
		cap *= 2;
	uint8_t *n = realloc(c->out, cap);
	if (!n)
		abort(); /* a load generator out of memory has nothing sensible to report */
	c->out = n;
	c->out_cap = cap;
}

void tc_write_raw(struct tls_conn *c, const void *data, size_t len)
{
	reserve_out(c, len);
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	c->dirty = true;
}

static uint32_t next_mask(struct tls_conn *c)
{
	uint32_t x = c->mask_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return c->mask_state = x;
}

static void write_ws_frame(struct tls_conn *c, int opcode, const void *data, size_t len)
{
	reserve_out(c, len + WS_PROTO_MAX_HEADER);
	uint8_t *h = c->out + c->out_len;
	uint32_t m = next_mask(c);
	uint8_t mask[4] = { (uint8_t)m, (uint8_t)(m >> 8), (uint8_t)(m >> 16), (uint8_t)(m >> 24) };
	size_t n = ws_proto_header_encode(h, opcode, true, len, mask);
	ws_proto_mask(h + n, data, len, mask);
	c->out_len += n + len;
	c->dirty = true;
}

void tc_write_ws(struct tls_conn *c, const void *data, size_t len)
{
	write_ws_frame(c, WS_OP_BINARY, data, len);
}

void tc_flush(struct tls_conn *c)
{
	c->dirty = false;
	if (c->state != TC_OPEN && c->state != TC_HTTP)
		return;
	while (c->out_off < c->out_len) {
		ERR_clear_error();
		int n = SSL_write(c->ssl, c->out + c->out_off, (int)(c->out_len - c->out_off));
		if (n <= 0) {
			int e = SSL_get_error(c->ssl, n);
			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
				return; /* EPOLLOUT (edge) calls us again */
			fail(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
}

static void send_upgrade(struct tls_conn *c)
{
	uint8_t raw[16];
	for (int i = 0; i < 4; i++) {
		uint32_t m = next_mask(c);
		memcpy(raw + 4 * i, &m, 4);
	}
	char key[WS_PROTO_KEY_BYTES];
	ws_proto_key(raw, key);
	char req[512];
	int n = ws_proto_upgrade_request(req, sizeof req, c->ws_path, c->port, key, c->ws_protocol);
	if (n < 0) {
		fail(c);
		return;
	}
	tc_write_raw(c, req, (size_t)n);
	tc_flush(c);
}

/* Parses complete WebSocket frames from c->in; returns bytes consumed, or SIZE_MAX to close. */
static size_t parse_ws(struct tls_conn *c)
{
	size_t off = 0;
	while (c->state == TC_OPEN) {
		const uint8_t *p = c->in + off;
		struct ws_proto_header fh;
		size_t h = ws_proto_header_decode(p, c->in_len - off, &fh);
		if (!h)
			break;
		if (fh.masked || fh.len > TC_MAX_MESSAGE || !fh.fin)
			return SIZE_MAX; /* masked, oversized or fragmented: the relay sends none */
		int op = fh.opcode;
		uint64_t len = fh.len;
		if (c->in_len - off < h + len)
			break;
		const uint8_t *payload = p + h;
		off += h + (size_t)len;
		if (op == WS_OP_PING) {
			write_ws_frame(c, WS_OP_PONG, payload, (size_t)len);
		} else if (op == WS_OP_CLOSE) {
			c->close_code = len >= 2 ? (uint16_t)(payload[0] << 8 | payload[1]) : 1005;
			return SIZE_MAX;
		} else if (op == WS_OP_TEXT || op == WS_OP_BINARY) {
			c->on_data(c, payload, (size_t)len);
		}
	}
	return off;
}

static void handle_input(struct tls_conn *c)
{
	size_t used = 0;
	if (c->state == TC_HTTP) {
		void *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
		if (!end)
			return;
		if (ws_proto_response_status((const char *)c->in) != 101) {
			fail(c);
			return;
		}
		used = (size_t)((uint8_t *)end - c->in) + 4;
		c->state = TC_OPEN;
		if (c->on_open)
			c->on_open(c);
		if (c->state != TC_OPEN)
			return;
	}
	if (c->state == TC_OPEN) {
		if (c->websocket) {
			memmove(c->in, c->in + used, c->in_len - used);
			c->in_len -= used;
			used = parse_ws(c);
			if (used == SIZE_MAX) {
				fail(c);
				return;
			}
		} else {
			used = c->on_data(c, c->in, c->in_len);
		}
	}
	if (c->state == TC_CLOSED)
		return;
	memmove(c->in, c->in + used, c->in_len - used);
	c->in_len -= used;
}

static void do_read(struct tls_conn *c)
{
	for (;;) {
		if (c->in_cap - c->in_len < TC_READ_CHUNK) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 2 * TC_READ_CHUNK;
			if (cap > 4 * TC_MAX_MESSAGE) {
				fail(c);
				return;
			}
			uint8_t *n = realloc(c->in, cap);
			if (!n)
				abort();
			c->in = n;
			c->in_cap = cap;
		}
		ERR_clear_error();
		int n = SSL_read(c->ssl, c->in + c->in_len, (int)(c->in_cap - c->in_len));
		if (n <= 0) {
			int e = SSL_get_error(c->ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				break;
			fail(c);
			return;
		}
		c->in_len += (size_t)n;
		handle_input(c);
		if (c->state == TC_CLOSED)
			return;
	}
	/* An idle connection keeps no receive buffer: RSS per held connection stays small. */
	if (c->in_len == 0 && c->in_cap > 2 * TC_READ_CHUNK) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
}

void tc_on_ready(struct tls_conn *c)
{
	if (c->state == TC_CLOSED)
		return;
	if (c->state == TC_TCP)
		c->state = TC_TLS;
	if (c->state == TC_TLS) {
		ERR_clear_error();
		int r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				fail(c);
			return;
		}
		if (c->websocket) {
			c->state = TC_HTTP;
			send_upgrade(c);
		} else {
			c->state = TC_OPEN;
			if (c->on_open)
				c->on_open(c);
		}
		if (c->state == TC_CLOSED)
			return;
	}
	tc_flush(c);
	if (c->state == TC_CLOSED)
		return;
	do_read(c);
	if (c->state != TC_CLOSED && c->dirty)
		tc_flush(c);
}

void tc_close(struct tls_conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
	free(c->in);
	free(c->out);
	c->in = c->out = NULL;
	c->in_len = c->in_cap = c->out_len = c->out_off = c->out_cap = 0;
	c->state = TC_CLOSED;
}
