/* SPDX-License-Identifier: MPL-2.0 */
/* One non-blocking TLS client connection driven by an epoll loop (edge-triggered), optionally
 * upgraded to a WebSocket (RFC 6455 client side: masked frames out, whole messages in). Many
 * connections share one thread; nothing here blocks or spawns threads. */
#ifndef WAKKS_BENCH_TLS_CONN_H
#define WAKKS_BENCH_TLS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

enum tc_state { TC_TCP, TC_TLS, TC_HTTP, TC_OPEN, TC_CLOSED };

struct tls_conn;
/* A whole message (WebSocket binary/text payload, or raw TLS bytes when not a WebSocket; for raw
 * connections the callback returns how many bytes it consumed). */
typedef size_t (*tc_on_data)(struct tls_conn *c, const uint8_t *data, size_t len);
typedef void (*tc_on_event)(struct tls_conn *c);

struct tls_conn {
	int fd;
	SSL *ssl;
	enum tc_state state;
	bool websocket;  /* upgrade on ws_path and frame messages */
	const char *ws_path, *ws_protocol;
	int port;
	uint8_t *in;     /* received bytes not yet consumed */
	size_t in_len, in_cap;
	uint8_t *out;    /* bytes to write */
	size_t out_len, out_off, out_cap;
	uint32_t mask_state; /* xorshift for WebSocket masks */
	bool dirty;      /* has output queued since the last flush */
	uint16_t close_code;
	tc_on_data on_data;
	tc_on_event on_open;   /* TLS done (raw) or upgrade done (WebSocket) */
	tc_on_event on_close;  /* the connection failed or was closed; fd already closed */
	void *user;
};

/* Starts connecting from source address `src` to 127.0.0.1:port and adds the fd to epfd.
 * Returns 0 or -1. */
int tc_start(struct tls_conn *c, SSL_CTX *ctx, int epfd, unsigned src, int port);

/* Handles readiness (call on every epoll event of c->fd). */
void tc_on_ready(struct tls_conn *c);

/* Queues bytes (raw) or one masked binary WebSocket message; tc_flush() writes. */
void tc_write_raw(struct tls_conn *c, const void *data, size_t len);
void tc_write_ws(struct tls_conn *c, const void *data, size_t len);
/* Writes what is queued as far as the socket takes it. */
void tc_flush(struct tls_conn *c);

/* Closes the connection (no callbacks) and frees its buffers. */
void tc_close(struct tls_conn *c);

#endif
