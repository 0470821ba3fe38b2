/* SPDX-License-Identifier: MPL-2.0 */
/* Identity-provider metadata and key sets over HTTPS (docs/identity-providers.md): the discovery
 * document and the JWKS of each provider configured with `discovery` and/or `jwks_url`, fetched
 * through the shared outbound HTTPS client (never on the loop thread), kept as long as the
 * response's Cache-Control allows (bounded), fetched again at once when a token names a key id the
 * set does not hold (at most once a minute per provider), and persisted in
 * DATA_DIR/idp-cache/ so that a restart while the provider is unreachable still verifies.
 * Loop thread only. */
#ifndef WAKKS_RELAY_SERVICES_PROVIDER_KEYS_H
#define WAKKS_RELAY_SERVICES_PROVIDER_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "wakks_identity.h"

struct relay;
struct relay_idp;
struct http_client;

/* Freshness bounds for a fetched key set, whatever Cache-Control says: a provider answering
 * max-age=0 is not asked on every token, and one answering a year is still asked daily. */
#define PROVIDER_KEYS_MIN_FRESH_S 60
#define PROVIDER_KEYS_DEFAULT_FRESH_S 3600
#define PROVIDER_KEYS_MAX_FRESH_S 86400
/* Fetches caused by unknown key ids are at least this far apart per provider. */
#define PROVIDER_KEYS_KID_REFRESH_MIN_MS 60000
/* After a failed fetch: retry after 15 s, doubling up to 15 minutes. */
#define PROVIDER_KEYS_RETRY_MIN_MS 15000
#define PROVIDER_KEYS_RETRY_MAX_MS 900000
#define PROVIDER_KEYS_TIMEOUT_MS 10000

/* The remote state of one provider (struct relay_idp.remote). */
struct provider_remote;

/* Called once when the fetch a caller waited for has ended; ok when a new key set is in place. */
typedef void (*provider_keys_done_fn)(void *ctx, bool ok);

/* For every provider of r->identity with discovery or jwks_url that has no remote state yet (at
 * the start, and after a configuration reload built the providers afresh): loads the persisted
 * metadata and key set (a provider without one verifies nothing until its first fetch succeeds),
 * then starts fetching. Returns 0 or -1 after logging why (out of memory, cache directory not
 * creatable, no HTTP client). */
int relay_provider_keys_attach(struct relay *r, struct http_client *http);
/* Before the providers of r->identity are replaced (a reload): ends their fetches (completions
 * still to come are ignored), runs their waiters with ok = false and frees their remote state. */
void relay_provider_keys_detach(struct relay *r);
/* relay_provider_keys_detach, and the module's timer. Call before the HTTP client is freed. */
void relay_provider_keys_stop(struct relay *r);

bool relay_provider_is_remote(const struct relay_idp *p);

/* A token named a key id the provider's set does not hold: fetch again (unless one is already
 * under way, which the caller then waits for). Returns 0 when `done` will be called, -1 when no
 * fetch is allowed now (not a remote provider, or the last kid-caused fetch was less than
 * PROVIDER_KEYS_KID_REFRESH_MIN_MS ago). */
int relay_provider_keys_refresh(struct relay *r, struct relay_idp *p, provider_keys_done_fn done,
				void *ctx);

/* The provider's discovery metadata, or NULL while unknown (no discovery configured, or not
 * fetched yet and none persisted). */
const id_discovery *relay_provider_metadata(const struct relay_idp *p);

#endif
