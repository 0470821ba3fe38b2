/* SPDX-License-Identifier: MPL-2.0 */
/*
 * wakks_identity.h — identity binding for the relay, as a pure library.
 *
 *   id_*      OpenID Connect ID token verification (cjose + jansson + OpenSSL), the registration
 *             nonce, keyed account identifiers, a bounded replay cache and the hash-chained audit
 *             log entry format.
 *
 * Nothing here logs, touches the network, LMDB or libuv. Every function returns 0 on success or a
 * negative ID_ERR_* code (see id_strerror()); out-parameters are written only on success.
 * Thread-safety: all functions are reentrant; objects (id_keyset, id_replay) must not be used
 * from two threads at once without external locking (the relay uses them on its loop thread).
 * The exact constructions are specified in spec/identity.md.
 */
#ifndef WAKKS_IDENTITY_H
#define WAKKS_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define ID_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define ID_WARN_UNUSED
#endif

/* ------------------------------------------------------------------------------------------------
 * base64url (RFC 4648 §5) without padding: token segments, thumbprints, nonces; also what
 * libraries built on this one (the development identity provider) encode with.
 * ---------------------------------------------------------------------------------------------- */

/* Encode: out must hold id_b64url_len(n) + 1 bytes; returns the
 * length written (NUL-terminated). */
size_t id_b64url_len(size_t n);
size_t id_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap);
/* Encodes into a fresh malloc'd string, or NULL. */
char *id_b64url_encode_alloc(const uint8_t *in, size_t n);
/* Strict decode (alphabet, no padding, zero trailing bits). *out malloc'd (one spare NUL byte
 * appended, not counted). @return 0, ID_ERR_TOKEN_BASE64, ID_ERR_NOMEM. */
int id_b64url_decode(const char *in, size_t len, uint8_t **out, size_t *out_len);
/* True if every byte is in the base64url alphabet. */
bool id_b64url_charset(const char *in, size_t len);

/* ------------------------------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------------------------------- */

/* X(name, code, text). Verification codes are for the relay's log only: the wire gets one
 * generic refusal whatever the code. Codes lie in -5001..-5089 (-5090..-5099 belong to the
 * development identity provider built on this library), apart from every other library of the
 * project and from libuv's (which reach down to -4095). */
