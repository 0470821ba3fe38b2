// SPDX-License-Identifier: MPL-2.0
// A QR code encoder (ISO/IEC 18004, model 2, versions 1–10) for showing safety numbers as a code
// another phone can scan: one segment in numeric, alphanumeric or byte (UTF-8) mode, Reed–Solomon
// error correction, and the mask with the lowest penalty. Pure: no DOM, tested against libqrencode.

const MAX_VERSION = 10;
const LEVELS = { L: 0, M: 1, Q: 2, H: 3 };
const FORMAT_BITS = { L: 1, M: 0, Q: 3, H: 2 };
// Error-correction codewords per block and number of blocks, by level then version 1..10.
const ECC_PER_BLOCK = [
  [7, 10, 15, 20, 26, 18, 20, 24, 30, 18],
  [10, 16, 26, 18, 24, 16, 18, 22, 22, 26],
  [13, 22, 18, 26, 18, 24, 18, 22, 20, 24],
  [17, 28, 22, 16, 22, 28, 26, 26, 24, 28],
];
const BLOCKS = [
  [1, 1, 1, 1, 1, 2, 2, 2, 2, 4],
  [1, 1, 1, 2, 2, 4, 4, 4, 5, 5],
  [1, 1, 2, 2, 4, 4, 6, 6, 8, 8],
  [1, 1, 2, 4, 4, 4, 5, 6, 8, 8],
];
const ALNUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';

export class QrError extends Error {}

/** Codewords (data and error correction) a symbol of this version holds. */
export function rawCodewords(ver) {
  let modules = (16 * ver + 128) * ver + 64;
  if (ver >= 2) {
    const align = Math.floor(ver / 7) + 2;
    modules -= (25 * align - 10) * align - 55;
    if (ver >= 7) modules -= 36;
  }
  return Math.floor(modules / 8);
}

export function dataCodewords(ver, ecl) {
  const l = LEVELS[ecl];
  return rawCodewords(ver) - ECC_PER_BLOCK[l][ver - 1] * BLOCKS[l][ver - 1];
}

// --- segment -------------------------------------------------------------------------------

function segment(text) {
  if (/^[0-9]*$/.test(text)) return { mode: 1, count: text.length, bits: numericBits(text), countBits: [10, 12] };
  if ([...text].every((c) => ALNUM.includes(c))) return { mode: 2, count: text.length, bits: alnumBits(text), countBits: [9, 11] };
  const bytes = new TextEncoder().encode(text);
  const bits = [];
  for (const b of bytes) push(bits, b, 8);
  return { mode: 4, count: bytes.length, bits, countBits: [8, 16] };
}

function push(bits, value, n) {
  for (let i = n - 1; i >= 0; i--) bits.push((value >>> i) & 1);
}

function numericBits(s) {
  const bits = [];
  for (let i = 0; i < s.length; i += 3) {
    const g = s.slice(i, i + 3);
    push(bits, Number(g), g.length * 3 + 1);
  }
  return bits;
}

function alnumBits(s) {
  const bits = [];
  for (let i = 0; i + 1 < s.length; i += 2) push(bits, ALNUM.indexOf(s[i]) * 45 + ALNUM.indexOf(s[i + 1]), 11);
  if (s.length % 2) push(bits, ALNUM.indexOf(s.at(-1)), 6);
  return bits;
}

/** The data codewords for `text` at a version and level, or null when it does not fit. */
export function dataCodewordsFor(text, ver, ecl) {
  const seg = segment(text);
  const countBits = seg.countBits[ver <= 9 ? 0 : 1];
  if (seg.count >= 1 << countBits) return null;
  const cap = dataCodewords(ver, ecl) * 8;
  const bits = [];
  push(bits, seg.mode, 4);
  push(bits, seg.count, countBits);
  bits.push(...seg.bits);
  if (bits.length > cap) return null;
  for (let i = 0; i < 4 && bits.length < cap; i++) bits.push(0);
  while (bits.length % 8) bits.push(0);
  const out = [];
  for (let i = 0; i < bits.length; i += 8) out.push(bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b, 0));
  for (let pad = 0xec; out.length < cap / 8; pad ^= 0xec ^ 0x11) out.push(pad);
  return out;
}

// --- Reed–Solomon over GF(256), polynomial x^8 + x^4 + x^3 + x^2 + 1 ------------------------

function gfMul(a, b) {
  let r = 0;
  for (let i = 7; i >= 0; i--) {
    r = (r << 1) ^ ((r >>> 7) * 0x11d);
    r ^= ((b >>> i) & 1) * a;
  }
  return r;
}

