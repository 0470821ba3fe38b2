// SPDX-License-Identifier: MPL-2.0
import { readFileSync } from 'node:fs';

export const fromHex = (h) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
export const toHex = (b) => Buffer.from(b).toString('hex');
export const vectors = (name) =>
  JSON.parse(readFileSync(new URL(`../../../spec/vectors/${name}.json`, import.meta.url)));

// A decoded value in the vectors' JSON form: bin as lowercase hex, integers as numbers.
export function plain(v) {
  if (v instanceof Uint8Array) return toHex(v);
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

// The vectors' JSON form back to the codec's input, using the decoded frame as the type guide.
export function typed(json, like) {
  if (like instanceof Uint8Array) return fromHex(json);
  if (Array.isArray(json)) return json.map((x, i) => typed(x, like[i]));
  if (json && typeof json === 'object') return Object.fromEntries(Object.entries(json).map(([k, x]) => [k, typed(x, like[k])]));
  return json;
}
