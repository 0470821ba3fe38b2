/* SPDX-License-Identifier: MPL-2.0 */
/* OS2wakks device-side cryptography: identity keys, prekeys, X3DH session setup, the Double
 * Ratchet, per-device envelopes, content records, fan-out, attachments and safety numbers.
 *
 * The normative description, with every byte layout and domain-separation string, is
 * spec/crypto.md; this header states the C contract.
 *
 * Conventions
 * - Every function returning int returns 0 (WC_OK) on success or a negative WC_E_* code.
 *   Verification failures of any kind (bad signature, bad MAC, replay, wrong identity) return
 *   the single code WC_E_VERIFY and never say which check failed.
 * - Out-parameters are written only on success.
 * - Secrets held in the structs below are wiped by the matching *_wipe function; every temporary
 *   secret inside the library is wiped with sodium_memzero before it goes out of scope.
 * - The library does not log and keeps no global state other than libsodium's; a wc_session is
 *   not thread-safe, distinct sessions may be used from distinct threads.
 * - Call wc_init() once before anything else (it calls sodium_init()).
 */
#ifndef WAKKS_CRYPTO_H
#define WAKKS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define WC_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define WC_WARN_UNUSED
#endif

/* ---- Sizes ------------------------------------------------------------------------------- */
#define WC_ID_BYTES 16                 /* account, device, message and conversation ids */
#define WC_PUBLIC_KEY_BYTES 32         /* Ed25519 and X25519 public keys */
#define WC_X25519_SECRET_BYTES 32
#define WC_IDENTITY_SECRET_BYTES 64    /* libsodium Ed25519 secret key: seed || public key */
#define WC_SIGNATURE_BYTES 64
#define WC_STORAGE_KEY_BYTES 32
#define WC_ATTACHMENT_KEY_BYTES 32
#define WC_DIGEST_BYTES 32             /* SHA-256 */
#define WC_SAFETY_NUMBER_DIGITS 60

/* ---- Limits (each quantity a peer controls is bounded; spec/crypto.md §Parameters) --------- */
/* Largest plaintext one envelope carries. Content records carry text and attachment
 * descriptors, never files (those travel as attachments), so 64 KiB is generous; it bounds the
 * size of one send, which carries one envelope per recipient device. */
#define WC_PLAINTEXT_MAX_BYTES 65536
/* Largest gap a single received message may open in one receiving chain. Bounds the work (one
 * HMAC pair per skipped key) a forged or very late header can make us do. Honest gaps are the
 * messages of one chain still in flight or lost, far fewer than this in normal use. */
#define WC_MAX_SKIP 1000
/* Most skipped message keys a session keeps (oldest evicted first). Bounds memory and the size
 * of the sealed state (68 bytes per key). */
#define WC_MAX_SKIPPED_KEYS 2000
/* Fixed per-envelope overhead above the padded plaintext (prekey part, header, AEAD tag). */
#define WC_ENVELOPE_OVERHEAD_MAX (2 + 73 + 40 + 16)

/* ---- Errors ------------------------------------------------------------------------------ */
/* Codes lie in -2001..-2999, apart from every other library of the project (protocol's wire codes
 * are -1..-63), so a crypto result passed on unmapped cannot be mistaken for a relay refusal. */
#define WC_ERRNO_MAP(X)                                                                    \
	X(INVAL, -2001, "invalid argument")                                                \
	X(NOMEM, -2002, "out of memory")                                                   \
	X(VERIFY, -2003, "verification failed")                                            \
	X(FORMAT, -2004, "malformed input")                                                \
	X(VERSION, -2005, "unsupported format version")                                    \
	X(SPACE, -2006, "output buffer too small")                                         \
	X(TOO_LARGE, -2007, "input exceeds a limit")                                       \
	X(SKIP_LIMIT, -2008, "message gap exceeds the skipped-key limit")                  \
	X(PREKEY, -2009, "one-time prekey missing, mismatched or already used")            \
	X(SESSION, -2010, "envelope does not belong to this session")                     \
	X(INIT, -2011, "libsodium initialisation failed")

enum {
	WC_OK = 0,
#define WC__ERR_ENUM(name, code, text) WC_E_##name = (code),
	WC_ERRNO_MAP(WC__ERR_ENUM)
#undef WC__ERR_ENUM
};

