/* SPDX-License-Identifier: MPL-2.0 */
/* The relay's configuration parser: every key validated, errors name file, line and key;
 * comments, quotes, sections and relations between sections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/storage_config.h"
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
	for (int i = 0; i < RELAY_CONFIG_ERRORS_MAX + 20; i++)
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

/* Keys and metadata over HTTPS, claim names, Entra ID and confidential clients (issue 22). */
static void providers_over_https(void)
{
	CHECK_EQ_INT(load("[idp broker]\nissuer = https://broker.example\naudience = os2wakks\n"
			  "discovery = https://broker.example/.well-known/openid-configuration\n"
			  "ca_file = /etc/ca.pem\nkind = citizen\nperson_claim = mitid.uuid\n"
			  "person_type = mitid-uuid\nassurance_claim = loa\ndisplay_name = MitID\n"
			  "scopes = openid mitid\nacr_values = https://data.gov.dk/concept/core/nsis/loa/High\n"
			  "client_auth = private_key_jwt\nclient_key_file = /etc/k.jwk\nclient_key_id = k1\n"
			  "[idp entra]\nissuer = https://login.example/t/v2.0\naudience = app\n"
			  "jwks_url = https://login.example/t/keys\nkind = caseworker\nprofile = entra-id\n"
			  "entra_tenant = t\ngroups_claim = roles\n"), 0);
	const struct relay_idp_config *b = relay_config_idp(&cfg, "broker"), *e = relay_config_idp(&cfg, "entra");
	REQUIRE(b && e);
	CHECK(strcmp(b->discovery, "https://broker.example/.well-known/openid-configuration") == 0);
	CHECK(strcmp(b->ca_file, "/etc/ca.pem") == 0 && b->person_type == 2);
	CHECK(b->client_auth == RELAY_IDP_AUTH_PRIVATE_KEY_JWT && strcmp(b->client_key_id, "k1") == 0);
	CHECK(strcmp(b->scopes, "openid mitid") == 0 && strcmp(b->display_name, "MitID") == 0);
	CHECK(e->profile == RELAY_IDP_PROFILE_ENTRA && strcmp(e->entra_tenant, "t") == 0);
	CHECK(strcmp(e->jwks_url, "https://login.example/t/keys") == 0 && !e->discovery[0]);
	/* Plain http, a second source of keys, no source, a confidential client without its secret
	 * or without discovery (which names the token endpoint), entra_tenant on AD FS, ES256 on
	 * Entra ID. */
	CHECK_EQ_INT(load("[idp x]\njwks_url = http://k.example/jwks\n"), -1);
	CHECK(strstr(err, "'jwks_url'") && strstr(err, "https://"));
	CHECK_EQ_INT(load("[idp x]\nissuer = https://i\naudience = a\njwks_file = /k\n"
			  "jwks_url = https://i/k\nkind = citizen\n"), -1);
	CHECK(strstr(err, "one source of keys"));
	CHECK_EQ_INT(load("[idp x]\nissuer = https://i\naudience = a\nkind = citizen\n"), -1);
	CHECK(strstr(err, "discovery, jwks_url or jwks_file"));
	CHECK_EQ_INT(load("[idp x]\nissuer = https://i\naudience = a\ndiscovery = https://i/d\n"
			  "kind = citizen\nclient_auth = client_secret_basic\n"), -1);
	CHECK(strstr(err, "client_secret_file"));
	CHECK_EQ_INT(load("[idp x]\nissuer = https://i\naudience = a\njwks_url = https://i/k\n"
			  "kind = citizen\nclient_auth = private_key_jwt\nclient_key_file = /k\n"), -1);
	CHECK(strstr(err, "needs discovery"));
	CHECK_EQ_INT(load("[idp x]\nissuer = https://i\naudience = a\njwks_url = https://i/k\n"
			  "kind = caseworker\nprofile = adfs\nentra_tenant = t\n"), -1);
	CHECK(strstr(err, "entra_tenant belongs"));
	CHECK_EQ_INT(load("[idp x]\nissuer = https://i\naudience = a\njwks_url = https://i/k\n"
			  "kind = caseworker\nprofile = entra-id\nalgs = ES256\n"), -1);
	CHECK(strstr(err, "entra-id profile allows RS256 only"));
	CHECK_EQ_INT(load("[idp x]\nperson_type = ssn\n"), -1);
	CHECK(strstr(err, "'person_type'"));
	CHECK_EQ_INT(load("[idp x]\nclient_auth = tls_client_auth\n"), -1);
	CHECK(strstr(err, "'client_auth'"));
	CHECK_EQ_INT(load("[idp x]\nprofile = okta\n"), -1);
	CHECK(strstr(err, "entra-id"));
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

/* display_name, colour and logo: the colour must carry white text (WCAG contrast 4.5:1), the
 * logo must be a readable PNG or SVG file of at most 256 KiB. */
static void tenant_branding(void)
{
	char logo[] = "/tmp/wakks-logo-XXXXXX.svg";
	int fd = mkstemps(logo, 4);
	REQUIRE(fd >= 0);
	static const char svg[] = "<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
	REQUIRE(write(fd, svg, sizeof svg - 1) == (ssize_t)(sizeof svg - 1));
	close(fd);
	char text[512];
	snprintf(text, sizeof text,
		 "[tenant varde]\nname = Varde Kommune\ncvr = 29189781\ndisplay_name = Varde\n"
		 "colour = \"#0B5394\"\nlogo = %s\n", logo);
	CHECK_EQ_INT(load(text), 0);
	CHECK(strcmp(cfg.tenants[0].display_name, "Varde") == 0);
	CHECK(strcmp(cfg.tenants[0].colour, "#0B5394") == 0);
	CHECK(strcmp(cfg.tenants[0].logo, logo) == 0);
	CHECK(strcmp(relay_logo_media_type(logo), "image/svg+xml") == 0);
	/* Known WCAG ratios: black 21:1, #767676 is the lightest grey that passes (4.54:1). */
	CHECK(relay_colour_contrast_on_white("#000000") > 20.99 &&
	      relay_colour_contrast_on_white("#000000") < 21.01);
	CHECK(relay_colour_contrast_on_white("#767676") > 4.53 &&
	      relay_colour_contrast_on_white("#767676") < 4.55);
	CHECK(relay_colour_contrast_on_white("#777777") < 4.5);
	CHECK_EQ_INT(load("[tenant varde]\nname = V\ncvr = 29189781\ncolour = \"#ffcc00\"\n"), -1);
	CHECK(strstr(err, "'colour'") && strstr(err, "contrast"));
	CHECK_EQ_INT(load("[tenant varde]\nname = V\ncvr = 29189781\ncolour = blue\n"), -1);
	CHECK(strstr(err, "#rrggbb"));
	/* Unquoted, the value is a comment: the error says so. */
	CHECK_EQ_INT(load("[tenant varde]\nname = V\ncvr = 29189781\ncolour = #0b5394\n"), -1);
	CHECK(strstr(err, "in quotes"));
	CHECK_EQ_INT(load("[tenant varde]\nname = V\ncvr = 29189781\ncolour = \"#12345\"\n"), -1);
	CHECK_EQ_INT(load("[tenant varde]\nname = V\ncvr = 29189781\nlogo = /etc/passwd\n"), -1);
	CHECK(strstr(err, "'logo'") && strstr(err, ".png or .svg"));
	CHECK_EQ_INT(load("[tenant varde]\nname = V\ncvr = 29189781\nlogo = /nonexistent/l.png\n"), -1);
	CHECK(strstr(err, "tenant varde: logo /nonexistent/l.png cannot be read"));
	unlink(logo);
}

/* [push] and [push.app.NAME] (spec/push.md): defaults, values, and every mistake named. */
static void push_sections(void)
{
	CHECK_EQ_INT(load("[relay]\n"), 0);
	CHECK(cfg.push.web && cfg.push.interval_seconds == 60 && cfg.push.ttl_seconds == 86400 &&
	      strcmp(cfg.push.urgency, "high") == 0 && cfg.push.app_count == 0);
	CHECK_EQ_INT(load("[push]\nweb_push = off\ninterval_seconds = 5\nurgency = low\n"
			  "subject = mailto:drift@varde.dk\n"
			  "[push.app.wakks-ios]\nkind = apns\nkey_file = /k.p8\nkey_id = K\nteam_id = T\n"
			  "topic = dk.x\n[push.app.wakks-android]\nkind = fcm\n"
			  "service_account_file = /s.json\nurl = https://fcm.example\n"), 0);
	CHECK(!cfg.push.web && cfg.push.interval_seconds == 5 && strcmp(cfg.push.urgency, "low") == 0);
	CHECK_EQ_INT(cfg.push.app_count, 2);
	CHECK(cfg.push.apps[0].kind == RELAY_PUSH_APP_APNS && strcmp(cfg.push.apps[0].topic, "dk.x") == 0);
	CHECK(relay_push_config_find(&cfg.push, "wakks-android", 13) == &cfg.push.apps[1]);
	CHECK_EQ_INT(load("[push]\nurgency = now\n"), -1);
	CHECK(strstr(err, ":2:") && strstr(err, "'urgency'"));
	CHECK_EQ_INT(load("[push]\ninterval_seconds = 0\n"), -1);
	CHECK(strstr(err, "'interval_seconds'") && strstr(err, "outside"));
	CHECK_EQ_INT(load("[push]\nsubject = drift@varde.dk\n"), -1);
	CHECK(strstr(err, "'subject'"));
	CHECK_EQ_INT(load("[push]\nbogus = 1\n"), -1);
	CHECK(strstr(err, "unknown key in [push]"));
	CHECK_EQ_INT(load("[push.app.Wakks]\nkind = apns\n"), -1);
	CHECK(strstr(err, "app name 'Wakks'"));
	CHECK_EQ_INT(load("[push.app.a]\nkind = fcm\n"), -1);
	CHECK(strstr(err, "[push.app.a] needs 'service_account_file'"));
	CHECK_EQ_INT(load("[push.app.a]\nkind = apns\nkey_file = /k\n"), -1);
	CHECK(strstr(err, "needs 'key_id'"));
	CHECK_EQ_INT(load("[push.app.a]\nkind = apns\nurl = http://apns.example\n"), -1);
	CHECK(strstr(err, "'url'") && strstr(err, "https"));
	CHECK_EQ_INT(load("[push.app.a]\nkind = fcm\nservice_account_file = /s\n[push.app.a]\n"), -1);
	CHECK(strstr(err, "defined twice"));
	CHECK_EQ_INT(load("[tenant varde]\nname = V\ncvr = 29189781\nwebhook_url = http://x\n"), -1);
	CHECK(strstr(err, "'webhook_url'") && strstr(err, "https"));
	CHECK_EQ_INT(load("[tenant varde]\nname = V\ncvr = 29189781\nwebhook_after_seconds = 0\n"), -1);
	CHECK(strstr(err, "'webhook_after_seconds'"));
}

/* [storage] engine and conninfo: postgresql needs a connection string naming its database, lmdb
 * refuses one, and no error repeats the string (it may hold a password). */
static void storage_engine_and_conninfo(void)
{
	CHECK_EQ_INT(load("[storage]\nmax_batch = 10\n"), 0);
	CHECK_EQ_INT(cfg.engine, RELAY_ENGINE_LMDB);
	CHECK_EQ_INT(load("[storage]\nengine = postgresql\n"
			  "conninfo = host=db1,db2 dbname=wakks target_session_attrs=read-write\n"), 0);
	CHECK_EQ_INT(cfg.engine, RELAY_ENGINE_POSTGRESQL);
	CHECK(strcmp(cfg.conninfo, "host=db1,db2 dbname=wakks target_session_attrs=read-write") == 0);
	char where[256];
	relay_conninfo_describe("host=db1 port=5433 dbname=wakks user=w password=s3cret", where,
				sizeof where);
	CHECK(strcmp(where, "host=db1 port=5433 dbname=wakks") == 0);
	relay_conninfo_describe("postgresql://w:s3cret@db9:5432/wakks", where, sizeof where);
	CHECK(strstr(where, "db9") && strstr(where, "dbname=wakks") && !strstr(where, "s3cret"));
	CHECK_EQ_INT(load("[storage]\nengine = postgresql\nconninfo = postgresql://u:pw@h/wakks\n"), 0);
	CHECK_EQ_INT(load("[storage]\nengine = postgresql\nconninfo = \"\"\n"), -1);
	CHECK_EQ_INT(load("[storage]\nengine = postgresql\n"), -1);
	CHECK(strstr(err, "needs conninfo"));
	CHECK_EQ_INT(load("[storage]\nengine = lmdb\nconninfo = dbname=wakks\n"), -1);
	CHECK(strstr(err, "conninfo belongs to engine = postgresql"));
	CHECK_EQ_INT(load("[storage]\nengine = oracle\n"), -1);
	CHECK(strstr(err, "lmdb, postgresql"));
	CHECK_EQ_INT(load("[storage]\nengine = postgresql\nconninfo = host=h password=s3cret nonsense=1 dbname=x\n"), -1);
	CHECK(strstr(err, "'conninfo'") && !strstr(err, "s3cret"));
	CHECK_EQ_INT(load("[storage]\nengine = postgresql\nconninfo = host=h password='s3cret\n"), -1);
	CHECK(!strstr(err, "s3cret"));
	CHECK_EQ_INT(load("[storage]\nengine = postgresql\nconninfo = host=h user=x\n"), -1);
	CHECK(strstr(err, "names no database"));
}

int main(void)
{
	RUN(defaults_without_a_file);
	RUN(storage_engine_and_conninfo);
	RUN(unauthenticated_limits);
	RUN(values_comments_and_quotes);
	RUN(errors_name_line_and_key);
	RUN(every_error_reported_at_once);
	RUN(tenants_units_and_providers);
	RUN(tenant_history_and_read_receipts);
	RUN(providers_over_https);
	RUN(consent_text_sections);
	RUN(certificate_required_without_dev);
	RUN(data_dir_permissions_strict_or_warn);
	RUN(tenant_and_unit_ids_are_slugs);
	RUN(tenant_branding);
	RUN(push_sections);
	return TEST_RESULT();
}