#define ID_ERRNO_MAP(X)                                                                          \
	X(ERR_NOMEM, -5001, "out of memory")                                                     \
	X(ERR_INVALID_ARG, -5002, "invalid argument")                                            \
	X(ERR_CONFIG, -5003, "invalid identity provider or tenant configuration")               \
	X(ERR_CRYPTO, -5004, "cryptographic library failure")                                   \
	X(ERR_IO, -5005, "file input/output failed")                                             \
	X(ERR_KEYFILE, -5006, "key file has the wrong size, owner or permissions (must be 0600)")   \
	/* token shape */                                                                        \
	X(ERR_TOKEN_EMPTY, -5010, "token is empty")                                              \
	X(ERR_TOKEN_TOO_LARGE, -5011, "token exceeds the size limit")                            \
	X(ERR_TOKEN_SHAPE, -5012, "token is not a compact JWS (three base64url segments)")       \
	X(ERR_TOKEN_BASE64, -5013, "token segment is not canonical base64url")                   \
	X(ERR_HEADER_JSON, -5014, "JOSE header is not a JSON object")                            \
	X(ERR_HEADER_UNSUPPORTED, -5015, "JOSE header uses unsupported members (crit, b64, jku...)") \
	/* algorithm and key */                                                                  \
	X(ERR_ALG_MISSING, -5020, "JOSE header has no alg")                                      \
	X(ERR_ALG_NONE, -5021, "alg none refused")                                               \
	X(ERR_ALG_HMAC, -5022, "HMAC algorithm refused")                                         \
	X(ERR_ALG_NOT_ALLOWED, -5023, "alg not on the issuer's allowlist")                       \
	X(ERR_KID_MISSING, -5024, "kid missing and the key set has no single candidate key")     \
	X(ERR_KID_UNKNOWN, -5025, "kid not in the issuer's key set (refresh the JWKS once)")     \
	X(ERR_KEY_ALG_MISMATCH, -5026, "key type does not fit the alg")                          \
	X(ERR_SIGNATURE, -5027, "signature does not verify")                                     \
	/* claims */                                                                             \
	X(ERR_PAYLOAD_JSON, -5030, "claims are not a JSON object")                               \
	X(ERR_CLAIM_TYPE, -5031, "a registered claim has the wrong JSON type")                   \
	X(ERR_ISS, -5032, "iss does not match the issuer")                                       \
	X(ERR_AUD, -5033, "aud does not contain the client id")                                  \
	X(ERR_AZP, -5034, "azp missing or not the client id")                                    \
	X(ERR_EXP_MISSING, -5035, "exp missing")                                                 \
	X(ERR_EXPIRED, -5036, "token expired")                                                   \
	X(ERR_NOT_YET_VALID, -5037, "nbf is in the future")                                      \
	X(ERR_IAT_MISSING, -5038, "iat missing")                                                 \
	X(ERR_IAT_FUTURE, -5039, "iat is in the future")                                         \
	X(ERR_TOO_OLD, -5040, "token older than the maximum token age")                          \
	X(ERR_NONCE_MISSING, -5041, "nonce missing")                                             \
	X(ERR_NONCE_MISMATCH, -5042, "nonce not bound to this key and challenge")                \
	X(ERR_SUBJECT, -5043, "person identifier claim missing or malformed")                    \
	X(ERR_ASSURANCE_MISSING, -5044, "assurance level claim missing or not an NSIS URI")      \
	X(ERR_ASSURANCE_LOW, -5045, "assurance level below Substantial")                         \
	X(ERR_IDP, -5046, "idp claim is not mitid")                                              \
	X(ERR_IDENTITY_TYPE, -5047, "identity_type is not private")                              \
	X(ERR_UPN, -5048, "upn/unique_name missing or malformed")                                \
	X(ERR_GROUPS, -5049, "groups claim malformed")                                           \
	X(ERR_NO_UNIT, -5050, "groups map to no unit of the tenant")                             \
	X(ERR_TENANT_IDP, -5051, "tenant does not trust this identity provider")                 \
	X(ERR_REPLAYED, -5052, "token or nonce already used")                                    \
	X(ERR_REPLAY_FULL, -5053, "replay cache full of unexpired entries")                      \
	X(ERR_GROUP_OVERAGE, -5054, "groups left out of the token (_claim_names overage): configure group filtering or app roles at the provider") \
	X(ERR_TID, -5055, "tid is not the configured directory (tenant) id")                      \
	/* key sets */                                                                           \
	X(ERR_JWKS_TOO_LARGE, -5060, "JWKS document exceeds the size limit")                     \
	X(ERR_JWKS_JSON, -5061, "JWKS is not a JSON object with a keys array")                   \
	X(ERR_JWKS_EMPTY, -5062, "JWKS holds no usable signing key")                             \
	X(ERR_DISCOVERY, -5063, "discovery document malformed, for another issuer or naming a non-https endpoint") \
	/* account ids */                                                                        \
	X(ERR_CPR, -5070, "not a well-formed CPR number")                                        \
	/* audit chain */                                                                        \
	X(ERR_AUDIT_ENCODING, -5080, "audit entry encoding malformed")                           \
	X(ERR_AUDIT_SEQ, -5081, "audit sequence number gap (entry deleted or reordered)")        \
	X(ERR_AUDIT_PREV, -5082, "audit prev_hash does not match the previous entry")            \
	X(ERR_AUDIT_HASH, -5083, "audit entry hash does not match its contents (edited)")        \
	X(ERR_AUDIT_HEAD, -5084, "audit chain does not end at the recorded head (truncated)")
/* Codes -5090 to -5099 are left to libraries built on this one (the development identity
 * provider), whose own strerror falls back to id_strerror() for the codes above. */

#define ID__ERRNO_ENUM(name, code, text) ID_##name = (code),
typedef enum id_err { ID_ERRNO_MAP(ID__ERRNO_ENUM) } id_err;
#undef ID__ERRNO_ENUM

/* Static text for an error code (never NULL; "unknown error" for unknown codes). */
const char *id_strerror(int err);
/* The code's symbolic name, e.g. "ID_ERR_KID_UNKNOWN" (for structured logs). */
const char *id_errname(int err);

/* Optional process-wide set-up, once at start before any thread uses jansson or cjose: initialises
 * libsodium and installs allocators for jansson and cjose that zero blocks before freeing them
 * (so parsed claim text such as a CPR number does not linger in freed memory). Uses glibc's
 * malloc_usable_size. @return 0 or ID_ERR_CRYPTO. */