/* Static string for a result code; "unknown error" for codes outside the table. */
const char *wc_strerror(int code);

/* Initialises libsodium. Safe to call more than once. @return WC_OK or WC_E_INIT. */
int wc_init(void) WC_WARN_UNUSED;

/* ---- Device identity ----------------------------------------------------------------------- */
/* An Ed25519 key pair. Its X25519 form (libsodium's ed25519 -> curve25519 conversion) is used
 * for Diffie-Hellman; see spec/crypto.md §Identity. */
typedef struct wc_identity {
	uint8_t public_key[WC_PUBLIC_KEY_BYTES];
	uint8_t secret_key[WC_IDENTITY_SECRET_BYTES];
} wc_identity;

int wc_identity_generate(wc_identity *out);
/* Deterministic from a 32-byte seed (crypto_sign_seed_keypair). */
int wc_identity_from_seed(wc_identity *out, const uint8_t seed[32]);
void wc_identity_wipe(wc_identity *id);

/* ---- Prekeys --------------------------------------------------------------------------------- */
typedef struct wc_signed_prekey {
	uint32_t id;
	uint64_t created_ms;
	uint8_t public_key[WC_PUBLIC_KEY_BYTES];    /* X25519 */
	uint8_t secret_key[WC_X25519_SECRET_BYTES];
	uint8_t signature[WC_SIGNATURE_BYTES];      /* Ed25519 by the identity key */
} wc_signed_prekey;

typedef struct wc_one_time_prekey {
	uint32_t id;
	uint8_t public_key[WC_PUBLIC_KEY_BYTES];    /* X25519 */
	uint8_t secret_key[WC_X25519_SECRET_BYTES]; /* all zero once used (wiped) */
} wc_one_time_prekey;

/* Number of bytes signed for a signed prekey (spec/crypto.md §Signed prekey). */
#define WC_SIGNED_PREKEY_MESSAGE_BYTES (22 + 4 + 32 + 8)

int wc_signed_prekey_generate(const wc_identity *identity, uint32_t id, uint64_t created_ms,
			      wc_signed_prekey *out);

/* Verifies a signed prekey exactly as the relay receives it on the wire. Needs only libsodium
 * (crypto_sign_verify_detached) and is what the relay calls on upload.
 * @return WC_OK or WC_E_VERIFY. */
int wc_signed_prekey_verify(const uint8_t identity_public_key[WC_PUBLIC_KEY_BYTES], uint32_t id,
			    const uint8_t public_key[WC_PUBLIC_KEY_BYTES], uint64_t created_ms,
			    const uint8_t signature[WC_SIGNATURE_BYTES]) WC_WARN_UNUSED;

/* Writes the exact signed bytes (WC_SIGNED_PREKEY_MESSAGE_BYTES) into out. */
void wc_signed_prekey_message(uint32_t id, const uint8_t public_key[WC_PUBLIC_KEY_BYTES],
			      uint64_t created_ms, uint8_t out[WC_SIGNED_PREKEY_MESSAGE_BYTES]);

/* Generates count one-time prekeys with ids first_id, first_id+1, ... into out[0..count). */
int wc_one_time_prekeys_generate(uint32_t first_id, size_t count, wc_one_time_prekey *out);

void wc_signed_prekey_wipe(wc_signed_prekey *k);
void wc_one_time_prekey_wipe(wc_one_time_prekey *k);

/* ---- Session setup (X3DH) and the Double Ratchet ---------------------------------------------- */
/* What the relay hands out for one recipient device. */
typedef struct wc_prekey_bundle {
	uint8_t identity_key[WC_PUBLIC_KEY_BYTES];  /* Ed25519 */
	uint32_t signed_prekey_id;
	uint64_t signed_prekey_created_ms;
	uint8_t signed_prekey[WC_PUBLIC_KEY_BYTES];
	uint8_t signed_prekey_signature[WC_SIGNATURE_BYTES];
	int has_one_time_prekey;                    /* 0 when the device's supply ran out */
	uint32_t one_time_prekey_id;
	uint8_t one_time_prekey[WC_PUBLIC_KEY_BYTES];
} wc_prekey_bundle;

