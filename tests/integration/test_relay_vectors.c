/* SPDX-License-Identifier: MPL-2.0 */
/* Every invalid frame of spec/vectors/protocol.json, sent to a live relay, is answered with exactly
 * the vector's error code and request id (spec/protocol.md §3.4): the relay judges a bad frame as
 * every decoder does, not by its own earlier reading of the header. Sent after authentication (all
 * of them) and before it (those within the unauthenticated frame limit): decoding comes before
 * the connection's state, so both get the same answers. The connection stays open throughout. */
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "relay_proc.h"
#include "tclient.h"
#include "test.h"

#define UNAUTH_MAX_FRAME 32768

static struct relay_proc relay;
static struct tdev anna, stranger;
static json_t *doc;

static uint8_t *hex_bytes(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	uint8_t *b = malloc(n ? n : 1);
	if (!b || sodium_hex2bin(b, n, hex, n * 2, NULL, len, NULL) != 0 || *len != n) {
		free(b);
		return NULL;
	}
	return b;
}

/* Sends every invalid vector of at most max_len bytes on d and checks each answer; *sent counts
 * them. */
static void replay_invalid(struct tdev *d, size_t max_len, size_t *sent)
{
	json_t *invalid = json_object_get(doc, "invalid");
	size_t i;
	json_t *v;
	json_array_foreach(invalid, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));
		int code = (int)json_integer_value(json_object_get(v, "code"));
		json_t *rid = json_object_get(v, "rid");
		REQUIRE(name && code > 0 && json_is_integer(rid));
		size_t len = 0;
		uint8_t *bytes = hex_bytes(json_string_value(json_object_get(v, "hex")), &len);
		REQUIRE(bytes != NULL);
		if (len > max_len) {
			free(bytes);
			continue;
		}
		CHECK_EQ_INT(tdev_send_raw(d, bytes, len), 0);
		free(bytes);
		(*sent)++;
		if (tdev_wait(d, PROTO_T_ERROR, 5000) != PROTO_T_ERROR) {
			fprintf(stderr, "  vector %s: no error reply\n", name);
			CHECK(!"an error reply");
			return;
		}
		int got = (int)d->frame.body.error.code;
		uint32_t got_rid = d->frame.request_id;
		if (got != code || got_rid != (uint32_t)json_integer_value(rid))
			fprintf(stderr, "  vector %s: relay answered %s (%d) rid %u, want code %d rid %lld\n",
				name, proto_errname(-got) ? proto_errname(-got) : "?", got, got_rid, code,
				(long long)json_integer_value(rid));
		CHECK_EQ_INT(got, code);
		CHECK_EQ_INT(got_rid, (uint32_t)json_integer_value(rid));
	}
}

static void invalid_vectors_after_authentication(void)
{
	size_t n = json_array_size(json_object_get(doc, "invalid"));
	REQUIRE(n > 0);
	size_t sent = 0;
	replay_invalid(&anna, PROTO_MAX_FRAME_BYTES, &sent);
	CHECK_EQ_INT(sent, n);
	/* Still the same connection, still served. */
	static proto_frame f;
	proto_frame_init(&f, PROTO_T_KEY_COUNT_GET, 0);
	CHECK_EQ_INT(tdev_request(&anna, &f, 5000), PROTO_T_KEY_COUNT);
}

static void invalid_vectors_before_authentication(void)
{
	REQUIRE(tdev_connect(&stranger) == 0);
	size_t sent = 0;
	replay_invalid(&stranger, UNAUTH_MAX_FRAME, &sent);
	CHECK(sent > 0);
	/* Still open, and still unauthenticated: a valid request is refused for its state. */
	static proto_frame f;
	proto_frame_init(&f, PROTO_T_KEY_COUNT_GET, 0);
	CHECK_EQ_INT(tdev_request(&stranger, &f, 5000), PROTO_T_ERROR);
	CHECK_EQ_INT(stranger.frame.body.error.code, -PROTO_E_NOT_AUTHENTICATED);
}

static void a_relay_frame_that_decodes_is_an_unknown_type(void)
{
	/* ok = [4, 3, {}]: well-formed, but only the relay sends it (§3.4 step 4). */
	CHECK_EQ_INT(tdev_send_raw(&anna, "\x93\x04\x03\x80", 4), 0);
	REQUIRE(tdev_wait(&anna, PROTO_T_ERROR, 5000) == PROTO_T_ERROR);
	CHECK_EQ_INT(anna.frame.body.error.code, -PROTO_E_UNKNOWN_TYPE);
	CHECK_EQ_INT(anna.frame.request_id, 3);
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
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
		fprintf(stderr, "%s: %s\n", argv[1], e.text);
		return 1;
	}
	/* Every vector in quick succession: generous rate limits, so each answer is about its frame
	 * and never `rate_limited` (which comes first, §3.4). */
	const char *cfg = "[limits]\nrequests_per_second = 100000\nrequest_burst = 100000\n"
			  "unauth_requests_per_second = 100000\nunauth_request_burst = 100000\n"
			  "unauth_max_frame_bytes = 32768\n";
	if (sodium_init() < 0 || relay_proc_start(&relay, cfg, true) != 0)
		return 1;
	tdev_init(&anna, relay.port);
	tdev_init(&stranger, relay.port);
	if (tdev_register(&anna, "dev-mitid", "anna", 5) != 0)
		return 1;
	RUN(invalid_vectors_after_authentication);
	RUN(invalid_vectors_before_authentication);
	RUN(a_relay_frame_that_decodes_is_an_unknown_type);
	tdev_free(&anna);
	tdev_free(&stranger);
	relay_proc_cleanup(&relay);
	json_decref(doc);
	return TEST_RESULT();
}
