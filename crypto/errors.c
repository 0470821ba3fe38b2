/* SPDX-License-Identifier: MPL-2.0 */
/* Result codes and library initialisation. */
#include "wc_internal.h"

const char *wc_strerror(int code)
{
	switch (code) {
	case WC_OK:
		return "success";
#define WC__ERR_CASE(name, value, text) \
	case WC_E_##name:               \
		return text;
		WC_ERRNO_MAP(WC__ERR_CASE)
#undef WC__ERR_CASE
	default:
		return "unknown error";
	}
}

int wc_init(void)
{
	return sodium_init() < 0 ? WC_E_INIT : WC_OK;
}
