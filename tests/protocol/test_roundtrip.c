/* SPDX-License-Identifier: MPL-2.0 */
/* Round trips for every frame type (every field filled, optional ones too, then the minimal
 * form), encoder and validator failures, limits at and past their bound, prefixes of every frame,
 * peek, the error table and the auth message bytes. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "schema_internal.h"
#include "test.h"
#include "vector_json.h"
#include "wakks_bytes.h"

static proto_frame f1, f2;
static uint8_t buf1[PROTO_MAX_FRAME_BYTES + 4096], buf2[PROTO_MAX_FRAME_BYTES + 4096];
static uint8_t pool[1 << 20]; /* pseudo-random bytes that filled fields point into */
static size_t pool_pos;

static const uint8_t *take(size_t n)
{
	if (pool_pos + n > sizeof pool)
		pool_pos = 0;
	const uint8_t *p = pool + pool_pos;
	pool_pos += n;
	return p;
}

static void fill_body(const struct proto__schema *s, uint8_t *base, int optional, uint32_t elems);

static void fill_field(const struct proto__field *f, uint8_t *base, int optional, uint32_t elems)
{
	uint8_t *p = base + f->offset;
	switch (f->kind) {
	case PROTO__K_U32:
		*(uint32_t *)p = f->max >= f->min + 7 ? (uint32_t)(f->min + 7) : (uint32_t)f->max;
		break;
	case PROTO__K_U64: /* a time where the range allows, else the bound (blob sizes) */
		*(uint64_t *)p = f->max - f->min > 1764115200123ull ? f->min + 1764115200123ull : f->max;
		break;
	case PROTO__K_BOOL:
		*(bool *)p = true;
		break;
	case PROTO__K_FIXBIN:
		*(const uint8_t **)p = take((size_t)f->min);
		break;
	case PROTO__K_BIN: {
		size_t n = f->max < 300 ? (size_t)f->max : 300;
		*(proto_bytes *)p = (proto_bytes){ take(n), n };
		break;
	}
	case PROTO__K_TEXT:
		*(proto_str *)p = (proto_str){ "Jobcenter \xc3\xa6\xc3\xb8\xc3\xa5", 16 };
		break;
	case PROTO__K_ASCII: {
		size_t n = 14; /* within the field's bounds (a CPR number is 10-11) */
		n = n > f->max ? (size_t)f->max : n;
		n = n < f->min ? (size_t)f->min : n;
		*(proto_str *)p = (proto_str){ "eyJ0.eyJ1.c2ln", n };
		break;
	}
	case PROTO__K_SLUG:
		*(proto_str *)p = (proto_str){ "varde-2", 7 };
		break;
	case PROTO__K_MAP:
		fill_body(f->sub, p, optional, elems);
		if (f->aux != PROTO__NO_AUX)
			*(bool *)(base + f->aux) = true;
		break;
	case PROTO__K_ARRAY: {
		uint32_t n = elems < f->max ? elems : (uint32_t)f->max;
		if (n < f->min)
			n = (uint32_t)f->min;
		for (uint32_t i = 0; i < n; i++) {
			uint8_t *ep = p + (size_t)i * f->elem_size;
			if (f->elem_kind == PROTO__K_MAP)
				fill_body(f->sub, ep, optional, elems);
			else
				*(const uint8_t **)ep = take(f->elem_len);
		}
		*(uint32_t *)(base + f->aux) = n;
		break;
	}
	}
}

static void fill_body(const struct proto__schema *s, uint8_t *base, int optional, uint32_t elems)
{
	for (unsigned i = 0; i < s->nfields; i++)
		if (s->fields[i].required || optional)
			fill_field(&s->fields[i], base, optional, elems);
}

/* A valid frame of this type: every field (optional = 1) or only required ones (optional = 0). */
static void fill_frame(proto_frame *f, uint32_t type, int optional, uint32_t elems)
{
	unsigned flags = proto_type_flags(type);
	pool_pos = 0; /* one frame never wraps the pool, so its ids are distinct */
	proto_frame_init(f, type, (flags & PROTO_F_PUSH) && !(flags & PROTO_F_REPLY) ? 0 : 77);
	fill_body(proto__schema_for(type), (uint8_t *)&f->body, optional, elems);
	/* Cross-field rules the generic filler cannot know. */
	if (type == PROTO_T_BUNDLES_FETCH || type == PROTO_T_DEVICE_SET_GET) {
		proto_target *t = type == PROTO_T_BUNDLES_FETCH ? &f->body.bundles_fetch : &f->body.device_set_get;
		if (optional) {
			t->account = NULL;
		} else {
			t->account = take(PROTO_ID_BYTES);
		}
	}
	if (type == PROTO_T_SEND && !optional)
		f->body.send.to[0] = take(PROTO_ID_BYTES), f->body.send.to_count = 1;
}

