/* SPDX-License-Identifier: MPL-2.0 */
/* Internals of the thread model (threads.c, units.c, identity_check.c, history.c). */
#ifndef WAKKS_THREADS_INTERNAL_H
#define WAKKS_THREADS_INTERNAL_H

#include "wakks_identity.h"
#include "wakks_internal.h"

#define WAKKS__NOTE_MAX 2000
#define WAKKS__RECEIPT_MAX 64
#define WAKKS__TOKEN_MAX 16384
#define WAKKS__MAX_TOUCHED 64
#define WAKKS__MAX_OFFERED 32
#define WAKKS__MAX_UNITS 16
#define WAKKS__MAX_TENANTS 4
#define WAKKS__MAX_IDPS 4

/* A decoded presentation (spec/client.md §15); token points into the record. */
struct wakks__presentation {
	char issuer[256];
	uint8_t challenge[32];
	const char *token;
	size_t token_len;
};

/* WT_THREAD: what a device keeps per thread besides its messages. */
struct wakks__thread_rec {
	uint8_t thread[16];
	uint8_t flags;
	uint8_t citizen[16];
	char tenant[WAKKS_SLUG_MAX + 1], unit[WAKKS_SLUG_MAX + 1];
	uint64_t seen_seq;        /* this person's seen mark (history position) */
	wakks_identity id;        /* the identity result shown */
	char cpr[11];             /* verified: the number (sealed in the store like everything) */
	/* The latest presentation that verified (or the latest one), for history (§16). */
	size_t pres_len;
	uint8_t pres[1 + 1 + 255 + 32 + 2 + WAKKS__TOKEN_MAX];
	uint8_t pres_ik[32], pres_acc[16], pres_dev[16], pres_mid[16];
	uint64_t pres_sent_ms;
};

/* A unit's device set as the relay last told it, for the check of who may speak (§12). */
struct wakks__unit_cache {
	char tenant[WAKKS_SLUG_MAX + 1], unit[WAKKS_SLUG_MAX + 1];
	bool known, asked;
	bool miss_pending; /* asked again because a device was not in it */
	bool fresh;        /* that answer came, and no device has missed in it since */
	size_t n;
	uint8_t acc[PROTO_MAX_DEVICE_SET][16], dev[PROTO_MAX_DEVICE_SET][16];
};

struct wakks__idp_info {
	char issuer[256], client_id[256], person_claim[64];
	unsigned algs;
	id_keyset *keys;
};

struct wakks__tenant_cache {
	char id[WAKKS_SLUG_MAX + 1];
	bool ok;
	uint64_t fetched_mono;
	uint32_t history_days;
	bool read_receipts;
	char name[256];
	size_t n_idps;
	struct wakks__idp_info idps[WAKKS__MAX_IDPS];
};

/* A deliver waiting for a unit's device set (a deep copy). */
struct wakks__parked {
	proto_deliver d;
	uint8_t *buf;
	char tenant[WAKKS_SLUG_MAX + 1], unit[WAKKS_SLUG_MAX + 1]; /* "" : only queued behind */
};

struct wakks__threads {
	struct wakks__unit_cache units[WAKKS__MAX_UNITS];
	size_t n_units;
	struct wakks__tenant_cache tenants[WAKKS__MAX_TENANTS];
	size_t n_tenants;
	struct wakks__parked *parked;
	size_t n_parked, cap_parked;
	bool replaying;
	uint8_t offered[WAKKS__MAX_OFFERED][16];
	size_t n_offered;
	struct {
		uint8_t thread[16];
		uint64_t at;
	} presented[WAKKS__MAX_OFFERED];
	size_t n_presented;
	uint8_t touched[WAKKS__MAX_TOUCHED][16];
	size_t n_touched;
	bool kick_send;
	wakks__txn *walk_txn;
	uint8_t recheck[WAKKS__MAX_OFFERED][16]; /* threads whose presentation to check again */
	size_t n_recheck;
	bool test_tenant_unavailable; /* test builds: the tenant's information cannot be had */
	/* The evidence of a registration in flight (kept at `registered`). */
	char ev_issuer[256];
	uint8_t ev_challenge[32];
	char *ev_token;
};

struct wakks__threads *wakks__th(wakks_client *c);
void wakks__thread_touched(wakks_client *c, const uint8_t thread[16]);

int wakks__notice_encode(const wakks_notice *n, wakks__buf *b);
int wakks__notice_decode(const uint8_t *p, size_t len, wakks_notice *n);
int wakks__receipt_encode(uint64_t read_ms, const uint8_t (*ids)[16], size_t count, wakks__buf *b);
int wakks__receipt_decode(const uint8_t *p, size_t len, uint64_t *read_ms, const uint8_t **ids,
			  size_t *count);
int wakks__presentation_encode(const char *issuer, const uint8_t challenge[32], const char *token,
			       wakks__buf *b);
int wakks__presentation_decode(const uint8_t *p, size_t len, struct wakks__presentation *out);

int wakks__thread_load(wakks__txn *t, const uint8_t id[16], struct wakks__thread_rec *tr);
int wakks__thread_save(wakks__txn *t, const struct wakks__thread_rec *tr);
int wakks__thread_ensure(wakks__txn *t, const uint8_t id[16], const uint8_t citizen[16],
			 const char *tenant, const char *unit, struct wakks__thread_rec *tr,
			 bool *created);
int wakks__thread_seqs(wakks__txn *t, const uint8_t thread[16], uint64_t **seqs, size_t *n);
int wakks__queue_record(wakks_client *c, wakks__txn *t, const struct wakks__thread_rec *tr,
			int kind, const uint8_t *to_account, const void *body, size_t len,
			wakks_message *out);

/* units.c: asks for a unit's device set (once per connection) so it is known. */
void wakks__unit_watch(wakks_client *c, const char *tenant, const char *unit);

/* identity_check.c */
void wakks__tenant_cache_clear(struct wakks__threads *th);
/* 0 and *on, or an error (tenant information unavailable). May block (HTTPS). */
int wakks__tenant_read_receipts(wakks_client *c, const char *tenant, bool *on);
int wakks__tenant_history_days(wakks_client *c, const char *tenant, uint32_t *days);
int wakks__presentation_accept(wakks_client *c, wakks__txn *t, const wc_content *ct,
			       const uint8_t sender_ik[32]);

/* history.c */
int wakks__history_accept(wakks_client *c, wakks__txn *t, const wc_content *ct, uint64_t stored_ms);
/* A unit's device set arrived: new devices get the unit's history. */
void wakks__history_on_unit_set(wakks_client *c, struct wakks__unit_cache *u);

#endif
