/* SPDX-License-Identifier: MPL-2.0 */
/* Reading just [type, request_id, ...] from raw bytes, so a frame that fails to decode can still
 * be answered with an `error` echoing its request id. */
#include "schema_internal.h"

/* Reads a msgpack unsigned integer at buf[*pos]; 0 or a PROTO_E_* code. */
static int read_uint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *v)
{
	if (*pos >= len)
		return PROTO_E_TRUNCATED;
	uint8_t c = buf[(*pos)++];
	size_t n;
	if (c <= 0x7f) {
		*v = c;
		return 0;
	}
	/* Signed formats holding a non-negative value are integers like any other (msgpack-c, and
	 * so the decoder, reads them as positive); encoders never produce them. */
	switch (c) {
	case 0xcc: case 0xd0: n = 1; break;
	case 0xcd: case 0xd1: n = 2; break;
	case 0xce: case 0xd2: n = 4; break;
	case 0xcf: case 0xd3: n = 8; break;
	default: return PROTO_E_BAD_SHAPE;
	}
	if (len - *pos < n)
		return PROTO_E_TRUNCATED;
	if (c >= 0xd0 && (buf[*pos] & 0x80))
		return PROTO_E_BAD_SHAPE; /* negative */
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++)
		x = x << 8 | buf[*pos + i];
	*pos += n;
	*v = x;
	return 0;
}

int proto_frame_peek(const uint8_t *buf, size_t len, uint32_t *type, uint32_t *request_id)
{
	size_t pos = 0;
	uint64_t t, r;
	int rc;

	if (buf == NULL || type == NULL || request_id == NULL)
		return PROTO_E_BAD_ARGUMENT;
	if (len > PROTO_MAX_FRAME_BYTES)
		return PROTO_E_TOO_LARGE;
	if (len < 1)
		return PROTO_E_TRUNCATED;
	uint8_t c = buf[pos++];
	if (c == 0xdc || c == 0xdd) { /* array16/32 holding 3: legal, if not canonical */
		size_t n = c == 0xdc ? 2 : 4;
		uint32_t count = 0;
		if (len - pos < n)
			return PROTO_E_TRUNCATED;
		for (size_t i = 0; i < n; i++)
			count = count << 8 | buf[pos + i];
		pos += n;
		if (count != 3)
			return PROTO_E_BAD_SHAPE;
	} else if (c != 0x93) {
		return c == 0xc1 ? PROTO_E_MALFORMED : PROTO_E_BAD_SHAPE;
	}
	if ((rc = read_uint(buf, len, &pos, &t)) != 0 || (rc = read_uint(buf, len, &pos, &r)) != 0)
		return rc;
	if (t > UINT32_MAX || r > UINT32_MAX)
		return PROTO_E_OUT_OF_RANGE;
	*type = (uint32_t)t;
	*request_id = (uint32_t)r;
	return 0;
}

/* The request id an error about this frame carries (spec/protocol.md §3.4): the frame starts with
 * an array head of at least two elements and two non-negative integers, the second at most
 * uint32. The count, the type's value and everything after the two integers do not matter: an
 * error about them still concerns this request. */
uint32_t proto_frame_error_request_id(const uint8_t *buf, size_t len)
{
	size_t pos = 0;
	uint64_t t, r;
	uint32_t count;

	if (buf == NULL || len < 1)
		return 0;
	uint8_t c = buf[pos++];
	if (c >= 0x90 && c <= 0x9f) {
		count = c & 0x0fu;
	} else if (c == 0xdc || c == 0xdd) {
		size_t n = c == 0xdc ? 2 : 4;
		if (len - pos < n)
			return 0;
		count = 0;
		for (size_t i = 0; i < n; i++)
			count = count << 8 | buf[pos + i];
		pos += n;
	} else {
		return 0;
	}
	if (count < 2 || read_uint(buf, len, &pos, &t) != 0 || read_uint(buf, len, &pos, &r) != 0 ||
	    r > UINT32_MAX)
		return 0;
	return (uint32_t)r;
}
