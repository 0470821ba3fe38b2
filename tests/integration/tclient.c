/* SPDX-License-Identifier: MPL-2.0 */
#include "tclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "query.h"
#include "wakks_consent_record.h"
#include "wakks_crypto.h"
#include "wakks_identity.h"

/* Large enough for any reply the relay sends in these tests. */
#define TDEV_TX_MAX (1u << 20)

void tdev_init(struct tdev *d, int port)
{
	memset(d, 0, sizeof *d);
	d->port = port;
	d->next_request = 1;
	crypto_sign_keypair(d->ik_pk, d->ik_sk);
}

void tdev_copy_identity(struct tdev *dst, const struct tdev *src)
{
	memcpy(dst->ik_pk, src->ik_pk, sizeof dst->ik_pk);
	memcpy(dst->ik_sk, src->ik_sk, sizeof dst->ik_sk);
	memcpy(dst->device_id, src->device_id, sizeof dst->device_id);
	memcpy(dst->account_id, src->account_id, sizeof dst->account_id);
}

static void clear_queue(struct tdev *d)
{
	for (size_t i = 0; i < d->queued; i++)
		free(d->queue[i].buf);
	d->queued = 0;
}

void tdev_disconnect(struct tdev *d)
{
	if (d->connected)
		wsc_close(&d->ws);
	d->connected = false;
	clear_queue(d);
}

void tdev_free(struct tdev *d)
{
	tdev_disconnect(d);
	free(d->last);
	d->last = NULL;
	sodium_memzero(d->ik_sk, sizeof d->ik_sk);
}

/* Decodes buf (taking ownership) into d->frame. */
static int take_frame(struct tdev *d, uint8_t *buf, size_t len)
{
	free(d->last);
	d->last = buf;
	if (proto_frame_decode(buf, len, &d->frame) != 0)
		return -1;
	return (int)d->frame.type;
}

/* Reads one message from the socket into a malloc'd buffer. Returns 1, 0 on timeout, -1. */
static int read_one(struct tdev *d, int timeout_ms, uint8_t **buf, size_t *len)
{
	int op = wsc_recv(&d->ws, timeout_ms);
	if (op == 0)
		return 0;
	if (op != WS_OP_BINARY)
		return -1;
	*buf = d->ws.msg;
	*len = d->ws.msg_len;
	d->ws.msg = NULL;
	d->ws.msg_len = 0;
	return 1;
}

int tdev_connect(struct tdev *d)
{
	tdev_disconnect(d);
	if (wsc_connect(&d->ws, d->port, "/v1", "wakks.v1") != 0)
		return -1;
	d->connected = true;
	uint8_t *buf;
	size_t len;
	if (read_one(d, 5000, &buf, &len) != 1 || take_frame(d, buf, len) != PROTO_T_HELLO)
		return -1;
	memcpy(d->challenge, d->frame.body.hello.challenge, 32);
	return 0;
}

int tdev_send_raw(struct tdev *d, const void *buf, size_t len)
{
	return wsc_send(&d->ws, WS_OP_BINARY, buf, len);
}

static int send_frame(struct tdev *d, proto_frame *f)
{
	uint8_t *buf = malloc(TDEV_TX_MAX);
	size_t len;
	int rc = buf ? proto_frame_encode(f, buf, TDEV_TX_MAX, &len) : -1;
	if (rc == 0)
		rc = tdev_send_raw(d, buf, len);
	free(buf);
	return rc;
}

/* Queues a frame that arrived while waiting for another (dropped past TDEV_MAX_PUSHES). */
static void keep_for_later(struct tdev *d, uint8_t *buf, size_t len)
{
	if (d->queued < TDEV_MAX_PUSHES) {
		d->queue[d->queued].buf = buf;
		d->queue[d->queued].len = len;
		d->queued++;
	} else {
		free(buf);
	}
}

