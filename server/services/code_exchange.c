/* SPDX-License-Identifier: MPL-2.0 */
#include "services/code_exchange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include "core/clock.h"
#include "core/log.h"
#include "net/http_client.h"
#include "relay_state.h"
#include "services/provider_keys.h"

#define SECRET_MAX_BYTES 16384

/* Reads a secret file that only the relay's user may read. malloc'd, NUL-terminated. */
static char *read_secret(const char *idp, const char *path, size_t *len)
{
	struct stat st;
	FILE *f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &st) != 0) {
		RLOG_ERROR("identity", "client_secret_unreadable", "idp=%s path=%s", idp, path);
		if (f)
			fclose(f);
		return NULL;
	}
	if (st.st_mode & 077) {
		RLOG_ERROR("identity", "client_secret_permissions", "idp=%s path=%s note=\"make it "
			   "readable by the relay's user only (chmod 600)\"", idp, path);
		fclose(f);
		return NULL;
	}
	char *buf = malloc(SECRET_MAX_BYTES + 1);
	size_t n = buf ? fread(buf, 1, SECRET_MAX_BYTES + 1, f) : 0;
	fclose(f);
	if (!buf || n == 0 || n > SECRET_MAX_BYTES) {
		RLOG_ERROR("identity", "client_secret_invalid", "idp=%s path=%s", idp, path);
		free(buf);
		return NULL;
	}
	/* A secret file usually ends with a newline the secret does not contain. */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = 0;
	*len = n;
	return buf;
}

int relay_code_exchange_load(struct relay_idp *p)
{
	const struct relay_idp_config *c = p->cfg;
	const char *path = c->client_auth == RELAY_IDP_AUTH_SECRET_BASIC ? c->client_secret_file
		: c->client_auth == RELAY_IDP_AUTH_PRIVATE_KEY_JWT ? c->client_key_file : NULL;
	if (!path)
		return 0;
	p->client_secret = read_secret(c->id, path, &p->client_secret_len);
	if (!p->client_secret)
		return -1;
	if (c->client_auth == RELAY_IDP_AUTH_PRIVATE_KEY_JWT) {
		/* Sign once now so a key that cannot sign stops the start, not a citizen's log-in. */
		char *a = NULL;
		int rc = id_client_assertion(p->client_secret, p->client_secret_len,
					     c->client_key_id[0] ? c->client_key_id : NULL,
					     c->audience, "https://check.invalid/", 0, &a);
		free(a);
		if (rc != 0) {
			RLOG_ERROR("identity", "client_key_invalid", "idp=%s path=%s error=\"%s\"", c->id,
				   path, id_strerror(rc));
			return -1;
		}
	}
	return 0;
}

void relay_code_exchange_unload(struct relay_idp *p)
{
	if (p->client_secret) {
		sodium_memzero(p->client_secret, p->client_secret_len);
		free(p->client_secret);
	}
	p->client_secret = NULL;
	p->client_secret_len = 0;
}

/* application/x-www-form-urlencoded (RFC 6749 Appendix B), appended to *out. */
static void form_append(char *out, size_t cap, const char *name, const char *value)
{
	size_t n = strlen(out);
	if (n && n < cap - 1)
		out[n++] = '&';
	for (const char *s = name; *s && n < cap - 1; s++)
		out[n++] = *s;
	if (n < cap - 1)
		out[n++] = '=';
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *s = (const unsigned char *)value; *s && n + 3 < cap; s++) {
		if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '-' || *s == '.' || *s == '_' || *s == '~') {
			out[n++] = (char)*s;
		} else if (*s == ' ') {
			out[n++] = '+';
		} else {
			out[n++] = '%';
			out[n++] = hex[*s >> 4];
			out[n++] = hex[*s & 15];
		}
	}
	out[n] = 0;
}

struct exchange {
	struct relay *relay;
	code_exchange_done_fn done;
	void *ctx;
	char idp[64];
};

static void answer_json(struct exchange *x, unsigned status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (s)
		x->done(x->ctx, status, s, strlen(s));
	else
		x->done(x->ctx, 500, "{\"error\":\"internal\"}", 20);
	if (s) {
		sodium_memzero(s, strlen(s)); /* may hold the ID token */
		free(s);
	}
	json_decref(j);
}