/* A pairwise session with one remote device. Opaque; freed (and wiped) by wc_session_free. */
typedef struct wc_session wc_session;

/* Initiator side: verifies the bundle's signed prekey, runs X3DH and initialises the ratchet.
 * Until the first reply arrives, every envelope this session encrypts is a prekey envelope
 * carrying what the responder needs.
 * @return WC_OK, WC_E_INVAL, WC_E_NOMEM, or WC_E_VERIFY (bad signature or unusable key). */
int wc_session_initiate(const wc_identity *self, const wc_prekey_bundle *bundle,
			wc_session **out) WC_WARN_UNUSED;

/* What a receiver can read from an envelope before decrypting it. */
typedef struct wc_envelope_info {
	int is_prekey;                                /* 1 for a prekey (session-opening) envelope */
	/* Only meaningful when is_prekey: */
	uint8_t sender_identity_key[WC_PUBLIC_KEY_BYTES];
	uint8_t base_key[WC_PUBLIC_KEY_BYTES];
	uint32_t signed_prekey_id;
	int has_one_time_prekey;
	uint32_t one_time_prekey_id;
} wc_envelope_info;

/* Parses the unauthenticated outer layer. Nothing here is trusted until a decrypt succeeds.
 * @return WC_OK, WC_E_FORMAT or WC_E_VERSION. */
int wc_envelope_peek(const uint8_t *envelope, size_t len, wc_envelope_info *out) WC_WARN_UNUSED;

/* Upper bound of the plaintext in an envelope of len bytes; size plaintext buffers with it. */
size_t wc_envelope_plaintext_max(size_t len);

/* Responder side: runs X3DH from a prekey envelope and decrypts it. opk must be the one-time
 * prekey the envelope names (NULL when it names none). On success opk->secret_key is wiped: the
 * caller must persist the new session and delete the prekey before acknowledging the envelope.
 * An opk whose secret is already wiped is refused with WC_E_PREKEY. On failure nothing is
 * written and opk is untouched.
 * @return WC_OK, WC_E_INVAL, WC_E_FORMAT, WC_E_VERSION, WC_E_TOO_LARGE, WC_E_SESSION (not a
 *         prekey envelope), WC_E_PREKEY (signed or one-time prekey id mismatch, missing or used
 *         one-time prekey), WC_E_SKIP_LIMIT, WC_E_SPACE, WC_E_NOMEM, WC_E_VERIFY. */
int wc_session_respond(const wc_identity *self, const wc_signed_prekey *spk,
		       wc_one_time_prekey *opk, const uint8_t *envelope, size_t len,
		       wc_session **out, uint8_t *plaintext, size_t plaintext_cap,
		       size_t *plaintext_len) WC_WARN_UNUSED;

/* Size of the envelope wc_session_encrypt produces for plaintext_len bytes. */
size_t wc_session_envelope_size(const wc_session *s, size_t plaintext_len);

/* Encrypts plaintext (padded internally) into one per-device envelope and advances the sending
 * chain. @return WC_OK, WC_E_INVAL, WC_E_TOO_LARGE, WC_E_SPACE. */
int wc_session_encrypt(wc_session *s, const uint8_t *plaintext, size_t plaintext_len,
		       uint8_t *out, size_t out_cap, size_t *out_len) WC_WARN_UNUSED;

/* Decrypts an envelope. The session changes only when this returns WC_OK; a failed call leaves
 * it exactly as it was. Prekey envelopes are accepted when they belong to this session (same
 * base key), else WC_E_SESSION (the caller then uses wc_session_respond).
 * @return WC_OK, WC_E_INVAL, WC_E_FORMAT, WC_E_VERSION, WC_E_SESSION, WC_E_SKIP_LIMIT,
 *         WC_E_SPACE, WC_E_NOMEM, WC_E_VERIFY (forged, corrupted, replayed or wrong identity). */
int wc_session_decrypt(wc_session *s, const uint8_t *envelope, size_t len, uint8_t *plaintext,
		       size_t plaintext_cap, size_t *plaintext_len) WC_WARN_UNUSED;

