/* SPDX-License-Identifier: MPL-2.0 */
/* The relay's configuration parser: every key validated, errors name file, line and key;
 * comments, quotes, sections and relations between sections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "test.h"

static struct relay_config cfg;
static char err[RELAY_CONFIG_ERRORS_MAX * 320];

static int load(const char *text)
{
	char path[] = "/tmp/wakks-config-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -99;
	close(fd);
	relay_config_defaults(&cfg);
	err[0] = '\0';
	int rc = relay_config_load(&cfg, path, err, sizeof err);
	if (rc == 0)
		rc = relay_config_check(&cfg, err, sizeof err);
	unlink(path);
	return rc;
}

static void defaults_without_a_file(void)
{
	relay_config_defaults(&cfg);
	CHECK_EQ_INT(cfg.port, 8443);
	CHECK(strcmp(cfg.data_dir, "./var") == 0);
	CHECK_EQ_INT(cfg.max_frame_bytes, 1u << 20);
	CHECK_EQ_INT(cfg.max_inflight_deliveries, 64);
	CHECK_EQ_INT(cfg.storage_warn_percent, 90);
	CHECK_EQ_INT(relay_config_check(&cfg, err, sizeof err), 0);
}

static void unauthenticated_limits(void)
{
	relay_config_defaults(&cfg);
	/* A `register` with a 16 KiB token and 100 prekeys (~21 KiB) fits the default. */
	CHECK_EQ_INT(cfg.unauth_max_frame_bytes, 32768);
	CHECK_EQ_INT(cfg.unauth_requests_per_second, 1);
	CHECK_EQ_INT(cfg.unauth_request_burst, 5);
	CHECK_EQ_INT(cfg.unauth_buffer_max_bytes, 16u << 20);
	CHECK_EQ_INT(load("[limits]\nunauth_max_frame_bytes = 4096\nunauth_requests_per_second = 3\n"
			  "unauth_request_burst = 7\nunauth_buffer_max_bytes = 65536\n"), 0);
	CHECK_EQ_INT(cfg.unauth_max_frame_bytes, 4096);
	CHECK_EQ_INT(cfg.unauth_requests_per_second, 3);
	CHECK_EQ_INT(cfg.unauth_request_burst, 7);
	CHECK_EQ_INT(cfg.unauth_buffer_max_bytes, 65536);
	CHECK_EQ_INT(load("[limits]\nunauth_max_frame_bytes = 512\n"), -1);
	CHECK(strstr(err, "'unauth_max_frame_bytes'") && strstr(err, "outside"));
	CHECK_EQ_INT(load("[limits]\nunauth_buffer_max_bytes = 1000\n"), -1);
	CHECK(strstr(err, "'unauth_buffer_max_bytes'"));
	CHECK_EQ_INT(load("[limits]\nunauth_requests_per_second = 0\n"), -1);
	/* One message must fit the budget for all of them. */
	CHECK_EQ_INT(load("[limits]\nunauth_max_frame_bytes = 131072\n"
			  "unauth_buffer_max_bytes = 65536\n"), -1);
	CHECK(strstr(err, "unauth_max_frame_bytes exceeds unauth_buffer_max_bytes"));
}

static void values_comments_and_quotes(void)
{
	CHECK_EQ_INT(load("# comment\n[relay]\nport = 9000   # trailing comment\n"
			  "data_dir = \"/srv/wakks #1\"\nlog_level = warn\n[limits]\n"
			  "mailbox_max_envelopes = 5 ; another\n"), 0);
	CHECK_EQ_INT(cfg.port, 9000);
	CHECK(strcmp(cfg.data_dir, "/srv/wakks #1") == 0);
	CHECK_EQ_INT(cfg.mailbox_max_envelopes, 5);
	CHECK_EQ_INT(load("[storage]\nstorage_warn_percent = 75\n"), 0);
	CHECK_EQ_INT(cfg.storage_warn_percent, 75);
	CHECK_EQ_INT(load("[storage]\nstorage_warn_percent = 101\n"), -1);
	CHECK(strstr(err, "'storage_warn_percent'") && strstr(err, "outside"));
	CHECK_EQ_INT(load("[storage]\nstorage_warn_percent = 0\n"), -1);
}

