/* SPDX-License-Identifier: MPL-2.0 */
#include "admin/tenant_commands.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config_read.h"
#include "core/tenant_files.h"
#include "wakks_protocol.h"

#define MAX_UNIT_ARGS RELAY_MAX_UNITS_PER_TENANT

struct tenant_args {
	const char *config_path;
	bool dev;
	const char *sub;
	const char *positional[16];
	int n_positional;
	const char *name, *cvr, *idps, *kind, *scope, *consent_version, *consent_file;
	const char *display_name, *logo, *colour;
	const char *units[MAX_UNIT_ARGS];
	int n_units;
};

static int usage(void)
{
	fprintf(stderr,
		"usage: wakks-relay tenant list [--config FILE]\n"
		"       wakks-relay tenant show ID [--config FILE]\n"
		"       wakks-relay tenant check [TENANT_FILE...] [--config FILE]\n"
		"       wakks-relay tenant add ID --name NAME --cvr CVR --idps IDP[,IDP]\n"
		"              [--kind municipality|region] [--scope light|full]\n"
		"              [--unit ID:NAME:GROUP[,GROUP]]... [--consent-version V --consent-file F]\n"
		"              [--display-name NAME] [--logo FILE] [--colour #rrggbb] [--config FILE]\n");
	return 2;
}

static int parse_args(int argc, char **argv, struct tenant_args *a)
{
	static const struct {
		const char *flag;
		size_t offset;
	} opts[] = {
		{ "--config", offsetof(struct tenant_args, config_path) },
		{ "--name", offsetof(struct tenant_args, name) },
		{ "--cvr", offsetof(struct tenant_args, cvr) },
		{ "--idps", offsetof(struct tenant_args, idps) },
		{ "--kind", offsetof(struct tenant_args, kind) },
		{ "--scope", offsetof(struct tenant_args, scope) },
		{ "--consent-version", offsetof(struct tenant_args, consent_version) },
		{ "--consent-file", offsetof(struct tenant_args, consent_file) },
		{ "--display-name", offsetof(struct tenant_args, display_name) },
		{ "--logo", offsetof(struct tenant_args, logo) },
		{ "--colour", offsetof(struct tenant_args, colour) },
	};
	memset(a, 0, sizeof *a);
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--dev") == 0) {
			a->dev = true;
			continue;
		}
		if (strcmp(argv[i], "--unit") == 0 && i + 1 < argc) {
			if (a->n_units == MAX_UNIT_ARGS) {
				fprintf(stderr, "wakks-relay: more than %d units\n", MAX_UNIT_ARGS);
				return -1;
			}
			a->units[a->n_units++] = argv[++i];
			continue;
		}
		bool matched = false;
		for (size_t k = 0; k < sizeof opts / sizeof opts[0] && !matched; k++)
			if (strcmp(argv[i], opts[k].flag) == 0) {
				if (i + 1 >= argc) {
					fprintf(stderr, "wakks-relay: %s needs a value\n", argv[i]);
					return -1;
				}
				*(const char **)((char *)a + opts[k].offset) = argv[++i];
				matched = true;
			}
		if (matched)
			continue;
		if (argv[i][0] == '-') {
			fprintf(stderr, "wakks-relay: unknown option '%s'\n", argv[i]);
			return -1;
		}
		if (!a->sub)
			a->sub = argv[i];
		else if (a->n_positional < 16)
			a->positional[a->n_positional++] = argv[i];
		else
			return -1;
	}
	return a->sub ? 0 : -1;
}

/* Prints each error line; `tmp` (the file being added, under its temporary name) is named as
 * the file it would have become, `path`. */
static int print_errors_as(const char *what, char *err, const char *tmp, const char *path)
{
	char *save = NULL;
	for (char *e = strtok_r(err, "\n", &save); e; e = strtok_r(NULL, "\n", &save)) {
		const char *at = tmp ? strstr(e, tmp) : NULL;
		if (at)
			fprintf(stderr, "wakks-relay: %s: %.*s%s%s\n", what, (int)(at - e), e, path,
				at + strlen(tmp));
		else
			fprintf(stderr, "wakks-relay: %s: %s\n", what, e);
	}
	return 2;
}

static int print_errors(const char *what, char *err)
{
	return print_errors_as(what, err, NULL, NULL);
}

static const char *kind_name(const struct relay_tenant_config *t)
{
	return t->kind == RELAY_TENANT_REGION ? "region" : "municipality";
}

static const char *scope_name(const struct relay_tenant_config *t)
{
	return t->scope == RELAY_TENANT_FULL ? "full" : "light";
}

