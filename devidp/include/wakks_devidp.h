/* SPDX-License-Identifier: MPL-2.0 */
/*
 * wakks_devidp.h — the development identity provider, built on the identity library.
 *
 * Never in production: the relay enables it only with an explicit dev flag, and the tests use it to
 * mint tokens. One devidp instance is one issuer with one profile and one signing key: ES256 for
 * the MitID-broker profile, RS256 for the AD FS profile. It serves keys, JWKS, discovery, the
 * authorize page, a code store and the token endpoint, and mints tokens for tests.
 *
 * Nothing here logs, touches the network, LMDB or libuv. Every function returns 0 on success or a
 * negative code: an ID_ERR_* code of wakks_identity.h or a DEVIDP_ERR_* code below (see
 * devidp_strerror()). A devidp must not be used from two threads at once without external locking.
 */
#ifndef WAKKS_DEVIDP_H
#define WAKKS_DEVIDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wakks_identity.h"

#if defined(__GNUC__)
#define DEVIDP_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define DEVIDP_WARN_UNUSED
#endif

/* X(name, code, text), in the range wakks_identity.h leaves to libraries built on it. */
#define DEVIDP_ERRNO_MAP(X)                                                                      \
	X(ERR_KEYFILE, -5090, "development key file malformed or not mode 0600")                   \
	X(ERR_CODE_UNKNOWN, -5091, "authorization code unknown or already used")                   \
	X(ERR_CODE_EXPIRED, -5092, "authorization code expired")                                   \
	X(ERR_CLIENT_ID, -5093, "client_id does not match")                                        \
	X(ERR_REDIRECT_URI, -5094, "redirect_uri does not match")                                  \
	X(ERR_PKCE, -5095, "PKCE code_verifier does not match the S256 challenge")                 \
	X(ERR_CODE_STORE_FULL, -5096, "authorization code store full")

#define DEVIDP__ERRNO_ENUM(name, code, text) DEVIDP_##name = (code),
typedef enum devidp_err { DEVIDP_ERRNO_MAP(DEVIDP__ERRNO_ENUM) } devidp_err;
#undef DEVIDP__ERRNO_ENUM

/* Static text for a DEVIDP_ERR_* or ID_ERR_* code (never NULL; id_strerror() for the latter). */
const char *devidp_strerror(int err);

typedef struct devidp devidp;

typedef struct devidp_user {
	const char *login;        /* form value, e.g. "anna" */
	const char *display_name; /* e.g. "Anna Jensen" */
	id_kind kind;
	const char *cpr;          /* citizens: made-up, well-formed CPR */
	const char *mitid_uuid;   /* citizens */
	const char *upn;          /* caseworkers */
	const char *groups;       /* caseworkers: comma-separated group names */
	const char *loa;          /* citizens: NSIS URI */
	bool service;             /* a service account (the journal device), labelled so on the login page */
} devidp_user;

/* The built-in demo users (Anna Jensen, Bo Nielsen: citizens; Camilla Holm, Dennis Lund:
 * caseworkers of Varde Kommune, group "varde-jobcenter" → unit "jobcenter"). Static storage. */
const devidp_user *devidp_demo_users(size_t *n);
const devidp_user *devidp_demo_user(const char *login);

#define DEVIDP_DEMO_TENANT_ID "varde"
#define DEVIDP_DEMO_UNIT_ID "jobcenter"
#define DEVIDP_DEMO_GROUP "varde-jobcenter"

typedef struct devidp_config {
	id_profile profile;         /* MITID_BROKER → ES256 key, citizens; ADFS → RS256, caseworkers */
	const char *issuer;         /* base URL the endpoints are mounted under, e.g.
				     * "https://localhost:8443/dev-idp/mitid" (no trailing slash) */
	const char *client_id;      /* the one client, e.g. "wakks-citizen" */
	const char *const *redirect_uris; /* allowed exact redirect URIs; none = any https:// or
					   * http://localhost / http://127.0.0.1 URI */
	size_t n_redirect_uris;
	const char *key_dir;        /* directory for the key file (created 0700 if absent) */
	uint32_t token_lifetime_seconds; /* 0 = 300 */
	uint32_t code_lifetime_seconds;  /* 0 = 60 */
} devidp_config;

/* Loads the signing key from key_dir ("devidp-es256.jwk" / "devidp-rs256.jwk"), or generates and
 * saves it with mode 0600 on first use. A key file that is not 0600 is refused.
 * The config strings are copied. @return 0, ID_ERR_CONFIG, ID_ERR_IO, DEVIDP_ERR_KEYFILE,
 * ID_ERR_CRYPTO, ID_ERR_NOMEM. */
int devidp_open(const devidp_config *cfg, devidp **out) DEVIDP_WARN_UNUSED;
void devidp_close(devidp *d);
const char *devidp_issuer(const devidp *d);
const char *devidp_kid(const devidp *d);
/* "ES256" or "RS256". */
const char *devidp_alg(const devidp *d);
/* The JWKS JSON of the public key (static for the instance's lifetime). */
const char *devidp_jwks_json(const devidp *d);
/* The private key as JWK JSON (malloc'd; free()). Tests only. */
char *devidp_private_jwk_json(const devidp *d);

