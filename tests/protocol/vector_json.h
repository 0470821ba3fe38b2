/* SPDX-License-Identifier: MPL-2.0 */
/* Conversions between proto_frame and the JSON form of spec/vectors/protocol.json (bin as hex,
 * str as string), driven by the codec's own schema tables. Test code only. */
#ifndef WAKKS_TEST_VECTOR_JSON_H
#define WAKKS_TEST_VECTOR_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "wakks_protocol.h"

/* Bump allocator for the bytes a JSON-built frame points to. */
struct arena {
	uint8_t *buf;
	size_t cap, len;
};

/* Decodes lowercase or uppercase hex into a fresh malloc'd buffer; NULL on bad hex. */
uint8_t *hex_decode(const char *hex, size_t *len);
/* Builds *f (type, request id, body) from a vector's "frame" object. Strings point into j, bytes
 * into a. Returns 0, or -1 if the JSON does not fit the schema. */
int frame_from_json(const json_t *j, proto_frame *f, struct arena *a);
/* The JSON form of a decoded frame: {"type", "request_id", "body"}. New reference. */
json_t *frame_to_json(const proto_frame *f);

#endif
