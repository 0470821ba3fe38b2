/* SPDX-License-Identifier: MPL-2.0 */
/* Provider metadata: OpenID Connect Discovery documents and the freshness of fetched key sets. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "identity_internal.h"

static bool starts_with(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* The authority is exactly `name`, with or without a port. */
static bool loopback_host(const char *host, const char *name)
{
	size_t n = strlen(name);
	return strncmp(host, name, n) == 0 && (host[n] == 0 || host[n] == ':' || host[n] == '/');
}

bool id_url_acceptable(const char *url, bool allow_loopback_http)
{
	if (!url)
		return false;
	size_t n = strlen(url);
	if (n > ID_URL_MAX_BYTES)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= 0x20 || c == 0x7f)
			return false;
	}
	const char *host;
	if (starts_with(url, "https://"))
		host = url + 8;
	else if (allow_loopback_http && starts_with(url, "http://"))
		host = url + 7;
	else
		return false;
	if (host[0] == 0 || host[0] == '/' || host[0] == ':' || strchr(url, '#'))
		return false;
	return host == url + 8 || loopback_host(host, "127.0.0.1") || loopback_host(host, "[::1]") ||
	       loopback_host(host, "localhost");
}

/* A string member that is an acceptable URL, copied into out; absent is "" when optional. */
static int url_member(const json_t *doc, const char *name, bool required, bool loopback, char *out)
{
	const char *s;
	size_t n;
	if (id__json_string(doc, name, &s, &n, ID_ERR_DISCOVERY) != 0)
		return ID_ERR_DISCOVERY;
	if (!s) {
		out[0] = 0;
		return required ? ID_ERR_DISCOVERY : 0;
	}
	if (!id_url_acceptable(s, loopback))
		return ID_ERR_DISCOVERY;
	memcpy(out, s, n + 1);
	return 0;
}

static bool array_has(const json_t *arr, const char *value)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
		if (json_is_string(e) && strcmp(json_string_value(e), value) == 0)
			return true;
	return false;
}

int id_discovery_parse(const char *json, size_t len, const char *issuer, bool allow_loopback_http,
		       id_discovery *out)
{
	if (!json || !issuer || !out)
		return ID_ERR_INVALID_ARG;
	if (len > ID_DISCOVERY_MAX_BYTES)
		return ID_ERR_DISCOVERY;
	json_error_t jerr;
	json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	id_discovery *d = calloc(1, sizeof *d);
	int rc = ID_ERR_DISCOVERY;
	const char *iss;
	size_t iss_len;
	if (!d) {
		rc = ID_ERR_NOMEM;
		goto done;
	}
	if (!json_is_object(doc))
		goto done;
	if (id__json_string(doc, "issuer", &iss, &iss_len, ID_ERR_DISCOVERY) != 0 || !iss ||
	    strcmp(iss, issuer) != 0 || iss_len > ID_ISSUER_MAX_BYTES)
		goto done;
	memcpy(d->issuer, iss, iss_len + 1);
	if (url_member(doc, "jwks_uri", true, allow_loopback_http, d->jwks_uri) != 0 ||
	    url_member(doc, "authorization_endpoint", true, allow_loopback_http,
		       d->authorization_endpoint) != 0 ||
	    url_member(doc, "token_endpoint", false, allow_loopback_http, d->token_endpoint) != 0 ||
	    url_member(doc, "end_session_endpoint", false, allow_loopback_http,
		       d->end_session_endpoint) != 0)
		goto done;
	json_t *methods = json_object_get(doc, "token_endpoint_auth_methods_supported");
	if (!methods) {
		d->token_auth_methods = ID_AUTH_CLIENT_SECRET_BASIC;
	} else if (json_is_array(methods)) {
		if (array_has(methods, "client_secret_basic"))
			d->token_auth_methods |= ID_AUTH_CLIENT_SECRET_BASIC;
		if (array_has(methods, "private_key_jwt"))
			d->token_auth_methods |= ID_AUTH_PRIVATE_KEY_JWT;
	} else {
		goto done;
	}
	json_t *pkce = json_object_get(doc, "code_challenge_methods_supported");
	d->pkce_s256 = json_is_array(pkce) && array_has(pkce, "S256");
	*out = *d;
	rc = 0;
done:
	free(d);
	json_decref(doc);
	return rc;
}

/* Directive names compared case-insensitively (RFC 9111 §5.2). */
static bool directive(const char *p, size_t n, const char *name)
{
	return n == strlen(name) && strncasecmp(p, name, n) == 0;
}

int64_t id_cache_max_age(const char *cc)
{
	if (!cc)
		return -1;
	int64_t max_age = -1;
	const char *p = cc;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *name = p;
		while (*p && *p != '=' && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		size_t n = (size_t)(p - name);
		const char *val = NULL;
		size_t vlen = 0;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '=') {
			p++;
			bool quoted = *p == '"';
			if (quoted)
				p++;
			val = p;
			while (*p && (quoted ? *p != '"' : (*p != ',' && *p != ' ' && *p != '\t')))
				p++;
			vlen = (size_t)(p - val);
			if (quoted && *p == '"')
				p++;
		}
		if (directive(name, n, "no-store") || directive(name, n, "no-cache"))
			return 0;
		if (directive(name, n, "max-age") && val && vlen > 0 && vlen <= 10) {
			int64_t v = 0;
			bool ok = true;
			for (size_t i = 0; i < vlen; i++) {
				if (!isdigit((unsigned char)val[i]))
					ok = false;
				else
					v = v * 10 + (val[i] - '0');
			}
			if (ok && max_age < 0)
				max_age = v;
		}
		while (*p && *p != ',')
			p++;
	}
	return max_age;
}
