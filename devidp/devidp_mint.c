/* SPDX-License-Identifier: MPL-2.0 */
/* ID tokens of the development identity provider, with the claim names of the real providers,
 * and the deliberately broken variants the tests need. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "devidp_internal.h"

static const devidp_user *pick_user(const devidp *d, const char *login)
{
	if (login)
		return devidp_demo_user(login);
	size_t n;
	const devidp_user *u = devidp_demo_users(&n);
	for (size_t i = 0; i < n; i++)
		if (u[i].kind == devidp__kind(d))
			return &u[i];
	return NULL;
}

static json_t *groups_array(const char *csv)
{
	json_t *a = json_array();
	const char *p = csv;
	while (a && p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		json_array_append_new(a, json_stringn(p, n));
		p = comma ? comma + 1 : NULL;
	}
	return a;
}

/* The standard and profile claims of a demo user. */
static json_t *base_claims(const devidp *d, const devidp_user *u, const devidp_mint_opts *o, int64_t now)
{
	int64_t iat = o->iat ? o->iat : now;
	int64_t exp = o->exp ? o->exp : iat + d->token_lifetime;
	uint8_t jti_raw[16];
	char jti[32];
	randombytes_buf(jti_raw, sizeof jti_raw);
	id_b64url_encode(jti_raw, sizeof jti_raw, jti, sizeof jti);
	json_t *c = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "iss", o->iss ? o->iss : d->issuer,
			      "aud", o->aud ? o->aud : d->client_id, "iat", (json_int_t)iat, "exp",
			      (json_int_t)exp, "auth_time", (json_int_t)iat, "jti", jti, "name",
			      u->display_name);
	if (!c)
		return NULL;
	if (o->nonce)
		json_object_set_new(c, "nonce", json_string(o->nonce));
	if (o->nbf)
		json_object_set_new(c, "nbf", json_integer(o->nbf));
	if (u->kind == ID_KIND_CITIZEN) {
		/* MitID broker claims: the broker's sub is the MitID UUID; CPR only with its scope. */
		const char *level = strrchr(u->loa, '/') + 1;
		char ial[96];
		snprintf(ial, sizeof ial, "https://data.gov.dk/concept/core/nsis/ial/%s", level);
		json_object_set_new(c, "sub", json_string(u->mitid_uuid));
		json_object_set_new(c, "mitid.uuid", json_string(u->mitid_uuid));
		json_object_set_new(c, "dk.cpr", json_string(u->cpr));
		json_object_set_new(c, "idp", json_string("mitid"));
		json_object_set_new(c, "identity_type", json_string("private"));
		json_object_set_new(c, "loa", json_string(u->loa));
		json_object_set_new(c, "ial", json_string(ial));
		json_object_set_new(c, "amr", json_pack("[s]", "code_app"));
	} else {
		/* AD FS: sub is a pairwise opaque value; upn, unique_name (DOMAIN\user), groups. */
		uint8_t h[ID_HASH_BYTES];
		char sub[ID_NONCE_BUF_BYTES], uniq[ID_UPN_MAX_BYTES + 8];
		crypto_hash_sha256(h, (const uint8_t *)u->upn, strlen(u->upn));
		id_b64url_encode(h, sizeof h, sub, sizeof sub);
		const char *at = strchr(u->upn, '@');
		snprintf(uniq, sizeof uniq, "VARDE\\%.*s", (int)(at ? at - u->upn : (long)strlen(u->upn)), u->upn);
		json_object_set_new(c, "sub", json_string(sub));
		json_object_set_new(c, "upn", json_string(u->upn));
		json_object_set_new(c, "unique_name", json_string(uniq));
		json_object_set_new(c, "groups", groups_array(u->groups));
		json_object_set_new(c, "apptype", json_string("Public"));
		json_object_set_new(c, "ver", json_string("1.0"));
	}
	return c;
}

static int merge_extra(json_t *c, const char *extra)
{
	json_error_t jerr;
	json_t *x = json_loads(extra, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(x)) {
		json_decref(x);
		return ID_ERR_INVALID_ARG;
	}
	const char *k;
	json_t *v;
	json_object_foreach(x, k, v) {
		if (json_is_null(v))
			json_object_del(c, k);
		else
			json_object_set(c, k, v);
	}
	json_decref(x);
	return 0;
}

static char *b64_json(const json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);
	if (!text)
		return NULL;
	char *b = id_b64url_encode_alloc((const uint8_t *)text, strlen(text));
	free(text);
	return b;
}

static char *join3(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s.%s.%s", a, b, c);
	return s;
}

