/* SPDX-License-Identifier: MPL-2.0 */
/* The relay as a confidential OpenID Connect client (spec/identity.md §2.3): it completes a
 * client's authorization-code exchange at the provider's token endpoint, authenticating with
 * client_secret_basic or private_key_jwt, so that the secret or key never leaves the relay. The
 * client gets the ID token only (it registers with it as with any other); access and refresh
 * tokens are dropped. Neither the code, the secret, the assertion nor the tokens are logged.
 * Loop thread only. */
#ifndef WAKKS_RELAY_SERVICES_CODE_EXCHANGE_H
#define WAKKS_RELAY_SERVICES_CODE_EXCHANGE_H

#include <stddef.h>

struct relay;
struct relay_idp;

#define CODE_EXCHANGE_TIMEOUT_MS 8000

/* Called once on the loop thread with the HTTP status and JSON body to answer the client:
 * 200 {"id_token": "..."}; 502 {"error":"exchange_failed","provider_error":"..."} when the
 * provider refused or could not be reached; 503 {"error":"busy"} when the outbound queue is
 * full; or status 0 when the relay is stopping (answer nothing). */
typedef void (*code_exchange_done_fn)(void *ctx, unsigned status, const char *json, size_t len);

/* Loads the provider's client secret or private key (client_secret_file / client_key_file),
 * refusing a file group or others may read. Returns 0 or -1 after logging why. */
int relay_code_exchange_load(struct relay_idp *p);
/* Wipes and frees what relay_code_exchange_load read. */
void relay_code_exchange_unload(struct relay_idp *p);

/* Starts the exchange of `code` (obtained with redirect_uri and, for PKCE, code_verifier, which
 * may be NULL). Returns 0 when `done` will be called, or -1 when the provider is no confidential
 * client with a known token endpoint (nothing is called). */
int relay_code_exchange(struct relay *r, struct relay_idp *p, const char *code,
			const char *redirect_uri, const char *code_verifier, code_exchange_done_fn done,
			void *ctx);

#endif
