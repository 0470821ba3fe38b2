/* SPDX-License-Identifier: MPL-2.0 */
/* tenants.d (core/tenant_files.c) and the one configuration read (core/config_read.c): tenant
 * files hold one tenant with its units and consent texts only, are read in name order, and a
 * tenant defined twice is refused naming both places; CVR numbers pass the modulus-11 check;
 * every error of a configuration (lines and relations) is reported in one run; the log formats
 * and admin_listen parse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config_read.h"
#include "core/log.h"
#include "core/tenant_files.h"
#include "test.h"

static struct relay_config cfg;
static char err[RELAY_CONFIG_ERR_BYTES];
static char dir[64];

static void put(const char *name, const char *text)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int lines(const char *s)
{
	int n = s[0] ? 1 : 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void cvr_modulus_11(void)
{
	CHECK(relay_cvr_valid("29189781")); /* Varde Kommune */
	CHECK(relay_cvr_valid("29189803"));
	CHECK(!relay_cvr_valid("29189782"));
	CHECK(!relay_cvr_valid("12345678"));
	CHECK(!relay_cvr_valid("2918978"));
	CHECK(!relay_cvr_valid("291897811"));
	CHECK(!relay_cvr_valid("2918978a"));
	CHECK(!relay_cvr_valid("00000000"));
}

static int read_with(const char *main_text)
{
	put("../relay.conf", main_text);
	char path[128];
	snprintf(path, sizeof path, "%s/../relay.conf", dir);
	return relay_config_read(&cfg, path, false, false, err, sizeof err);
}

static void tenant_files_in_name_order(void)
{
	put("020-region.conf", "[tenant midt]\nname = Region Midtjylland\ncvr = 29190925\n"
			       "kind = region\nscope = full\nidps = mitid\n");
	put("010-varde.conf", "[tenant varde]\nname = Varde Kommune\ncvr = 29189781\nidps = mitid\n"
			      "[unit varde/jobcenter]\nname = Jobcenter\ngroups = g1\n"
			      "[consent varde/jobcenter]\nversion = v1\ntext_file = /dev/null\n");
	put("README", "not a tenant file\n");
	put("030-off.conf.off", "[tenant off]\n");
	char conf[256];
	snprintf(conf, sizeof conf,
		 "[relay]\ntenants_dir = %s\n[idp mitid]\nissuer = https://x\naudience = a\n"
		 "jwks_file = /dev/null\nkind = citizen\n", dir);
	CHECK_EQ_INT(read_with(conf), 0);
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	REQUIRE(cfg.tenant_count == 2);
	CHECK(strcmp(cfg.tenants[0].id, "varde") == 0);
	CHECK(strcmp(cfg.tenants[1].id, "midt") == 0);
	CHECK(cfg.tenants[0].kind == RELAY_TENANT_MUNICIPALITY && cfg.tenants[0].scope == RELAY_TENANT_LIGHT);
	CHECK(cfg.tenants[1].kind == RELAY_TENANT_REGION && cfg.tenants[1].scope == RELAY_TENANT_FULL);
	CHECK(strstr(cfg.tenants[0].source_file, "010-varde.conf") != NULL);
	CHECK(cfg.tenants[0].units[0].consent.set);
	char **names = NULL;
	int n = relay_tenant_files_list(dir, &names);
	CHECK_EQ_INT(n, 2);
	relay_tenant_files_free(names, n);

	/* The same tenant in the main file and in a tenant file: refused, naming the file. */
	char dup[512];
	snprintf(dup, sizeof dup, "%s[tenant varde]\nname = V\ncvr = 29189781\nidps = mitid\n", conf);
	CHECK_EQ_INT(read_with(dup), -1);
	CHECK(strstr(err, "010-varde.conf:1") && strstr(err, "tenant 'varde' defined twice"));
}

