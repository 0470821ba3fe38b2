/* SPDX-License-Identifier: MPL-2.0 */
#include "ws_proto.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

void ws_proto_key(const uint8_t raw[16], char out[WS_PROTO_KEY_BYTES])
{
	sodium_bin2base64(out, WS_PROTO_KEY_BYTES, raw, 16, sodium_base64_VARIANT_ORIGINAL);
}

int ws_proto_upgrade_request(char *out, size_t cap, const char *path, int port, const char *key,
			     const char *subprotocol)
{
	int n = snprintf(out, cap,
			 "GET %s HTTP/1.1\r\nHost: localhost:%d\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
			 "%s%s%s\r\n",
			 path, port, key, subprotocol ? "Sec-WebSocket-Protocol: " : "",
			 subprotocol ? subprotocol : "", subprotocol ? "\r\n" : "");
	return n > 0 && (size_t)n < cap ? n : -1;
}

int ws_proto_response_status(const char *head)
{
	int status;
	return sscanf(head, "HTTP/1.%*d %d", &status) == 1 ? status : -1;
}

const char *ws_proto_header_value(const char *head, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	for (const char *p = head; (p = strchr(p, '\n')) != NULL;) {
		p++;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			size_t l = strcspn(v, "\r\n");
			if (l >= cap)
				l = cap - 1;
			memcpy(out, v, l);
			out[l] = '\0';
			return out;
		}
	}
	return NULL;
}

size_t ws_proto_header_encode(uint8_t out[WS_PROTO_MAX_HEADER], int opcode, bool fin, uint64_t len,
			      const uint8_t mask[4])
{
	size_t h = 0;
	out[h++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	if (len < 126) {
		out[h++] = (uint8_t)(0x80 | len);
	} else if (len < 65536) {
		out[h++] = 0x80 | 126;
		out[h++] = (uint8_t)(len >> 8);
		out[h++] = (uint8_t)len;
	} else {
		out[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			out[h++] = (uint8_t)(len >> (8 * i));
	}
	memcpy(out + h, mask, 4);
	return h + 4;
}

void ws_proto_mask(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t mask[4])
{
	for (size_t i = 0; i < len; i++)
		dst[i] = src[i] ^ mask[i & 3];
}

size_t ws_proto_header_size(const uint8_t first[2])
{
	size_t n = 2;
	uint8_t l = first[1] & 0x7f;
	if (l == 126)
		n += 2;
	else if (l == 127)
		n += 8;
	return (first[1] & 0x80) ? n + 4 : n;
}

size_t ws_proto_header_decode(const uint8_t *p, size_t avail, struct ws_proto_header *h)
{
	if (avail < 2)
		return 0;
	size_t size = ws_proto_header_size(p);
	if (avail < size)
		return 0;
	h->fin = p[0] & 0x80;
	h->opcode = p[0] & 0x0f;
	h->masked = p[1] & 0x80;
	h->len = p[1] & 0x7f;
	size_t at = 2;
	if (h->len == 126) {
		h->len = (uint64_t)p[2] << 8 | p[3];
		at = 4;
	} else if (h->len == 127) {
		h->len = 0;
		for (int i = 0; i < 8; i++)
			h->len = h->len << 8 | p[2 + i];
		at = 10;
	}
	if (h->masked)
		memcpy(h->mask, p + at, 4);
	h->size = size;
	return size;
}
