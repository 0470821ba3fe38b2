// SPDX-License-Identifier: MPL-2.0
// Draws the web app's icons (a white speech bubble on the app's blue) as PNG files of the sizes
// installation asks for, and the same drawing as SVG. Run once when the design changes; the files
// are committed. Usage: node tools/icons.mjs
import { deflateSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';

const out = new URL('../public/icons/', import.meta.url).pathname;
const BLUE = [0x0b, 0x53, 0x94], WHITE = [255, 255, 255];

// The drawing on a 0..1 square; `pad` shrinks it into the safe zone of a maskable icon.
function shade(x, y, { rounded, pad }) {
  const inset = (v) => (v - pad) / (1 - 2 * pad);
  if (rounded) {
    const r = 0.18, cx = Math.min(Math.max(x, r), 1 - r), cy = Math.min(Math.max(y, r), 1 - r);
    if ((x - cx) ** 2 + (y - cy) ** 2 > r * r) return null; // transparent corner
  }
  const u = inset(x), v = inset(y);
  // bubble: a rounded rectangle with a tail at the lower left
  const bx0 = 0.2, by0 = 0.24, bx1 = 0.8, by1 = 0.66, br = 0.1;
  const qx = Math.min(Math.max(u, bx0 + br), bx1 - br), qy = Math.min(Math.max(v, by0 + br), by1 - br);
  const inBubble = u >= bx0 && u <= bx1 && v >= by0 && v <= by1 && (u - qx) ** 2 + (v - qy) ** 2 <= br * br;
  const inTail = v >= by1 - 0.01 && v <= 0.8 && u >= 0.3 && u <= 0.3 + (0.8 - v) * 1.1 && u <= 0.46;
  if (!inBubble && !inTail) return BLUE;
  for (const dx of [0.36, 0.5, 0.64]) if ((u - dx) ** 2 + (v - 0.45) ** 2 <= 0.045 ** 2) return BLUE;
  return WHITE;
}

function crc32(buf) {
  let c, crc = 0xffffffff;
  for (const b of buf) {
    c = (crc ^ b) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

function png(size, opts) {
  const S = 4; // supersampling per axis
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      let r = 0, g = 0, b = 0, a = 0;
      for (let sy = 0; sy < S; sy++) for (let sx = 0; sx < S; sx++) {
        const c = shade((x + (sx + 0.5) / S) / size, (y + (sy + 0.5) / S) / size, opts);
        if (c) { r += c[0]; g += c[1]; b += c[2]; a += 255; }
      }
      const n = S * S, o = y * (size * 4 + 1) + 1 + x * 4;
      const cov = a / 255 || 1;
      raw[o] = Math.round(r / cov); raw[o + 1] = Math.round(g / cov); raw[o + 2] = Math.round(b / cov); raw[o + 3] = Math.round(a / n);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0); ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; ihdr[9] = 6; // 8-bit RGBA
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

for (const size of [192, 512]) writeFileSync(`${out}icon-${size}.png`, png(size, { rounded: true, pad: 0 }));
writeFileSync(`${out}maskable-512.png`, png(512, { rounded: false, pad: 0.1 }));
writeFileSync(`${out}apple-touch-icon-180.png`, png(180, { rounded: false, pad: 0 }));
writeFileSync(`${out}icon.svg`, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">
<rect width="100" height="100" rx="18" fill="#0b5394"/>
<path fill="#fff" d="M30 24h40a10 10 0 0 1 10 10v22a10 10 0 0 1-10 10H46L30 80V66a10 10 0 0 1-10-10V34a10 10 0 0 1 10-10z"/>
<g fill="#0b5394"><circle cx="36" cy="45" r="4.5"/><circle cx="50" cy="45" r="4.5"/><circle cx="64" cy="45" r="4.5"/></g>
</svg>
`);
