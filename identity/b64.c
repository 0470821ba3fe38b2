/* SPDX-License-Identifier: MPL-2.0 */
/* base64url (RFC 4648 §5, no padding), strict on decode, and small byte helpers. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "identity_internal.h"

size_t id_b64url_len(size_t n)
{
	return (n / 3) * 4 + ((n % 3) ? (n % 3) + 1 : 0);
}

size_t id_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (cap < need)
		return 0;
	sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return strlen(out);
}

char *id_b64url_encode_alloc(const uint8_t *in, size_t n)
{
	size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = malloc(need);
	if (!out)
		return NULL;
	sodium_bin2base64(out, need, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

bool id_b64url_charset(const char *in, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

int id_b64url_decode(const char *in, size_t len, uint8_t **out, size_t *out_len)
{
	if (!id_b64url_charset(in, len) || len % 4 == 1)
		return ID_ERR_TOKEN_BASE64;
	size_t cap = len / 4 * 3 + 3;
	uint8_t *buf = malloc(cap + 1);
	if (!buf)
		return ID_ERR_NOMEM;
	size_t got = 0;
	/* libsodium rejects characters outside the alphabet, leftover input and non-zero trailing
	 * bits, so every byte string has exactly one accepted encoding. */
	if (sodium_base642bin(buf, cap, in, len, NULL, &got, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
		free(buf);
		return ID_ERR_TOKEN_BASE64;
	}
	buf[got] = 0;
	*out = buf;
	*out_len = got;
	return 0;
}

void id__sha256(const uint8_t *in, size_t len, uint8_t out[ID_HASH_BYTES])
{
	crypto_hash_sha256(out, in, len);
}

void id__put_u16be(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void id__put_u64be(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

uint16_t id__get_u16be(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

uint64_t id__get_u64be(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

bool id__ascii_case_equal(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
		if (x == 0)
			return true;
	}
}

int id__json_string(const json_t *obj, const char *name, const char **out, size_t *out_len,
		    int type_err)
{
	json_t *v = json_object_get(obj, name);
	*out = NULL;
	if (out_len)
		*out_len = 0;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return type_err;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (strlen(s) != n) /* embedded NUL: never compare such a value as a C string */
		return type_err;
	*out = s;
	if (out_len)
		*out_len = n;
	return 0;
}
