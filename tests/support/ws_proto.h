/* SPDX-License-Identifier: MPL-2.0 */
/* The client side of RFC 6455 that the test client (blocking) and the benchmark client
 * (non-blocking epoll) share: the upgrade request and the response's status and headers, frame
 * headers out and in, and masking. No I/O here: each client moves the bytes its own way. */
#ifndef WAKKS_TEST_WS_PROTO_H
#define WAKKS_TEST_WS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xA

/* The longest frame header: 2 bytes, 8 of extended length, 4 of masking key. */
#define WS_PROTO_MAX_HEADER 14
/* Sec-WebSocket-Key: base64 of 16 bytes, plus NUL. */
#define WS_PROTO_KEY_BYTES 25

/* Sec-WebSocket-Key from 16 random bytes (the caller's randomness: the benchmark avoids a
 * system call per connection). */
void ws_proto_key(const uint8_t raw[16], char out[WS_PROTO_KEY_BYTES]);

/* Writes the upgrade request for `path` on localhost:port, offering `subprotocol` (NULL: offer
 * none). Returns its length, or -1 when it does not fit in cap. */
int ws_proto_upgrade_request(char *out, size_t cap, const char *path, int port, const char *key,
			     const char *subprotocol);

/* The status code of an HTTP/1.x response head, or -1 when it has no status line. */
int ws_proto_response_status(const char *head);

/* Copies the value of header `name` (case-insensitive) from a NUL-terminated response head into
 * out (truncated to cap - 1). Returns out, or NULL when the header is absent. */
const char *ws_proto_header_value(const char *head, const char *name, char *out, size_t cap);

/* Encodes a client frame header (FIN as given, MASK set, `mask` as the masking key) into out.
 * Returns its length (at most WS_PROTO_MAX_HEADER). */
size_t ws_proto_header_encode(uint8_t out[WS_PROTO_MAX_HEADER], int opcode, bool fin, uint64_t len,
			      const uint8_t mask[4]);

/* XORs len bytes of src with the masking key into dst (dst may be src). */
void ws_proto_mask(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t mask[4]);

struct ws_proto_header {
	bool fin;
	bool masked;
	int opcode;
	uint64_t len;     /* payload length */
	uint8_t mask[4];  /* when masked */
	size_t size;      /* header bytes */
};

/* Header bytes a frame starting with these two bytes has (2 to 14). */
size_t ws_proto_header_size(const uint8_t first[2]);

/* Decodes a frame header from p. Returns its size, or 0 when fewer than that many bytes are
 * available. */
size_t ws_proto_header_decode(const uint8_t *p, size_t avail, struct ws_proto_header *h);

#endif
