// SPDX-License-Identifier: MPL-2.0
// The client: registration and authentication, the persistent connection with back-off, and the
// device's state. Messaging (send, receive) is in messaging.js; this module owns the connection.
import { ready } from '../crypto/sodium.js';
import { equal, toHex } from '../crypto/bytes.js';
import { oneTimePrekeysGenerate, signedPrekeyGenerate } from '../crypto/keys.js';
import { T } from '../protocol/schema.js';
import { Connection, relayUrl } from '../transport/connection.js';
import { beginLogin, claimsOf, finishLogin, loginPending, providerList, takeReturn } from '../identity/oidc.js';
import * as db from '../store/db.js';
import { authBody, browserLabel, newDeviceKeys, PREKEY_BATCH, publicOpks, publicSpk, registerBody } from './device.js';
import { Sessions } from './sessions.js';
import { Messaging } from './messaging.js';
import { Tabs } from './tabs.js';

// Reconnect back-off: doubling from the first delay to the cap, with jitter.
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 30000;
// After a failed re-attestation the next waits this tab's sessionStorage entry out.
const REATTEST_PAUSE = 'wakks-reattest-paused-until';
// Signed prekeys are replaced weekly (spec/crypto.md §6.1).
const SPK_ROTATE_MS = 7 * 24 * 3600 * 1000;

export class Client extends EventTarget {
  constructor() {
    super();
    this.device = null;
    this.conn = null;
    this.status = 'offline'; // offline | connecting | online
    this.attempt = 0;
    this.stopped = false;
    this.messaging = null;
    this.notice = null;
    this.tabs = new Tabs({ leader: () => this.becameLeader(), serve: (op, args) => this.serve(op, args), heard: (m) => this.heard(m) });
  }

  changed(what = 'state') {
    this.dispatchEvent(new CustomEvent('change', { detail: what }));
    this.tabs.announce({ what, status: this.status, notice: this.notice });
  }

  setStatus(s) { this.status = s; this.changed('status'); }

  async init() {
    await ready;
    this.device = (await db.get('kv', 'device')) ?? null;
    if (this.device) {
      // Back from a re-attestation? (It may leave for the provider's log-in page once more.)
      // A failed one is not tried again for ten minutes (no redirect loop with a broken provider).
      const done = await this.completeReattest().catch((e) => {
        this.reattestError = e.code ?? e.message;
        sessionStorage.setItem(REATTEST_PAUSE, String(Date.now() + 10 * 60 * 1000));
        return false;
      });
      if (done === 'left') return;
      await this.startMessaging();
      this.tabs.start();
      return;
    }
    // Back from the provider's log-in page?
    this.loggingIn = loginPending();
    this.changed();
    try {
      await this.completeLogin();
    } catch (e) {
      this.loginError = e.code ?? e.message;
    } finally {
      this.loggingIn = false;
      this.changed();
    }
  }

  // --- Tabs: one connection per browser (tabs.js) ---

  /** True in a tab that waits for the connection lock: its requests go through the leader. */
  get follower() { return this.tabs.waiting; }

  /** This tab holds the lock now: the state another tab left in IndexedDB is the truth. */
  async becameLeader() {
    const d = await db.get('kv', 'device');
    if (!d) { this.tabs.stop(); return; }
    this.device = d;
    await this.startMessaging();
    this.stopped = false;
    this.attempt = 0;
    this.connect();
    this.changed();
    this.watchAttestation(); // the leader re-attests; the other tabs share its connection
  }

  /** A follower's call, run in the leader. */
  serve(op, args) {
    const m = this.messaging;
    if (op === 'request') return this.request(args[0], args[1]);
    if (!m) return Promise.reject(Object.assign(new Error('closed'), { code: 'closed' }));
    if (op === 'sendText' || op === 'sendFile' || op === 'markRead') return m[op](...args);
    if (op === 'sendNotice' || op === 'requestIdentity') return m.threads[op](...args);
    return Promise.reject(Object.assign(new Error('unknown'), { code: 'internal' }));
  }

