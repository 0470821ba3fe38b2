/* SPDX-License-Identifier: MPL-2.0 */
/* The [push] and [push.app.NAME] sections of the relay's configuration (docs/configuration.md):
 * how offline devices are woken (spec/push.md). Credentials are file paths; the files are read at
 * start and their contents never logged. */
#ifndef WAKKS_RELAY_CORE_CONFIG_PUSH_H
#define WAKKS_RELAY_CORE_CONFIG_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RELAY_MAX_PUSH_APPS 8
#define RELAY_PUSH_PATH_MAX 1024
#define RELAY_PUSH_STR_MAX 256

enum relay_push_app_kind { RELAY_PUSH_APP_NONE = 0, RELAY_PUSH_APP_APNS = 2, RELAY_PUSH_APP_FCM = 3 };

struct relay_push_app_config {
	char name[33];                           /* the slug a device's push_register names */
	int kind;                                /* enum relay_push_app_kind */
	char url[RELAY_PUSH_STR_MAX];            /* provider base URL; default the provider's own */
	char ca_file[RELAY_PUSH_PATH_MAX];       /* trust instead of the system store (tests) */
	/* APNs token authentication */
	char key_file[RELAY_PUSH_PATH_MAX];      /* the .p8 key (PEM, EC P-256) */
	char key_id[16];
	char team_id[16];
	char topic[RELAY_PUSH_STR_MAX];          /* the app's bundle id */
	/* FCM HTTP v1 */
	char service_account_file[RELAY_PUSH_PATH_MAX]; /* Google's JSON key file */
};

struct relay_push_config {
	bool web;                              /* Web Push on (the VAPID key is made on first start) */
	char subject[RELAY_PUSH_STR_MAX];      /* VAPID "sub": mailto: or https:; default public_url */
	uint32_t interval_seconds;             /* at most one push per device per interval */
	uint32_t ttl_seconds;                  /* how long a push service keeps an undelivered push */
	char urgency[10];                      /* RFC 8030 §5.3 */
	uint32_t queue_max;                    /* pushes waiting; past it they are dropped (counted) */
	uint32_t max_in_flight;                /* concurrent requests to push services */
	uint32_t retry_max;                    /* retries after 429/5xx/transport failures */
	uint32_t retry_base_ms;                /* first back-off; doubles per retry */
	char ca_file[RELAY_PUSH_PATH_MAX];     /* trust for Web Push endpoints (tests, private CAs) */
	bool allow_local_endpoints;            /* accept localhost and IP-literal endpoints (tests) */
	struct relay_push_app_config apps[RELAY_MAX_PUSH_APPS];
	int app_count;
};

void relay_push_config_defaults(struct relay_push_config *pc);

/* A key of [push] (app NULL) or of an app's section. Returns 0, or -1 with why[] saying what is
 * wrong with the value (never repeating a credential). */
int relay_push_config_set(struct relay_push_config *pc, struct relay_push_app_config *app,
			  const char *key, const char *value, char *why, size_t why_len);

/* Opens [push.app.NAME]: a new app, or NULL with why[] set. */
struct relay_push_app_config *relay_push_config_app(struct relay_push_config *pc, const char *name,
						    char *why, size_t why_len);

/* After the whole file: every app complete for its kind. 0, or -1 with why[]. */
int relay_push_config_check(const struct relay_push_config *pc, char *why, size_t why_len);

/* The configured app of that name, or NULL. */
const struct relay_push_app_config *relay_push_config_find(const struct relay_push_config *pc,
							   const char *name, size_t len);

#endif
