#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""Writes spec/vectors/protocol.json: the protocol v1 test vectors.

Frames are encoded here by a small msgpack encoder written independently of the C codec, so the
C tests (which decode every vector and re-encode it) cross-check two implementations. Ids and keys
are derived from SHA-256 of a label, so the file is reproducible byte for byte.

    python3 tests/protocol/make_vectors.py > spec/vectors/protocol.json
    python3 tests/protocol/make_vectors.py --corpus tests/protocol/corpus/frame

The second form seeds the frame decoder's fuzz corpus with every vector (one file each).
"""
import os
import hashlib
import json
import struct
import sys


class Raw(bytes):
    """Bytes spliced into the encoding as they are (for malformed examples)."""


class RawStr(bytes):
    """A msgpack str whose payload is these bytes, valid UTF-8 or not."""


def enc(v):
    if isinstance(v, Raw):
        return bytes(v)
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if v < 0:
            if v >= -32:
                return struct.pack(">b", v)
            return b"\xd3" + struct.pack(">q", v)
        if v < 0x80:
            return bytes([v])
        if v < 0x100:
            return b"\xcc" + bytes([v])
        if v < 0x10000:
            return b"\xcd" + struct.pack(">H", v)
        if v < 0x100000000:
            return b"\xce" + struct.pack(">I", v)
        return b"\xcf" + struct.pack(">Q", v)
    if isinstance(v, (str, RawStr)):
        b = bytes(v) if isinstance(v, RawStr) else v.encode("utf-8")
        n = len(b)
        if n < 32:
            return bytes([0xA0 | n]) + b
        if n < 0x100:
            return b"\xd9" + bytes([n]) + b
        if n < 0x10000:
            return b"\xda" + struct.pack(">H", n) + b
        return b"\xdb" + struct.pack(">I", n) + b
    if isinstance(v, (bytes, bytearray)):
        n = len(v)
        if n < 0x100:
            return b"\xc4" + bytes([n]) + bytes(v)
        if n < 0x10000:
            return b"\xc5" + struct.pack(">H", n) + bytes(v)
        return b"\xc6" + struct.pack(">I", n) + bytes(v)
    if isinstance(v, (list, tuple)):
        n = len(v)
        h = bytes([0x90 | n]) if n < 16 else (b"\xdc" + struct.pack(">H", n) if n < 0x10000 else b"\xdd" + struct.pack(">I", n))
        return h + b"".join(enc(x) for x in v)
    if isinstance(v, dict):
        n = len(v)
        h = bytes([0x80 | n]) if n < 16 else (b"\xde" + struct.pack(">H", n) if n < 0x10000 else b"\xdf" + struct.pack(">I", n))
        return h + b"".join(enc(k) + enc(x) for k, x in v.items())
    raise TypeError(type(v))


def js(v):
    """The JSON form of a decoded value: bin as lowercase hex, str as string."""
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, (list, tuple)):
        return [js(x) for x in v]
    if isinstance(v, dict):
        return {k: js(x) for k, x in v.items()}
    return v


def h(label, n):
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{i}".encode()).digest()
        i += 1
    return out[:n]


TYPES = {
    "hello": 1, "auth": 2, "auth_ok": 3, "ok": 4, "error": 5,
    "register": 16, "registered": 17, "devices_list": 18, "devices": 19, "device_revoke": 20,
    "prekeys_upload": 32, "spk_rotate": 33, "key_count_get": 34, "key_count": 35,
    "prekeys_low": 36, "bundles_fetch": 37, "bundles": 38,
    "tenants_list": 48, "tenants": 49, "units_list": 50, "units": 51,
    "device_set_get": 52, "device_set": 53,
    "send": 64, "stored": 65, "deliver": 66, "ack": 67, "receipt": 68, "expired": 69,
    "consent_grant": 80, "consent_withdraw": 81, "consent_list": 82, "consents": 83,
    "citizen_lookup": 84, "citizen": 85, "consent_changed": 86, "devices_changed": 87,
    "blob_put": 96, "blob_state": 97, "blob_chunk": 98, "blob_status": 99, "blob_get": 100,
    "blob_data": 101, "unit_devices_changed": 21, "consent_check": 88, "consent_state": 89,
}

T0 = 1764115200000  # 2025-11-26T00:00:00Z in ms
CIT = h("account/citizen-1", 16)
CW1 = h("account/caseworker-1", 16)
JOURNAL = h("account/journal-varde", 16)
DEV_C1, DEV_C2 = h("device/citizen-1/phone", 16), h("device/citizen-1/tablet", 16)
DEV_W1, DEV_W2 = h("device/caseworker-1/browser", 16), h("device/caseworker-2/browser", 16)
DEV_J = h("device/journal-varde", 16)
CMID = h("cmid/1", 16)
BLOB, BLOB2 = h("blob/1", 16), h("blob/2", 16)


def spk(tag, i=1):
    return {"id": i, "pub": h(f"spk/{tag}/pub", 32), "time": T0 - 86400000, "sig": h(f"spk/{tag}/sig", 64)}


def opk(tag, i):
    return {"id": i, "pub": h(f"opk/{tag}/{i}", 32)}


def bundle(acc, dev, tag, with_opk=True):
    b = {"acc": acc, "dev": dev, "ik": h(f"ik/{tag}", 32), "spk": spk(tag)}
    if with_opk:
        b["opk"] = opk(tag, 17)
    return b


JWT = ("eyJhbGciOiJSUzI1NiIsImtpZCI6ImRldi0xIn0."
       "eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoiY2l0aXplbi0xIiwibm9uY2UiOiJ4In0."
       "c2lnbmF0dXJl")

VALID = [
    # name, type, request id, body
    ("hello", "hello", 0, {"ver": 1, "time": T0, "chal": h("challenge", 32)}),
    ("auth", "auth", 1, {"dev": DEV_C1, "sig": h("auth-sig", 64)}),
    ("auth_ok", "auth_ok", 1, {"acc": CIT}),
    ("ok", "ok", 9, {}),
    ("error_unknown_type", "error", 5, {"code": 7, "name": "unknown_type", "text": "unknown frame type"}),
    ("error_empty_text", "error", 6, {"code": 45, "name": "internal", "text": ""}),
    ("error_no_request_id", "error", 0, {"code": 2, "name": "truncated", "text": "frame ends inside a value"}),
    ("error_device_mismatch", "error", 12, {"code": 37, "name": "device_mismatch", "text": "recipient device set is not current",
                                            "det": {"missing": [DEV_C2], "stale": [DEV_W2]}}),
    ("error_quota", "error", 13, {"code": 38, "name": "quota_exceeded", "text": "mailbox full", "det": {"limit": 10000}}),
    ("error_rate_limited", "error", 14, {"code": 39, "name": "rate_limited", "text": "slow down", "det": {"retry": 1500}}),
    ("register", "register", 1, {"att": JWT, "ik": h("ik/citizen-1/phone", 32), "spk": spk("citizen-1/phone"),
                                 "opk": [opk("citizen-1/phone", i) for i in range(1, 4)], "label": "Mette's phone \u00e6\u00f8\u00e5"}),
    ("register_no_prekeys", "register", 1, {"att": JWT, "ik": h("ik/citizen-1/tablet", 32), "spk": spk("citizen-1/tablet"), "opk": []}),
    ("registered", "registered", 1, {"acc": CIT, "dev": DEV_C1}),
    ("devices_list", "devices_list", 2, {}),
    ("devices", "devices", 2, {"list": [{"dev": DEV_C1, "ik": h("ik/citizen-1/phone", 32), "time": T0, "label": "phone"},
                                        {"dev": DEV_C2, "ik": h("ik/citizen-1/tablet", 32), "time": T0 + 1000}]}),
    ("device_revoke", "device_revoke", 3, {"dev": DEV_C2}),
    ("prekeys_upload", "prekeys_upload", 4, {"opk": [opk("citizen-1/phone", i) for i in range(100, 105)]}),
    ("spk_rotate", "spk_rotate", 5, {"spk": spk("citizen-1/phone/2", 2)}),
    ("key_count_get", "key_count_get", 6, {}),
    ("key_count", "key_count", 6, {"n": 42}),
    ("prekeys_low", "prekeys_low", 0, {"n": 5}),
    ("bundles_fetch_account", "bundles_fetch", 7, {"acc": CIT}),
    ("bundles_fetch_unit", "bundles_fetch", 8, {"ten": "varde", "unit": "jobcenter"}),
    ("bundles_fetch_unit_devices", "bundles_fetch", 8, {"ten": "varde", "unit": "jobcenter", "devs": [DEV_W2, DEV_J]}),
    ("bundles", "bundles", 7, {"list": [bundle(CIT, DEV_C1, "c1"), bundle(CIT, DEV_C2, "c2", with_opk=False)]}),
    ("tenants_list", "tenants_list", 9, {}),
    ("tenants", "tenants", 9, {"list": [{"id": "varde", "name": "Varde Kommune"}, {"id": "aarhus", "name": "Aarhus Kommune"}]}),
    ("units_list", "units_list", 10, {"ten": "varde"}),
    ("units", "units", 10, {"ten": "varde", "list": [{"id": "jobcenter", "name": "Jobcenter"},
                                                     {"id": "borgerservice", "name": "Borgerservice"}]}),
    ("device_set_get_account", "device_set_get", 11, {"acc": CIT}),
    ("device_set_get_unit", "device_set_get", 11, {"ten": "varde", "unit": "jobcenter"}),
    ("device_set", "device_set", 11, {"list": [{"acc": CW1, "dev": DEV_W1}, {"acc": JOURNAL, "dev": DEV_J}]}),
    ("send_to_unit", "send", 12, {"cmid": CMID, "ten": "varde", "unit": "jobcenter",
                                  "env": [{"dev": DEV_W1, "ct": h("ct/w1", 40)}, {"dev": DEV_J, "ct": h("ct/j", 40)},
                                          {"dev": DEV_C2, "ct": h("ct/c2", 40)}]}),
    ("send_to_account_receipts", "send", 13, {"cmid": h("cmid/2", 16), "to": [CIT], "rcpt": True,
                                              "env": [{"dev": DEV_C1, "ct": h("ct/c1", 300)}, {"dev": DEV_C2, "ct": h("ct/c2b", 300)},
                                                      {"dev": DEV_J, "ct": h("ct/j2", 300)}]}),
    ("stored", "stored", 12, {"cmid": CMID, "time": T0 + 5}),
    ("deliver", "deliver", 0, {"seq": 1, "cmid": CMID, "acc": CIT, "dev": DEV_C2, "time": T0 + 5,
                               "ten": "varde", "unit": "jobcenter", "ct": h("ct/w1", 40)}),
    ("deliver_direct", "deliver", 0, {"seq": 4294967296, "cmid": h("cmid/2", 16), "acc": CW1, "dev": DEV_W1, "time": T0 + 9,
                                      "ct": h("ct/c1", 300)}),
    ("ack", "ack", 14, {"seq": 1}),
    ("receipt", "receipt", 0, {"cmid": h("cmid/2", 16), "acc": CIT, "dev": DEV_C1, "time": T0 + 60000}),
    ("expired", "expired", 0, {"cmid": h("cmid/2", 16), "acc": CIT, "dev": DEV_C2, "time": T0 + 30 * 86400000}),
    ("consent_grant", "consent_grant", 15, {"rec": h("consent/record/1", 120), "sig": h("consent/sig/1", 64)}),
    ("consent_withdraw", "consent_withdraw", 16, {"rec": h("consent/record/2", 120), "sig": h("consent/sig/2", 64)}),
    ("consent_list", "consent_list", 17, {}),
    ("consents", "consents", 17, {"list": [{"kind": 1, "rec": h("consent/record/1", 120), "sig": h("consent/sig/1", 64), "time": T0},
                                           {"kind": 2, "rec": h("consent/record/2", 120), "sig": h("consent/sig/2", 64), "time": T0 + 1}]}),
    ("citizen_lookup", "citizen_lookup", 18, {"cpr": "0101901234"}),
    ("citizen_reachable", "citizen", 18, {"reach": True, "acc": CIT, "devs": [DEV_C1, DEV_C2]}),
    ("citizen_not_reachable", "citizen", 18, {"reach": False}),
    ("consent_changed", "consent_changed", 0, {"acc": CIT, "ten": "varde", "unit": "jobcenter", "kind": 1, "time": T0 + 5}),
    ("devices_changed", "devices_changed", 0, {"acc": CIT}),
    ("unit_devices_changed", "unit_devices_changed", 0, {"ten": "varde", "unit": "jobcenter"}),
    ("consent_check", "consent_check", 24, {"acc": CIT, "ten": "varde", "unit": "jobcenter"}),
    ("consent_state", "consent_state", 24, {"active": True}),
    ("blob_put", "blob_put", 19, {"id": BLOB, "size": 10485808, "sha": h("blob/sha", 32)}),
    ("blob_state_uploading", "blob_state", 19, {"id": BLOB, "size": 10485808, "have": 262144}),
    ("blob_state_done", "blob_state", 20, {"id": BLOB, "size": 10485808, "have": 10485808, "done": True}),
    ("blob_chunk", "blob_chunk", 20, {"id": BLOB, "off": 262144, "data": h("blob/chunk", 300)}),
    ("blob_status", "blob_status", 21, {"id": BLOB}),
    ("blob_get", "blob_get", 22, {"id": BLOB, "off": 0, "len": 262144}),
    ("blob_data", "blob_data", 22, {"id": BLOB, "off": 0, "data": h("blob/chunk", 300)}),
    ("send_with_blobs", "send", 23, {"cmid": CMID, "ten": "varde", "unit": "jobcenter",
                                     "env": [{"dev": DEV_W1, "ct": h("ct/blobs", 80)}], "blobs": [BLOB, BLOB2]}),
]


def error_rid(b):
    """The request id an error about frame bytes b carries (spec/protocol.md §3.4): an array head
    of two or more elements, then two non-negative integers, the second within uint32; else 0."""
    def uint_at(p):
        if p >= len(b):
            return None, p
        c = b[p]
        if c <= 0x7F:
            return c, p + 1
        width = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}.get(c)
        if width is None or p + 1 + width > len(b):
            return None, p
        raw = b[p + 1:p + 1 + width]
        v = int.from_bytes(raw, "big", signed=c >= 0xD0)
        return (v if v >= 0 else None), p + 1 + width
    if not b:
        return 0
    if 0x90 <= b[0] <= 0x9F:
        count, p = b[0] & 0x0F, 1
    elif b[0] in (0xDC, 0xDD):
        w = 2 if b[0] == 0xDC else 4
        if len(b) < 1 + w:
            return 0
        count, p = int.from_bytes(b[1:1 + w], "big"), 1 + w
    else:
        return 0
    if count < 2:
        return 0
    t, p = uint_at(p)
    if t is None:
        return 0
    r, p = uint_at(p)
    return r if r is not None and r <= 0xFFFFFFFF else 0


def frame(type_name, rid, body):
    return [TYPES[type_name], rid, body]


def valid_entry(name, t, rid, body, canonical=True, wire=None, note=None):
    e = {"name": name, "type": t, "hex": enc(wire if wire is not None else frame(t, rid, body)).hex(),
         "canonical": canonical,
         "frame": {"type": TYPES[t], "request_id": rid, "body": js(body)}}
    if note:
        e["note"] = note
    return e


def main():
    valid = [valid_entry(*v) for v in VALID]
    by = {v[0]: v for v in VALID}

    # Valid but not canonical: decoders accept, encoders never produce.
    hello = by["hello"][3]
    valid.append(valid_entry("hello_unknown_fields_skipped", "hello", 0, hello, canonical=False,
                             wire=frame("hello", 0, {"ver": 1, "x-future": [1, {"a": None}], "time": T0,
                                                     "chal": hello["chal"], "zz": 1.5 if False else Raw(b"\xcb" + struct.pack(">d", 1.5))}),
                             note="unknown keys of any type are skipped"))
    valid.append(valid_entry("hello_keys_reordered_wide_ints", "hello", 0, hello, canonical=False,
                             wire=[Raw(b"\xcf" + struct.pack(">Q", 1)), Raw(b"\xce\x00\x00\x00\x00"),
                                   {"chal": hello["chal"], "time": T0, "ver": Raw(b"\xcd\x00\x01")}],
                             note="key order and integer width are free on input"))
    ack_body = by["ack"][3]
    valid.append(valid_entry("ack_array16_header", "ack", 14, ack_body, canonical=False,
                             wire=Raw(b"\xdc\x00\x03" + enc(67) + enc(14) + enc(ack_body)),
                             note="array16 header for the frame"))

    inv = []

    def bad(name, err, wire, note=None, rid=None):
        b = wire if isinstance(wire, (bytes, bytearray)) else enc(wire)
        # rid: the request id the relay's error must carry; the cases that pin the rule state it.
        got = error_rid(bytes(b))
        if rid is not None and rid != got:
            raise SystemExit(f"{name}: error request id {got}, the rule says {rid}")
        e = {"name": name, "hex": bytes(b).hex(), "error": err, "code": CODES[err], "rid": got}
        if note:
            e["note"] = note
        inv.append(e)

    send = by["send_to_unit"][3]
    send_wire = enc(frame("send", 12, send))
    hello_wire = enc(frame("hello", 0, hello))

    # truncated
    bad("empty", "truncated", b"", rid=0)
    bad("send_truncated_in_ciphertext", "truncated", send_wire[:-10])
    bad("send_truncated_one_byte", "truncated", send_wire[:-1])
    bad("hello_truncated_header", "truncated", hello_wire[:2], rid=0)
    bad("array32_huge_count", "truncated", b"\xdd\xff\xff\xff\xff", "declared 4294967295 elements, 0 present: no allocation", rid=0)
    bad("map32_huge_count", "truncated", bytes.fromhex("9340") + b"\x00" + b"\xdf\xff\xff\xff\xff")
    bad("bin32_huge_length", "truncated", enc([64, 1, Raw(b"\x81\xa4cmid\xc6\xff\xff\xff\xf0")]))
    # trailing
    bad("hello_trailing_nil", "trailing_bytes", hello_wire + b"\xc0")
    bad("two_frames", "trailing_bytes", hello_wire + hello_wire)
    # malformed
    bad("reserved_byte_c1", "malformed", enc(frame("ok", 3, {}))[:-1] + b"\xc1", rid=3)
    # depth
    deep = Raw(b"\x91" * 8 + b"\xc0")
    bad("too_deep_unknown_field", "too_deep", frame("ok", 3, {"x": deep}))
    # shape
    bad("frame_is_map", "bad_shape", {"type": 1}, rid=0)
    bad("frame_two_elements", "bad_shape", [4, 3], rid=3)
    bad("frame_four_elements", "bad_shape", [4, 3, {}, None], rid=3)
    bad("type_is_string", "bad_shape", ["hello", 0, {}], rid=0)
    bad("body_is_array", "bad_shape", [4, 3, []])
    bad("request_id_negative", "bad_shape", [4, -1, {}], rid=0)
    bad("type_over_uint32", "out_of_range", [2**32 + 4, 3, {}], rid=3)
    # type, request id
    bad("unknown_type_200", "unknown_type", [200, 7, {"blob": b"\x00" * 8}],
        "the relay answers error(unknown_type) with request id 7 and keeps the connection", rid=7)
    bad("unknown_type_0", "unknown_type", [0, 7, {}])
    bad("request_without_id", "bad_request_id", frame("send", 0, send))
    bad("push_with_id", "bad_request_id", frame("deliver", 5, by["deliver"][3]))
    bad("reply_without_id", "bad_request_id", frame("stored", 0, by["stored"][3]))
    # wrong msgpack type
    bad("auth_dev_as_str", "wrong_type", frame("auth", 1, {"dev": "0123456789abcdef", "sig": h("auth-sig", 64)}))
    bad("hello_time_negative", "wrong_type", frame("hello", 0, {"ver": 1, "time": -5, "chal": hello["chal"]}))
    bad("hello_time_float", "wrong_type", frame("hello", 0, {"ver": 1, "time": Raw(b"\xcb" + struct.pack(">d", 1.0)), "chal": hello["chal"]}))
    bad("send_env_not_array", "wrong_type", frame("send", 12, dict(send, env={"dev": DEV_W1})))
    bad("send_rcpt_not_bool", "wrong_type", frame("send", 12, dict(send, rcpt=1)))
    bad("units_list_ten_as_bin", "wrong_type", frame("units_list", 10, {"ten": b"varde"}))
    bad("map_key_not_string", "wrong_type", frame("ok", 3, Raw(b"\x81\x01\xc0")))
    bad("hello_chal_nil", "wrong_type", frame("hello", 0, {"ver": 1, "time": T0, "chal": None}))
    # lengths
    bad("auth_dev_15_bytes", "bad_length", frame("auth", 1, {"dev": DEV_C1[:15], "sig": h("auth-sig", 64)}))
    bad("auth_sig_65_bytes", "bad_length", frame("auth", 1, {"dev": DEV_C1, "sig": h("auth-sig", 65)}))
    bad("hello_chal_31_bytes", "bad_length", frame("hello", 0, {"ver": 1, "time": T0, "chal": h("challenge", 31)}))
    bad("send_empty_ciphertext", "bad_length", frame("send", 12, dict(send, env=[{"dev": DEV_W1, "ct": b""}])))
    bad("send_no_envelopes", "bad_length", frame("send", 12, dict(send, env=[])))
    bad("send_to_id_17_bytes", "bad_length", frame("send", 12, {"cmid": CMID, "to": [CIT + b"\x00"], "env": send["env"]}))
    bad("prekeys_upload_empty", "bad_length", frame("prekeys_upload", 4, {"opk": []}))
    # limits
    bad("send_33_accounts", "over_limit", frame("send", 12, {"cmid": CMID, "to": [h(f"acc/{i}", 16) for i in range(33)], "env": send["env"]}))
    bad("prekeys_upload_101", "over_limit", frame("prekeys_upload", 4, {"opk": [opk("x", i) for i in range(101)]}))
    bad("register_label_65_bytes", "over_limit", frame("register", 1, dict(by["register"][3], label="x" * 65)))
    bad("units_list_slug_33", "over_limit", frame("units_list", 10, {"ten": "a" * 33}))
    bad("error_text_257", "over_limit", frame("error", 5, {"code": 7, "name": "unknown_type", "text": "e" * 257}))
    bad("send_ciphertext_65537", "over_limit", frame("send", 12, dict(send, env=[{"dev": DEV_W1, "ct": b"\x00" * 65537}])))
    bad("consent_record_4097", "over_limit", frame("consent_grant", 15, {"rec": b"\x01" * 4097, "sig": h("consent/sig/1", 64)}))
    bad("map_33_keys", "over_limit", frame("ok", 3, {f"k{i}": i for i in range(33)}))
    # missing / duplicate
    bad("auth_missing_sig", "missing_field", frame("auth", 1, {"dev": DEV_C1}))
    bad("send_missing_cmid", "missing_field", frame("send", 12, {k: v for k, v in send.items() if k != "cmid"}))
    bad("register_spk_missing_sig", "missing_field",
        frame("register", 1, dict(by["register"][3], spk={k: v for k, v in spk("x").items() if k != "sig"})))
    bad("hello_empty_body", "missing_field", frame("hello", 0, {}))
    bad("auth_dev_twice", "duplicate_field", [2, 1, Raw(b"\x83" + enc("dev") + enc(DEV_C1) + enc("dev") + enc(DEV_C2) + enc("sig") + enc(h("auth-sig", 64)))])
    bad("empty_unknown_key_twice", "duplicate_field", [4, 10, Raw(b"\x83\xa0\xa0\xa0\xa0\xa0\xa3t.e")])
    bad("unknown_key_twice", "duplicate_field", [4, 3, Raw(b"\x82" + enc("x") + enc(1) + enc("x") + enc(2))])
    # range
    bad("hello_version_0", "out_of_range", frame("hello", 0, {"ver": 0, "time": T0, "chal": hello["chal"]}))
    bad("consent_entry_kind_3", "out_of_range",
        frame("consents", 17, {"list": [{"kind": 3, "rec": b"\x01", "sig": h("s", 64), "time": T0}]}))
    bad("error_det_limit_0", "out_of_range", frame("error", 13, {"code": 38, "name": "quota_exceeded", "text": "", "det": {"limit": 0}}))
    # strings
    bad("slug_uppercase", "bad_string", frame("units_list", 10, {"ten": "Varde"}))
    bad("slug_leading_dash", "bad_string", frame("units_list", 10, {"ten": "-varde"}))
    bad("label_invalid_utf8", "bad_string", frame("register", 1, dict(by["register"][3], label=RawStr(b"phone \xff"))))
    bad("label_overlong_utf8", "bad_string", frame("register", 1, dict(by["register"][3], label=RawStr(b"\xc0\xaf"))))
    bad("label_surrogate_utf8", "bad_string", frame("register", 1, dict(by["register"][3], label=RawStr(b"\xed\xa0\x80"))))
    bad("attestation_with_space", "bad_string", frame("register", 1, dict(by["register"][3], att="eyJ a.b.c")))
    # consistency
    bad("bundles_fetch_account_and_unit", "invalid", frame("bundles_fetch", 7, {"acc": CIT, "ten": "varde", "unit": "jobcenter"}))
    bad("bundles_fetch_nothing", "invalid", frame("bundles_fetch", 7, {}))
    bad("bundles_fetch_device_twice", "invalid", frame("bundles_fetch", 7, {"acc": CIT, "devs": [DEV_C1, DEV_C1]}))
    bad("bundles_fetch_devices_empty", "bad_length", frame("bundles_fetch", 7, {"acc": CIT, "devs": []}))
    bad("bundles_fetch_513_devices", "over_limit", frame("bundles_fetch", 7, {"acc": CIT, "devs": [h(f"dev/{i}", 16) for i in range(513)]}))
    bad("device_set_get_unit_without_tenant", "invalid", frame("device_set_get", 11, {"unit": "jobcenter"}))
    bad("send_no_addressee", "invalid", frame("send", 12, {"cmid": CMID, "env": send["env"]}))
    bad("send_unit_without_tenant", "invalid", frame("send", 12, {"cmid": CMID, "unit": "jobcenter", "env": send["env"]}))
    bad("send_device_twice", "invalid", frame("send", 12, dict(send, env=send["env"] + [send["env"][0]])))
    bad("send_account_twice", "invalid", frame("send", 12, {"cmid": CMID, "to": [CIT, CIT], "env": send["env"]}))
    # attachments
    blob_chunk = by["blob_chunk"][3]
    bad("blob_chunk_262145_bytes", "over_limit", frame("blob_chunk", 20, dict(blob_chunk, data=b"\x00" * 262145)))
    bad("blob_chunk_empty", "bad_length", frame("blob_chunk", 20, dict(blob_chunk, data=b"")))
    bad("blob_put_size_0", "out_of_range", frame("blob_put", 19, dict(by["blob_put"][3], size=0)))
    bad("blob_put_size_over_1gib", "out_of_range", frame("blob_put", 19, dict(by["blob_put"][3], size=2**30 + 1)))
    bad("blob_put_sha_31_bytes", "bad_length", frame("blob_put", 19, dict(by["blob_put"][3], sha=h("blob/sha", 31))))
    bad("blob_get_len_0", "out_of_range", frame("blob_get", 22, dict(by["blob_get"][3], len=0)))
    bad("blob_get_len_262145", "out_of_range", frame("blob_get", 22, dict(by["blob_get"][3], len=262145)))
    bad("blob_state_have_over_size", "invalid", frame("blob_state", 19, dict(by["blob_state_uploading"][3], have=10485809)))
    bad("blob_state_done_early", "invalid", frame("blob_state", 19, dict(by["blob_state_uploading"][3], done=True)))
    bad("send_17_blobs", "over_limit", frame("send", 23, dict(send, blobs=[h(f"blob/{i}", 16) for i in range(17)])))
    bad("send_blob_twice", "invalid", frame("send", 23, dict(send, blobs=[BLOB, BLOB])))
    bad("deliver_tenant_without_unit", "invalid",
        frame("deliver", 0, {k: v for k, v in by["deliver"][3].items() if k != "unit"}))

    doc = {
        "description": "OS2wakks wire protocol v1 test vectors (spec/protocol.md). 'valid': hex is one frame; "
                       "'frame' is its decoded form (bin as lowercase hex, str as string); when 'canonical' is true "
                       "encoding 'frame' must give exactly 'hex'. 'invalid': decoding 'hex' must fail with 'error' "
                       "(wire name) / 'code' (wire number), and the relay's error carries request id 'rid' (§3.4). Generated by tests/protocol/make_vectors.py.",
        "protocol_version": 1,
        "types": TYPES,
        "valid": valid,
        "invalid": inv,
    }
    if len(sys.argv) == 3 and sys.argv[1] == "--corpus":
        os.makedirs(sys.argv[2], exist_ok=True)
        for kind in ("valid", "invalid"):
            for e in doc[kind]:
                with open(os.path.join(sys.argv[2], f"{kind}-{e['name']}"), "wb") as f:
                    f.write(bytes.fromhex(e["hex"]))
        return
    json.dump(doc, sys.stdout, indent=1)
    sys.stdout.write("\n")


CODES = {
    "malformed": 1, "truncated": 2, "trailing_bytes": 3, "frame_too_large": 4, "too_deep": 5,
    "bad_shape": 6, "unknown_type": 7, "bad_request_id": 8, "wrong_type": 9, "bad_length": 10,
    "over_limit": 11, "missing_field": 12, "duplicate_field": 13, "out_of_range": 14,
    "bad_string": 15, "invalid": 16,
}

if __name__ == "__main__":
    main()
