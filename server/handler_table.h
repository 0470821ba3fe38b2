/* SPDX-License-Identifier: MPL-2.0 */
/* The frame type → handler table and the handlers' signatures. A handler runs on the loop thread
 * with a decoded frame whose views point into the connection's receive buffer: it must copy what
 * it keeps past its return (store requests copy their inputs). */
#ifndef WAKKS_RELAY_HANDLER_TABLE_H
#define WAKKS_RELAY_HANDLER_TABLE_H

#include <stdint.h>

#include "wakks_protocol.h"

struct relay_conn;

typedef void (*relay_handler)(struct relay_conn *c, const proto_frame *f);

struct relay_handler_entry {
	uint32_t type;
	relay_handler fn;
};

extern const struct relay_handler_entry relay_handler_table[];

void handle_auth(struct relay_conn *c, const proto_frame *f);
void handle_register(struct relay_conn *c, const proto_frame *f);
void handle_devices_list(struct relay_conn *c, const proto_frame *f);
void handle_device_revoke(struct relay_conn *c, const proto_frame *f);
void handle_prekeys_upload(struct relay_conn *c, const proto_frame *f);
void handle_spk_rotate(struct relay_conn *c, const proto_frame *f);
void handle_key_count_get(struct relay_conn *c, const proto_frame *f);
void handle_bundles_fetch(struct relay_conn *c, const proto_frame *f);
void handle_tenants_list(struct relay_conn *c, const proto_frame *f);
void handle_units_list(struct relay_conn *c, const proto_frame *f);
void handle_device_set_get(struct relay_conn *c, const proto_frame *f);
void handle_send(struct relay_conn *c, const proto_frame *f);
void handle_ack(struct relay_conn *c, const proto_frame *f);
void handle_consent_grant(struct relay_conn *c, const proto_frame *f);
void handle_consent_withdraw(struct relay_conn *c, const proto_frame *f);
void handle_consent_list(struct relay_conn *c, const proto_frame *f);
void handle_citizen_lookup(struct relay_conn *c, const proto_frame *f);
void handle_blob_put(struct relay_conn *c, const proto_frame *f);
void handle_blob_chunk(struct relay_conn *c, const proto_frame *f);
void handle_blob_status(struct relay_conn *c, const proto_frame *f);
void handle_blob_get(struct relay_conn *c, const proto_frame *f);

#endif
