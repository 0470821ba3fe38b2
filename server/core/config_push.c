/* SPDX-License-Identifier: MPL-2.0 */
#include "core/config_push.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wakks_protocol.h"

void relay_push_config_defaults(struct relay_push_config *pc)
{
	memset(pc, 0, sizeof *pc);
	pc->web = true;
	pc->interval_seconds = 60;
	pc->ttl_seconds = 86400;
	snprintf(pc->urgency, sizeof pc->urgency, "high");
	pc->queue_max = 10000;
	pc->max_in_flight = 16;
	pc->retry_max = 5;
	pc->retry_base_ms = 1000;
}

static int set_u32(const char *value, uint32_t lo, uint32_t hi, uint32_t *out, char *why,
		   size_t why_len)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(value, &end, 10);
	if (value[0] < '0' || value[0] > '9' || errno || *end) {
		snprintf(why, why_len, "'%s' is not a whole number", value);
		return -1;
	}
	if (v < lo || v > hi) {
		snprintf(why, why_len, "%llu is outside %u..%u", v, lo, hi);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int set_str(char *dst, size_t size, const char *value, char *why, size_t why_len)
{
	if (strlen(value) >= size) {
		snprintf(why, why_len, "value is longer than %zu bytes", size - 1);
		return -1;
	}
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

static int set_url(char *dst, size_t size, const char *value, char *why, size_t why_len)
{
	/* http:// only for loopback stand-ins; credentials never travel in clear to anyone else. */
	if (strncmp(value, "https://", 8) != 0 && strncmp(value, "http://127.0.0.1", 16) != 0) {
		snprintf(why, why_len, "must be an https:// URL");
		return -1;
	}
	return set_str(dst, size, value, why, why_len);
}

#define STR_KEY(k, field)                                                              \
	if (strcmp(key, k) == 0)                                                       \
	return set_str(field, sizeof field, value, why, why_len)

static int set_app(struct relay_push_app_config *a, const char *key, const char *value, char *why,
		   size_t why_len)
{
	if (strcmp(key, "kind") == 0) {
		if (strcmp(value, "apns") == 0)
			a->kind = RELAY_PUSH_APP_APNS;
		else if (strcmp(value, "fcm") == 0)
			a->kind = RELAY_PUSH_APP_FCM;
		else {
			snprintf(why, why_len, "'%s' is not one of apns, fcm", value);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "url") == 0)
		return set_url(a->url, sizeof a->url, value, why, why_len);
	STR_KEY("ca_file", a->ca_file);
	STR_KEY("key_file", a->key_file);
	STR_KEY("key_id", a->key_id);
	STR_KEY("team_id", a->team_id);
	STR_KEY("topic", a->topic);
	STR_KEY("service_account_file", a->service_account_file);
	snprintf(why, why_len, "unknown key in [push.app.%s]", a->name);
	return -1;
}

int relay_push_config_set(struct relay_push_config *pc, struct relay_push_app_config *app,
			  const char *key, const char *value, char *why, size_t why_len)
{
	if (app)
		return set_app(app, key, value, why, why_len);
	if (strcmp(key, "web_push") == 0) {
		if (strcmp(value, "on") == 0)
			pc->web = true;
		else if (strcmp(value, "off") == 0)
			pc->web = false;
		else {
			snprintf(why, why_len, "'%s' is not one of on, off", value);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "subject") == 0) {
		if (strncmp(value, "mailto:", 7) != 0 && strncmp(value, "https://", 8) != 0) {
			snprintf(why, why_len, "must be a mailto: or https: URI (RFC 8292 §2.1)");
			return -1;
		}
		return set_str(pc->subject, sizeof pc->subject, value, why, why_len);
	}
	if (strcmp(key, "urgency") == 0) {
		if (strcmp(value, "very-low") && strcmp(value, "low") && strcmp(value, "normal") &&
		    strcmp(value, "high")) {
			snprintf(why, why_len, "'%s' is not one of very-low, low, normal, high", value);
			return -1;
		}
		return set_str(pc->urgency, sizeof pc->urgency, value, why, why_len);
	}
	if (strcmp(key, "interval_seconds") == 0)
		return set_u32(value, 1, 86400, &pc->interval_seconds, why, why_len);
	if (strcmp(key, "ttl_seconds") == 0)
		return set_u32(value, 0, 2419200, &pc->ttl_seconds, why, why_len);
	if (strcmp(key, "queue_max") == 0)
		return set_u32(value, 1, 1000000, &pc->queue_max, why, why_len);
	if (strcmp(key, "max_in_flight") == 0)
		return set_u32(value, 1, 256, &pc->max_in_flight, why, why_len);
	if (strcmp(key, "retry_max") == 0)
		return set_u32(value, 0, 20, &pc->retry_max, why, why_len);
	if (strcmp(key, "retry_base_ms") == 0)
		return set_u32(value, 10, 600000, &pc->retry_base_ms, why, why_len);
	if (strcmp(key, "allow_local_endpoints") == 0) {
		if (strcmp(value, "on") == 0)
			pc->allow_local_endpoints = true;
		else if (strcmp(value, "off") == 0)
			pc->allow_local_endpoints = false;
		else {
			snprintf(why, why_len, "'%s' is not one of on, off", value);
			return -1;
		}
		return 0;
	}
	STR_KEY("ca_file", pc->ca_file);
	snprintf(why, why_len, "unknown key in [push]");
	return -1;
}

const struct relay_push_app_config *relay_push_config_find(const struct relay_push_config *pc,
							   const char *name, size_t len)
{
	for (int i = 0; i < pc->app_count; i++)
		if (strlen(pc->apps[i].name) == len && memcmp(pc->apps[i].name, name, len) == 0)
			return &pc->apps[i];
	return NULL;
}

struct relay_push_app_config *relay_push_config_app(struct relay_push_config *pc, const char *name,
						    char *why, size_t why_len)
{
	/* The name is what devices send in push_register's "app": the wire's slug. */
	if (!proto_slug_valid(name, strlen(name))) {
		snprintf(why, why_len, "app name '%s' must be 1-32 of a-z 0-9 -, not starting with -",
			 name);
		return NULL;
	}
	if (relay_push_config_find(pc, name, strlen(name))) {
		snprintf(why, why_len, "app '%s' defined twice", name);
		return NULL;
	}
	if (pc->app_count >= RELAY_MAX_PUSH_APPS) {
		snprintf(why, why_len, "more than %d push apps", RELAY_MAX_PUSH_APPS);
		return NULL;
	}
	struct relay_push_app_config *a = &pc->apps[pc->app_count++];
	memset(a, 0, sizeof *a);
	snprintf(a->name, sizeof a->name, "%s", name);
	return a;
}

int relay_push_config_check(const struct relay_push_config *pc, char *why, size_t why_len)
{
	for (int i = 0; i < pc->app_count; i++) {
		const struct relay_push_app_config *a = &pc->apps[i];
		const char *missing = NULL;
		if (a->kind == RELAY_PUSH_APP_NONE)
			missing = "kind";
		else if (a->kind == RELAY_PUSH_APP_APNS)
			missing = !a->key_file[0] ? "key_file" : !a->key_id[0] ? "key_id"
				: !a->team_id[0] ? "team_id" : !a->topic[0] ? "topic" : NULL;
		else if (!a->service_account_file[0])
			missing = "service_account_file";
		if (missing) {
			snprintf(why, why_len, "[push.app.%s] needs '%s'", a->name, missing);
			return -1;
		}
	}
	return 0;
}
