/* SPDX-License-Identifier: MPL-2.0 */
#include "services/login_challenge.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/clock.h"
#include "core/log.h"
#include "relay_state.h"
#include "wakks_storage.h"

struct login_challenge_entry {
	uint8_t ik[32];
	uint8_t challenge[32];
	uint64_t expires_ms; /* monotonic; 0 = free slot */
};

struct relay_login_challenges {
	struct login_challenge_entry e[LOGIN_CHALLENGE_CAPACITY];
};

static struct login_challenge_entry *lookup(struct relay_login_challenges *t, const uint8_t ik[32],
					    uint64_t now)
{
	for (size_t i = 0; t && i < LOGIN_CHALLENGE_CAPACITY; i++)
		if (t->e[i].expires_ms > now && sodium_memcmp(t->e[i].ik, ik, 32) == 0)
			return &t->e[i];
	return NULL;
}

int relay_login_challenge_issue(struct relay *r, const uint8_t ik[32], uint8_t out[32])
{
	if (r->aux_loop) {
		/* Several relays: the registration may come through another one. */
		uint8_t ch[32];
		randombytes_buf(ch, sizeof ch);
		int rc = store_challenge_put(r->aux_loop, ik, ch, LOGIN_CHALLENGE_TTL_MS);
		if (rc != 0) {
			RLOG_WARN("identity", "login_challenge_not_stored", "error=\"%s\"",
				  store_strerror(rc));
			return -1;
		}
		memcpy(out, ch, 32);
		sodium_memzero(ch, sizeof ch);
		return 0;
	}
	struct relay_login_challenges *t = r->identity.login_challenges;
	if (!t && !(t = r->identity.login_challenges = calloc(1, sizeof *t)))
		return -1;
	uint64_t now = relay_monotonic_ms();
	struct login_challenge_entry *slot = lookup(t, ik, now);
	for (size_t i = 0; !slot && i < LOGIN_CHALLENGE_CAPACITY; i++)
		if (t->e[i].expires_ms <= now)
			slot = &t->e[i];
	if (!slot) { /* full of unexpired entries: the one closest to expiry makes room */
		slot = &t->e[0];
		for (size_t i = 1; i < LOGIN_CHALLENGE_CAPACITY; i++)
			if (t->e[i].expires_ms < slot->expires_ms)
				slot = &t->e[i];
	}
	memcpy(slot->ik, ik, 32);
	randombytes_buf(slot->challenge, 32);
	slot->expires_ms = now + LOGIN_CHALLENGE_TTL_MS;
	memcpy(out, slot->challenge, 32);
	return 0;
}

bool relay_login_challenge_find(struct relay *r, const uint8_t ik[32], uint8_t out[32])
{
	if (r->aux_loop)
		return store_challenge_get(r->aux_loop, ik, out) == 0;
	struct login_challenge_entry *e = lookup(r->identity.login_challenges, ik, relay_monotonic_ms());
	if (e)
		memcpy(out, e->challenge, 32);
	return e != NULL;
}

bool relay_login_challenge_consume(struct relay *r, const uint8_t ik[32], const uint8_t challenge[32])
{
	if (r->aux_loop)
		return store_challenge_take(r->aux_loop, ik, challenge) == 0;
	struct login_challenge_entry *e = lookup(r->identity.login_challenges, ik, relay_monotonic_ms());
	if (!e || sodium_memcmp(e->challenge, challenge, 32) != 0)
		return false;
	sodium_memzero(e, sizeof *e);
	return true;
}

void relay_login_challenge_free(struct relay *r)
{
	free(r->identity.login_challenges);
	r->identity.login_challenges = NULL;
}
