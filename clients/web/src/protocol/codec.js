// SPDX-License-Identifier: MPL-2.0
// Frame decoding and canonical encoding (spec/protocol.md §3). Decoded frames are
// { type, rid, name, body }: bin fields are Uint8Array, integers Number (BigInt above 2^53).
import { ProtoError } from './errors.js';
import { read, Writer } from './msgpack.js';
import { BY_NUMBER, LIMITS } from './schema.js';
import { slugValid } from './slug.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const keyOf = (b) => String.fromCharCode(...b);

function intValue(node, f) {
  if (node.t !== 'int' || node.neg) throw new ProtoError('wrong_type', f.k);
  if (node.v > f.max || node.v < f.lo || node.v > f.hi) throw new ProtoError('out_of_range', f.k);
  return node.v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(node.v) : node.v;
}

function sized(len, f) {
  if (len > f.hi) throw new ProtoError('over_limit', f.k);
  if (len < f.lo) throw new ProtoError('bad_length', f.k);
}

function field(node, f) {
  switch (f.kind) {
    case 'int': return intValue(node, f);
    case 'bool':
      if (node.t !== 'bool') throw new ProtoError('wrong_type', f.k);
      return node.v;
    case 'fix':
      if (node.t !== 'bin') throw new ProtoError('wrong_type', f.k);
      if (node.b.length !== f.n) throw new ProtoError('bad_length', f.k);
      return node.b.slice();
    case 'bin':
      if (node.t !== 'bin') throw new ProtoError('wrong_type', f.k);
      sized(node.b.length, f);
      return node.b.slice();
    case 'text': case 'ascii': case 'slug': {
      if (node.t !== 'str') throw new ProtoError('wrong_type', f.k);
      sized(node.b.length, f);
      if (f.kind === 'text') {
        try { return utf8.decode(node.b); } catch { throw new ProtoError('bad_string', f.k); }
      }
      const s = keyOf(node.b);
      const ok = f.kind === 'slug' ? slugValid(s) : node.b.every((c) => c >= 0x21 && c <= 0x7e);
      if (!ok) throw new ProtoError('bad_string', f.k);
      return s;
    }
    case 'map':
      if (node.t !== 'map') throw new ProtoError('wrong_type', f.k);
      return body(node, f.sub);
    case 'arr': {
      if (node.t !== 'arr') throw new ProtoError('wrong_type', f.k);
      sized(node.items.length, f);
      return node.items.map((it) => (f.sub ? field(it, { k: f.k, kind: 'map', sub: f.sub })
        : field(it, { k: f.k, kind: 'fix', n: f.item })));
    }
    default: throw new Error('schema kind');
  }
}

// Rule 4 for values nobody reads: map keys are strings, bounded, never repeated.
function skipUnknown(node) {
  if (node.t === 'arr') node.items.forEach(skipUnknown);
  if (node.t !== 'map') return;
  mapKeys(node);
  for (const [, v] of node.entries) skipUnknown(v);
}

function mapKeys(node) {
  if (node.entries.length > LIMITS.MAP_KEYS) throw new ProtoError('over_limit');
  const seen = new Set();
  return node.entries.map(([k]) => {
    if (k.t !== 'str') throw new ProtoError('wrong_type');
    const key = keyOf(k.b);
    if (seen.has(key)) throw new ProtoError('duplicate_field', key);
    seen.add(key);
    return key;
  });
}

function body(node, sch) {
  if (node.entries.length > LIMITS.MAP_KEYS) throw new ProtoError('over_limit');
  const out = {};
  const seen = new Set();
  for (const [k, v] of node.entries) {
    if (k.t !== 'str') throw new ProtoError('wrong_type');
    const key = keyOf(k.b);
    if (seen.has(key)) throw new ProtoError('duplicate_field', key);
    seen.add(key);
    const f = sch.fields.find((x) => x.k === key);
    if (f) out[key] = field(v, f);
    else skipUnknown(v);
  }
  for (const f of sch.fields) if (f.r && !(f.k in out)) throw new ProtoError('missing_field', f.k);
  const bad = sch.check ? sch.check(out) : null;
  if (bad) throw new ProtoError('invalid', bad);
  return out;
}

