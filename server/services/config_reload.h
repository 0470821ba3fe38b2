/* SPDX-License-Identifier: MPL-2.0 */
/* A running relay re-reads its configuration (SIGHUP, `systemctl reload`): the file and its
 * tenants.d are parsed into a fresh configuration by the same function a start uses
 * (core/config_read.h), so every key is re-read exactly as at start; the whole of it is checked,
 * and the providers' key sets, the consent texts and the TLS certificate and key are loaded,
 * before anything changes. Only then does the fresh configuration replace the running one, with
 * the identity tables, consent texts and certificate built from it, and the memberships the new
 * group mappings no longer allow end (services/membership.h). An invalid file changes nothing:
 * every error is logged, one line each, with a summary line. Keys whose change needs a restart
 * (the listeners, the data directory and storage sizes) keep their running values, with a
 * warning naming each. */
#ifndef WAKKS_RELAY_SERVICES_CONFIG_RELOAD_H
#define WAKKS_RELAY_SERVICES_CONFIG_RELOAD_H

struct relay;

/* Returns 0 when the new configuration is in force, -1 when the running one stayed. */
int relay_config_reload(struct relay *r);

#endif
