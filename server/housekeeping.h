/* SPDX-License-Identifier: MPL-2.0 */
/* A once-a-second timer: closes connections that did not authenticate in time and expires
 * envelopes past their TTL. */
#ifndef WAKKS_RELAY_HOUSEKEEPING_H
#define WAKKS_RELAY_HOUSEKEEPING_H

struct relay;

void relay_housekeeping_start(struct relay *r);
void relay_housekeeping_stop(struct relay *r);

/* Defined by the messaging handlers: submits one expiry pass unless one is in flight. */
void relay_expire_tick(struct relay *r);

#endif
