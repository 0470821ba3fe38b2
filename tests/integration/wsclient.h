/* SPDX-License-Identifier: MPL-2.0 */
/* A small blocking TLS WebSocket client (RFC 6455) for integration tests: real TLS through
 * OpenSSL, real handshake and framing, plus raw access for sending hostile bytes. Also a plain
 * HTTPS request helper. */
#ifndef WAKKS_TEST_WSCLIENT_H
#define WAKKS_TEST_WSCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "ws_proto.h"

struct wsc {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	int http_status;     /* status of the upgrade response */
	char http_body[1024]; /* body of a refused upgrade */
	char protocol[64];   /* Sec-WebSocket-Protocol the server chose */
	uint8_t *msg;        /* last received message (owned) */
	size_t msg_len;
	uint16_t close_code; /* set when a close frame arrived */
	char close_reason[128];
};

/* Connects to 127.0.0.1:port over TLS (certificate not verified: development certificate) and
 * performs the upgrade on `path` offering `subprotocol` (NULL: offer none).
 * Returns 0 when upgraded (101), 1 when the server answered another status (see http_status,
 * http_body), -1 on a transport failure. */
int wsc_connect(struct wsc *c, int port, const char *path, const char *subprotocol);

/* Sends one complete (masked) message. Returns 0 or -1. */
int wsc_send(struct wsc *c, int opcode, const void *data, size_t len);

/* Sends one WebSocket frame as given: a fragment (opcode 0 continues a message) with or without
 * FIN, for messages left unfinished on purpose. */
int wsc_send_fragment(struct wsc *c, int opcode, bool fin, const void *data, size_t len);

/* Sends a message split into fragments of at most `frag` bytes. */
int wsc_send_fragmented(struct wsc *c, int opcode, const void *data, size_t len, size_t frag);

/* Writes raw bytes to the TLS stream (for malformed WebSocket framing). */
int wsc_send_raw(struct wsc *c, const void *data, size_t len);

/* Receives the next complete message within timeout_ms (pings are answered). Returns its opcode
 * (data in c->msg / c->msg_len; for WS_OP_CLOSE, close_code and close_reason), 0 on timeout,
 * -1 when the connection ended without a close frame. */
int wsc_recv(struct wsc *c, int timeout_ms);

/* Sends a close frame (ours, or the answer to the server's) and frees everything. */
void wsc_close(struct wsc *c);

/* Drops the TCP connection without a close frame (a crashing client). */
void wsc_abort(struct wsc *c);

/* One HTTPS request to 127.0.0.1:port. body may be NULL. Writes the status and a malloc'd
 * response body (NUL-terminated) and the Location header if any. Returns 0 or -1. */
int https_request(int port, const char *method, const char *path, const char *content_type,
		  const char *body, int *status, char **resp_body, char *location, size_t loc_cap);

/* https_request that also copies the response's status line and headers to resp_headers. */
int https_request_headers(int port, const char *method, const char *path,
			  const char *content_type, const char *body, int *status, char **resp_body,
			  char *location, size_t loc_cap, char *resp_headers, size_t hdr_cap);

#endif
