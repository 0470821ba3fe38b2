/* SPDX-License-Identifier: MPL-2.0 */
/* Claim profiles: the MitID-broker profile for citizens, the AD FS and Entra ID profiles for
 * caseworkers. The claim names real providers send are documented in docs/identity-providers.md. */
#include <string.h>

#include "identity_internal.h"

#define NSIS_PREFIX "https://data.gov.dk/concept/core/nsis/"

/* Parses an NSIS assurance URI: NSIS_PREFIX [ "loa/" | "ial/" | "aal/" ] ("Low" | "Substantial"
 * | "High"). @return the level, or ID_LOA_NONE if the value is not such a URI. */
static id_loa nsis_level(const char *s)
{
	size_t p = sizeof NSIS_PREFIX - 1;
	if (strncmp(s, NSIS_PREFIX, p) != 0)
		return ID_LOA_NONE;
	s += p;
	if (strncmp(s, "loa/", 4) == 0 || strncmp(s, "ial/", 4) == 0 || strncmp(s, "aal/", 4) == 0)
		s += 4;
	if (strcmp(s, "Low") == 0)
		return ID_LOA_LOW;
	if (strcmp(s, "Substantial") == 0)
		return ID_LOA_SUBSTANTIAL;
	if (strcmp(s, "High") == 0)
		return ID_LOA_HIGH;
	return ID_LOA_NONE;
}

/* The lowest level among the assurance claims read; at least one must be present. */
static int assurance(const id_idp *idp, const json_t *claims, id_loa *out)
{
	static const char *const defaults[] = { "loa", "ial", NULL };
	const char *const configured[] = { idp->assurance_claim, NULL };
	const char *const *names = idp->assurance_claim ? configured : defaults;
	id_loa lowest = ID_LOA_HIGH;
	size_t seen = 0;
	for (size_t i = 0; names[i]; i++) {
		const char *s;
		if (id__json_string(claims, names[i], &s, NULL, ID_ERR_ASSURANCE_MISSING) != 0)
			return ID_ERR_ASSURANCE_MISSING;
		if (!s)
			continue;
		id_loa l = nsis_level(s);
		if (l == ID_LOA_NONE)
			return ID_ERR_ASSURANCE_MISSING;
		if (l < lowest)
			lowest = l;
		seen++;
	}
	/* A provider that states assurance only in acr (OIDC Core 2: the level it met of the
	 * acr_values asked for) answers with the NSIS URI there. */
	if (seen == 0 && !idp->assurance_claim) {
		const char *s;
		if (id__json_string(claims, "acr", &s, NULL, ID_ERR_ASSURANCE_MISSING) != 0 || !s)
			return ID_ERR_ASSURANCE_MISSING;
		if ((lowest = nsis_level(s)) == ID_LOA_NONE)
			return ID_ERR_ASSURANCE_MISSING;
		seen++;
	}
	if (seen == 0)
		return ID_ERR_ASSURANCE_MISSING;
	if (lowest < ID_LOA_SUBSTANTIAL)
		return ID_ERR_ASSURANCE_LOW;
	*out = lowest;
	return 0;
}