function generator(degree) {
  const g = new Array(degree).fill(0);
  g[degree - 1] = 1;
  let root = 1;
  for (let i = 0; i < degree; i++) {
    for (let j = 0; j < degree; j++) {
      g[j] = gfMul(g[j], root);
      if (j + 1 < degree) g[j] ^= g[j + 1];
    }
    root = gfMul(root, 2);
  }
  return g;
}

/** The error-correction codewords of one block. */
export function reedSolomon(data, degree) {
  const g = generator(degree);
  const r = new Array(degree).fill(0);
  for (const b of data) {
    const factor = b ^ r.shift();
    r.push(0);
    for (let i = 0; i < degree; i++) r[i] ^= gfMul(g[i], factor);
  }
  return r;
}

/** Data split into blocks, each followed by its error correction, interleaved (§7.6). */
export function interleave(data, ver, ecl) {
  const l = LEVELS[ecl];
  const nBlocks = BLOCKS[l][ver - 1], eccLen = ECC_PER_BLOCK[l][ver - 1];
  const raw = rawCodewords(ver);
  const nShort = nBlocks - (raw % nBlocks);
  const shortLen = Math.floor(raw / nBlocks) - eccLen;
  const blocks = [];
  for (let i = 0, k = 0; i < nBlocks; i++) {
    const len = shortLen + (i < nShort ? 0 : 1);
    const d = data.slice(k, k + len);
    k += len;
    blocks.push({ d, e: reedSolomon(d, eccLen) });
  }
  const out = [];
  for (let i = 0; i <= shortLen; i++) for (const b of blocks) if (i < b.d.length) out.push(b.d[i]);
  for (let i = 0; i < eccLen; i++) for (const b of blocks) out.push(b.e[i]);
  return out;
}

// --- the symbol ----------------------------------------------------------------------------

function alignmentPositions(ver) {
  if (ver === 1) return [];
  const n = Math.floor(ver / 7) + 2, size = ver * 4 + 17;
  const step = Math.ceil((ver * 4 + 4) / (n * 2 - 2)) * 2;
  const pos = [6];
  for (let p = size - 7; pos.length < n; p -= step) pos.splice(1, 0, p);
  return pos;
}

function bchFormat(ecl, mask) {
  const data = (FORMAT_BITS[ecl] << 3) | mask;
  let rem = data;
  for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
  return ((data << 10) | rem) ^ 0x5412;
}

function bchVersion(ver) {
  let rem = ver;
  for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25);
  return (ver << 12) | rem;
}

