#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""Push services on one loopback TLS port, over HTTP/2 (python3-h2), for the relay's push test:

  POST /wp/NAME                        a Web Push endpoint (RFC 8030): checks the VAPID JWT (RFC 8292)
                                       and decrypts the aes128gcm payload (RFC 8291) with the
                                       subscription's private key, independently of the relay
  POST /3/device/TOKEN                 APNs: checks the ES256 provider token, apns-* headers, body
  POST /token                          Google's OAuth 2.0 token endpoint (JWT-bearer, RS256)
  POST /v1/projects/P/messages:send    FCM HTTP v1: checks the access token and the message
  POST /hook                           a tenant's fallback webhook (spec/push.md §7): checks the
                                       HMAC signature, the timestamp and that the body is
                                       content-free

Targets named "gone404", "gone410", "bad" (BadDeviceToken), "unreg" (Unregistered/UNREGISTERED)
answer with the providers' documented errors; "busy" answers 429 twice, then accepts; "hang"
never answers. Usage: push_stand_in.py DIR CERT KEY. Writes DIR/push-keys.json (the Web Push
subscriptions' public keys and auth secrets), DIR/apns.p8, DIR/fcm.json, DIR/webhook.secret; appends one JSON line
per request to DIR/push-events.jsonl; prints "PORT PID" once it listens; runs until killed."""
import base64
import hashlib
import hmac
import json
import os
import socket
import ssl
import sys
import threading
import time
import urllib.parse

import h2.config
import h2.connection
import h2.events
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

WEB_NAMES = ["ok", "ok2", "gone404", "gone410", "busy", "hang", "online"]
APNS_KEY_ID, APNS_TEAM, APNS_TOPIC = "KEY1234567", "TEAM123456", "dk.os2wakks.test"
FCM_PROJECT, FCM_EMAIL = "wakks-test", "push@wakks-test.iam.gserviceaccount.com"


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class State:
    def __init__(self, directory):
        self.dir = directory
        self.lock = threading.Lock()
        self.port = 0
        self.attempts = {}
        self.subs = {}
        for name in WEB_NAMES:
            k = ec.generate_private_key(ec.SECP256R1())
            self.subs[name] = (k, os.urandom(16))
        self.apns = ec.generate_private_key(ec.SECP256R1())
        self.fcm = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.access_tokens = set()
        self.webhook_secret = os.urandom(24).hex().encode()
        self.events = open(os.path.join(directory, "push-events.jsonl"), "a")

    def write_files(self):
        keys = {n: {"p256dh": k.public_key().public_bytes(serialization.Encoding.X962,
                                                          serialization.PublicFormat.UncompressedPoint).hex(),
                    "auth": a.hex()} for n, (k, a) in self.subs.items()}
        with open(os.path.join(self.dir, "push-keys.json"), "w") as f:
            json.dump(keys, f)
        with open(os.path.join(self.dir, "apns.p8"), "wb") as f:
            f.write(self.apns.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
        pem = self.fcm.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()
        with open(os.path.join(self.dir, "fcm.json"), "w") as f:
            json.dump({"type": "service_account", "project_id": FCM_PROJECT, "private_key_id": "kid-1",
                       "private_key": pem, "client_email": FCM_EMAIL,
                       "token_uri": f"https://localhost:{self.port}/token"}, f)
        with open(os.path.join(self.dir, "webhook.secret"), "wb") as f:
            f.write(self.webhook_secret + b"\n")
        os.chmod(os.path.join(self.dir, "webhook.secret"), 0o600)
        os.chmod(os.path.join(self.dir, "apns.p8"), 0o600)
        os.chmod(os.path.join(self.dir, "fcm.json"), 0o600)

    def attempt(self, key):
        with self.lock:
            self.attempts[key] = self.attempts.get(key, 0) + 1
            return self.attempts[key]

    def log(self, ev):
        ev["t"] = time.time()
        with self.lock:
            self.events.write(json.dumps(ev) + "\n")
            self.events.flush()


def jwt_parts(token, errors):
    try:
        h, c, s = token.split(".")
        return json.loads(b64d(h)), json.loads(b64d(c)), (h + "." + c).encode(), b64d(s)
    except Exception:
        errors.append("JWT is not three base64url JSON segments")
        return None


def verify_es256(pub, signed, sig, errors, what):
    if len(sig) != 64:
        errors.append(f"{what}: ES256 signature is not 64 raw bytes")
        return
    der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        pub.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        errors.append(f"{what}: signature does not verify")


def web_push(st, name, headers, body):
    errors = []
    now = time.time()
    auth = headers.get("authorization", "")
    params = {}
    if auth.startswith("vapid "):
        for part in auth[6:].split(","):
            k, _, v = part.strip().partition("=")
            params[k] = v
    else:
        errors.append("Authorization is not 'vapid t=..., k=...'")
    vapid_key = None
    if "t" in params and "k" in params:
        raw = b64d(params["k"])
        vapid_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        parts = jwt_parts(params["t"], errors)
        if parts:
            h, c, signed, sig = parts
            if h.get("alg") != "ES256":
                errors.append("VAPID alg is not ES256")
            verify_es256(vapid_key, signed, sig, errors, "VAPID")
            if c.get("aud") != f"https://localhost:{st.port}":
                errors.append(f"VAPID aud {c.get('aud')!r} is not the endpoint's origin")
            if not (now < c.get("exp", 0) <= now + 86400):
                errors.append("VAPID exp is not within 24 hours")
            if not str(c.get("sub", "")).startswith(("mailto:", "https:")):
                errors.append("VAPID sub is not a mailto: or https: URI")
    if not headers.get("ttl", "").isdigit():
        errors.append("TTL header missing")
    if headers.get("urgency") not in ("very-low", "low", "normal", "high"):
        errors.append("Urgency header missing")
    if headers.get("content-encoding") != "aes128gcm":
        errors.append("Content-Encoding is not aes128gcm")
    plaintext = None
    sub = st.subs.get(name)
    if sub and len(body) > 21:
        ua_priv, secret = sub
        salt, rs, idlen = body[:16], int.from_bytes(body[16:20], "big"), body[20]
        as_pub = body[21:21 + idlen]
        ct = body[21 + idlen:]
        try:
            shared = ua_priv.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), as_pub))
            ua_pub = ua_priv.public_key().public_bytes(serialization.Encoding.X962,
                                                       serialization.PublicFormat.UncompressedPoint)
            H = lambda k, m: hmac.new(k, m, hashlib.sha256).digest()
            ikm = H(H(secret, shared), b"WebPush: info\0" + ua_pub + as_pub + b"\1")
            prk = H(salt, ikm)
            cek = H(prk, b"Content-Encoding: aes128gcm\0\1")[:16]
            nonce = H(prk, b"Content-Encoding: nonce\0\1")[:12]
            rec = AESGCM(cek).decrypt(nonce, ct, None)
            if rs < 18 or len(ct) > rs:
                errors.append("record size does not hold the record")
            if not rec.rstrip(b"\0").endswith(b"\x02"):
                errors.append("last record has no 0x02 delimiter")
            plaintext = rec.rstrip(b"\0")[:-1].decode()
            if vapid_key and as_pub == params.get("k"):
                errors.append("the ECDH key is the VAPID key")
        except Exception as e:
            errors.append(f"payload does not decrypt: {type(e).__name__}")
    else:
        errors.append("no payload or unknown subscription")
    n = st.attempt("wp/" + name)
    status, extra = 201, []
    if name == "gone404":
        status = 404
    elif name == "gone410":
        status = 410
    elif name == "busy" and n <= 2:
        status, extra = 429, [("retry-after", "0")]
    elif name == "hang":
        status = None
    st.log({"kind": "web", "target": name, "attempt": n, "status": status, "errors": errors,
            "payload": plaintext, "ttl": headers.get("ttl"), "urgency": headers.get("urgency"),
            "topic": headers.get("topic")})
    return status, extra, b""


def apns(st, token, headers, body):
    errors = []
    auth = headers.get("authorization", "")
    if not auth.startswith("bearer "):
        errors.append("authorization is not a bearer token")
    else:
        parts = jwt_parts(auth[7:], errors)
        if parts:
            h, c, signed, sig = parts
            if h.get("alg") != "ES256" or h.get("kid") != APNS_KEY_ID:
                errors.append("provider token header has the wrong alg or kid")
            if c.get("iss") != APNS_TEAM or abs(c.get("iat", 0) - time.time()) > 3600:
                errors.append("provider token iss/iat wrong")
            verify_es256(st.apns.public_key(), signed, sig, errors, "APNs provider token")
    if headers.get("apns-topic") != APNS_TOPIC:
        errors.append("apns-topic wrong")
    if headers.get("apns-push-type") != "alert":
        errors.append("apns-push-type is not alert")
    try:
        aps = json.loads(body)["aps"]
        if aps.get("mutable-content") != 1:
            errors.append("mutable-content is not 1")
    except Exception:
        errors.append("body is not JSON with aps")
    n = st.attempt("apns/" + token)
    status, reason = 200, None
    if token == "bad":
        status, reason = 400, "BadDeviceToken"
    elif token == "unreg":
        status, reason = 410, "Unregistered"
    elif token == "busy" and n <= 2:
        status, reason = 429, "TooManyRequests"
    st.log({"kind": "apns", "target": token, "attempt": n, "status": status, "errors": errors,
            "body": body.decode(errors="replace")})
    out = json.dumps({"reason": reason}).encode() if reason else b""
    return status, [("apns-id", "00000000-0000-0000-0000-000000000001")], out


def fcm_token(st, headers, body):
    errors = []
    form = urllib.parse.parse_qs(body.decode())
    if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
        errors.append("grant_type is not jwt-bearer")
    parts = jwt_parts(form.get("assertion", [""])[0], errors)
    if parts:
        h, c, signed, sig = parts
        if h.get("alg") != "RS256":
            errors.append("assertion alg is not RS256")
        try:
            st.fcm.public_key().verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            errors.append("assertion signature does not verify")
        if c.get("iss") != FCM_EMAIL or c.get("aud") != f"https://localhost:{st.port}/token":
            errors.append("assertion iss/aud wrong")
        if c.get("scope") != "https://www.googleapis.com/auth/firebase.messaging":
            errors.append("assertion scope wrong")
        if not (c.get("iat", 0) < c.get("exp", 0) <= c.get("iat", 0) + 3600):
            errors.append("assertion exp wrong")
    tok = b64e(os.urandom(24))
    with st.lock:
        st.access_tokens.add(tok)
    st.log({"kind": "fcm_token", "target": "token", "status": 200, "errors": errors})
    return 200, [("content-type", "application/json")], json.dumps(
        {"access_token": tok, "expires_in": 3599, "token_type": "Bearer"}).encode()


def fcm_send(st, path, headers, body):
    errors = []
    auth = headers.get("authorization", "")
    if not auth.startswith("Bearer ") or auth[7:] not in st.access_tokens:
        errors.append("Authorization is not a token this endpoint issued")
    if path != f"/v1/projects/{FCM_PROJECT}/messages:send":
        errors.append("wrong project path")
    token = None
    try:
        m = json.loads(body)["message"]
        token = m["token"]
        if m.get("data") != {"wakks": "waiting"}:
            errors.append("data is not only {wakks: waiting}")
        if "notification" in m:
            errors.append("message carries a notification")
    except Exception:
        errors.append("body is not an FCM v1 message")
    n = st.attempt("fcm/" + str(token))
    status, out = 200, json.dumps({"name": f"projects/{FCM_PROJECT}/messages/1"}).encode()
    if token == "unreg":
        status = 404
        out = json.dumps({"error": {"code": 404, "message": "Requested entity was not found.",
                                    "status": "NOT_FOUND", "details": [
                                        {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                         "errorCode": "UNREGISTERED"}]}}).encode()
    elif token == "busy" and n <= 2:
        status = 429
        out = json.dumps({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "QUOTA_EXCEEDED"}]}}).encode()
    st.log({"kind": "fcm", "target": token, "attempt": n, "status": status, "errors": errors,
            "body": body.decode(errors="replace")})
    return status, [("content-type", "application/json")], out


def webhook(st, headers, body):
    errors = []
    ts = headers.get("x-wakks-timestamp", "")
    sig = headers.get("x-wakks-signature", "")
    want = hmac.new(st.webhook_secret, b"wakks-webhook-v1\0" + ts.encode() + b"\0" + body,
                    hashlib.sha256).hexdigest()
    if not hmac.compare_digest(sig, "v1=" + want):
        errors.append("signature does not verify")
    if not ts.isdigit() or abs(int(ts) - time.time()) > 300:
        errors.append("timestamp missing or stale")
    doc = {}
    try:
        doc = json.loads(body)
    except Exception:
        errors.append("body is not JSON")
    if sorted(doc) != ["ref", "since", "tenant", "v"] or doc.get("v") != 1:
        errors.append("body has other fields than v, tenant, ref, since")
    if len(str(doc.get("ref", ""))) != 32:
        errors.append("ref is not 32 hex digits")
    st.log({"kind": "hook", "target": str(doc.get("tenant")), "status": 204, "errors": errors,
            "body": body.decode(errors="replace")})
    return 204, [], b""


def route(st, headers, body):
    path = headers.get(":path", "")
    if headers.get(":method") != "POST":
        return 405, [], b""
    if path.startswith("/wp/"):
        return web_push(st, path[4:], headers, body)
    if path.startswith("/3/device/"):
        return apns(st, path[len("/3/device/"):], headers, body)
    if path == "/token":
        return fcm_token(st, headers, body)
    if path.startswith("/v1/projects/"):
        return fcm_send(st, path, headers, body)
    if path == "/hook":
        return webhook(st, headers, body)
    return 404, [], b""


def serve_conn(st, sock):
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    streams = {}
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    streams[ev.stream_id] = ({k.lower(): v for k, v in ev.headers}, bytearray())
                elif isinstance(ev, h2.events.DataReceived):
                    streams[ev.stream_id][1].extend(ev.data)
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    headers, body = streams.pop(ev.stream_id)
                    status, extra, out = route(st, headers, bytes(body))
                    if status is None:
                        continue  # "hang": never answered
                    conn.send_headers(ev.stream_id, [(":status", str(status)),
                                                     ("content-length", str(len(out)))] + extra,
                                      end_stream=not out)
                    if out:
                        conn.send_data(ev.stream_id, out, end_stream=True)
            sock.sendall(conn.data_to_send())
    except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
        return
    finally:
        sock.close()


def main():
    directory, cert, key = sys.argv[1], sys.argv[2], sys.argv[3]
    st = State(directory)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["h2"])
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    st.port = lsock.getsockname()[1]
    st.write_files()
    print(st.port, os.getpid(), flush=True)
    while True:
        raw, _ = lsock.accept()
        try:
            s = ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            continue
        threading.Thread(target=serve_conn, args=(st, s), daemon=True).start()


if __name__ == "__main__":
    main()
