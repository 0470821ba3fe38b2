/* SPDX-License-Identifier: MPL-2.0 */
/* Receipts and expiry notices for the sending device (spec/protocol.md §8.4): pushed at once when
 * it is online, otherwise kept in a bounded in-memory queue of its own (oldest dropped first) and
 * pushed once when it authenticates. A convenience, not a guarantee: a restart loses the queue. */
#ifndef WAKKS_RELAY_SERVICES_RECEIPTS_H
#define WAKKS_RELAY_SERVICES_RECEIPTS_H

#include <stdint.h>

struct relay;
struct relay_conn;

/* Receipts kept per offline sending device; older ones are dropped first. */
#define RELAY_RECEIPTS_PER_DEVICE 1000

/* type: PROTO_T_RECEIPT or PROTO_T_EXPIRED. */
void relay_receipt_post(struct relay *r, uint32_t type, const uint8_t sender_device[16],
			const uint8_t cmid[16], const uint8_t recipient_account[16],
			const uint8_t recipient_device[16], uint64_t time_ms);

/* Pushes what waits for the connection's device (after authentication). */
void relay_receipts_flush(struct relay_conn *c);

void relay_receipts_free(struct relay *r);

/* A receipt another relay posted (services/cluster.c): pushed when the sender is connected here,
 * else nothing (that relay keeps it). */
void relay_receipt_push_here(struct relay *r, uint32_t type, const uint8_t sender_device[16],
			     const uint8_t cmid[16], const uint8_t recipient_account[16],
			     const uint8_t recipient_device[16], uint64_t time_ms);

/* The device connected to another relay: what is queued here for it goes there as events. */
void relay_receipts_forward(struct relay *r, const uint8_t device[16]);

#endif
