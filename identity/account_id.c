/* SPDX-License-Identifier: MPL-2.0 */
/* Keyed account identifiers: the relay never stores a raw CPR number or MitID UUID, only
 * HMAC-SHA-256 under a secret key from its data directory, truncated to 16 bytes. */
#include <string.h>

#include <sodium.h>

#include "identity_internal.h"

#define CITIZEN_DOMAIN "wakks.v1 citizen-account"
#define CASEWORKER_DOMAIN "wakks.v1 caseworker-account"

/* domain (incl. NUL) + tag + NUL + u16 + issuer + value: fits all bounded inputs. */
#define MSG_MAX (64 + 2 + ID_ISSUER_MAX_BYTES + 2 + ID_PERSON_ID_MAX_BYTES + ID_NAME_MAX_BYTES + 8)

void id__account_hash(const uint8_t key[ID_HASH_KEY_BYTES], const uint8_t *msg, size_t len,
		      uint8_t out[ID_ACCOUNT_ID_BYTES])
{
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, ID_HASH_KEY_BYTES);
	crypto_auth_hmacsha256_update(&st, msg, len);
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(out, mac, ID_ACCOUNT_ID_BYTES);
	sodium_memzero(mac, sizeof mac);
	sodium_memzero(&st, sizeof st);
}

static size_t put(uint8_t *buf, size_t at, const void *p, size_t n)
{
	memcpy(buf + at, p, n);
	return at + n;
}

int id_cpr_normalize(const char *cpr, char out[11])
{
	if (!cpr || !out)
		return ID_ERR_CPR;
	char d[11];
	size_t n = 0;
	for (size_t i = 0; cpr[i]; i++) {
		char c = cpr[i];
		if (c == '-' && i == 6 && n == 6)
			continue;
		if (c < '0' || c > '9' || n == 10)
			return ID_ERR_CPR;
		d[n++] = c;
	}
	if (n != 10)
		return ID_ERR_CPR;
	d[10] = 0;
	int day = (d[0] - '0') * 10 + (d[1] - '0');
	int month = (d[2] - '0') * 10 + (d[3] - '0');
	/* Day 01-31, or 61-91 for replacement numbers (erstatningspersonnummer); month 01-12. The
	 * modulus-11 check is not applied: CPR numbers without it have been issued since 2007. */
	if (!((day >= 1 && day <= 31) || (day >= 61 && day <= 91)) || month < 1 || month > 12)
		return ID_ERR_CPR;
	memcpy(out, d, 11);
	return 0;
}

static int citizen_hash(const uint8_t key[ID_HASH_KEY_BYTES], id_person_type type,
			const char *issuer, const char *value, uint8_t out[ID_ACCOUNT_ID_BYTES])
{
	uint8_t msg[MSG_MAX];
	size_t at = 0, vlen = strlen(value);
	const char *tag;
	switch (type) {
	case ID_PERSON_CPR:
		tag = "cpr";
		break;
	case ID_PERSON_MITID_UUID:
		tag = "mitid-uuid";
		break;
	case ID_PERSON_SUB:
		tag = "sub";
		break;
	default:
		return ID_ERR_INVALID_ARG;
	}
	if (vlen == 0 || vlen > ID_PERSON_ID_MAX_BYTES)
		return ID_ERR_INVALID_ARG;
	at = put(msg, at, CITIZEN_DOMAIN, sizeof CITIZEN_DOMAIN); /* with its 0x00 */
	at = put(msg, at, tag, strlen(tag) + 1);                  /* with its 0x00 */
	if (type == ID_PERSON_SUB) {
		size_t ilen = issuer ? strlen(issuer) : 0;
		if (ilen == 0 || ilen > ID_ISSUER_MAX_BYTES)
			return ID_ERR_INVALID_ARG;
		id__put_u16be(msg + at, (uint16_t)ilen);
		at = put(msg, at + 2, issuer, ilen);
	}
	at = put(msg, at, value, vlen);
	id__account_hash(key, msg, at, out);
	sodium_memzero(msg, sizeof msg);
	return 0;
}

int id_citizen_account_id(const uint8_t key[ID_HASH_KEY_BYTES], const id_verified *v,
			  uint8_t out[ID_ACCOUNT_ID_BYTES])
{
	if (!key || !v || !out || v->kind != ID_KIND_CITIZEN)
		return ID_ERR_INVALID_ARG;
	return citizen_hash(key, v->person_type, v->issuer, v->person_id, out);
}

int id_cpr_account_id(const uint8_t key[ID_HASH_KEY_BYTES], const char *cpr,
		      uint8_t out[ID_ACCOUNT_ID_BYTES])
{
	char norm[11];
	if (!key || !out)
		return ID_ERR_INVALID_ARG;
	int rc = id_cpr_normalize(cpr, norm);
	if (rc == 0)
		rc = citizen_hash(key, ID_PERSON_CPR, NULL, norm, out);
	sodium_memzero(norm, sizeof norm);
	return rc;
}

int id_caseworker_account_id(const uint8_t key[ID_HASH_KEY_BYTES], const char *tenant_id,
			     const char *upn, uint8_t out[ID_ACCOUNT_ID_BYTES])
{
	if (!key || !tenant_id || !upn || !out)
		return ID_ERR_INVALID_ARG;
	size_t tlen = strlen(tenant_id), ulen = strlen(upn);
	if (tlen == 0 || tlen > ID_NAME_MAX_BYTES || ulen == 0 || ulen > ID_UPN_MAX_BYTES)
		return ID_ERR_INVALID_ARG;
	uint8_t msg[MSG_MAX];
	size_t at = put(msg, 0, CASEWORKER_DOMAIN, sizeof CASEWORKER_DOMAIN);
	id__put_u16be(msg + at, (uint16_t)tlen);
	at = put(msg, at + 2, tenant_id, tlen);
	id__put_u16be(msg + at, (uint16_t)ulen);
	at += 2;
	for (size_t i = 0; i < ulen; i++) {
		char c = upn[i];
		msg[at++] = (uint8_t)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
	}
	id__account_hash(key, msg, at, out);
	return 0;
}