/* The remote device's Ed25519 identity key this session is bound to. */
void wc_session_remote_identity(const wc_session *s, uint8_t out[WC_PUBLIC_KEY_BYTES]);

/* Frees and wipes; NULL is a no-op. */
void wc_session_free(wc_session *s);

/* Sealed state at rest: XChaCha20-Poly1305 under a device storage key (spec §Session state).
 * wc_session_sealed_size gives the exact size wc_session_seal writes. */
size_t wc_session_sealed_size(const wc_session *s);
int wc_session_seal(const wc_session *s, const uint8_t storage_key[WC_STORAGE_KEY_BYTES],
		    uint8_t *out, size_t out_cap, size_t *out_len) WC_WARN_UNUSED;
/* @return WC_OK, WC_E_INVAL, WC_E_VERIFY (wrong key or tampered), WC_E_VERSION, WC_E_FORMAT,
 *         WC_E_NOMEM. */
int wc_session_unseal(const uint8_t storage_key[WC_STORAGE_KEY_BYTES], const uint8_t *sealed,
		      size_t len, wc_session **out) WC_WARN_UNUSED;

/* ---- Content records ---------------------------------------------------------------------- */
enum wc_content_kind {
	WC_KIND_TEXT = 1,
	WC_KIND_ATTACHMENT = 2,
	WC_KIND_RECEIPT = 3,
	WC_KIND_SYSTEM = 4,
	WC_KIND_PRESENTATION = 5,
	WC_KIND_HISTORY = 6,
};

/* Longest tenant or unit id in a thread reference (a wire slug, spec/protocol.md §1). */
#define WC_SLUG_MAX 32

typedef struct wc_content {
	uint8_t message_id[WC_ID_BYTES];
	uint8_t conversation_id[WC_ID_BYTES];
	uint8_t kind;                           /* enum wc_content_kind */
	uint64_t sent_ms;
	uint8_t sender_account[WC_ID_BYTES];
	uint8_t sender_device[WC_ID_BYTES];
	const uint8_t *body;                    /* borrowed; see wc_content_decode */
	size_t body_len;
	/* Version 2 (spec/crypto.md §11): the thread reference. version 0 or 1 encodes a v1 record
	 * without it; 2 with it. A zero citizen with empty tenant and unit: no unit thread. */
	uint8_t version;
	uint8_t citizen_account[WC_ID_BYTES];
	char tenant[WC_SLUG_MAX + 1];
	char unit[WC_SLUG_MAX + 1];
} wc_content;

/* Fixed part of an encoded content record; the body follows. */
#define WC_CONTENT_HEADER_BYTES (1 + 1 + 16 + 16 + 8 + 16 + 16 + 4)
#define WC_CONTENT_BODY_MAX (WC_PLAINTEXT_MAX_BYTES - WC_CONTENT_HEADER_BYTES)
/* Fixed part of a v2 record: the v1 header, the citizen and the two length bytes. */
#define WC_CONTENT_V2_HEADER_BYTES (WC_CONTENT_HEADER_BYTES + 16 + 1 + 1)

size_t wc_content_encoded_size(const wc_content *c);
int wc_content_encode(const wc_content *c, uint8_t *out, size_t out_cap,
		      size_t *out_len) WC_WARN_UNUSED;
/* Versions 1 and 2. For v2 checks the reference's shape (both slugs or neither, a citizen exactly
 * with a unit), not the conversation id (spec/client.md §7 is the client's).
 * out->body points into in, valid while in is. @return WC_OK, WC_E_FORMAT, WC_E_VERSION. */
int wc_content_decode(const uint8_t *in, size_t len, wc_content *out) WC_WARN_UNUSED;

/* ---- Fan-out ------------------------------------------------------------------------------ */
/* Bytes each envelope slot must hold in wc_fanout_encrypt's output buffer. */
size_t wc_fanout_stride(const wc_content *c);

/* Encrypts one content record for n sessions (one per recipient device): envelope i is written
 * at out + i * stride (stride = wc_fanout_stride(c)), its length in out_lens[i]. The record is
 * encoded and padded once. out must hold n * stride bytes.
 * @return WC_OK, WC_E_INVAL, WC_E_TOO_LARGE, WC_E_SPACE, WC_E_NOMEM. */
