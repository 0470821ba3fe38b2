/* SPDX-License-Identifier: MPL-2.0 */
/* Consistency checks of the in-memory identity provider and tenant configuration. */
#include <string.h>

#include "identity_internal.h"
#include "wakks_protocol.h"

/* Identity-provider ids: configuration names. */
static bool name_ok(const char *s)
{
	if (!s)
		return false;
	size_t n = strlen(s);
	if (n == 0 || n > ID_NAME_MAX_BYTES)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

/* Tenant and unit ids travel on the wire: the protocol's one slug rule. */
static bool slug_ok(const char *s)
{
	return s && proto_slug_valid(s, strlen(s));
}

int id_idp_validate(const id_idp *idp)
{
	if (!idp || !name_ok(idp->id) || !idp->issuer || !idp->client_id)
		return ID_ERR_CONFIG;
	size_t ilen = strlen(idp->issuer);
	if (ilen == 0 || ilen > ID_ISSUER_MAX_BYTES || idp->client_id[0] == 0)
		return ID_ERR_CONFIG;
	if (idp->allowed_algs == 0 || (idp->allowed_algs & ~(ID_ALG_RS256 | ID_ALG_ES256)) != 0)
		return ID_ERR_CONFIG;
	if (idp->skew_seconds > ID_SKEW_MAX_SECONDS || idp->max_age_seconds == 0 ||
	    idp->max_age_seconds > ID_MAX_AGE_MAX_SECONDS)
		return ID_ERR_CONFIG;
	if (idp->required_tid && idp->profile != ID_PROFILE_ENTRA)
		return ID_ERR_CONFIG;
	switch (idp->profile) {
	case ID_PROFILE_MITID_BROKER:
		if (idp->kind != ID_KIND_CITIZEN)
			return ID_ERR_CONFIG;
		if (idp->person_type != 0 && idp->person_type != ID_PERSON_CPR &&
		    idp->person_type != ID_PERSON_MITID_UUID && idp->person_type != ID_PERSON_SUB)
			return ID_ERR_CONFIG;
		break;
	case ID_PROFILE_ADFS:
		/* AD FS signs ID tokens with its RSA token-signing certificate only. */
		if (idp->kind != ID_KIND_CASEWORKER || idp->allowed_algs != ID_ALG_RS256)
			return ID_ERR_CONFIG;
		if (idp->person_type != 0 && idp->person_type != ID_PERSON_UPN)
			return ID_ERR_CONFIG;
		break;
	case ID_PROFILE_ENTRA:
		/* Entra ID signs with RSA keys (RS256) only, too. */
		if (idp->kind != ID_KIND_CASEWORKER || idp->allowed_algs != ID_ALG_RS256)
			return ID_ERR_CONFIG;
		if (idp->person_type != 0 && idp->person_type != ID_PERSON_UPN)
			return ID_ERR_CONFIG;
		break;
	default:
		return ID_ERR_CONFIG;
	}
	return 0;
}

static bool has_unit(const id_tenant *t, const char *unit_id)
{
	for (size_t i = 0; i < t->n_units; i++)
		if (strcmp(t->units[i].id, unit_id) == 0)
			return true;
	return false;
}

int id_tenant_validate(const id_tenant *t)
{
	if (!t || !slug_ok(t->id) || !t->name || !t->cvr)
		return ID_ERR_CONFIG;
	if (strlen(t->cvr) != 8 || strspn(t->cvr, "0123456789") != 8)
		return ID_ERR_CONFIG;
	if ((t->n_units && !t->units) || (t->n_idp_ids && !t->idp_ids) ||
	    (t->n_group_map && !t->group_map))
		return ID_ERR_CONFIG;
	for (size_t i = 0; i < t->n_units; i++) {
		if (!slug_ok(t->units[i].id) || !t->units[i].name)
			return ID_ERR_CONFIG;
		for (size_t j = 0; j < i; j++)
			if (strcmp(t->units[i].id, t->units[j].id) == 0)
				return ID_ERR_CONFIG;
	}
	for (size_t i = 0; i < t->n_idp_ids; i++)
		if (!name_ok(t->idp_ids[i]))
			return ID_ERR_CONFIG;
	for (size_t i = 0; i < t->n_group_map; i++)
		if (!t->group_map[i].group || !t->group_map[i].group[0] || !t->group_map[i].unit_id ||
		    !has_unit(t, t->group_map[i].unit_id))
			return ID_ERR_CONFIG;
	return 0;
}
