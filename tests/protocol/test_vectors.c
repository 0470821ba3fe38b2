/* SPDX-License-Identifier: MPL-2.0 */
/* Replays spec/vectors/protocol.json: every valid vector decodes to its listed fields and (when
 * canonical) encodes back to its exact bytes; every invalid vector fails with its listed code, and
 * the request id an error about it carries is the listed one. */
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "vector_json.h"

static json_t *doc;
static proto_frame frame, built; /* large: static, not on the stack */
static uint8_t arena_buf[1 << 20];
static uint8_t out[PROTO_MAX_FRAME_BYTES];

static void test_valid_vectors(void)
{
	json_t *valid = json_object_get(doc, "valid");
	REQUIRE(json_array_size(valid) > 0);
	size_t i;
	json_t *v;
	int types_seen[256] = { 0 };
	json_array_foreach(valid, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		size_t len = 0;
		uint8_t *bytes = hex_decode(json_string_value(json_object_get(v, "hex")), &len);
		REQUIRE(bytes != NULL);
		const char *field = NULL;
		int rc = proto_frame_decode_diag(bytes, len, &frame, &field);
		if (rc != 0)
			fprintf(stderr, "  vector %s: %s (field '%s')\n", name, proto_strerror(rc), field);
		CHECK_EQ_INT(rc, 0);
		if (rc == 0) {
			json_t *got = frame_to_json(&frame);
			int same = json_equal(got, json_object_get(v, "frame"));
			if (!same) {
				char *s = json_dumps(got, JSON_COMPACT);
				fprintf(stderr, "  vector %s decoded to %s\n", name, s);
				free(s);
			}
			CHECK(same);
			json_decref(got);
			if (frame.type < 256)
				types_seen[frame.type] = 1;
			uint32_t t = 0, r = 0;
			CHECK_EQ_INT(proto_frame_peek(bytes, len, &t, &r), 0);
			CHECK_EQ_INT(t, frame.type);
			CHECK_EQ_INT(r, frame.request_id);
		}

		struct arena a = { arena_buf, sizeof arena_buf, 0 };
		CHECK_EQ_INT(frame_from_json(json_object_get(v, "frame"), &built, &a), 0);
		size_t out_len = 0;
		rc = proto_frame_encode(&built, out, sizeof out, &out_len);
		CHECK_EQ_INT(rc, 0);
		if (json_is_true(json_object_get(v, "canonical"))) {
			int same = rc == 0 && out_len == len && memcmp(out, bytes, len) == 0;
			if (!same)
				fprintf(stderr, "  vector %s: encoding differs\n", name);
			CHECK(same);
		}
		free(bytes);
	}
	/* Every frame type of the protocol has at least one valid vector. */
	for (uint32_t t = 0; t < 256; t++)
		if (proto_type_name(t) != NULL && !types_seen[t]) {
			fprintf(stderr, "  no valid vector for type %s\n", proto_type_name(t));
			CHECK(types_seen[t]);
		}
}

static void test_invalid_vectors(void)
{
	json_t *invalid = json_object_get(doc, "invalid");
	REQUIRE(json_array_size(invalid) > 0);
	size_t i;
	json_t *v;
	json_array_foreach(invalid, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *err = json_string_value(json_object_get(v, "error"));
		int code = (int)json_integer_value(json_object_get(v, "code"));
		size_t len = 0;
		uint8_t *bytes = hex_decode(json_string_value(json_object_get(v, "hex")), &len);
		REQUIRE(bytes != NULL);
		CHECK_EQ_INT(proto_errcode(err, strlen(err)), -code);
		const char *field = NULL;
		int rc = proto_frame_decode_diag(len ? bytes : (const uint8_t *)"", len, &frame, &field);
		if (rc != -code)
			fprintf(stderr, "  vector %s: got %s ('%s'), want %s\n", name,
				proto_errname(rc) ? proto_errname(rc) : "ok", field ? field : "", err);
		CHECK_EQ_INT(rc, -code);
		/* The request id the relay's error about this frame carries (spec/protocol.md §3.4). */
		json_t *rid = json_object_get(v, "rid");
		CHECK(json_is_integer(rid));
		uint32_t want_rid = (uint32_t)json_integer_value(rid);
		uint32_t got_rid = proto_frame_error_request_id(len ? bytes : (const uint8_t *)"", len);
		if (got_rid != want_rid)
			fprintf(stderr, "  vector %s: error request id %u, want %u\n", name, got_rid,
				want_rid);
		CHECK_EQ_INT(got_rid, want_rid);
		if (code == 7) { /* unknown type: the header is still readable for the error reply */
			uint32_t t = 0, r = 0;
			CHECK_EQ_INT(proto_frame_peek(bytes, len, &t, &r), 0);
			CHECK(proto_type_name(t) == NULL);
		}
		free(bytes);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s spec/vectors/protocol.json\n", argv[0]);
		return 2;
	}
	json_error_t e;
	doc = json_load_file(argv[1], 0, &e);
	if (!doc) {
		fprintf(stderr, "%s:%d: %s\n", argv[1], e.line, e.text);
		return 1;
	}
	CHECK_EQ_INT(json_integer_value(json_object_get(doc, "protocol_version")), PROTO_VERSION);
	RUN(test_valid_vectors);
	RUN(test_invalid_vectors);
	json_decref(doc);
	return TEST_RESULT();
}