  /** What the other tabs say: the leader's changes, a log-in or a log-out. */
  async heard(m) {
    if (m.kind === 'hello') { if (this.tabs.leader) this.changed('status'); return; }
    if (m.kind === 'login') { if (!this.device) { await this.init(); this.changed(); } return; }
    if (m.kind === 'logout') {
      if (!this.device) return;
      this.tabs.stop();
      this.stopped = true;
      clearTimeout(this.retryTimer);
      this.conn?.close();
      this.device = null;
      this.messaging = null;
      this.dispatchEvent(new CustomEvent('change', { detail: 'state' }));
      return;
    }
    if (m.kind !== 'changed' || this.tabs.leader || !this.device) return;
    const statusChanged = m.status !== this.status;
    this.status = m.status;
    this.notice = m.notice ?? null;
    if (m.what === 'status') { if (statusChanged) this.dispatchEvent(new CustomEvent('change', { detail: 'status' })); return; }
    this.reloading = (this.reloading ?? Promise.resolve()).then(async () => {
      const d = await db.get('kv', 'device');
      if (d && this.device) this.device = d;
      await this.messaging?.reload();
      await this.sessions?.load(); // for the safety numbers this tab shows
    }).catch(() => {});
    await this.reloading;
    if (statusChanged) this.dispatchEvent(new CustomEvent('change', { detail: 'status' }));
    this.dispatchEvent(new CustomEvent('change', { detail: m.what }));
  }

  async startMessaging() {
    this.sessions = new Sessions(this.device.storageKey);
    await this.sessions.load();
    this.messaging = new Messaging(this);
    await this.messaging.load();
  }

  get isCitizen() { return this.device?.role === 'citizen'; }

  /** Leaves for the provider's log-in page (a full-page redirect): the new device's keys wait in
   * IndexedDB, the rest of the log-in in this tab's sessionStorage (identity/oidc.js). */
  async startLogin(provider) {
    const keys = newDeviceKeys();
    await db.put('kv', 'pendingDevice', keys);
    location.assign(await beginLogin(provider, keys.ik.pk));
  }

  /** Back from the provider: exchanges the code, registers with the ID token on a new connection
   * (the nonce binds the relay's login challenge, not this connection's), and keeps the device.
   * Returns false when no log-in of this tab was under way; throws with a code when it failed. */
  async completeLogin() {
    const ret = takeReturn();
    if (!ret) return false;
    const keys = await db.get('kv', 'pendingDevice');
    await db.del('kv', 'pendingDevice');
    if (ret.error) throw Object.assign(new Error(ret.error), { code: ret.error });
    if (!keys) throw Object.assign(new Error('login_lost'), { code: 'login_lost' });
    const idToken = await finishLogin(ret);
    const conn = new Connection(relayUrl(), null, () => {});
    try {
      await conn.hello;
      const reply = await conn.request(T.register, registerBody(keys, idToken, browserLabel()));
      const claims = claimsOf(idToken);
      this.device = {
        ...keys, opks: undefined, role: ret.pending.provider.kind, idp: ret.pending.provider.id,
        acc: reply.body.acc, dev: reply.body.dev,
        name: typeof claims.name === 'string' ? claims.name : '', registered: Date.now(),
      };
      // A citizen's device keeps the evidence of its registration, to show the units it writes to
      // who it is (spec/client.md §15): the token, the issuer its nonce names and the challenge.
      if (ret.pending.provider.kind === 'citizen') {
        this.device.presentation = { issuer: ret.pending.provider.issuer, challenge: ret.pending.loginChallenge, token: idToken };
      }
      await db.write(['kv', 'opks'], (t) => {
        t.put('kv', 'device', this.device);
        for (const o of keys.opks) t.put('opks', o.id, o);
      });
    } finally {
      conn.close();
    }
    await this.startMessaging();
    this.stopped = false;
    this.notice = null;
    this.attempt = 0;
    this.tabs.post({ kind: 'login' });
    this.tabs.start();
    this.changed();
    return true;
  }

