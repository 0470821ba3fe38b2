/* SPDX-License-Identifier: MPL-2.0 */
#include "services/config_reload.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config_read.h"
#include "core/log.h"
#include "net/http.h"
#include "net/lws_log.h"
#include "net/tls_swap.h"
#include "relay_state.h"
#include "services/consent_gate.h"
#include "services/identity_binding.h"
#include "services/membership.h"

/* Keys read once at start (the listeners are bound, the storage opened with them): a reload keeps
 * their running values and says so. */
#define KEEP(field) { #field, offsetof(struct relay_config, field), \
			  sizeof(((struct relay_config *)0)->field) }
static const struct {
	const char *name;
	size_t offset, size;
} restart_only[] = {
	KEEP(listen),
	KEEP(port),
	KEEP(data_dir),
	KEEP(data_dir_permissions),
	KEEP(admin_listen),
	KEEP(web_root),
	KEEP(public_url),
	KEEP(map_size_initial_mb),
	KEEP(map_size_max_mb),
	KEEP(max_batch),
	KEEP(engine),
	KEEP(conninfo),
	KEEP(mailbox_max_envelopes),
	KEEP(mailbox_max_bytes),
	KEEP(mailbox_sender_max_envelopes),
};

static void keep_restart_only(struct relay_config *fresh, const struct relay_config *running)
{
	for (size_t i = 0; i < sizeof restart_only / sizeof restart_only[0]; i++) {
		char *to = (char *)fresh + restart_only[i].offset;
		const char *from = (const char *)running + restart_only[i].offset;
		if (memcmp(to, from, restart_only[i].size) == 0)
			continue;
		RLOG_WARN("config", "reload_needs_restart",
			  "key=%s note=\"changed in the file; the running value stays until a restart\"",
			  restart_only[i].name);
		memcpy(to, from, restart_only[i].size);
	}
}

static void log_errors(char *err)
{
	int n = 0;
	char *save = NULL;
	for (char *e = strtok_r(err, "\n", &save); e; e = strtok_r(NULL, "\n", &save)) {
		char q[700] = "";
		relay_log_quote(q, sizeof q, e);
		RLOG_ERROR("config", "reload_error", "error=%s", q);
		n++;
	}
	RLOG_ERROR("config", "reload_refused",
		   "errors=%d note=\"the running configuration is unchanged\"", n);
}

static int refuse(struct relay *r, char *err)
{
	log_errors(err);
	r->metrics.reloads_failed++;
	return -1;
}

/* Lines of the file that differ from the running configuration's, for the log: the tenants and
 * providers by count (the audit log records the file's hash). */
static void log_applied(const struct relay *r)
{
	char hex[17];
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", r->cfg.file_sha256[i]);
	RLOG_INFO("config", "reloaded", "tenants=%d idps=%d file_sha256_prefix=%s",
		  r->cfg.tenant_count, r->cfg.idp_count, hex);
}

int relay_config_reload(struct relay *r)
{
	RLOG_INFO("config", "reload_requested", "path=%s", r->config_path ? r->config_path : "-");
	struct relay_config *fresh = malloc(sizeof *fresh);
	struct relay_config *old = malloc(sizeof *old);
	char *err = malloc(RELAY_CONFIG_ERR_BYTES);
	int rc = -1;
	if (!fresh || !old || !err) {
		RLOG_ERROR("config", "reload_refused", "error=\"out of memory\"");
		r->metrics.reloads_failed++;
		goto done;
	}
	if (relay_config_read(fresh, r->config_path, r->cfg.dev_mode, true, err,
			      RELAY_CONFIG_ERR_BYTES) != 0) {
		rc = refuse(r, err);
		goto done;
	}
	keep_restart_only(fresh, &r->cfg);
	err[0] = '\0';
	/* The certificate first: it is the one part that is checked without touching anything. */
	if (fresh->tls_cert[0] &&
	    relay_tls_pair_check(fresh->tls_cert, fresh->tls_key, err, RELAY_CONFIG_ERR_BYTES) != 0) {
		rc = refuse(r, err);
		goto done;
	}

	/* The identity tables and the consent texts point into r->cfg: they are built from the
	 * fresh configuration in place, and on failure the running configuration comes back with
	 * the tables that were built from it (untouched until then). */
	memcpy(old, &r->cfg, sizeof *old);
	memcpy(&r->cfg, fresh, sizeof *fresh);
	char base_url[RELAY_CONFIG_STR_MAX];
	if (r->cfg.public_url[0])
		snprintf(base_url, sizeof base_url, "%s", r->cfg.public_url);
	else
		snprintf(base_url, sizeof base_url, "https://localhost:%d",
			 r->vhost ? lws_get_vhost_listen_port(r->vhost) : r->cfg.port);
	struct relay_consent_text *texts = r->consent_texts;
	size_t n_texts = r->consent_text_count;
	r->consent_texts = NULL;
	r->consent_text_count = 0;
	if (relay_consent_start(r) != 0) {
		relay_consent_stop(r);
		r->consent_texts = texts;
		r->consent_text_count = n_texts;
		memcpy(&r->cfg, old, sizeof *old);
		rc = refuse(r, strcpy(err, "consent texts could not be loaded (see the lines above)"));
		goto done;
	}
	if (relay_identity_rebuild(r, base_url) != 0) {
		relay_consent_stop(r);
		r->consent_texts = texts;
		r->consent_text_count = n_texts;
		memcpy(&r->cfg, old, sizeof *old);
		rc = refuse(r, strcpy(err, "identity providers could not be loaded (see the lines above)"));
		goto done;
	}
	/* From here on the fresh configuration is in force. */
	for (size_t i = 0; i < n_texts; i++)
		free(texts[i].text);
	free(texts);
	char *csp = relay_http_csp_build(&r->cfg);
	if (csp) {
		free(r->http_csp);
		r->http_csp = csp;
	}
	relay_log_threshold = (enum relay_log_level)r->cfg.log_level;
	relay_log_format = (enum relay_log_format)r->cfg.log_format;
	relay_lws_log_setup(r->cfg.log_level);
	if (r->cfg.tls_cert[0]) {
		if (relay_tls_swap(r->tls_ctx, r->cfg.tls_cert, r->cfg.tls_key, err,
				   RELAY_CONFIG_ERR_BYTES) == 0) {
			snprintf(r->tls_cert, sizeof r->tls_cert, "%s", r->cfg.tls_cert);
			snprintf(r->tls_key, sizeof r->tls_key, "%s", r->cfg.tls_key);
			RLOG_INFO("tls", "certificate_reloaded", "path=%s", r->tls_cert);
		} else {
			char q[600] = "";
			relay_log_quote(q, sizeof q, err);
			RLOG_ERROR("tls", "certificate_reload_failed", "error=%s", q);
		}
	}
	(void)relay_membership_reevaluate(r);
	r->metrics.reloads_ok++;
	log_applied(r);
	rc = 0;
done:
	free(fresh);
	free(old);
	free(err);
	return rc;
}
