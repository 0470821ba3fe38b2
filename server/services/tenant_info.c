/* SPDX-License-Identifier: MPL-2.0 */
#include "services/tenant_info.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "relay_state.h"
#include "services/identity_binding.h"

/* One citizen provider as a client verifies against it: issuer, expected audience, person claim,
 * allowed algorithms and the keys the relay holds now. */
static json_t *provider_json(const struct relay_idp *p)
{
	char *jwks = id_keyset_public_json(p->keys);
	json_error_t jerr;
	json_t *keys = jwks ? json_loads(jwks, 0, &jerr) : NULL;
	free(jwks);
	json_t *algs = json_array();
	if (p->idp.allowed_algs & ID_ALG_RS256)
		json_array_append_new(algs, json_string("RS256"));
	if (p->idp.allowed_algs & ID_ALG_ES256)
		json_array_append_new(algs, json_string("ES256"));
	if (!keys || !algs) {
		json_decref(keys);
		json_decref(algs);
		return NULL;
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", p->cfg->id, "issuer", p->issuer,
			 "client_id", p->cfg->audience, "person_claim",
			 p->idp.person_claim ? p->idp.person_claim : "dk.cpr", "algs", algs, "jwks",
			 keys);
}

char *relay_tenant_info_json(struct relay *r, const char *tenant)
{
	const struct relay_tenant_config *t = relay_config_tenant(&r->cfg, tenant);
	if (!t)
		return NULL;
	json_t *idps = json_array();
	for (int i = 0; idps && i < t->idp_count; i++) {
		struct relay_idp *p = relay_identity_idp_by_id(r, t->idps[i]);
		if (!p || p->idp.kind != ID_KIND_CITIZEN || !p->keys)
			continue;
		json_t *one = provider_json(p);
		if (one)
			json_array_append_new(idps, one);
	}
	json_t *doc = idps ? json_pack("{s:s, s:s, s:I, s:b, s:o}", "id", t->id, "name", t->name,
				      "history_days", (json_int_t)relay_tenant_history_days(t),
				      "read_receipts", !t->read_receipts_off, "citizen_idps", idps)
			   : NULL;
	char *out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	return out;
}
