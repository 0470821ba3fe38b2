/* SPDX-License-Identifier: MPL-2.0 */
#include "admin/accounts.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <uv.h>

#include "admin/offline_store.h"
#include "core/clock.h"
#include "relay_state.h"
#include "services/audit_log.h"
#include "services/identity_binding.h"
#include "wakks_storage.h"
#include "services/cluster_events.h"

struct erase_state {
	int result;
	bool done;
	struct store_erase_result copy;
};

static void step_done(struct store_req *req, int result, void *data)
{
	struct erase_state *st = data;
	st->result = result;
	st->done = true;
	/* Erase steps are requests of one operation; other requests have no erase result. */
	const struct store_erase_result *e = result == 0 ? store_req_erase_result(req, 0) : NULL;
	if (e)
		st->copy = *e;
}

/* Runs one request to completion on the private loop. */
static int run(uv_loop_t *loop, struct store_req *req, struct erase_state *st)
{
	st->done = false;
	if (store_submit(req) != 0)
		return -1;
	while (!st->done)
		uv_run(loop, UV_RUN_ONCE);
	return st->result;
}

/* Revokes every live device of account, each with its mailbox and prekeys and an audit entry.
 * Returns 0 or -1; *count (if not NULL) is how many were revoked. */
/* On a shared store the relays close the device's connection at once (services/cluster.c) rather
 * than at their next liveness check; with LMDB store_broadcast does nothing and the relay's check
 * of the audit log's head finds it. */
static void tell_relays_gone(struct store *store, const uint8_t device[16])
{
	struct relay_event ev = { .kind = RELAY_EV_DEVICE_GONE };
	memcpy(ev.id, device, 16);
	uint8_t buf[RELAY_EVENT_MAX];
	int n = relay_event_encode(&ev, buf, sizeof buf);
	if (n > 0)
		(void)store_broadcast(store, buf, (size_t)n);
}

static int revoke_all(struct store *store, uv_loop_t *loop, struct erase_state *st,
		      const uint8_t account[16], uint64_t now, const char *why, size_t *count)
{
	struct store_device devs[64];
	size_t n = 0;
	if (store_list_devices(store, account, false, devs, 64, &n) != 0)
		return -1;
	if (n > 64)
		n = 64;
	for (size_t i = 0; i < n; i++) {
		uint8_t subjects[2][16];
		memcpy(subjects[0], account, 16);
		memcpy(subjects[1], devs[i].id, 16);
		struct store_req *req = store_req_new(store, step_done, st);
		if (!req || store_req_revoke_device(req, devs[i].id, now) < 0 ||
		    store_req_delete_mailbox(req, devs[i].id) < 0 ||
		    relay_audit_append(req, ID_AUDIT_DEVICE_REVOKED, now, (const uint8_t(*)[16])subjects, 2,
				       why, strlen(why)) < 0) {
			store_req_free(req);
			return -1;
		}
		if (run(loop, req, st) != 0)
			return -1;
		tell_relays_gone(store, devs[i].id);
	}
	if (count)
		*count = n;
	return 0;
}

static int read_cpr(char *out, size_t cap)
{
	char line[64];
	if (!fgets(line, sizeof line, stdin))
		return -1;
	line[strcspn(line, "\r\n")] = '\0';
	int rc = id_cpr_normalize(line, out) == 0 && cap >= 11 ? 0 : -1;
	sodium_memzero(line, sizeof line);
	return rc;
}

int relay_erase_citizen(const struct relay_config *cfg)
{
	char cpr[11];
	uint8_t key[ID_HASH_KEY_BYTES], account[16];
	if (read_cpr(cpr, sizeof cpr) != 0) {
		fprintf(stderr, "wakks-relay: erase-citizen reads a CPR number (DDMMYYXXXX) on stdin\n");
		return 2;
	}
	if (relay_identity_load_account_key(cfg->data_dir, key) != 0 ||
	    id_cpr_account_id(key, cpr, account) != 0) {
		sodium_memzero(cpr, sizeof cpr);
		fprintf(stderr, "wakks-relay: cannot derive the account id\n");
		return 1;
	}
	sodium_memzero(cpr, sizeof cpr);
	sodium_memzero(key, sizeof key);

	uv_loop_t loop;
	struct store *store;
	if (relay_command_store(cfg, &store, &loop) != 0)
		return 1;
	int status = 0;
	struct erase_state st = { 0 };
	uint64_t now = relay_now_ms();

	/* Revoke every device first so that nothing new arrives while the erase proceeds. */
	if (revoke_all(store, &loop, &st, account, now, "erase", NULL) != 0) {
		status = 1;
		goto out;
	}
	size_t devices = 0, envelopes = 0, consents = 0;
	bool found = false;
	for (;;) {
		struct store_req *req = store_req_new(store, step_done, &st);
		if (!req || store_req_erase_account(req, account) < 0) {
			store_req_free(req);
			status = 1;
			goto out;
		}
		if (run(&loop, req, &st) != 0) {
			status = 1;
			goto out;
		}
		found |= st.copy.found;
		devices += st.copy.devices;
		envelopes += st.copy.envelopes;
		consents += st.copy.consents;
		if (!st.copy.more)
			break;
	}
	if (found) {
		uint8_t subjects[1][16];
		memcpy(subjects[0], account, 16);
		struct store_req *req = store_req_new(store, step_done, &st);
		if (!req || relay_audit_append(req, ID_AUDIT_ACCOUNT_ERASED, relay_now_ms(),
					       (const uint8_t(*)[16])subjects, 1, NULL, 0) < 0 ||
		    run(&loop, req, &st) != 0) {
			status = 1;
			goto out;
		}
		printf("erased: 1 account, %zu devices, %zu envelopes, %zu consent records\n", devices,
		       envelopes, consents);
	} else {
		printf("no account for that person: nothing to erase\n");
	}
out:
	if (status)
		fprintf(stderr, "wakks-relay: erase failed: %s\n", store_strerror(st.result));
	relay_command_store_close(store, &loop);
	return status;
}

int relay_revoke_caseworker(const struct relay_config *cfg, const char *tenant, const char *upn)
{
	uint8_t key[ID_HASH_KEY_BYTES], account[16];
	if (!tenant || !upn || !relay_config_tenant(cfg, tenant)) {
		fprintf(stderr, "wakks-relay: revoke-caseworker needs a configured TENANT and a UPN\n");
		return 2;
	}
	if (relay_identity_load_account_key(cfg->data_dir, key) != 0 ||
	    id_caseworker_account_id(key, tenant, upn, account) != 0) {
		fprintf(stderr, "wakks-relay: cannot derive the account id\n");
		return 1;
	}
	sodium_memzero(key, sizeof key);
	uv_loop_t loop;
	struct store *store;
	if (relay_command_store(cfg, &store, &loop) != 0)
		return 1;
	struct erase_state st = { 0 };
	size_t n = 0;
	int status = revoke_all(store, &loop, &st, account, relay_now_ms(), "tenant-admin", &n) == 0 ? 0 : 1;
	if (status == 0)
		printf("revoked %zu devices\n", n);
	else
		fprintf(stderr, "wakks-relay: revocation failed: %s\n", store_strerror(st.result));
	relay_command_store_close(store, &loop);
	return status;
}
