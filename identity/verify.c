/* SPDX-License-Identifier: MPL-2.0 */
/* ID token verification, in the order of spec/identity.md §4: shape, header, alg allowlist, key,
 * signature, registered claims, nonce, once-only, then the profile's claims (claims.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "identity_internal.h"

#define REPLAY_DOMAIN "wakks.v1 oidc-replay"
/* NumericDate values beyond 2^53 cannot be exact doubles; no honest token is near that. */
#define NUMERIC_DATE_MAX 9007199254740991.0

static bool tenant_trusts(const id_tenant *t, const char *idp_id)
{
	for (size_t i = 0; i < t->n_idp_ids; i++)
		if (strcmp(t->idp_ids[i], idp_id) == 0)
			return true;
	return false;
}

/* Reads a NumericDate; *present false if absent. @return 0 or ID_ERR_CLAIM_TYPE. */
static int numeric_date(const json_t *claims, const char *name, int64_t *out, bool *present)
{
	json_t *v = json_object_get(claims, name);
	*present = v != NULL;
	if (!v)
		return 0;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0 || (double)i > NUMERIC_DATE_MAX)
			return ID_ERR_CLAIM_TYPE;
		*out = (int64_t)i;
		return 0;
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		if (!isfinite(d) || d < 0 || d > NUMERIC_DATE_MAX)
			return ID_ERR_CLAIM_TYPE;
		*out = (int64_t)d; /* d >= 0: truncation is floor */
		return 0;
	}
	return ID_ERR_CLAIM_TYPE;
}

/* Header: a JSON object with a string alg; crit/b64/enc refused (RFC 7515 §4.1.11: we
 * understand no extensions). @return 0 or an error; *alg_bit and *kid (owned by hdr) set. */
static int check_header(const json_t *hdr, const id_idp *idp, unsigned *alg_bit, const char **kid)
{
	if (!json_is_object(hdr))
		return ID_ERR_HEADER_JSON;
	if (json_object_get(hdr, "crit") || json_object_get(hdr, "b64") || json_object_get(hdr, "enc") ||
	    json_object_get(hdr, "zip"))
		return ID_ERR_HEADER_UNSUPPORTED;
	const char *alg;
	size_t kid_len;
	if (id__json_string(hdr, "alg", &alg, NULL, ID_ERR_HEADER_JSON) != 0)
		return ID_ERR_HEADER_JSON;
	if (!alg)
		return ID_ERR_ALG_MISSING;
	if (id__ascii_case_equal(alg, "none"))
		return ID_ERR_ALG_NONE;
	if ((alg[0] == 'H' || alg[0] == 'h') && (alg[1] == 'S' || alg[1] == 's'))
		return ID_ERR_ALG_HMAC;
	unsigned bit = strcmp(alg, "RS256") == 0 ? ID_ALG_RS256 : strcmp(alg, "ES256") == 0 ? ID_ALG_ES256 : 0;
	if (bit == 0 || (idp->allowed_algs & bit) == 0)
		return ID_ERR_ALG_NOT_ALLOWED;
	if (id__json_string(hdr, "kid", kid, &kid_len, ID_ERR_HEADER_JSON) != 0)
		return ID_ERR_HEADER_JSON;
	if (*kid && (kid_len == 0 || kid_len > ID__KID_MAX_BYTES))
		return ID_ERR_KID_UNKNOWN;
	*alg_bit = bit;
	return 0;
}

static int check_audience(const json_t *claims, const char *client_id)
{
	json_t *aud = json_object_get(claims, "aud");
	size_t n_aud = 0;
	bool found = false;
	if (json_is_string(aud)) {
		n_aud = 1;
		found = strlen(json_string_value(aud)) == json_string_length(aud) &&
			strcmp(json_string_value(aud), client_id) == 0;
	} else if (json_is_array(aud)) {
		size_t i;
		json_t *a;
		json_array_foreach(aud, i, a) {
			if (!json_is_string(a))
				return ID_ERR_AUD;
			if (strlen(json_string_value(a)) == json_string_length(a) &&
			    strcmp(json_string_value(a), client_id) == 0)
				found = true;
		}
		n_aud = json_array_size(aud);
	} else {
		return ID_ERR_AUD;
	}
	if (!found)
		return ID_ERR_AUD;
	/* OIDC Core 3.1.3.7 items 4 and 5. */
	const char *azp;
	if (id__json_string(claims, "azp", &azp, NULL, ID_ERR_AZP) != 0)
		return ID_ERR_AZP;
	if ((n_aud > 1 && !azp) || (azp && strcmp(azp, client_id) != 0))
		return ID_ERR_AZP;
	return 0;
}

