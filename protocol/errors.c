/* SPDX-License-Identifier: MPL-2.0 */
/* The result code table: library return values and the codes of `error` frames. */
#include <string.h>

#include "wakks_protocol.h"

const char *proto_strerror(int err)
{
	int code = err < 0 ? -err : err;
	switch (code) {
	case 0:
		return "success";
#define PROTO__ERR_TEXT(name, num, sym, text) \
	case num:                              \
		return text;
		PROTO_ERRNO_MAP(PROTO__ERR_TEXT)
#undef PROTO__ERR_TEXT
	default:
		return "unknown error";
	}
}

const char *proto_errname(int err)
{
	int code = err < 0 ? -err : err;
	switch (code) {
#define PROTO__ERR_NAME(name, num, sym, text) \
	case num:                              \
		return sym;
		PROTO_ERRNO_MAP(PROTO__ERR_NAME)
#undef PROTO__ERR_NAME
	default:
		return NULL;
	}
}

int proto_errcode(const char *name, size_t len)
{
#define PROTO__ERR_CODE(ename, num, sym, text)                          \
	if (len == sizeof(sym) - 1 && memcmp(name, sym, len) == 0) \
		return -(num);
	PROTO_ERRNO_MAP(PROTO__ERR_CODE)
#undef PROTO__ERR_CODE
	return 0;
}