/* A real signature with the instance key; *out malloc'd. */
static int sign_real(const devidp *d, const json_t *hdr, const char *payload, char **out)
{
	cjose_err cerr;
	json_t *h = json_deep_copy(hdr);
	json_object_set_new(h, "alg", json_string(devidp_alg(d)));
	cjose_jws_t *jws = cjose_jws_sign(d->key, (cjose_header_t *)h, (const uint8_t *)payload,
					  strlen(payload), &cerr);
	json_decref(h);
	const char *ser = NULL;
	if (!jws || !cjose_jws_export(jws, &ser, &cerr)) {
		cjose_jws_release(jws);
		return ID_ERR_CRYPTO;
	}
	*out = strdup(ser);
	cjose_jws_release(jws);
	return *out ? 0 : ID_ERR_NOMEM;
}

int devidp_mint(devidp *d, const devidp_mint_opts *opts, int64_t now, char **out_token)
{
	static const devidp_mint_opts none_set;
	const devidp_mint_opts *o = opts ? opts : &none_set;
	if (!d || !out_token)
		return ID_ERR_INVALID_ARG;
	const devidp_user *u = pick_user(d, o->login);
	if (!u)
		return ID_ERR_INVALID_ARG;
	const char *alg = o->alg ? o->alg : devidp_alg(d);
	json_t *claims = base_claims(d, u, o, now);
	json_t *hdr = json_pack("{s:s, s:s}", "alg", alg, "typ", "JWT");
	char *payload_json = NULL, *b64h = NULL, *b64p = NULL, *token = NULL, *real = NULL;
	int rc = ID_ERR_NOMEM;
	if (!claims || !hdr)
		goto done;
	if (o->extra_claims_json && (rc = merge_extra(claims, o->extra_claims_json)) != 0)
		goto done;
	rc = ID_ERR_NOMEM;
	if (!o->omit_kid)
		json_object_set_new(hdr, "kid", json_string(o->kid ? o->kid : d->kid));
	payload_json = json_dumps(claims, JSON_COMPACT);
	b64h = b64_json(hdr);
	if (!payload_json || !b64h)
		goto done;

	if (strcmp(alg, "none") == 0) {
		b64p = id_b64url_encode_alloc((const uint8_t *)payload_json, strlen(payload_json));
		token = b64p ? join3(b64h, b64p, "") : NULL;
	} else if (strcmp(alg, "HS256") == 0) {
		/* Key confusion: HMAC keyed with the provider's public key text, as a verifier that
		 * takes "the key" for an HMAC secret would do. */
		cjose_err cerr;
		char *pub = cjose_jwk_to_json(d->key, false, &cerr);
		uint8_t mac[crypto_auth_hmacsha256_BYTES];
		crypto_auth_hmacsha256_state st;
		b64p = id_b64url_encode_alloc((const uint8_t *)payload_json, strlen(payload_json));
		if (!pub || !b64p) {
			free(pub);
			goto done;
		}
		char *input = join3(b64h, b64p, "");
		if (!input) {
			free(pub);
			goto done;
		}
		input[strlen(input) - 1] = 0; /* "h.p" */
		crypto_auth_hmacsha256_init(&st, (const uint8_t *)pub, strlen(pub));
		crypto_auth_hmacsha256_update(&st, (const uint8_t *)input, strlen(input));
		crypto_auth_hmacsha256_final(&st, mac);
		char *b64s = id_b64url_encode_alloc(mac, sizeof mac);
		token = b64s ? join3(b64h, b64p, b64s) : NULL;
		free(b64s);
		free(input);
		free(pub);
	} else {
		rc = sign_real(d, hdr, payload_json, &real);
		if (rc != 0)
			goto done;
		rc = ID_ERR_NOMEM;
		/* real = header "." payload "." signature, as cjose serialised them. */
		char *dot1 = strchr(real, '.');
		char *dot2 = strchr(dot1 + 1, '.');
		*dot1 = 0;
		*dot2 = 0;
		const char *sig = dot2 + 1;
		char *flipped = NULL;
		if (o->corrupt_signature) {
			uint8_t *bin;
			size_t blen;
			if (id_b64url_decode(sig, strlen(sig), &bin, &blen) != 0)
				goto done;
			bin[blen / 2] ^= 0x01;
			flipped = id_b64url_encode_alloc(bin, blen);
			free(bin);
			if (!flipped)
				goto done;
			sig = flipped;
		}
		/* For another alg the header claims it while the signature is still the real one:
		 * the verifier must refuse on the alg before it looks at keys or signatures. */
		token = join3(strcmp(alg, devidp_alg(d)) == 0 ? real : b64h, dot1 + 1, sig);
		free(flipped);
	}
	if (!token)
		goto done;
	*out_token = token;
	token = NULL;
	rc = 0;
done:
	free(token);
	free(real);
	free(b64h);
	free(b64p);
	free(payload_json);
	json_decref(hdr);
	json_decref(claims);
	return rc;
}