static int check_times(const json_t *claims, const id_idp *idp, int64_t now, id_verified *v)
{
	int64_t exp = 0, iat = 0, nbf = 0, skew = idp->skew_seconds;
	bool has_exp, has_iat, has_nbf;
	if (numeric_date(claims, "exp", &exp, &has_exp) || numeric_date(claims, "iat", &iat, &has_iat) ||
	    numeric_date(claims, "nbf", &nbf, &has_nbf))
		return ID_ERR_CLAIM_TYPE;
	if (!has_exp)
		return ID_ERR_EXP_MISSING;
	if (now >= exp + skew)
		return ID_ERR_EXPIRED;
	if (has_nbf && nbf > now + skew)
		return ID_ERR_NOT_YET_VALID;
	if (!has_iat)
		return ID_ERR_IAT_MISSING;
	if (iat > now + skew)
		return ID_ERR_IAT_FUTURE;
	if (now - iat > (int64_t)idp->max_age_seconds + skew)
		return ID_ERR_TOO_OLD;
	v->iat = iat;
	v->exp = exp;
	return 0;
}

static int verify_signed(const id_idp *idp, const id_keyset *keys, const char *token,
			 size_t token_len, json_t **claims_out)
{
	/* Shape: exactly three non-empty base64url segments. */
	const char *dot1 = memchr(token, '.', token_len);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', token_len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot1 || !dot2 || memchr(dot2 + 1, '.', token_len - (size_t)(dot2 + 1 - token)))
		return ID_ERR_TOKEN_SHAPE;
	size_t hlen = (size_t)(dot1 - token), plen = (size_t)(dot2 - dot1 - 1);
	size_t slen = token_len - (size_t)(dot2 + 1 - token);
	/* An empty signature is left for the alg check to name (alg none tokens have one). */
	if (hlen == 0 || plen == 0)
		return ID_ERR_TOKEN_SHAPE;
	if (!id_b64url_charset(token, hlen) || !id_b64url_charset(dot1 + 1, plen) ||
	    !id_b64url_charset(dot2 + 1, slen))
		return ID_ERR_TOKEN_BASE64;

	uint8_t *hbin = NULL, *pbin = NULL, *sbin = NULL, *plain = NULL;
	size_t hbin_len, pbin_len, sbin_len, plain_len;
	json_t *hdr = NULL, *claims = NULL;
	cjose_jws_t *jws = NULL;
	cjose_err cerr;
	unsigned alg_bit = 0;
	const char *kid = NULL;
	const cjose_jwk_t *jwk = NULL;
	json_error_t jerr;
	int rc = id_b64url_decode(token, hlen, &hbin, &hbin_len);
	if (rc == 0)
		rc = id_b64url_decode(dot1 + 1, plen, &pbin, &pbin_len);
	if (rc == 0)
		rc = id_b64url_decode(dot2 + 1, slen, &sbin, &sbin_len);
	if (rc != 0)
		goto done;
	hdr = json_loadb((const char *)hbin, hbin_len, JSON_REJECT_DUPLICATES, &jerr);
	rc = check_header(hdr, idp, &alg_bit, &kid);
	if (rc != 0)
		goto done;
	if (sbin_len == 0) {
		rc = ID_ERR_SIGNATURE;
		goto done;
	}
	rc = id__keyset_find(keys, kid, alg_bit, &jwk);
	if (rc != 0)
		goto done;
	if (alg_bit == ID_ALG_ES256 && sbin_len != 64) {
		rc = ID_ERR_SIGNATURE;
		goto done;
	}
	jws = cjose_jws_import(token, token_len, &cerr);
	if (!jws || !cjose_jws_verify(jws, jwk, &cerr)) {
		rc = ID_ERR_SIGNATURE;
		goto done;
	}
	if (!cjose_jws_get_plaintext(jws, &plain, &plain_len, &cerr)) {
		rc = ID_ERR_SIGNATURE;
		goto done;
	}
	/* cjose decoded the same payload bytes; parse them with duplicate keys refused so no claim
	 * can mean one thing to us and another to any other parser. */
	claims = json_loadb((const char *)plain, plain_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(claims)) {
		rc = ID_ERR_PAYLOAD_JSON;
		goto done;
	}
	*claims_out = claims;
	claims = NULL;
done:
	json_decref(claims);
	cjose_jws_release(jws); /* owns plain */
	json_decref(hdr);
	free(hbin);
	if (pbin) /* the payload holds the person identifier */
		sodium_memzero(pbin, pbin_len);
	free(pbin);
	free(sbin);
	return rc;
}

/* Everything after the signature: registered claims, nonce, replay check, profile claims,
 * once-only insertion. Fills *v (scratch owned by the caller). */
