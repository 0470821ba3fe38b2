/* SPDX-License-Identifier: MPL-2.0 */
/* VAPID key, JWT signing and RFC 8291 payload encryption on OpenSSL 3 (see push_crypto.h). */
#include "services/push_crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "wakks_identity.h" /* id_b64url_encode */

EVP_PKEY *push_key_read_pem(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

EVP_PKEY *push_key_from_pem(const char *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return NULL;
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	return k;
}

static int is_p256(EVP_PKEY *k)
{
	char group[32];
	size_t n = 0;
	return EVP_PKEY_is_a(k, "EC") &&
	       EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
					      &n) == 1 &&
	       strcmp(group, "prime256v1") == 0;
}

int push_vapid_load(const char *path, EVP_PKEY **out, char *why, size_t why_len)
{
	EVP_PKEY *k = push_key_read_pem(path);
	if (k) {
		if (!is_p256(k)) {
			EVP_PKEY_free(k);
			snprintf(why, why_len, "%s is not a P-256 key", path);
			return -1;
		}
		*out = k;
		return 0;
	}
	if (access(path, F_OK) == 0) {
		snprintf(why, why_len, "%s is not a readable PEM private key", path);
		return -1;
	}
	k = EVP_EC_gen("P-256");
	if (!k) {
		snprintf(why, why_len, "key generation failed");
		return -1;
	}
	/* Written under a temporary name and renamed, so a crash never leaves half a key that the
	 * next start would refuse; O_EXCL: never over another process's file. */
	char tmp[1200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	unlink(tmp);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	int ok = f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1 && fflush(f) == 0 &&
		 fsync(fileno(f)) == 0;
	if (f)
		ok = fclose(f) == 0 && ok;
	else if (fd >= 0)
		close(fd);
	if (!ok || rename(tmp, path) != 0) {
		snprintf(why, why_len, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		EVP_PKEY_free(k);
		return -1;
	}
	*out = k;
	return 0;
}

int push_p256_public(EVP_PKEY *key, uint8_t out[PUSH_P256_POINT_BYTES])
{
	size_t n = 0;
	if (!is_p256(key) ||
	    EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out,
					    PUSH_P256_POINT_BYTES, &n) != 1 ||
	    n != PUSH_P256_POINT_BYTES || out[0] != 0x04)
		return -1;
	return 0;
}

/* A P-256 key from raw parts: a public point, and optionally the private scalar. */
static EVP_PKEY *p256_from_raw(const uint8_t pub[PUSH_P256_POINT_BYTES], const uint8_t *priv)
{
	EVP_PKEY *k = NULL;
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	BIGNUM *d = priv ? BN_bin2bn(priv, 32, NULL) : NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!b || !ctx || (priv && !d) ||
	    !OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, PUSH_P256_POINT_BYTES) ||
	    (d && !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, d)) ||
	    !(params = OSSL_PARAM_BLD_to_param(b)) || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1)
		k = NULL;
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	BN_clear_free(d);
	EVP_PKEY_CTX_free(ctx);
	return k;
}

int push_p256_point_valid(const uint8_t p[PUSH_P256_POINT_BYTES])
{
	if (p[0] != 0x04)
		return 0;
	EVP_PKEY *k = p256_from_raw(p, NULL);
	if (!k)
		return 0;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
	int ok = ctx && EVP_PKEY_public_check(ctx) == 1;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(k);
	return ok;
}

static int b64url(const uint8_t *in, size_t n, char *out, size_t cap)
{
	size_t len = id_b64url_len(n);
	if (len + 1 > cap)
		return -1;
	id_b64url_encode(in, n, out, cap);
	return (int)len;
}

