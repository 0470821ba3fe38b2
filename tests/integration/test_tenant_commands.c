/* SPDX-License-Identifier: MPL-2.0 */
/* wakks-relay tenant add|list|show|check and check-config as an operator runs them: a tenant
 * added to tenants.d is validated with the whole configuration before its file appears (an
 * invalid one leaves nothing behind, an existing one is never overwritten), list and show read
 * it back, check validates a file before it is installed, check-config names every error, and a
 * relay started on the directory serves the tenant (its consent text) and takes a tenant added
 * while it runs at its next reload. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "relay_proc.h"
#include "tclient.h"
#include "test.h"

static struct relay_proc relay;
static char tenants_dir[400], text_file[400];

/* Runs `wakks-relay tenant ARGS... --config relay.conf --dev`; args end with NULL. Captures stdout and
 * stderr into oe[0] and oe[1]. Returns the exit status. */
static int run(char *oe[2], ...)
{
	char *args[24];
	int n = 0;
	args[n++] = (char *)relay_binary();
	args[n++] = "tenant";
	va_list ap;
	va_start(ap, oe);
	for (const char *a = va_arg(ap, const char *); a && n < 20; a = va_arg(ap, const char *))
		args[n++] = (char *)a;
	va_end(ap);
	args[n++] = "--config";
	args[n++] = relay.config_path;
	args[n++] = "--dev"; /* the relay's providers are the development ones */
	args[n] = NULL;
	return relay_run_command_io(args, "", &oe[0], &oe[1]);
}

static void release(char *oe[2])
{
	free(oe[0]);
	free(oe[1]);
	oe[0] = oe[1] = NULL;
}

static bool exists(const char *name)
{
	char path[500];
	snprintf(path, sizeof path, "%s/%s", tenants_dir, name);
	return access(path, F_OK) == 0;
}

static void add_list_show_check(void)
{
	char *oe[2] = { 0 };
	CHECK_EQ_INT(run(oe, "add", "aarhus", "--name", "Aarhus Kommune", "--cvr", "55133018", "--idps",
			 "dev-mitid", "--unit", "borgerservice:Borgerservice:aarhus-bs",
			 "--consent-version", "a1", "--consent-file", text_file, NULL),
		     0);
	if (oe[1] && oe[1][0])
		fprintf(stderr, "  %s", oe[1]);
	CHECK(exists("aarhus.conf"));
	release(oe);

	CHECK_EQ_INT(run(oe, "add", "midt", "--name", "Region Midtjylland", "--cvr", "29190925", "--idps",
			 "dev-mitid", "--kind", "region", "--scope", "full", NULL),
		     0);
	release(oe);

	CHECK_EQ_INT(run(oe, "list", NULL), 0);
	CHECK(oe[0] && strstr(oe[0], "aarhus\tmunicipality\tlight\t55133018\tAarhus Kommune\t"));
	CHECK(oe[0] && strstr(oe[0], "midt\tregion\tfull\t29190925\tRegion Midtjylland\t"));
	CHECK(oe[0] && strstr(oe[0], "varde\t"));
	release(oe);

	CHECK_EQ_INT(run(oe, "show", "aarhus", NULL), 0);
	CHECK(oe[0] && strstr(oe[0], "unit borgerservice: Borgerservice; groups: aarhus-bs"));
	CHECK(oe[0] && strstr(oe[0], "consent: version a1"));
	release(oe);

	/* A CVR failing modulus 11, an unknown provider: refused, nothing written. */
	CHECK_EQ_INT(run(oe, "add", "odder", "--name", "Odder Kommune", "--cvr", "55133019", "--idps",
			 "no-such-idp", NULL),
		     2);
	CHECK(oe[1] && strstr(oe[1], "modulus-11"));
	CHECK(oe[1] && strstr(oe[1], "idps names 'no-such-idp'"));
	CHECK(!exists("odder.conf"));
	release(oe);
	/* No temporary file is left behind either. */
	char cmd[600];
	snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s | grep -v '\\.conf$')\"", tenants_dir);
	CHECK_EQ_INT(system(cmd), 0);

	/* An existing tenant is never overwritten, nor one defined in the main file. */
	CHECK_EQ_INT(run(oe, "add", "aarhus", "--name", "X", "--cvr", "55133018", "--idps", "dev-mitid", NULL), 2);
	CHECK(oe[1] && strstr(oe[1], "exists"));
	release(oe);
	CHECK_EQ_INT(run(oe, "add", "varde", "--name", "X", "--cvr", "29189781", "--idps", "dev-mitid", NULL), 2);
	CHECK(oe[1] && strstr(oe[1], "defined twice"));
	CHECK(!exists("varde.conf"));
	release(oe);

	/* check: a candidate file outside the directory, before it is installed. */
	char candidate[500];
	snprintf(candidate, sizeof candidate, "%s/../candidate.conf", tenants_dir);
	FILE *f = fopen(candidate, "w");
	REQUIRE(f);
	fputs("[tenant skive]\nname = Skive Kommune\ncvr = 29189803\nidps = dev-mitid\n[idp x]\n", f);
	fclose(f);
	CHECK_EQ_INT(run(oe, "check", candidate, NULL), 2);
	CHECK(oe[1] && strstr(oe[1], "candidate.conf:5: a tenant file holds"));
	release(oe);
	CHECK_EQ_INT(run(oe, "check", NULL), 0);
	CHECK(oe[0] && strstr(oe[0], "tenants ok: 3 tenants"));
	release(oe);
}