int id_library_init(void);

/* ------------------------------------------------------------------------------------------------
 * Sizes and limits
 * ---------------------------------------------------------------------------------------------- */

#define ID_PUBLIC_KEY_BYTES 32   /* Ed25519 identity public key of the registering device */
#define ID_CHALLENGE_BYTES 32    /* the relay's per-connection random challenge */
#define ID_NONCE_CHARS 43        /* base64url (no padding) of 32 bytes */
#define ID_NONCE_BUF_BYTES 44    /* ID_NONCE_CHARS + NUL */
#define ID_HASH_BYTES 32         /* SHA-256 */
#define ID_HASH_KEY_BYTES 32     /* secret key for account ids, from the relay's data directory */
#define ID_ACCOUNT_ID_BYTES 16   /* = STORE_ID_BYTES */

/* An ID token from MitID brokers or AD FS is 1–3 KiB; AD FS with many groups reaches ~8 KiB.
 * 16 KiB bounds parsing work and memory for a peer-supplied value. */
#define ID_TOKEN_MAX_BYTES 16384
/* Issuer URLs are short; the nonce encodes the length as 16 bits. */
#define ID_ISSUER_MAX_BYTES 512
/* CPR (10), MitID UUID (36) and broker subs fit easily; longer values are refused. */
#define ID_PERSON_ID_MAX_BYTES 255
#define ID_UPN_MAX_BYTES 255     /* AD UPN limit is 1024 in theory; 255 in practice (RFC 5321 path) */
#define ID_NAME_MAX_BYTES 64     /* tenant id, unit id (= STORE_TENANT_MAX / STORE_UNIT_ID_MAX) */
#define ID_MAX_UNITS 16          /* units one caseworker can land in (= STORE_ACCOUNT_UNITS_MAX) */
#define ID_MAX_GROUPS 512        /* group values read from one token; more is refused */
#define ID_JTI_MAX_BYTES 128
#define ID_JWKS_MAX_BYTES 65536  /* a JWKS document handed to id_keyset_parse */
#define ID_JWKS_MAX_KEYS 32      /* keys kept from one JWKS */
#define ID_SKEW_MAX_SECONDS 300  /* configured clock skew is capped here */
#define ID_MAX_AGE_MAX_SECONDS 86400 /* configured maximum token age is capped here */

/* ------------------------------------------------------------------------------------------------
 * Configuration (owned by the caller; this library never frees it)
 * ---------------------------------------------------------------------------------------------- */

typedef enum id_kind { ID_KIND_CITIZEN = 1, ID_KIND_CASEWORKER = 2 } id_kind;
typedef enum id_profile {
	ID_PROFILE_MITID_BROKER = 1, /* citizens: NemLog-in and the private MitID brokers */
	ID_PROFILE_ADFS = 2,         /* caseworkers: AD FS */
	ID_PROFILE_ENTRA = 3,        /* caseworkers: Microsoft Entra ID */
} id_profile;

/* Allowed signature algorithms, as a bit set. Nothing else can be expressed: none and HS* never. */
#define ID_ALG_RS256 0x1u
#define ID_ALG_ES256 0x2u

/* What kind of value the citizen's person claim carries; decides the account-id domain. */
typedef enum id_person_type {
	ID_PERSON_CPR = 1,        /* 10-digit CPR number: issuer-independent */
	ID_PERSON_MITID_UUID = 2, /* MitID person UUID: issuer-independent */
	ID_PERSON_SUB = 3,        /* an issuer-scoped subject (OIDC sub): hashed with the issuer */
	ID_PERSON_UPN = 4,        /* caseworkers: hashed with the tenant id */
} id_person_type;

/* NSIS assurance levels. */
typedef enum id_loa { ID_LOA_NONE = 0, ID_LOA_LOW = 1, ID_LOA_SUBSTANTIAL = 2, ID_LOA_HIGH = 3 } id_loa;