int tdev_request(struct tdev *d, proto_frame *f, int timeout_ms)
{
	f->request_id = d->next_request++;
	uint32_t id = f->request_id;
	if (send_frame(d, f) != 0)
		return -1;
	for (;;) {
		uint8_t *buf;
		size_t len;
		if (read_one(d, timeout_ms, &buf, &len) != 1)
			return -1;
		uint32_t type, rid;
		if (proto_frame_peek(buf, len, &type, &rid) == 0 && rid == id) {
			int t = take_frame(d, buf, len);
			if (t == PROTO_T_ERROR) /* shown in the test log: what the relay said was wrong */
				fprintf(stderr, "  relay error %u %.*s: %.*s\n", d->frame.body.error.code,
					(int)d->frame.body.error.name.len, d->frame.body.error.name.ptr,
					(int)d->frame.body.error.text.len, d->frame.body.error.text.ptr);
			if (t == PROTO_T_ERROR && d->frame.body.error.has_details &&
			    d->frame.body.error.details.missing_count + d->frame.body.error.details.stale_count)
				fprintf(stderr, "  details: %u missing, %u stale\n",
					d->frame.body.error.details.missing_count,
					d->frame.body.error.details.stale_count);
			return t;
		}
		keep_for_later(d, buf, len);
	}
}

int tdev_wait(struct tdev *d, uint32_t type, int timeout_ms)
{
	for (size_t i = 0; i < d->queued; i++) {
		uint32_t t, rid;
		if (proto_frame_peek(d->queue[i].buf, d->queue[i].len, &t, &rid) == 0 && t == type) {
			uint8_t *buf = d->queue[i].buf;
			size_t len = d->queue[i].len;
			memmove(&d->queue[i], &d->queue[i + 1], (d->queued - i - 1) * sizeof d->queue[0]);
			d->queued--;
			return take_frame(d, buf, len);
		}
	}
	for (;;) {
		uint8_t *buf;
		size_t len;
		int r = read_one(d, timeout_ms, &buf, &len);
		if (r <= 0)
			return r;
		uint32_t t, rid;
		if (proto_frame_peek(buf, len, &t, &rid) == 0 && t == type)
			return take_frame(d, buf, len);
		keep_for_later(d, buf, len);
	}
}

int tdev_post(struct tdev *d, proto_frame *f)
{
	f->request_id = d->next_request++;
	return send_frame(d, f);
}

int tdev_next(struct tdev *d, int timeout_ms)
{
	uint8_t *buf;
	size_t len;
	if (d->queued) {
		buf = d->queue[0].buf;
		len = d->queue[0].len;
		memmove(&d->queue[0], &d->queue[1], (d->queued - 1) * sizeof d->queue[0]);
		d->queued--;
		return take_frame(d, buf, len);
	}
	int r = read_one(d, timeout_ms, &buf, &len);
	if (r <= 0)
		return r;
	return take_frame(d, buf, len);
}

/* ---- OpenID Connect through the development provider ------------------------------------------ */

