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
	/* Values still expected at each enclosing level; the current level's count lives in `cur`
	 * so the common path does not wait on a store to memory. */
	uint64_t outer[PROTO_MAX_DEPTH];
	unsigned depth = 0;
	uint64_t cur = 1;
	size_t pos = 0;
	size_t objects = 0;

	for (;;) {
		while (cur == 0) {
			if (depth == 0)
				goto done;
			cur = outer[--depth];
		}
		cur--;
		if (pos >= len)
			return PROTO_E_TRUNCATED;
		objects++;

		uint8_t c = buf[pos++];
		size_t avail = len - pos;
		uint64_t skip = 0;  /* payload bytes after the type byte */
		uint64_t items = 0; /* values inside a container */

		/* The frequent tokens first: keys (fixstr), ids and ciphertexts (bin8/16), maps. */
		if ((c & 0xe0) == 0xa0) {
			skip = c & 0x1fu;
			goto scalar;
		}
		if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
			continue;
		if (c <= 0x8f) {
			items = 2u * (c & 0x0fu);
			goto container;
		}
		if (c <= 0x9f) {
			items = c & 0x0fu;
			goto container;
		}
		switch (c) {
		case 0xc4: case 0xd9: /* bin8, str8 */
			if (avail < 1)
				return PROTO_E_TRUNCATED;
			skip = 1 + (uint64_t)buf[pos];
			goto scalar;
		case 0xc5: case 0xda: /* bin16, str16 */
			if (avail < 2)
				return PROTO_E_TRUNCATED;
			skip = 2 + (uint64_t)be16(buf + pos);
			goto scalar;
		case 0xc6: case 0xdb: /* bin32, str32 */
			if (avail < 4)
				return PROTO_E_TRUNCATED;
			skip = 4 + (uint64_t)be32(buf + pos);
			goto scalar;
		case 0xc7: /* ext8: length, type, data */
			if (avail < 1)
				return PROTO_E_TRUNCATED;
			skip = 2 + (uint64_t)buf[pos];
			goto scalar;
		case 0xc8:
			if (avail < 2)
				return PROTO_E_TRUNCATED;
			skip = 3 + (uint64_t)be16(buf + pos);
			goto scalar;
		case 0xc9:
			if (avail < 4)
				return PROTO_E_TRUNCATED;
			skip = 5 + (uint64_t)be32(buf + pos);
			goto scalar;
		case 0xca: skip = 4; goto scalar;
		case 0xcb: skip = 8; goto scalar;
		case 0xcc: case 0xd0: skip = 1; goto scalar;
		case 0xcd: case 0xd1: skip = 2; goto scalar;
		case 0xce: case 0xd2: skip = 4; goto scalar;
		case 0xcf: case 0xd3: skip = 8; goto scalar;
		case 0xd4: skip = 2; goto scalar; /* fixext: type + 1, 2, 4, 8, 16 */
		case 0xd5: skip = 3; goto scalar;
		case 0xd6: skip = 5; goto scalar;
		case 0xd7: skip = 9; goto scalar;
		case 0xd8: skip = 17; goto scalar;
		case 0xdc: /* array16 */
			if (avail < 2)
				return PROTO_E_TRUNCATED;
			items = be16(buf + pos);
			pos += 2;
			goto container;
		case 0xdd:
			if (avail < 4)
				return PROTO_E_TRUNCATED;
			items = be32(buf + pos);
			pos += 4;
			goto container;
		case 0xde: /* map16 */
			if (avail < 2)
				return PROTO_E_TRUNCATED;
			items = 2u * (uint64_t)be16(buf + pos);
			pos += 2;
			goto container;
		case 0xdf:
			if (avail < 4)
				return PROTO_E_TRUNCATED;
			items = 2u * (uint64_t)be32(buf + pos);
			pos += 4;
			goto container;
		default: /* 0xc1 is never used */
			return PROTO_E_MALFORMED;
		}
scalar:
		if (skip > len - pos)
			return PROTO_E_TRUNCATED;
		pos += (size_t)skip;
		continue;
container:
		if (depth >= PROTO_MAX_DEPTH) /* it would open level depth + 1 */
			return PROTO_E_TOO_DEEP;
		if (items > len - pos) /* each value needs at least one byte */
			return PROTO_E_TRUNCATED;
		if (items > 0) {
			outer[depth++] = cur;
			cur = items;
		}
	}
done:
	/* Every object takes a byte, so counting after the walk still bounds msgpack-c's zone. */
	if (objects > PROTO__MAX_OBJECTS)
		return PROTO_E_OVER_LIMIT;
	return pos == len ? 0 : PROTO_E_TRAILING;
}
