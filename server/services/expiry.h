/* SPDX-License-Identifier: MPL-2.0 */
/* Envelope and blob expiry, driven by the housekeeping timer. */
#ifndef WAKKS_RELAY_SERVICES_EXPIRY_H
#define WAKKS_RELAY_SERVICES_EXPIRY_H

struct relay;

/* Submits one expiry pass unless one is in flight. */
void relay_expire_tick(struct relay *r);

#endif
