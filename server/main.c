/* SPDX-License-Identifier: MPL-2.0 */
/* wakks-relay: the OS2wakks relay.
 *   wakks-relay [--config FILE] [--dev]        run the relay
 *   wakks-relay check-config [--config FILE]   validate the configuration and exit
 *   wakks-relay backup DIR [--config FILE]     hot, complete, private backup into DIR
 *   wakks-relay backup --verify DIR            check a backup without starting it
 *   wakks-relay restore BACKUP [DATA_DIR]      restore a backup into a new data directory
 *   wakks-relay check-data [--config FILE]     verify every stored record's checksum
 *   wakks-relay audit verify|export            check the audit chain / write it as JSON lines
 *   wakks-relay erase-citizen                  GDPR erase; reads the CPR number from stdin
 *   wakks-relay consent-report TENANT          consent figures for a municipality
 *   wakks-relay revoke-caseworker TENANT UPN   revoke every device of a caseworker
 *   wakks-relay tenant add|list|show|check     manage the tenants.d files (docs/operations.md)
 * A running relay re-reads its configuration on SIGHUP (core/config_reload.c).
 * Exit status (docs/operations.md, "Start-up errors"): 0 success, 1 runtime failure, 2 bad
 * command line, configuration or data directory set-up, 3 the data in the data directory is
 * damaged or not the data it held, 4 the data directory or the port is in use by another process. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <uv.h>

#include "admin/commands.h"
#include "core/config.h"
#include "core/config_read.h"
#include "admin/tenant_commands.h"
#include "core/log.h"
#include "net/registry.h"
#include "relay.h"
#include "wakks_version.h"
#include "services/device_rate.h"
#include "services/receipts.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: wakks-relay [--config FILE] [--dev]\n"
		   "       wakks-relay check-config [--config FILE] [--dev]\n"
		   "       wakks-relay backup DIR [--config FILE]\n"
		   "       wakks-relay backup --verify DIR [--config FILE]\n"
		   "       wakks-relay restore BACKUP [DATA_DIR] [--config FILE]\n"
		   "       wakks-relay check-data [--config FILE]\n"
		   "       wakks-relay audit verify|export [--config FILE]\n"
		   "       wakks-relay erase-citizen [--config FILE]   (CPR number on stdin)\n"
		   "       wakks-relay consent-report TENANT [--config FILE]\n"
		   "       wakks-relay revoke-caseworker TENANT UPN [--config FILE]\n"
		   "       wakks-relay tenant add|list|show|check ... [--config FILE]\n");
}

/* One line per configuration error, each naming the file where the check itself did not (a check
 * that found the offending key names file and line already). Returns the exit status. */
static int print_config_errors(char *errors, const char *config_path, const char *tenants_dir)
{
	char *save = NULL;
	for (char *e = strtok_r(errors, "\n", &save); e; e = strtok_r(NULL, "\n", &save)) {
		bool named = !config_path || strncmp(e, config_path, strlen(config_path)) == 0 ||
			     (tenants_dir[0] && strncmp(e, tenants_dir, strlen(tenants_dir)) == 0);
		fprintf(stderr, "wakks-relay: configuration error: %s%s%s\n", named ? "" : config_path,
			named ? "" : ": ", e);
	}
	return 2;
}

int main(int argc, char **argv)
{
	const char *config_path = NULL;
	const char *command = NULL;
	const char *command_arg = NULL;
	const char *command_arg2 = NULL;
	bool dev = false;

	/* The tenant commands take options of their own (admin/tenant_commands.c). */
	if (argc >= 2 && strcmp(argv[1], "tenant") == 0)
		return relay_tenant_main(argc - 2, argv + 2);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config_path = argv[++i];
		} else if (strcmp(argv[i], "--dev") == 0) {
			dev = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("wakks-relay %s\n", WAKKS_BUILD_VERSION);
			return 0;
		} else if (command && !command_arg && strcmp(argv[i], "--verify") == 0) {
			command_arg = argv[i]; /* backup --verify DIR */
		} else if (!command && argv[i][0] != '-') {
			command = argv[i];
		} else if (command && !command_arg && argv[i][0] != '-') {
			command_arg = argv[i];
		} else if (command && !command_arg2 && argv[i][0] != '-') {
			command_arg2 = argv[i];
		} else {
			fprintf(stderr, "wakks-relay: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}

	if (sodium_init() < 0) {
		fprintf(stderr, "wakks-relay: libsodium failed to initialise\n");
		return 1;
	}

	static struct relay relay; /* large (configuration tables); not on the stack */
	char err[RELAY_CONFIG_ERR_BYTES];
	bool serving = !command || strcmp(command, "check-config") == 0;
	if (relay_config_read(&relay.cfg, config_path, dev, serving, err, sizeof err) != 0)
		return print_config_errors(err, config_path, relay.cfg.tenants_dir);
	relay.config_path = config_path;
	if (command)
		return relay_run_command(&relay.cfg, command, command_arg, command_arg2);

	uv_loop_t loop;
	uv_loop_init(&loop);
	/* A failed start has logged why and set the exit status; it stops like a running relay, so
	 * that whatever it opened is closed on the one path. */
	if (relay_start(&relay, &loop) != 0)
		relay_stop(&relay);
	uv_run(&loop, UV_RUN_DEFAULT);
	/* lws finishes destroying a context on a foreign loop only after the loop has run its
	 * close callbacks; a second call completes it (a no-op once pcontext is cleared). */
	if (relay.lws)
		lws_context_destroy(relay.lws);
	uv_run(&loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&loop);
	if (rc != 0)
		RLOG_WARN("relay", "loop_close", "error=\"%s\"", uv_strerror(rc));
	relay_registry_free(&relay);
	relay_receipts_free(&relay);
	relay_device_rate_free(&relay);
	return relay.exit_status;
}
