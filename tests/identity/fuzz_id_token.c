/* SPDX-License-Identifier: MPL-2.0 */
/* Fuzz target for the ID token verifier. The first input byte selects what the rest is:
 *   0  a compact token for the citizen (MitID broker) provider
 *   1  a compact token for the caseworker (AD FS) provider
 *   2  a claims payload checked as if its signature had verified (citizen)
 *   3  the same for a caseworker
 *   4  a JWKS document
 *   5  a stored audit entry (encoding || hash)
 *   6  an exported audit log line
 * Signatures cannot be forged by a fuzzer, so modes 2 and 3 reach the claim parsers directly.
 * The corpus holds tokens signed by the development provider with the keys published below
 * (their private halves were discarded), minted at FUZZ_NOW for FUZZ_PK and FUZZ_CHALLENGE. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity_internal.h"

#define FUZZ_NOW ((int64_t)1780000000)

static const char jwks_mitid[] =
	"{\"keys\":[{\"alg\":\"ES256\",\"crv\":\"P-256\",\"kid\":\"GaWnHrcVDnMyNzw29BBIk9ZJqszA5_G2"
	"rc1f4FxE5o4\",\"kty\":\"EC\",\"use\":\"sig\",\"x\":\"N0yP5GBCA2pt_MZXa53JMSLNJGsxV_AeL2OgO"
	"DuwarA\",\"y\":\"SV1QJ1TK_DrVOUcPiuixJZrlrp-P_rh5p-nNytqyVC8\"}]}";

static const char jwks_adfs[] =
	"{\"keys\":[{\"alg\":\"RS256\",\"e\":\"AQAB\",\"kid\":\"41KIHRS2XzPiqARic3W2LchlQUplQo5nt_K"
	"zvq4HklU\",\"kty\":\"RSA\",\"n\":\"qFhxt1HtX1DgKhHa07a3TGK2WJVlfonx5ugrb7WytO8C7I7C_AJms3G"
	"DUrIlkUcXwL1VuU0TYBtNE6-_steW1_22GQ1B1PNLo6yHOcbw8FMWpkbQp5wuVey9RR57VG5--RGoRSFmlj2XnkXCr"
	"BenjJ5YiO3xou48zaQPgV5QChanB_2fj1MEAV1UkXrcAxuqBs4uZEkPKdPgptz8GcGCXpA62qrM_cQ6e5gq6kHRUmc"
	"kNx7L0HBiV-WPD_ZDaG_VJn60cuKBDVVwlkecoZTLrSGLKVo0-TG4BAn_BL56vWB8njj6RYwtB4rxJQb_PKP92HY5s"
	"Gh5kitCSmANST9XdQ\",\"use\":\"sig\"}]}";

static const id_unit units[] = { { .id = "jobcenter", .name = "Jobcenter" },
				 { .id = "borgerservice", .name = "Borgerservice" } };
static const char *const idp_ids[] = { "mitid", "adfs" };
static const id_group_map group_map[] = { { .group = "varde-jobcenter", .unit_id = "jobcenter" },
					  { .group = "varde-borgerservice", .unit_id = "borgerservice" } };
static const id_tenant tenant = { .id = "varde", .name = "Varde Kommune", .cvr = "29189919",
				  .units = units, .n_units = 2, .idp_ids = idp_ids, .n_idp_ids = 2,
				  .group_map = group_map, .n_group_map = 2 };
static const id_idp idp_mitid = { .id = "mitid", .issuer = "https://idp.fuzz/mitid",
				   .client_id = "wakks-citizen", .kind = ID_KIND_CITIZEN,
				   .profile = ID_PROFILE_MITID_BROKER,
				   .allowed_algs = ID_ALG_ES256 | ID_ALG_RS256, .skew_seconds = 60,
				   .max_age_seconds = 600 };
static const id_idp idp_adfs = { .id = "adfs", .issuer = "https://idp.fuzz/adfs",
				  .client_id = "wakks-caseworker", .kind = ID_KIND_CASEWORKER,
				  .profile = ID_PROFILE_ADFS, .allowed_algs = ID_ALG_RS256,
				  .skew_seconds = 60, .max_age_seconds = 600 };

static id_keyset *ks_mitid, *ks_adfs;
static uint8_t pk[ID_PUBLIC_KEY_BYTES], challenge[ID_CHALLENGE_BYTES];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_result(int rc, const id_verified *v)
{
	if (rc > 0)
		abort();
	if (rc == 0 && (v->person_id[0] == 0 || v->n_units > ID_MAX_UNITS ||
			memchr(v->person_id, 0, sizeof v->person_id) == NULL ||
			(v->kind == ID_KIND_CASEWORKER && v->n_units == 0) ||
			(v->kind == ID_KIND_CITIZEN && v->loa < ID_LOA_SUBSTANTIAL)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ks_mitid) {
		for (size_t i = 0; i < sizeof pk; i++) {
			pk[i] = (uint8_t)(0x40 + i);
			challenge[i] = (uint8_t)(0xc0 ^ i);
		}
		if (id_keyset_parse(jwks_mitid, strlen(jwks_mitid), &ks_mitid) != 0 ||
		    id_keyset_parse(jwks_adfs, strlen(jwks_adfs), &ks_adfs) != 0)
			abort();
	}
	if (size < 1)
		return 0;
	unsigned mode = data[0] % 7;
	data++;
	size--;
	id_verified v;
	int rc;
	id_keyset *ks = NULL;
	switch (mode) {
	case 0:
	case 1: {
		char *tok = malloc(size + 1); /* the verifier takes (pointer, length); no NUL needed */
		if (!tok)
			return 0;
		memcpy(tok, data, size);
		rc = id_verify(mode ? &idp_adfs : &idp_mitid, mode ? ks_adfs : ks_mitid,
			       mode ? &tenant : NULL, tok, size, pk, challenge, FUZZ_NOW, NULL, &v);
		check_result(rc, &v);
		free(tok);
		break;
	}
	case 2:
	case 3:
		rc = id__verify_claims(mode == 3 ? &idp_adfs : &idp_mitid, mode == 3 ? &tenant : NULL,
				       data, size, pk, challenge, FUZZ_NOW, &v);
		check_result(rc, &v);
		break;
	case 5:
	case 6: {
		id_audit_entry e;
		rc = mode == 5 ? id_audit_decode(data, size, &e) : id_audit_from_json((const char *)data, size, &e);
		if (rc == 0) {
			size_t bad = 0;
			uint8_t buf[ID_AUDIT_ENCODED_MAX];
			if (e.n_subjects > ID_AUDIT_MAX_SUBJECTS || e.details_len > ID_AUDIT_DETAILS_MAX ||
			    id_audit_encode(&e, buf, sizeof buf) <= 0)
				abort();
			if (id_audit_verify_chain(&e, 1, 0, NULL, 0, NULL, &bad) > 0)
				abort();
			free(id_audit_to_json(&e));
		}
		break;
	}
	default:
		rc = id_keyset_parse((const char *)data, size, &ks);
		if (rc == 0 && id_keyset_count(ks) == 0)
			abort();
		id_keyset_free(ks);
		break;
	}
	return 0;
}