typedef struct id_idp {
	const char *id;          /* config name, e.g. "mitid"; tenants refer to it */
	const char *issuer;      /* exact iss value, <= ID_ISSUER_MAX_BYTES */
	const char *client_id;   /* expected aud (and azp) */
	id_kind kind;
	id_profile profile;
	unsigned allowed_algs;   /* ID_ALG_* bits; ADFS profile: must be exactly ID_ALG_RS256 */
	/* Claim names; NULL selects the profile default:
	 *   MitID broker: person: the first present of "dk.cpr", "mitid.cpr", NemLog-in's
	 *                 "https://data.gov.dk/model/core/eid/cprNumber" (type CPR); assurance: both
	 *                 "loa" and "ial" are read, the lower one counts; when neither is present,
	 *                 "acr" (the NSIS URI the provider answered acr_values with) is read.
	 *   AD FS:        person "upn", then "unique_name"; groups "groups", then "group" (names or
	 *                 SIDs, whatever the claim rule sends).
	 *   Entra ID:     person "oid" (the object id; stable where a UPN may be renamed); groups
	 *                 "groups" (object ids) or, configured, "roles" (app roles). A token whose
	 *                 "_claim_names" names the groups claim (overage) is refused with
	 *                 ID_ERR_GROUP_OVERAGE. */
	const char *person_claim;
	id_person_type person_type; /* 0 = default for the profile (CPR / UPN) */
	const char *assurance_claim; /* if set, only this claim is read */
	const char *groups_claim;
	uint32_t skew_seconds;     /* <= ID_SKEW_MAX_SECONDS */
	uint32_t max_age_seconds;  /* now - iat limit, 1..ID_MAX_AGE_MAX_SECONDS */
	/* Entra ID: the directory (tenant) id the "tid" claim must equal; NULL = not checked
	 * (the issuer, which holds it, is checked in any case). Other profiles: must be NULL. */
	const char *required_tid;
} id_idp;

typedef struct id_unit {
	const char *id;   /* e.g. "jobcenter": a slug (spec/protocol.md) */
	const char *name; /* e.g. "Jobcenter" */
} id_unit;

/* One group claim value (compared ASCII-case-insensitively, as AD does) mapped to one unit. */
typedef struct id_group_map {
	const char *group;
	const char *unit_id;
} id_group_map;

typedef struct id_tenant {
	const char *id;   /* e.g. "varde": a slug (spec/protocol.md) */
	const char *name; /* e.g. "Varde Kommune" */
	const char *cvr;  /* 8 digits */
	const id_unit *units;
	size_t n_units;
	const char *const *idp_ids; /* ids of the identity providers the tenant trusts */
	size_t n_idp_ids;
	const id_group_map *group_map;
	size_t n_group_map;
} id_tenant;

/* Checks an IdP entry (issuer length, algs, profile/kind combination, limits).
 * @return 0 or ID_ERR_CONFIG. */
int id_idp_validate(const id_idp *idp) ID_WARN_UNUSED;
/* Checks a tenant (ids, CVR, group map pointing at existing units). @return 0 or ID_ERR_CONFIG. */
int id_tenant_validate(const id_tenant *tenant) ID_WARN_UNUSED;

/* ------------------------------------------------------------------------------------------------
 * Key sets (JWKS)
 * ---------------------------------------------------------------------------------------------- */

typedef struct id_keyset id_keyset;

/* Parses a JWKS document (the bytes of a file or an HTTP response). Keeps RSA keys (modulus >=
 * 2048 bits) and EC P-256 keys whose "use" is absent or "sig"; others are skipped; private members
 * are ignored. At most ID_JWKS_MAX_KEYS keys.
 * @return 0, ID_ERR_JWKS_TOO_LARGE, ID_ERR_JWKS_JSON, ID_ERR_JWKS_EMPTY, ID_ERR_NOMEM.
 * *out is owned by the caller: id_keyset_free(). */
int id_keyset_parse(const char *json, size_t len, id_keyset **out) ID_WARN_UNUSED;
void id_keyset_free(id_keyset *ks);
size_t id_keyset_count(const id_keyset *ks);
/* The keys kept, public members only (kty, n, e / crv, x, y, kid, alg, use), as a JWKS document
 * {"keys": [...]}: what a relay publishes for clients checking presentations
 * (spec/client.md §18). malloc'd; NULL on failure. */
char *id_keyset_public_json(const id_keyset *ks);

/* ------------------------------------------------------------------------------------------------
 * Replay cache: once-only acceptance of registration nonces
 * ---------------------------------------------------------------------------------------------- */

typedef struct id_replay id_replay;

/* A bounded set of 32-byte keys, each remembered until its expiry (the token's exp + skew).
 * Expired entries are dropped lazily. @return 0, ID_ERR_INVALID_ARG, ID_ERR_NOMEM. */
