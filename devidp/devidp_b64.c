/* SPDX-License-Identifier: MPL-2.0 */
/* base64url (RFC 4648 §5, no padding) for codes, token segments and key thumbprints. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "devidp_internal.h"

size_t devidp__b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (cap < need)
		return 0;
	sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return strlen(out);
}

char *devidp__b64url_encode_alloc(const uint8_t *in, size_t n)
{
	size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = malloc(need);
	if (!out)
		return NULL;
	sodium_bin2base64(out, need, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

bool devidp__b64url_charset(const char *in, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

int devidp__b64url_decode(const char *in, size_t len, uint8_t **out, size_t *out_len)
{
	size_t cap = len / 4 * 3 + 3;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return ID_ERR_NOMEM;
	size_t got = 0;
	if (sodium_base642bin(buf, cap, in, len, NULL, &got, NULL,
			      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
		free(buf);
		return ID_ERR_TOKEN_BASE64;
	}
	*out = buf;
	*out_len = got;
	return 0;
}
