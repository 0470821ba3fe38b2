/* SPDX-License-Identifier: MPL-2.0 */
/* Internals of the development identity provider. */
#ifndef WAKKS_DEVIDP_INTERNAL_H
#define WAKKS_DEVIDP_INTERNAL_H

#include <jansson.h>
#include <cjose/cjose.h>

#include "wakks_devidp.h"

#define DEVIDP__CLIENT_ID_MAX 128
#define DEVIDP__REDIRECT_URI_MAX 512
#define DEVIDP__NONCE_MAX 128
#define DEVIDP__STATE_MAX 256
#define DEVIDP__LOGIN_MAX 32
/* A form or query string from the browser; the authorize form is a few hundred bytes. */
#define DEVIDP__FORM_MAX_BYTES 8192
#define DEVIDP__FORM_MAX_PARAMS 32

struct devidp__code {
	bool in_use;
	char code[DEVIDP_CODE_CHARS + 1];
	char client_id[DEVIDP__CLIENT_ID_MAX + 1];
	char redirect_uri[DEVIDP__REDIRECT_URI_MAX + 1];
	char challenge[ID_NONCE_BUF_BYTES];
	char nonce[DEVIDP__NONCE_MAX + 1];
	char login[DEVIDP__LOGIN_MAX + 1];
	int64_t expires_at;
};

struct devidp {
	id_profile profile;
	char *issuer;
	char *client_id;
	char **redirect_uris;
	size_t n_redirect_uris;
	uint32_t token_lifetime;
	uint32_t code_lifetime;
	cjose_jwk_t *key;
	char kid[ID_NONCE_BUF_BYTES];
	char *jwks_json;
	struct devidp__code codes[DEVIDP_MAX_CODES];
};

typedef struct devidp__form {
	size_t n;
	char *name[DEVIDP__FORM_MAX_PARAMS];
	char *value[DEVIDP__FORM_MAX_PARAMS];
} devidp__form;

/* Parses application/x-www-form-urlencoded text (also query strings). Refuses malformed percent
 * escapes, NUL bytes, repeated parameters (RFC 6749 §3.1) and more than the limits.
 * @return 0, ID_ERR_INVALID_ARG, ID_ERR_NOMEM; free with devidp__form_free even on error. */
int devidp__form_parse(const char *s, size_t len, devidp__form *f);
const char *devidp__form_get(const devidp__form *f, const char *name);
void devidp__form_free(devidp__form *f);
/* malloc'd escaped copies, or NULL on allocation failure. */
char *devidp__html_escape(const char *s);
char *devidp__url_encode(const char *s);

bool devidp__redirect_allowed(const devidp *d, const char *uri);
id_kind devidp__kind(const devidp *d);

#endif