static void errors_name_line_and_key(void)
{
	CHECK_EQ_INT(load("[relay]\nport = 70000\n"), -1);
	CHECK(strstr(err, ":2:") && strstr(err, "'port'") && strstr(err, "outside"));
	CHECK_EQ_INT(load("[relay]\n\nfoo = 1\n"), -1);
	CHECK(strstr(err, ":3:") && strstr(err, "'foo'") && strstr(err, "unknown key"));
	CHECK_EQ_INT(load("[limits]\nrequests_per_second = -3\n"), -1);
	CHECK(strstr(err, "'requests_per_second'") && strstr(err, "whole number"));
	CHECK_EQ_INT(load("[relay]\nlog_level = loud\n"), -1);
	CHECK(strstr(err, "'log_level'"));
	CHECK_EQ_INT(load("[nonsense]\n"), -1);
	CHECK(strstr(err, "unknown section"));
	CHECK_EQ_INT(load("port = 1\n"), -1);
	CHECK(strstr(err, "outside of any section"));
	CHECK_EQ_INT(load("[relay]\nport\n"), -1);
	CHECK(strstr(err, "key = value"));
	CHECK_EQ_INT(load("[relay]\ntls_cert = /a.pem\n"), -1);
	CHECK(strstr(err, "tls_cert and tls_key"));
}

