/* SPDX-License-Identifier: MPL-2.0 */
/* The plaintext content record (spec §Content record). */
#include "wc_internal.h"

#define CONTENT_VERSION 1

size_t wc_content_encoded_size(const wc_content *c)
{
	return WC_CONTENT_HEADER_BYTES + c->body_len;
}

int wc_content_encode(const wc_content *c, uint8_t *out, size_t out_cap, size_t *out_len)
{
	if (!c || !out || !out_len || (!c->body && c->body_len))
		return WC_E_INVAL;
	if (c->kind < WC_KIND_TEXT || c->kind > WC_KIND_SYSTEM)
		return WC_E_INVAL;
	if (c->body_len > WC_CONTENT_BODY_MAX)
		return WC_E_TOO_LARGE;
	size_t need = WC_CONTENT_HEADER_BYTES + c->body_len;
	if (out_cap < need)
		return WC_E_SPACE;
	uint8_t *p = out;
	*p++ = CONTENT_VERSION;
	*p++ = c->kind;
	memcpy(p, c->message_id, 16);
	memcpy(p + 16, c->conversation_id, 16);
	wakks_store_be64(p + 32, c->sent_ms);
	memcpy(p + 40, c->sender_account, 16);
	memcpy(p + 56, c->sender_device, 16);
	wakks_store_be32(p + 72, (uint32_t)c->body_len);
	p += 76;
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
	if (in[0] != CONTENT_VERSION)
		return WC_E_VERSION;
	if (len < WC_CONTENT_HEADER_BYTES)
		return WC_E_FORMAT;
	memset(&c, 0, sizeof c);
	c.kind = in[1];
	if (c.kind < WC_KIND_TEXT || c.kind > WC_KIND_SYSTEM)
		return WC_E_FORMAT;
	const uint8_t *p = in + 2;
	memcpy(c.message_id, p, 16);
	memcpy(c.conversation_id, p + 16, 16);
	c.sent_ms = wakks_load_be64(p + 32);
	memcpy(c.sender_account, p + 40, 16);
	memcpy(c.sender_device, p + 56, 16);
	c.body_len = wakks_load_be32(p + 72);
	if (c.body_len != len - WC_CONTENT_HEADER_BYTES)
		return WC_E_FORMAT;
	c.body = in + WC_CONTENT_HEADER_BYTES;
	*out = c;
	return WC_OK;
}
