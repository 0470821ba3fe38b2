// SPDX-License-Identifier: MPL-2.0
// A citizen's consent per municipality (spec/consent.md): the text shown, the signed grant or
// withdrawal, and the history the relay keeps.
import { fromHex, toHex } from '../crypto/bytes.js';
import { sodium } from '../crypto/sodium.js';
import { T } from '../protocol/schema.js';
import { decodeRecord, encodeRecord, GRANT, signRecord, WITHDRAW } from '../identity/consent_record.js';

export async function consentText(tenant, unit = '') {
  const path = unit ? `/consent/${encodeURIComponent(tenant)}/${encodeURIComponent(unit)}` : `/consent/${encodeURIComponent(tenant)}`;
  const r = await fetch(new URL(path, location.href), { cache: 'no-store' });
  if (!r.ok) throw new Error('consent_text');
  const t = await r.json();
  // The record names the hash of the text shown: refuse a text that does not match its hash.
  if (toHex(sodium.crypto_hash_sha256(new TextEncoder().encode(t.text))) !== t.sha256) throw new Error('consent_text');
  return t;
}

export async function decide(client, kind, text) {
  const d = client.device;
  const rec = encodeRecord({
    kind, account: d.acc, device: d.dev, tenant: text.tenant, unit: text.unit || '',
    textVersion: text.version, textSha256: fromHex(text.sha256), language: text.language || 'da', time: client.now(),
  });
  await client.request(kind === GRANT ? T.consent_grant : T.consent_withdraw, { rec, sig: signRecord(d.ik.sk, rec) });
}

/** tenant -> { active, time, version } from the relay's history (oldest first). */
export async function consentState(client) {
  const list = (await client.request(T.consent_list)).body.list;
  const state = {};
  for (const e of list) {
    try {
      const r = decodeRecord(e.rec);
      const key = r.unit ? `${r.tenant}/${r.unit}` : r.tenant;
      state[key] = { active: e.kind === GRANT, time: e.time, version: r.textVersion };
    } catch { /* a record we cannot read is shown as nothing */ }
  }
  return state;
}

export { GRANT, WITHDRAW };
