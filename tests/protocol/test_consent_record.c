/* SPDX-License-Identifier: MPL-2.0 */
/* The consent record of spec/consent.md against its vectors (spec/vectors/consent.json): the
 * fields encode to the vector's bytes (by hand and by the codec), the codec's parser reads them
 * back, the deterministic Ed25519 signature matches, and every truncation, extension and bit
 * flip is caught.
 * `test_consent_record --generate` prints the vector file. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wakks_consent_record.h"
#include "test.h"

struct fields {
	uint8_t kind;
	uint8_t account[16], device[16], sha[32];
	const char *tenant, *unit, *purpose, *version, *language, *client;
	uint64_t time;
};

static void str8(uint8_t *buf, size_t *n, const char *s)
{
	buf[(*n)++] = (uint8_t)strlen(s);
	memcpy(buf + *n, s, strlen(s));
	*n += strlen(s);
}

static size_t encode(const struct fields *f, uint8_t *buf)
{
	size_t n = 0;
	buf[n++] = 1;
	buf[n++] = f->kind;
	memcpy(buf + n, f->account, 16);
	n += 16;
	memcpy(buf + n, f->device, 16);
	n += 16;
	str8(buf, &n, f->tenant);
	str8(buf, &n, f->unit);
	str8(buf, &n, f->purpose);
	str8(buf, &n, f->version);
	memcpy(buf + n, f->sha, 32);
	n += 32;
	str8(buf, &n, f->language);
	str8(buf, &n, f->client);
	for (int i = 7; i >= 0; i--)
		buf[n++] = (uint8_t)(f->time >> (8 * i));
	return n;
}

/* Deterministic inputs: ids and the seed from SHA-256 of labels. */
static void label(uint8_t *out, size_t n, const char *what)
{
	uint8_t h[32];
	crypto_hash_sha256(h, (const uint8_t *)what, strlen(what));
	memcpy(out, h, n);
}

static void sample(struct fields *f, uint8_t kind, const char *unit)
{
	memset(f, 0, sizeof *f);
	f->kind = kind;
	label(f->account, 16, "consent/account");
	label(f->device, 16, "consent/device");
	const char text[] = "Samtykke til digital kommunikation";
	crypto_hash_sha256(f->sha, (const uint8_t *)text, sizeof text - 1);
	f->tenant = "varde";
	f->unit = unit;
	f->purpose = "digital-kommunikation";
	f->version = "2026-11";
	f->language = "da";
	f->client = "wakks-cli/0.1.0";
	f->time = 1764115200000ull;
}

static void sign(const uint8_t *rec, size_t n, const uint8_t sk[64], uint8_t sig[64])
{
	uint8_t msg[600];
	memcpy(msg, PROTO_CONSENT_SIGN_DOMAIN, sizeof PROTO_CONSENT_SIGN_DOMAIN);
	memcpy(msg + sizeof PROTO_CONSENT_SIGN_DOMAIN, rec, n);
	crypto_sign_detached(sig, NULL, msg, sizeof PROTO_CONSENT_SIGN_DOMAIN + n, sk);
}

/* The relay's check: the signature over the codec's signed message. */
static int consent_record_verify(const uint8_t *rec, size_t n, const uint8_t sig[64],
				 const uint8_t pk[32])
{
	uint8_t msg[PROTO_CONSENT_SIGNED_MAX];
	size_t ml;
	if (proto_consent_record_signed(rec, n, msg, sizeof msg, &ml) != 0)
		return -1;
	return crypto_sign_verify_detached(sig, msg, ml, pk) == 0 ? 0 : -1;
}

/* The same fields through the codec's encoder (libwakks' path). */
static size_t codec_encode(const struct fields *f, uint8_t *buf, size_t cap)
{
	proto_consent_record r = {
		.kind = f->kind, .account = f->account, .device = f->device,
		.tenant = { f->tenant, strlen(f->tenant) }, .unit = { f->unit, strlen(f->unit) },
		.purpose = { f->purpose, strlen(f->purpose) },
		.text_version = { f->version, strlen(f->version) }, .text_sha256 = f->sha,
		.language = { f->language, strlen(f->language) },
		.client_version = { f->client, strlen(f->client) }, .time_ms = f->time,
	};
	size_t n = 0;
	return proto_consent_record_encode(&r, buf, cap, &n) == 0 ? n : 0;
}

static char *hex(const uint8_t *b, size_t n)
{
	char *s = malloc(2 * n + 1);
	sodium_bin2hex(s, 2 * n + 1, b, n);
	return s;
}

