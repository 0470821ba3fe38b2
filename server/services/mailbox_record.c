/* SPDX-License-Identifier: MPL-2.0 */
#include "services/mailbox_record.h"

#include <string.h>

size_t mailbox_record_header(const struct mailbox_record *rec, uint8_t out[MAILBOX_RECORD_HEADER_MAX])
{
	size_t tl = rec->tenant_len > 64 ? 64 : rec->tenant_len;
	size_t ul = rec->unit_len > 64 ? 64 : rec->unit_len;
	size_t nb = rec->n_blobs > MAILBOX_MAX_BLOBS ? MAILBOX_MAX_BLOBS : rec->n_blobs;
	size_t n = 0;
	out[n++] = MAILBOX_RECORD_VERSION;
	out[n++] = (uint8_t)((rec->flags & ~MAILBOX_FLAG_BLOBS) | (nb ? MAILBOX_FLAG_BLOBS : 0));
	out[n++] = (uint8_t)tl;
	if (tl)
		memcpy(out + n, rec->tenant, tl);
	n += tl;
	out[n++] = (uint8_t)ul;
	if (ul)
		memcpy(out + n, rec->unit, ul);
	n += ul;
	if (nb) {
		out[n++] = (uint8_t)nb;
		memcpy(out + n, rec->blobs, nb * 16);
		n += nb * 16;
	}
	return n;
}

int mailbox_record_parse(const uint8_t *buf, size_t len, struct mailbox_record *out)
{
	size_t n = 0;
	if (len < 4 || buf[0] != MAILBOX_RECORD_VERSION)
		return -1;
	struct mailbox_record r = { .flags = buf[1] };
	n = 2;
	r.tenant_len = buf[n++];
	if (r.tenant_len > 64 || n + r.tenant_len + 1 > len)
		return -1;
	r.tenant = (const char *)buf + n;
	n += r.tenant_len;
	r.unit_len = buf[n++];
	if (r.unit_len > 64 || n + r.unit_len > len)
		return -1;
	r.unit = (const char *)buf + n;
	n += r.unit_len;
	if (r.flags & MAILBOX_FLAG_BLOBS) {
		if (n + 1 > len)
			return -1;
		r.n_blobs = buf[n++];
		if (r.n_blobs == 0 || r.n_blobs > MAILBOX_MAX_BLOBS || n + r.n_blobs * 16 > len)
			return -1;
		r.blobs = buf + n;
		n += r.n_blobs * 16;
	}
	r.ciphertext = buf + n;
	r.ciphertext_len = len - n;
	*out = r;
	return 0;
}
