/* SPDX-License-Identifier: MPL-2.0 */
/* Replays spec/vectors/client.json (generated independently by gen_client_vectors.py) against
 * libwakks and crypto/: thread ids, v2 content records, receipt, notice, presentation and
 * history bodies, client message ids, and the invalid encodings each decoder must refuse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "test.h"
#include "threads_internal.h"
#include "wakks_cmid.h"

static json_t *doc;

static uint8_t *unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	uint8_t *b = malloc(n ? n : 1);
	size_t got = 0;
	if (!b || sodium_hex2bin(b, n ? n : 1, hex, strlen(hex), NULL, &got, NULL) != 0 || got != n) {
		free(b);
		return NULL;
	}
	*len = n;
	return b;
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static bool hex_eq(const uint8_t *b, size_t n, const char *hex)
{
	size_t l;
	uint8_t *want = unhex(hex, &l);
	bool ok = want && l == n && memcmp(want, b, n) == 0;
	free(want);
	return ok;
}

static void thread_ids(void)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(doc, "thread_ids"), i, v) {
		size_t l;
		uint8_t *cit = unhex(str(v, "citizen"), &l);
		REQUIRE(cit && l == 16);
		uint8_t id[16];
		wakks__conversation_id(cit, NULL, str(v, "tenant"), str(v, "unit"), id);
		CHECK(hex_eq(id, 16, str(v, "thread_id")));
		free(cit);
	}
}

static void content_records(void)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(doc, "content_v2"), i, v) {
		size_t l;
		uint8_t *enc = unhex(str(v, "encoded"), &l);
		REQUIRE(enc);
		wc_content c;
		REQUIRE(wc_content_decode(enc, l, &c) == 0);
		CHECK_EQ_INT(c.version, 2);
		CHECK_EQ_INT(c.kind, json_integer_value(json_object_get(v, "kind")));
		CHECK(strcmp(c.tenant, str(v, "tenant")) == 0 && strcmp(c.unit, str(v, "unit")) == 0);
		CHECK(hex_eq(c.citizen_account, 16, str(v, "citizen_account")));
		CHECK(hex_eq(c.body, c.body_len, str(v, "body")));
		if (c.tenant[0]) { /* the conversation id is the thread id of the reference */
			uint8_t id[16];
			wakks__conversation_id(c.citizen_account, NULL, c.tenant, c.unit, id);
			CHECK(memcmp(id, c.conversation_id, 16) == 0);
		}
		uint8_t out[70000];
		size_t n = 0;
		CHECK_EQ_INT(wc_content_encode(&c, out, sizeof out, &n), 0);
		CHECK(n == l && memcmp(out, enc, l) == 0);
		free(enc);
	}
}

static void bodies(void)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(doc, "notices"), i, v) {
		size_t l;
		uint8_t *enc = unhex(str(v, "encoded"), &l);
		wakks_notice n;
		REQUIRE(enc && wakks__notice_decode(enc, l, &n) == 0);
		CHECK_EQ_INT(n.type, json_integer_value(json_object_get(v, "type")));
		CHECK_EQ_INT(n.state, json_integer_value(json_object_get(v, "state")));
		CHECK(strcmp(n.note, str(v, "note")) == 0);
		CHECK(hex_eq(n.ref, 16, str(v, "ref")) && hex_eq(n.account, 16, str(v, "account")));
		wakks__buf b = { 0 };
		CHECK_EQ_INT(wakks__notice_encode(&n, &b), 0);
		CHECK(b.len == l && memcmp(b.p, enc, l) == 0);
		wakks__buf_free(&b);
		free(enc);
	}
	json_array_foreach(json_object_get(doc, "receipts"), i, v) {
		size_t l;
		uint8_t *enc = unhex(str(v, "encoded"), &l);
		uint64_t read_ms;
		const uint8_t *ids;
		size_t count;
		REQUIRE(enc && wakks__receipt_decode(enc, l, &read_ms, &ids, &count) == 0);
		CHECK(read_ms == (uint64_t)json_integer_value(json_object_get(v, "read_ms")));
		CHECK_EQ_INT(count, json_array_size(json_object_get(v, "message_ids")));
		wakks__buf b = { 0 };
		CHECK_EQ_INT(wakks__receipt_encode(read_ms, (const uint8_t(*)[16])ids, count, &b), 0);
		CHECK(b.len == l && memcmp(b.p, enc, l) == 0);
		wakks__buf_free(&b);
		free(enc);
	}
	json_array_foreach(json_object_get(doc, "presentations"), i, v) {
		size_t l;
		uint8_t *enc = unhex(str(v, "encoded"), &l);
		struct wakks__presentation p;
		REQUIRE(enc && wakks__presentation_decode(enc, l, &p) == 0);
		CHECK(strcmp(p.issuer, str(v, "issuer")) == 0);
		CHECK(hex_eq(p.challenge, 32, str(v, "challenge")));
		CHECK(p.token_len == strlen(str(v, "token")) &&
		      memcmp(p.token, str(v, "token"), p.token_len) == 0);
		/* The nonce a unit device expects, for the presenting device's key. */
		size_t kl;
		uint8_t *ik = unhex(str(v, "sender_identity_key"), &kl);
		char nonce[ID_NONCE_BUF_BYTES];
		REQUIRE(ik && id_nonce_compute(p.issuer, ik, p.challenge, nonce) == 0);
		CHECK(strcmp(nonce, str(v, "nonce")) == 0);
		free(ik);
		free(enc);
	}
	json_array_foreach(json_object_get(doc, "history"), i, v) {
		size_t l;
		uint8_t *enc = unhex(str(v, "encoded"), &l);
		REQUIRE(enc && l > 3 && enc[0] == 1);
		size_t count = ((size_t)enc[1] << 8) | enc[2], off = 3, k = 0;
		json_t *entries = json_object_get(v, "entries");
		CHECK_EQ_INT(count, json_array_size(entries));
		for (; k < count && off + 44 <= l; k++) {
			json_t *e = json_array_get(entries, k);
			CHECK(wakks_load_be64(enc + off) ==
			      (uint64_t)json_integer_value(json_object_get(e, "stored_ms")));
			CHECK(hex_eq(enc + off + 8, 32, str(e, "sender_ik")));
			size_t rl = wakks_load_be32(enc + off + 40);
			CHECK(hex_eq(enc + off + 44, rl, str(e, "record")));
			wc_content c;
			CHECK_EQ_INT(wc_content_decode(enc + off + 44, rl, &c), 0);
			off += 44 + rl;
		}
		CHECK(k == count && off == l);
		free(enc);
	}
}

