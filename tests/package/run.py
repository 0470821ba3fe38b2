#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""The Debian package as an operator meets it, on this machine (CI: a fresh Debian 12, as root,
without systemd running).

Builds the .deb (`make deb`, or takes the one given), installs it system-wide with `dpkg -i` (the
way an operator does; CI runs as root on a throw-away machine, so nothing needs a chroot), checks
what it installed, writes what an operator writes (two identity providers' key sets, a consent
text, a certificate for nginx), starts the relay as the unit does (its ExecStartPre and ExecStart
lines, as the user os2wakks, with a NOTIFY_SOCKET this script listens on), puts Debian's nginx with
the packaged site file in front, and with the installed `wakks` CLI registers a citizen (MitID
broker token) and a caseworker (AD FS token), signed with the providers' keys generated here, and
sends a message from one to the other through nginx over TLS. Then the nightly backup, a clean
stop, and `dpkg --purge`. Prints one ok/FAIL line per check and `package: N passed, N failed`.

  tests/package/run.py [PATH.deb]
"""
import base64
import glob
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
passed = failed = 0


def check(what, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {what}", flush=True)
    else:
        failed += 1
        print(f"FAIL {what}{': ' + detail if detail else ''}", flush=True)
    return cond


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Provider:
    """An identity provider of our own: an RSA key whose public half goes into the relay's
    jwks_file, and ID tokens signed with the private half (openssl)."""

    def __init__(self, work, name, issuer, audience):
        self.key = os.path.join(work, name + ".key")
        self.issuer, self.audience, self.kid = issuer, audience, name + "-1"
        subprocess.run(["openssl", "genrsa", "-out", self.key, "2048"], check=True,
                       capture_output=True)
        mod = run(["openssl", "rsa", "-in", self.key, "-noout", "-modulus"]).stdout
        n = bytes.fromhex(mod.strip().split("=", 1)[1])
        self.jwks = {"keys": [{"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256",
                               "n": b64url(n), "e": "AQAB"}]}

    def token(self, nonce, claims):
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        payload = {"iss": self.issuer, "aud": self.audience, "iat": now, "exp": now + 300,
                   "nonce": nonce, **claims}
        signing_input = (b64url(json.dumps(header).encode()) + "." +
                         b64url(json.dumps(payload).encode()))
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key],
                             input=signing_input.encode(), capture_output=True, check=True).stdout
        return signing_input + "." + b64url(sig)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def unit_lines(path, key):
    with open(path) as f:
        return [l.split("=", 1)[1].strip() for l in f if l.startswith(key + "=")]


# The unit's User= and Group=: the process itself runs as os2wakks (no runuser in between, so
# that signals and the notification socket's peer are the relay's own).
AS_OS2WAKKS = {"user": "os2wakks", "group": "os2wakks", "extra_groups": []}


def main():
    if os.geteuid() != 0:
        print("package test: needs root (dpkg -i, the user os2wakks); CI runs as root")
        return 2
    work = tempfile.mkdtemp(prefix="wakks-package-")
    os.chmod(work, 0o755)  # the relay (os2wakks) reads the nothing here; nginx's workers do not either
    deb = sys.argv[1] if len(sys.argv) > 1 else None
    procs = []
    try:
        if not deb:
            t = time.time()
            r = run(["make", "-C", ROOT, "deb", "DEB_DIR=" + os.path.join(work, "deb")])
            debs = glob.glob(os.path.join(work, "deb", "os2wakks_*.deb"))
            if not check("make deb builds the package", r.returncode == 0 and len(debs) == 1,
                         r.stdout[-2000:] + r.stderr[-2000:]):
                return 1
            deb = debs[0]
            print(f"     (built in {time.time() - t:.0f} s)")
        r = run(["dpkg", "-i", deb])
        if not check("dpkg -i installs it", r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]):
            return 1
        installed_checks()
        exchange_through_nginx(work, procs)
        reinstall_keeps_configuration_and_data(deb)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()  # nginx's master ends its workers on SIGTERM; SIGKILL would orphan them
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        r = run(["dpkg", "--purge", "os2wakks"])
        check("dpkg --purge removes it", r.returncode == 0 and not os.path.exists("/usr/bin/wakks-relay"),
              r.stderr[-1000:])
        check("purge keeps the data directory (it holds the database)",
              os.path.isdir("/var/lib/os2wakks"))
        for leftover in ["/etc/os2wakks", "/var/lib/os2wakks", "/var/backups/os2wakks"]:
            shutil.rmtree(leftover, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def installed_checks():
    for path in ["/usr/bin/wakks-relay", "/usr/bin/wakks"]:
        check(f"{path} is installed", os.access(path, os.X_OK))
    v = run(["/usr/bin/wakks-relay", "--version"]).stdout
    check("wakks-relay --version names a version", re.match(r"wakks-relay \d+\.\d+\.\d+", v), v)
    v = run(["/usr/bin/wakks", "--version"]).stdout
    check("wakks --version names a version", re.match(r"wakks \d+\.\d+\.\d+", v), v)
    try:
        pw = pwd.getpwnam("os2wakks")
        check("system user os2wakks exists, without a login shell",
              pw.pw_uid < 1000 and pw.pw_shell in ("/usr/sbin/nologin", "/bin/false"))
    except KeyError:
        check("system user os2wakks exists", False)
        return
    st = os.stat("/var/lib/os2wakks")
    check("/var/lib/os2wakks is 0700 and os2wakks's",
          st.st_mode & 0o777 == 0o700 and st.st_uid == pw.pw_uid)
    st = os.stat("/etc/os2wakks/relay.conf")
    check("/etc/os2wakks/relay.conf is root:os2wakks 0640",
          st.st_mode & 0o777 == 0o640 and st.st_uid == 0 and st.st_gid == pw.pw_gid)
    conf = open("/etc/os2wakks/relay.conf").read()
    check("the example configuration has no development mode and real-looking providers",
          "--dev" not in conf.replace("#", "") and "profile = mitid-broker" in conf
          and "profile = adfs" in conf)
    check("the web client is installed", os.path.isfile("/usr/share/os2wakks/web/index.html"))
    check("the example configuration serves it", "web_root = /usr/share/os2wakks/web" in conf)
    for page in ["/usr/share/man/man8/wakks-relay.8.gz", "/usr/share/man/man1/wakks.1.gz"]:
        check(f"man page {os.path.basename(page)}", os.path.isfile(page))
    for unit in ["os2wakks-relay.service", "os2wakks-backup.service", "os2wakks-backup.timer"]:
        check(f"systemd unit {unit}", os.path.isfile("/lib/systemd/system/" + unit))
    svc = open("/lib/systemd/system/os2wakks-relay.service").read()
    for line in ["Type=notify", "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes",
                 "ReadWritePaths=/var/lib/os2wakks", "CapabilityBoundingSet=\n",
                 "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID", "WatchdogSec="]:
        check(f"the relay unit has {line.strip()}", line in svc)
    m = re.search(r"^LimitNOFILE=(\d+)$", svc, re.M)
    check("the relay unit raises LimitNOFILE", m and int(m.group(1)) >= 65536)
    if shutil.which("systemd-analyze"):  # the systemd package, even where systemd does not run
        units = ["/lib/systemd/system/" + u for u in
                 ["os2wakks-relay.service", "os2wakks-backup.service", "os2wakks-backup.timer"]]
        r = run(["systemd-analyze", "verify", "--man=no", *units])
        check("systemd-analyze verify accepts the units", r.returncode == 0 and
              "os2wakks" not in r.stdout + r.stderr, r.stdout + r.stderr)
        r = run(["systemd-analyze", "security", "--offline=true", units[0]])
        m = re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout)
        check("the relay unit's exposure (systemd-analyze security) is below 2.0",
              m and float(m.group(1)) < 2.0, r.stdout[-300:])


def reinstall_keeps_configuration_and_data(deb):
    """An upgrade's dpkg steps (the same version again): the operator's configuration, its
    ownership and the database survive."""
    with open("/etc/os2wakks/relay.conf", "a") as f:
        f.write("# changed by the operator\n")
    r = run(["dpkg", "-i", deb], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    check("dpkg -i again (an upgrade's steps) succeeds", r.returncode == 0, r.stderr[-1000:])
    check("the operator's change to relay.conf is kept",
          "# changed by the operator" in open("/etc/os2wakks/relay.conf").read())
    st = os.stat("/etc/os2wakks/relay.conf")
    check("relay.conf is still root:os2wakks 0640", st.st_mode & 0o777 == 0o640 and
          st.st_gid == pwd.getpwnam("os2wakks").pw_gid)
    check("the database is still there", os.path.isfile("/var/lib/os2wakks/db/data.mdb"))


def write_secret(path, text, mode=0o640):
    with open(path, "w") as f:
        f.write(text)
    os.chown(path, 0, pwd.getpwnam("os2wakks").pw_gid)
    os.chmod(path, mode)


def exchange_through_nginx(work, procs):
    conf = open("/etc/os2wakks/relay.conf").read()
    idp = {}
    for section, body in re.findall(r"^\[idp ([^\]]+)\]\n((?:[^\[].*\n|\n)*)", conf, re.M):
        idp[section] = dict(re.findall(r"^(\w+) = (\S+)", body, re.M))
    broker = Provider(work, "mitid-broker", idp["mitid-broker"]["issuer"],
                      idp["mitid-broker"]["audience"])
    adfs = Provider(work, "varde-adfs", idp["varde-adfs"]["issuer"], idp["varde-adfs"]["audience"])
    write_secret(idp["mitid-broker"]["jwks_file"], json.dumps(broker.jwks))
    write_secret(idp["varde-adfs"]["jwks_file"], json.dumps(adfs.jwks))
    consent = re.search(r"^text_file = (\S+)", conf, re.M).group(1)
    write_secret(consent, "Jeg giver samtykke til, at Varde Kommune må skrive til mig her.\n")

    # The unit's own command lines, as the unit's user.
    unit = "/lib/systemd/system/os2wakks-relay.service"
    pre = unit_lines(unit, "ExecStartPre")[0].split()
    start = unit_lines(unit, "ExecStart")[0].split()
    r = run(pre, **AS_OS2WAKKS)
    check("ExecStartPre (check-config) accepts the example with keys written", r.returncode == 0,
          r.stderr)
    relay_port = int(re.search(r"^port = (\d+)", conf, re.M).group(1))
    if not check(f"the example's port {relay_port} is free here", not wait_port(relay_port, 0.2)):
        return

    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"\0wakks-package-{os.getpid()}"
    notify.bind(name)
    notify.settimeout(15)
    env = dict(os.environ, NOTIFY_SOCKET="@" + name[1:], WATCHDOG_USEC="2000000")
    log = open(os.path.join(work, "relay.log"), "w")
    relay = subprocess.Popen(start, env=env, stderr=log, stdout=log, **AS_OS2WAKKS)
    procs.append(relay)
    try:
        ready = notify.recv(512).decode()
    except socket.timeout:
        ready = ""
    if not check("the relay tells the service manager READY=1", ready.startswith("READY=1"),
                 open(log.name).read()[-2000:]):
        return
    check("READY comes with the relay listening on the example's port", wait_port(relay_port, 1))
    try:
        check("WATCHDOG=1 follows", notify.recv(512).decode() == "WATCHDOG=1")
    except socket.timeout:
        check("WATCHDOG=1 follows", False)

    # nginx with the packaged site, only its port and certificate changed.
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", key,
                    "-out", cert], check=True, capture_output=True)
    port = free_port()
    site = open("/usr/share/doc/os2wakks/examples/nginx-os2wakks.conf").read()
    for old, new in [("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;"),
                     ("listen [::]:443 ssl http2;", ""),
                     ("/etc/ssl/os2wakks/fullchain.pem", cert),
                     ("/etc/ssl/os2wakks/privkey.pem", key)]:
        check(f"the nginx site has '{old}'", old in site)
        site = site.replace(old, new)
    open(os.path.join(work, "site.conf"), "w").write(site)
    open(os.path.join(work, "nginx.conf"), "w").write(f"""daemon off;
