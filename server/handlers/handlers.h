/* SPDX-License-Identifier: MPL-2.0 */
/* The frame handlers, one file per frame family in this folder. A handler runs on the loop thread
 * with a decoded frame whose views point into the connection's receive buffer: it must copy what
 * it keeps past its return (store requests copy their inputs). pipeline/dispatch.c has already
 * checked the frame's direction, the connection's state and the rate limit. */
#ifndef WAKKS_RELAY_HANDLERS_HANDLERS_H
#define WAKKS_RELAY_HANDLERS_HANDLERS_H

#include <stdint.h>

#include "wakks_protocol.h"

struct relay_conn;

typedef void (*relay_handler)(struct relay_conn *c, const proto_frame *f);

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
void handle_consent_check(struct relay_conn *c, const proto_frame *f);
void handle_blob_put(struct relay_conn *c, const proto_frame *f);
void handle_blob_chunk(struct relay_conn *c, const proto_frame *f);
void handle_blob_status(struct relay_conn *c, const proto_frame *f);
void handle_blob_get(struct relay_conn *c, const proto_frame *f);

#endif
