/* SPDX-License-Identifier: MPL-2.0 */
/* String classes of the wire format: UTF-8 text, printable ASCII tokens, slugs. */
#include "schema_internal.h"

int proto__check_utf8(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		uint32_t cp;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return PROTO_E_BAD_STRING;
		}
		if (len - i - 1 < n)
			return PROTO_E_BAD_STRING;
		for (size_t k = 1; k <= n; k++) {
			uint8_t cc = s[i + k];
			if ((cc & 0xc0) != 0x80)
				return PROTO_E_BAD_STRING;
			cp = (cp << 6) | (cc & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return PROTO_E_BAD_STRING;
		i += n + 1;
	}
	return 0;
}

int proto__check_ascii(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return PROTO_E_BAD_STRING;
	return 0;
}

static int slug_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int proto__check_slug(const uint8_t *s, size_t len)
{
	if (len == 0 || !slug_char(s[0]))
		return PROTO_E_BAD_STRING;
	for (size_t i = 1; i < len; i++)
		if (!slug_char(s[i]) && s[i] != '-')
			return PROTO_E_BAD_STRING;
	return 0;
}

bool proto_slug_valid(const char *s, size_t len)
{
	return s && len <= PROTO_MAX_SLUG_BYTES && proto__check_slug((const uint8_t *)s, len) == 0;
}

bool proto_text_valid(const void *s, size_t len)
{
	return (s || len == 0) && proto__check_utf8(s, len) == 0;
}

int proto__check_string(uint8_t kind, const uint8_t *s, size_t len)
{
	switch (kind) {
	case PROTO__K_TEXT:
		return proto__check_utf8(s, len);
	case PROTO__K_ASCII:
		return proto__check_ascii(s, len);
	case PROTO__K_SLUG:
		return proto__check_slug(s, len);
	default:
		return 0;
	}
}

int proto__check_request_id(unsigned flags, uint32_t request_id)
{
	if ((flags & (PROTO_F_REQUEST | PROTO_F_REPLY)) && !(flags & PROTO_F_PUSH))
		return request_id != 0 ? 0 : PROTO_E_BAD_REQUEST_ID;
	if ((flags & PROTO_F_PUSH) && !(flags & (PROTO_F_REQUEST | PROTO_F_REPLY)))
		return request_id == 0 ? 0 : PROTO_E_BAD_REQUEST_ID;
	return 0; /* error: a reply, or a push when no request id is known */
}
