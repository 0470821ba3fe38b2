/* SPDX-License-Identifier: MPL-2.0 */
/* Fan-out: one content record, encoded and padded once, encrypted per recipient device. */
#include <stdlib.h>

#include "session_internal.h"

size_t wc_fanout_stride(const wc_content *c)
{
	return 2 + WC__PREKEY_PART_BYTES + WC__HEADER_BYTES +
	       wc__padded_len(wc_content_encoded_size(c)) + WC__TAG_BYTES;
}

int wc_fanout_encrypt(wc_session *const *sessions, size_t n, const wc_content *c, uint8_t *out,
		      size_t out_cap, size_t *out_lens)
{
	if (!sessions || !c || !out || !out_lens || n == 0)
		return WC_E_INVAL;
	for (size_t i = 0; i < n; i++)
		if (!sessions[i] || !(sessions[i]->flags & WC__F_HAS_CKS) ||
		    sessions[i]->ns >= UINT32_MAX - 1)
			return WC_E_INVAL;
	size_t enc = wc_content_encoded_size(c);
	if (enc > WC_PLAINTEXT_MAX_BYTES)
		return WC_E_TOO_LARGE;
	size_t stride = wc_fanout_stride(c), padded_len = wc__padded_len(enc);
	if (out_cap / stride < n)
		return WC_E_SPACE;
	uint8_t *padded = malloc(padded_len);
	if (!padded)
		return WC_E_NOMEM;
	size_t len;
	int rc = wc_content_encode(c, padded, padded_len, &len);
	if (rc != WC_OK)
		goto out;
	wc__pad(padded, len, padded);
	/* Every session was checked above, so no encryption below can fail half-way. */
	for (size_t i = 0; i < n; i++) {
		rc = wc__session_encrypt_padded(sessions[i], padded, padded_len, out + i * stride,
						stride, &out_lens[i]);
		if (rc != WC_OK)
			goto out;
	}
out:
	sodium_memzero(padded, padded_len);
	free(padded);
	return rc;
}