int id_replay_new(size_t capacity, id_replay **out) ID_WARN_UNUSED;
void id_replay_free(id_replay *rc);
/* @return 0 if key is not (or no longer) present, ID_ERR_REPLAYED if it is. */
int id_replay_check(id_replay *rc, const uint8_t key[ID_HASH_BYTES], int64_t now) ID_WARN_UNUSED;
/* Records key until expires_at. @return 0, ID_ERR_REPLAYED (already present),
 * ID_ERR_REPLAY_FULL (capacity reached with unexpired entries: fail closed). */
int id_replay_insert(id_replay *rc, const uint8_t key[ID_HASH_BYTES], int64_t expires_at,
		     int64_t now) ID_WARN_UNUSED;
size_t id_replay_count(const id_replay *rc);

/* ------------------------------------------------------------------------------------------------
 * Registration nonce
 * ---------------------------------------------------------------------------------------------- */

/* nonce = base64url-no-pad(SHA-256("wakks.v1 oidc-nonce" || 0x00 || u16be(len(issuer)) || issuer
 *                                    || identity_pk[32] || challenge[32]))
 * out receives ID_NONCE_CHARS characters and a NUL. @return 0 or ID_ERR_INVALID_ARG (issuer empty
 * or longer than ID_ISSUER_MAX_BYTES). */
int id_nonce_compute(const char *issuer, const uint8_t identity_pk[ID_PUBLIC_KEY_BYTES],
		     const uint8_t challenge[ID_CHALLENGE_BYTES], char out[ID_NONCE_BUF_BYTES]);

/* ------------------------------------------------------------------------------------------------
 * Verification
 * ---------------------------------------------------------------------------------------------- */

typedef struct id_verified {
	id_kind kind;
	id_profile profile;
	id_person_type person_type;
	char issuer[ID_ISSUER_MAX_BYTES + 1];
	/* SECRET for citizens (CPR/UUID): hash it with id_citizen_account_id() at once, then call
	 * id_verified_wipe(). Never log or store it. For caseworkers: the UPN as in the token. */
	char person_id[ID_PERSON_ID_MAX_BYTES + 1];
	char tenant_id[ID_NAME_MAX_BYTES + 1]; /* caseworkers: the tenant passed in; else "" */
	size_t n_units;                        /* caseworkers: >= 1 */
	char units[ID_MAX_UNITS][ID_NAME_MAX_BYTES + 1];
	id_loa loa;                            /* citizens: >= ID_LOA_SUBSTANTIAL; AD FS: NONE */
	char jti[ID_JTI_MAX_BYTES + 1];        /* "" if absent */
	uint8_t token_hash[ID_HASH_BYTES];     /* SHA-256 of the compact token (for the audit log) */
	uint8_t replay_key[ID_HASH_BYTES];     /* what was (or is to be) entered in the replay cache */
	int64_t iat;
	int64_t exp;
} id_verified;

/*
 * Verifies an ID token presented in a `register` frame, in the order given in spec/identity.md:
 * size and compact shape; header; alg allowlist (none and HS* refused before any key is touched);
 * key by kid in `keys`; signature; iss; aud/azp; exp/nbf/iat/max age; nonce ==
 * id_nonce_compute(idp->issuer, identity_pk, challenge); profile claims (assurance, idp,
 * identity_type / upn, groups → units of `tenant`); finally, if `replay` is not NULL, the replay
 * key is entered in it (ID_ERR_REPLAYED if already there) with expiry exp + skew.
 *
 * idp:    the provider the client named; tenant: required for caseworker IdPs (the tenant whose
 *         units the groups map to; it must list idp->id), ignored for citizens.
 * now:    seconds since the Unix epoch.
 * out:    written only on success; call id_verified_wipe() when done.
 * @return 0 or one of the ID_ERR_* codes of the list above; ID_ERR_KID_UNKNOWN tells the caller
 *         to refresh the JWKS once and retry.
 */
int id_verify(const id_idp *idp, const id_keyset *keys, const id_tenant *tenant,
	      const char *token, size_t token_len, const uint8_t identity_pk[ID_PUBLIC_KEY_BYTES],
	      const uint8_t challenge[ID_CHALLENGE_BYTES], int64_t now, id_replay *replay,
	      id_verified *out) ID_WARN_UNUSED;

/* Zeroes the whole structure (the person identifier included). */
void id_verified_wipe(id_verified *v);