function header(node) {
  if (node.t !== 'int' || node.neg) throw new ProtoError('bad_shape');
  if (node.v > 0xffffffffn) throw new ProtoError('out_of_range');
  return Number(node.v);
}

/** Decodes and fully validates one frame; throws ProtoError with the wire error name. */
export function decode(buf) {
  if (buf.length > LIMITS.FRAME_BYTES) throw new ProtoError('frame_too_large');
  const root = read(buf);
  if (root.t !== 'arr' || root.items.length !== 3) throw new ProtoError('bad_shape');
  const [tn, rn, bn] = root.items;
  const type = header(tn);
  const rid = header(rn);
  if (bn.t !== 'map') throw new ProtoError('bad_shape');
  const info = BY_NUMBER.get(type);
  if (!info) throw new ProtoError('unknown_type');
  if ((info.kind === 'push' && rid !== 0) || ((info.kind === 'req' || info.kind === 'rep') && rid === 0)) {
    throw new ProtoError('bad_request_id');
  }
  return { type, rid, name: info.name, body: body(bn, info.body) };
}

function present(f, v) {
  if (v === undefined || v === null) return false;
  if (f.r) return true;
  if (f.kind === 'bool') return v === true;
  if (f.kind === 'arr') return v.length > 0;
  if (f.kind === 'int') return BigInt(v) !== 0n;
  return true;
}

function writeField(w, f, v) {
  switch (f.kind) {
    case 'int': return w.uint(v);
    case 'bool': return w.bool(v);
    case 'fix': case 'bin': return w.bin(v);
    case 'text': case 'ascii': case 'slug': return w.str(v);
    case 'map': return writeBody(w, f.sub, v);
    case 'arr':
      w.arr(v.length);
      for (const it of v) (f.sub ? writeBody(w, f.sub, it) : w.bin(it));
      return undefined;
    default: throw new Error('schema kind');
  }
}

function writeBody(w, sch, b) {
  const fields = sch.fields.filter((f) => present(f, b[f.k]));
  w.map(fields.length);
  for (const f of fields) { w.str(f.k); writeField(w, f, b[f.k]); }
}

/** Canonical encoding (keys in table order, shortest forms, absent optionals omitted); the
 * result is decoded again so that nothing invalid leaves this module. */
export function encode(type, rid, b = {}) {
  const info = BY_NUMBER.get(type);
  if (!info) throw new ProtoError('unknown_type');
  const w = new Writer();
  w.arr(3); w.uint(type); w.uint(rid);
  writeBody(w, info.body, b);
  const out = w.bytes();
  decode(out);
  return out;
}

/** The request id an error about a frame carries (spec/protocol.md §3.4): the frame starts with
 * an array head of two or more elements and two non-negative integers, the second within uint32;
 * otherwise 0. The element count and the type's value do not matter. */
export function errorRequestId(buf) {
  let p = 0;
  const has = (n) => p + n <= buf.length;
  const be = (n) => { let v = 0n; for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(buf[p + i]); p += n; return v; };
  const uint = () => {
    if (!has(1)) return null;
    const b = buf[p++];
    if (b <= 0x7f) return BigInt(b);
    const width = { 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8 }[b];
    if (width === undefined || !has(width)) return null;
    if (b >= 0xd0 && (buf[p] & 0x80)) return null; /* negative */
    return be(width);
  };
  if (!has(1)) return 0;
  const b0 = buf[p++];
  let count;
  if (b0 >= 0x90 && b0 <= 0x9f) count = b0 & 0x0f;
  else if (b0 === 0xdc || b0 === 0xdd) {
    const w = b0 === 0xdc ? 2 : 4;
    if (!has(w)) return 0;
    count = Number(be(w));
  } else return 0;
  if (count < 2 || uint() === null) return 0;
  const r = uint();
  return r === null || r > 0xffffffffn ? 0 : Number(r);
}
