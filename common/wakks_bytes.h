/* SPDX-License-Identifier: MPL-2.0 */
/* Big-endian loads and stores and hex digit values: the byte helpers every part of the tree
 * shares. Header-only with no dependency, so even crypto/ (libsodium alone) may include it. */
#ifndef WAKKS_BYTES_H
#define WAKKS_BYTES_H

#include <stdint.h>

static inline void wakks_store_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wakks_store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void wakks_store_be64(uint8_t *p, uint64_t v)
{
	wakks_store_be32(p, (uint32_t)(v >> 32));
	wakks_store_be32(p + 4, (uint32_t)v);
}

static inline uint16_t wakks_load_be16(const uint8_t *p)
{
	return (uint16_t)(((uint16_t)p[0] << 8) | p[1]);
}

static inline uint32_t wakks_load_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t wakks_load_be64(const uint8_t *p)
{
	return ((uint64_t)wakks_load_be32(p) << 32) | wakks_load_be32(p + 4);
}

/* The value 0..15 of a hex digit of either case, or -1. */
static inline int wakks_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
