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

/** Reads only the header of a frame that failed to decode (§3.4): [type, rid] or null. */
export function peek(buf) {
  try {
    let p = 0;
    const b0 = buf[p++];
    if (b0 === 0x93) { /* fixarray 3 */ } else if (b0 === 0xdc) p += 2; else return null;
    const n = () => {
      const b = buf[p++];
      if (b <= 0x7f) return b;
      if (b === 0xcc) return buf[p++];
      if (b === 0xcd) { const v = (buf[p] << 8) | buf[p + 1]; p += 2; return v; }
      if (b === 0xce) { const v = new DataView(buf.buffer, buf.byteOffset + p, 4).getUint32(0); p += 4; return v; }
      return null;
    };
    const t = n(), r = n();
    return t === null || r === null ? null : [t, r];
  } catch { return null; }
}