int push_jwt_sign(EVP_PKEY *key, const char *header_json, const char *claims_json, char *out,
		  size_t cap)
{
	int es = EVP_PKEY_is_a(key, "EC"), rs = EVP_PKEY_is_a(key, "RSA");
	if (!es && !rs)
		return -1;
	int h = b64url((const uint8_t *)header_json, strlen(header_json), out, cap);
	if (h < 0 || (size_t)h + 2 > cap)
		return -1;
	out[h] = '.';
	int c = b64url((const uint8_t *)claims_json, strlen(claims_json), out + h + 1, cap - (size_t)h - 1);
	if (c < 0)
		return -1;
	size_t signed_len = (size_t)h + 1 + (size_t)c;
	uint8_t sig[512], raw[64];
	size_t sig_len = sizeof sig;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
		 EVP_DigestSign(md, sig, &sig_len, (const uint8_t *)out, signed_len) == 1;
	EVP_MD_CTX_free(md);
	if (!ok)
		return -1;
	const uint8_t *sig_out = sig;
	if (es) {
		/* JWS wants the two 32-byte integers side by side, not OpenSSL's DER. */
		const uint8_t *p = sig;
		ECDSA_SIG *e = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
		const BIGNUM *r, *s;
		if (!e)
			return -1;
		ECDSA_SIG_get0(e, &r, &s);
		ok = BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32;
		ECDSA_SIG_free(e);
		if (!ok)
			return -1;
		sig_out = raw;
		sig_len = 64;
	}
	if (signed_len + 2 > cap)
		return -1;
	out[signed_len] = '.';
	int s = b64url(sig_out, sig_len, out + signed_len + 1, cap - signed_len - 1);
	return s < 0 ? -1 : (int)(signed_len + 1 + (size_t)s);
}

static int hmac256(const uint8_t *key, size_t klen, const uint8_t *a, size_t alen,
		   const uint8_t *b, size_t blen, uint8_t out[32])
{
	uint8_t buf[256];
	unsigned int n = 32;
	if (alen + blen > sizeof buf)
		return -1;
	memcpy(buf, a, alen);
	if (blen)
		memcpy(buf + alen, b, blen);
	int ok = HMAC(EVP_sha256(), key, (int)klen, buf, alen + blen, out, &n) != NULL && n == 32;
	OPENSSL_cleanse(buf, sizeof buf);
	return ok ? 0 : -1;
}

#ifdef WAKKS_TEST_HOOKS
static int test_eph_set;
static uint8_t test_priv[32], test_pub[PUSH_P256_POINT_BYTES], test_salt[PUSH_SALT_BYTES];

void push_test_set_ephemeral(const uint8_t priv[32], const uint8_t pub[PUSH_P256_POINT_BYTES],
			     const uint8_t salt[PUSH_SALT_BYTES])
{
	test_eph_set = priv != NULL;
	if (priv) {
		memcpy(test_priv, priv, 32);
		memcpy(test_pub, pub, sizeof test_pub);
		memcpy(test_salt, salt, sizeof test_salt);
	}
}
#endif

