/* SPDX-License-Identifier: MPL-2.0 */
/* Shared fixtures for the identity tests: temporary key directories, development providers for
 * both profiles, and the matching verifier configuration (Varde Kommune, unit jobcenter). */
#ifndef WAKKS_ID_TEST_UTIL_H
#define WAKKS_ID_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wakks_devidp.h"
#include "wakks_identity.h"

#define T_NOW ((int64_t)1780000000)
#define T_ISS_MITID "https://localhost:8443/dev-idp/mitid"
#define T_ISS_ADFS "https://localhost:8443/dev-idp/adfs"
#define T_CLIENT_CITIZEN "wakks-citizen"
#define T_CLIENT_CASEWORKER "wakks-caseworker"

static const id_unit t_units[] = {
	{ .id = "jobcenter", .name = "Jobcenter" },
	{ .id = "borgerservice", .name = "Borgerservice" },
};
static const char *const t_idp_ids[] = { "mitid", "adfs-varde" };
static const id_group_map t_group_map[] = {
	{ .group = "varde-jobcenter", .unit_id = "jobcenter" },
	{ .group = "VARDE-BORGERSERVICE", .unit_id = "borgerservice" },
};
static const id_tenant t_tenant = {
	.id = "varde", .name = "Varde Kommune", .cvr = "29189919",
	.units = t_units, .n_units = 2,
	.idp_ids = t_idp_ids, .n_idp_ids = 2,
	.group_map = t_group_map, .n_group_map = 2,
};
static const id_idp t_idp_mitid = {
	.id = "mitid", .issuer = T_ISS_MITID, .client_id = T_CLIENT_CITIZEN,
	.kind = ID_KIND_CITIZEN, .profile = ID_PROFILE_MITID_BROKER,
	.allowed_algs = ID_ALG_ES256 | ID_ALG_RS256, .skew_seconds = 60, .max_age_seconds = 600,
};
static const id_idp t_idp_adfs = {
	.id = "adfs-varde", .issuer = T_ISS_ADFS, .client_id = T_CLIENT_CASEWORKER,
	.kind = ID_KIND_CASEWORKER, .profile = ID_PROFILE_ADFS,
	.allowed_algs = ID_ALG_RS256, .skew_seconds = 60, .max_age_seconds = 600,
};

/* Stops the test function unless expr (evaluated once) returns 0. */
#define REQUIRE_OK(expr)                                  \
	do {                                              \
		int t__rc = (expr);                       \
		CHECK_EQ_INT(t__rc, 0);                   \
		if (t__rc != 0)                           \
			return;                           \
	} while (0)

/* A fresh private directory under TMPDIR; malloc'd path. */
static inline char *t_tempdir(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[512];
	snprintf(tmpl, sizeof tmpl, "%s/wakks-id-test-XXXXXX", base && base[0] ? base : "/tmp");
	char *d = mkdtemp(tmpl);
	return d ? strdup(d) : NULL;
}

static inline void t_rmtree(const char *dir)
{
	char cmd[1024];
	if (!dir)
		return;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static inline devidp *t_devidp(id_profile p, const char *dir)
{
	devidp_config c = {
		.profile = p,
		.issuer = p == ID_PROFILE_ADFS ? T_ISS_ADFS : T_ISS_MITID,
		.client_id = p == ID_PROFILE_ADFS ? T_CLIENT_CASEWORKER : T_CLIENT_CITIZEN,
		.key_dir = dir,
	};
	devidp *d = NULL;
	int rc = devidp_open(&c, &d);
	if (rc != 0)
		fprintf(stderr, "devidp_open: %s\n", id_strerror(rc));
	return d;
}

static inline id_keyset *t_keyset(const char *json)
{
	id_keyset *ks = NULL;
	int rc = id_keyset_parse(json, strlen(json), &ks);
	if (rc != 0)
		fprintf(stderr, "id_keyset_parse: %s\n", id_strerror(rc));
	return ks;
}

static inline void t_hex(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

#endif
