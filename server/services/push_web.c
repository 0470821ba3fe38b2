/* SPDX-License-Identifier: MPL-2.0 */
/* Web Push (spec/push.md §3): RFC 8030 to the subscription's endpoint, RFC 8292 VAPID, RFC 8291
 * aes128gcm. The payload says only that something waits. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "relay_state.h"
#include "services/push_crypto.h"
#include "services/push_internal.h"

/* The endpoint's origin (scheme://host[:port]), the JWT's audience (RFC 8292 §2). */
static int origin_of(const char *url, size_t len, char *out, size_t cap)
{
	const char *host = memchr(url, ':', len);
	if (!host || (size_t)(host - url) + 3 > len || memcmp(host, "://", 3) != 0)
		return -1;
	host += 3;
	const char *end = host;
	while ((size_t)(end - url) < len && *end != '/' && *end != '?' && *end != '#')
		end++;
	size_t n = (size_t)(end - url);
	if (end == host || n + 1 > cap)
		return -1;
	memcpy(out, url, n);
	out[n] = '\0';
	return 0;
}

static void web_done(void *ctx, const struct http_response *resp)
{
	struct push_job *job = ctx;
	int o = push__common_outcome(resp);
	if (o < 0) /* RFC 8030 §7.3 / §8.1: the subscription expired or never existed */
		o = resp->status == 404 || resp->status == 410 ? PUSH_GONE : PUSH_FAILED;
	job->done(job, (enum push_outcome)o, push__retry_after(resp));
}

void push__web_send(struct push_service *s, struct push_job *job)
{
	struct relay *r = s->relay;
	const struct relay_push_config *pc = &r->cfg.push;
	char url[STORE_PUSH_ADDR_MAX + 1], aud[STORE_PUSH_ADDR_MAX + 1], claims[STORE_PUSH_ADDR_MAX + 400];
	char jwt[STORE_PUSH_ADDR_MAX + 800], auth_h[sizeof jwt + 160], ttl_h[32], urg_h[32];
	uint8_t body[sizeof PUSH_PAYLOAD + PUSH_AES128GCM_OVERHEAD];
	memcpy(url, job->sub.addr, job->sub.addr_len);
	url[job->sub.addr_len] = '\0';
	if (origin_of(url, job->sub.addr_len, aud, sizeof aud) != 0) {
		job->done(job, PUSH_GONE, 0);
		return;
	}
	/* RFC 8292 §2: exp at most 24 hours ahead; a fresh token per push costs one signature. */
	char subject[RELAY_PUSH_STR_MAX + 32];
	if (pc->subject[0])
		snprintf(subject, sizeof subject, "%s", pc->subject);
	else
		snprintf(subject, sizeof subject, "%s", r->cfg.public_url[0] ? r->cfg.public_url
									   : "https://localhost");
	snprintf(claims, sizeof claims, "{\"aud\":\"%s\",\"exp\":%lld,\"sub\":\"%s\"}", aud,
		 (long long)time(NULL) + 12 * 3600, subject);
	int jl = push_jwt_sign(s->vapid, "{\"typ\":\"JWT\",\"alg\":\"ES256\"}", claims, jwt, sizeof jwt);
	int bl = push_webpush_encrypt(job->sub.p256dh, job->sub.auth, (const uint8_t *)PUSH_PAYLOAD,
				      strlen(PUSH_PAYLOAD), body, sizeof body);
	if (jl < 0 || bl < 0) {
		job->done(job, PUSH_FAILED, 0);
		return;
	}
	snprintf(auth_h, sizeof auth_h, "Authorization: vapid t=%s, k=%s", jwt, s->vapid_k);
	snprintf(ttl_h, sizeof ttl_h, "TTL: %u", pc->ttl_seconds);
	snprintf(urg_h, sizeof urg_h, "Urgency: %s", pc->urgency);
	/* Topic (RFC 8030 §5.4): a push still waiting at the push service is replaced, not added to. */
	const char *headers[] = { auth_h, ttl_h, urg_h, "Topic: wakks",
				  "Content-Encoding: aes128gcm",
				  "Content-Type: application/octet-stream", NULL };
	struct http_request req = {
		.method = "POST", .url = url, .headers = headers, .body = body,
		.body_len = (size_t)bl, .timeout_ms = 15000,
		.ca_file = pc->ca_file[0] ? pc->ca_file : NULL, .max_response_bytes = 16384,
	};
	if (http_client_submit(s->http, &req, web_done, job) != 0)
		job->done(job, PUSH_RETRY, 0);
}
