#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""A stand-in for Serviceplatformen's SF2900 Fordelingskomponent and its STS, for the journal
tests only. It follows KOMBIT's public description and uses the element names of
clients/journal/sf2900_layout.c (placeholders to be checked against the integration description
v2.4). Over HTTPS with a required client certificate (the municipality's system certificate):

  POST /sts      WS-Trust Issue for the configured entity id -> a SAML-like assertion (ID kept)
  POST /sf2900   the handover: token, fields and every SFTP-referenced document (size, SHA-256)
                 checked; answered "Modtaget"; then a technical and a business receipt are POSTed
                 to the journal's receipt endpoint with the stand-in's own client certificate.
  GET  /state    what it holds, for the test

A transaction id seen before is the same handover: answered again and its receipts sent again,
never a second note. Markers in the note text script the misbehaviour, each once per transaction
id: [teknisk-afvis] technical rejection, [forretning-afvis] business rejection, [ingen-kvittering]
no receipts (the sender must time out and send again), [fejl] an HTTP 500 server fault,
[langsom] an answer slower than the sender's timeout (it must give up and send again).
State lives in a JSON file, so a restart (kill -9) keeps it."""
import argparse
import hashlib
import http.server
import json
import os
import secrets
import ssl
import sys
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET

NS = {
    "soap": "http://schemas.xmlsoap.org/soap/envelope/",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wst": "http://docs.oasis-open.org/ws-sx/ws-trust/200512",
    "wsa": "http://www.w3.org/2005/08/addressing",
    "wsp": "http://schemas.xmlsoap.org/ws/2004/09/policy",
    "fk": "urn:oio:kombit:sf2900:fordeling:2.4",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
}
ISSUE = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue"

args = None
lock = threading.Lock()
state = {"tokens": [], "transactions": {}, "business_accepted": {}, "requests": 0,
         "refused": []}


def save():
    tmp = args.state + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, args.state)


def fault(code, text):
    body = ('<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="%s"><soap:Body>'
            '<soap:Fault><faultcode>soap:%s</faultcode><faultstring>%s</faultstring></soap:Fault>'
            '</soap:Body></soap:Envelope>' % (NS["soap"], code, text))
    return body.encode()


def t(el, path):
    x = el.find(path, NS)
    return x.text if x is not None and x.text is not None else None


def post_receipt(tid, kind, accepted, reason):
    body = ('<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="%s" xmlns:fk="%s">'
            '<soap:Body><fk:FordelingskvitteringModtagRequest><fk:TransaktionsId>%s</fk:TransaktionsId>'
            '<fk:KvitteringsType>%s</fk:KvitteringsType><fk:Status>%s</fk:Status>%s'
            '</fk:FordelingskvitteringModtagRequest></soap:Body></soap:Envelope>'
            % (NS["soap"], NS["fk"], tid, kind, "Accepteret" if accepted else "Afvist",
               "<fk:Aarsag>%s</fk:Aarsag>" % reason if reason else ""))
    ctx = ssl.create_default_context(cafile=args.receipt_ca)
    ctx.load_cert_chain(args.receipt_cert, args.receipt_key)
    for _ in range(50):
        try:
            req = urllib.request.Request(args.receipt_url, data=body.encode(), method="POST",
                                         headers={"Content-Type": "text/xml; charset=utf-8"})
            with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
                if r.status == 200 and b"Modtaget" in r.read():
                    return True
        except Exception as e:  # the journal may be restarting: deliver again
            print("standin: receipt delivery failed: %s" % e, file=sys.stderr)
        time.sleep(0.2)
    return False


def deliver_receipts(tid, tech_ok, tech_reason, bus_ok, bus_reason):
    time.sleep(0.05)
    if not post_receipt(tid, "Teknisk", tech_ok, tech_reason) or not tech_ok:
        return
    if not post_receipt(tid, "Forretning", bus_ok, bus_reason):
        return
    if bus_ok:
        with lock:
            state["business_accepted"][tid] = state["business_accepted"].get(tid, 0) + 1
            save()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):
        pass

    def send(self, status, body, ctype="text/xml; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def client_cn(self):
        cert = self.connection.getpeercert()
        for rdn in cert.get("subject", ()):
            for k, v in rdn:
                if k == "commonName":
                    return v
        return None

    def do_GET(self):
        if self.path != "/state":
            return self.send(404, b"")
        with lock:
            self.send(200, json.dumps(state).encode(), "application/json")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if self.client_cn() != args.expect_cn:
            return self.send(403, fault("Client", "system certificate not authorised"))
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return self.send(500, fault("Client", "request is not XML"))
        if self.path == "/sts":
            return self.sts(root)
        if self.path == "/sf2900":
            return self.handover(root)
        return self.send(404, b"")

    def sts(self, root):
        rst = root.find("soap:Body/wst:RequestSecurityToken", NS)
        if rst is None or t(rst, "wst:RequestType") != ISSUE or \
                t(rst, "wsp:AppliesTo/wsa:EndpointReference/wsa:Address") != args.entity_id:
            return self.send(500, fault("Client", "not an Issue request for this service"))
        tid = "_" + secrets.token_hex(16)
        with lock:
            state["tokens"].append(tid)
            save()
        exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        body = ('<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="%s" xmlns:wst="%s"'
                ' xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">'
                '<soap:Body><wst:RequestSecurityTokenResponse><wst:RequestedSecurityToken>'
                '<saml:Assertion xmlns:saml="%s" ID="%s"><saml:Issuer>standin-sts</saml:Issuer>'
                '<saml:Subject>%s</saml:Subject></saml:Assertion></wst:RequestedSecurityToken>'
                '<wst:Lifetime><wsu:Expires>%s</wsu:Expires></wst:Lifetime>'
                '</wst:RequestSecurityTokenResponse></soap:Body></soap:Envelope>'
                % (NS["soap"], NS["wst"], NS["saml"], tid, self.client_cn(), exp))
        self.send(200, body.encode())

    def refuse(self, why):
        with lock:
            state["refused"].append(why)
            save()
        self.send(500, fault("Client", why))

    def handover(self, root):
        a = root.find("soap:Header/wsse:Security/saml:Assertion", NS)
        with lock:
            known = a is not None and a.get("ID") in state["tokens"]
        if not known:
            return self.refuse("no valid token")
        req = root.find("soap:Body/fk:FordelingsobjektAfsendRequest", NS)
        if req is None:
            return self.refuse("not a handover request")
        tid = t(req, "fk:TransaktionsId") or ""
        note = req.find("fk:Journalnotat", NS)
        if len(tid) != 64 or t(req, "fk:AnvenderKontekst/fk:Cvr") != args.cvr or note is None \
                or t(req, "fk:Modtager/fk:SystemId") is None or t(note, "fk:Tidspunkt") is None \
                or (t(note, "fk:Part/fk:PartReference") is None and t(note, "fk:Part/fk:CprNummer") is None):
            return self.refuse("required fields missing")
        text = t(note, "fk:Notat") or ""
        docs = note.findall("fk:Dokument", NS)
        if not docs:
            return self.refuse("no rendering")
        for d in docs:
            path = t(d, "fk:SftpReference") or ""
            if not os.path.realpath(path).startswith(os.path.realpath(args.sftp_root) + "/"):
                return self.refuse("document outside the upload area")
            try:
                data = open(path, "rb").read()
            except OSError:
                return self.refuse("document not uploaded")
            if str(len(data)) != t(d, "fk:Stoerrelse") or \
                    hashlib.sha256(data).hexdigest() != t(d, "fk:Sha256"):
                return self.refuse("document does not match its size or checksum")
        with lock:
            state["requests"] += 1
            tr = state["transactions"].setdefault(tid, {"seen": 0, "docs": len(docs),
                                                        "text": text})
            tr["cpr"] = t(note, "fk:Part/fk:CprNummer")
            tr["name"] = t(note, "fk:Part/fk:Navn")
            tr["seen"] += 1
            first = tr["seen"] == 1
            save()
        if "[fejl]" in text and first:
            return self.send(500, fault("Server", "midlertidig fejl"))
        if "[langsom]" in text and first:
            time.sleep(float(args.slow_seconds))
        self.send(200, ('<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="%s" '
                        'xmlns:fk="%s"><soap:Body><fk:FordelingsobjektAfsendResponse><fk:Status>'
                        'Modtaget</fk:Status></fk:FordelingsobjektAfsendResponse></soap:Body>'
                        '</soap:Envelope>' % (NS["soap"], NS["fk"])).encode())
        # Scripted misbehaviour keys on the attempt: "once" means the first request of the id.
        seen = tr["seen"]
        if "[ingen-kvittering]" in text and seen == 1:
            return
        tech_ok = not ("[teknisk-afvis]" in text and seen == 1)
        bus_ok = not ("[forretning-afvis]" in text and seen == 1)
        threading.Thread(target=deliver_receipts, daemon=True,
                         args=(tid, tech_ok, "" if tech_ok else "Ugyldig modtager",
                               bus_ok, "" if bus_ok else "Sagen er lukket")).start()


def main():
    global args, state
    p = argparse.ArgumentParser()
    for k in ("port", "cert", "key", "client_ca", "expect_cn", "entity_id", "cvr", "sftp_root",
              "receipt_url", "receipt_cert", "receipt_key", "receipt_ca", "state", "slow_seconds"):
        p.add_argument("--" + k.replace("_", "-"), dest=k, required=True)
    args = p.parse_args()
    if os.path.exists(args.state):
        with open(args.state) as f:
            state = json.load(f)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(args.port)), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.load_verify_locations(args.client_ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("standin listening", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