/* A citizen's registration evidence as a unit device checks it (spec/client.md §15). */
typedef struct id_presented {
	char cpr[11];          /* 10 digits: SECRET, shown masked unless revealed; wipe when done */
	char name[256];        /* "name", else "given_name family_name" */
	int64_t iat;           /* when the provider identified the person (the registration) */
} id_presented;

/*
 * Verifies a presented ID token (spec/client.md §15 steps 3-7): the token's iss is idp->issuer;
 * the signature as id_verify (size, shape, header, alg allowlist, key by kid, signature); aud /
 * azp; nonce == id_nonce_compute(idp->issuer, identity_pk, challenge); the person claim a CPR
 * number and a name. Expiry, token age and the replay cache are NOT checked: the token is
 * evidence of a registration, not a log-in. idp must be a citizen provider.
 * @return 0, ID_ERR_ISS (another provider's token), the signature codes of id_verify (steps
 *         1-8), ID_ERR_AUD / ID_ERR_AZP, ID_ERR_NONCE_MISSING / ID_ERR_NONCE_MISMATCH (bound to
 *         another device key or challenge), ID_ERR_SUBJECT (no CPR or no name), ID_ERR_CONFIG.
 */
int id_presentation_verify(const id_idp *idp, const id_keyset *keys, const char *token,
			   size_t token_len, const uint8_t identity_pk[ID_PUBLIC_KEY_BYTES],
			   const uint8_t challenge[ID_CHALLENGE_BYTES], id_presented *out) ID_WARN_UNUSED;

/*
 * The iss claim of a compact token, read WITHOUT verifying anything, so that the caller can pick
 * the configured provider whose keys and rules then verify the whole token with id_verify().
 * Never trust the value for anything else.
 *
 * The payload is the text between the first two '.' of token[0..len); it must be canonical
 * base64url of a JSON object whose "iss" member is a string. The other segments and the token's
 * size are not looked at (id_verify checks them). out receives the string up to any embedded NUL,
 * NUL-terminated; it is written only on success.
 * @return 0; ID_ERR_INVALID_ARG (out NULL, cap 0, token NULL with len > 0); ID_ERR_TOKEN_SHAPE
 *         (fewer than two dots); ID_ERR_TOKEN_BASE64 (payload not base64url); ID_ERR_PAYLOAD_JSON
 *         (not a JSON object); ID_ERR_ISS (iss absent, not a string, or not shorter than cap);
 *         ID_ERR_NOMEM.
 */
int id_token_issuer(const char *token, size_t len, char *out, size_t cap) ID_WARN_UNUSED;

/* ------------------------------------------------------------------------------------------------
 * Account identifiers (keyed hashes)
 * ---------------------------------------------------------------------------------------------- */

/* Citizen: first 16 bytes of HMAC-SHA-256(key, "wakks.v1 citizen-account" || 0x00 || tag ||
 * 0x00 || value) with tag "cpr" (10 digits), "mitid-uuid" (lower-case UUID) or "sub" (value =
 * u16be(len(issuer)) || issuer || sub). See spec/identity.md. */
int id_citizen_account_id(const uint8_t key[ID_HASH_KEY_BYTES], const id_verified *v,
			  uint8_t out[ID_ACCOUNT_ID_BYTES]) ID_WARN_UNUSED;
/* The same construction from a raw CPR number ("DDMMYYXXXX" or "DDMMYY-XXXX"), for a caseworker
 * looking a citizen up by CPR; matches id_citizen_account_id() for a CPR-profile citizen.
 * @return 0, ID_ERR_CPR. */
int id_cpr_account_id(const uint8_t key[ID_HASH_KEY_BYTES], const char *cpr,
		      uint8_t out[ID_ACCOUNT_ID_BYTES]) ID_WARN_UNUSED;
/* Caseworker: first 16 bytes of HMAC-SHA-256(key, "wakks.v1 caseworker-account" || 0x00 ||
 * u16be(len(tenant)) || tenant || u16be(len(upn)) || ascii_lower(upn)). @return 0 or
 * ID_ERR_INVALID_ARG. */
int id_caseworker_account_id(const uint8_t key[ID_HASH_KEY_BYTES], const char *tenant_id,
			     const char *upn, uint8_t out[ID_ACCOUNT_ID_BYTES]) ID_WARN_UNUSED;
