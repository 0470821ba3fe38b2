/* SPDX-License-Identifier: MPL-2.0 */
/* Logging in through a provider the relay lists, RFC 8252 style: the relay's provider list and
 * login challenge, a loopback listener for the redirect, the authorization code with PKCE, and the
 * code exchange at the provider (public client) or through the relay (confidential client). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "wakks_internal.h"

#define URL_MAX 600

struct wakks_login {
	wakks_client *c;
	int listener;
	char idp[65];
	char issuer[URL_MAX], token_endpoint[URL_MAX], client_id[256];
	bool relay_exchange;
	char redirect_uri[64];
	char state[32];
	char verifier[64];
	uint8_t chal[32]; /* the login challenge L the nonce binds: the evidence a citizen presents */
};

static void b64u(const uint8_t *in, size_t n, char *out, size_t cap)
{
	sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Percent-encodes s (RFC 3986 unreserved kept) onto out. */
static void enc(char *out, size_t cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(out);
	for (; *s && n + 4 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			out[n++] = (char)ch;
		} else {
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		}
	}
	out[n] = 0;
}

static void param(char *out, size_t cap, const char *name, const char *value)
{
	size_t n = strlen(out);
	snprintf(out + n, cap - n, "%s%s=", n && out[n - 1] != '?' ? "&" : "", name);
	enc(out, cap, value);
}

/* The relay's JSON answer to a request (POST with a JSON body, or GET). */
static int relay_json(wakks_client *c, const char *method, const char *path, const char *body,
		      int *status, json_t **out)
{
	char *resp = NULL;
	int rc = wakks__https(c->tls, c->host, c->port, method, path, body, status, &resp, NULL, 0);
	if (rc != 0)
		return rc;
	*out = resp ? json_loads(resp, 0, NULL) : NULL;
	if (resp)
		sodium_memzero(resp, strlen(resp));
	free(resp);
	return *out ? 0 : WAKKS_E_HTTP;
}

static int copy(char *dst, size_t cap, const char *s)
{
	if (!s || strlen(s) >= cap)
		return -1;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int find_provider(wakks_login *l, const char *idp, json_t **provider)
{
	int status = 0;
	json_t *j = NULL;
	int rc = relay_json(l->c, "GET", "/idp/providers", NULL, &status, &j);
	if (rc != 0)
		return rc;
	json_t *list = json_object_get(j, "providers"), *p;
	size_t i;
	*provider = NULL;
	json_array_foreach(list, i, p)
		if (json_is_string(json_object_get(p, "id")) &&
		    strcmp(json_string_value(json_object_get(p, "id")), idp) == 0)
			*provider = json_incref(p);
	json_decref(j);
	return status != 200 ? WAKKS_E_HTTP : *provider ? 0 : WAKKS_E_NOT_FOUND;
}

static int login_challenge(wakks_login *l, uint8_t out[32])
{
	char ik[64], body[128];
	b64u(l->c->ik.public_key, 32, ik, sizeof ik);
	snprintf(body, sizeof body, "{\"ik\":\"%s\"}", ik);
	int status = 0;
	json_t *j = NULL;
	int rc = relay_json(l->c, "POST", "/idp/login-challenge", body, &status, &j);
	if (rc != 0)
		return rc;
	const char *s = json_string_value(json_object_get(j, "challenge"));
	size_t n = 0;
	rc = status == 200 && s &&
	     sodium_base642bin(out, 32, s, strlen(s), NULL, &n, NULL,
			       sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 && n == 32
		? 0 : WAKKS_E_HTTP;
	json_decref(j);
	return rc;
}

static int open_listener(wakks_login *l)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	l->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->listener < 0 || bind(l->listener, (struct sockaddr *)&a, sizeof a) != 0 ||
	    listen(l->listener, 4) != 0 || getsockname(l->listener, (struct sockaddr *)&a, &len) != 0)
		return WAKKS_E_IO;
	snprintf(l->redirect_uri, sizeof l->redirect_uri, "http://127.0.0.1:%d/callback",
		 ntohs(a.sin_port));
	return 0;
}

