/* SPDX-License-Identifier: MPL-2.0 */
/* Login challenges (spec/identity.md §2.2): a challenge the relay hands out over HTTPS for one
 * device identity key, so that a client whose page is replaced during the log-in (a full-page
 * redirect to the provider, an app switch to the MitID app) can bind its nonce to a challenge that
 * outlives the WebSocket connection it had. Each is random, kept at most
 * LOGIN_CHALLENGE_TTL_MS, used once, one per identity key (a newer one replaces it). The table
 * is bounded: when full, the entry closest to expiry makes room. Loop thread only.
 * On a shared store (several relays) the challenges are kept in the database instead
 * (store_challenge_*), since the client may register through another relay than the one it
 * asked. */
#ifndef WAKKS_RELAY_SERVICES_LOGIN_CHALLENGE_H
#define WAKKS_RELAY_SERVICES_LOGIN_CHALLENGE_H

#include <stdbool.h>
#include <stdint.h>

struct relay;

#define LOGIN_CHALLENGE_TTL_MS 600000
#define LOGIN_CHALLENGE_CAPACITY 4096

/* A fresh challenge for identity key ik into out; returns 0 or -1 (out of memory). */
int relay_login_challenge_issue(struct relay *r, const uint8_t ik[32], uint8_t out[32]);

/* The unexpired challenge issued for ik into out, without consuming it; false when none. */
bool relay_login_challenge_find(struct relay *r, const uint8_t ik[32], uint8_t out[32]);

/* Forgets ik's challenge after a registration that used it: true when it was still `challenge`
 * and is now used up; false when it was used or replaced meanwhile (on a shared store: by a
 * registration through another relay), and the registration must be refused. */
bool relay_login_challenge_consume(struct relay *r, const uint8_t ik[32], const uint8_t challenge[32]);

void relay_login_challenge_free(struct relay *r);

#endif