static int list(const struct relay_config *cfg)
{
	for (int i = 0; i < cfg->tenant_count; i++) {
		const struct relay_tenant_config *t = &cfg->tenants[i];
		printf("%s\t%s\t%s\t%s\t%s\t%s\n", t->id, kind_name(t), scope_name(t), t->cvr, t->name,
		       t->source_file[0] ? t->source_file : cfg->file[0] ? cfg->file : "(built in)");
	}
	return 0;
}

static int show(const struct relay_config *cfg, const char *id)
{
	const struct relay_tenant_config *t = id ? relay_config_tenant(cfg, id) : NULL;
	if (!t) {
		fprintf(stderr, "wakks-relay: no tenant '%s'\n", id ? id : "");
		return 2;
	}
	printf("tenant: %s\nname: %s\ncvr: %s\nkind: %s\nscope: %s\nfile: %s\nidps:", t->id, t->name,
	       t->cvr, kind_name(t), scope_name(t),
	       t->source_file[0] ? t->source_file : cfg->file[0] ? cfg->file : "(built in)");
	for (int i = 0; i < t->idp_count; i++)
		printf("%s%s", i ? ", " : " ", t->idps[i]);
	printf("\n");
	if (t->consent.set)
		printf("consent: version %s, %s, %s\n", t->consent.version, t->consent.language,
		       t->consent.text_file);
	for (int i = 0; i < t->unit_count; i++) {
		const struct relay_unit_config *u = &t->units[i];
		printf("unit %s: %s; groups:", u->id, u->name);
		for (int j = 0; j < u->group_count; j++)
			printf("%s%s", j ? ", " : " ", u->groups[j]);
		printf("\n");
	}
	return 0;
}

/* A value written into the file: refused when it could not be read back as written. */
static bool writable_value(const char *v)
{
	return v && !strpbrk(v, "\n\r\"#;");
}

/* The tenant file's text into a malloc'd string (NULL with a message on stderr). */
static char *compose(const struct tenant_args *a, const char *id)
{
	const char *values[] = { a->name, a->cvr, a->idps, a->kind, a->scope, a->consent_version,
				 a->consent_file, a->display_name, a->logo, a->colour };
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
		if (values[i] && !writable_value(values[i])) {
			fprintf(stderr, "wakks-relay: '%s' holds a character a tenant file cannot "
					"(newline, \", # or ;)\n", values[i]);
			return NULL;
		}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	fprintf(f, "# Tenant %s, written by wakks-relay tenant add. One tenant per file.\n", id);
	fprintf(f, "[tenant %s]\nname = %s\ncvr = %s\nidps = %s\n", id, a->name, a->cvr, a->idps);
	fprintf(f, "kind = %s\nscope = %s\n", a->kind ? a->kind : "municipality",
		a->scope ? a->scope : "light");
	if (a->display_name)
		fprintf(f, "display_name = %s\n", a->display_name);
	if (a->logo)
		fprintf(f, "logo = %s\n", a->logo);
	if (a->colour)
		fprintf(f, "colour = %s\n", a->colour);
	if (a->consent_version || a->consent_file)
		fprintf(f, "\n[consent %s]\nversion = %s\ntext_file = %s\n", id,
			a->consent_version ? a->consent_version : "", a->consent_file ? a->consent_file : "");
	bool ok = true;
	for (int i = 0; i < a->n_units; i++) {
		char spec[1024];
		snprintf(spec, sizeof spec, "%s", a->units[i]);
		char *name = strchr(spec, ':');
		char *groups = name ? strchr(name + 1, ':') : NULL;
		if (!groups || !writable_value(spec)) {
			fprintf(stderr, "wakks-relay: --unit '%s' is not ID:NAME:GROUP[,GROUP]\n",
				a->units[i]);
			ok = false;
			break;
		}
		*name++ = '\0';
		*groups++ = '\0';
		fprintf(f, "\n[unit %s/%s]\nname = %s\ngroups = %s\n", id, spec, name, groups);
	}
	if (fclose(f) != 0 || !ok) {
		free(text);
		return NULL;
	}
	return text;
}

/* Writes text to path through a temporary file beside it: a reader (a reload) sees the old
 * directory or the complete new file, never part of it. */
static int write_atomic(const char *dir, const char *path, const char *text, char *tmp, size_t tmp_len)
{
	snprintf(tmp, tmp_len, "%s/.tenant-add-XXXXXX", dir);
	int fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	int rc = off == len && fchmod(fd, 0640) == 0 && fsync(fd) == 0 ? 0 : -1;
	if (close(fd) != 0)
		rc = -1;
	(void)path;
	return rc;
}