int wakks_login_begin(wakks_client *c, const char *idp, wakks_login **out, char **auth_url)
{
	if (!c || !idp || !idp[0] || strlen(idp) > 64 || !out || !auth_url)
		return WAKKS_E_INVAL;
	wakks_login *l = calloc(1, sizeof *l);
	if (!l)
		return WAKKS_E_NOMEM;
	l->c = c;
	l->listener = -1;
	snprintf(l->idp, sizeof l->idp, "%s", idp);
	json_t *p = NULL;
	char *url = NULL;
	uint8_t chal[32];
	int rc = find_provider(l, idp, &p);
	const char *authz = json_string_value(json_object_get(p, "authorization_endpoint"));
	const char *scope = json_string_value(json_object_get(p, "scope"));
	const char *acr = json_string_value(json_object_get(p, "acr_values"));
	const char *exch = json_string_value(json_object_get(p, "code_exchange"));
	if (rc == 0 && (!authz || strlen(authz) >= URL_MAX ||
			copy(l->issuer, sizeof l->issuer, json_string_value(json_object_get(p, "issuer"))) ||
			copy(l->client_id, sizeof l->client_id,
			     json_string_value(json_object_get(p, "client_id")))))
		rc = WAKKS_E_HTTP;
	if (rc == 0) {
		l->relay_exchange = exch && strcmp(exch, "relay") == 0;
		if (!l->relay_exchange &&
		    copy(l->token_endpoint, sizeof l->token_endpoint,
			 json_string_value(json_object_get(p, "token_endpoint"))) != 0)
			rc = WAKKS_E_HTTP;
	}
	if (rc == 0)
		rc = login_challenge(l, chal);
	if (rc == 0)
		memcpy(l->chal, chal, 32);
	if (rc == 0)
		rc = open_listener(l);
	if (rc == 0 && !(url = malloc(4096)))
		rc = WAKKS_E_NOMEM;
	if (rc == 0) {
		/* nonce = N(issuer, IK, L) (spec/identity.md §3), as the relay recomputes it */
		uint8_t msg[20 + 1 + 2 + URL_MAX + 64], h[32], raw[32];
		size_t il = strlen(l->issuer), n = 0;
		memcpy(msg, "wakks.v1 oidc-nonce", 19);
		n = 19;
		msg[n++] = 0;
		msg[n++] = (uint8_t)(il >> 8);
		msg[n++] = (uint8_t)il;
		memcpy(msg + n, l->issuer, il);
		n += il;
		memcpy(msg + n, c->ik.public_key, 32);
		n += 32;
		memcpy(msg + n, chal, 32);
		n += 32;
		crypto_hash_sha256(h, msg, n);
		char nonce[64], challenge[64], st[16];
		b64u(h, 32, nonce, sizeof nonce);
		randombytes_buf(raw, sizeof raw);
		b64u(raw, sizeof raw, l->verifier, sizeof l->verifier);
		crypto_hash_sha256(h, (const uint8_t *)l->verifier, strlen(l->verifier));
		b64u(h, 32, challenge, sizeof challenge);
		randombytes_buf(st, sizeof st);
		b64u((const uint8_t *)st, sizeof st, l->state, sizeof l->state);
		snprintf(url, 4096, "%s%s", authz, strchr(authz, '?') ? "&" : "?");
		param(url, 4096, "response_type", "code");
		param(url, 4096, "client_id", l->client_id);
		param(url, 4096, "redirect_uri", l->redirect_uri);
		param(url, 4096, "scope", scope ? scope : "openid");
		param(url, 4096, "code_challenge", challenge);
		param(url, 4096, "code_challenge_method", "S256");
		param(url, 4096, "nonce", nonce);
		param(url, 4096, "state", l->state);
		if (acr)
			param(url, 4096, "acr_values", acr);
	}
	json_decref(p);
	if (rc != 0) {
		free(url);
		wakks_login_free(l);
		return rc;
	}
	*out = l;
	*auth_url = url;
	return 0;
}

/* The value of query parameter `name` in the request line's target, percent-decoded. */
static bool query(const char *target, const char *name, char *out, size_t cap)
{
	const char *q = strchr(target, '?');
	size_t nl = strlen(name);
	for (const char *p = q; p && *p; p = strchr(p + 1, '&')) {
		if (strncmp(p + 1, name, nl) != 0 || p[1 + nl] != '=')
			continue;
		const char *v = p + 2 + nl;
		size_t o = 0;
		for (; *v && *v != '&' && *v != ' ' && o + 1 < cap; v++) {
			if (*v == '%' && v[1] && v[2]) {
				char hx[3] = { v[1], v[2], 0 };
				out[o++] = (char)strtol(hx, NULL, 16);
				v += 2;
			} else {
				out[o++] = *v == '+' ? ' ' : *v;
			}
		}
		out[o] = 0;
		return true;
	}
	return false;
}

/* Accepts connections on the loopback listener until one brings the redirect (a browser may
 * ask for /favicon.ico first); answers it with a short page. */
