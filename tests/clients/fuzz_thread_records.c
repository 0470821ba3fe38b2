/* SPDX-License-Identifier: MPL-2.0 */
/* The decoders of spec/client.md §13-§15 and crypto's v2 content record on arbitrary bytes:
 * never read outside the input, and what they accept re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "threads_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wc_content c;
	if (wc_content_decode(data, size, &c) == 0) {
		uint8_t *out = malloc(size ? size : 1);
		size_t n = 0;
		if (!out || wc_content_encode(&c, out, size, &n) != 0 || n != size ||
		    memcmp(out, data, size) != 0)
			abort();
		free(out);
	}
	wakks_notice nt;
	if (wakks__notice_decode(data, size, &nt) == 0) {
		wakks__buf b = { 0 };
		if (wakks__notice_encode(&nt, &b) != 0 || b.len != size || memcmp(b.p, data, size))
			abort();
		wakks__buf_free(&b);
	}
	uint64_t r;
	const uint8_t *ids;
	size_t count;
	if (wakks__receipt_decode(data, size, &r, &ids, &count) == 0 &&
	    (ids < data || ids + 16 * count > data + size))
		abort();
	struct wakks__presentation p;
	if (wakks__presentation_decode(data, size, &p) == 0 &&
	    ((const uint8_t *)p.token < data ||
	     (const uint8_t *)p.token + p.token_len > data + size || strlen(p.issuer) == 0))
		abort();
	return 0;
}
