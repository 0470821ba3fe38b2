/* SPDX-License-Identifier: MPL-2.0 */
/* Structural pre-scan of raw msgpack, before msgpack-c sees the bytes.
 *
 * msgpack-c allocates an array's or map's element storage as soon as it reads the container
 * header, sized by the count the peer declared (5 bytes `dd ff ff ff ff` ask for ~100 GB). This
 * scan walks the token stream iteratively and rejects any frame in which a declared count or
 * length is not backed by bytes actually present (every element takes at least one byte), that
 * nests deeper than PROTO_MAX_DEPTH, holds more than PROTO__MAX_OBJECTS objects, or is followed
 * by trailing bytes. It allocates nothing. */
#include "schema_internal.h"

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int proto__scan(const uint8_t *buf, size_t len)
{
	uint64_t left[PROTO_MAX_DEPTH + 1]; /* values still expected at each open level */
	unsigned depth = 0;
	size_t pos = 0;
	uint32_t objects = 0;

	left[0] = 1;
	for (;;) {
		while (left[depth] == 0) {
			if (depth == 0)
				goto done;
			depth--;
		}
		left[depth]--;
		if (pos >= len)
			return PROTO_E_TRUNCATED;
		if (++objects > PROTO__MAX_OBJECTS)
			return PROTO_E_OVER_LIMIT;

		uint8_t c = buf[pos++];
		size_t avail = len - pos;
		uint64_t skip = 0;   /* payload bytes after the type byte */
		uint64_t items = 0;  /* values inside a container */
		int container = 0;

		if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
			skip = 0;
		} else if (c <= 0x8f) {
			container = 1;
			items = 2u * (c & 0x0fu);
		} else if (c <= 0x9f) {
			container = 1;
			items = c & 0x0fu;
		} else if (c <= 0xbf) {
			skip = c & 0x1fu;
		} else {
			switch (c) {
			case 0xc4: case 0xd9: /* bin8, str8 */
				if (avail < 1)
					return PROTO_E_TRUNCATED;
				skip = 1 + (uint64_t)buf[pos];
				break;
			case 0xc5: case 0xda: /* bin16, str16 */
				if (avail < 2)
					return PROTO_E_TRUNCATED;
				skip = 2 + (uint64_t)be16(buf + pos);
				break;
			case 0xc6: case 0xdb: /* bin32, str32 */
				if (avail < 4)
					return PROTO_E_TRUNCATED;
				skip = 4 + (uint64_t)be32(buf + pos);
				break;
			case 0xc7: /* ext8: len, type */
				if (avail < 1)
					return PROTO_E_TRUNCATED;
				skip = 2 + (uint64_t)buf[pos];
				break;
			case 0xc8:
				if (avail < 2)
					return PROTO_E_TRUNCATED;
				skip = 3 + (uint64_t)be16(buf + pos);
				break;
			case 0xc9:
				if (avail < 4)
					return PROTO_E_TRUNCATED;
				skip = 5 + (uint64_t)be32(buf + pos);
				break;
			case 0xca: skip = 4; break;
			case 0xcb: skip = 8; break;
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xce: case 0xd2: skip = 4; break;
			case 0xcf: case 0xd3: skip = 8; break;
			case 0xd4: skip = 2; break;
			case 0xd5: skip = 3; break;
			case 0xd6: skip = 5; break;
			case 0xd7: skip = 9; break;
			case 0xd8: skip = 17; break;
			case 0xdc: /* array16 */
				if (avail < 2)
					return PROTO_E_TRUNCATED;
				container = 1;
				items = be16(buf + pos);
				pos += 2;
				break;
			case 0xdd:
				if (avail < 4)
					return PROTO_E_TRUNCATED;
				container = 1;
				items = be32(buf + pos);
				pos += 4;
				break;
			case 0xde: /* map16 */
				if (avail < 2)
					return PROTO_E_TRUNCATED;
				container = 1;
				items = 2u * (uint64_t)be16(buf + pos);
				pos += 2;
				break;
			case 0xdf:
				if (avail < 4)
					return PROTO_E_TRUNCATED;
				container = 1;
				items = 2u * (uint64_t)be32(buf + pos);
				pos += 4;
				break;
			default: /* 0xc1 is never used */
				return PROTO_E_MALFORMED;
			}
		}

		if (container) {
			if (depth + 1 > PROTO_MAX_DEPTH)
				return PROTO_E_TOO_DEEP;
			if (items > len - pos) /* each value needs at least one byte */
				return PROTO_E_TRUNCATED;
			if (items > 0)
				left[++depth] = items;
		} else {
			if (skip > len - pos)
				return PROTO_E_TRUNCATED;
			pos += (size_t)skip;
		}
	}
done:
	return pos == len ? 0 : PROTO_E_TRAILING;
}
