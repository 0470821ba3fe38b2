/* SPDX-License-Identifier: MPL-2.0 */
/* Error texts and names from the one X-macro table in wakks_identity.h. */
#include "wakks_identity.h"

const char *id_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define ID__ERR_TEXT(name, code, text) \
	case (code):                   \
		return (text);
		ID_ERRNO_MAP(ID__ERR_TEXT)
#undef ID__ERR_TEXT
	default:
		return "unknown error";
	}
}

const char *id_errname(int err)
{
	switch (err) {
	case 0:
		return "ID_OK";
#define ID__ERR_NAME(name, code, text) \
	case (code):                   \
		return "ID_" #name;
		ID_ERRNO_MAP(ID__ERR_NAME)
#undef ID__ERR_NAME
	default:
		return "ID_ERR_UNKNOWN";
	}
}
