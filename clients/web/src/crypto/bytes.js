// SPDX-License-Identifier: MPL-2.0
// Byte helpers: concatenation, big-endian integers, ASCII, comparison, hex.

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
export const ascii = (s) => new TextEncoder().encode(s);
export const u8 = (n) => Uint8Array.of(n);
export function u16(n) { return Uint8Array.of((n >> 8) & 0xff, n & 0xff); }
export function u32(n) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b; }
export function u64(n) { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n)); return b; }
export function getU32(b, o) { return new DataView(b.buffer, b.byteOffset).getUint32(o); }
export function getU64(b, o) {
  const v = new DataView(b.buffer, b.byteOffset).getBigUint64(o);
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
export function equal(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}
export function compare(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
export const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
export const fromHex = (h) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
export const zeros = (n) => new Uint8Array(n);