static void tenant_file_holds_one_tenant_only(void)
{
	put("040-bad.conf", "[relay]\nport = 1\n[tenant a]\nname = A\ncvr = 29189781\nidps = mitid\n"
			    "[tenant b]\nname = B\ncvr = 29189781\n[unit varde/x]\nname = X\n"
			    "kind = county\n");
	char conf[256];
	snprintf(conf, sizeof conf,
		 "[relay]\ntenants_dir = %s\n[idp mitid]\nissuer = https://x\naudience = a\n"
		 "jwks_file = /dev/null\nkind = citizen\n", dir);
	CHECK_EQ_INT(read_with(conf), -1);
	CHECK(strstr(err, "040-bad.conf:1: a tenant file holds [tenant], [unit] and [consent] sections only"));
	CHECK(strstr(err, "040-bad.conf:7: one tenant per file"));
	CHECK(strstr(err, "040-bad.conf:10: [unit varde/x] names another tenant"));
	char path[128];
	snprintf(path, sizeof path, "%s/040-bad.conf", dir);
	unlink(path);
}

/* check-config's promise: parse errors of every line, and the relations between keys, in one
 * run. */
static void every_error_in_one_run(void)
{
	CHECK_EQ_INT(read_with("[relay]\nport = x\nlog_format = xml\nadmin_listen = nowhere\n"
			       "[limits]\nno_such = 1\n"
			       "[tenant t]\ncvr = 29189782\nidps = missing\n"
			       "[storage]\nmap_size_initial_mb = 10\nmap_size_max_mb = 5\n"), -1);
	CHECK(strstr(err, "key 'port'"));
	CHECK(strstr(err, "key 'log_format': 'xml' is not one of logfmt, json"));
	CHECK(strstr(err, "key 'no_such'"));
	CHECK(strstr(err, "key 'cvr'") && strstr(err, "modulus-11"));
	CHECK(strstr(err, "idps names 'missing'"));
	CHECK(strstr(err, "map_size_initial_mb exceeds"));
	CHECK(strstr(err, "admin_listen must be HOST:PORT"));
	CHECK(lines(err) >= 7);
}

static void log_format_and_quoting(void)
{
	CHECK_EQ_INT(relay_log_format_parse("logfmt"), RELAY_LOG_LOGFMT);
	CHECK_EQ_INT(relay_log_format_parse("json"), RELAY_LOG_JSON);
	CHECK_EQ_INT(relay_log_format_parse("JSON"), -1);
	char q[64] = "";
	relay_log_quote(q, sizeof q, "plain");
	CHECK(strcmp(q, "plain") == 0);
	q[0] = '\0';
	relay_log_quote(q, sizeof q, "a \"b\"\nc\\");
	CHECK(strcmp(q, "\"a \\\"b\\\"\\nc\\\\\"") == 0);
	q[0] = '\0';
	relay_log_quote(q, sizeof q, "");
	CHECK(strcmp(q, "\"\"") == 0);
	char host[64];
	int port = -1;
	CHECK_EQ_INT(relay_admin_listen_parse("127.0.0.1:9464", host, sizeof host, &port), 0);
	CHECK(strcmp(host, "127.0.0.1") == 0 && port == 9464);
	CHECK_EQ_INT(relay_admin_listen_parse("off", host, sizeof host, &port), 1);
	CHECK_EQ_INT(relay_admin_listen_parse("127.0.0.1", host, sizeof host, &port), -1);
	CHECK_EQ_INT(relay_admin_listen_parse(":9464", host, sizeof host, &port), -1);
	CHECK_EQ_INT(relay_admin_listen_parse("h:70000", host, sizeof host, &port), -1);
}

int main(void)
{
	char base[] = "/tmp/wakks-tenants-XXXXXX";
	if (!mkdtemp(base))
		return 1;
	snprintf(dir, sizeof dir, "%s/tenants.d", base);
	if (mkdir(dir, 0700) != 0)
		return 1;
	RUN(cvr_modulus_11);
	RUN(tenant_files_in_name_order);
	RUN(tenant_file_holds_one_tenant_only);
	RUN(every_error_in_one_run);
	RUN(log_format_and_quoting);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", base);
	if (system(cmd) != 0)
		return 1;
	return TEST_RESULT();
}
