/* SPDX-License-Identifier: MPL-2.0 */
/* Error texts from the X-macro table in wakks_devidp.h, then the identity library's. */
#include "wakks_devidp.h"

const char *devidp_strerror(int err)
{
	switch (err) {
#define DEVIDP__ERR_TEXT(name, code, text) \
	case (code):                       \
		return (text);
		DEVIDP_ERRNO_MAP(DEVIDP__ERR_TEXT)
#undef DEVIDP__ERR_TEXT
	default:
		return id_strerror(err);
	}
}
