/* SPDX-License-Identifier: MPL-2.0 */
/* Fuzz target for the frame decoder. Whatever the bytes: no crash, no undefined behaviour, no
 * allocation beyond the scan's bounds; and every frame that decodes re-encodes canonically to a
 * frame that decodes to the same canonical bytes again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wakks_protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static proto_frame frame, again;
static uint8_t out1[PROTO_MAX_FRAME_BYTES], out2[PROTO_MAX_FRAME_BYTES];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t type, rid;
	const char *field = NULL;
	int peeked = proto_frame_peek(data, size, &type, &rid);
	/* Read from every frame the relay receives, so it must be safe on any bytes. */
	uint32_t error_rid = proto_frame_error_request_id(data, size);
	int rc = proto_frame_decode_diag(data, size, &frame, &field);
	if (rc != 0) {
		if (proto_errname(rc) == NULL || field == NULL)
			abort(); /* every failure has a named code and a field string */
		return 0;
	}
	if (peeked != 0 || type != frame.type || rid != frame.request_id)
		abort(); /* peek must agree with a successful decode */
	if (error_rid != frame.request_id)
		abort(); /* a frame that decodes has a readable request id, its own */
	if (proto_frame_validate(&frame) != 0)
		abort(); /* decode and validate enforce the same rules */

	size_t n1 = 0, n2 = 0;
	if (proto_frame_encode(&frame, out1, sizeof out1, &n1) != 0)
		abort();
	if (n1 > size)
		abort(); /* canonical is never longer than what was accepted */
	if (proto_frame_decode(out1, n1, &again) != 0)
		abort();
	if (proto_frame_encode(&again, out2, sizeof out2, &n2) != 0 || n1 != n2 ||
	    memcmp(out1, out2, n1) != 0)
		abort();
	return 0;
}
