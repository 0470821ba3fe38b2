// SPDX-License-Identifier: MPL-2.0
// Time-ordered client message ids (spec/protocol.md §8.1, "Client message ids"): a 48-bit
// big-endian Unix millisecond time, then 80 random bits. The relay's idempotency index is keyed
// sending device || cmid, so ids that increase land at the end of this device's range there.
// The same rule as the C library's common/wakks_cmid.h; spec/vectors/client.json pins both.
import { random } from '../crypto/random.js';

export const CMID_RANDOM_BYTES = 10;
const TIME_MAX = 2 ** 48 - 1;

/** The time field of an id, in ms. */
export function cmidTime(id) {
  let t = 0;
  for (let i = 0; i < 6; i++) t = t * 256 + id[i];
  return t;
}

/** The id after `last` (null: none) at `nowMs`, from 10 random bytes `rnd`: a later millisecond
 * gives nowMs || rnd; the same or an earlier one (a burst, a clock stepped back) gives
 * last + 1 + be32(rnd[0..4]) over all 16 bytes, so the id still increases and the next one stays
 * unguessable. A last id at the end of the time range (year 10889) cannot grow: fresh instead. */
export function cmidNext(last, nowMs, rnd) {
  const now = Math.min(Math.max(0, Math.floor(nowMs)), TIME_MAX);
  if (last && now <= cmidTime(last)) {
    const next = new Uint8Array(16);
    let carry = 1 + ((rnd[0] << 24) >>> 0) + (rnd[1] << 16) + (rnd[2] << 8) + rnd[3];
    for (let i = 15; i >= 0; i--) {
      const sum = last[i] + (carry % 256);
      next[i] = sum & 0xff;
      carry = Math.floor(carry / 256) + (sum >> 8);
    }
    if (carry === 0) return next;
  }
  const out = new Uint8Array(16);
  let t = now;
  for (let i = 5; i >= 0; i--) { out[i] = t % 256; t = Math.floor(t / 256); }
  out.set(rnd.subarray(0, CMID_RANDOM_BYTES), 6);
  return out;
}

/** A generator of one device's ids: each id greater than the one before in this page. */
export function cmidGenerator() {
  let last = null;
  return (nowMs) => (last = cmidNext(last, nowMs, random(CMID_RANDOM_BYTES)));
}

/** This page's ids: every send of this device draws here (the leading tab does the sending). */
export const newCmid = cmidGenerator();
