/* SPDX-License-Identifier: MPL-2.0 */
/* FCM HTTP v1 (spec/push.md §5): an access token from Google's OAuth 2.0 token endpoint by the
 * JWT-bearer grant (RFC 7523) with the service account's RS256 key, cached until a minute before
 * it expires; then POST .../v1/projects/PROJECT/messages:send with a data-only message. Pushes
 * that arrive while a token is being fetched wait for it (they are counted in flight). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "relay_state.h"
#include "services/push_crypto.h"
#include "services/push_internal.h"

#define FCM_DEFAULT_URL "https://fcm.googleapis.com"
#define FCM_SCOPE "https://www.googleapis.com/auth/firebase.messaging"

struct push_fcm {
	struct push_app *app;
	struct push_service *svc;
	char project_id[128];
	char client_email[256];
	char key_id[64];
	char token_uri[RELAY_PUSH_STR_MAX];
	char access[2048];
	uint64_t access_until_ms; /* monotonic; 0 = none */
	bool fetching;
	struct push_job *waiting, **waiting_tail;
};

static int copy_field(json_t *j, const char *name, char *out, size_t cap)
{
	const char *v = json_string_value(json_object_get(j, name));
	if (!v || strlen(v) >= cap)
		return -1;
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

int push__fcm_load(struct push_app *a)
{
	json_error_t err;
	json_t *j = json_load_file(a->cfg->service_account_file, 0, &err);
	struct push_fcm *f = calloc(1, sizeof *f);
	const char *pem = j ? json_string_value(json_object_get(j, "private_key")) : NULL;
	if (f) {
		f->app = a;
		f->waiting_tail = &f->waiting;
		a->fcm = f;
	}
	if (!f || !pem || copy_field(j, "project_id", f->project_id, sizeof f->project_id) ||
	    copy_field(j, "client_email", f->client_email, sizeof f->client_email) ||
	    copy_field(j, "token_uri", f->token_uri, sizeof f->token_uri) ||
	    (strncmp(f->token_uri, "https://", 8) != 0 && strncmp(f->token_uri, "http://127.0.0.1", 16) != 0) ||
	    !(a->key = push_key_from_pem(pem, strlen(pem))) || !EVP_PKEY_is_a(a->key, "RSA")) {
		/* Names the file, never its contents. */
		RLOG_ERROR("push", "fcm_service_account_unusable", "app=%s file=%s", a->cfg->name,
			   a->cfg->service_account_file);
		json_decref(j);
		return -1;
	}
	(void)copy_field(j, "private_key_id", f->key_id, sizeof f->key_id);
	json_decref(j);
	return 0;
}

void push__fcm_renew(struct push_fcm *f)
{
	f->access_until_ms = 0;
}

static void fail_waiting(struct push_fcm *f, enum push_outcome o)
{
	struct push_job *job = f->waiting;
	f->waiting = NULL;
	f->waiting_tail = &f->waiting;
	while (job) {
		struct push_job *next = job->next;
		job->done(job, o, 0);
		job = next;
	}
}

void push__fcm_free(struct push_fcm *f)
{
	fail_waiting(f, PUSH_FAILED);
	OPENSSL_cleanse(f->access, sizeof f->access);
	free(f);
}

/* FCM names a token that no longer exists UNREGISTERED in the error's details. */
static int unregistered(const struct http_response *resp)
{
	json_t *j = resp->body_len ? json_loadb((const char *)resp->body, resp->body_len, 0, NULL) : NULL;
	json_t *det = json_object_get(json_object_get(j, "error"), "details");
	int yes = 0;
	size_t i;
	json_t *d;
	json_array_foreach(det, i, d) {
		const char *code = json_string_value(json_object_get(d, "errorCode"));
		if (code && strcmp(code, "UNREGISTERED") == 0)
			yes = 1;
	}
	json_decref(j);
	return yes;
}

static void message_done(void *ctx, const struct http_response *resp)
{
	struct push_job *job = ctx;
	int o = push__common_outcome(resp);
	if (o < 0) {
		if ((resp->status == 404 || resp->status == 400) && unregistered(resp))
			o = PUSH_GONE;
		else if (resp->status == 401)
			o = PUSH_RENEW;
		else
			o = PUSH_FAILED;
		RLOG_INFO("push", "fcm_refused", "status=%ld", resp->status);
	}
	job->done(job, (enum push_outcome)o, push__retry_after(resp));
}

static void send_message(struct push_fcm *f, struct push_job *job)
{
	const struct relay_push_config *pc = &f->svc->relay->cfg.push;
	char url[RELAY_PUSH_STR_MAX + 200], auth_h[sizeof f->access + 32], ttl[24];
	snprintf(url, sizeof url, "%s/v1/projects/%s/messages:send",
		 f->app->cfg->url[0] ? f->app->cfg->url : FCM_DEFAULT_URL, f->project_id);
	snprintf(auth_h, sizeof auth_h, "Authorization: Bearer %s", f->access);
	snprintf(ttl, sizeof ttl, "%us", pc->ttl_seconds);
	/* Data only: the app decides what to show after fetching; nothing in it is content. */
	json_t *msg = json_pack("{s:{s:s%,s:{s:s},s:{s:s,s:s,s:s}}}", "message", "token",
				job->sub.addr, job->sub.addr_len, "data", "wakks", "waiting",
				"android", "priority", strcmp(pc->urgency, "high") == 0 ? "HIGH" : "NORMAL",
				"ttl", ttl, "collapse_key", "wakks");
	char *body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (!body) {
		job->done(job, PUSH_FAILED, 0);
		return;
	}
	const char *headers[] = { auth_h, "Content-Type: application/json; charset=UTF-8", NULL };
	struct http_request req = {
		.method = "POST", .url = url, .headers = headers, .body = (const uint8_t *)body,
		.body_len = strlen(body), .timeout_ms = 15000,
		.ca_file = f->app->cfg->ca_file[0] ? f->app->cfg->ca_file : NULL,
		.max_response_bytes = 16384,
	};
	int rc = http_client_submit(f->svc->http, &req, message_done, job);
	free(body);
	if (rc != 0)
		job->done(job, PUSH_RETRY, 0);
}

static void token_done(void *ctx, const struct http_response *resp)
{
	struct push_fcm *f = ctx;
	f->fetching = false;
	json_t *j = NULL;
	if (resp->error == HTTP_CLIENT_OK && resp->status == 200)
		j = json_loadb((const char *)resp->body, resp->body_len, 0, NULL);
	const char *tok = json_string_value(json_object_get(j, "access_token"));
	json_int_t expires = json_integer_value(json_object_get(j, "expires_in"));
	if (!tok || strlen(tok) >= sizeof f->access || expires <= 0) {
		json_decref(j);
		RLOG_WARN("push", "fcm_token_refused", "app=%s status=%ld", f->app->cfg->name,
			  resp->status);
		int o = push__common_outcome(resp);
		fail_waiting(f, o == PUSH_RETRY || resp->error == HTTP_CLIENT_CANCELLED ? (enum push_outcome)o
										: PUSH_FAILED);
		return;
	}
	memcpy(f->access, tok, strlen(tok) + 1);
	/* A minute early, so no message leaves with a token about to expire. */
	uint64_t life = expires > 120 ? (uint64_t)(expires - 60) : (uint64_t)expires / 2 + 1;
	f->access_until_ms = relay_monotonic_ms() + life * 1000u;
	json_decref(j);
	struct push_job *job = f->waiting;
	f->waiting = NULL;
	f->waiting_tail = &f->waiting;
	while (job) {
		struct push_job *next = job->next;
		send_message(f, job);
		job = next;
	}
}

static void fetch_token(struct push_fcm *f)
{
	char claims[1024], jwt[4096], body[4400];
	long long now = (long long)time(NULL);
	char header[128];
	if (f->key_id[0])
		snprintf(header, sizeof header, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", f->key_id);
	else
		snprintf(header, sizeof header, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}");
	snprintf(claims, sizeof claims,
		 "{\"iss\":\"%s\",\"scope\":\"" FCM_SCOPE "\",\"aud\":\"%s\",\"iat\":%lld,\"exp\":%lld}",
		 f->client_email, f->token_uri, now, now + 3600);
	if (push_jwt_sign(f->app->key, header, claims, jwt, sizeof jwt) < 0) {
		fail_waiting(f, PUSH_FAILED);
		return;
	}
	/* base64url and '.' need no form encoding. */
	snprintf(body, sizeof body,
		 "grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer&assertion=%s", jwt);
	const char *headers[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
	struct http_request req = {
		.method = "POST", .url = f->token_uri, .headers = headers, .body = (const uint8_t *)body,
		.body_len = strlen(body), .timeout_ms = 15000,
		.ca_file = f->app->cfg->ca_file[0] ? f->app->cfg->ca_file : NULL,
		.max_response_bytes = 65536,
	};
	f->fetching = true;
	int rc = http_client_submit(f->svc->http, &req, token_done, f);
	OPENSSL_cleanse(body, sizeof body);
	OPENSSL_cleanse(jwt, sizeof jwt);
	if (rc != 0) {
		f->fetching = false;
		fail_waiting(f, PUSH_RETRY);
	}
}

void push__fcm_send(struct push_service *s, struct push_job *job)
{
	struct push_fcm *f = job->app->fcm;
	f->svc = s;
	if (f->access_until_ms && relay_monotonic_ms() < f->access_until_ms) {
		send_message(f, job);
		return;
	}
	job->next = NULL;
	*f->waiting_tail = job;
	f->waiting_tail = &job->next;
	if (!f->fetching)
		fetch_token(f);
}