/* Client message ids (spec/protocol.md §8.1): each vector is one step of a generator. */
static void client_message_ids(void)
{
	size_t i;
	json_t *v;
	json_t *list = json_object_get(doc, "cmids");
	CHECK(json_array_size(list) >= 8);
	json_array_foreach(list, i, v) {
		size_t rl, ll = 0;
		uint8_t *rnd = unhex(str(v, "random"), &rl), *last = NULL;
		REQUIRE(rnd && rl == WAKKS_CMID_RANDOM_BYTES);
		if (str(v, "last")) {
			last = unhex(str(v, "last"), &ll);
			REQUIRE(last && ll == 16);
		}
		uint8_t id[16];
		wakks_cmid_next(last, (uint64_t)json_integer_value(json_object_get(v, "now_ms")), rnd, id);
		if (!hex_eq(id, 16, str(v, "cmid")))
			fprintf(stderr, "  differs: %s\n", str(v, "name"));
		CHECK(hex_eq(id, 16, str(v, "cmid")));
		free(rnd);
		free(last);
	}
}

static void invalid_encodings_are_refused(void)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(doc, "invalid"), i, v) {
		size_t l;
		uint8_t *enc = unhex(str(v, "encoded"), &l);
		REQUIRE(enc);
		const char *what = str(v, "what");
		int rc = 0;
		if (strcmp(what, "content") == 0) {
			wc_content c;
			rc = wc_content_decode(enc, l, &c);
			if (rc == 0 && c.tenant[0]) { /* the client's own check: the thread id */
				uint8_t id[16];
				wakks__conversation_id(c.citizen_account, NULL, c.tenant, c.unit, id);
				rc = memcmp(id, c.conversation_id, 16) != 0 ? -1 : 0;
			}
		} else if (strcmp(what, "receipt") == 0) {
			uint64_t r;
			const uint8_t *ids;
			size_t n;
			rc = wakks__receipt_decode(enc, l, &r, &ids, &n);
		} else if (strcmp(what, "notice") == 0) {
			wakks_notice n;
			rc = wakks__notice_decode(enc, l, &n);
		} else if (strcmp(what, "presentation") == 0) {
			struct wakks__presentation p;
			rc = wakks__presentation_decode(enc, l, &p);
		} else if (strcmp(what, "history") == 0) {
			/* The shape check of a history body. */
			size_t count = l >= 3 ? ((size_t)enc[1] << 8) | enc[2] : 0, off = 3, k = 0;
			for (; count && k < count && off + 44 <= l; k++) {
				size_t rl = wakks_load_be32(enc + off + 40);
				if (l - off - 44 < rl)
					break;
				off += 44 + rl;
			}
			rc = count && k == count && off == l ? 0 : -1;
		}
		if (rc == 0)
			fprintf(stderr, "  accepted: %s (%s)\n", what, str(v, "why"));
		CHECK(rc != 0);
		free(enc);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2 || sodium_init() < 0) {
		fprintf(stderr, "usage: %s spec/vectors/client.json\n", argv[0]);
		return 2;
	}
	json_error_t err;
	doc = json_load_file(argv[1], 0, &err);
	if (!doc) {
		fprintf(stderr, "%s: %s\n", argv[1], err.text);
		return 2;
	}
	RUN(thread_ids);
	RUN(content_records);
	RUN(bodies);
	RUN(client_message_ids);
	RUN(invalid_encodings_are_refused);
	json_decref(doc);
	return TEST_RESULT();
}
