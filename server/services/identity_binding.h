/* SPDX-License-Identifier: MPL-2.0 */
/* The relay's identity state: identity providers with their key sets, tenants as the identity
 * library sees them, the secret key for account ids, the nonce replay cache, and the development
 * identity provider instances (only with --dev). */
#ifndef WAKKS_RELAY_SERVICES_IDENTITY_BINDING_H
#define WAKKS_RELAY_SERVICES_IDENTITY_BINDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "wakks_devidp.h"
#include "wakks_identity.h"

struct relay;
struct relay_idp;

/* Loads the providers' keys and builds the tables; `base_url` is where this relay is reached (for
 * the development provider's issuer). The account-id key is already in r->identity (the start
 * opens it with the database). Returns 0 or -1 after logging why. */
int relay_identity_start(struct relay *r, const char *base_url);
void relay_identity_stop(struct relay *r);

/* A reload: builds the providers (loading their key sets) and tenants of r->cfg afresh and, only
 * when every one loaded, replaces the running ones with them. The replay cache and the account
 * key stay. Returns 0, or -1 after logging why (the running providers are untouched then, but
 * they point into r->cfg: the caller restores the configuration they were built from). */
int relay_identity_rebuild(struct relay *r, const char *base_url);

/* Loads the secret that keys account ids from DATA_DIR/account-id.key, never creating it (the
 * operator commands). Returns 0 or -1 after logging why. */
int relay_identity_load_account_key(const char *data_dir, uint8_t key[ID_HASH_KEY_BYTES]);

/* The relay's start: loads DATA_DIR/account-id.key or creates it (0600) when missing, and says
 * which in *created. Returns 0, or an ID_ERR_* code (nothing logged: the start says why). */
int relay_identity_open_account_key(const char *data_dir, uint8_t key[ID_HASH_KEY_BYTES],
				    bool *created);

/* The fingerprint of the account-id key that the database records (spec/storage.md §2a): a
 * domain-separated BLAKE2b-256 of the key, so the key itself is never stored with the data. */
void relay_identity_key_fingerprint(const uint8_t key[ID_HASH_KEY_BYTES], uint8_t fp[32]);

/* Re-reads the provider's key set file after a token named an unknown kid (the provider rotated
 * its keys). At most once a minute per provider, so tokens with made-up kids cannot make the relay
 * read files in a loop. Returns 0 when a new key set was loaded. */
int relay_identity_refresh_keys(struct relay *r, struct relay_idp *p);

/* The provider whose issuer is exactly `iss`, or NULL. */
struct relay_idp *relay_identity_idp_by_issuer(struct relay *r, const char *iss);
/* The provider with this config id, or NULL. */
struct relay_idp *relay_identity_idp_by_id(struct relay *r, const char *id);
/* The first tenant trusting the provider (caseworker providers belong to one tenant). */
const id_tenant *relay_identity_tenant_for_idp(struct relay *r, const char *idp_id);

#endif
