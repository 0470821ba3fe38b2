#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""A second implementation of spec/crypto.md, written from the spec alone, that replays
spec/vectors/crypto.json through libsodium (via ctypes) and checks every byte. It guards the spec:
if the C library and this program disagree, the spec is ambiguous or one of them is wrong.
Usage: vectors_independent.py spec/vectors/crypto.json"""
import ctypes
import ctypes.util
import hashlib
import hmac
import json
import sys

_name = ctypes.util.find_library("sodium") or "libsodium.so.23"
na = ctypes.CDLL(_name)
if na.sodium_init() < 0:
    sys.exit("sodium_init failed")

# ---- injected randomness: every random draw comes from the vector's "random" bytes ----------
_queue = bytearray()


def inject(hexstr):
    global _queue
    _queue = bytearray(bytes.fromhex(hexstr))


def RANDOM(n):
    global _queue
    if len(_queue) < n:
        raise AssertionError("random queue exhausted")
    out, _queue = bytes(_queue[:n]), _queue[n:]
    return out


def queue_empty():
    return len(_queue) == 0


# ---- external functions (spec §3) ---------------------------------------------------------------
def ed25519_seed_keypair(seed):
    pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
    na.crypto_sign_seed_keypair(pk, sk, seed)
    return pk.raw, sk.raw


def SIGN(sk, m):
    sig = ctypes.create_string_buffer(64)
    na.crypto_sign_detached(sig, None, m, ctypes.c_ulonglong(len(m)), sk)
    return sig.raw


def VERIFY(pk, m, sig):
    return na.crypto_sign_verify_detached(sig, m, ctypes.c_ulonglong(len(m)), pk) == 0


def ED_TO_X_PUBLIC(pk):
    out = ctypes.create_string_buffer(32)
    if na.crypto_sign_ed25519_pk_to_curve25519(out, pk) != 0:
        raise ValueError("bad identity key")
    return out.raw


def ED_TO_X_SECRET(sk):
    out = ctypes.create_string_buffer(32)
    na.crypto_sign_ed25519_sk_to_curve25519(out, sk)
    return out.raw


def X25519_BASE(s):
    out = ctypes.create_string_buffer(32)
    na.crypto_scalarmult_base(out, s)
    return out.raw


def DH(s, p):
    out = ctypes.create_string_buffer(32)
    if na.crypto_scalarmult(out, s, p) != 0:
        raise ValueError("all-zero DH")
    return out.raw


def HMAC(k, m):
    return hmac.new(k, m, hashlib.sha256).digest()


def HKDF(salt, ikm, info, L):
    if salt is None:
        salt = bytes(32)
    prk = HMAC(salt, ikm)
    t, okm, i = b"", b"", 1
    while len(okm) < L:
        t = HMAC(prk, t + info + bytes([i]))
        okm += t
        i += 1
    return okm[:L]


def AEAD_ENC(k, n, m, ad):
    c = ctypes.create_string_buffer(len(m) + 16)
    clen = ctypes.c_ulonglong()
    na.crypto_aead_xchacha20poly1305_ietf_encrypt(c, ctypes.byref(clen), m, ctypes.c_ulonglong(len(m)),
                                                  ad, ctypes.c_ulonglong(len(ad)), None, n, k)
    return c.raw[:clen.value]


def AEAD_DEC(k, n, c, ad):
    if len(c) < 16:
        return None
    m = ctypes.create_string_buffer(len(c))
    mlen = ctypes.c_ulonglong()
    if na.crypto_aead_xchacha20poly1305_ietf_decrypt(m, ctypes.byref(mlen), None, c, ctypes.c_ulonglong(len(c)),
                                                     ad, ctypes.c_ulonglong(len(ad)), n, k) != 0:
        return None
    return m.raw[:mlen.value]


def u32(v):
    return v.to_bytes(4, "big")


def u64(v):
    return v.to_bytes(8, "big")


# ---- §10 padding --------------------------------------------------------------------------------
def padded_len(n):
    block = 256 if n + 1 <= 4096 else 4096
    return -(-(n + 1) // block) * block


def PAD(p):
    return p + b"\x80" + bytes(padded_len(len(p)) - len(p) - 1)


def UNPAD(q):
    s = q.rstrip(b"\x00")
    if not s or s[-1] != 0x80:
        return None
    r = s[:-1]
    return r if PAD(r) == q else None


# ---- §6 prekeys, §7 X3DH, §8 ratchet -----------------------------------------------------------
def signed_prekey_message(spk_id, pk, created):
    return b"wakks/v1/signed-prekey" + u32(spk_id) + pk + u64(created)


def KDF_RK(rk, dh_out):
    okm = HKDF(rk, dh_out, b"wakks/v1/ratchet-root", 64)
    return okm[:32], okm[32:]


def KDF_CK(ck):
    return HMAC(ck, b"wakks/v1/chain-next"), HMAC(ck, b"wakks/v1/chain-message")


def MESSAGE_KEYS(mk):
    okm = HKDF(None, mk, b"wakks/v1/message-key", 56)
    return okm[:32], okm[32:]


def GENERATE_DH():
    sk = RANDOM(32)
    return sk, X25519_BASE(sk)


MAX_SKIP, MAX_SKIPPED_KEYS = 1000, 2000


class Session:
    pass


def x3dh_sk(dhs):
    return HKDF(bytes(32), b"\xff" * 32 + b"".join(dhs), b"wakks/v1/x3dh", 32)


def initiate(me, peer, with_opk):
    if not VERIFY(peer.ik_pk, signed_prekey_message(peer.spk_id, peer.spk_pk, peer.spk_created), peer.spk_sig):
        raise ValueError("bad signed prekey")
    ikx_b = ED_TO_X_PUBLIC(peer.ik_pk)
    ek_sk = RANDOM(32)
    ek_pk = X25519_BASE(ek_sk)
    dhs = [DH(ED_TO_X_SECRET(me.ik_sk), peer.spk_pk), DH(ek_sk, ikx_b), DH(ek_sk, peer.spk_pk)]
    if with_opk:
        dhs.append(DH(ek_sk, peer.opk_pk))
    SK = x3dh_sk(dhs)
    s = Session()
    s.ad = me.ik_pk + peer.ik_pk
    s.prekey_part = me.ik_pk + ek_pk + u32(peer.spk_id) + (bytes([1]) + u32(peer.opk_id) if with_opk else bytes(5))
    s.DHs = GENERATE_DH()
    s.DHr = peer.spk_pk
    s.RK, s.CKs = KDF_RK(SK, DH(s.DHs[0], s.DHr))
    s.CKr, s.Ns, s.Nr, s.PN, s.skipped, s.pending = None, 0, 0, 0, [], True
    s.SK, s.ek_pk = SK, ek_pk
    return s


def encrypt(s, plaintext):
    s.CKs, mk = KDF_CK(s.CKs)
    prefix = bytes([1, 1 if s.pending else 2]) + (s.prekey_part if s.pending else b"")
    prefix += s.DHs[1] + u32(s.PN) + u32(s.Ns)
    key, nonce = MESSAGE_KEYS(mk)
    s.Ns += 1
    return prefix + AEAD_ENC(key, nonce, PAD(plaintext), s.ad + prefix)


def parse(env):
    if len(env) < 2 or env[0] != 1 or env[1] not in (1, 2):
        return None
    off, pk = 2, None
    if env[1] == 1:
        pk = env[2:75]
        if len(pk) < 73 or pk[68] > 1 or (pk[68] == 0 and pk[69:73] != bytes(4)):
            return None
        off = 75
    if len(env) < off + 40 + 16 + 256:
        return None
    hdr = env[off:off + 40]
    pn, n = int.from_bytes(hdr[32:36], "big"), int.from_bytes(hdr[36:40], "big")
    if 0xFFFFFFFF in (pn, n):
        return None
    return pk, hdr[:32], pn, n, env[:off + 40], env[off + 40:]


def open_(mk, body, ad):
    key, nonce = MESSAGE_KEYS(mk)
    p = AEAD_DEC(key, nonce, body, ad)
    return None if p is None else UNPAD(p)


def decrypt(s, env):
    """Returns plaintext or None; s changes only on success (we work on a copy)."""
    parsed = parse(env)
    if parsed is None:
        return None
    _, dh, pn, n, prefix, body = parsed
    ad = s.ad + prefix
    for i, (kdh, kn, mk) in enumerate(s.skipped):
        if kdh == dh and kn == n:
            p = open_(mk, body, ad)
            if p is not None:
                del s.skipped[i]
                s.pending = False
            return p
    v = dict(RK=s.RK, DHs=s.DHs, DHr=s.DHr, CKs=s.CKs, CKr=s.CKr, Ns=s.Ns, Nr=s.Nr, PN=s.PN)
    new = []

    def skip(until):
        if v["Nr"] + MAX_SKIP < until:
            raise OverflowError("gap")
        if v["CKr"] is None:
            return
        while v["Nr"] < until:
            v["CKr"], mk = KDF_CK(v["CKr"])
            new.append((v["DHr"], v["Nr"], mk))
            v["Nr"] += 1

    try:
        if v["DHr"] is None or dh != v["DHr"]:
            skip(pn)
            v["PN"], v["Ns"], v["Nr"], v["DHr"] = v["Ns"], 0, 0, dh
            v["RK"], v["CKr"] = KDF_RK(v["RK"], DH(v["DHs"][0], v["DHr"]))
            v["DHs"] = GENERATE_DH()
            v["RK"], v["CKs"] = KDF_RK(v["RK"], DH(v["DHs"][0], v["DHr"]))
        skip(n)
    except (OverflowError, ValueError):
        return None
    if v["CKr"] is None or n < v["Nr"]:
        return None
    v["CKr"], mk = KDF_CK(v["CKr"])
    v["Nr"] += 1
    p = open_(mk, body, ad)
    if p is None:
        return None
    for k, val in v.items():
        setattr(s, k, val)
    s.skipped = (s.skipped + new)[-MAX_SKIPPED_KEYS:]
    s.pending = False
    return p


def respond(me, peer_ik, env):
    pk, *_ = parse(env)
    ik_a, ek = pk[:32], pk[32:64]
    assert int.from_bytes(pk[64:68], "big") == me.spk_id
    dhs = [DH(me.spk_sk, ED_TO_X_PUBLIC(ik_a)), DH(ED_TO_X_SECRET(me.ik_sk), ek), DH(me.spk_sk, ek)]
    if pk[68] == 1:
        assert int.from_bytes(pk[69:73], "big") == me.opk_id and me.opk_sk is not None
        dhs.append(DH(me.opk_sk, ek))
    s = Session()
    s.ad = ik_a + me.ik_pk
    s.DHs, s.DHr, s.RK = (me.spk_sk, me.spk_pk), None, x3dh_sk(dhs)
    s.CKs = s.CKr = None
    s.Ns = s.Nr = s.PN = 0
    s.skipped, s.pending = [], False
    s.ek_pk, s.opk_used, s.opk_id = ek, pk[68], int.from_bytes(pk[69:73], "big")
    s.role, s.local, s.remote = 2, me.ik_pk, ik_a
    p = decrypt(s, env)
    if p is not None and pk[68] == 1:
        me.opk_sk = None  # deleted after first use
    return s, p


def serialize(s):
    flags = (1 if s.DHr else 0) | (2 if s.CKs else 0) | (4 if s.CKr else 0) | (8 if s.pending else 0) | (16 if s.opk_used else 0)
    z = bytes(32)
    out = bytes([1, s.role, flags]) + s.local + s.remote + s.RK + s.DHs[0] + s.DHs[1]
    out += (s.DHr or z) + (s.CKs or z) + (s.CKr or z) + u32(s.Ns) + u32(s.Nr) + u32(s.PN)
    out += s.ek_pk + u32(s.spk_id) + u32(s.opk_id if s.opk_used else 0) + u32(len(s.skipped))
    for dh, n, mk in s.skipped:
        out += dh + u32(n) + mk
    return out


def seal(s, key):
    nonce = RANDOM(24)
    return b"\x01" + nonce + AEAD_ENC(key, nonce, serialize(s), b"wakks/v1/session-state\x01")


# ---- §11 content, §13 attachments, §14 safety numbers ------------------------------------------
def content_encode(c):
    body = bytes.fromhex(c["body"])
    return (bytes([1, c["kind"]]) + bytes.fromhex(c["message_id"]) + bytes.fromhex(c["conversation_id"])
            + u64(c["sent_ms"]) + bytes.fromhex(c["sender_account"]) + bytes.fromhex(c["sender_device"])
            + u32(len(body)) + body)


def attachment_encrypt(pt):
    key = RANDOM(32)
    header = RANDOM(24)
    na.crypto_secretstream_xchacha20poly1305_statebytes.restype = ctypes.c_size_t
    st = ctypes.create_string_buffer(na.crypto_secretstream_xchacha20poly1305_statebytes())
    # libsodium draws the header itself; feed it through a one-shot randombytes implementation.
    hdr = ctypes.create_string_buffer(24)
    _set_header_source(header)
    na.crypto_secretstream_xchacha20poly1305_init_push(st, hdr, key)
    _restore_random()
    assert hdr.raw == header
    chunks = max(1, -(-len(pt) // 65536))
    out = header
    for i in range(chunks):
        m = pt[i * 65536:(i + 1) * 65536]
        ad = b"wakks/v1/attachment" + u64(len(pt)) if i == 0 else b""
        c = ctypes.create_string_buffer(len(m) + 17)
        tag = 3 if i == chunks - 1 else 0
        na.crypto_secretstream_xchacha20poly1305_push(st, c, None, m, ctypes.c_ulonglong(len(m)), ad or None,
                                                      ctypes.c_ulonglong(len(ad)), ctypes.c_ubyte(tag))
        out += c.raw
    return key, out, hashlib.sha256(out).digest()


class _Impl(ctypes.Structure):
    _fields_ = [("implementation_name", ctypes.c_void_p), ("random", ctypes.c_void_p), ("stir", ctypes.c_void_p),
                ("uniform", ctypes.c_void_p), ("buf", ctypes.c_void_p), ("close", ctypes.c_void_p)]


_BUF = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_size_t)
_pending_header = b""


def _buf(p, n):
    global _pending_header
    ctypes.memmove(p, _pending_header[:n], n)
    _pending_header = _pending_header[n:]


_buf_c = _BUF(_buf)
_impl = _Impl(None, None, None, None, ctypes.cast(_buf_c, ctypes.c_void_p).value, None)


def _set_header_source(b):
    global _pending_header
    _pending_header = b
    na.randombytes_set_implementation(ctypes.byref(_impl))


def _restore_random():
    na.randombytes_set_implementation(ctypes.addressof(ctypes.c_char.in_dll(na, "randombytes_sysrandom_implementation")))


def safety_half(pk):
    h = hashlib.sha512(b"wakks/v1/safety-number" + b"\x00\x01" + pk).digest()
    for _ in range(5200 - 1):
        h = hashlib.sha512(h + pk).digest()
    return "".join("%05d" % (int.from_bytes(h[5 * c:5 * c + 5], "big") % 100000) for c in range(6))


# ---- replay -------------------------------------------------------------------------------------
failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what)


class Party:
    pass


def main(path):
    v = json.load(open(path))
    parties = {}
    for i in v["identities"]:
        p = Party()
        p.ik_pk, p.ik_sk = ed25519_seed_keypair(bytes.fromhex(i["seed"]))
        check(p.ik_pk.hex() == i["ed25519_public"], "identity " + i["name"])
        check(ED_TO_X_PUBLIC(p.ik_pk).hex() == i["x25519_public"], "x25519 public " + i["name"])
        check(ED_TO_X_SECRET(p.ik_sk).hex() == i["x25519_secret"], "x25519 secret " + i["name"])
        parties[i["name"]] = p
    for k in v["signed_prekeys"]:
        p = parties[k["owner"]]
        inject(k["random"])
        p.spk_sk = RANDOM(32)
        p.spk_pk, p.spk_id, p.spk_created = X25519_BASE(p.spk_sk), k["id"], k["created_ms"]
        msg = signed_prekey_message(p.spk_id, p.spk_pk, p.spk_created)
        p.spk_sig = SIGN(p.ik_sk, msg)
        check(msg.hex() == k["signed_message"] and p.spk_sig.hex() == k["signature"], "signed prekey " + k["owner"])
    for k in v["one_time_prekeys"]:
        p = parties[k["owner"]]
        inject(k["random"])
        p.opk_sk = RANDOM(32)
        p.opk_pk, p.opk_id = X25519_BASE(p.opk_sk), k["id"]
        check(p.opk_pk.hex() == k["public"], "one-time prekey " + k["owner"])
    for x in v["x3dh"]:
        a, b = parties[x["initiator"]], parties[x["responder"]]
        inject(x["random"])
        s = initiate(a, b, x["one_time_prekey_id"] is not None)
        check(s.SK.hex() == x["shared_secret"] and s.ad.hex() == x["associated_data"]
              and s.RK.hex() == x["root_key"] and s.CKs.hex() == x["sending_chain_key"]
              and s.ek_pk.hex() == x["ephemeral_public"], "x3dh %s->%s" % (x["initiator"], x["responder"]))
    for run in v["runs"]:
        sessions = {}
        for st in run["steps"]:
            me = parties[st["party"]]
            inject(st["random"])
            op = st["op"]
            if op == "initiate":
                peer = parties[st["peer"]]
                s = initiate(me, peer, st["one_time_prekey_id"] is not None)
                s.role, s.local, s.remote, s.spk_id = 1, me.ik_pk, peer.ik_pk, peer.spk_id
                s.opk_used, s.opk_id = st["one_time_prekey_id"] is not None, peer.opk_id
                sessions[(st["party"], st["peer"])] = s
            elif op == "encrypt":
                env = encrypt(sessions[(st["party"], st["peer"])], bytes.fromhex(st["plaintext"]))
                check(env.hex() == st["envelope"], "%s: encrypt" % run["name"])
            elif op == "respond":
                s, p = respond(me, None, bytes.fromhex(st["envelope"]))
                s.spk_id = me.spk_id
                sessions[(st["party"], st["peer"])] = s
                check(p is not None and p.hex() == st["plaintext"], "%s: respond" % run["name"])
            elif op == "decrypt":
                p = decrypt(sessions[(st["party"], st["peer"])], bytes.fromhex(st["envelope"]))
                if "error" in st:
                    check(p is None, "%s: decrypt must fail" % run["name"])
                else:
                    check(p is not None and p.hex() == st["plaintext"], "%s: decrypt" % run["name"])
            elif op == "seal":
                sealed = seal(sessions[(st["party"], st["peer"])], bytes.fromhex(st["storage_key"]))
                check(sealed.hex() == st["sealed"], "%s: seal" % run["name"])
            elif op == "fanout":
                padded = PAD(content_encode(st["content"]))
                for i, peer in enumerate(st["peers"]):
                    s = sessions[(st["party"], peer)]
                    s.CKs, mk = KDF_CK(s.CKs)
                    prefix = bytes([1, 1 if s.pending else 2]) + (s.prekey_part if s.pending else b"")
                    prefix += s.DHs[1] + u32(s.PN) + u32(s.Ns)
                    key, nonce = MESSAGE_KEYS(mk)
                    s.Ns += 1
                    env = prefix + AEAD_ENC(key, nonce, padded, s.ad + prefix)
                    check(env.hex() == st["envelopes"][i], "%s: fan-out to %s" % (run["name"], peer))
            check(queue_empty(), "%s: %s drew all its random bytes" % (run["name"], op))
    for c in v["content"]:
        enc = content_encode(c)
        check(enc.hex() == c["encoded"] and PAD(enc).hex() == c["padded"], "content record")
        check(UNPAD(PAD(enc)) == enc, "unpad")
    for a in v["attachments"]:
        pt = bytes(i % 251 for i in range(a["size"]))
        inject(a["random"])
        key, ct, digest = attachment_encrypt(pt)
        check(key.hex() == a["key"] and digest.hex() == a["digest"] and len(ct) == a["ciphertext_size"],
              "attachment %d" % a["size"])
        if "ciphertext" in a:
            check(ct.hex() == a["ciphertext"], "attachment ciphertext")
        mt, fn = a["media_type"].encode(), a["file_name"].encode()
        desc = b"\x01" + key + digest + u64(a["size"]) + bytes([len(mt)]) + mt + bytes([len(fn)]) + fn
        check(desc.hex() == a["descriptor"], "attachment descriptor")
    for sn in v["safety_numbers"]:
        h = sorted([safety_half(bytes.fromhex(sn["key_a"])), safety_half(bytes.fromhex(sn["key_b"]))])
        check("".join(h) == sn["safety_number"], "safety number")
    print("independent replay: %d checks, %d failed" % (checks, failures))
    return 1 if failures or checks < 50 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
