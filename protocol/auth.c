/* SPDX-License-Identifier: MPL-2.0 */
/* The bytes a device signs to answer the hello challenge (spec/protocol.md, "auth"). */
#include <string.h>

#include "wakks_protocol.h"

void proto_auth_message(uint8_t out[PROTO_AUTH_MSG_BYTES],
			const uint8_t challenge[PROTO_CHALLENGE_BYTES],
			const uint8_t device[PROTO_ID_BYTES])
{
	memcpy(out, PROTO_AUTH_CONTEXT, PROTO_AUTH_CONTEXT_BYTES);
	out[PROTO_AUTH_CONTEXT_BYTES] = 0x00;
	memcpy(out + PROTO_AUTH_CONTEXT_BYTES + 1, challenge, PROTO_CHALLENGE_BYTES);
	memcpy(out + PROTO_AUTH_CONTEXT_BYTES + 1 + PROTO_CHALLENGE_BYTES, device, PROTO_ID_BYTES);
}
