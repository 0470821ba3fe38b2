// SPDX-License-Identifier: MPL-2.0
// Consent records (spec/consent.md §2-§3): the exact bytes a citizen's device signs.
import { ascii, concat, getU64, u8, u64 } from '../crypto/bytes.js';
import { sign } from '../crypto/keys.js';
import { slugValid } from '../protocol/slug.js';

export const GRANT = 1;
export const WITHDRAW = 2;
export const PURPOSE = 'digital-kommunikation';
export const CLIENT_VERSION = 'wakks-web/0.1.0';
// The signature's domain string (spec/consent.md §3); the vector test holds it to the spec's.
export const SIGN_DOMAIN = 'wakks.v1 consent';
const DOMAIN = concat(ascii(SIGN_DOMAIN), Uint8Array.of(0));

function str8(s, min, max) {
  const b = new TextEncoder().encode(s);
  if (b.length < min || b.length > max) throw new RangeError('consent field length');
  return concat(u8(b.length), b);
}

// A tenant id, or a unit id where '' names the whole tenant.
function id8(s, mayBeEmpty) {
  if (!slugValid(s) && !(mayBeEmpty && s === '')) throw new RangeError('consent tenant or unit id');
  return str8(s, 0, 32);
}

export function encodeRecord(r) {
  return concat(u8(1), u8(r.kind), r.account, r.device, id8(r.tenant, false), id8(r.unit ?? '', true),
    str8(r.purpose ?? PURPOSE, 1, 64), str8(r.textVersion, 1, 32), r.textSha256, str8(r.language, 2, 8),
    str8(r.clientVersion ?? CLIENT_VERSION, 1, 64), u64(r.time));
}

export function decodeRecord(b) {
  let o = 0;
  const take = (n) => { if (o + n > b.length) throw new RangeError('record truncated'); const x = b.slice(o, o + n); o += n; return x; };
  const s8 = () => new TextDecoder().decode(take(take(1)[0]));
  const r = { version: take(1)[0], kind: take(1)[0], account: take(16), device: take(16), tenant: s8(), unit: s8(), purpose: s8(), textVersion: s8(), textSha256: take(32), language: s8(), clientVersion: s8() };
  r.time = getU64(take(8), 0);
  if (o !== b.length) throw new RangeError('bytes follow the record');
  return r;
}

export const signRecord = (ikSk, rec) => sign(ikSk, concat(DOMAIN, rec));
export const signedBytes = (rec) => concat(DOMAIN, rec);
