/* SPDX-License-Identifier: MPL-2.0 */
/* Mailbox delivery: pushes a device's stored envelopes in sequence order while its outgoing queue
 * has room; receipts and expiry notices to senders. */
#ifndef WAKKS_RELAY_SERVICES_DELIVERY_H
#define WAKKS_RELAY_SERVICES_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

struct relay;
struct relay_conn;

/* Pushes what the device's mailbox holds beyond what this connection has already been sent. */
void relay_deliver_pump(struct relay_conn *c);

/* An ack of seq arrived on c: its delivery is no longer in flight; pushing resumes if the
 * in-flight window (max_inflight_deliveries) was full. */
void relay_deliver_acked(struct relay_conn *c, uint64_t seq);

/* Pumps the connection of every listed device that is online. */
void relay_deliver_wake(struct relay *r, const uint8_t (*device_ids)[16], size_t n);

#endif
