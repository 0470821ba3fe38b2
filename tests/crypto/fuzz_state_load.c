/* SPDX-License-Identifier: MPL-2.0 */
/* Fuzz target: serialised session state, as read back from storage. The input goes to the plain
 * state parser (after the AEAD, the parser is what a corrupted or downgraded store reaches) and to
 * wc_session_unseal. Oracles: a state that loads serialises back to the same bytes; a loaded
 * session can encrypt (if it has a sending chain) and be sealed and unsealed again.
 * Corpus: tests/crypto/corpus/state_load/, written by building this file with
 * -DFUZZ_CORPUS_MAIN and running it with that directory as argument. */
#include <stdio.h>

#include "fuzz_sessions.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[WC_STORAGE_KEY_BYTES] = {1, 2, 3};
	static uint8_t env[WC_ENVELOPE_OVERHEAD_MAX + 512];
	static int ready;
	wc_session *s = NULL, *back = NULL;
	if (!ready) {
		if (wc_init() != WC_OK)
			abort();
		ready = 1;
	}
	if (wc__session_deserialize(data, size, &s) == WC_OK) {
		size_t n = wc__session_serialized_size(s), len;
		uint8_t *again = malloc(n), *sealed = malloc(wc_session_sealed_size(s));
		if (!again || !sealed)
			abort();
		wc__session_serialize(s, again);
		if (n != size || memcmp(again, data, size) != 0)
			abort(); /* not a round trip */
		if (wc_session_seal(s, key, sealed, wc_session_sealed_size(s), &len) != WC_OK ||
		    wc_session_unseal(key, sealed, len, &back) != WC_OK)
			abort();
		wc_session_free(back);
		if (wc_session_encrypt(s, (const uint8_t *)"x", 1, env, sizeof env, &len) == WC_OK &&
		    len != wc_session_envelope_size(s, 1))
			abort(); /* size promised by wc_session_envelope_size */
		free(again);
		free(sealed);
		wc_session_free(s);
	}
	s = NULL;
	if (wc_session_unseal(key, data, size, &s) == WC_OK)
		wc_session_free(s);
	return 0;
}

#ifdef FUZZ_CORPUS_MAIN
static void put_state(const char *dir, const char *name, const wc_session *s)
{
	char path[4096];
	size_t n = wc__session_serialized_size(s);
	uint8_t *buf = malloc(n);
	wc__session_serialize(s, buf);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, n, f) != n)
		abort();
	fclose(f);
	free(buf);
}

int main(int argc, char **argv)
{
	uint8_t env[1024], pt[1024];
	size_t len, n;
	if (argc != 2)
		return 1;
	fz_keys();
	wc_session *a = fz_alice_session();
	put_state(argv[1], "initiator-new", a);
	wc_session *b = fz_bob_session(a);
	put_state(argv[1], "responder-new", b);
	/* Three skipped keys at Bob, a reply so Alice leaves the prekey phase. */
	for (int i = 0; i < 4; i++)
		if (wc_session_encrypt(a, (const uint8_t *)"m", 1, env, sizeof env, &len) != WC_OK)
			return 1;
	if (wc_session_decrypt(b, env, len, pt, sizeof pt, &n) != WC_OK ||
	    wc_session_encrypt(b, (const uint8_t *)"r", 1, env, sizeof env, &len) != WC_OK ||
	    wc_session_decrypt(a, env, len, pt, sizeof pt, &n) != WC_OK)
		return 1;
	put_state(argv[1], "responder-skipped", b);
	put_state(argv[1], "initiator-ratcheted", a);
	wc_session_free(a);
	wc_session_free(b);
	return 0;
}
#endif
