/* SPDX-License-Identifier: MPL-2.0 */
/* Between the push queue (push.c) and its providers (push_web.c, push_apns.c, push_fcm.c): a job
 * is one push to one device; a provider builds its request and judges the answer. */
#ifndef WAKKS_RELAY_SERVICES_PUSH_INTERNAL_H
#define WAKKS_RELAY_SERVICES_PUSH_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "core/config_push.h"
#include "net/http_client.h"
#include "services/push.h"
#include "wakks_storage.h"

/* The push's payload: that something waits, nothing else (spec/push.md §2). */
#define PUSH_PAYLOAD "{\"wakks\":\"waiting\"}"

enum push_outcome {
	PUSH_SENT,    /* accepted by the push service */
	PUSH_GONE,    /* the subscription or token no longer exists: delete it */
	PUSH_RETRY,   /* 429, 5xx, transport: try again after a back-off */
	PUSH_RENEW,   /* the provider refused our credential (expired token): renew, then retry */
	PUSH_FAILED,  /* refused for good (a 4xx the provider documents as final) */
};

struct push_fcm; /* FCM's access-token state (push_fcm.c) */

/* One configured app: its credentials and cached tokens. */
struct push_app {
	const struct relay_push_app_config *cfg;
	EVP_PKEY *key;           /* APNs: the .p8 key; FCM: the service account's RSA key */
	char jwt[600];           /* APNs: the provider token */
	uint64_t jwt_made_ms;    /* monotonic; 0 = none */
	struct push_fcm *fcm;    /* FCM only */
};

struct push_job {
	struct relay *relay;
	uint8_t device[16];
	struct store_push_sub sub;
	struct push_app *app;       /* NULL for Web Push */
	int provider;               /* enum relay_push_provider */
	/* The queue's verdict function (push.c), called exactly once per job by its provider: the
	 * providers never call back into the queue by name. */
	void (*done)(struct push_job *job, enum push_outcome outcome, uint64_t retry_after_ms);
	struct push_job *next;      /* in a waiting list (an FCM access token being fetched) */
};

/* The service's shared parts the providers use. */
struct push_service {
	struct relay *relay;
	struct http_client *http;
	EVP_PKEY *vapid;            /* NULL when Web Push is off */
	uint8_t vapid_public[65];
	char vapid_k[100];          /* base64url of vapid_public */
	struct push_app *apps[RELAY_MAX_PUSH_APPS];
	int app_count;
};

/* Submits the job's HTTP request; the provider calls job->done(job, outcome, retry_after_ms)
 * exactly once, later (or at once when it cannot submit). */
void push__web_send(struct push_service *s, struct push_job *job);
void push__apns_send(struct push_service *s, struct push_job *job);
void push__fcm_send(struct push_service *s, struct push_job *job);

/* Apps: load credentials at start (-1 after logging why, without the credential); forget cached
 * tokens after PUSH_RENEW; free (FCM jobs waiting for a token complete as failed). */
int push__apns_load(struct push_app *app);
int push__fcm_load(struct push_app *app);
void push__fcm_renew(struct push_fcm *fcm);
void push__fcm_free(struct push_fcm *fcm);

/* Reading answers (push_response.c). The Retry-After header in ms (seconds form), or 0. */
uint64_t push__retry_after(const struct http_response *resp);
/* The outcome of a status that every provider treats alike (2xx, 429, 5xx, transport), or -1. */
int push__common_outcome(const struct http_response *resp);

#endif
