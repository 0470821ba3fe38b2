/* SPDX-License-Identifier: MPL-2.0 */
/* private_key_jwt: the signed assertion with which the relay authenticates as a confidential
 * client at a provider's token endpoint. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "identity_internal.h"

int id_client_assertion(const char *jwk_json, size_t jwk_len, const char *kid,
			const char *client_id, const char *audience, int64_t now, char **out)
{
	if (!jwk_json || !client_id || !client_id[0] || !audience || !audience[0] || !out)
		return ID_ERR_INVALID_ARG;
	cjose_err cerr;
	cjose_jwk_t *key = cjose_jwk_import(jwk_json, jwk_len, &cerr);
	if (!key)
		return ID_ERR_CONFIG;
	const char *alg = NULL;
	cjose_jwk_kty_t kty = cjose_jwk_get_kty(key, &cerr);
	if (kty == CJOSE_JWK_KTY_RSA) {
		alg = CJOSE_HDR_ALG_RS256;
	} else if (kty == CJOSE_JWK_KTY_EC) {
		if (cjose_jwk_EC_get_curve(key, &cerr) == CJOSE_JWK_EC_P_256)
			alg = CJOSE_HDR_ALG_ES256;
	}
	int rc = 0;
	json_t *hdr = NULL, *claims = NULL;
	char *payload = NULL;
	cjose_jws_t *jws = NULL;
	if (!alg) {
		rc = ID_ERR_CONFIG;
		goto done;
	}
	const char *use_kid = kid && kid[0] ? kid : cjose_jwk_get_kid(key, &cerr);
	hdr = json_pack("{s:s, s:s}", "alg", alg, "typ", "JWT");
	if (hdr && use_kid && json_object_set_new(hdr, "kid", json_string(use_kid)) != 0)
		rc = ID_ERR_NOMEM;
	uint8_t raw[16];
	char jti[32];
	randombytes_buf(raw, sizeof raw);
	id_b64url_encode(raw, sizeof raw, jti, sizeof jti);
	claims = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "iss", client_id, "sub", client_id, "aud",
			   audience, "jti", jti, "iat", (json_int_t)now, "exp", (json_int_t)(now + 60));
	payload = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
	if (!hdr || !claims || !payload || rc != 0) {
		rc = ID_ERR_NOMEM;
		goto done;
	}
	jws = cjose_jws_sign(key, (cjose_header_t *)hdr, (const uint8_t *)payload, strlen(payload),
			     &cerr);
	const char *ser = NULL;
	if (!jws || !cjose_jws_export(jws, &ser, &cerr)) {
		rc = ID_ERR_CRYPTO;
		goto done;
	}
	*out = strdup(ser);
	if (!*out)
		rc = ID_ERR_NOMEM;
done:
	cjose_jws_release(jws);
	free(payload);
	json_decref(claims);
	json_decref(hdr);
	cjose_jwk_release(key);
	return rc;
}