const MASKS = [
  (x, y) => (x + y) % 2 === 0,
  (x, y) => y % 2 === 0,
  (x) => x % 3 === 0,
  (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
  (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
  (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
  (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
];

class Grid {
  constructor(ver) {
    this.ver = ver;
    this.size = ver * 4 + 17;
    this.dark = new Uint8Array(this.size * this.size);
    this.fixed = new Uint8Array(this.size * this.size);
  }
  set(x, y, dark) { this.dark[y * this.size + x] = dark ? 1 : 0; this.fixed[y * this.size + x] = 1; }
  get(x, y) { return this.dark[y * this.size + x]; }
}

function drawFunctionPatterns(g) {
  const s = g.size;
  for (let i = 0; i < s; i++) { g.set(6, i, i % 2 === 0); g.set(i, 6, i % 2 === 0); }
  for (const [cx, cy] of [[3, 3], [s - 4, 3], [3, s - 4]]) {
    for (let dy = -4; dy <= 4; dy++) {
      for (let dx = -4; dx <= 4; dx++) {
        const x = cx + dx, y = cy + dy;
        if (x < 0 || y < 0 || x >= s || y >= s) continue;
        const d = Math.max(Math.abs(dx), Math.abs(dy));
        g.set(x, y, d !== 2 && d !== 4);
      }
    }
  }
  const pos = alignmentPositions(g.ver);
  const last = pos.length - 1;
  for (let i = 0; i <= last; i++) {
    for (let j = 0; j <= last; j++) {
      if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) continue;
      for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) g.set(pos[i] + dx, pos[j] + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
    }
  }
  drawFormat(g, 'L', 0); // reserves the areas; the real bits are drawn with the chosen mask
  if (g.ver >= 7) {
    const bits = bchVersion(g.ver);
    for (let i = 0; i < 18; i++) {
      const b = (bits >>> i) & 1, a = s - 11 + (i % 3), c = Math.floor(i / 3);
      g.set(a, c, b);
      g.set(c, a, b);
    }
  }
}

function drawFormat(g, ecl, mask) {
  const bits = bchFormat(ecl, mask), s = g.size;
  const bit = (i) => (bits >>> i) & 1;
  for (let i = 0; i <= 5; i++) g.set(8, i, bit(i));
  g.set(8, 7, bit(6));
  g.set(8, 8, bit(7));
  g.set(7, 8, bit(8));
  for (let i = 9; i < 15; i++) g.set(14 - i, 8, bit(i));
  for (let i = 0; i < 8; i++) g.set(s - 1 - i, 8, bit(i));
  for (let i = 8; i < 15; i++) g.set(8, s - 15 + i, bit(i));
  g.set(8, s - 8, 1); // the dark module
}

function drawCodewords(g, codewords) {
  const s = g.size;
  let i = 0;
  for (let right = s - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5;
    for (let v = 0; v < s; v++) {
      for (let j = 0; j < 2; j++) {
        const x = right - j;
        const y = ((right + 1) & 2) === 0 ? s - 1 - v : v;
        if (g.fixed[y * s + x]) continue;
        if (i < codewords.length * 8) g.dark[y * s + x] = (codewords[i >>> 3] >>> (7 - (i & 7))) & 1;
        i++;
      }
    }
  }
}

function applyMask(g, mask) {
  const f = MASKS[mask], s = g.size;
  for (let y = 0; y < s; y++) for (let x = 0; x < s; x++) if (!g.fixed[y * s + x] && f(x, y)) g.dark[y * s + x] ^= 1;
}

/** The mask penalty of a finished symbol (§7.8.3: runs, 2×2 blocks, finder-like patterns, balance). */
export function penalty(dark, size) {
  const at = (x, y) => dark[y * size + x];
  let p = 0;
  const finderLike = [1, 0, 1, 1, 1, 0, 1];
  for (const horizontal of [true, false]) {
    for (let a = 0; a < size; a++) {
      const line = [];
      for (let b = 0; b < size; b++) line.push(horizontal ? at(b, a) : at(a, b));
      let run = 1;
      for (let b = 1; b <= size; b++) {
        if (b < size && line[b] === line[b - 1]) { run++; continue; }
        if (run >= 5) p += 3 + run - 5;
        run = 1;
      }
      for (let b = 0; b + 7 <= size; b++) {
        if (!finderLike.every((v, k) => line[b + k] === v)) continue;
        const lightBefore = b >= 4 && [1, 2, 3, 4].every((k) => line[b - k] === 0);
        const lightAfter = b + 11 <= size && [7, 8, 9, 10].every((k) => line[b + k] === 0);
        if (lightBefore) p += 40;
        if (lightAfter) p += 40;
      }
    }
  }
  for (let y = 0; y + 1 < size; y++) {
    for (let x = 0; x + 1 < size; x++) {
      const c = at(x, y);
      if (c === at(x + 1, y) && c === at(x, y + 1) && c === at(x + 1, y + 1)) p += 3;
    }
  }
  const darkCount = dark.reduce((a, b) => a + b, 0), total = size * size;
  p += 10 * Math.floor(Math.abs(darkCount * 20 - total * 10) / total);
  return p;
}

/**
 * Encodes `text` at error-correction level `ecl` (L, M, Q, H) in the smallest version that holds
 * it. `mask` forces a mask pattern (0–7); otherwise the one with the lowest penalty is used.
 * Returns { version, size, mask, modules } with modules[y * size + x] === 1 for a dark module.
 */
export function encodeQr(text, { ecl = 'M', mask } = {}) {
  if (!(ecl in LEVELS)) throw new QrError(`unknown error-correction level ${ecl}`);
  let ver = 1, data = null;
  for (; ver <= MAX_VERSION && !(data = dataCodewordsFor(text, ver, ecl)); ver++);
  if (!data) throw new QrError('the text is too long for a QR code of version 10');
  const codewords = interleave(data, ver, ecl);
  const build = (m) => {
    const g = new Grid(ver);
    drawFunctionPatterns(g);
    drawCodewords(g, codewords);
    applyMask(g, m);
    drawFormat(g, ecl, m);
    return g;
  };
  let best = null, bestMask = 0;
  for (const m of mask === undefined ? [0, 1, 2, 3, 4, 5, 6, 7] : [mask]) {
    const g = build(m);
    const score = mask === undefined ? penalty(g.dark, g.size) : 0;
    if (!best || score < best.score) { best = { g, score }; bestMask = m; }
  }
  return { version: ver, size: best.g.size, mask: bestMask, modules: best.g.dark };
}

/** An SVG path (one unit per module, quiet zone of `margin` modules) drawing the dark modules. */
export function qrPath(qr, margin = 4) {
  const parts = [];
  for (let y = 0; y < qr.size; y++) {
    for (let x = 0; x < qr.size; x++) {
      if (!qr.modules[y * qr.size + x]) continue;
      let run = 1;
      while (x + run < qr.size && qr.modules[y * qr.size + x + run]) run++;
      parts.push(`M${x + margin} ${y + margin}h${run}v1h-${run}z`);
      x += run - 1;
    }
  }
  return parts.join('');
}
