/* SPDX-License-Identifier: MPL-2.0 */
#include "services/receipts.h"

#include <stdlib.h>
#include <string.h>

#include "net/conn.h"
#include "net/outgoing.h"
#include "relay_state.h"
#include "services/cluster_events.h"

struct receipt {
	uint32_t type;
	uint8_t cmid[16];
	uint8_t account[16];
	uint8_t device[16];
	uint64_t time;
};

struct receipt_queue {
	size_t head, count;
	struct receipt items[RELAY_RECEIPTS_PER_DEVICE];
};

static void broadcast(struct relay *r, const struct receipt *rc, const uint8_t sender_device[16])
{
	struct relay_event ev = { .kind = RELAY_EV_RECEIPT, .type = rc->type, .time_ms = rc->time };
	memcpy(ev.id, sender_device, 16);
	memcpy(ev.cmid, rc->cmid, 16);
	memcpy(ev.account, rc->account, 16);
	memcpy(ev.device, rc->device, 16);
	relay_cluster_broadcast(r, &ev);
}

static void push(struct relay_conn *c, const struct receipt *rc)
{
	proto_frame *f = relay_tx_frame(c->relay, rc->type, 0);
	proto_receipt *body = rc->type == PROTO_T_RECEIPT ? &f->body.receipt : &f->body.expired;
	body->cmid = rc->cmid;
	body->account = rc->account;
	body->device = rc->device;
	body->time = rc->time;
	relay_send_frame(c, f);
}

void relay_receipt_post(struct relay *r, uint32_t type, const uint8_t sender_device[16],
			const uint8_t cmid[16], const uint8_t recipient_account[16],
			const uint8_t recipient_device[16], uint64_t time_ms)
{
	struct receipt rc = { .type = type, .time = time_ms };
	memcpy(rc.cmid, cmid, 16);
	memcpy(rc.account, recipient_account, 16);
	memcpy(rc.device, recipient_device, 16);
	struct relay_conn *c = relay_conn_of_device(r, sender_device);
	if (c && c->state == CONN_AUTHENTICATED) {
		push(c, &rc);
		return;
	}
	/* The sender may be connected to another relay on the same store; kept here as well in
	 * case it is connected nowhere (a duplicate receipt is harmless, a lost one is not). */
	broadcast(r, &rc, sender_device);
	struct receipt_queue *q = idmap_get(&r->receipts, sender_device);
	if (!q) {
		q = calloc(1, sizeof *q);
		if (!q || idmap_put(&r->receipts, sender_device, q) != 0) {
			free(q);
			return;
		}
	}
	if (q->count == RELAY_RECEIPTS_PER_DEVICE) {
		q->head = (q->head + 1) % RELAY_RECEIPTS_PER_DEVICE;
		q->count--;
	}
	q->items[(q->head + q->count) % RELAY_RECEIPTS_PER_DEVICE] = rc;
	q->count++;
}

void relay_receipts_flush(struct relay_conn *c)
{
	struct relay *r = c->relay;
	struct receipt_queue *q = idmap_get(&r->receipts, c->device_id);
	if (!q)
		return;
	for (size_t i = 0; i < q->count; i++)
		push(c, &q->items[(q->head + i) % RELAY_RECEIPTS_PER_DEVICE]);
	idmap_del(&r->receipts, c->device_id);
	free(q);
}

void relay_receipt_push_here(struct relay *r, uint32_t type, const uint8_t sender_device[16],
			     const uint8_t cmid[16], const uint8_t recipient_account[16],
			     const uint8_t recipient_device[16], uint64_t time_ms)
{
	struct relay_conn *c = relay_conn_of_device(r, sender_device);
	if (!c || c->state != CONN_AUTHENTICATED)
		return;
	struct receipt rc = { .type = type, .time = time_ms };
	memcpy(rc.cmid, cmid, 16);
	memcpy(rc.account, recipient_account, 16);
	memcpy(rc.device, recipient_device, 16);
	push(c, &rc);
}

void relay_receipts_forward(struct relay *r, const uint8_t device[16])
{
	struct receipt_queue *q = idmap_get(&r->receipts, device);
	if (!q)
		return;
	uint8_t dev[16];
	memcpy(dev, device, 16);
	for (size_t i = 0; i < q->count; i++)
		broadcast(r, &q->items[(q->head + i) % RELAY_RECEIPTS_PER_DEVICE], dev);
	idmap_del(&r->receipts, dev);
	free(q);
}

static void free_queue(void *queue, void *data)
{
	(void)data;
	free(queue);
}

void relay_receipts_free(struct relay *r)
{
	idmap_foreach(&r->receipts, free_queue, NULL);
	idmap_free(&r->receipts);
}
