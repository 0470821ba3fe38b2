/* SPDX-License-Identifier: MPL-2.0 */
#include "mailbox_record.h"

#include <string.h>

size_t mailbox_record_header(const struct mailbox_record *rec, uint8_t out[MAILBOX_RECORD_HEADER_MAX])
{
	size_t tl = rec->tenant_len > 64 ? 64 : rec->tenant_len;
	size_t ul = rec->unit_len > 64 ? 64 : rec->unit_len;
	size_t n = 0;
	out[n++] = MAILBOX_RECORD_VERSION;
	out[n++] = rec->flags;
	out[n++] = (uint8_t)tl;
	if (tl)
		memcpy(out + n, rec->tenant, tl);
	n += tl;
	out[n++] = (uint8_t)ul;
	if (ul)
		memcpy(out + n, rec->unit, ul);
	n += ul;
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
	r.ciphertext = buf + n;
	r.ciphertext_len = len - n;
	*out = r;
	return 0;
}