static int generate(void)
{
	uint8_t seed[32], pk[32], sk[64];
	label(seed, 32, "consent/device-identity-seed");
	crypto_sign_seed_keypair(pk, sk, seed);
	json_t *list = json_array();
	const struct { uint8_t kind; const char *unit; const char *name; } cases[] = {
		{ 1, "", "grant_whole_tenant" }, { 2, "", "withdraw_whole_tenant" },
		{ 1, "jobcenter", "grant_unit" },
	};
	for (size_t i = 0; i < 3; i++) {
		struct fields f;
		sample(&f, cases[i].kind, cases[i].unit);
		uint8_t rec[512], sig[64];
		size_t n = encode(&f, rec);
		sign(rec, n, sk, sig);
		char *a = hex(f.account, 16), *d = hex(f.device, 16), *h = hex(f.sha, 32),
		     *r = hex(rec, n), *g = hex(sig, 64);
		json_array_append_new(list, json_pack(
			"{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}",
			"name", cases[i].name, "kind", cases[i].kind, "account", a, "device", d,
			"tenant", f.tenant, "unit", f.unit, "purpose", f.purpose, "text_version", f.version,
			"text_sha256", h, "language", f.language, "client_version", f.client,
			"time", (json_int_t)f.time, "record", r, "signature", g));
		free(a), free(d), free(h), free(r), free(g);
	}
	char *s = hex(seed, 32), *p = hex(pk, 32);
	json_t *root = json_pack("{s:s, s:s, s:s, s:s, s:o}", "description",
				 "OS2wakks consent records (spec/consent.md): fields, exact bytes, and the "
				 "Ed25519 signature over \"" PROTO_CONSENT_SIGN_DOMAIN "\" || 0x00 || record",
				 "signing_seed", s, "identity_public_key", p,
				 "sign_domain", PROTO_CONSENT_SIGN_DOMAIN,
				 "records", list);
	char *out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", out);
	free(out), free(s), free(p);
	json_decref(root);
	return 0;
}

static const char *vectors_path;

static void vectors_replay(void)
{
	json_t *root = json_load_file(vectors_path, 0, NULL);
	REQUIRE(root != NULL);
	uint8_t seed[32], pk[32], sk[64], want_pk[32];
	const char *seed_hex = json_string_value(json_object_get(root, "signing_seed"));
	const char *pk_hex = json_string_value(json_object_get(root, "identity_public_key"));
	REQUIRE(seed_hex && pk_hex);
	sodium_hex2bin(seed, 32, seed_hex, 64, NULL, NULL, NULL);
	sodium_hex2bin(want_pk, 32, pk_hex, 64, NULL, NULL, NULL);
	crypto_sign_seed_keypair(pk, sk, seed);
	CHECK_MEM(pk, want_pk, 32);
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(root, "records"), i, v) {
		struct fields f;
		sample(&f, (uint8_t)json_integer_value(json_object_get(v, "kind")),
		       json_string_value(json_object_get(v, "unit")));
		uint8_t rec[512], want[512], sig[64], want_sig[64];
		size_t n = encode(&f, rec), wn = 0;
		const char *rh = json_string_value(json_object_get(v, "record"));
		sodium_hex2bin(want, sizeof want, rh, strlen(rh), NULL, &wn, NULL);
		CHECK_EQ_INT(n, wn);
		CHECK(n == wn && memcmp(rec, want, n) == 0);
		uint8_t by_codec[512];
		CHECK(codec_encode(&f, by_codec, sizeof by_codec) == wn &&
		      memcmp(by_codec, want, wn) == 0);
		CHECK_EQ_INT(codec_encode(&f, by_codec, wn - 1), 0);
		CHECK(strcmp(json_string_value(json_object_get(root, "sign_domain")),
			     PROTO_CONSENT_SIGN_DOMAIN) == 0);
		sodium_hex2bin(want_sig, 64, json_string_value(json_object_get(v, "signature")), 128, NULL,
			       NULL, NULL);
		sign(rec, n, sk, sig);
		CHECK_MEM(sig, want_sig, 64);
		CHECK_EQ_INT(consent_record_verify(want, wn, want_sig, pk), 0);

		proto_consent_record r;
		const char *why = NULL;
		REQUIRE(proto_consent_record_parse(want, wn, &r, &why) == 0);
		CHECK_EQ_INT(r.kind, f.kind);
		CHECK_MEM(r.account, f.account, 16);
		CHECK(r.unit.len == strlen(f.unit) && memcmp(r.unit.ptr, f.unit, r.unit.len) == 0);
		CHECK(r.time_ms == f.time);

		/* Every prefix and an extension are refused; every flipped bit breaks the signature. */
		int prefixes = 0, flips = 0;
		for (size_t k = 0; k < wn; k++)
			prefixes += proto_consent_record_parse(want, k, &r, &why) != 0;
		CHECK_EQ_INT(prefixes, wn);
		want[wn] = 0;
		CHECK(proto_consent_record_parse(want, wn + 1, &r, &why) != 0);
		for (size_t k = 0; k < wn * 8; k++) {
			want[k / 8] ^= (uint8_t)(1u << (k % 8));
			flips += consent_record_verify(want, wn, want_sig, pk) != 0;
			want[k / 8] ^= (uint8_t)(1u << (k % 8));
		}
		CHECK_EQ_INT(flips, wn * 8);
	}
	json_decref(root);
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	if (argc > 1 && strcmp(argv[1], "--generate") == 0)
		return generate();
	if (argc < 2)
		return 1;
	vectors_path = argv[1];
	RUN(vectors_replay);
	return TEST_RESULT();
}