static int add(const struct tenant_args *a, struct relay_config *cfg)
{
	const char *id = a->n_positional == 1 ? a->positional[0] : NULL;
	if (!id || !a->name || !a->cvr || !a->idps)
		return usage();
	if (!cfg->tenants_dir[0]) {
		fprintf(stderr, "wakks-relay: the configuration names no tenants_dir ([relay] "
				"tenants_dir = /etc/os2wakks/tenants.d)\n");
		return 2;
	}
	if (!proto_slug_valid(id, strlen(id))) {
		fprintf(stderr, "wakks-relay: tenant id '%s' must be 1-%u of a-z 0-9 -, not starting "
				"with -\n", id, PROTO_MAX_SLUG_BYTES);
		return 2;
	}
	char path[RELAY_CONFIG_PATH_MAX + 80], tmp[RELAY_CONFIG_PATH_MAX + 80];
	snprintf(path, sizeof path, "%s/%s.conf", cfg->tenants_dir, id);
	if (access(path, F_OK) == 0) {
		fprintf(stderr, "wakks-relay: %s exists; edit it, or remove it first\n", path);
		return 2;
	}
	char *text = compose(a, id);
	if (!text)
		return 2;
	if (write_atomic(cfg->tenants_dir, path, text, tmp, sizeof tmp) != 0) {
		fprintf(stderr, "wakks-relay: cannot write in %s: %s\n", cfg->tenants_dir,
			strerror(errno));
		unlink(tmp);
		free(text);
		return 1;
	}
	free(text);
	/* The new file is checked as the relay will read it: added to the whole configuration,
	 * with every check of a start. */
	char err[2 * RELAY_CONFIG_ERR_BYTES] = "";
	int rc = relay_config_load_tenant_file(cfg, tmp, err, sizeof err);
	char checks[RELAY_CONFIG_ERR_BYTES];
	if (relay_config_check(cfg, checks, sizeof checks) != 0) {
		rc = -1;
		size_t used = strlen(err);
		snprintf(err + used, sizeof err - used, "%s%s", used ? "\n" : "", checks);
	}
	if (rc != 0) {
		unlink(tmp);
		return print_errors_as("tenant not added", err, tmp, path);
	}
	/* link() refuses to replace a file that appeared meanwhile, where rename() would not. */
	if (link(tmp, path) != 0) {
		fprintf(stderr, "wakks-relay: cannot create %s: %s\n", path, strerror(errno));
		unlink(tmp);
		return errno == EEXIST ? 2 : 1;
	}
	unlink(tmp);
	int dfd = open(cfg->tenants_dir, O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	printf("tenant %s added: %s (a running relay takes it at its next reload: "
	       "systemctl reload os2wakks-relay, or SIGHUP)\n", id, path);
	return 0;
}

static int check(const struct tenant_args *a, struct relay_config *cfg)
{
	char err[2 * RELAY_CONFIG_ERR_BYTES] = "";
	int rc = 0;
	for (int i = 0; i < a->n_positional; i++)
		if (relay_config_load_tenant_file(cfg, a->positional[i], err, sizeof err) != 0)
			rc = -1;
	char checks[RELAY_CONFIG_ERR_BYTES];
	if (relay_config_check(cfg, checks, sizeof checks) != 0) {
		rc = -1;
		size_t used = strlen(err);
		snprintf(err + used, sizeof err - used, "%s%s", used ? "\n" : "", checks);
	}
	if (rc != 0)
		return print_errors("tenant check", err);
	printf("tenants ok: %d tenants\n", cfg->tenant_count);
	return 0;
}

int relay_tenant_main(int argc, char **argv)
{
	struct tenant_args a;
	if (parse_args(argc, argv, &a) != 0)
		return usage();
	static struct relay_config cfg; /* large: not on the stack */
	char err[RELAY_CONFIG_ERR_BYTES];
	if (relay_config_read(&cfg, a.config_path, a.dev, false, err, sizeof err) != 0)
		return print_errors("configuration error", err);
	if (strcmp(a.sub, "list") == 0 && a.n_positional == 0)
		return list(&cfg);
	if (strcmp(a.sub, "show") == 0 && a.n_positional == 1)
		return show(&cfg, a.positional[0]);
	if (strcmp(a.sub, "check") == 0)
		return check(&a, &cfg);
	if (strcmp(a.sub, "add") == 0)
		return add(&a, &cfg);
	return usage();
}