/* encode -> decode -> JSON equal, re-encode byte-identical, every prefix truncated. */
static void roundtrip(const proto_frame *in, const char *what)
{
	size_t n1 = 0, n2 = 0;
	int rc = proto_frame_encode(in, buf1, sizeof buf1, &n1);
	if (rc != 0)
		fprintf(stderr, "  %s: encode: %s\n", what, proto_strerror(rc));
	REQUIRE(rc == 0);
	rc = proto_frame_decode(buf1, n1, &f2);
	if (rc != 0)
		fprintf(stderr, "  %s: decode: %s\n", what, proto_strerror(rc));
	REQUIRE(rc == 0);
	json_t *a = frame_to_json(in), *b = frame_to_json(&f2);
	CHECK(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	CHECK_EQ_INT(proto_frame_encode(&f2, buf2, sizeof buf2, &n2), 0);
	CHECK(n1 == n2 && memcmp(buf1, buf2, n1) == 0);
	/* Views point into the frame bytes, never elsewhere. */
	if (f2.type == PROTO_T_SEND)
		CHECK(f2.body.send.env[0].ciphertext.ptr > buf1 &&
		      f2.body.send.env[0].ciphertext.ptr < buf1 + n1);
	if (n1 < 4096) {
		int prefixes_ok = 1;
		for (size_t k = 0; k < n1; k++)
			if (proto_frame_decode(buf1, k, &f2) != PROTO_E_TRUNCATED)
				prefixes_ok = 0;
		CHECK(prefixes_ok);
	}
	/* The encoder needs exactly n1 bytes and reports anything less. */
	size_t untouched = 12345;
	CHECK_EQ_INT(proto_frame_encode(in, buf2, n1 - 1, &untouched), PROTO_E_NO_SPACE);
	CHECK_EQ_INT(untouched, 12345);
	CHECK_EQ_INT(proto_frame_encode(in, buf2, n1, &untouched), 0);
}

static void test_every_type_roundtrips(void)
{
	int types = 0;
	for (uint32_t t = 0; t < 256; t++) {
		if (!proto_type_name(t))
			continue;
		types++;
		char what[64];
		snprintf(what, sizeof what, "%s (all fields)", proto_type_name(t));
		fill_frame(&f1, t, 1, 3);
		roundtrip(&f1, what);
		snprintf(what, sizeof what, "%s (required only)", proto_type_name(t));
		fill_frame(&f1, t, 0, 1);
		roundtrip(&f1, what);
	}
	CHECK_EQ_INT(types, 46);
}

/* Every list at its limit at once: the largest frames v1 allows still fit every bound
 * (PROTO_MAX_OBJECTS, PROTO_MAX_FRAME_BYTES) and round-trip. */
static void test_every_type_at_its_limits(void)
{
	for (uint32_t t = 0; t < 256; t++) {
		if (!proto_type_name(t))
			continue;
		char what[64];
		snprintf(what, sizeof what, "%s (lists at their limits)", proto_type_name(t));
		fill_frame(&f1, t, 1, UINT32_MAX);
		roundtrip(&f1, what);
	}
}

static void test_send_values(void)
{
	static const uint8_t cmid[16] = { 1, 2, 3 }, acc[16] = { 9 }, d1[16] = { 0xd1 }, d2[16] = { 0xd2 };
	static const uint8_t ct1[1024] = { 0xc1 }, ct2[1024] = { 0xc2 };
	proto_frame_init(&f1, PROTO_T_SEND, 42);
	proto_send *s = &f1.body.send;
	s->cmid = cmid;
	s->to[0] = acc;
	s->to_count = 1;
	s->receipts = true;
	s->env[0] = (proto_envelope){ d1, { ct1, sizeof ct1 } };
	s->env[1] = (proto_envelope){ d2, { ct2, sizeof ct2 } };
	s->env_count = 2;
	size_t n = 0;
	REQUIRE(proto_frame_encode(&f1, buf1, sizeof buf1, &n) == 0);
	REQUIRE(proto_frame_decode(buf1, n, &f2) == 0);
	CHECK_EQ_INT(f2.type, PROTO_T_SEND);
	CHECK_EQ_INT(f2.request_id, 42);
	CHECK_MEM(f2.body.send.cmid, cmid, 16);
	CHECK_EQ_INT(f2.body.send.to_count, 1);
	CHECK(f2.body.send.receipts);
	CHECK(f2.body.send.tenant.ptr == NULL && f2.body.send.unit.ptr == NULL);
	CHECK_EQ_INT(f2.body.send.env_count, 2);
	CHECK_MEM(f2.body.send.env[1].device, d2, 16);
	CHECK_EQ_INT(f2.body.send.env[1].ciphertext.len, 1024);
	CHECK_MEM(f2.body.send.env[1].ciphertext.ptr, ct2, 1024);
}

static void test_limits(void)
{
	/* A send at the recipient bound encodes and decodes; one more device is refused. */
	proto_frame_init(&f1, PROTO_T_SEND, 1);
	proto_send *s = &f1.body.send;
	s->cmid = take(16);
	s->tenant = (proto_str){ "varde", 5 };
	s->unit = (proto_str){ "jobcenter", 9 };
	for (uint32_t i = 0; i < PROTO_MAX_RECIPIENT_DEVICES; i++)
		s->env[i] = (proto_envelope){ take(16), { take(64), 64 } };
	s->env_count = PROTO_MAX_RECIPIENT_DEVICES;
	roundtrip(&f1, "send with PROTO_MAX_RECIPIENT_DEVICES");
	s->env_count = PROTO_MAX_RECIPIENT_DEVICES + 1;
	CHECK_EQ_INT(proto_frame_validate(&f1), PROTO_E_OVER_LIMIT);

	/* Ciphertext at and past its bound. */
	static uint8_t big[PROTO_MAX_CIPHERTEXT_BYTES + 1];
	s->env_count = 1;
	s->env[0].ciphertext = (proto_bytes){ big, PROTO_MAX_CIPHERTEXT_BYTES };
	CHECK_EQ_INT(proto_frame_validate(&f1), 0);
	s->env[0].ciphertext.len++;
	CHECK_EQ_INT(proto_frame_validate(&f1), PROTO_E_OVER_LIMIT);

	/* Frame size: 17 envelopes of 64 KiB pass every field limit but not the frame limit. */
	for (uint32_t i = 0; i < 17; i++)
		s->env[i] = (proto_envelope){ take(16), { big, PROTO_MAX_CIPHERTEXT_BYTES } };
	s->env_count = 17;
	size_t n = 0;
	CHECK_EQ_INT(proto_frame_encode(&f1, buf1, sizeof buf1, &n), PROTO_E_TOO_LARGE);
	CHECK_EQ_INT(proto_frame_decode(buf1, PROTO_MAX_FRAME_BYTES + 1, &f2), PROTO_E_TOO_LARGE);
	uint32_t t, r;
	CHECK_EQ_INT(proto_frame_peek(buf1, PROTO_MAX_FRAME_BYTES + 1, &t, &r), PROTO_E_TOO_LARGE);

	/* Object count: a 1 MiB frame of nils in an unknown field is refused before msgpack-c. */
	size_t k = 0;
	buf1[k++] = 0x93, buf1[k++] = 0x04, buf1[k++] = 0x01, buf1[k++] = 0x81;
	buf1[k++] = 0xa1, buf1[k++] = 'x', buf1[k++] = 0xdd;
	uint32_t nils = 100000;
	wakks_store_be32(buf1 + k, nils);
	k += 4;
	memset(buf1 + k, 0xc0, nils);
	CHECK_EQ_INT(proto_frame_decode(buf1, k + nils, &f2), PROTO_E_OVER_LIMIT);
}

static void test_validate_failures(void)
{
	proto_frame_init(&f1, PROTO_T_AUTH, 1);
	CHECK_EQ_INT(proto_frame_validate(&f1), PROTO_E_MISSING_FIELD);
	f1.body.auth.device = take(16);
	f1.body.auth.sig = take(64);
	CHECK_EQ_INT(proto_frame_validate(&f1), 0);
	f1.request_id = 0;
	CHECK_EQ_INT(proto_frame_validate(&f1), PROTO_E_BAD_REQUEST_ID);
	f1.type = 250;
	CHECK_EQ_INT(proto_frame_validate(&f1), PROTO_E_UNKNOWN_TYPE);

	proto_frame_init(&f1, PROTO_T_UNITS_LIST, 1);
	f1.body.units_list.tenant = (proto_str){ "Varde", 5 };
	CHECK_EQ_INT(proto_frame_validate(&f1), PROTO_E_BAD_STRING);
	f1.body.units_list.tenant = (proto_str){ NULL, 3 };
	CHECK_EQ_INT(proto_frame_validate(&f1), PROTO_E_BAD_ARGUMENT);

	/* A failed decode does not leave a frame that looks valid. */
	proto_frame_init(&f1, PROTO_T_ACK, 1);
	f1.body.ack.seq = 5; /* a positive fixint: the frame's last byte */
	size_t n = 0;
	REQUIRE(proto_frame_encode(&f1, buf1, sizeof buf1, &n) == 0);
	buf1[n - 1] = 0xa0; /* seq becomes a string */
	f2.type = PROTO_T_ACK;
	CHECK_EQ_INT(proto_frame_decode(buf1, n, &f2), PROTO_E_WRONG_TYPE);
	CHECK_EQ_INT(f2.type, PROTO_T_NONE);
	const char *field = NULL;
	CHECK_EQ_INT(proto_frame_decode_diag(buf1, n, &f2, &field), PROTO_E_WRONG_TYPE);
	CHECK(field != NULL && strcmp(field, "seq") == 0);
	CHECK_EQ_INT(proto_frame_decode(NULL, 0, &f2), PROTO_E_BAD_ARGUMENT);
}

/* Regression (fuzzer): msgpack-c gives empty str/bin a NULL pointer. An empty key must not reach
 * memcmp, and an empty required text must decode to a non-NULL view that validates and encodes. */
static void test_empty_strings(void)
{
	const uint8_t empty_keys[] = { 0x93, 0x04, 0x0a, 0x83, 0xa0, 0xa0, 0xa0, 0xa0, 0xa0, 0xa3, 't', '.', 'e' };
	CHECK_EQ_INT(proto_frame_decode(empty_keys, sizeof empty_keys, &f2), PROTO_E_DUPLICATE_FIELD);

	proto_frame_init(&f1, PROTO_T_ERROR, 3);
	f1.body.error.code = 45;
	f1.body.error.name = (proto_str){ "internal", 8 };
	f1.body.error.text = (proto_str){ "", 0 };
	size_t n = 0;
	REQUIRE(proto_frame_encode(&f1, buf1, sizeof buf1, &n) == 0);
	REQUIRE(proto_frame_decode(buf1, n, &f2) == 0);
	CHECK(f2.body.error.text.ptr != NULL);
	CHECK_EQ_INT(f2.body.error.text.len, 0);
	CHECK_EQ_INT(proto_frame_validate(&f2), 0);
	roundtrip(&f2, "error with empty text");
}

static void test_peek(void)
{
	const uint8_t ok[] = { 0x93, 0x04, 0xcd, 0x12, 0x34, 0x80 };
	uint32_t t = 0, r = 0;
	CHECK_EQ_INT(proto_frame_peek(ok, sizeof ok, &t, &r), 0);
	CHECK_EQ_INT(t, 4);
	CHECK_EQ_INT(r, 0x1234);
	/* The header of an otherwise broken frame is still readable. */
	const uint8_t broken[] = { 0x93, 0xcc, 0xc8, 0x07, 0xc1 };
	CHECK_EQ_INT(proto_frame_peek(broken, sizeof broken, &t, &r), 0);
	CHECK_EQ_INT(t, 200);
	CHECK_EQ_INT(r, 7);
	CHECK_EQ_INT(proto_frame_decode(broken, sizeof broken, &f2), PROTO_E_MALFORMED);
	CHECK_EQ_INT(proto_frame_peek(ok, 2, &t, &r), PROTO_E_TRUNCATED);
	const uint8_t map[] = { 0x81, 0x00, 0x00 };
	CHECK_EQ_INT(proto_frame_peek(map, sizeof map, &t, &r), PROTO_E_BAD_SHAPE);
	/* Regression (fuzzer): a request id in a signed format with a non-negative value decodes,
	 * so peek must read it too. */
	const uint8_t int8_rid[] = { 0x93, 0x04, 0xd0, 0x09, 0x80 };
	CHECK_EQ_INT(proto_frame_decode(int8_rid, sizeof int8_rid, &f2), 0);
	CHECK_EQ_INT(proto_frame_peek(int8_rid, sizeof int8_rid, &t, &r), 0);
	CHECK_EQ_INT(r, 9);
	const uint8_t int8_neg[] = { 0x93, 0x04, 0xd0, 0xf7, 0x80 };
	CHECK_EQ_INT(proto_frame_peek(int8_neg, sizeof int8_neg, &t, &r), PROTO_E_BAD_SHAPE);
	CHECK_EQ_INT(proto_frame_decode(int8_neg, sizeof int8_neg, &f2), PROTO_E_BAD_SHAPE);
	const uint8_t neg[] = { 0x93, 0xff, 0x00, 0x80 };
	CHECK_EQ_INT(proto_frame_peek(neg, sizeof neg, &t, &r), PROTO_E_BAD_SHAPE);
}

static void test_error_table(void)
{
	CHECK(strcmp(proto_strerror(0), "success") == 0);
	CHECK(strcmp(proto_strerror(PROTO_E_DEVICE_MISMATCH), proto_strerror(37)) == 0);
	CHECK(strcmp(proto_errname(PROTO_E_DEVICE_MISMATCH), "device_mismatch") == 0);
	CHECK(strcmp(proto_strerror(-9999), "unknown error") == 0);
	CHECK(proto_errname(-9999) == NULL);
	CHECK_EQ_INT(proto_errcode("quota_exceeded", 14), PROTO_E_QUOTA_EXCEEDED);
	CHECK_EQ_INT(proto_errcode("quota_exceede", 13), 0);
	/* Every code has a name that maps back to it, within the wire's name limit. */
#define CHECK_CODE(name, num, sym, text)                                             \
	CHECK_EQ_INT(proto_errcode(proto_errname(-(num)), strlen(sym)), -(num));     \
	CHECK(strlen(sym) <= PROTO_MAX_ERROR_NAME_BYTES && strlen(text) <= PROTO_MAX_ERROR_TEXT_BYTES);
	PROTO_ERRNO_MAP(CHECK_CODE)
#undef CHECK_CODE
	CHECK(strcmp(proto_type_name(PROTO_T_SEND), "send") == 0);
	CHECK(proto_type_name(6) == NULL);
	CHECK_EQ_INT(proto_type_flags(PROTO_T_REGISTER) & PROTO_F_PRE_AUTH, PROTO_F_PRE_AUTH);
	CHECK_EQ_INT(proto_type_flags(120), 0); /* unassigned */
}

/* Decoding from several threads at once, each with its own cached zone, freed at thread exit
 * (the ASan build's leak check sees it). */
static uint8_t thread_frame[4096];
static size_t thread_frame_len;

static void *decode_loop(void *arg)
{
	static proto_frame frames[4];
	proto_frame *f = &frames[(size_t)arg];
	for (int i = 0; i < 2000; i++)
		if (proto_frame_decode(thread_frame, thread_frame_len, f) != 0 ||
		    f->body.send.env_count != 3)
			return (void *)1;
	return NULL;
}

static void test_threads(void)
{
	fill_frame(&f1, PROTO_T_SEND, 1, 3);
	REQUIRE(proto_frame_encode(&f1, thread_frame, sizeof thread_frame, &thread_frame_len) == 0);
	pthread_t t[4];
	for (size_t i = 0; i < 4; i++)
		REQUIRE(pthread_create(&t[i], NULL, decode_loop, (void *)i) == 0);
	for (size_t i = 0; i < 4; i++) {
		void *r = (void *)1;
		pthread_join(t[i], &r);
		CHECK(r == NULL);
	}
}

/* The hand-written required masks of the schemas agree with their fields' flags. */
static int mask_ok(const struct proto__schema *s)
{
	uint32_t mask = 0;
	int ok = 1;
	for (unsigned i = 0; i < s->nfields; i++) {
		if (s->fields[i].required)
			mask |= 1u << i;
		if (s->fields[i].sub)
			ok &= mask_ok(s->fields[i].sub);
	}
	if (mask != s->required)
		fprintf(stderr, "  schema %s: required mask 0x%x, fields say 0x%x\n", s->name, s->required, mask);
	return ok && mask == s->required;
}

static void test_schema_masks(void)
{
	for (uint32_t t = 0; t < 256; t++)
		if (proto__schema_for(t))
			CHECK(mask_ok(proto__schema_for(t)));
}

static void test_auth_message(void)
{
	uint8_t chal[32], dev[16], msg[PROTO_AUTH_MSG_BYTES];
	for (int i = 0; i < 32; i++)
		chal[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 16; i++)
		dev[i] = (uint8_t)i;
	proto_auth_message(msg, chal, dev);
	CHECK_EQ_INT(PROTO_AUTH_MSG_BYTES, 62);
	CHECK_MEM(msg, "wakks.v1 auth", 13);
	CHECK_EQ_INT(msg[13], 0);
	CHECK_MEM(msg + 14, chal, 32);
	CHECK_MEM(msg + 46, dev, 16);
}

int main(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < sizeof pool; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		pool[i] = (uint8_t)x;
	}
	RUN(test_every_type_roundtrips);
	RUN(test_every_type_at_its_limits);
	RUN(test_send_values);
	RUN(test_limits);
	RUN(test_validate_failures);
	RUN(test_empty_strings);
	RUN(test_peek);
	RUN(test_error_table);
	RUN(test_schema_masks);
	RUN(test_threads);
	RUN(test_auth_message);
	return TEST_RESULT();
}