/* Loads the 32-byte account-id key from path, creating it (random, mode 0600, O_EXCL) if the
 * file does not exist. A file that is group/world accessible, not owned by the process's user or
 * not exactly 32 bytes is refused. @return 0, ID_ERR_KEYFILE, ID_ERR_IO, ID_ERR_INVALID_ARG. */
int id_account_key_load(const char *path, uint8_t key[ID_HASH_KEY_BYTES]) ID_WARN_UNUSED;
/* Normalises a CPR number to its 10 digits (out: 11 bytes incl. NUL). @return 0, ID_ERR_CPR. */
int id_cpr_normalize(const char *cpr, char out[11]) ID_WARN_UNUSED;

/* ------------------------------------------------------------------------------------------------
 * Audit log entries (hash chain)
 * ---------------------------------------------------------------------------------------------- */

typedef enum id_audit_type {
	ID_AUDIT_CONFIG_LOADED = 1,
	ID_AUDIT_DEVICE_REGISTERED = 2,
	ID_AUDIT_DEVICE_REVOKED = 3,
	ID_AUDIT_CONSENT_GIVEN = 4,
	ID_AUDIT_CONSENT_WITHDRAWN = 5,
	ID_AUDIT_ACCOUNT_ERASED = 6,
} id_audit_type;

#define ID_AUDIT_SUBJECT_BYTES 16  /* pseudonymous ids: account id, device id */
#define ID_AUDIT_MAX_SUBJECTS 4
#define ID_AUDIT_DETAILS_MAX 1024  /* small canonical bytes chosen by the relay (never raw ids) */
#define ID_AUDIT_DOMAIN "wakks.v1 audit-entry"
/* Encoded size: domain(20) + 0x00 + seq 8 + time 8 + type 2 + n 1 + subjects + dlen 2 + details
 * + prev 32. */
#define ID_AUDIT_ENCODED_MAX (21 + 8 + 8 + 2 + 1 + ID_AUDIT_MAX_SUBJECTS * ID_AUDIT_SUBJECT_BYTES + 2 + \
			      ID_AUDIT_DETAILS_MAX + ID_HASH_BYTES)

typedef struct id_audit_entry {
	uint64_t seq;     /* 1 for the first entry, then +1 */
	uint64_t time_ms; /* Unix time in milliseconds */
	uint16_t type;    /* id_audit_type */
	uint8_t n_subjects;
	uint8_t subjects[ID_AUDIT_MAX_SUBJECTS][ID_AUDIT_SUBJECT_BYTES];
	uint16_t details_len;
	uint8_t details[ID_AUDIT_DETAILS_MAX];
	uint8_t prev_hash[ID_HASH_BYTES]; /* hash of entry seq-1; all zero for seq 1 */
	uint8_t hash[ID_HASH_BYTES];      /* SHA-256 of the encoding */
} id_audit_entry;

/* Builds the entry after (prev_seq, prev_hash); prev_hash NULL (and prev_seq 0) starts a chain.
 * @return 0, ID_ERR_INVALID_ARG (too many subjects, details too long). */
int id_audit_build(uint64_t prev_seq, const uint8_t *prev_hash, uint64_t time_ms, uint16_t type,
		   const uint8_t (*subjects)[ID_AUDIT_SUBJECT_BYTES], size_t n_subjects,
		   const uint8_t *details, size_t details_len, id_audit_entry *out) ID_WARN_UNUSED;
/* The canonical encoding that is hashed (and that the relay stores, followed by the 32-byte hash).
 * @return the length (<= ID_AUDIT_ENCODED_MAX) or ID_ERR_INVALID_ARG. */
int id_audit_encode(const id_audit_entry *e, uint8_t *buf, size_t cap);
/* Parses an encoding followed by the 32-byte stored hash (as written by the relay); the stored
 * hash is copied, not recomputed, so that id_audit_verify_chain can detect edits.
 * @return 0 or ID_ERR_AUDIT_ENCODING. */
int id_audit_decode(const uint8_t *buf, size_t len, id_audit_entry *out) ID_WARN_UNUSED;
/* The export form (spec/identity.md §10): one JSON object without newlines, fields seq, time_ms,
 * type, subjects (array of hex), details, prev_hash, hash (hex). malloc'd; NULL on bad input or
 * allocation failure. */
char *id_audit_to_json(const id_audit_entry *e);
/* Parses one exported line; the hash is copied, not recomputed (verify with
 * id_audit_verify_chain). @return 0, ID_ERR_AUDIT_ENCODING, ID_ERR_INVALID_ARG. */
