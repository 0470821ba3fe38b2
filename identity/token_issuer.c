/* SPDX-License-Identifier: MPL-2.0 */
/* The iss claim of a compact token read before verification, to choose whose keys verify it. */
#include <stdlib.h>
#include <string.h>

#include "identity_internal.h"

int id_token_issuer(const char *token, size_t len, char *out, size_t cap)
{
	if (!out || cap == 0 || (!token && len))
		return ID_ERR_INVALID_ARG;
	const char *dot1 = len ? memchr(token, '.', len) : NULL;
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot2)
		return ID_ERR_TOKEN_SHAPE;
	uint8_t *payload;
	size_t n;
	int rc = id_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload, &n);
	if (rc != 0)
		return rc;
	json_t *claims = json_loadb((const char *)payload, n, 0, NULL);
	free(payload);
	if (!json_is_object(claims)) {
		json_decref(claims);
		return ID_ERR_PAYLOAD_JSON;
	}
	const char *iss = json_string_value(json_object_get(claims, "iss"));
	size_t iss_len = iss ? strlen(iss) : 0;
	rc = iss && iss_len < cap ? 0 : ID_ERR_ISS;
	if (rc == 0)
		memcpy(out, iss, iss_len + 1);
	json_decref(claims);
	return rc;
}
