/* SPDX-License-Identifier: MPL-2.0 */
/* The web client's Content-Security-Policy as the relay builds it from its configuration: the
 * identity providers' origins join connect-src, and nothing but a plain https origin can reach
 * the header. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "net/http.h"
#include "test.h"

static struct relay_config cfg;

static void add_idp(const char *id, const char *issuer, bool development)
{
	struct relay_idp_config *p = &cfg.idps[cfg.idp_count++];
	memset(p, 0, sizeof *p);
	snprintf(p->id, sizeof p->id, "%s", id);
	snprintf(p->issuer, sizeof p->issuer, "%s", issuer);
	p->development = development;
}

static void strict_policy_without_providers(void)
{
	relay_config_defaults(&cfg);
	char *csp = relay_http_csp_build(&cfg);
	REQUIRE(csp);
	CHECK(strcmp(csp, "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; "
			  "style-src 'self'; img-src 'self' blob: data:; manifest-src 'self'; "
			  "worker-src 'self'; connect-src 'self' blob:; "
			  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'") == 0);
	free(csp);
}

static void provider_origins_join_connect_src(void)
{
	relay_config_defaults(&cfg);
	add_idp("dev-mitid", "https://localhost:8443/dev-idp/dev-mitid", true);
	add_idp("varde-adfs", "https://adfs.varde.dk/adfs", false);
	add_idp("varde-adfs2", "https://adfs.varde.dk/adfs/other", false);
	add_idp("broker", "https://broker.example.dk:8443", false);
	/* Not a plain https origin: never copied into the header. */
	add_idp("evil1", "https://x.dk; script-src *", false);
	add_idp("evil2", "http://plain.example.dk/", false);
	add_idp("evil3", "https://", false);
	char *csp = relay_http_csp_build(&cfg);
	REQUIRE(csp);
	CHECK(strstr(csp, "; connect-src 'self' blob: https://adfs.varde.dk https://broker.example.dk:8443; "
			  "form-action") != NULL);
	CHECK(strstr(csp, "localhost") == NULL);
	CHECK(strstr(csp, "x.dk") == NULL && strstr(csp, "plain") == NULL);
	CHECK(strstr(csp, "script-src *") == NULL);
	free(csp);
}

int main(void)
{
	RUN(strict_policy_without_providers);
	RUN(provider_origins_join_connect_src);
	return TEST_RESULT();
}
