/* SPDX-License-Identifier: MPL-2.0 */
/* Error texts, id hex, clocks and the big-endian record codec. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "wakks_internal.h"

const char *wakks_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define WAKKS__ERR_CASE(name, code, text) case code: return text;
		WAKKS_ERRNO_MAP(WAKKS__ERR_CASE)
#undef WAKKS__ERR_CASE
	default:
		break;
	}
	if (err < 0 && err > -64)
		return proto_strerror(err);
	return "unknown error";
}

void wakks_id_hex(const uint8_t id[WAKKS_ID_BYTES], char out[2 * WAKKS_ID_BYTES + 1])
{
	sodium_bin2hex(out, 2 * WAKKS_ID_BYTES + 1, id, WAKKS_ID_BYTES);
}

bool wakks__slug_ok(const char *s)
{
	return s && proto_slug_valid(s, strlen(s));
}

int wakks_id_parse(const char *hex, uint8_t out[WAKKS_ID_BYTES])
{
	uint8_t tmp[WAKKS_ID_BYTES];
	size_t n = 0;
	if (!hex || strlen(hex) != 2 * WAKKS_ID_BYTES ||
	    sodium_hex2bin(tmp, sizeof tmp, hex, strlen(hex), NULL, &n, NULL) != 0 ||
	    n != WAKKS_ID_BYTES)
		return WAKKS_E_INVAL;
	memcpy(out, tmp, WAKKS_ID_BYTES);
	return 0;
}

uint64_t wakks__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t wakks__mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool reserve(wakks__buf *b, size_t n)
{
	if (b->oom)
		return false;
	if (b->len + n <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 128;
	while (cap < b->len + n)
		cap *= 2;
	/* Records hold secrets: grow by copying, wiping the old buffer. */
	uint8_t *q = malloc(cap);
	if (!q) {
		b->oom = true;
		return false;
	}
	if (b->p) {
		memcpy(q, b->p, b->len);
		sodium_memzero(b->p, b->cap);
		free(b->p);
	}
	b->p = q;
	b->cap = cap;
	return true;
}

void wakks__put_u8(wakks__buf *b, uint8_t v)
{
	if (reserve(b, 1))
		b->p[b->len++] = v;
}

void wakks__put_u32(wakks__buf *b, uint32_t v)
{
	if (reserve(b, 4)) {
		wakks_store_be32(b->p + b->len, v);
		b->len += 4;
	}
}

void wakks__put_u64(wakks__buf *b, uint64_t v)
{
	if (reserve(b, 8)) {
		wakks_store_be64(b->p + b->len, v);
		b->len += 8;
	}
}

void wakks__put_bytes(wakks__buf *b, const void *p, size_t n)
{
	if (n && reserve(b, n)) {
		memcpy(b->p + b->len, p, n);
		b->len += n;
	}
}

void wakks__put_str8(wakks__buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n > 255) {
		b->oom = true;
		return;
	}
	wakks__put_u8(b, (uint8_t)n);
	wakks__put_bytes(b, s, n);
}

void wakks__buf_free(wakks__buf *b)
{
	if (b->p) {
		sodium_memzero(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof *b);
}

static const uint8_t *take(wakks__rd *r, size_t n)
{
	if (r->bad || r->len - r->off < n) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

uint8_t wakks__get_u8(wakks__rd *r)
{
	const uint8_t *p = take(r, 1);
	return p ? p[0] : 0;
}

uint32_t wakks__get_u32(wakks__rd *r)
{
	const uint8_t *p = take(r, 4);
	return p ? wakks_load_be32(p) : 0;
}

uint64_t wakks__get_u64(wakks__rd *r)
{
	const uint8_t *p = take(r, 8);
	return p ? wakks_load_be64(p) : 0;
}

void wakks__get_bytes(wakks__rd *r, void *out, size_t n)
{
	const uint8_t *p = take(r, n);
	if (p)
		memcpy(out, p, n);
	else
		memset(out, 0, n);
}

const uint8_t *wakks__get_view(wakks__rd *r, size_t n)
{
	return take(r, n);
}

void wakks__get_str8(wakks__rd *r, char *out, size_t cap)
{
	uint8_t n = wakks__get_u8(r);
	const uint8_t *p = take(r, n);
	if (!p || n >= cap) {
		r->bad = true;
		out[0] = '\0';
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

bool wakks__rd_done(const wakks__rd *r)
{
	return !r->bad && r->off == r->len;
}

_Static_assert(WAKKS_RELAY_CONSENT_REQUIRED == PROTO_E_CONSENT_REQUIRED &&
		       WAKKS_RELAY_DEVICE_MISMATCH == PROTO_E_DEVICE_MISMATCH &&
		       WAKKS_RELAY_AUTH_FAILED == PROTO_E_AUTH_FAILED &&
		       WAKKS_RELAY_ATTESTATION_REJECTED == PROTO_E_ATTESTATION_REJECTED &&
		       WAKKS_RELAY_NOT_FOUND == PROTO_E_NOT_FOUND &&
		       WAKKS_RELAY_QUOTA_EXCEEDED == PROTO_E_QUOTA_EXCEEDED &&
		       WAKKS_RELAY_RATE_LIMITED == PROTO_E_RATE_LIMITED &&
		       WAKKS_RELAY_FORBIDDEN == PROTO_E_FORBIDDEN &&
		       WAKKS_RELAY_TOO_MANY_DEVICES == PROTO_E_TOO_MANY_DEVICES &&
		       WAKKS_RELAY_UNAVAILABLE == PROTO_E_UNAVAILABLE,
	       "relay codes in wakks.h follow the protocol table");