int wc_fanout_encrypt(wc_session *const *sessions, size_t n, const wc_content *c, uint8_t *out,
		      size_t out_cap, size_t *out_lens) WC_WARN_UNUSED;

/* ---- Attachments -------------------------------------------------------------------------- */
/* Plaintext bytes per secretstream chunk. */
#define WC_ATTACHMENT_CHUNK_BYTES 65536
/* Largest attachment: bounds memory in the in-memory API and what a peer can make us process. */
#define WC_ATTACHMENT_MAX_BYTES (64u * 1024 * 1024)
#define WC_MEDIA_TYPE_MAX 127
#define WC_FILE_NAME_MAX 255

/* What travels inside the message (body of a WC_KIND_ATTACHMENT record). */
typedef struct wc_attachment {
	uint8_t key[WC_ATTACHMENT_KEY_BYTES];
	uint8_t digest[WC_DIGEST_BYTES];   /* SHA-256 of the whole ciphertext */
	uint64_t size;                     /* plaintext bytes */
	char media_type[WC_MEDIA_TYPE_MAX + 1];
	char file_name[WC_FILE_NAME_MAX + 1];
} wc_attachment;

size_t wc_attachment_ciphertext_size(size_t plaintext_len);
/* Encrypts a file under a fresh random key. Fills att->key, att->digest, att->size; the caller
 * sets media_type and file_name. @return WC_OK, WC_E_INVAL, WC_E_TOO_LARGE, WC_E_SPACE. */
int wc_attachment_encrypt(const uint8_t *plaintext, size_t len, uint8_t *out, size_t out_cap,
			  size_t *out_len, wc_attachment *att) WC_WARN_UNUSED;
/* Checks the digest, then decrypts. Output size is att->size.
 * @return WC_OK, WC_E_INVAL, WC_E_SPACE, WC_E_TOO_LARGE, WC_E_VERIFY. */
int wc_attachment_decrypt(const wc_attachment *att, const uint8_t *ciphertext, size_t len,
			  uint8_t *out, size_t out_cap) WC_WARN_UNUSED;

#define WC_ATTACHMENT_DESCRIPTOR_MAX (1 + 32 + 32 + 8 + 1 + WC_MEDIA_TYPE_MAX + 1 + WC_FILE_NAME_MAX)
int wc_attachment_encode(const wc_attachment *att, uint8_t *out, size_t out_cap,
			 size_t *out_len) WC_WARN_UNUSED;
int wc_attachment_decode(const uint8_t *in, size_t len, wc_attachment *out) WC_WARN_UNUSED;
void wc_attachment_wipe(wc_attachment *att);

/* ---- Safety numbers ------------------------------------------------------------------------- */
/* 60 decimal digits (NUL-terminated) for two Ed25519 identity keys; the same whichever order the
 * keys are given in. Users compare it out of band (shown as 12 groups of 5). */
int wc_safety_number(const uint8_t key_a[WC_PUBLIC_KEY_BYTES],
		     const uint8_t key_b[WC_PUBLIC_KEY_BYTES],
		     char out[WC_SAFETY_NUMBER_DIGITS + 1]);

/* ---- Test hooks ----------------------------------------------------------------------------- */
#if defined(WAKKS_TEST_HOOKS) && WAKKS_TEST_HOOKS
/* Only in builds configured with -Dtest_hooks=true. Routes all of libsodium's randomness (and so
 * the library's) through a deterministic source so vectors are reproducible:
 * - wc_test_random_seed: an endless stream derived from seed (spec §Test vectors);
 * - wc_test_random_queue: exactly these bytes, in order; drawing past the end aborts;
 * - wc_test_random_system: back to the operating system's generator.
 * wc_test_random_log_start records every byte drawn from then on into buf (up to cap);
 * wc_test_random_log_stop ends recording and returns the number of bytes recorded. */
void wc_test_random_seed(uint64_t seed);
void wc_test_random_queue(const uint8_t *bytes, size_t len);
size_t wc_test_random_remaining(void);
void wc_test_random_system(void);
void wc_test_random_log_start(uint8_t *buf, size_t cap);
size_t wc_test_random_log_stop(void);
#endif

#ifdef __cplusplus
}
#endif
#endif