worker_processes 1;
user root;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log info;
events {{ worker_connections 128; }}
http {{
  access_log {work}/access.log;
  client_body_temp_path {work}/body;
  proxy_temp_path {work}/proxy;
  fastcgi_temp_path {work}/fastcgi;
  uwsgi_temp_path {work}/uwsgi;
  scgi_temp_path {work}/scgi;
  include {work}/site.conf;
}}
""")
    nginx = subprocess.Popen(["nginx", "-p", work, "-c", os.path.join(work, "nginx.conf"),
                              "-e", os.path.join(work, "nginx-error.log")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(nginx)
    if not check("nginx starts with the packaged site", wait_port(port)):
        print(open(os.path.join(work, "nginx-error.log")).read()[-2000:])
        return

    # Monitoring is on the admin listener (loopback, default port), never through the proxy.
    r = run(["curl", "-sS", "http://127.0.0.1:9464/healthz"])
    version = run(["/usr/bin/wakks-relay", "--version"]).stdout.split()[-1]
    check("/healthz on the admin listener answers ok with the installed version",
          '"status":"ok"' in r.stdout and f'"version":"{version}"' in r.stdout, r.stdout + r.stderr)
    r = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", cert,
             f"https://localhost:{port}/healthz"])
    check("/healthz is not served through the proxy", r.stdout.strip() == "404", r.stdout)
    r = run(["curl", "-sS", "--cacert", cert, f"https://localhost:{port}/"])
    check("the web client is served through nginx", "<html" in r.stdout.lower(), r.stdout[:200])

    # Two devices with the installed CLI: a citizen (MitID broker) and a caseworker (AD FS).
    def wakks(store, *args, stdin=None):
        return subprocess.Popen(["/usr/bin/wakks", "--store", store, *args], text=True,
                                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def register(store, provider, claims):
        r = run(["/usr/bin/wakks", "--relay", f"wss://localhost:{port}", "--ca", cert, "--store",
                 store, "init"])
        if r.returncode != 0:
            return r.returncode, r.stderr
        p = wakks(store, "register", "--issuer", provider.issuer, stdin=True)
        line = p.stdout.readline()
        m = re.match(r"nonce (\S+)", line)
        if not m:
            p.kill()
            return -1, line + p.stderr.read()
        out, err = p.communicate(provider.token(m.group(1), claims) + "\n", timeout=30)
        return p.returncode, out + err

    citizen, caseworker = os.path.join(work, "citizen"), os.path.join(work, "caseworker")
    rc, out = register(citizen, broker, {
        "idp": "mitid", "identity_type": "private",
        "loa": "https://data.gov.dk/concept/core/nsis/loa/Substantial", "dk.cpr": "0101801234"})
    check("a citizen registers with a MitID broker token through nginx", rc == 0, out)
    rc, out = register(caseworker, adfs, {"upn": "camilla.holm@varde.dk",
                                          "groups": ["varde-jobcenter"]})
    check("a caseworker registers with an AD FS token through nginx", rc == 0, out)
    r = run(["/usr/bin/wakks", "--store", citizen, "send", "--unit", "varde/jobcenter",
             "Hej fra pakketesten"])
    check("the citizen sends to the caseworker's unit", r.returncode == 0, r.stdout + r.stderr)
    r = run(["/usr/bin/wakks", "--store", caseworker, "receive", "--idle", "2"])
    check("the caseworker receives and decrypts it", r.returncode == 0 and
          "Hej fra pakketesten" in r.stdout, r.stdout + r.stderr)

    # The nightly backup as its unit runs it.
    bunit = "/lib/systemd/system/os2wakks-backup.service"
    benv = dict(os.environ)
    for e in unit_lines(bunit, "Environment"):
        for kv in e.split():
            k, v = kv.split("=", 1)
            benv[k] = v
    r = run(unit_lines(bunit, "ExecStart")[0].split(), env=benv, **AS_OS2WAKKS)
    backups = glob.glob("/var/backups/os2wakks/wakks-*")
    check("the backup unit's command takes a verified backup of the running relay",
          r.returncode == 0 and len(backups) == 1, r.stdout + r.stderr)

    relay.send_signal(signal.SIGTERM)
    try:
        stopping = notify.recv(512).decode()
        while stopping == "WATCHDOG=1":
            stopping = notify.recv(512).decode()
    except socket.timeout:
        stopping = ""
    check("SIGTERM: the relay says STOPPING=1", stopping == "STOPPING=1", stopping)
    check("and exits 0", relay.wait(timeout=30) == 0)
    nginx.send_signal(signal.SIGQUIT)
    nginx.wait(timeout=10)
    notify.close()


if __name__ == "__main__":
    rc = main()
    print(f"package: {passed} passed, {failed} failed")
    sys.exit(rc if rc else (1 if failed else 0))
