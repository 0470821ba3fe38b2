/* SPDX-License-Identifier: MPL-2.0 */
/* Fuzz target for what the relay parses from identity providers beyond tokens. The first input
 * byte selects what the rest is:
 *   0  a discovery document for the issuer https://idp.example/op
 *   1  a Cache-Control header value
 *   2  a claims payload checked as if its signature had verified, for an Entra ID provider
 *      (oid, tid, groups or app roles, group overage)
 *   3  a private JWK for a private_key_jwt client assertion */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity_internal.h"

#define FUZZ_NOW ((int64_t)1780000000)

static const id_unit units[] = { { .id = "jobcenter", .name = "Jobcenter" } };
static const char *const idp_ids[] = { "entra" };
static const id_group_map group_map[] = {
	{ .group = "0b2ad6e4-5f2a-4c5e-a1e3-6d4c1d6f0a11", .unit_id = "jobcenter" } };
static const id_tenant tenant = { .id = "vejle", .name = "Vejle Kommune", .cvr = "29189129",
				  .units = units, .n_units = 1, .idp_ids = idp_ids, .n_idp_ids = 1,
				  .group_map = group_map, .n_group_map = 1 };
static const id_idp idp_entra = { .id = "entra", .issuer = "https://login.example/t/v2.0",
				  .client_id = "wakks", .kind = ID_KIND_CASEWORKER,
				  .profile = ID_PROFILE_ENTRA, .allowed_algs = ID_ALG_RS256,
				  .skew_seconds = 60, .max_age_seconds = 600, .required_tid = "t" };
static uint8_t pk[ID_PUBLIC_KEY_BYTES], challenge[ID_CHALLENGE_BYTES];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned mode = data[0] % 4;
	data++;
	size--;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	switch (mode) {
	case 0: {
		id_discovery d;
		if (id_discovery_parse(s, size, "https://idp.example/op", false, &d) == 0 &&
		    (strcmp(d.issuer, "https://idp.example/op") != 0 ||
		     !id_url_acceptable(d.jwks_uri, false) ||
		     !id_url_acceptable(d.authorization_endpoint, false) ||
		     (d.token_endpoint[0] && !id_url_acceptable(d.token_endpoint, false))))
			abort();
		break;
	}
	case 1: {
		int64_t age = id_cache_max_age(s);
		if (age < -1 || age > 9999999999LL)
			abort();
		break;
	}
	case 2: {
		id_verified v;
		int rc = id__verify_claims(&idp_entra, &tenant, data, size, pk, challenge, FUZZ_NOW, &v);
		if (rc == 0 && (v.person_id[0] == 0 || v.n_units == 0 || v.n_units > ID_MAX_UNITS))
			abort();
		break;
	}
	default: {
		char *a = NULL;
		if (id_client_assertion(s, size, NULL, "wakks", "https://idp.example/op/token", FUZZ_NOW,
					&a) == 0 && (!a || !strchr(a, '.')))
			abort();
		free(a);
		break;
	}
	}
	free(s);
	return 0;
}
