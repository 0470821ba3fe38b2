/* SPDX-License-Identifier: MPL-2.0 */
#include "bench_idp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "wakks_identity.h"

struct bench_idp {
	EVP_PKEY *key;
};

static void b64url(const uint8_t *in, size_t len, char *out, size_t cap)
{
	sodium_bin2base64(out, cap, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static int write_jwks(EVP_PKEY *key, const char *path)
{
	BIGNUM *x = NULL, *y = NULL;
	uint8_t xb[32], yb[32];
	char xs[64], ys[64];
	int rc = -1;
	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
	    !EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) ||
	    BN_bn2binpad(x, xb, 32) != 32 || BN_bn2binpad(y, yb, 32) != 32)
		goto out;
	b64url(xb, 32, xs, sizeof xs);
	b64url(yb, 32, ys, sizeof ys);
	FILE *f = fopen(path, "w");
	if (!f)
		goto out;
	fprintf(f, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":\"sig\",\"alg\":\"ES256\","
		   "\"kid\":\"bench-1\",\"x\":\"%s\",\"y\":\"%s\"}]}\n", xs, ys);
	rc = fclose(f) == 0 ? 0 : -1;
out:
	BN_free(x);
	BN_free(y);
	return rc;
}

struct bench_idp *bench_idp_open(const char *dir)
{
	char kpath[512], jpath[512];
	snprintf(kpath, sizeof kpath, "%s/idp-key.pem", dir);
	snprintf(jpath, sizeof jpath, "%s/idp.jwks.json", dir);
	struct bench_idp *idp = calloc(1, sizeof *idp);
	if (!idp)
		return NULL;
	FILE *f = fopen(kpath, "r");
	if (f) {
		idp->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	} else {
		idp->key = EVP_EC_gen("P-256");
		f = idp->key ? fopen(kpath, "w") : NULL;
		if (!f || !PEM_write_PrivateKey(f, idp->key, NULL, NULL, 0, NULL, NULL)) {
			if (f)
				fclose(f);
			bench_idp_free(idp);
			return NULL;
		}
		fclose(f);
	}
	if (!idp->key || write_jwks(idp->key, jpath) != 0) {
		bench_idp_free(idp);
		return NULL;
	}
	return idp;
}

void bench_idp_free(struct bench_idp *idp)
{
	if (!idp)
		return;
	EVP_PKEY_free(idp->key);
	free(idp);
}

/* A valid, distinct CPR number (DDMMYY-SSSS, day 01-28) for each person number. */
static void cpr_for(uint64_t person, char out[11])
{
	unsigned seq = (unsigned)(person % 10000u);
	uint64_t rest = person / 10000u;
	unsigned yy = (unsigned)(rest % 100u);
	rest /= 100u;
	unsigned mm = (unsigned)(rest % 12u) + 1u;
	unsigned dd = (unsigned)(rest / 12u % 28u) + 1u;
	snprintf(out, 11, "%02u%02u%02u%04u", dd, mm, yy, seq);
}

size_t bench_idp_token(struct bench_idp *idp, uint64_t person, const uint8_t ik_pk[32],
		       const uint8_t challenge[32], char *out, size_t cap)
{
	char nonce[ID_NONCE_BUF_BYTES], cpr[11], jti[32], uuid[40];
	if (id_nonce_compute(BENCH_IDP_ISSUER, ik_pk, challenge, nonce) != 0)
		return 0;
	cpr_for(person, cpr);
	uint8_t r[16];
	randombytes_buf(r, sizeof r);
	b64url(r, sizeof r, jti, sizeof jti);
	snprintf(uuid, sizeof uuid, "%08x-0000-4000-8000-%012llx", (unsigned)(person >> 32),
		 (unsigned long long)(person & 0xffffffffffffull));
	long long now = (long long)time(NULL);
	char claims[1024], header_b64[128], claims_b64[1400];
	static const char header[] = "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"bench-1\"}";
	int n = snprintf(claims, sizeof claims,
			 "{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,\"exp\":%lld,\"auth_time\":%lld,"
			 "\"jti\":\"%s\",\"nonce\":\"%s\",\"sub\":\"%s\",\"mitid.uuid\":\"%s\","
			 "\"dk.cpr\":\"%s\",\"idp\":\"mitid\",\"identity_type\":\"private\","
			 "\"loa\":\"https://data.gov.dk/concept/core/nsis/loa/Substantial\","
			 "\"name\":\"Bench Citizen\"}",
			 BENCH_IDP_ISSUER, BENCH_IDP_AUDIENCE, now, now + 600, now, jti, nonce, uuid, uuid,
			 cpr);
	if (n <= 0 || (size_t)n >= sizeof claims)
		return 0;
	b64url((const uint8_t *)header, sizeof header - 1, header_b64, sizeof header_b64);
	b64url((const uint8_t *)claims, (size_t)n, claims_b64, sizeof claims_b64);
	char signing[1600];
	int sl = snprintf(signing, sizeof signing, "%s.%s", header_b64, claims_b64);
	if (sl <= 0 || (size_t)sl >= sizeof signing)
		return 0;
	uint8_t der[80], raw[64];
	size_t der_len = sizeof der;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, idp->key) == 1 &&
		 EVP_DigestSign(md, der, &der_len, (const uint8_t *)signing, (size_t)sl) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		return 0;
	/* JWS ES256 carries R || S (32 bytes each), not the DER the EVP interface returns. */
	const uint8_t *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (!sig)
		return 0;
	const BIGNUM *br, *bs;
	ECDSA_SIG_get0(sig, &br, &bs);
	ok = BN_bn2binpad(br, raw, 32) == 32 && BN_bn2binpad(bs, raw + 32, 32) == 32;
	ECDSA_SIG_free(sig);
	if (!ok)
		return 0;
	char sig_b64[100];
	b64url(raw, sizeof raw, sig_b64, sizeof sig_b64);
	int tl = snprintf(out, cap, "%s.%s", signing, sig_b64);
	return tl > 0 && (size_t)tl < cap ? (size_t)tl : 0;
}