static int check_claims(const id_idp *idp, const id_tenant *tenant, const json_t *claims,
			const uint8_t identity_pk[ID_PUBLIC_KEY_BYTES],
			const uint8_t challenge[ID_CHALLENGE_BYTES], int64_t now, id_replay *replay,
			id_verified *v)
{
	char expect[ID_NONCE_BUF_BYTES];
	const char *iss, *nonce, *jti;
	size_t iss_len, nonce_len, jti_len;
	int rc;
	if (id__json_string(claims, "iss", &iss, &iss_len, ID_ERR_ISS) != 0 || !iss ||
	    strcmp(iss, idp->issuer) != 0)
		return ID_ERR_ISS;
	if ((rc = check_audience(claims, idp->client_id)) != 0)
		return rc;
	if ((rc = check_times(claims, idp, now, v)) != 0)
		return rc;
	if (id__json_string(claims, "nonce", &nonce, &nonce_len, ID_ERR_NONCE_MISMATCH) != 0)
		return ID_ERR_NONCE_MISMATCH;
	if (!nonce)
		return ID_ERR_NONCE_MISSING;
	if ((rc = id_nonce_compute(idp->issuer, identity_pk, challenge, expect)) != 0)
		return rc;
	if (nonce_len != ID_NONCE_CHARS || sodium_memcmp(nonce, expect, ID_NONCE_CHARS) != 0)
		return ID_ERR_NONCE_MISMATCH;
	uint8_t msg[sizeof REPLAY_DOMAIN + ID_NONCE_CHARS];
	memcpy(msg, REPLAY_DOMAIN, sizeof REPLAY_DOMAIN);
	memcpy(msg + sizeof REPLAY_DOMAIN, expect, ID_NONCE_CHARS);
	id__sha256(msg, sizeof msg, v->replay_key);
	if (replay && (rc = id_replay_check(replay, v->replay_key, now)) != 0)
		return rc;
	if (id__json_string(claims, "jti", &jti, &jti_len, ID_ERR_CLAIM_TYPE) != 0 ||
	    jti_len > ID_JTI_MAX_BYTES)
		return ID_ERR_CLAIM_TYPE;
	if (jti)
		memcpy(v->jti, jti, jti_len + 1);
	memcpy(v->issuer, iss, iss_len + 1);
	v->kind = idp->kind;
	v->profile = idp->profile;
	if ((rc = id__claims_profile(idp, tenant, claims, v)) != 0)
		return rc;
	/* Once-only, last: a token refused for any other reason does not burn its nonce. */
	if (replay && (rc = id_replay_insert(replay, v->replay_key, v->exp + idp->skew_seconds, now)) != 0)
		return rc;
	return 0;
}

static int check_args(const id_idp *idp, const id_tenant *tenant)
{
	if (id_idp_validate(idp) != 0)
		return ID_ERR_CONFIG;
	if (idp->kind == ID_KIND_CASEWORKER) {
		if (!tenant)
			return ID_ERR_INVALID_ARG;
		if (!tenant_trusts(tenant, idp->id))
			return ID_ERR_TENANT_IDP;
	}
	return 0;
}

int id_verify(const id_idp *idp, const id_keyset *keys, const id_tenant *tenant, const char *token,
	      size_t token_len, const uint8_t identity_pk[ID_PUBLIC_KEY_BYTES],
	      const uint8_t challenge[ID_CHALLENGE_BYTES], int64_t now, id_replay *replay,
	      id_verified *out)
{
	if (!idp || !keys || !identity_pk || !challenge || !out || (!token && token_len))
		return ID_ERR_INVALID_ARG;
	int rc = check_args(idp, tenant);
	if (rc != 0)
		return rc;
	if (token_len == 0)
		return ID_ERR_TOKEN_EMPTY;
	if (token_len > ID_TOKEN_MAX_BYTES)
		return ID_ERR_TOKEN_TOO_LARGE;

	id_verified *v = calloc(1, sizeof *v); /* heap: the struct is large, and wiped on all paths */
	json_t *claims = NULL;
	if (!v)
		return ID_ERR_NOMEM;
	rc = verify_signed(idp, keys, token, token_len, &claims);
	if (rc == 0) {
		id__sha256((const uint8_t *)token, token_len, v->token_hash);
		rc = check_claims(idp, tenant, claims, identity_pk, challenge, now, replay, v);
	}
	if (rc == 0)
		*out = *v;
	json_decref(claims);
	sodium_memzero(v, sizeof *v);
	free(v);
	return rc;
}