  /** A caseworker device's attestation lasts the relay's caseworker_attestation_seconds
   * (spec/identity.md §9): shortly before it ends the device re-attests — silently (prompt=none)
   * where the provider still has a session, else through its log-in page. Both are a full-page
   * redirect and back; the outbox and history are in IndexedDB, so nothing is lost. */
  async watchAttestation() {
    if (this.isCitizen) return;
    try {
      const list = await providerList();
      this.attestationMs = Number(list.caseworker_attestation_seconds ?? 0) * 1000;
      this.providerForReattest = (list.providers ?? []).find((p) => p.id === this.device.idp)
        ?? (list.providers ?? []).find((p) => p.kind === 'caseworker');
    } catch { return; }
    if (!this.attestationMs || !this.providerForReattest) return;
    clearInterval(this.attestTimer);
    const check = () => {
      if (!this.attestationDue() || Number(sessionStorage.getItem(REATTEST_PAUSE) ?? 0) > Date.now()) return;
      // Not while the caseworker is typing: the page is about to be replaced.
      if (document.getElementById('compose')?.value) return;
      clearInterval(this.attestTimer);
      this.startReattest(false);
    };
    this.attestTimer = setInterval(check, Math.min(30000, Math.max(1000, this.attestationMs / 4)));
    check();
  }

  attestationDue() {
    const since = this.device.attested ?? this.device.registered ?? 0;
    // A minute early, or a tenth of a short lifetime: a send must not meet an expired device.
    const margin = Math.min(60000, this.attestationMs / 10);
    return Date.now() - since >= this.attestationMs - margin;
  }

  async startReattest(interactive) {
    location.assign(await beginLogin(this.providerForReattest, this.device.ik.pk,
      { reattest: true, interactive, prompt: interactive ? undefined : 'none' }));
  }

  /** Back from a re-attestation: registers the fresh token with this device's own key (the relay
   * re-binds the device) and a new signed prekey. Returns 'left' when the provider wanted its
   * log-in page after all (the page goes there), true when done, false when none was under way. */
  async completeReattest() {
    const ret = takeReturn();
    if (!ret) return false;
    if (!ret.pending.reattest) return false;
    let idToken;
    try {
      idToken = await finishLogin(ret);
    } catch (e) {
      if (e.code === 'login_required' && !ret.pending.interactive) {
        this.providerForReattest = ret.pending.provider;
        await this.startReattest(true);
        return 'left';
      }
      throw e;
    }
    const cur = this.device.spk;
    const next = signedPrekeyGenerate(this.device.ik, cur.id + 1, Date.now());
    const conn = new Connection(relayUrl(), null, () => {});
    try {
      await conn.hello;
      const reply = await conn.request(T.register, { att: idToken, ik: this.device.ik.pk, spk: publicSpk(next), opk: [] });
      if (!equal(reply.body.dev, this.device.dev)) throw new Error('reattest_device');
    } finally {
      conn.close();
    }
    this.device = { ...this.device, spk: next, oldSpk: cur, attested: Date.now() };
    await db.put('kv', 'device', this.device);
    return true;
  }

  connect() {
    if (this.stopped || (this.conn && !this.conn.closed)) return;
    this.setStatus('connecting');
    const conn = new Connection(relayUrl(), (f) => this.onPush(f), (code) => this.onClose(conn, code));
    this.conn = conn;
    conn.hello.then(async (hello) => {
      // The relay's clock, for times it checks (consent records must be within minutes of it).
      this.clockOffset = Number(hello.time) - Date.now();
      const ok = await conn.request(T.auth, authBody(this.device.ik, hello.chal, this.device.dev));
      if (!equal(ok.body.acc, this.device.acc)) throw new Error('account');
      this.attempt = 0;
      this.setStatus('online');
      await this.afterAuth();
    }).catch((e) => {
      if (e.code === 'auth_failed') { this.notice = 'revoked'; this.stopped = true; this.changed(); }
    });
  }

  onClose(conn, code) {
    if (conn !== this.conn) return;
    this.setStatus('offline');
    if (code === 4004) { this.notice = 'revoked'; this.stopped = true; this.changed(); return; }
    // 4001: the same device connected elsewhere (another tab of this browser). Reconnecting would
    // push that one off in turn, so this page waits until the user brings it back.
    if (code === 4001) { this.notice = 'replaced'; this.stopped = true; this.changed(); return; }
    if (this.stopped) return;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt) * (0.75 + Math.random() / 2);
    this.attempt++;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Test and user hook: drop the connection now (reconnects with back-off unless `stay`). */
  disconnect(stay = false) {
    if (stay) this.stopped = true;
    this.conn?.ws.close(1000);
  }

