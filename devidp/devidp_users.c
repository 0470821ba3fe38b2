/* SPDX-License-Identifier: MPL-2.0 */
/* The demo people of `make run`: made-up names, CPR numbers and UUIDs. */
#include <string.h>

#include "devidp_internal.h"

#define NSIS_LOA_SUBSTANTIAL "https://data.gov.dk/concept/core/nsis/loa/Substantial"
#define NSIS_LOA_HIGH "https://data.gov.dk/concept/core/nsis/loa/High"

static const devidp_user demo_users[] = {
	{ .login = "anna", .display_name = "Anna Jensen", .kind = ID_KIND_CITIZEN,
	  .cpr = "0503841234", .mitid_uuid = "5f0c6a8e-3b1d-4c2a-9e7f-1a2b3c4d5e6f",
	  .loa = NSIS_LOA_SUBSTANTIAL },
	{ .login = "bo", .display_name = "Bo Nielsen", .kind = ID_KIND_CITIZEN,
	  .cpr = "1711725678", .mitid_uuid = "8d2e4f60-7a1b-4c3d-8e9f-0a1b2c3d4e5f",
	  .loa = NSIS_LOA_HIGH },
	{ .login = "camilla", .display_name = "Camilla Holm", .kind = ID_KIND_CASEWORKER,
	  .upn = "camilla.holm@varde.dk", .groups = "varde-jobcenter,varde-alle-medarbejdere" },
	{ .login = "dennis", .display_name = "Dennis Lund", .kind = ID_KIND_CASEWORKER,
	  .upn = "dennis.lund@varde.dk", .groups = "varde-jobcenter" },
	/* A colleague who joins the jobcenter's group later (history for new colleagues). */
	{ .login = "emma", .display_name = "Emma Skov", .kind = ID_KIND_CASEWORKER,
	  .upn = "emma.skov@varde.dk", .groups = "varde-jobcenter" },
};

const devidp_user *devidp_demo_users(size_t *n)
{
	if (n)
		*n = sizeof demo_users / sizeof demo_users[0];
	return demo_users;
}

const devidp_user *devidp_demo_user(const char *login)
{
	if (!login)
		return NULL;
	for (size_t i = 0; i < sizeof demo_users / sizeof demo_users[0]; i++)
		if (strcmp(demo_users[i].login, login) == 0)
			return &demo_users[i];
	return NULL;
}
