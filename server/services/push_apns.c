/* SPDX-License-Identifier: MPL-2.0 */
/* APNs (spec/push.md §4): HTTP/2 to /3/device/TOKEN with token authentication, an ES256 JWT from
 * the app's .p8 key, kept for 40 minutes (Apple refuses one older than an hour and throttles
 * renewing more often than every 20 minutes). mutable-content lets the app's Notification Service
 * Extension fetch and decrypt before anything is shown. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "relay_state.h"
#include "services/push_crypto.h"
#include "services/push_internal.h"

#define APNS_DEFAULT_URL "https://api.push.apple.com"
#define APNS_JWT_LIFETIME_MS (40u * 60u * 1000u)

int push__apns_load(struct push_app *a)
{
	a->key = push_key_read_pem(a->cfg->key_file);
	if (!a->key || !EVP_PKEY_is_a(a->key, "EC")) {
		RLOG_ERROR("push", "apns_key_unusable", "app=%s file=%s", a->cfg->name, a->cfg->key_file);
		return -1;
	}
	return 0;
}

static const char *provider_jwt(struct push_app *a)
{
	uint64_t now = relay_monotonic_ms();
	if (a->jwt_made_ms && now - a->jwt_made_ms < APNS_JWT_LIFETIME_MS)
		return a->jwt;
	char header[96], claims[96];
	snprintf(header, sizeof header, "{\"alg\":\"ES256\",\"kid\":\"%s\"}", a->cfg->key_id);
	snprintf(claims, sizeof claims, "{\"iss\":\"%s\",\"iat\":%lld}", a->cfg->team_id,
		 (long long)time(NULL));
	if (push_jwt_sign(a->key, header, claims, a->jwt, sizeof a->jwt) < 0)
		return NULL;
	a->jwt_made_ms = now;
	return a->jwt;
}

/* APNs answers errors as {"reason": "..."} (Apple's "Handling notification responses"). */
static void reason_of(const struct http_response *resp, char *out, size_t cap)
{
	out[0] = '\0';
	json_t *j = resp->body_len ? json_loadb((const char *)resp->body, resp->body_len, 0, NULL) : NULL;
	const char *r = j ? json_string_value(json_object_get(j, "reason")) : NULL;
	if (r)
		snprintf(out, cap, "%s", r);
	json_decref(j);
}

static void apns_done(void *ctx, const struct http_response *resp)
{
	struct push_job *job = ctx;
	int o = push__common_outcome(resp);
	if (o < 0) {
		char reason[64];
		reason_of(resp, reason, sizeof reason);
		if (strcmp(reason, "BadDeviceToken") == 0 || strcmp(reason, "Unregistered") == 0 ||
		    strcmp(reason, "DeviceTokenNotForTopic") == 0 || resp->status == 410)
			o = PUSH_GONE;
		else if (strcmp(reason, "ExpiredProviderToken") == 0 ||
			 strcmp(reason, "InvalidProviderToken") == 0)
			o = PUSH_RENEW;
		else
			o = PUSH_FAILED;
		/* The reason is Apple's word about our request, never the token: safe to log. */
		RLOG_INFO("push", "apns_refused", "status=%ld reason=%s", resp->status,
			  reason[0] ? reason : "-");
	}
	job->done(job, (enum push_outcome)o, push__retry_after(resp));
}

void push__apns_send(struct push_service *s, struct push_job *job)
{
	struct push_app *a = job->app;
	const struct relay_push_config *pc = &s->relay->cfg.push;
	const char *jwt = provider_jwt(a);
	if (!jwt) {
		job->done(job, PUSH_FAILED, 0);
		return;
	}
	char url[RELAY_PUSH_STR_MAX + STORE_PUSH_ADDR_MAX + 16], auth_h[sizeof a->jwt + 32];
	char topic_h[RELAY_PUSH_STR_MAX + 16], exp_h[48], prio_h[32];
	snprintf(url, sizeof url, "%s/3/device/%.*s", a->cfg->url[0] ? a->cfg->url : APNS_DEFAULT_URL,
		 (int)job->sub.addr_len, job->sub.addr);
	snprintf(auth_h, sizeof auth_h, "authorization: bearer %s", jwt);
	snprintf(topic_h, sizeof topic_h, "apns-topic: %s", a->cfg->topic);
	snprintf(exp_h, sizeof exp_h, "apns-expiration: %lld",
		 pc->ttl_seconds ? (long long)time(NULL) + pc->ttl_seconds : 0LL);
	snprintf(prio_h, sizeof prio_h, "apns-priority: %s",
		 strcmp(pc->urgency, "high") == 0 ? "10" : "5");
	/* The alert is the same words for everyone; what waits is fetched by the app's extension. */
	static const char body[] =
		"{\"aps\":{\"alert\":{\"title\":\"OS2wakks\",\"body\":\"Du har en ny besked i OS2wakks\"},"
		"\"mutable-content\":1,\"sound\":\"default\"},\"wakks\":\"waiting\"}";
	const char *headers[] = { auth_h, topic_h, "apns-push-type: alert", exp_h, prio_h,
				  "apns-collapse-id: wakks", "content-type: application/json", NULL };
	struct http_request req = {
		.method = "POST", .url = url, .headers = headers, .body = (const uint8_t *)body,
		.body_len = sizeof body - 1, .timeout_ms = 15000,
		.ca_file = a->cfg->ca_file[0] ? a->cfg->ca_file : NULL, .require_http2 = true,
		.max_response_bytes = 16384,
	};
	if (http_client_submit(s->http, &req, apns_done, job) != 0)
		job->done(job, PUSH_RETRY, 0);
}