/* The relay running on the directory takes the added tenants at its reload. */
static void running_relay_takes_added_tenants_at_reload(void)
{
	char version[33];
	uint8_t sha[32];
	CHECK(tconsent_text(relay.port, "aarhus", version, sha) != 0);
	kill(relay.pid, SIGHUP);
	int ok = -1;
	for (int i = 0; i < 100 && ok != 0; i++) {
		usleep(50 * 1000);
		ok = tconsent_text(relay.port, "aarhus", version, sha);
	}
	CHECK_EQ_INT(ok, 0);
	CHECK(strcmp(version, "a1") == 0);
}

static void check_config_names_every_error(void)
{
	char conf[600];
	snprintf(conf, sizeof conf, "%s/../broken.conf", tenants_dir);
	FILE *f = fopen(conf, "w");
	REQUIRE(f);
	fprintf(f, "[relay]\nport = eighty\nlog_format = text\ntenants_dir = %s\n[limits]\nbogus = 1\n"
		   "[tenant t]\ncvr = 11111111\n", tenants_dir);
	fclose(f);
	char *args[] = { (char *)relay_binary(), "check-config", "--config", conf, "--dev", NULL };
	char *out = NULL, *err = NULL;
	CHECK_EQ_INT(relay_run_command_io(args, "", &out, &err), 2);
	CHECK(err && strstr(err, "key 'port'"));
	CHECK(err && strstr(err, "key 'log_format'"));
	CHECK(err && strstr(err, "key 'bogus'"));
	CHECK(err && strstr(err, "key 'cvr'"));
	CHECK(err && strstr(err, "tenant t: name and cvr are required"));
	int n = 0;
	for (const char *p = err; p && (p = strstr(p, "configuration error:")); p++)
		n++;
	CHECK(n >= 5);
	free(out);
	free(err);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	/* The relay's directory holds tenants.d and a consent text for the tenants added. */
	struct relay_proc_opts o = { .dev = true };
	if (relay_proc_prepare(&relay, &o) != 0)
		return 1;
	snprintf(tenants_dir, sizeof tenants_dir, "%s/tenants.d", relay.dir);
	snprintf(text_file, sizeof text_file, "%s/aarhus-samtykke.txt", relay.dir);
	if (mkdir(tenants_dir, 0750) != 0)
		return 1;
	FILE *t = fopen(text_file, "w");
	if (!t)
		return 1;
	fputs("Samtykke til Aarhus Kommune.\n", t);
	fclose(t);
	char extra[1200];
	snprintf(extra, sizeof extra,
		 "tenants_dir = %s\n[tenant varde]\nname = Varde Kommune\ncvr = 29189781\n"
		 "idps = dev-mitid, dev-adfs\n[unit varde/jobcenter]\nname = Jobcenter\n"
		 "groups = varde-jobcenter\n", tenants_dir);
	o.extra_config = extra;
	o.dir = relay.dir;
	char keep[256];
	snprintf(keep, sizeof keep, "%s", relay.dir);
	o.dir = keep;
	if (relay_proc_start_opts(&relay, &o) != 0)
		return 1;
	relay.keep_dir = false;
	RUN(add_list_show_check);
	RUN(running_relay_takes_added_tenants_at_reload);
	RUN(check_config_names_every_error);
	CHECK_EQ_INT(relay_proc_stop(&relay), 0);
	relay_proc_cleanup(&relay);
	return TEST_RESULT();
}
