/* SPDX-License-Identifier: MPL-2.0 */
#include "bench_idp.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wakks_devidp.h"
#include "wakks_identity.h"

/* Token lifetime: registration of many devices may take minutes on a loaded machine. */
#define BENCH_IDP_TOKEN_SECONDS 600

struct bench_idp {
	devidp *dev;
	/* A devidp instance is not to be used from two threads at once; minting is short next to a
	 * registration round trip, so the load generator's threads take turns. */
	pthread_mutex_t lock;
};

static int write_jwks(const devidp *d, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "%s\n", devidp_jwks_json(d));
	return fclose(f) == 0 ? 0 : -1;
}

struct bench_idp *bench_idp_open(const char *dir)
{
	char jpath[512];
	snprintf(jpath, sizeof jpath, "%s/idp.jwks.json", dir);
	struct bench_idp *idp = calloc(1, sizeof *idp);
	if (!idp)
		return NULL;
	pthread_mutex_init(&idp->lock, NULL);
	devidp_config cfg = {
		.profile = ID_PROFILE_MITID_BROKER,
		.issuer = BENCH_IDP_ISSUER,
		.client_id = BENCH_IDP_AUDIENCE,
		.key_dir = dir,
		.token_lifetime_seconds = BENCH_IDP_TOKEN_SECONDS,
	};
	if (devidp_open(&cfg, &idp->dev) != 0 || write_jwks(idp->dev, jpath) != 0) {
		bench_idp_free(idp);
		return NULL;
	}
	return idp;
}

void bench_idp_free(struct bench_idp *idp)
{
	if (!idp)
		return;
	devidp_close(idp->dev);
	pthread_mutex_destroy(&idp->lock);
	free(idp);
}

/* A valid, distinct CPR number (DDMMYY-SSSS, day 01-28) for each person number. */
static void cpr_for(uint64_t person, char out[11])
{
	unsigned seq = (unsigned)(person % 10000u);
	uint64_t rest = person / 10000u;
	unsigned yy = (unsigned)(rest % 100u);
	rest /= 100u;
	unsigned mm = (unsigned)(rest % 12u) + 1u;
	unsigned dd = (unsigned)(rest / 12u % 28u) + 1u;
	snprintf(out, 11, "%02u%02u%02u%04u", dd, mm, yy, seq);
}

size_t bench_idp_token(struct bench_idp *idp, uint64_t person, const uint8_t ik_pk[32],
		       const uint8_t challenge[32], char *out, size_t cap)
{
	char nonce[ID_NONCE_BUF_BYTES], cpr[11], uuid[40];
	if (id_nonce_compute(BENCH_IDP_ISSUER, ik_pk, challenge, nonce) != 0)
		return 0;
	cpr_for(person, cpr);
	snprintf(uuid, sizeof uuid, "%08x-0000-4000-8000-%012llx", (unsigned)(person >> 32),
		 (unsigned long long)(person & 0xffffffffffffull));
	/* The provider's demo citizen (assurance Substantial) made into one made-up citizen per
	 * person number; the claims the benchmark never sent (ial, amr) are removed. */
	char extra[512];
	int n = snprintf(extra, sizeof extra,
			 "{\"sub\":\"%s\",\"mitid.uuid\":\"%s\",\"dk.cpr\":\"%s\","
			 "\"loa\":\"https://data.gov.dk/concept/core/nsis/loa/Substantial\","
			 "\"name\":\"Bench Citizen\",\"ial\":null,\"amr\":null}",
			 uuid, uuid, cpr);
	if (n <= 0 || (size_t)n >= sizeof extra)
		return 0;
	devidp_mint_opts o = { .nonce = nonce, .extra_claims_json = extra };
	char *token = NULL;
	pthread_mutex_lock(&idp->lock);
	int rc = devidp_mint(idp->dev, &o, (int64_t)time(NULL), &token);
	pthread_mutex_unlock(&idp->lock);
	if (rc != 0)
		return 0;
	size_t tl = strlen(token);
	if (tl >= cap)
		tl = 0;
	else
		memcpy(out, token, tl + 1);
	free(token);
	return tl;
}
