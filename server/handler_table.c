/* SPDX-License-Identifier: MPL-2.0 */
#include "handler_table.h"

/* Every client → relay frame type the relay serves; the order is the spec's. */
const struct relay_handler_entry relay_handler_table[] = {
	{ PROTO_T_AUTH, handle_auth },
	{ PROTO_T_REGISTER, handle_register },
	{ PROTO_T_DEVICES_LIST, handle_devices_list },
	{ PROTO_T_DEVICE_REVOKE, handle_device_revoke },
	{ PROTO_T_PREKEYS_UPLOAD, handle_prekeys_upload },
	{ PROTO_T_SPK_ROTATE, handle_spk_rotate },
	{ PROTO_T_KEY_COUNT_GET, handle_key_count_get },
	{ PROTO_T_BUNDLES_FETCH, handle_bundles_fetch },
	{ PROTO_T_TENANTS_LIST, handle_tenants_list },
	{ PROTO_T_UNITS_LIST, handle_units_list },
	{ PROTO_T_DEVICE_SET_GET, handle_device_set_get },
	{ PROTO_T_SEND, handle_send },
	{ PROTO_T_ACK, handle_ack },
	{ PROTO_T_CONSENT_GRANT, handle_consent_grant },
	{ PROTO_T_CONSENT_WITHDRAW, handle_consent_withdraw },
	{ PROTO_T_CONSENT_LIST, handle_consent_list },
	{ PROTO_T_CITIZEN_LOOKUP, handle_citizen_lookup },
	{ PROTO_T_BLOB_PUT, handle_blob_put },
	{ PROTO_T_BLOB_CHUNK, handle_blob_chunk },
	{ PROTO_T_BLOB_STATUS, handle_blob_status },
	{ PROTO_T_BLOB_GET, handle_blob_get },
	{ 0, NULL },
};
