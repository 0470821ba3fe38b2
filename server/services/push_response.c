/* SPDX-License-Identifier: MPL-2.0 */
/* What every push service's answer means alike (push_internal.h). */
#include <stdlib.h>

#include "services/push_internal.h"

uint64_t push__retry_after(const struct http_response *resp)
{
	char v[32];
	if (!resp->headers || http_header_value(resp->headers, "retry-after", v, sizeof v) <= 0)
		return 0;
	char *end;
	unsigned long s = strtoul(v, &end, 10);
	/* An HTTP-date form is rare from push services; the back-off applies then. */
	return *end == '\0' && s <= 3600 ? (uint64_t)s * 1000u : 0;
}

int push__common_outcome(const struct http_response *resp)
{
	if (resp->error != HTTP_CLIENT_OK)
		return resp->error == HTTP_CLIENT_CANCELLED ? PUSH_FAILED : PUSH_RETRY;
	if (resp->status >= 200 && resp->status < 300)
		return PUSH_SENT;
	if (resp->status == 429 || resp->status >= 500)
		return PUSH_RETRY;
	return -1;
}
