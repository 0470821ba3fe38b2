/* SPDX-License-Identifier: MPL-2.0 */
/* The key directory's rules that more than one handler applies: the low-prekeys warning and the
 * signed prekey check. */
#ifndef WAKKS_RELAY_SERVICES_PREKEYS_H
#define WAKKS_RELAY_SERVICES_PREKEYS_H

#include <stdint.h>

#include "wakks_protocol.h"

struct relay;
struct relay_conn;

/* Tells the device, if online, that its one-time prekeys on the relay are below the watermark. */
void relay_prekeys_check(struct relay *r, const uint8_t device_id[16]);
/* The same for a device connected here only (an event from another relay, services/cluster.c). */
void relay_prekeys_check_here(struct relay *r, const uint8_t device_id[16]);

/* Checks a signed prekey's signature against the device's identity key; 0 when it verifies.
 * The relay checks it so that a bundle never carries a key its identity did not sign. */
int relay_spk_verify(const uint8_t identity_key[32], const struct proto_signed_prekey *spk);

#endif
