/* SPDX-License-Identifier: MPL-2.0 */
/* Which Web Push endpoints a device may register, and the relay's push cryptography: RFC 8291's
 * own example encrypts to its published bytes, fresh
 * encryptions differ and have the announced shape, JWTs verify with the signing key and carry
 * raw ES256 signatures, and the VAPID key is created once (0600) and read back the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include "services/push.h"
#include "services/push_crypto.h"
#include "test.h"
#include "wakks_identity.h"

static uint8_t *b64(const char *s, size_t *n)
{
	uint8_t *out = NULL;
	if (id_b64url_decode(s, strlen(s), &out, n) != 0)
		abort();
	return out;
}

static void rfc8291_appendix_a(void)
{
	size_t n;
	uint8_t *as_priv = b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw", &n);
	uint8_t *as_pub = b64("BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6Tlz"
			      "AC8wEqKK6PBru3jl7A8", &n);
	uint8_t *ua_pub = b64("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7V"
			      "d8pZGH6SRpkNtoIAiw4", &n);
	uint8_t *salt = b64("DGv6ra1nlYgDCS1FRnbzlw", &n);
	uint8_t *auth = b64("BTBZMqHH6r4Tts7J_aSIgg", &n);
	size_t want_len;
	uint8_t *want = b64("DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMo"
			    "ZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1C"
			    "XztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN", &want_len);
	const char *msg = "When I grow up, I want to be a watermelon";
	uint8_t out[256];
	push_test_set_ephemeral(as_priv, as_pub, salt);
	int len = push_webpush_encrypt(ua_pub, auth, (const uint8_t *)msg, strlen(msg), out, sizeof out);
	CHECK_EQ_INT(len, (int)want_len);
	CHECK(len > 0 && memcmp(out, want, want_len) == 0);
	CHECK_EQ_INT(len, (int)(strlen(msg) + PUSH_AES128GCM_OVERHEAD));

	/* without the hook: a fresh salt and key each time, same shape */
	uint8_t again[256];
	int len2 = push_webpush_encrypt(ua_pub, auth, (const uint8_t *)msg, strlen(msg), again, sizeof again);
	CHECK_EQ_INT(len2, len);
	CHECK(memcmp(again, out, 16) != 0);          /* salt */
	CHECK(memcmp(again + 21, out + 21, 65) != 0); /* ephemeral key */
	CHECK_EQ_INT(again[20], 65);
	/* too small an output buffer fails rather than truncates */
	CHECK_EQ_INT(push_webpush_encrypt(ua_pub, auth, (const uint8_t *)msg, strlen(msg), again,
					  (size_t)len - 1), -1);
	/* points: the example's are on the curve; a flipped coordinate is not */
	CHECK(push_p256_point_valid(ua_pub));
	ua_pub[64] ^= 1;
	CHECK(!push_p256_point_valid(ua_pub));
	free(as_priv), free(as_pub), free(ua_pub), free(salt), free(auth), free(want);
}

static void vapid_key_and_jwt(void)
{
	char dir[] = "/tmp/wakks-push-XXXXXX", path[64], why[200];
	REQUIRE(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/push-vapid.pem", dir);
	EVP_PKEY *k1 = NULL, *k2 = NULL;
	REQUIRE(push_vapid_load(path, &k1, why, sizeof why) == 0);
	struct stat st;
	REQUIRE(stat(path, &st) == 0);
	CHECK_EQ_INT(st.st_mode & 0777, 0600);
	REQUIRE(push_vapid_load(path, &k2, why, sizeof why) == 0);
	uint8_t p1[65], p2[65];
	CHECK_EQ_INT(push_p256_public(k1, p1), 0);
	CHECK_EQ_INT(push_p256_public(k2, p2), 0);
	CHECK(memcmp(p1, p2, 65) == 0 && p1[0] == 0x04);

	char jwt[1024];
	int n = push_jwt_sign(k1, "{\"typ\":\"JWT\",\"alg\":\"ES256\"}",
			      "{\"aud\":\"https://push.example\",\"exp\":1800000000}", jwt, sizeof jwt);
	REQUIRE(n > 0 && (size_t)n == strlen(jwt));
	char *dot2 = strrchr(jwt, '.');
	REQUIRE(dot2);
	size_t sig_len;
	uint8_t *sig = b64(dot2 + 1, &sig_len);
	CHECK_EQ_INT(sig_len, 64);
	/* verify with the public key: r || s back to DER */
	ECDSA_SIG *e = ECDSA_SIG_new();
	ECDSA_SIG_set0(e, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
	uint8_t *der = NULL;
	int der_len = i2d_ECDSA_SIG(e, &der);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	CHECK(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k2) == 1 &&
	      EVP_DigestVerify(md, der, (size_t)der_len, (const uint8_t *)jwt, (size_t)(dot2 - jwt)) == 1);
	/* and not over other bytes */
	jwt[3] ^= 1;
	EVP_MD_CTX_reset(md);
	CHECK(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k2) == 1 &&
	      EVP_DigestVerify(md, der, (size_t)der_len, (const uint8_t *)jwt, (size_t)(dot2 - jwt)) != 1);
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(e);
	free(sig);
	CHECK_EQ_INT(push_jwt_sign(k1, "{}", "{}", jwt, 20), -1);

	/* a file that is not a key is refused, not replaced */
	FILE *f = fopen(path, "w");
	fputs("not a key\n", f);
	fclose(f);
	EVP_PKEY *k3 = NULL;
	CHECK_EQ_INT(push_vapid_load(path, &k3, why, sizeof why), -1);
	CHECK(k3 == NULL);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	unlink(path);
	rmdir(dir);
}

static void endpoints_a_device_may_register(void)
{
#define OK(u, local) relay_push_endpoint_ok(u, strlen(u), local)
	CHECK(OK("https://fcm.googleapis.com/fcm/send/abc:def", false));
	CHECK(OK("https://updates.push.services.mozilla.com/wpush/v2/gAAA", false));
	CHECK(OK("https://web.push.apple.com:443/QGuQ", false));
	CHECK(!OK("http://fcm.googleapis.com/x", false));
	CHECK(!OK("https://", false));
	CHECK(!OK("https:///path", false));
	CHECK(!OK("https://user:pw@push.example/x", false));
	CHECK(!OK("https://127.0.0.1/x", false));
	CHECK(!OK("https://10.0.0.7:8443/x", false));
	CHECK(!OK("https://[::1]/x", false));
	CHECK(!OK("https://localhost:9000/x", false));
	CHECK(!OK("https://LOCALHOST/x", false));
	CHECK(!OK("https://metadata.localhost/x", false));
	/* for a test push service on loopback */
	CHECK(OK("https://localhost:9000/x", true));
	CHECK(OK("https://127.0.0.1/x", true));
	CHECK(!OK("https://user@localhost/x", true));
#undef OK
}

int main(void)
{
	RUN(endpoints_a_device_may_register);
	RUN(rfc8291_appendix_a);
	RUN(vapid_key_and_jwt);
	return TEST_RESULT();
}