static void b64url(const uint8_t *in, size_t len, char *out, size_t cap)
{
	sodium_bin2base64(out, cap, in, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int tdev_obtain_token(struct tdev *d, const char *idp, const char *login, char **token)
{
	char issuer[256], nonce[ID_NONCE_BUF_BYTES], verifier[64], challenge[64];
	snprintf(issuer, sizeof issuer, "https://localhost:%d/dev-idp/%s", d->port, idp);
	if (id_nonce_compute(issuer, d->ik_pk, d->challenge, nonce) != 0)
		return -1;
	uint8_t raw[32], digest[32];
	randombytes_buf(raw, sizeof raw);
	b64url(raw, sizeof raw, verifier, sizeof verifier);
	crypto_hash_sha256(digest, (const uint8_t *)verifier, strlen(verifier));
	b64url(digest, sizeof digest, challenge, sizeof challenge);
	const char *redirect = "https%3A%2F%2Flocalhost%2Fcallback";

	char path[1024], form[1024], location[2048], code[128];
	int status = 0;
	char *body = NULL;
	snprintf(path, sizeof path,
		 "/dev-idp/%s/authorize?response_type=code&client_id=wakks-dev&redirect_uri=%s"
		 "&scope=openid&code_challenge=%s&code_challenge_method=S256&nonce=%s&state=s1",
		 idp, redirect, challenge, nonce);
	if (https_request(d->port, "GET", path, NULL, NULL, &status, &body, NULL, 0) != 0 ||
	    status != 200) {
		fprintf(stderr, "authorize page: status %d: %s\n", status, body ? body : "");
		free(body);
		return -1;
	}
	free(body);
	snprintf(path, sizeof path, "/dev-idp/%s/authorize", idp);
	snprintf(form, sizeof form,
		 "response_type=code&client_id=wakks-dev&redirect_uri=%s&scope=openid"
		 "&code_challenge=%s&code_challenge_method=S256&nonce=%s&state=s1&login=%s",
		 redirect, challenge, nonce, login);
	if (https_request(d->port, "POST", path, "application/x-www-form-urlencoded", form, &status,
			  &body, location, sizeof location) != 0 || status != 302 ||
	    !query_param(location, "code", code, sizeof code)) {
		fprintf(stderr, "authorize submit: status %d: %s\n", status, body ? body : "");
		free(body);
		return -1;
	}
	free(body);
	snprintf(path, sizeof path, "/dev-idp/%s/token", idp);
	snprintf(form, sizeof form,
		 "grant_type=authorization_code&code=%s&redirect_uri=%s&client_id=wakks-dev"
		 "&code_verifier=%s",
		 code, redirect, verifier);
	if (https_request(d->port, "POST", path, "application/x-www-form-urlencoded", form, &status,
			  &body, NULL, 0) != 0 || status != 200) {
		fprintf(stderr, "token: status %d: %s\n", status, body ? body : "");
		free(body);
		return -1;
	}
	json_t *j = json_loads(body, 0, NULL);
	free(body);
	const char *t = json_string_value(json_object_get(j, "id_token"));
	*token = t ? strdup(t) : NULL;
	json_decref(j);
	return *token ? 0 : -1;
}

int tdev_register_token(struct tdev *d, const char *token, uint32_t n_opk)
{
	static __thread proto_frame f; /* large; per thread, as tests register from several */
	proto_frame_init(&f, PROTO_T_REGISTER, 0);
	proto_register *g = &f.body.reg;
	g->attestation = (proto_str){ token, strlen(token) };
	g->identity_key = d->ik_pk;
	if (d->label)
		g->label = (proto_str){ d->label, strlen(d->label) };
	uint8_t spk_pub[32], spk_sec[32], spk_sig[64], msg[WC_SIGNED_PREKEY_MESSAGE_BYTES];
	crypto_box_keypair(spk_pub, spk_sec);
	uint64_t now = (uint64_t)time(NULL) * 1000;
	wc_signed_prekey_message(1, spk_pub, now, msg);
	crypto_sign_detached(spk_sig, NULL, msg, sizeof msg, d->ik_sk);
	g->spk = (proto_signed_prekey){ 1, spk_pub, now, spk_sig };
	static __thread uint8_t opk_pub[PROTO_MAX_PREKEYS_PER_UPLOAD][32];
	for (uint32_t i = 0; i < n_opk && i < PROTO_MAX_PREKEYS_PER_UPLOAD; i++) {
		uint8_t sk[32];
		crypto_box_keypair(opk_pub[i], sk);
		g->opk[i] = (proto_prekey){ i + 1, opk_pub[i] };
		g->opk_count++;
	}
	int type = tdev_request(d, &f, 10000);
	if (type == PROTO_T_REGISTERED) {
		memcpy(d->device_id, d->frame.body.registered.device, 16);
		memcpy(d->account_id, d->frame.body.registered.account, 16);
	}
	return type;
}

int tdev_register(struct tdev *d, const char *idp, const char *login, uint32_t n_opk)
{
	char *token = NULL;
	if (tdev_connect(d) != 0 || tdev_obtain_token(d, idp, login, &token) != 0)
		return -1;
	int type = tdev_register_token(d, token, n_opk);
	free(token);
	return type == PROTO_T_REGISTERED ? 0 : -1;
}

int tdev_auth(struct tdev *d)
{
	static __thread proto_frame f; /* large; per thread, as tests register from several */
	proto_frame_init(&f, PROTO_T_AUTH, 0);
	uint8_t msg[PROTO_AUTH_MSG_BYTES], sig[64];
	proto_auth_message(msg, d->challenge, d->device_id);
	crypto_sign_detached(sig, NULL, msg, sizeof msg, d->ik_sk);
	f.body.auth.device = d->device_id;
	f.body.auth.sig = sig;
	return tdev_request(d, &f, 10000);
}

int tdev_login(struct tdev *d)
{
	if (tdev_connect(d) != 0)
		return -1;
	return tdev_auth(d) == PROTO_T_AUTH_OK ? 0 : -1;
}

int tdev_send(struct tdev *d, const uint8_t cmid[16], const uint8_t (*to)[16], size_t to_count,
	      const char *tenant, const char *unit, const uint8_t (*devs)[16], size_t n_devs,
	      const void *ct, size_t ct_len, bool receipts)
{
	static __thread proto_frame f; /* large; per thread, as tests register from several */
	proto_frame_init(&f, PROTO_T_SEND, 0);
	proto_send *s = &f.body.send;
	s->cmid = cmid;
	for (size_t i = 0; i < to_count; i++)
		s->to[s->to_count++] = to[i];
	if (tenant) {
		s->tenant = (proto_str){ tenant, strlen(tenant) };
		s->unit = (proto_str){ unit, strlen(unit) };
	}
	s->receipts = receipts;
	for (size_t i = 0; i < n_devs; i++) {
		s->env[i].device = devs[i];
		s->env[i].ciphertext = (proto_bytes){ ct, ct_len };
		s->env_count++;
	}
	return tdev_request(d, &f, 10000);
}

int tdev_ack(struct tdev *d, uint64_t seq)
{
	static __thread proto_frame f; /* large; per thread, as tests register from several */
	proto_frame_init(&f, PROTO_T_ACK, 0);
	f.body.ack.seq = seq;
	return tdev_request(d, &f, 10000);
}

int tconsent_text(int port, const char *tenant, char version[33], uint8_t sha[32])
{
	char path[128];
	snprintf(path, sizeof path, "/consent/%s", tenant);
	int status = 0;
	char *body = NULL;
	if (https_request(port, "GET", path, NULL, NULL, &status, &body, NULL, 0) != 0 || status != 200) {
		free(body);
		return -1;
	}
	json_t *j = json_loads(body, 0, NULL);
	free(body);
	const char *v = json_string_value(json_object_get(j, "version"));
	const char *h = json_string_value(json_object_get(j, "sha256"));
	int rc = v && h && strlen(v) < 33 && strlen(h) == 64 &&
			 sodium_hex2bin(sha, 32, h, 64, NULL, NULL, NULL) == 0
		 ? 0
		 : -1;
	if (rc == 0)
		memcpy(version, v, strlen(v) + 1);
	json_decref(j);
	return rc;
}

static proto_str str_of(const char *s)
{
	return (proto_str){ s, strlen(s) };
}

int tdev_consent(struct tdev *d, uint8_t kind, const char *tenant, const char *unit,
		 const char *text_version, const uint8_t text_sha[32])
{
	proto_consent_record r = {
		.kind = kind, .account = d->account_id, .device = d->device_id,
		.tenant = str_of(tenant), .unit = str_of(unit), .purpose = str_of(PROTO_CONSENT_PURPOSE),
		.text_version = str_of(text_version), .language = str_of("da"),
		.client_version = str_of("wakks-test/1"), .text_sha256 = text_sha,
		.time_ms = (uint64_t)time(NULL) * 1000,
	};
	uint8_t rec[PROTO_MAX_CONSENT_RECORD_BYTES], msg[PROTO_CONSENT_SIGNED_MAX], sig[64];
	size_t n = 0, ml = 0;
	if (proto_consent_record_encode(&r, rec, sizeof rec, &n) != 0 ||
	    proto_consent_record_signed(rec, n, msg, sizeof msg, &ml) != 0)
		return -1;
	crypto_sign_detached(sig, NULL, msg, ml, d->ik_sk);
	static __thread proto_frame f;
	proto_frame_init(&f, kind == 1 ? PROTO_T_CONSENT_GRANT : PROTO_T_CONSENT_WITHDRAW, 0);
	proto_consent *c = kind == 1 ? &f.body.consent_grant : &f.body.consent_withdraw;
	c->record = (proto_bytes){ rec, n };
	c->sig = sig;
	return tdev_request(d, &f, 5000);
}