static void on_token(void *ctx, const struct http_response *res)
{
	struct exchange *x = ctx;
	if (res->error == HTTP_CLIENT_CANCELLED) {
		x->done(x->ctx, 0, NULL, 0);
		free(x);
		return;
	}
	json_t *body = res->error == HTTP_CLIENT_OK
		? json_loadb((const char *)res->body, res->body_len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	json_t *idt = json_object_get(body, "id_token");
	if (res->error == HTTP_CLIENT_OK && res->status == 200 && json_is_string(idt)) {
		RLOG_INFO("identity", "code_exchanged", "idp=%s", x->idp);
		answer_json(x, 200, json_pack("{s:O}", "id_token", idt));
	} else {
		/* The provider's OAuth error code (RFC 6749 §5.2) tells the operator what to fix
		 * (invalid_client: the key or secret; invalid_grant: code, verifier, redirect_uri). */
		const char *perr = json_string_value(json_object_get(body, "error"));
		char safe[64] = "";
		for (size_t i = 0; perr && perr[i] && i < sizeof safe - 1; i++)
			safe[i] = (perr[i] >= 'a' && perr[i] <= 'z') || perr[i] == '_' ? perr[i] : '?';
		RLOG_WARN("identity", "code_exchange_failed", "idp=%s status=%ld provider_error=%s "
			  "transport=\"%s\"", x->idp, res->status, safe[0] ? safe : "-",
			  res->error == HTTP_CLIENT_OK ? "" : (res->error_text ? res->error_text : "?"));
		answer_json(x, 502, json_pack("{s:s, s:s}", "error", "exchange_failed",
					      "provider_error", safe[0] ? safe : "unreachable"));
	}
	json_decref(body);
	free(x);
}

int relay_code_exchange(struct relay *r, struct relay_idp *p, const char *code,
			const char *redirect_uri, const char *code_verifier, code_exchange_done_fn done,
			void *ctx)
{
	const struct relay_idp_config *c = p->cfg;
	const id_discovery *meta = relay_provider_metadata(p);
	if (c->client_auth == RELAY_IDP_AUTH_NONE || !p->client_secret || !meta ||
	    !meta->token_endpoint[0] || !r->identity.http)
		return -1;
	struct exchange *x = calloc(1, sizeof *x);
	char *form = malloc(16384);
	char *assertion = NULL;
	char auth[3000] = "";
	if (!x || !form) {
		free(x);
		free(form);
		return -1;
	}
	*x = (struct exchange){ r, done, ctx, "" };
	snprintf(x->idp, sizeof x->idp, "%s", c->id);
	form[0] = 0;
	form_append(form, 16384, "grant_type", "authorization_code");
	form_append(form, 16384, "code", code);
	form_append(form, 16384, "redirect_uri", redirect_uri);
	if (code_verifier && code_verifier[0])
		form_append(form, 16384, "code_verifier", code_verifier);
	if (c->client_auth == RELAY_IDP_AUTH_PRIVATE_KEY_JWT) {
		int rc = id_client_assertion(p->client_secret, p->client_secret_len,
					     c->client_key_id[0] ? c->client_key_id : NULL, c->audience,
					     meta->token_endpoint, (int64_t)(relay_now_ms() / 1000),
					     &assertion);
		if (rc != 0) {
			RLOG_ERROR("identity", "client_assertion_failed", "idp=%s error=\"%s\"", c->id,
				   id_strerror(rc));
			free(form);
			free(x);
			return -1;
		}
		form_append(form, 16384, "client_id", c->audience);
		form_append(form, 16384, "client_assertion_type",
			    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
		form_append(form, 16384, "client_assertion", assertion);
	} else {
		/* RFC 6749 §2.3.1: both parts form-encoded before base64. */
		char user[1024] = "", pass[1024] = "", pair[2100];
		form_append(user, sizeof user, "u", c->audience);
		form_append(pass, sizeof pass, "p", p->client_secret);
		int n = snprintf(pair, sizeof pair, "%s:%s", user + 2, pass + 2);
		char b64[2900];
		sodium_bin2base64(b64, sizeof b64, (const unsigned char *)pair, (size_t)n,
				  sodium_base64_VARIANT_ORIGINAL);
		snprintf(auth, sizeof auth, "Authorization: Basic %s", b64);
		sodium_memzero(pass, sizeof pass);
		sodium_memzero(pair, sizeof pair);
		sodium_memzero(b64, sizeof b64);
	}
	const char *headers[] = { "Content-Type: application/x-www-form-urlencoded",
				  "Accept: application/json", auth[0] ? auth : NULL, NULL };
	struct http_request req = {
		.method = "POST",
		.url = meta->token_endpoint,
		.headers = headers,
		.body = (const uint8_t *)form,
		.body_len = strlen(form),
		.timeout_ms = CODE_EXCHANGE_TIMEOUT_MS,
		.ca_file = c->ca_file[0] ? c->ca_file : NULL,
		.max_response_bytes = 65536,
	};
	int rc = http_client_submit(r->identity.http, &req, on_token, x);
	sodium_memzero(form, 16384);
	free(form);
	sodium_memzero(auth, sizeof auth);
	if (assertion) {
		sodium_memzero(assertion, strlen(assertion));
		free(assertion);
	}
	if (rc != 0) {
		*x = (struct exchange){ r, done, ctx, "" };
		done(ctx, 503, "{\"error\":\"busy\"}", 16);
		free(x);
	}
	return 0;
}