static bool printable_utf8ish(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static int person_id(const id_idp *idp, const json_t *claims, id_verified *v)
{
	/* The CPR claim's names: the private brokers', then NemLog-in's OpenID Connect profile's. */
	static const char *const cpr_names[] = { "dk.cpr", "mitid.cpr",
						 "https://data.gov.dk/model/core/eid/cprNumber", NULL };
	id_person_type type = idp->person_type ? idp->person_type : ID_PERSON_CPR;
	const char *s = NULL;
	size_t n = 0;
	if (idp->person_claim) {
		if (id__json_string(claims, idp->person_claim, &s, &n, ID_ERR_SUBJECT) != 0)
			return ID_ERR_SUBJECT;
	} else {
		for (size_t i = 0; cpr_names[i] && !s; i++)
			if (id__json_string(claims, cpr_names[i], &s, &n, ID_ERR_SUBJECT) != 0)
				return ID_ERR_SUBJECT;
	}
	if (!s)
		return ID_ERR_SUBJECT;
	v->person_type = type;
	switch (type) {
	case ID_PERSON_CPR:
		return id_cpr_normalize(s, v->person_id) == 0 ? 0 : ID_ERR_SUBJECT;
	case ID_PERSON_MITID_UUID:
		/* 8-4-4-4-12 hex digits, stored in lower case so both spellings hash alike. */
		if (n != 36)
			return ID_ERR_SUBJECT;
		for (size_t i = 0; i < 36; i++) {
			char c = s[i];
			bool dash = i == 8 || i == 13 || i == 18 || i == 23;
			if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
				return ID_ERR_SUBJECT;
			v->person_id[i] = (char)((c >= 'A' && c <= 'F') ? c - 'A' + 'a' : c);
		}
		v->person_id[36] = 0;
		return 0;
	case ID_PERSON_SUB:
		if (n == 0 || n > ID_PERSON_ID_MAX_BYTES || !printable_utf8ish(s, n))
			return ID_ERR_SUBJECT;
		memcpy(v->person_id, s, n + 1);
		return 0;
	default:
		return ID_ERR_CONFIG;
	}
}

static int citizen(const id_idp *idp, const json_t *claims, id_verified *v)
{
	const char *s;
	if (id__json_string(claims, "idp", &s, NULL, ID_ERR_IDP) != 0 || !s || strcmp(s, "mitid") != 0)
		return ID_ERR_IDP;
	if (id__json_string(claims, "identity_type", &s, NULL, ID_ERR_IDENTITY_TYPE) != 0 || !s ||
	    strcmp(s, "private") != 0)
		return ID_ERR_IDENTITY_TYPE;
	int rc = assurance(idp, claims, &v->loa);
	if (rc == 0)
		rc = person_id(idp, claims, v);
	return rc;
}

static int add_units(const id_tenant *t, const char *group, id_verified *v)
{
	for (size_t i = 0; i < t->n_group_map; i++) {
		if (!id__ascii_case_equal(t->group_map[i].group, group))
			continue;
		const char *unit = t->group_map[i].unit_id;
		bool known = false, have = false;
		for (size_t u = 0; u < t->n_units; u++)
			known |= strcmp(t->units[u].id, unit) == 0;
		for (size_t u = 0; u < v->n_units; u++)
			have |= strcmp(v->units[u], unit) == 0;
		if (!known || have || strlen(unit) > ID_NAME_MAX_BYTES)
			continue;
		if (v->n_units == ID_MAX_UNITS)
			return ID_ERR_GROUPS;
		strcpy(v->units[v->n_units++], unit);
	}
	return 0;
}

/* Entra ID: the directory the token is from, and group overage. When a user is in more groups than
 * fit in a token (200 in a JWT), Entra leaves "groups" out and names a Graph call in
 * "_claim_names"/"_claim_sources" instead; the relay makes no calls on a user's behalf, so the
 * operator must have Entra send only the groups assigned to the application, or app roles. */
static int entra_checks(const id_idp *idp, const json_t *claims, const char *gname)
{
	const char *tid;
	if (idp->required_tid) {
		if (id__json_string(claims, "tid", &tid, NULL, ID_ERR_TID) != 0 || !tid ||
		    strcmp(tid, idp->required_tid) != 0)
			return ID_ERR_TID;
	}
	json_t *names = json_object_get(claims, "_claim_names");
	if (names && (!json_is_object(names) || json_object_get(names, gname)))
		return ID_ERR_GROUP_OVERAGE;
	json_t *has = json_object_get(claims, "hasgroups");
	if (json_is_true(has))
		return ID_ERR_GROUP_OVERAGE;
	return 0;
}

static int caseworker(const id_idp *idp, const id_tenant *t, const json_t *claims, id_verified *v)
{
	const char *s = NULL;
	size_t n = 0;
	int rc = 0;
	if (idp->person_claim || idp->profile == ID_PROFILE_ENTRA) {
		const char *name = idp->person_claim ? idp->person_claim : "oid";
		if (id__json_string(claims, name, &s, &n, ID_ERR_UPN) != 0)
			return ID_ERR_UPN;
	} else if (id__json_string(claims, "upn", &s, &n, ID_ERR_UPN) != 0 ||
		   (!s && id__json_string(claims, "unique_name", &s, &n, ID_ERR_UPN) != 0)) {
		return ID_ERR_UPN;
	}
	if (!s || n == 0 || n > ID_UPN_MAX_BYTES || !printable_utf8ish(s, n))
		return ID_ERR_UPN;
	memcpy(v->person_id, s, n + 1);
	v->person_type = ID_PERSON_UPN;
	v->loa = ID_LOA_NONE;
	if (strlen(t->id) > ID_NAME_MAX_BYTES)
		return ID_ERR_CONFIG;
	strcpy(v->tenant_id, t->id);

	const char *gname = idp->groups_claim ? idp->groups_claim : "groups";
	if (idp->profile == ID_PROFILE_ENTRA) {
		if ((rc = entra_checks(idp, claims, gname)) != 0)
			return rc;
	}
	json_t *g = json_object_get(claims, gname);
	/* AD FS claim rules commonly emit the role claim type as "group". */
	if (!g && !idp->groups_claim && idp->profile == ID_PROFILE_ADFS)
		g = json_object_get(claims, "group");
	if (!g)
		return ID_ERR_NO_UNIT;
	if (json_is_string(g)) { /* AD FS sends a single value as a string */
		if (strlen(json_string_value(g)) != json_string_length(g))
			return ID_ERR_GROUPS;
		rc = add_units(t, json_string_value(g), v);
	} else if (json_is_array(g)) {
		if (json_array_size(g) > ID_MAX_GROUPS)
			return ID_ERR_GROUPS;
		size_t i;
		json_t *e;
		json_array_foreach(g, i, e) {
			if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e))
				return ID_ERR_GROUPS;
			if ((rc = add_units(t, json_string_value(e), v)) != 0)
				return rc;
		}
	} else {
		return ID_ERR_GROUPS;
	}
	if (rc == 0 && v->n_units == 0)
		rc = ID_ERR_NO_UNIT;
	return rc;
}

int id__claims_profile(const id_idp *idp, const id_tenant *tenant, const json_t *claims,
		       id_verified *v)
{
	switch (idp->profile) {
	case ID_PROFILE_MITID_BROKER:
		return citizen(idp, claims, v);
	case ID_PROFILE_ADFS:
	case ID_PROFILE_ENTRA:
		return caseworker(idp, tenant, claims, v);
	default:
		return ID_ERR_CONFIG;
	}
}
