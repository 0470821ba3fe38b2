/* SPDX-License-Identifier: MPL-2.0 */
/* The consent record parser on arbitrary bytes: never reads outside the input, and every
 * record it accepts has views inside the input and fields within their bounds. */
#include <stdint.h>
#include <stdlib.h>

#include "wakks_consent_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const void *p, size_t n, const uint8_t *data, size_t size)
{
	const uint8_t *b = p;
	if (n && (b < data || b + n > data + size))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	proto_consent_record r;
	const char *why = NULL;
	if (proto_consent_record_parse(data, size, &r, &why) != 0) {
		if (!why)
			abort(); /* every refusal says why */
		return 0;
	}
	if (r.kind != 1 && r.kind != 2)
		abort();
	inside(r.account, 16, data, size);
	inside(r.device, 16, data, size);
	inside(r.text_sha256, 32, data, size);
	inside(r.tenant.ptr, r.tenant.len, data, size);
	inside(r.unit.ptr, r.unit.len, data, size);
	inside(r.client_version.ptr, r.client_version.len, data, size);
	if (r.tenant.len < 1 || r.tenant.len > 32 || r.unit.len > 32)
		abort();
	return 0;
}
