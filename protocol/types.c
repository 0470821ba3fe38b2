/* SPDX-License-Identifier: MPL-2.0 */
/* Frame type names and flags, from PROTO_TYPE_MAP. */
#include "wakks_protocol.h"

const char *proto_type_name(uint32_t type)
{
	switch (type) {
#define PROTO__TYPE_NAME(name, num, wire, member, flags) \
	case num:                                         \
		return wire;
		PROTO_TYPE_MAP(PROTO__TYPE_NAME)
#undef PROTO__TYPE_NAME
	default:
		return NULL;
	}
}

unsigned proto_type_flags(uint32_t type)
{
	switch (type) {
#define PROTO__TYPE_FLAGS(name, num, wire, member, flags) \
	case num:                                          \
		return (flags);
		PROTO_TYPE_MAP(PROTO__TYPE_FLAGS)
#undef PROTO__TYPE_FLAGS
	default:
		return 0;
	}
}
