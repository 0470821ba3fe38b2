/* SPDX-License-Identifier: MPL-2.0 */
/* The session object, the envelope parser and the state serialiser, shared by session.c,
 * session_state.c, envelope.c, fanout.c and the fuzz targets. */
#ifndef WAKKS_SESSION_INTERNAL_H
#define WAKKS_SESSION_INTERNAL_H

#include "wc_internal.h"

#define WC__ROLE_INITIATOR 1
#define WC__ROLE_RESPONDER 2

#define WC__F_HAS_DHR 0x01
#define WC__F_HAS_CKS 0x02
#define WC__F_HAS_CKR 0x04
#define WC__F_PENDING_PREKEY 0x08 /* initiator: no reply yet, send prekey envelopes */
#define WC__F_HAS_OPK 0x10
#define WC__F_ALL 0x1f

struct wc__skipped {
	uint8_t dh[32];
	uint32_t n;
	uint8_t mk[32];
};

struct wc_session {
	uint8_t role;
	uint8_t flags;
	uint8_t local_identity[32];  /* Ed25519 */
	uint8_t remote_identity[32]; /* Ed25519 */
	uint8_t rk[32];
	uint8_t dhs_sk[32], dhs_pk[32];
	uint8_t dhr[32];
	uint8_t cks[32], ckr[32];
	uint32_t ns, nr, pn;
	/* X3DH parameters of the session's prekey envelope. */
	uint8_t base_key[32];
	uint32_t spk_id, opk_id;
	/* Skipped message keys, oldest first. */
	struct wc__skipped *skipped;
	size_t nskipped, skipped_cap;
};

struct wc__envelope {
	uint8_t type;
	wc_envelope_info info;
	uint8_t dh[32];
	uint32_t pn, n;
	const uint8_t *prefix; /* version .. end of header: authenticated as associated data */
	size_t prefix_len;
	const uint8_t *body;   /* AEAD ciphertext with tag */
	size_t body_len;
};

int wc__envelope_parse(const uint8_t *env, size_t len, struct wc__envelope *out);
/* Writes the 64-byte session associated data: initiator identity || responder identity. */
void wc__session_ad(const wc_session *s, uint8_t ad[WC__AD_BYTES]);
wc_session *wc__session_alloc(void);
/* Encrypts an already padded plaintext (padded_len bytes) into out (prefix, header, body). */
int wc__session_encrypt_padded(wc_session *s, const uint8_t *padded, size_t padded_len,
			       uint8_t *out, size_t out_cap, size_t *out_len);
/* Pads len bytes of in into out (wc__padded_len(len) bytes). */
void wc__pad(const uint8_t *in, size_t len, uint8_t *out);

/* Plain (unsealed) state encoding, spec §Session state. */
size_t wc__session_serialized_size(const wc_session *s);
void wc__session_serialize(const wc_session *s, uint8_t *out);
int wc__session_deserialize(const uint8_t *in, size_t len, wc_session **out);

#endif