static int wait_redirect(wakks_login *l, int timeout_ms, char *target, size_t cap)
{
	for (;;) {
		struct pollfd pfd = { .fd = l->listener, .events = POLLIN };
		int n = poll(&pfd, 1, timeout_ms);
		if (n == 0)
			return WAKKS_E_TIMEOUT;
		if (n < 0)
			return WAKKS_E_IO;
		int fd = accept(l->listener, NULL, NULL);
		if (fd < 0)
			continue;
		struct timeval tv = { 5, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		char req[4096];
		ssize_t got = recv(fd, req, sizeof req - 1, 0);
		req[got > 0 ? got : 0] = 0;
		bool ours = strncmp(req, "GET /callback?", 14) == 0;
		const char *page = ours ? "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
					  "Connection: close\r\nCache-Control: no-store\r\n\r\n"
					  "<!doctype html><html lang=\"da\"><title>OS2wakks</title><p>Login er "
					  "modtaget. Du kan lukke dette vindue.</p></html>\n"
					: "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
		ssize_t w = send(fd, page, strlen(page), MSG_NOSIGNAL);
		(void)w;
		close(fd);
		if (ours) {
			char *sp = strchr(req + 4, ' ');
			if (sp)
				*sp = 0;
			snprintf(target, cap, "%s", req + 4);
			sodium_memzero(req, sizeof req);
			return 0;
		}
	}
}

/* https://host[:port]/path into its parts. */
static int split_url(const char *url, char *host, size_t hcap, int *port, const char **path)
{
	if (strncmp(url, "https://", 8) != 0)
		return -1;
	const char *h = url + 8, *end = h + strcspn(h, "/:");
	if ((size_t)(end - h) >= hcap || end == h)
		return -1;
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = 0;
	*port = 443;
	if (*end == ':')
		*port = atoi(end + 1);
	*path = strchr(end, '/') ? strchr(end, '/') : "/";
	return *port > 0 && *port < 65536 ? 0 : -1;
}

static int exchange(wakks_login *l, const char *code, char **id_token)
{
	int status = 0, rc;
	json_t *j = NULL;
	if (l->relay_exchange) {
		json_t *req = json_pack("{s:s, s:s, s:s, s:s}", "idp", l->idp, "code", code,
					"redirect_uri", l->redirect_uri, "code_verifier", l->verifier);
		char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
		json_decref(req);
		if (!body)
			return WAKKS_E_NOMEM;
		rc = relay_json(l->c, "POST", "/idp/token", body, &status, &j);
		sodium_memzero(body, strlen(body));
		free(body);
	} else {
		char host[256], form[4096] = "";
		int port;
		const char *path;
		if (split_url(l->token_endpoint, host, sizeof host, &port, &path) != 0)
			return WAKKS_E_HTTP;
		param(form, sizeof form, "grant_type", "authorization_code");
		param(form, sizeof form, "code", code);
		param(form, sizeof form, "redirect_uri", l->redirect_uri);
		param(form, sizeof form, "client_id", l->client_id);
		param(form, sizeof form, "code_verifier", l->verifier);
		char *resp = NULL;
		rc = wakks__https(l->c->tls, host, port, "POST", path, form, &status, &resp, NULL, 0);
		sodium_memzero(form, sizeof form);
		if (rc == 0) {
			j = resp ? json_loads(resp, 0, NULL) : NULL;
			if (resp)
				sodium_memzero(resp, strlen(resp));
			free(resp);
			rc = j ? 0 : WAKKS_E_HTTP;
		}
	}
	if (rc != 0)
		return rc;
	const char *t = json_string_value(json_object_get(j, "id_token"));
	*id_token = status == 200 && t ? strdup(t) : NULL;
	json_decref(j);
	return *id_token ? 0 : WAKKS_E_HTTP;
}

int wakks_login_finish(wakks_login *l, int timeout_ms, char **id_token)
{
	if (!l || !id_token)
		return WAKKS_E_INVAL;
	char target[4096], code[2048], state[64], iss[URL_MAX];
	int rc = wait_redirect(l, timeout_ms, target, sizeof target);
	if (rc != 0)
		return rc;
	if (!query(target, "state", state, sizeof state) || strcmp(state, l->state) != 0)
		rc = WAKKS_E_VERIFY;
	else if (query(target, "iss", iss, sizeof iss) && strcmp(iss, l->issuer) != 0)
		rc = WAKKS_E_VERIFY; /* RFC 9207 */
	else if (!query(target, "code", code, sizeof code) || !code[0])
		rc = WAKKS_E_HTTP; /* the provider answered with an error */
	else
		rc = exchange(l, code, id_token);
	if (rc == 0) {
		/* The token's nonce binds L, not a connection's challenge: the registration that follows
		 * keeps L with the token as the device's evidence (spec/client.md §15). */
		memcpy(l->c->login_challenge, l->chal, 32);
		l->c->login_challenge_set = true;
	}
	sodium_memzero(target, sizeof target);
	sodium_memzero(code, sizeof code);
	return rc;
}

void wakks_login_free(wakks_login *l)
{
	if (!l)
		return;
	if (l->listener >= 0)
		close(l->listener);
	sodium_memzero(l, sizeof *l);
	free(l);
}