static int count_lines(const char *s)
{
	int n = s[0] ? 1 : 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* check-config reports every mistake in one run, each on its own line naming where it is; a
 * refused section does not drag its keys in as errors of their own. */
static void every_error_reported_at_once(void)
{
	CHECK_EQ_INT(load("[relay]\nport = 70000\nfoo = 1\n[nonsense]\nbar = 2\n[limits]\n"
			  "requests_per_second = -3\n"),
		     -1);
	CHECK_EQ_INT(count_lines(err), 4);
	CHECK(strstr(err, ":2: key 'port'") && strstr(err, ":3: key 'foo'") &&
	      strstr(err, ":4: unknown section") && strstr(err, ":7: key 'requests_per_second'"));
	CHECK(!strstr(err, "'bar'"));
	/* relations between keys: all of them too */
	CHECK_EQ_INT(load("[relay]\ntls_cert = /a.pem\n[storage]\nmap_size_initial_mb = 900\n"
			  "map_size_max_mb = 100\n"),
		     -1);
	CHECK_EQ_INT(count_lines(err), 2);
	CHECK(strstr(err, "tls_cert and tls_key") && strstr(err, "map_size_initial_mb exceeds"));
	/* a flood of mistakes stays bounded */
	char many[4096] = "[relay]\n";
	for (int i = 0; i < 40; i++)
		strcat(many, "foo = 1\n");
	CHECK_EQ_INT(load(many), -1);
	CHECK_EQ_INT(count_lines(err), RELAY_CONFIG_ERRORS_MAX);
}

static void tenants_units_and_providers(void)
{
	CHECK_EQ_INT(load("[idp adfs]\nissuer = https://adfs.example/adfs\naudience = os2wakks\n"
			  "jwks_file = /etc/k.json\nkind = caseworker\nprofile = adfs\n"
			  "[tenant varde]\nname = Varde Kommune\ncvr = 29189781\nidps = adfs\n"
			  "[unit varde/jobcenter]\nname = Jobcenter\ngroups = a, b\n"), 0);
	CHECK_EQ_INT(cfg.tenant_count, 1);
	CHECK_EQ_INT(cfg.tenants[0].unit_count, 1);
	CHECK_EQ_INT(cfg.tenants[0].units[0].group_count, 2);
	CHECK(strcmp(cfg.tenants[0].units[0].groups[1], "b") == 0);
	/* A unit of an undefined tenant; a bad CVR; HS256; a tenant naming an undefined provider. */
	CHECK_EQ_INT(load("[unit nowhere/x]\n"), -1);
	CHECK(strstr(err, "not defined above"));
	CHECK_EQ_INT(load("[tenant t]\ncvr = 123\n"), -1);
	CHECK(strstr(err, "8 digits"));
	CHECK_EQ_INT(load("[idp x]\nalgs = HS256\n"), -1);
	CHECK(strstr(err, "not allowed"));
	CHECK_EQ_INT(load("[tenant t]\nidps = ghost\n"), -1);
	CHECK(strstr(err, "ghost"));
	/* A caseworker provider trusted by two tenants: the second never sees its caseworkers, so it
	 * is a configuration error naming the second listing's line and key. Citizen providers are
	 * shared by every tenant. */
	CHECK_EQ_INT(load("[idp adfs]\nissuer = https://adfs.example/adfs\naudience = os2wakks\n"
			  "jwks_file = /etc/k.json\nkind = caseworker\nprofile = adfs\n"
			  "[idp broker]\nissuer = https://broker.example\naudience = os2wakks\n"
			  "jwks_file = /etc/b.json\nkind = citizen\n"
			  "[tenant varde]\nname = Varde Kommune\ncvr = 29189781\nidps = broker, adfs\n"
			  "[tenant esbjerg]\nname = Esbjerg Kommune\ncvr = 29189803\n"
			  "idps = broker, adfs\n"), -1);
	CHECK(strstr(err, "/tmp/wakks-config-") && strstr(err, ":19:") && strstr(err, "'idps'") &&
	      strstr(err, "esbjerg") && strstr(err, "varde") && strstr(err, "adfs"));
	CHECK_EQ_INT(load("[idp broker]\nissuer = https://broker.example\naudience = os2wakks\n"
			  "jwks_file = /etc/b.json\nkind = citizen\n"
			  "[tenant varde]\nname = Varde Kommune\ncvr = 29189781\nidps = broker\n"
			  "[tenant esbjerg]\nname = Esbjerg Kommune\ncvr = 29189803\nidps = broker\n"),
		     0);
	/* The development providers cannot be enabled from a file. */
	CHECK_EQ_INT(load("[tenant t]\nidps = dev-mitid\n"), -1);
	CHECK_EQ_INT(load("[relay]\ndev_mode = true\n"), -1);
	CHECK(strstr(err, "unknown key"));
}

/* What a tenant publishes to clients (spec/client.md §18): history days and read receipts, with
 * their defaults. */
static void tenant_history_and_read_receipts(void)
{
	CHECK_EQ_INT(load("[tenant varde]\nname = Varde Kommune\ncvr = 29189781\n"), 0);
	CHECK_EQ_INT(relay_tenant_history_days(&cfg.tenants[0]), RELAY_DEFAULT_HISTORY_DAYS);
	CHECK(!cfg.tenants[0].read_receipts_off);
	CHECK_EQ_INT(load("[tenant varde]\nname = Varde Kommune\ncvr = 29189781\nhistory_days = 0\n"
			  "read_receipts = false\n"), 0);
	CHECK_EQ_INT(relay_tenant_history_days(&cfg.tenants[0]), 0);
	CHECK(cfg.tenants[0].read_receipts_off);
	CHECK_EQ_INT(load("[tenant varde]\nhistory_days = 366\n"), -1);
	CHECK(strstr(err, "'history_days'") && strstr(err, "365"));
	CHECK_EQ_INT(load("[tenant varde]\nhistory_days = -1\n"), -1);
	CHECK(strstr(err, "'history_days'"));
	CHECK_EQ_INT(load("[tenant varde]\nread_receipts = yes\n"), -1);
	CHECK(strstr(err, "'read_receipts'") && strstr(err, "true or false"));
}

/* A production relay (no --dev) names its certificate; only --dev generates one. */
static void certificate_required_without_dev(void)
{
	CHECK_EQ_INT(load("[relay]\nport = 9000\n"), 0);
	CHECK_EQ_INT(relay_config_check_tls(&cfg, err, sizeof err), -1);
	CHECK(strstr(err, "tls_cert and tls_key are required without --dev"));
	cfg.dev_mode = true;
	CHECK_EQ_INT(relay_config_check_tls(&cfg, err, sizeof err), 0);
	CHECK_EQ_INT(load("[relay]\ntls_cert = /a.pem\ntls_key = /a.key\n"), 0);
	CHECK_EQ_INT(relay_config_check_tls(&cfg, err, sizeof err), 0);
}

static void data_dir_permissions_strict_or_warn(void)
{
	CHECK_EQ_INT(load("[relay]\n"), 0);
	CHECK_EQ_INT(cfg.data_dir_permissions, RELAY_PERMISSIONS_STRICT);
	CHECK_EQ_INT(load("[relay]\ndata_dir_permissions = warn\n"), 0);
	CHECK_EQ_INT(cfg.data_dir_permissions, RELAY_PERMISSIONS_WARN);
	CHECK_EQ_INT(load("[relay]\ndata_dir_permissions = loose\n"), -1);
	CHECK(strstr(err, ":2:") && strstr(err, "'data_dir_permissions'") && strstr(err, "strict, warn"));
}

static void consent_text_sections(void)
{
	CHECK_EQ_INT(load("[tenant varde]\nname = Varde Kommune\ncvr = 29189781\n[unit varde/jobcenter]\n"
			  "[consent varde/jobcenter]\nversion = 2026-11\ntext_file = /tmp/x.txt\n"), 0);
	CHECK(cfg.tenants[0].units[0].consent.set);
	CHECK(strcmp(cfg.tenants[0].units[0].consent.language, "da") == 0);
	CHECK_EQ_INT(load("[tenant varde]\n[consent varde]\nversion = a b\n"), -1);
	CHECK(strstr(err, "'version'"));
	CHECK_EQ_INT(load("[tenant varde]\nname = V\ncvr = 29189781\n[consent varde]\nversion = v1\n"), -1);
	CHECK(strstr(err, "text_file"));
	/* A tenant needs its name and CVR number. */
	CHECK_EQ_INT(load("[tenant varde]\nname = Varde Kommune\n"), -1);
	CHECK(strstr(err, "name and cvr are required"));
}

/* Tenant and unit ids are the wire's slugs: an id no frame could address is refused at load,
 * naming file, line and key. */
static void tenant_and_unit_ids_are_slugs(void)
{
	CHECK_EQ_INT(load("[tenant va_rde]\nname = Varde Kommune\ncvr = 29189781\n"), -1);
	CHECK(strstr(err, "/tmp/wakks-config-") && strstr(err, ":1:") && strstr(err, "'tenant'"));
	CHECK_EQ_INT(load("[tenant abcdefghijabcdefghijabcdefghijabc]\nname = V\ncvr = 29189781\n"), -1);
	CHECK(strstr(err, ":1:") && strstr(err, "'tenant'"));
	CHECK_EQ_INT(load("[tenant -varde]\nname = V\ncvr = 29189781\n"), -1);
	CHECK_EQ_INT(load("[tenant varde]\nname = Varde Kommune\ncvr = 29189781\n[unit varde/job_center]\n"),
		     -1);
	CHECK(strstr(err, ":4:") && strstr(err, "'unit'"));
	/* The longest id the wire carries, and the ids the demo and the tests use. */
	CHECK_EQ_INT(load("[tenant abcdefghijabcdefghijabcdefghijab]\nname = V\ncvr = 29189781\n"
			  "[unit abcdefghijabcdefghijabcdefghijab/job-center-2]\n"), 0);
	CHECK_EQ_INT(load("[tenant varde]\nname = Varde Kommune\ncvr = 29189781\n[unit varde/jobcenter]\n"), 0);
}

int main(void)
{
	RUN(defaults_without_a_file);
	RUN(unauthenticated_limits);
	RUN(values_comments_and_quotes);
	RUN(errors_name_line_and_key);
	RUN(every_error_reported_at_once);
	RUN(tenants_units_and_providers);
	RUN(tenant_history_and_read_receipts);
	RUN(consent_text_sections);
	RUN(certificate_required_without_dev);
	RUN(data_dir_permissions_strict_or_warn);
	RUN(tenant_and_unit_ids_are_slugs);
	return TEST_RESULT();
}
