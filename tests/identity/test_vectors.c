/* SPDX-License-Identifier: MPL-2.0 */
/* Replays spec/vectors/identity.json (generated independently by gen_vectors.py): nonce, replay
 * key, citizen and caseworker account ids, audit chain encodings and hashes. */
#include <jansson.h>
#include <sodium.h>

#include "test.h"
#include "id_test_util.h"

static json_t *doc;

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static void hexto(const json_t *o, const char *k, uint8_t *out, size_t n)
{
	const char *s = str(o, k);
	CHECK_EQ_INT(strlen(s), 2 * n);
	if (strlen(s) == 2 * n)
		t_hex(s, out, n);
	else
		memset(out, 0, n);
}

static void test_nonce(void)
{
	json_t *arr = json_object_get(doc, "nonce");
	size_t i;
	json_t *v;
	REQUIRE(json_array_size(arr) >= 3);
	char *dir = t_tempdir();
	devidp *d = t_devidp(ID_PROFILE_MITID_BROKER, dir);
	id_keyset *ks = d ? t_keyset(devidp_jwks_json(d)) : NULL;
	REQUIRE(ks != NULL);
	json_array_foreach(arr, i, v) {
		uint8_t pk[32], ch[32], rk[32];
		char n[ID_NONCE_BUF_BYTES];
		hexto(v, "identity_public_key", pk, 32);
		hexto(v, "relay_challenge", ch, 32);
		hexto(v, "replay_key", rk, 32);
		CHECK_EQ_INT(id_nonce_compute(str(v, "issuer"), pk, ch, n), 0);
		CHECK(strcmp(n, str(v, "nonce")) == 0);
		/* The replay key id_verify derives from this nonce. */
		if (strcmp(str(v, "issuer"), T_ISS_MITID) == 0) {
			char *t = NULL;
			devidp_mint_opts o = { .nonce = n };
			id_verified out;
			CHECK_EQ_INT(devidp_mint(d, &o, T_NOW, &t), 0);
			CHECK_EQ_INT(id_verify(&t_idp_mitid, ks, NULL, t, strlen(t), pk, ch, T_NOW, NULL, &out), 0);
			CHECK_MEM(out.replay_key, rk, 32);
			free(t);
		}
	}
	id_keyset_free(ks);
	devidp_close(d);
	t_rmtree(dir);
	free(dir);
}

static void test_citizen_account_ids(void)
{
	json_t *arr = json_object_get(doc, "citizen_account_id");
	size_t i;
	json_t *v;
	REQUIRE(json_array_size(arr) >= 4);
	json_array_foreach(arr, i, v) {
		uint8_t key[32], want[16], got[16];
		hexto(v, "key", key, 32);
		hexto(v, "account_id", want, 16);
		const char *type = str(v, "person_type");
		id_verified ver;
		memset(&ver, 0, sizeof ver);
		ver.kind = ID_KIND_CITIZEN;
		snprintf(ver.person_id, sizeof ver.person_id, "%s", str(v, "normalized"));
		snprintf(ver.issuer, sizeof ver.issuer, "%s", str(v, "issuer"));
		if (strcmp(type, "cpr") == 0) {
			ver.person_type = ID_PERSON_CPR;
			CHECK_EQ_INT(id_cpr_account_id(key, str(v, "input"), got), 0);
			CHECK_MEM(got, want, 16);
		} else if (strcmp(type, "mitid-uuid") == 0) {
			ver.person_type = ID_PERSON_MITID_UUID;
		} else {
			ver.person_type = ID_PERSON_SUB;
		}
		memset(got, 0, sizeof got);
		CHECK_EQ_INT(id_citizen_account_id(key, &ver, got), 0);
		CHECK_MEM(got, want, 16);
	}
}

static void test_caseworker_account_ids(void)
{
	json_t *arr = json_object_get(doc, "caseworker_account_id");
	size_t i;
	json_t *v;
	REQUIRE(json_array_size(arr) >= 2);
	json_array_foreach(arr, i, v) {
		uint8_t key[32], want[16], got[16];
		hexto(v, "key", key, 32);
		hexto(v, "account_id", want, 16);
		CHECK_EQ_INT(id_caseworker_account_id(key, str(v, "tenant_id"), str(v, "upn"), got), 0);
		CHECK_MEM(got, want, 16);
	}
}

static void test_audit_chain(void)
{
	json_t *chain = json_object_get(doc, "audit_chain");
	json_t *arr = json_object_get(chain, "entries");
	size_t i, n = json_array_size(arr);
	json_t *v;
	REQUIRE(n >= 3);
	id_audit_entry *built = calloc(n, sizeof *built), *decoded = calloc(n, sizeof *decoded);
	REQUIRE(built && decoded);
	json_array_foreach(arr, i, v) {
		uint8_t subjects[ID_AUDIT_MAX_SUBJECTS][ID_AUDIT_SUBJECT_BYTES], details[ID_AUDIT_DETAILS_MAX];
		json_t *subs = json_object_get(v, "subjects");
		size_t ns = json_array_size(subs);
		for (size_t s = 0; s < ns && s < ID_AUDIT_MAX_SUBJECTS; s++)
			t_hex(json_string_value(json_array_get(subs, s)), subjects[s], ID_AUDIT_SUBJECT_BYTES);
		size_t dl = strlen(str(v, "details")) / 2;
		t_hex(str(v, "details"), details, dl);
		CHECK_EQ_INT(id_audit_build(i ? built[i - 1].seq : 0, i ? built[i - 1].hash : NULL,
					    (uint64_t)json_integer_value(json_object_get(v, "time_ms")),
					    (uint16_t)json_integer_value(json_object_get(v, "type")),
					    (const uint8_t(*)[ID_AUDIT_SUBJECT_BYTES])subjects, ns, details, dl, &built[i]), 0);
		CHECK_EQ_INT(built[i].seq, json_integer_value(json_object_get(v, "seq")));
		uint8_t enc[ID_AUDIT_ENCODED_MAX + ID_HASH_BYTES], want_hash[32];
		size_t want_len = strlen(str(v, "encoding")) / 2;
		uint8_t *want = malloc(want_len + 32);
		t_hex(str(v, "encoding"), want, want_len);
		hexto(v, "hash", want_hash, 32);
		int len = id_audit_encode(&built[i], enc, sizeof enc);
		CHECK_EQ_INT(len, want_len);
		CHECK(len > 0 && memcmp(enc, want, want_len) == 0);
		CHECK_MEM(built[i].hash, want_hash, 32);
		/* Stored form: encoding || hash. */
		memcpy(want + want_len, want_hash, 32);
		CHECK_EQ_INT(id_audit_decode(want, want_len + 32, &decoded[i]), 0);
		CHECK_MEM(decoded[i].hash, want_hash, 32);
		free(want);
	}
	uint8_t head[32];
	hexto(chain, "head_hash", head, 32);
	size_t bad = 99;
	CHECK_EQ_INT(id_audit_verify_chain(decoded, n, 0, NULL, (uint64_t)json_integer_value(json_object_get(chain, "head_seq")), head, &bad), 0);
	CHECK_EQ_INT(bad, 99);
	free(built);
	free(decoded);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s spec/vectors/identity.json\n", argv[0]);
		return 1;
	}
	json_error_t je;
	doc = json_load_file(argv[1], 0, &je);
	if (!doc) {
		fprintf(stderr, "%s: %s\n", argv[1], je.text);
		return 1;
	}
	RUN(test_nonce);
	RUN(test_citizen_account_ids);
	RUN(test_caseworker_account_ids);
	RUN(test_audit_chain);
	json_decref(doc);
	return TEST_RESULT();
}
