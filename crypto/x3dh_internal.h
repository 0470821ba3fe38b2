/* SPDX-License-Identifier: MPL-2.0 */
#ifndef WAKKS_X3DH_INTERNAL_H
#define WAKKS_X3DH_INTERNAL_H

#include "wc_internal.h"

/* Initiator: ek_sk is the ephemeral secret; opk NULL when the bundle had no one-time prekey. */
int x3dh__initiate(const wc_identity *self, const uint8_t remote_identity[32],
		   const uint8_t spk[32], const uint8_t *opk, const uint8_t ek_sk[32],
		   uint8_t sk_out[32]);
/* Responder: ek is the initiator's ephemeral (base) key from the prekey envelope. */
int x3dh__respond(const wc_identity *self, const uint8_t remote_identity[32],
		  const uint8_t spk_sk[32], const uint8_t *opk_sk, const uint8_t ek[32],
		  uint8_t sk_out[32]);

#endif
