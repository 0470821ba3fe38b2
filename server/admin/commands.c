/* SPDX-License-Identifier: MPL-2.0 */
#include "admin/commands.h"

#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "admin/accounts.h"
#include "admin/backup.h"
#include "admin/check_data.h"
#include "admin/offline_store.h"
#include "services/audit_log.h"
#include "wakks_storage.h"

static int audit_command(const struct relay_config *cfg, const char *what)
{
	if (!what || (strcmp(what, "verify") != 0 && strcmp(what, "export") != 0)) {
		fprintf(stderr, "wakks-relay: audit needs 'verify' or 'export'\n");
		return 2;
	}
	uv_loop_t loop;
	struct store *store;
	if (relay_command_store(cfg, &store, &loop) != 0)
		return 1;
	int status = 0;
	if (strcmp(what, "verify") == 0) {
		uint64_t entries = 0, bad = 0;
		int rc = relay_audit_verify(store, &entries, &bad);
		if (rc == 0) {
			printf("audit log intact: %llu entries\n", (unsigned long long)entries);
		} else {
			printf("audit log BROKEN at entry %llu: %s (%llu entries verified before it)\n",
			       (unsigned long long)bad, id_strerror(rc), (unsigned long long)entries);
			status = 1;
		}
	} else {
		long n = relay_audit_export(store, stdout);
		if (n < 0) {
			fprintf(stderr, "wakks-relay: audit export failed: %s\n", store_strerror((int)n));
			status = 1;
		}
	}
	relay_command_store_close(store, &loop);
	return status;
}

static int report_row(const struct store_consent_count *row, void *data)
{
	(void)data;
	printf("%-16s %-16s %10llu %12llu %8llu\n", row->unit[0] ? row->unit : "(hele kommunen)",
	       row->text_version, (unsigned long long)row->grants,
	       (unsigned long long)row->withdrawals, (unsigned long long)row->active);
	return 0;
}

/* A municipality's consent figures: per unit and text version, grants, withdrawals and the number
 * of citizens whose consent is active now. Counts only; no one is identified. */
static int consent_report(const struct relay_config *cfg, const char *tenant)
{
	if (!tenant || !relay_config_tenant(cfg, tenant)) {
		fprintf(stderr, "wakks-relay: consent-report needs a configured tenant id\n");
		return 2;
	}
	uv_loop_t loop;
	struct store *store;
	if (relay_command_store(cfg, &store, &loop) != 0)
		return 1;
	printf("consent report for %s\n%-16s %-16s %10s %12s %8s\n", tenant, "unit", "text version",
	       "grants", "withdrawals", "active");
	int rc = store_consent_report(store, tenant, report_row, NULL);
	relay_command_store_close(store, &loop);
	if (rc < 0) {
		fprintf(stderr, "wakks-relay: consent report failed: %s\n", store_strerror(rc));
		return 1;
	}
	return 0;
}

int relay_run_command(const struct relay_config *cfg, const char *command, const char *arg,
		      const char *arg2)
{
	if (strcmp(command, "consent-report") == 0)
		return consent_report(cfg, arg);
	if (strcmp(command, "audit") == 0)
		return audit_command(cfg, arg);
	if (strcmp(command, "erase-citizen") == 0)
		return relay_erase_citizen(cfg);
	if (strcmp(command, "revoke-caseworker") == 0)
		return relay_revoke_caseworker(cfg, arg, arg2);
	if (strcmp(command, "check-config") == 0) {
		printf("configuration ok: %d tenants, %d identity providers\n", cfg->tenant_count,
		       cfg->idp_count);
		return 0;
	}
	if (strcmp(command, "check-data") == 0)
		return relay_check_data(cfg);
	if ((strcmp(command, "backup") == 0 || strcmp(command, "restore") == 0) &&
	    cfg->engine == RELAY_ENGINE_POSTGRESQL) {
		/* The database is the operator's PostgreSQL, backed up with its own tools (a
		 * consistent base backup plus WAL); the relay's data_dir holds keys only. */
		fprintf(stderr,
			"wakks-relay: %s: the storage engine is postgresql; back the database up with "
			"pg_basebackup and WAL archiving, and data_dir's keys (account-id.key above all) "
			"with your file backup (docs/operations.md, \"Backup with PostgreSQL\")\n",
			command);
		return 2;
	}
	if (strcmp(command, "backup") == 0) {
		if (arg && strcmp(arg, "--verify") == 0)
			return relay_backup_verify(cfg, arg2);
		if (!arg || arg2) {
			fprintf(stderr, "wakks-relay: backup needs one target directory\n");
			return 2;
		}
		return relay_backup(cfg, arg);
	}
	if (strcmp(command, "restore") == 0)
		return relay_restore(cfg, arg, arg2);
	fprintf(stderr, "wakks-relay: unknown command '%s'\n", command);
	return 2;
}
