/* SPDX-License-Identifier: MPL-2.0 */
/* id_token_issuer: the unverified iss of a compact token, and each way a token can fail to have
 * one. */
#include <sodium.h>

#include "test.h"
#include "wakks_identity.h"

/* "e30" (base64url of "{}") as header, the given claims as payload, "sig" as signature. */
static void make_token(const char *claims, char *out, size_t cap)
{
	char b64[256];
	sodium_bin2base64(b64, sizeof b64, (const unsigned char *)claims, strlen(claims),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(out, cap, "e30.%s.sig", b64);
}

static int issuer_of(const char *token, char *out, size_t cap)
{
	return id_token_issuer(token, strlen(token), out, cap);
}

static void test_good_token(void)
{
	char t[512], iss[64];
	make_token("{\"iss\":\"https://idp.example/op\",\"sub\":\"x\"}", t, sizeof t);
	CHECK_EQ_INT(issuer_of(t, iss, sizeof iss), 0);
	CHECK(strcmp(iss, "https://idp.example/op") == 0);
	/* Only the first two dots count: the signature segment is not looked at. */
	char longer[600];
	snprintf(longer, sizeof longer, "%s.more.dots", t);
	CHECK_EQ_INT(issuer_of(longer, iss, sizeof iss), 0);
	CHECK(strcmp(iss, "https://idp.example/op") == 0);
	/* len bounds the token: the same text cut before its second dot has no payload. */
	CHECK_EQ_INT(id_token_issuer(t, 4, iss, sizeof iss), ID_ERR_TOKEN_SHAPE);
}

static void test_no_dots(void)
{
	char iss[64] = "untouched";
	CHECK_EQ_INT(issuer_of("", iss, sizeof iss), ID_ERR_TOKEN_SHAPE);
	CHECK_EQ_INT(issuer_of("eyJpc3MiOiJ4In0", iss, sizeof iss), ID_ERR_TOKEN_SHAPE);
	CHECK_EQ_INT(issuer_of("e30.eyJpc3MiOiJ4In0", iss, sizeof iss), ID_ERR_TOKEN_SHAPE);
	CHECK_EQ_INT(id_token_issuer(NULL, 0, iss, sizeof iss), ID_ERR_TOKEN_SHAPE);
	CHECK(strcmp(iss, "untouched") == 0);
}

static void test_bad_base64(void)
{
	char iss[64] = "untouched";
	CHECK_EQ_INT(issuer_of("e30.eyJpc3MiOiJ4In0=.sig", iss, sizeof iss), ID_ERR_TOKEN_BASE64); /* padding */
	CHECK_EQ_INT(issuer_of("e30.eyJpc3Mi+iJ4In0.sig", iss, sizeof iss), ID_ERR_TOKEN_BASE64); /* '+' */
	CHECK_EQ_INT(issuer_of("e30.eyJpc3MiOiJ4In1.sig", iss, sizeof iss), ID_ERR_TOKEN_BASE64); /* trailing bits */
	CHECK_EQ_INT(issuer_of("e30.e.sig", iss, sizeof iss), ID_ERR_TOKEN_BASE64);               /* one char */
	CHECK(strcmp(iss, "untouched") == 0);
}

static void test_no_iss(void)
{
	char t[512], iss[64] = "untouched";
	make_token("{\"sub\":\"x\"}", t, sizeof t);
	CHECK_EQ_INT(issuer_of(t, iss, sizeof iss), ID_ERR_ISS);
	make_token("{\"iss\":42}", t, sizeof t);
	CHECK_EQ_INT(issuer_of(t, iss, sizeof iss), ID_ERR_ISS);
	make_token("{\"iss\":null}", t, sizeof t);
	CHECK_EQ_INT(issuer_of(t, iss, sizeof iss), ID_ERR_ISS);
	make_token("[\"iss\"]", t, sizeof t);
	CHECK_EQ_INT(issuer_of(t, iss, sizeof iss), ID_ERR_PAYLOAD_JSON);
	make_token("{\"iss\":", t, sizeof t);
	CHECK_EQ_INT(issuer_of(t, iss, sizeof iss), ID_ERR_PAYLOAD_JSON);
	CHECK_EQ_INT(issuer_of("e30..sig", iss, sizeof iss), ID_ERR_PAYLOAD_JSON); /* empty payload */
	CHECK(strcmp(iss, "untouched") == 0);
}

static void test_too_long_issuer(void)
{
	char t[512], iss[8] = "keep";
	make_token("{\"iss\":\"1234567\"}", t, sizeof t);
	CHECK_EQ_INT(issuer_of(t, iss, sizeof iss), 0); /* 7 characters and the NUL fit in 8 */
	CHECK(strcmp(iss, "1234567") == 0);
	memcpy(iss, "keep", 5);
	make_token("{\"iss\":\"12345678\"}", t, sizeof t);
	CHECK_EQ_INT(issuer_of(t, iss, sizeof iss), ID_ERR_ISS);
	CHECK(strcmp(iss, "keep") == 0);
	CHECK_EQ_INT(issuer_of(t, iss, 0), ID_ERR_INVALID_ARG);
	CHECK_EQ_INT(issuer_of(t, NULL, 8), ID_ERR_INVALID_ARG);
	CHECK_EQ_INT(id_token_issuer(NULL, 3, iss, sizeof iss), ID_ERR_INVALID_ARG);
}

int main(void)
{
	RUN(test_good_token);
	RUN(test_no_dots);
	RUN(test_bad_base64);
	RUN(test_no_iss);
	RUN(test_too_long_issuer);
	return TEST_RESULT();
}
