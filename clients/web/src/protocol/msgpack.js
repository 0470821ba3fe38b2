// SPDX-License-Identifier: MPL-2.0
// A strict msgpack reader and a canonical writer (spec/protocol.md §3.3). The reader checks rules
// 1-3 in byte order while it builds a tree of typed nodes: every declared size is backed by the
// bytes present before anything is allocated, nesting is bounded, 0xC1 is malformed.
import { ProtoError } from './errors.js';

export const MAX_DEPTH = 8;
export const MAX_OBJECTS = 16384;

// Node kinds: int (v: BigInt, neg), nil, bool (v), float, str (b: bytes), bin (b), ext,
// arr (items), map (entries: [keyNode, valueNode][]).
export function read(buf) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  let objects = 0;
  const need = (n) => { if (buf.length - pos < n) throw new ProtoError('truncated'); };
  const u8 = () => { need(1); return buf[pos++]; };
  const u16 = () => { need(2); const v = dv.getUint16(pos); pos += 2; return v; };
  const u32 = () => { need(4); const v = dv.getUint32(pos); pos += 4; return v; };
  const u64 = () => { need(8); const v = dv.getBigUint64(pos); pos += 8; return v; };
  const bytes = (n) => { need(n); const b = buf.subarray(pos, pos + n); pos += n; return b; };

  function container(kind, n, depth) {
    if (depth > MAX_DEPTH) throw new ProtoError('too_deep');
    // An element takes at least one byte: a count the bytes cannot back is truncated.
    if (buf.length - pos < (kind === 'arr' ? n : 2 * n)) throw new ProtoError('truncated');
    if (kind === 'arr') {
      const items = [];
      for (let i = 0; i < n; i++) items.push(value(depth));
      return { t: 'arr', items };
    }
    const entries = [];
    for (let i = 0; i < n; i++) entries.push([value(depth), value(depth)]);
    return { t: 'map', entries };
  }

  function value(depth) {
    objects++;
    const b = u8();
    if (b <= 0x7f) return { t: 'int', v: BigInt(b) };
    if (b >= 0xe0) return { t: 'int', v: BigInt(b - 0x100), neg: true };
    if (b >= 0x80 && b <= 0x8f) return container('map', b & 0x0f, depth + 1);
    if (b >= 0x90 && b <= 0x9f) return container('arr', b & 0x0f, depth + 1);
    if (b >= 0xa0 && b <= 0xbf) return { t: 'str', b: bytes(b & 0x1f) };
    switch (b) {
      case 0xc0: return { t: 'nil' };
      case 0xc1: throw new ProtoError('malformed');
      case 0xc2: return { t: 'bool', v: false };
      case 0xc3: return { t: 'bool', v: true };
      case 0xc4: return { t: 'bin', b: bytes(u8()) };
      case 0xc5: return { t: 'bin', b: bytes(u16()) };
      case 0xc6: return { t: 'bin', b: bytes(u32()) };
      case 0xc7: { const n = u8(); u8(); bytes(n); return { t: 'ext' }; }
      case 0xc8: { const n = u16(); u8(); bytes(n); return { t: 'ext' }; }
      case 0xc9: { const n = u32(); u8(); bytes(n); return { t: 'ext' }; }
      case 0xca: bytes(4); return { t: 'float' };
      case 0xcb: bytes(8); return { t: 'float' };
      case 0xcc: return { t: 'int', v: BigInt(u8()) };
      case 0xcd: return { t: 'int', v: BigInt(u16()) };
      case 0xce: return { t: 'int', v: BigInt(u32()) };
      case 0xcf: return { t: 'int', v: u64() };
      case 0xd0: { need(1); const v = dv.getInt8(pos); pos += 1; return { t: 'int', v: BigInt(v), neg: v < 0 }; }
      case 0xd1: { need(2); const v = dv.getInt16(pos); pos += 2; return { t: 'int', v: BigInt(v), neg: v < 0 }; }
      case 0xd2: { need(4); const v = dv.getInt32(pos); pos += 4; return { t: 'int', v: BigInt(v), neg: v < 0 }; }
      case 0xd3: { need(8); const v = dv.getBigInt64(pos); pos += 8; return { t: 'int', v, neg: v < 0n }; }
      case 0xd4: bytes(2); return { t: 'ext' };
      case 0xd5: bytes(3); return { t: 'ext' };
      case 0xd6: bytes(5); return { t: 'ext' };
      case 0xd7: bytes(9); return { t: 'ext' };
      case 0xd8: bytes(17); return { t: 'ext' };
      case 0xd9: return { t: 'str', b: bytes(u8()) };
      case 0xda: return { t: 'str', b: bytes(u16()) };
      case 0xdb: return { t: 'str', b: bytes(u32()) };
      case 0xdc: return container('arr', u16(), depth + 1);
      case 0xdd: return container('arr', u32(), depth + 1);
      case 0xde: return container('map', u16(), depth + 1);
      case 0xdf: return container('map', u32(), depth + 1);
      default: throw new ProtoError('malformed');
    }
  }

  const root = value(0);
  if (pos !== buf.length) throw new ProtoError('trailing_bytes');
  if (objects > MAX_OBJECTS) throw new ProtoError('over_limit');
  return root;
}

/** Canonical writer: shortest unsigned integer forms and shortest headers. */
export class Writer {
  constructor() { this.parts = []; this.len = 0; }
  raw(a) { this.parts.push(a); this.len += a.length; }
  head(small, smallMax, codes, n) {
    if (small !== null && n <= smallMax) return this.raw(Uint8Array.of(small | n));
    const [c8, c16, c32] = codes;
    if (c8 !== null && n <= 0xff) return this.raw(Uint8Array.of(c8, n));
    if (n <= 0xffff) return this.raw(Uint8Array.of(c16, n >> 8, n & 0xff));
    return this.raw(Uint8Array.of(c32, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff));
  }
  uint(v) {
    const n = BigInt(v);
    if (n < 0n) throw new RangeError('negative integer');
    if (n <= 0x7fn) return this.raw(Uint8Array.of(Number(n)));
    if (n <= 0xffn) return this.raw(Uint8Array.of(0xcc, Number(n)));
    if (n <= 0xffffn) return this.raw(Uint8Array.of(0xcd, Number(n >> 8n), Number(n & 0xffn)));
    const b = new Uint8Array(n <= 0xffffffffn ? 5 : 9);
    const dv = new DataView(b.buffer);
    if (b.length === 5) { b[0] = 0xce; dv.setUint32(1, Number(n)); } else { b[0] = 0xcf; dv.setBigUint64(1, n); }
    return this.raw(b);
  }
  bool(v) { this.raw(Uint8Array.of(v ? 0xc3 : 0xc2)); }
  str(s) { const b = new TextEncoder().encode(s); this.head(0xa0, 31, [0xd9, 0xda, 0xdb], b.length); this.raw(b); }
  bin(b) { this.head(null, 0, [0xc4, 0xc5, 0xc6], b.length); this.raw(b); }
  arr(n) { this.head(0x90, 15, [null, 0xdc, 0xdd], n); }
  map(n) { this.head(0x80, 15, [null, 0xde, 0xdf], n); }
  bytes() {
    const out = new Uint8Array(this.len);
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    return out;
  }
}
