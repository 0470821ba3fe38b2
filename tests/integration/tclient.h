/* SPDX-License-Identifier: MPL-2.0 */
/* A test device: a real TLS WebSocket connection speaking wakks.v1 through protocol/, with an
 * Ed25519 identity, registered through the development identity provider's real OpenID Connect
 * endpoints (authorize + token with PKCE). Ciphertexts are opaque bytes here: the relay never
 * looks inside them. */
#ifndef WAKKS_TEST_TCLIENT_H
#define WAKKS_TEST_TCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wakks_protocol.h"
#include "wsclient.h"

#define TDEV_MAX_PUSHES 4096

struct tdev {
	int port;
	uint8_t ik_pk[32], ik_sk[64];
	uint8_t device_id[16], account_id[16];
	uint8_t challenge[32];
	const char *label; /* sent in register when set (NULL after tdev_init) */
	struct wsc ws;
	bool connected;
	uint32_t next_request;
	/* Frames received while waiting for something else, in arrival order. */
	struct { uint8_t *buf; size_t len; } queue[TDEV_MAX_PUSHES];
	size_t queued;
	uint8_t *last; /* buffer the last returned frame's views point into */
	proto_frame frame;
};

/* Fresh identity key; not connected. */
void tdev_init(struct tdev *d, int port);
void tdev_free(struct tdev *d);

/* Makes dst the same device as src (keys and ids), for a second connection of one device. */
void tdev_copy_identity(struct tdev *dst, const struct tdev *src);

/* Opens the WebSocket and reads hello (its challenge). Returns 0 or -1. */
int tdev_connect(struct tdev *d);
void tdev_disconnect(struct tdev *d);

/* Obtains an ID token for demo user `login` from development provider `idp` ("dev-mitid",
 * "dev-adfs") through authorize + token with PKCE; nonce bound to this device's key and the
 * current connection's challenge. *token is malloc'd. Returns 0 or -1. */
int tdev_obtain_token(struct tdev *d, const char *idp, const char *login, char **token);

/* Builds a register frame for `token` with a fresh signed prekey and n_opk one-time prekeys
 * (ids from 1), sends it and waits for the reply. Returns the reply type (PROTO_T_REGISTERED or
 * PROTO_T_ERROR; the frame is in d->frame) or -1. */
int tdev_register_token(struct tdev *d, const char *token, uint32_t n_opk);

/* connect + obtain token + register. Returns 0 when registered. */
int tdev_register(struct tdev *d, const char *idp, const char *login, uint32_t n_opk);

/* auth on the current connection. Returns the reply type or -1. */
int tdev_auth(struct tdev *d);

/* connect + auth; returns 0 when authenticated. */
int tdev_login(struct tdev *d);

/* Sends f (its request id is assigned here) and waits for the reply with that id; other frames
 * are queued. Returns the reply's type (frame in d->frame) or -1 on timeout/close. */
int tdev_request(struct tdev *d, proto_frame *f, int timeout_ms);

/* Waits for the next frame of `type` (queued ones first). Returns the type, 0 on timeout, -1 when
 * the connection closed. The frame is in d->frame. */
int tdev_wait(struct tdev *d, uint32_t type, int timeout_ms);

/* Sends f (its request id assigned here) without waiting for the reply: pipelined requests.
 * Returns 0 or -1. */
int tdev_post(struct tdev *d, proto_frame *f);

/* The next frame of any type (queued ones first), as tdev_wait returns it. */
int tdev_next(struct tdev *d, int timeout_ms);

/* Sends a `send` to the given device set: env_count ciphertexts, each `ct` for device devs[i].
 * to/to_count: accounts addressed; tenant/unit: a unit (or NULL). Returns the reply type. */
int tdev_send(struct tdev *d, const uint8_t cmid[16], const uint8_t (*to)[16], size_t to_count,
	      const char *tenant, const char *unit, const uint8_t (*devs)[16], size_t n_devs,
	      const void *ct, size_t ct_len, bool receipts);

/* Sends ack for seq; returns the reply type. */
int tdev_ack(struct tdev *d, uint64_t seq);

/* Sends raw bytes as one binary WebSocket message. */
int tdev_send_raw(struct tdev *d, const void *buf, size_t len);

/* The consent text a relay serves for tenant (GET /consent/TENANT): its version and SHA-256.
 * Returns 0 or -1. */
int tconsent_text(int port, const char *tenant, char version[33], uint8_t sha[32]);

/* A consent record of d's account and device (spec/consent.md §2), built with the protocol's
 * codec and signed with d's identity key, sent as consent_grant (kind 1) or consent_withdraw
 * (kind 2) for tenant and unit ("" = the whole tenant). Returns the reply type. */
int tdev_consent(struct tdev *d, uint8_t kind, const char *tenant, const char *unit,
		 const char *text_version, const uint8_t text_sha[32]);

#endif
