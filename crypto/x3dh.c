/* SPDX-License-Identifier: MPL-2.0 */
/* X3DH key agreement (spec §X3DH): both sides compute SK from three or four X25519 outputs. */
#include "x3dh_internal.h"

/* SK = HKDF(salt = 32 zero bytes, IKM = 0xFF*32 || DH1 || DH2 || DH3 [|| DH4],
 *           info = "wakks/v1/x3dh", L = 32) */
static void x3dh__kdf(const uint8_t *dh, size_t ndh, uint8_t sk[32])
{
	uint8_t ikm[32 + 4 * 32];
	memset(ikm, 0xff, 32);
	memcpy(ikm + 32, dh, ndh * 32);
	(void)wc__hkdf(NULL, 0, ikm, 32 + ndh * 32, WC__DS_X3DH, sk, 32);
	sodium_memzero(ikm, sizeof ikm);
}

int x3dh__initiate(const wc_identity *self, const uint8_t remote_identity[32],
		   const uint8_t spk[32], const uint8_t *opk, const uint8_t ek_sk[32],
		   uint8_t sk_out[32])
{
	uint8_t ik_sk[32], remote_x[32], dh[4 * 32];
	size_t ndh = opk ? 4 : 3;
	int rc = wc__identity_x25519_public(remote_identity, remote_x);
	if (rc != WC_OK)
		goto out;
	wc__identity_x25519_secret(self, ik_sk);
	if ((rc = wc__dh(dh, ik_sk, spk)) != WC_OK ||           /* DH1 = DH(IK_A, SPK_B) */
	    (rc = wc__dh(dh + 32, ek_sk, remote_x)) != WC_OK || /* DH2 = DH(EK_A, IK_B) */
	    (rc = wc__dh(dh + 64, ek_sk, spk)) != WC_OK)        /* DH3 = DH(EK_A, SPK_B) */
		goto out;
	if (opk && (rc = wc__dh(dh + 96, ek_sk, opk)) != WC_OK) /* DH4 = DH(EK_A, OPK_B) */
		goto out;
	x3dh__kdf(dh, ndh, sk_out);
out:
	sodium_memzero(ik_sk, sizeof ik_sk);
	sodium_memzero(dh, sizeof dh);
	return rc;
}

int x3dh__respond(const wc_identity *self, const uint8_t remote_identity[32],
		  const uint8_t spk_sk[32], const uint8_t *opk_sk, const uint8_t ek[32],
		  uint8_t sk_out[32])
{
	uint8_t ik_sk[32], remote_x[32], dh[4 * 32];
	size_t ndh = opk_sk ? 4 : 3;
	int rc = wc__identity_x25519_public(remote_identity, remote_x);
	if (rc != WC_OK)
		goto out;
	wc__identity_x25519_secret(self, ik_sk);
	if ((rc = wc__dh(dh, spk_sk, remote_x)) != WC_OK ||
	    (rc = wc__dh(dh + 32, ik_sk, ek)) != WC_OK ||
	    (rc = wc__dh(dh + 64, spk_sk, ek)) != WC_OK)
		goto out;
	if (opk_sk && (rc = wc__dh(dh + 96, opk_sk, ek)) != WC_OK)
		goto out;
	x3dh__kdf(dh, ndh, sk_out);
out:
	sodium_memzero(ik_sk, sizeof ik_sk);
	sodium_memzero(dh, sizeof dh);
	return rc;
}
