/* SPDX-License-Identifier: MPL-2.0 */
/* The plaintext content record (spec/crypto.md §11), versions 1 and 2 (with the thread
 * reference). */
#include <stdbool.h>

#include "wc_internal.h"

static bool slug_ok(const char *s, size_t len)
{
	if (len == 0 || len > WC_SLUG_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || (ch == '-' && i > 0);
		if (!ok)
			return false;
	}
	return true;
}

static bool is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* Shape of a thread reference: a unit thread names both slugs and a citizen, else none of them. */
static bool reference_ok(const uint8_t citizen[16], const char *tenant, size_t tl, const char *unit,
			 size_t ul)
{
	if (tl == 0 && ul == 0)
		return is_zero(citizen, 16);
	return slug_ok(tenant, tl) && slug_ok(unit, ul) && !is_zero(citizen, 16);
}

static bool is_v2(const wc_content *c)
{
	return c->version == 2;
}

size_t wc_content_encoded_size(const wc_content *c)
{
	if (is_v2(c))
		return WC_CONTENT_V2_HEADER_BYTES + strlen(c->tenant) + strlen(c->unit) + c->body_len;
	return WC_CONTENT_HEADER_BYTES + c->body_len;
}

int wc_content_encode(const wc_content *c, uint8_t *out, size_t out_cap, size_t *out_len)
{
	if (!c || !out || !out_len || (!c->body && c->body_len) || c->version > 2)
		return WC_E_INVAL;
	bool v2 = is_v2(c);
	uint8_t kmax = v2 ? WC_KIND_HISTORY : WC_KIND_SYSTEM;
	if (c->kind < WC_KIND_TEXT || c->kind > kmax)
		return WC_E_INVAL;
	size_t tl = v2 ? strnlen(c->tenant, sizeof c->tenant) : 0;
	size_t ul = v2 ? strnlen(c->unit, sizeof c->unit) : 0;
	if (v2 && (tl > WC_SLUG_MAX || ul > WC_SLUG_MAX ||
		   !reference_ok(c->citizen_account, c->tenant, tl, c->unit, ul)))
		return WC_E_INVAL;
	size_t head = v2 ? WC_CONTENT_V2_HEADER_BYTES + tl + ul : WC_CONTENT_HEADER_BYTES;
	if (c->body_len > WC_PLAINTEXT_MAX_BYTES - head)
		return WC_E_TOO_LARGE;
	size_t need = head + c->body_len;
	if (out_cap < need)
		return WC_E_SPACE;
	uint8_t *p = out;
	*p++ = v2 ? 2 : 1;
	*p++ = c->kind;
	memcpy(p, c->message_id, 16);
	memcpy(p + 16, c->conversation_id, 16);
	wakks_store_be64(p + 32, c->sent_ms);
	memcpy(p + 40, c->sender_account, 16);
	memcpy(p + 56, c->sender_device, 16);
	p += 72;
	if (v2) {
		memcpy(p, c->citizen_account, 16);
		p += 16;
		*p++ = (uint8_t)tl;
		memcpy(p, c->tenant, tl);
		p += tl;
		*p++ = (uint8_t)ul;
		memcpy(p, c->unit, ul);
		p += ul;
	}
	wakks_store_be32(p, (uint32_t)c->body_len);
	p += 4;
	if (c->body_len)
		memcpy(p, c->body, c->body_len);
	*out_len = need;
	return WC_OK;
}

int wc_content_decode(const uint8_t *in, size_t len, wc_content *out)
{
	wc_content c;
	if (!in || !out)
		return WC_E_INVAL;
	if (len < 1)
		return WC_E_FORMAT;
	if (in[0] != 1 && in[0] != 2)
		return WC_E_VERSION;
	bool v2 = in[0] == 2;
	if (len < (v2 ? WC_CONTENT_V2_HEADER_BYTES : WC_CONTENT_HEADER_BYTES))
		return WC_E_FORMAT;
	memset(&c, 0, sizeof c);
	c.version = in[0];
	c.kind = in[1];
	if (c.kind < WC_KIND_TEXT || c.kind > (v2 ? WC_KIND_HISTORY : WC_KIND_SYSTEM))
		return WC_E_FORMAT;
	const uint8_t *p = in + 2;
	memcpy(c.message_id, p, 16);
	memcpy(c.conversation_id, p + 16, 16);
	c.sent_ms = wakks_load_be64(p + 32);
	memcpy(c.sender_account, p + 40, 16);
	memcpy(c.sender_device, p + 56, 16);
	p += 72;
	const uint8_t *end = in + len;
	if (v2) {
		memcpy(c.citizen_account, p, 16);
		p += 16;
		size_t tl = *p++;
		if (tl > WC_SLUG_MAX || (size_t)(end - p) < tl + 1 + 4)
			return WC_E_FORMAT;
		memcpy(c.tenant, p, tl);
		p += tl;
		size_t ul = *p++;
		if (ul > WC_SLUG_MAX || (size_t)(end - p) < ul + 4)
			return WC_E_FORMAT;
		memcpy(c.unit, p, ul);
		p += ul;
		if (!reference_ok(c.citizen_account, c.tenant, tl, c.unit, ul))
			return WC_E_FORMAT;
	}
	c.body_len = wakks_load_be32(p);
	p += 4;
	if (c.body_len != (size_t)(end - p))
		return WC_E_FORMAT;
	c.body = p;
	*out = c;
	return WC_OK;
}