  resume() {
    if (this.follower) return;
    this.stopped = false; this.notice = null; this.attempt = 0; this.connect();
  }

  request(type, body) {
    if (this.follower) return this.tabs.call('request', [type, body]);
    if (!this.conn || this.status !== 'online') return Promise.reject(Object.assign(new Error('offline'), { code: 'closed' }));
    return this.conn.request(type, body);
  }

  async afterAuth() {
    if (!this.isCitizen && !this.device.unit) await this.findOwnUnit();
    await this.rotateSignedPrekey().catch(() => {});
    this.changed('online');
    await this.messaging.flush();
    await this.messaging.threads.afterAuth();
  }

  /** A caseworker's unit: the unit whose device set holds this device. */
  async findOwnUnit() {
    const tenants = (await this.request(T.tenants_list)).body.list;
    for (const t of tenants) {
      const units = (await this.request(T.units_list, { ten: t.id })).body.list;
      for (const u of units) {
        try {
          const set = (await this.request(T.device_set_get, { ten: t.id, unit: u.id })).body.list;
          if (set.some((d) => equal(d.dev, this.device.dev))) {
            this.device = { ...this.device, tenant: t.id, tenantName: t.name, unit: u.id, unitName: u.name };
            await db.put('kv', 'device', this.device);
            return;
          }
        } catch { /* a unit we may not see */ }
      }
    }
  }

  /** A new signed prekey once the current one is older than SPK_ROTATE_MS; the previous one is
   * kept so that prekey envelopes already in flight still open. */
  async rotateSignedPrekey() {
    const cur = this.device.spk;
    if (Date.now() - cur.time < SPK_ROTATE_MS) return;
    const next = signedPrekeyGenerate(this.device.ik, cur.id + 1, Date.now());
    await this.request(T.spk_rotate, { spk: publicSpk(next) });
    this.device = { ...this.device, spk: next, oldSpk: cur };
    await db.put('kv', 'device', this.device);
  }

  async onPush(f) {
    if (f.type === T.deliver) return this.messaging.receive(f.body);
    if (f.type === T.receipt) return this.messaging.receipt(f.body);
    if (f.type === T.expired) return this.messaging.expired(f.body);
    if (f.type === T.prekeys_low) return this.topUpPrekeys();
    if (f.type === T.consent_changed) return this.consentChanged(f.body);
    if (f.type === T.devices_changed) {
      if (this.messaging) this.messaging.threads.ownOthers = undefined; // asked again when needed
      return this.changed('devices');
    }
    if (f.type === T.unit_devices_changed) return this.messaging.threads.unitChanged(f.body);
    return undefined; // unknown pushes are ignored (spec/protocol.md §14 rule 5)
  }

  /** Relay time now, in ms. */
  now() { return Date.now() + (this.clockOffset ?? 0); }

  async consentChanged(b) {
    if (!this.isCitizen && this.messaging) await this.messaging.consentChanged(b);
    this.changed('consent');
  }

  async topUpPrekeys() {
    const first = this.device.nextOpkId;
    const opks = oneTimePrekeysGenerate(first, PREKEY_BATCH);
    this.device = { ...this.device, nextOpkId: first + PREKEY_BATCH };
    await db.write(['kv', 'opks'], (t) => {
      t.put('kv', 'device', this.device);
      for (const o of opks) t.put('opks', o.id, o);
    });
    for (const o of opks) this.messaging.opkCache.set(o.id, o);
    await this.request(T.prekeys_upload, { opk: publicOpks(opks) }).catch(() => {});
  }

  async devices() { return (await this.request(T.devices_list)).body.list; }

  async revoke(dev) {
    const self = equal(dev, this.device.dev);
    try {
      await this.request(T.device_revoke, { dev });
    } catch (e) {
      // Revoking ourselves, the relay may close the connection before its `ok` arrives.
      if (!(self && e.code === 'closed')) throw e;
    }
    if (self) await this.forget();
  }

  /** Logs out: this browser forgets its keys and history. */
  async forget() {
    this.tabs.post({ kind: 'logout' });
    this.tabs.stop();
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.conn?.close();
    await db.wipe();
    this.device = null;
    this.messaging = null;
    this.changed();
  }

  myDevHex() { return toHex(this.device.dev); }
}
