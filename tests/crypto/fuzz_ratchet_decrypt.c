/* SPDX-License-Identifier: MPL-2.0 */
/* Fuzz target: an envelope from the network, fed to wc_session_decrypt (on a fresh copy of a
 * fixed responder session), to wc_session_respond and to wc_envelope_peek. Oracles besides the
 * sanitizers: an envelope that decrypts once never decrypts twice (replay), and a failed decrypt
 * leaves the session byte-identical.
 * Corpus: tests/crypto/corpus/ratchet_decrypt/, written by building this file with
 * -DFUZZ_CORPUS_MAIN and running it with that directory as argument. */
#include <stdio.h>

#include "fuzz_sessions.h"

static uint8_t *bob_state;
static size_t bob_state_len;
static uint8_t pt[WC_PLAINTEXT_MAX_BYTES + 4096];

static void setup(void)
{
	fz_keys();
	wc_session *a = fz_alice_session();
	wc_session *b = fz_bob_session(a);
	bob_state_len = wc__session_serialized_size(b);
	bob_state = malloc(bob_state_len);
	if (!bob_state)
		abort();
	wc__session_serialize(b, bob_state);
	wc_session_free(a);
	wc_session_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	wc_session *b = NULL, *r = NULL;
	size_t n;
	if (!ready) {
		setup();
		ready = 1;
	}
	if (wc__session_deserialize(bob_state, bob_state_len, &b) != WC_OK)
		abort();
	int rc = wc_session_decrypt(b, data, size, pt, sizeof pt, &n);
	if (rc == WC_OK) {
		if (wc_session_decrypt(b, data, size, pt, sizeof pt, &n) == WC_OK)
			abort(); /* replay accepted */
	} else {
		uint8_t *now = malloc(wc__session_serialized_size(b));
		if (!now)
			abort();
		wc__session_serialize(b, now);
		if (wc__session_serialized_size(b) != bob_state_len ||
		    memcmp(now, bob_state, bob_state_len) != 0)
			abort(); /* a failed decrypt changed the session */
		free(now);
	}
	wc_session_free(b);

	wc_one_time_prekey opk = fz_opk;
	if (wc_session_respond(&fz_bob, &fz_spk, &opk, data, size, &r, pt, sizeof pt, &n) == WC_OK)
		wc_session_free(r);
	r = NULL;
	if (wc_session_respond(&fz_bob, &fz_spk, NULL, data, size, &r, pt, sizeof pt, &n) == WC_OK)
		wc_session_free(r);
	wc_envelope_info info;
	if (wc_envelope_peek(data, size, &info) == WC_OK && info.is_prekey && size < 75)
		abort(); /* a prekey envelope cannot be shorter than its prekey part */
	return 0;
}

#ifdef FUZZ_CORPUS_MAIN
static void put(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n)
		abort();
	fclose(f);
}

int main(int argc, char **argv)
{
	static uint8_t env[WC_PLAINTEXT_MAX_BYTES + 4096];
	size_t len;
	char name[64];
	if (argc != 2)
		return 1;
	fz_keys();
	wc_session *a = fz_alice_session();
	if (wc_session_encrypt(a, (const uint8_t *)"opening", 7, env, sizeof env, &len) != WC_OK)
		return 1;
	put(argv[1], "prekey-n0", env, len);
	static const size_t sizes[] = {0, 5, 255, 256, 1000, 4095, 4096, 9000};
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		memset(pt, 'x', sizes[i]);
		if (wc_session_encrypt(a, pt, sizes[i], env, sizeof env, &len) != WC_OK)
			return 1;
		snprintf(name, sizeof name, "prekey-n%zu-len%zu", i + 1, sizes[i]);
		put(argv[1], name, env, len);
	}
	/* A message envelope (type 2) shape: Alice as if she had received a reply. */
	a->flags &= (uint8_t)~WC__F_PENDING_PREKEY;
	if (wc_session_encrypt(a, (const uint8_t *)"message", 7, env, sizeof env, &len) != WC_OK)
		return 1;
	put(argv[1], "message-n9", env, len);
	put(argv[1], "empty", env, 0);
	put(argv[1], "version-only", (const uint8_t *)"\x01\x02", 2);
	wc_session_free(a);
	return 0;
}
#endif
