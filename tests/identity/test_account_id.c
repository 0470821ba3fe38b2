/* SPDX-License-Identifier: MPL-2.0 */
/* Account identifiers: the key file, CPR normalisation, and the domain separation between the
 * identifier kinds (vectors with exact values are in test_vectors.c). */
#include <fcntl.h>
#include <sys/stat.h>

#include "test.h"
#include "id_test_util.h"

static void test_key_file(void)
{
	char *dir = t_tempdir();
	REQUIRE(dir != NULL);
	char path[600];
	snprintf(path, sizeof path, "%s/account-id.key", dir);
	uint8_t k1[32], k2[32], zero[32] = { 0 };
	REQUIRE_OK(id_account_key_load(path, k1));
	CHECK(memcmp(k1, zero, 32) != 0);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 32);
	REQUIRE_OK(id_account_key_load(path, k2));
	CHECK_MEM(k1, k2, 32);
	CHECK(chmod(path, 0640) == 0);
	CHECK_EQ_INT(id_account_key_load(path, k2), ID_ERR_KEYFILE);
	CHECK(chmod(path, 0600) == 0);
	CHECK(truncate(path, 31) == 0);
	CHECK_EQ_INT(id_account_key_load(path, k2), ID_ERR_KEYFILE);
	char missing[700];
	snprintf(missing, sizeof missing, "%s/no/such/dir/key", dir);
	CHECK_EQ_INT(id_account_key_load(missing, k2), ID_ERR_IO);
	t_rmtree(dir);
	free(dir);
}

static void test_cpr_normalize(void)
{
	char out[11];
	CHECK_EQ_INT(id_cpr_normalize("0503841234", out), 0);
	CHECK(strcmp(out, "0503841234") == 0);
	CHECK_EQ_INT(id_cpr_normalize("050384-1234", out), 0);
	CHECK(strcmp(out, "0503841234") == 0);
	CHECK_EQ_INT(id_cpr_normalize("6503841234", out), 0); /* replacement number, day + 60 */
	CHECK_EQ_INT(id_cpr_normalize("3213841234", out), ID_ERR_CPR);
	CHECK_EQ_INT(id_cpr_normalize("0500841234", out), ID_ERR_CPR);
	CHECK_EQ_INT(id_cpr_normalize("0003841234", out), ID_ERR_CPR);
	CHECK_EQ_INT(id_cpr_normalize("050384123", out), ID_ERR_CPR);
	CHECK_EQ_INT(id_cpr_normalize("05038412345", out), ID_ERR_CPR);
	CHECK_EQ_INT(id_cpr_normalize("05038-41234", out), ID_ERR_CPR);
	CHECK_EQ_INT(id_cpr_normalize("050384 1234", out), ID_ERR_CPR);
	CHECK_EQ_INT(id_cpr_normalize("", out), ID_ERR_CPR);
	CHECK_EQ_INT(id_cpr_normalize(NULL, out), ID_ERR_CPR);
}

static void test_domain_separation(void)
{
	uint8_t key[32], key2[32], a[16], b[16];
	memset(key, 1, 32);
	memset(key2, 2, 32);
	id_verified v;
	memset(&v, 0, sizeof v);
	v.kind = ID_KIND_CITIZEN;
	strcpy(v.issuer, "https://a.example");
	strcpy(v.person_id, "0503841234");
	v.person_type = ID_PERSON_CPR;
	REQUIRE_OK(id_citizen_account_id(key, &v, a));
	/* Same string as a sub: a different account. */
	v.person_type = ID_PERSON_SUB;
	REQUIRE_OK(id_citizen_account_id(key, &v, b));
	CHECK(memcmp(a, b, 16) != 0);
	/* CPR ids do not depend on the issuer; sub ids do. */
	v.person_type = ID_PERSON_CPR;
	strcpy(v.issuer, "https://b.example");
	REQUIRE_OK(id_citizen_account_id(key, &v, b));
	CHECK_MEM(a, b, 16);
	v.person_type = ID_PERSON_SUB;
	REQUIRE_OK(id_citizen_account_id(key, &v, a));
	strcpy(v.issuer, "https://a.example");
	REQUIRE_OK(id_citizen_account_id(key, &v, b));
	CHECK(memcmp(a, b, 16) != 0);
	/* Another key, another id. */
	v.person_type = ID_PERSON_CPR;
	REQUIRE_OK(id_citizen_account_id(key, &v, a));
	REQUIRE_OK(id_citizen_account_id(key2, &v, b));
	CHECK(memcmp(a, b, 16) != 0);
	/* Caseworkers: UPN case does not matter, the tenant does. */
	REQUIRE_OK(id_caseworker_account_id(key, "varde", "Camilla.Holm@VARDE.dk", a));
	REQUIRE_OK(id_caseworker_account_id(key, "varde", "camilla.holm@varde.dk", b));
	CHECK_MEM(a, b, 16);
	REQUIRE_OK(id_caseworker_account_id(key, "esbjerg", "camilla.holm@varde.dk", b));
	CHECK(memcmp(a, b, 16) != 0);
	/* Length prefixes: moving bytes between tenant and UPN changes the id. */
	REQUIRE_OK(id_caseworker_account_id(key, "ab", "c@x", a));
	REQUIRE_OK(id_caseworker_account_id(key, "a", "bc@x", b));
	CHECK(memcmp(a, b, 16) != 0);
	CHECK_EQ_INT(id_caseworker_account_id(key, "", "c@x", a), ID_ERR_INVALID_ARG);
	CHECK_EQ_INT(id_cpr_account_id(key, "12", a), ID_ERR_CPR);
	v.kind = ID_KIND_CASEWORKER;
	CHECK_EQ_INT(id_citizen_account_id(key, &v, a), ID_ERR_INVALID_ARG);
}

int main(void)
{
	RUN(test_key_file);
	RUN(test_cpr_normalize);
	RUN(test_domain_separation);
	return TEST_RESULT();
}
