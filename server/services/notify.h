/* SPDX-License-Identifier: MPL-2.0 */
/* System notices pushed to online devices (spec/protocol.md §5.4, §9.2): a device registered or
 * revoked, a consent given or withdrawn. Not stored: the state they announce can be read back.
 * Each goes to the devices connected here and, as an event (services/cluster.h), to those of the
 * other relays on a shared store; the *_here variants are what such an event does here. */
#ifndef WAKKS_RELAY_SERVICES_NOTIFY_H
#define WAKKS_RELAY_SERVICES_NOTIFY_H

#include <stdint.h>

struct relay;

/* To the account's online devices other than `except` (may be NULL). */
void relay_notify_devices_changed(struct relay *r, const uint8_t account[16], const uint8_t *except);

/* To the citizen's other online devices and the online devices of the tenant's units (only the
 * named unit when unit is not empty). */
void relay_notify_consent_changed(struct relay *r, const uint8_t citizen[16],
				  const uint8_t *except, const char *tenant, const char *unit,
				  uint32_t kind, uint64_t time_ms);

/* A device of a caseworker or journal account was registered: to the online member devices of
 * each of its units but the new device (spec/protocol.md §5.5), so that one of them gives it the
 * units' history. Nothing for citizens. */
void relay_notify_unit_devices_changed(struct relay *r, const uint8_t account[16],
				       const uint8_t *except);

void relay_notify_devices_changed_here(struct relay *r, const uint8_t account[16],
				       const uint8_t *except);
void relay_notify_consent_changed_here(struct relay *r, const uint8_t citizen[16],
				       const uint8_t *except, const char *tenant, const char *unit,
				       uint32_t kind, uint64_t time_ms);
void relay_notify_unit_devices_changed_here(struct relay *r, const uint8_t account[16],
					    const uint8_t *except);

#endif
