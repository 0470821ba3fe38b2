// SPDX-License-Identifier: MPL-2.0
// The QR encoder against symbols made by an independent implementation (libqrencode), the
// Reed–Solomon codewords of the ISO/IEC 18004 Annex I example, and the capacity table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { encodeQr, dataCodewords, dataCodewordsFor, interleave, penalty, qrPath, QrError } from '../src/app/qr.js';

const { vectors } = JSON.parse(readFileSync(new URL('./vectors/qr.json', import.meta.url)));
const rows = (qr) => Array.from({ length: qr.size }, (_, y) => Array.from(qr.modules.slice(y * qr.size, (y + 1) * qr.size)).join(''));

test('every libqrencode symbol is reproduced module for module with its mask', () => {
  for (const v of vectors) {
    const matches = [0, 1, 2, 3, 4, 5, 6, 7].filter((mask) => {
      const qr = encodeQr(v.text, { ecl: v.ecl, mask });
      return qr.size === v.size && rows(qr).join('\n') === v.rows.join('\n');
    });
    assert.equal(matches.length, 1, `${v.text.slice(0, 24)} (${v.ecl}, ${v.size}×${v.size}): masks matching ${matches}`);
  }
});

test('the chosen mask has the lowest penalty of the eight', () => {
  for (const v of vectors) {
    const qr = encodeQr(v.text, { ecl: v.ecl });
    const scores = [0, 1, 2, 3, 4, 5, 6, 7].map((mask) => { const q = encodeQr(v.text, { ecl: v.ecl, mask }); return penalty(q.modules, q.size); });
    assert.equal(penalty(qr.modules, qr.size), Math.min(...scores));
  }
});

test('"01234567" at 1-M: the data and error-correction codewords of ISO/IEC 18004 Annex I', () => {
  const data = dataCodewordsFor('01234567', 1, 'M');
  assert.deepEqual(data, [0x10, 0x20, 0x0c, 0x56, 0x61, 0x80, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11]);
  assert.deepEqual(interleave(data, 1, 'M').slice(16), [0xa5, 0x24, 0xd4, 0xc1, 0xed, 0x36, 0xc7, 0x87, 0x2c, 0x55]);
});

test('capacities and limits', () => {
  assert.equal(dataCodewords(1, 'M'), 16);
  assert.equal(dataCodewords(5, 'Q'), 62);
  assert.equal(dataCodewords(10, 'H'), 122);
  // A safety number (60 digits) fits version 2 at level M.
  assert.equal(encodeQr('1'.repeat(60)).version, 2);
  assert.throws(() => encodeQr('x'.repeat(300), { ecl: 'H' }), QrError);
  assert.throws(() => encodeQr('1', { ecl: 'X' }), QrError);
});

test('the SVG path draws exactly the dark modules', () => {
  const qr = encodeQr('01234567');
  const dark = qr.modules.reduce((a, b) => a + b, 0);
  const drawn = [...qrPath(qr).matchAll(/h(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0);
  assert.equal(drawn, dark);
  assert.match(qrPath(qr), /^M4 4h7v1h-7z/); // the top-left finder's first row, inside the quiet zone
});
