#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""Generates spec/vectors/identity.json from spec/identity.md with Python's standard library only,
independently of the C implementation, which replays the file in test_vectors.c.

Usage: python3 tests/identity/gen_vectors.py > spec/vectors/identity.json
"""
import base64
import hashlib
import hmac
import json
import struct


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def u16(n):
    return struct.pack(">H", n)


def nonce(issuer, pk, challenge):
    iss = issuer.encode()
    msg = b"wakks.v1 oidc-nonce\x00" + u16(len(iss)) + iss + pk + challenge
    return msg, b64url(hashlib.sha256(msg).digest())


def replay_key(nonce_str):
    return hashlib.sha256(b"wakks.v1 oidc-replay\x00" + nonce_str.encode()).hexdigest()


def citizen(key, tag, value, issuer=None):
    msg = b"wakks.v1 citizen-account\x00" + tag.encode() + b"\x00"
    if issuer is not None:
        msg += u16(len(issuer.encode())) + issuer.encode()
    msg += value.encode()
    return msg, hmac.new(key, msg, hashlib.sha256).digest()[:16]


def caseworker(key, tenant, upn):
    t = tenant.encode()
    u = upn.lower().encode()  # ASCII lower-casing; the vectors use ASCII UPNs
    msg = b"wakks.v1 caseworker-account\x00" + u16(len(t)) + t + u16(len(u)) + u
    return msg, hmac.new(key, msg, hashlib.sha256).digest()[:16]


def audit_encode(seq, time_ms, typ, subjects, details, prev):
    msg = b"wakks.v1 audit-entry\x00" + struct.pack(">QQH", seq, time_ms, typ)
    msg += bytes([len(subjects)]) + b"".join(subjects)
    msg += u16(len(details)) + details + prev
    return msg


def main():
    key = bytes(range(32))
    out = {
        "description": "OS2wakks identity test vectors (spec/identity.md). Byte strings are hex.",
        "version": 1,
        "nonce": [],
        "citizen_account_id": [],
        "caseworker_account_id": [],
        "audit_chain": {},
    }
    for issuer, pk, ch in [
        ("https://localhost:8443/dev-idp/mitid", bytes([0x11] * 32), bytes([0x22] * 32)),
        ("https://broker.example.dk/op", bytes(range(32)), bytes(range(32, 64))),
        ("https://adfs.varde.dk/adfs", bytes([0xff] * 32), bytes(32)),
    ]:
        msg, n = nonce(issuer, pk, ch)
        out["nonce"].append({"issuer": issuer, "identity_public_key": pk.hex(),
                             "relay_challenge": ch.hex(), "hashed_input": msg.hex(),
                             "nonce": n, "replay_key": replay_key(n)})
    for inp, tag, value, issuer in [
        ("0503841234", "cpr", "0503841234", None),
        ("050384-1234", "cpr", "0503841234", None),
        ("1711725678", "cpr", "1711725678", None),
        ("5F0C6A8E-3B1D-4C2A-9E7F-1A2B3C4D5E6F", "mitid-uuid", "5f0c6a8e-3b1d-4c2a-9e7f-1a2b3c4d5e6f", None),
        ("{0f9960a0-d28d-4353-a3e2-ea07f8ffa185}", "sub", "{0f9960a0-d28d-4353-a3e2-ea07f8ffa185}",
         "https://broker.example.dk/op"),
    ]:
        msg, aid = citizen(key, tag, value, issuer)
        e = {"key": key.hex(), "person_type": tag, "input": inp, "normalized": value,
             "hashed_input": msg.hex(), "account_id": aid.hex()}
        if issuer is not None:
            e["issuer"] = issuer
        out["citizen_account_id"].append(e)
    for tenant, upn in [("varde", "camilla.holm@varde.dk"), ("varde", "Camilla.Holm@Varde.DK"),
                        ("varde", "dennis.lund@varde.dk")]:
        msg, aid = caseworker(key, tenant, upn)
        out["caseworker_account_id"].append({"key": key.hex(), "tenant_id": tenant, "upn": upn,
                                             "hashed_input": msg.hex(), "account_id": aid.hex()})
    entries = []
    prev = bytes(32)
    specs = [
        (1700000000000, 1, [], b"config v1"),
        (1700000001000, 2, [bytes([0xa1] * 16), bytes([0xd1] * 16)], b"\x01"),
        (1700000002000, 4, [bytes([0xa1] * 16)], b"varde/jobcenter consent v3"),
        (1700000003000, 3, [bytes([0xa1] * 16), bytes([0xd1] * 16)], b""),
    ]
    for i, (t, typ, subs, det) in enumerate(specs, start=1):
        enc = audit_encode(i, t, typ, subs, det, prev)
        h = hashlib.sha256(enc).digest()
        entries.append({"seq": i, "time_ms": t, "type": typ, "subjects": [s.hex() for s in subs],
                        "details": det.hex(), "prev_hash": prev.hex(), "encoding": enc.hex(),
                        "hash": h.hex()})
        prev = h
    out["audit_chain"] = {"entries": entries, "head_seq": len(entries), "head_hash": prev.hex()}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