/* An HTTP answer. body is malloc'd (free with devidp_response_free); content_type is static;
 * location is set for 302 redirects. */
typedef struct devidp_response {
	int status;
	const char *content_type;
	char *location;
	char *body;
	size_t body_len;
	bool no_store; /* send "Cache-Control: no-store" (token responses, RFC 6749 §5.1; login pages) */
} devidp_response;
void devidp_response_free(devidp_response *r);

/* Dispatches a request below the issuer URL: `path` is what follows the issuer, e.g.
 * "/.well-known/openid-configuration", "/jwks", "/authorize", "/token". `query` is the raw query
 * string (without '?', may be NULL); `body` the raw application/x-www-form-urlencoded body.
 * Always fills *out (404/405/400 pages included). @return 0 or ID_ERR_NOMEM. */
int devidp_handle(devidp *d, const char *method, const char *path, const char *query,
		  const char *body, size_t body_len, int64_t now, devidp_response *out);

/* The individual endpoints, for callers that route themselves. */
int devidp_discovery(const devidp *d, devidp_response *out);
int devidp_jwks(const devidp *d, devidp_response *out);
/* GET /authorize: validates response_type=code, client_id, redirect_uri, scope contains openid,
 * code_challenge_method=S256, code_challenge, nonce, state; answers the login page (Danish). */
int devidp_authorize_page(devidp *d, const char *query, devidp_response *out);
/* POST /authorize (the page's form): issues a single-use code and redirects (302) to
 * redirect_uri?code=...&state=... */
int devidp_authorize_submit(devidp *d, const char *form, size_t form_len, int64_t now,
			    devidp_response *out);
/* POST /token: grant_type=authorization_code, code, redirect_uri, client_id, code_verifier. */
int devidp_token(devidp *d, const char *form, size_t form_len, int64_t now, devidp_response *out);

/* Code store, exposed for tests and for callers that build their own pages. */
typedef struct devidp_auth_request {
	const char *client_id;
	const char *redirect_uri;
	const char *code_challenge; /* S256: base64url(SHA-256(verifier)) */
	const char *nonce;
	const char *login;          /* the demo user chosen */
} devidp_auth_request;
#define DEVIDP_CODE_CHARS 43
#define DEVIDP_MAX_CODES 64 /* outstanding codes; bounded so a page reload loop cannot grow memory */
/* @return 0, ID_ERR_INVALID_ARG, DEVIDP_ERR_CODE_STORE_FULL. out: DEVIDP_CODE_CHARS + NUL. */
int devidp_code_issue(devidp *d, const devidp_auth_request *req, int64_t now,
		      char out[DEVIDP_CODE_CHARS + 1]) DEVIDP_WARN_UNUSED;
/* Redeems a code once: the code is consumed whatever the outcome. On success *out_token is a
 * malloc'd ID token. @return 0, DEVIDP_ERR_CODE_UNKNOWN, DEVIDP_ERR_CODE_EXPIRED,
 * DEVIDP_ERR_CLIENT_ID, DEVIDP_ERR_REDIRECT_URI, DEVIDP_ERR_PKCE, ID_ERR_NOMEM, ID_ERR_CRYPTO. */
int devidp_code_redeem(devidp *d, const char *code, const char *client_id,
		       const char *redirect_uri, const char *code_verifier, int64_t now,
		       char **out_token) DEVIDP_WARN_UNUSED;
/* RFC 7636 S256: challenge == base64url-no-pad(SHA-256(ASCII(verifier))); verifier 43..128 chars of
 * [A-Za-z0-9-._~]. @return 0 or DEVIDP_ERR_PKCE. */
int devidp_pkce_s256_check(const char *code_verifier, const char *code_challenge) DEVIDP_WARN_UNUSED;

/* Minting for tests: every field is optional (0/NULL = the normal value). */
typedef struct devidp_mint_opts {
	const char *login;       /* demo user; NULL = first user of the instance's kind */
	const char *nonce;       /* NULL = no nonce claim */
	int64_t iat;             /* 0 = now */
	int64_t exp;             /* 0 = iat + token lifetime */
	int64_t nbf;             /* 0 = no nbf claim */
	const char *iss;         /* NULL = the instance's issuer */
	const char *aud;         /* NULL = the instance's client id */
	/* Header overrides. alg "none" gives an unsigned token with an empty signature; alg "HS256"
	 * gives an HMAC-SHA-256 token keyed with the text of the provider's public JWK (the
	 * key-confusion attack); any other alg is written into the header as is, with the
	 * instance's real signature. */
	const char *alg;
	const char *kid;         /* NULL = the instance's kid */
	bool omit_kid;
	bool corrupt_signature;  /* flip bits in the signature */
	/* A JSON object merged into the claims last; a null value removes the claim. */
	const char *extra_claims_json;
} devidp_mint_opts;

/* @return 0, ID_ERR_INVALID_ARG (unknown login, bad extra JSON), ID_ERR_CRYPTO, ID_ERR_NOMEM.
 * *out_token is malloc'd (free()). */
int devidp_mint(devidp *d, const devidp_mint_opts *opts, int64_t now, char **out_token) DEVIDP_WARN_UNUSED;

#endif