int id_audit_from_json(const char *line, size_t len, id_audit_entry *out) ID_WARN_UNUSED;
/* Verifies entries[0..n) as a contiguous chain starting at seq 1 (or continuing after
 * (start_prev_seq, start_prev_hash) if start_prev_hash is not NULL). If head_hash is not NULL the
 * chain must end at the recorded head (seq head_seq, hash head_hash), which detects truncation.
 * On failure *first_bad (if not NULL) is the index of the first broken entry (n for a head
 * mismatch). @return 0, ID_ERR_AUDIT_HASH (edited), ID_ERR_AUDIT_SEQ / ID_ERR_AUDIT_PREV (deleted,
 * inserted or reordered), ID_ERR_AUDIT_HEAD (truncated). */
int id_audit_verify_chain(const id_audit_entry *entries, size_t n, uint64_t start_prev_seq,
			  const uint8_t *start_prev_hash, uint64_t head_seq, const uint8_t *head_hash,
			  size_t *first_bad) ID_WARN_UNUSED;

/* ------------------------------------------------------------------------------------------------
 * Provider metadata (OpenID Connect Discovery 1.0) and HTTP caching of key sets. Parsing only:
 * the relay fetches the documents.
 * ---------------------------------------------------------------------------------------------- */

#define ID_URL_MAX_BYTES 512
#define ID_DISCOVERY_MAX_BYTES 65536

/* Token endpoint client authentication methods (bit set). */
#define ID_AUTH_CLIENT_SECRET_BASIC 0x1u
#define ID_AUTH_PRIVATE_KEY_JWT 0x2u

typedef struct id_discovery {
	char issuer[ID_ISSUER_MAX_BYTES + 1];
	char jwks_uri[ID_URL_MAX_BYTES + 1];
	char authorization_endpoint[ID_URL_MAX_BYTES + 1];
	char token_endpoint[ID_URL_MAX_BYTES + 1];     /* "" when the provider names none */
	char end_session_endpoint[ID_URL_MAX_BYTES + 1]; /* "" when none */
	unsigned token_auth_methods; /* ID_AUTH_* named in token_endpoint_auth_methods_supported
					(absent: client_secret_basic, the member's default) */
	bool pkce_s256;              /* code_challenge_methods_supported holds S256 */
} id_discovery;

/* Parses a discovery document for `issuer`: a JSON object whose "issuer" equals issuer exactly
 * (Discovery §4.3, so a document for another provider cannot substitute its keys), with https
 * jwks_uri and authorization_endpoint (and token_endpoint, end_session_endpoint when present),
 * each at most ID_URL_MAX_BYTES. allow_loopback_http admits http://127.0.0.1 and http://[::1]
 * endpoints (tests only). @return 0 or ID_ERR_DISCOVERY (ID_ERR_INVALID_ARG, ID_ERR_NOMEM). */
int id_discovery_parse(const char *json, size_t len, const char *issuer, bool allow_loopback_http,
		       id_discovery *out) ID_WARN_UNUSED;

/* True when url is https:// with a host, at most ID_URL_MAX_BYTES, without spaces or control
 * characters (or loopback http:// when allow_loopback_http). */
bool id_url_acceptable(const char *url, bool allow_loopback_http);

/* How long a response may be reused, from its Cache-Control header value (RFC 9111 §5.2.2):
 * the max-age in seconds; 0 for no-store, no-cache or max-age=0; -1 when the header says nothing
 * about freshness (the caller applies its default). Unparseable directives are ignored. */
int64_t id_cache_max_age(const char *cache_control);

/* A client assertion for private_key_jwt (RFC 7523 §2.2, OpenID Connect Core §9): a JWS over
 * {"iss": client_id, "sub": client_id, "aud": audience (the token endpoint), "jti": 128 random
 * bits, "iat": now, "exp": now + 60}, signed with the private JWK in jwk_json (RSA: RS256, EC
 * P-256: ES256), with kid = `kid` when not NULL, else the JWK's own kid. *out is malloc'd.
 * @return 0, ID_ERR_INVALID_ARG, ID_ERR_CONFIG (not a private RSA/P-256 JWK), ID_ERR_CRYPTO,
 * ID_ERR_NOMEM. */
int id_client_assertion(const char *jwk_json, size_t jwk_len, const char *kid,
			const char *client_id, const char *audience, int64_t now, char **out)
	ID_WARN_UNUSED;

#endif
