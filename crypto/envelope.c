/* SPDX-License-Identifier: MPL-2.0 */
/* The per-device envelope's outer layer and plaintext padding (spec §Envelope, §Padding). */
#include "session_internal.h"

size_t wc_envelope_plaintext_max(size_t len)
{
	size_t fixed = 2 + WC__HEADER_BYTES + WC__TAG_BYTES;
	return len > fixed ? len - fixed : 0;
}

int wc__envelope_parse(const uint8_t *env, size_t len, struct wc__envelope *out)
{
	struct wc__envelope e;
	size_t off = 2;

	if (!env || len < 2)
		return WC_E_FORMAT;
	if (env[0] != WC__ENVELOPE_VERSION)
		return WC_E_VERSION;
	memset(&e, 0, sizeof e);
	e.type = env[1];
	if (e.type == WC__TYPE_PREKEY) {
		if (len < off + WC__PREKEY_PART_BYTES)
			return WC_E_FORMAT;
		const uint8_t *p = env + off;
		e.info.is_prekey = 1;
		memcpy(e.info.sender_identity_key, p, 32);
		memcpy(e.info.base_key, p + 32, 32);
		e.info.signed_prekey_id = wakks_load_be32(p + 64);
		if (p[68] > 1)
			return WC_E_FORMAT;
		e.info.has_one_time_prekey = p[68];
		e.info.one_time_prekey_id = wakks_load_be32(p + 69);
		if (!e.info.has_one_time_prekey && e.info.one_time_prekey_id != 0)
			return WC_E_FORMAT;
		off += WC__PREKEY_PART_BYTES;
	} else if (e.type != WC__TYPE_MESSAGE) {
		return WC_E_FORMAT;
	}
	if (len < off + WC__HEADER_BYTES + WC__TAG_BYTES + 256)
		return WC_E_FORMAT;
	memcpy(e.dh, env + off, 32);
	e.pn = wakks_load_be32(env + off + 32);
	e.n = wakks_load_be32(env + off + 36);
	if (e.n == UINT32_MAX || e.pn == UINT32_MAX)
		return WC_E_FORMAT; /* no sender ever reaches them: counters stop one short */
	off += WC__HEADER_BYTES;
	e.prefix = env;
	e.prefix_len = off;
	e.body = env + off;
	e.body_len = len - off;
	if (e.body_len - WC__TAG_BYTES > wc__padded_len(WC_PLAINTEXT_MAX_BYTES))
		return WC_E_TOO_LARGE;
	*out = e;
	return WC_OK;
}

int wc_envelope_peek(const uint8_t *envelope, size_t len, wc_envelope_info *out)
{
	struct wc__envelope e;
	if (!out)
		return WC_E_INVAL;
	int rc = wc__envelope_parse(envelope, len, &e);
	if (rc != WC_OK)
		return rc;
	*out = e.info;
	return WC_OK;
}

void wc__pad(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t padded = wc__padded_len(len);
	if (out != in)
		memmove(out, in, len);
	out[len] = 0x80;
	memset(out + len + 1, 0, padded - len - 1);
}