int push_webpush_encrypt(const uint8_t ua_public[PUSH_P256_POINT_BYTES],
			 const uint8_t auth[PUSH_AUTH_SECRET_BYTES], const uint8_t *plaintext,
			 size_t len, uint8_t *out, size_t cap)
{
	static const char key_info[] = "WebPush: info";           /* RFC 8291 §3.4, with its NUL */
	static const char cek_info[] = "Content-Encoding: aes128gcm"; /* RFC 8188 §2.2 */
	static const char nonce_info[] = "Content-Encoding: nonce";
	int rc = -1;
	if (len + PUSH_AES128GCM_OVERHEAD > cap || len + 1 + 16 > PUSH_RECORD_SIZE)
		return -1;
	EVP_PKEY *eph = NULL, *peer = NULL;
	EVP_PKEY_CTX *dctx = NULL;
	EVP_CIPHER_CTX *c = NULL;
	uint8_t salt[PUSH_SALT_BYTES], as_pub[PUSH_P256_POINT_BYTES], secret[32], prk_key[32],
		ikm[32], prk[32], cek[32], nonce[32], info[sizeof key_info + 2 * PUSH_P256_POINT_BYTES];
	size_t secret_len = sizeof secret;
#ifdef WAKKS_TEST_HOOKS
	if (test_eph_set) {
		eph = p256_from_raw(test_pub, test_priv);
		memcpy(salt, test_salt, sizeof salt);
		test_eph_set = 0;
	} else
#endif
	{
		eph = EVP_EC_gen("P-256");
		if (RAND_bytes(salt, sizeof salt) != 1)
			goto done;
	}
	peer = p256_from_raw(ua_public, NULL);
	if (!eph || !peer || push_p256_public(eph, as_pub) != 0)
		goto done;
	dctx = EVP_PKEY_CTX_new(eph, NULL);
	if (!dctx || EVP_PKEY_derive_init(dctx) != 1 || EVP_PKEY_derive_set_peer(dctx, peer) != 1 ||
	    EVP_PKEY_derive(dctx, secret, &secret_len) != 1 || secret_len != 32)
		goto done;
	/* RFC 8291 §3.3-3.4: PRK_key = HMAC(auth, ecdh); IKM = HKDF-Expand(PRK_key, key_info, 32). */
	memcpy(info, key_info, sizeof key_info);
	memcpy(info + sizeof key_info, ua_public, PUSH_P256_POINT_BYTES);
	memcpy(info + sizeof key_info + PUSH_P256_POINT_BYTES, as_pub, PUSH_P256_POINT_BYTES);
	static const uint8_t one = 0x01;
	uint8_t cek_in[sizeof cek_info], nonce_in[sizeof nonce_info];
	memcpy(cek_in, cek_info, sizeof cek_info);
	memcpy(nonce_in, nonce_info, sizeof nonce_info);
	if (hmac256(auth, PUSH_AUTH_SECRET_BYTES, secret, 32, NULL, 0, prk_key) ||
	    hmac256(prk_key, 32, info, sizeof info, &one, 1, ikm) ||
	    /* RFC 8188 §2.2: PRK = HKDF-Extract(salt, IKM); CEK and NONCE expanded from it. */
	    hmac256(salt, sizeof salt, ikm, 32, NULL, 0, prk) ||
	    hmac256(prk, 32, cek_in, sizeof cek_in, &one, 1, cek) ||
	    hmac256(prk, 32, nonce_in, sizeof nonce_in, &one, 1, nonce))
		goto done;
	/* Header: salt, record size, key id = the ephemeral public key. */
	uint8_t *p = out;
	memcpy(p, salt, sizeof salt), p += sizeof salt;
	*p++ = (uint8_t)(PUSH_RECORD_SIZE >> 24), *p++ = (uint8_t)(PUSH_RECORD_SIZE >> 16);
	*p++ = (uint8_t)(PUSH_RECORD_SIZE >> 8), *p++ = (uint8_t)PUSH_RECORD_SIZE;
	*p++ = PUSH_P256_POINT_BYTES;
	memcpy(p, as_pub, PUSH_P256_POINT_BYTES), p += PUSH_P256_POINT_BYTES;
	int n1 = 0, n2 = 0, n3 = 0;
	static const uint8_t last = 0x02; /* the last (only) record's delimiter, no padding */
	c = EVP_CIPHER_CTX_new();
	if (!c || EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
	    EVP_EncryptInit_ex(c, NULL, NULL, cek, nonce) != 1 ||
	    EVP_EncryptUpdate(c, p, &n1, plaintext, (int)len) != 1 ||
	    EVP_EncryptUpdate(c, p + n1, &n2, &last, 1) != 1 ||
	    EVP_EncryptFinal_ex(c, p + n1 + n2, &n3) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, p + n1 + n2 + n3) != 1)
		goto done;
	p += n1 + n2 + n3 + 16;
	rc = (int)(p - out);
done:
	OPENSSL_cleanse(secret, sizeof secret);
	OPENSSL_cleanse(prk_key, sizeof prk_key);
	OPENSSL_cleanse(ikm, sizeof ikm);
	OPENSSL_cleanse(prk, sizeof prk);
	OPENSSL_cleanse(cek, sizeof cek);
	EVP_CIPHER_CTX_free(c);
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_free(eph);
	EVP_PKEY_free(peer);
	return rc;
}