int id__verify_claims(const id_idp *idp, const id_tenant *tenant, const uint8_t *payload,
		      size_t len, const uint8_t identity_pk[ID_PUBLIC_KEY_BYTES],
		      const uint8_t challenge[ID_CHALLENGE_BYTES], int64_t now, id_verified *out)
{
	if (!idp || !payload || !identity_pk || !challenge || !out)
		return ID_ERR_INVALID_ARG;
	int rc = check_args(idp, tenant);
	if (rc != 0)
		return rc;
	json_error_t jerr;
	json_t *claims = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(claims)) {
		json_decref(claims);
		return ID_ERR_PAYLOAD_JSON;
	}
	id_verified *v = calloc(1, sizeof *v);
	if (!v) {
		json_decref(claims);
		return ID_ERR_NOMEM;
	}
	rc = check_claims(idp, tenant, claims, identity_pk, challenge, now, NULL, v);
	if (rc == 0)
		*out = *v;
	json_decref(claims);
	sodium_memzero(v, sizeof *v);
	free(v);
	return rc;
}

void id_verified_wipe(id_verified *v)
{
	if (v)
		sodium_memzero(v, sizeof *v);
}

/* The display name of a presented token: "name", else given and family name joined. */
static int presented_name(const json_t *claims, char *out, size_t cap)
{
	const char *name, *given, *family;
	size_t nl, gl, fl;
	if (id__json_string(claims, "name", &name, &nl, ID_ERR_SUBJECT) != 0)
		return ID_ERR_SUBJECT;
	if (name && nl > 0 && nl < cap) {
		memcpy(out, name, nl + 1);
		return 0;
	}
	if (id__json_string(claims, "given_name", &given, &gl, ID_ERR_SUBJECT) != 0 ||
	    id__json_string(claims, "family_name", &family, &fl, ID_ERR_SUBJECT) != 0 || !given ||
	    !family || gl == 0 || fl == 0 || gl + fl + 2 > cap)
		return ID_ERR_SUBJECT;
	snprintf(out, cap, "%s %s", given, family);
	return 0;
}

int id_presentation_verify(const id_idp *idp, const id_keyset *keys, const char *token,
			   size_t token_len, const uint8_t identity_pk[ID_PUBLIC_KEY_BYTES],
			   const uint8_t challenge[ID_CHALLENGE_BYTES], id_presented *out)
{
	if (!idp || !keys || !identity_pk || !challenge || !out || (!token && token_len))
		return ID_ERR_INVALID_ARG;
	if (id_idp_validate(idp) != 0 || idp->kind != ID_KIND_CITIZEN)
		return ID_ERR_CONFIG;
	if (token_len == 0)
		return ID_ERR_TOKEN_EMPTY;
	if (token_len > ID_TOKEN_MAX_BYTES)
		return ID_ERR_TOKEN_TOO_LARGE;
	json_t *claims = NULL;
	int rc = verify_signed(idp, keys, token, token_len, &claims);
	const char *iss, *nonce, *person;
	size_t iss_len, nonce_len, person_len;
	char expect[ID_NONCE_BUF_BYTES];
	id_presented p;
	memset(&p, 0, sizeof p);
	if (rc != 0)
		goto done;
	if (id__json_string(claims, "iss", &iss, &iss_len, ID_ERR_ISS) != 0 || !iss ||
	    strcmp(iss, idp->issuer) != 0) {
		rc = ID_ERR_ISS;
		goto done;
	}
	if ((rc = check_audience(claims, idp->client_id)) != 0)
		goto done;
	if (id__json_string(claims, "nonce", &nonce, &nonce_len, ID_ERR_NONCE_MISMATCH) != 0) {
		rc = ID_ERR_NONCE_MISMATCH;
		goto done;
	}
	if (!nonce) {
		rc = ID_ERR_NONCE_MISSING;
		goto done;
	}
	if ((rc = id_nonce_compute(idp->issuer, identity_pk, challenge, expect)) != 0)
		goto done;
	if (nonce_len != ID_NONCE_CHARS || sodium_memcmp(nonce, expect, ID_NONCE_CHARS) != 0) {
		rc = ID_ERR_NONCE_MISMATCH;
		goto done;
	}
	const char *claim = idp->person_claim ? idp->person_claim : "dk.cpr";
	if (id__json_string(claims, claim, &person, &person_len, ID_ERR_SUBJECT) != 0 || !person ||
	    id_cpr_normalize(person, p.cpr) != 0) {
		rc = ID_ERR_SUBJECT;
		goto done;
	}
	if ((rc = presented_name(claims, p.name, sizeof p.name)) != 0)
		goto done;
	json_t *iat = json_object_get(claims, "iat");
	p.iat = json_is_integer(iat) ? (int64_t)json_integer_value(iat)
				     : json_is_real(iat) ? (int64_t)json_real_value(iat) : 0;
	*out = p;
done:
	sodium_memzero(&p, sizeof p);
	json_decref(claims);
	return rc;
}
