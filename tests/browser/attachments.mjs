// SPDX-License-Identifier: MPL-2.0
// Browser test of attachments: the citizen attaches a document of a few MiB and a small PNG photo
// and sends them to the unit, the upload is cut by a dropped connection and resumes where the
// relay's stored bytes end, the caseworker sees the photo inline and downloads the document
// byte-identical, an upload cut by going offline survives a reload, and the thread with
// attachments passes axe-core.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

/** A small valid PNG: `w`×`h` pixels of a colour gradient. */
export function png(w = 24, h = 16) {
  const crc = (buf) => {
    let c = ~0;
    for (const x of buf) { c ^= x; for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1)); }
    return ~c >>> 0;
  };
  const chunk = (type, data) => {
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + 3 * w);
    for (let x = 0; x < w; x++) row.set([Math.round(255 * x / w), Math.round(255 * y / h), 160], 1 + 3 * x);
    rows.push(row);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}

/** A PDF-like document of `n` bytes: a PDF header, incompressible content, the end marker. */
export function pdf(n) {
  const head = Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1');
  const tail = Buffer.from('\n%%EOF\n', 'latin1');
  return Buffer.concat([head, randomBytes(n - head.length - tail.length), tail]);
}

export async function attachmentSteps({ step, cit, cw, axe, shot, waitOnline }) {
  const doc = pdf(3 * 1024 * 1024 + 4321);
  const photo = png();
  const DOC = 'Lønseddel oktober.pdf', PHOTO = 'brev-fra-kommunen.png';

  await step('the citizen attaches a 3 MiB document and a photo; the upload resumes after a dropped connection', async () => {
    await cit.evaluate(() => window.wakks.go({ view: 'home' }));
    await cit.click('button[data-unit=jobcenter]');
    // Record every chunk offset, and drop the connection once, just before the third chunk.
    await cit.evaluate(() => {
      const c = window.wakks.client;
      const real = c.request.bind(c);
      window.chunkOffsets = [];
      let cut = false;
      c.request = (type, body) => {
        if (type === 98) {
          if (!cut && body.off >= 2 * 262144) { cut = true; window.cutAt = body.off; c.disconnect(false); }
          window.chunkOffsets.push([body.off, body.data.length]);
        }
        return real(type, body);
      };
    });
    await cit.getByLabel('Vedhæft filer').setInputFiles([
      { name: DOC, mimeType: 'application/pdf', buffer: doc },
      { name: PHOTO, mimeType: 'image/png', buffer: photo },
    ]);
    await cit.fill('#compose', 'Her er min lønseddel og et foto af brevet.');
    await cit.click('.compose button[type=submit]');
    await cit.waitForSelector('.msg.mine:has-text("Her er min lønseddel")');
    // Generous: after the cut the upload waits for the reconnect's back-off and may be told to
    // retry while the relay still stores the chunk of the dropped connection; what this step
    // checks is that it resumes (the offsets below), not how fast.
    for (const name of [DOC, PHOTO]) {
      await cit.waitForSelector(`.msg.mine:is([data-status=sent],[data-status=delivered]):has(a[download="${name}"])`, { timeout: 60000 });
    }
    const { offsets, cutAt } = await cit.evaluate(() => ({ offsets: window.chunkOffsets, cutAt: window.cutAt }));
    if (cutAt === undefined) throw new Error('the connection was never cut');
    if (offsets.some(([, n]) => n > 262144)) throw new Error('a chunk over 256 KiB');
    // One chunk at offset 0 per file: the document's upload continued after the reconnect instead
    // of starting over.
    if (offsets.filter(([o]) => o === 0).length !== 2) throw new Error(`upload restarted: ${JSON.stringify(offsets.map(([o]) => o))}`);
    await cit.waitForSelector(`.msg.mine img.attachment-image[alt="Billede: ${PHOTO}"]`);
    await cit.waitForSelector(`a.attachment-link[download="${DOC}"]:has-text("3 MB")`);
  });

  await step('the caseworker sees the photo inline and downloads the document byte-identical', async () => {
    await cw.evaluate(() => window.wakks.go({ view: 'home' }));
    await cw.click('.inbox button.conv');
    await cw.waitForSelector('.msg.theirs:has-text("Her er min lønseddel")', { timeout: 30000 });
    const img = `.msg.theirs img.attachment-image[alt="Billede: ${PHOTO}"]`;
    await cw.waitForSelector(img, { timeout: 30000 });
    await cw.waitForFunction((sel) => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth === 24 && i.naturalHeight === 16; }, img, { timeout: 10000 });
    const link = `.msg.theirs a.attachment-link[download="${DOC}"][href]`;
    await cw.waitForSelector(link, { timeout: 30000 });
    // The hashes of both files as the page holds them.
    const hashes = await cw.evaluate(async ([sel, imgSel]) => {
      const hex = async (url) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', await (await fetch(url)).arrayBuffer()))]
        .map((x) => x.toString(16).padStart(2, '0')).join('');
      return { doc: await hex(document.querySelector(sel).href), photo: await hex(document.querySelector(imgSel).src) };
    }, [link, img]);
    if (hashes.doc !== sha256(doc)) throw new Error(`document differs: ${hashes.doc}`);
    if (hashes.photo !== sha256(photo)) throw new Error(`photo differs: ${hashes.photo}`);
    // And through the browser's own download, started from the keyboard.
    await cw.focus(link);
    const [download] = await Promise.all([cw.waitForEvent('download'), cw.keyboard.press('Enter')]);
    if (download.suggestedFilename() !== DOC) throw new Error(`file name ${download.suggestedFilename()}`);
    const saved = await download.path();
    if (sha256(readFileSync(saved)) !== sha256(doc)) throw new Error('the downloaded file differs');
  });

  await step('an upload cut by going offline keeps its state in IndexedDB and completes after a reload', async () => {
    const doc2 = pdf(1024 * 1024 + 17);
    const NAME = 'Lægeerklæring.pdf';
    await cit.evaluate(() => {
      const c = window.wakks.client;
      const real = c.request.bind(c);
      let cut = false;
      c.request = (type, body) => {
        if (type === 98 && !cut && body.off >= 262144) { cut = true; c.disconnect(true); }
        return real(type, body);
      };
    });
    await cit.getByLabel('Vedhæft filer').setInputFiles([{ name: NAME, mimeType: 'application/pdf', buffer: doc2 }]);
    await cit.click('.compose button[type=submit]');
    await cit.waitForFunction(() => window.wakks.client.status === 'offline');
    await cit.waitForSelector(`.msg.mine[data-status=queued]:has(a[download="${NAME}"])`);
    const kept = await cit.evaluate(() => new Promise((resolve, reject) => {
      const r = indexedDB.open('wakks');
      r.onerror = () => reject(r.error);
      r.onsuccess = () => {
        const tx = r.result.transaction(['outbox', 'uploads']);
        const q = tx.objectStore('outbox').getAll();
        q.onsuccess = () => {
          const item = q.result.find((x) => x.blob);
          if (!item) { resolve(null); return; }
          const u = tx.objectStore('uploads').get(item.blob.id);
          u.onsuccess = () => { resolve({ have: item.blob.have, size: item.blob.size, stored: u.result?.length ?? 0 }); r.result.close(); };
        };
      };
    }));
    if (!kept || kept.have < 262144 || kept.stored !== kept.size) throw new Error(`upload state in IndexedDB: ${JSON.stringify(kept)}`);
    await cit.reload();
    await waitOnline(cit);
    await cit.click('button[data-unit=jobcenter]');
    await cit.waitForSelector(`.msg.mine:is([data-status=sent],[data-status=delivered]):has(a[download="${NAME}"])`, { timeout: 30000 });
    const link = `.msg.theirs a.attachment-link[download="${NAME}"][href]`;
    await cw.waitForSelector(link, { timeout: 30000 });
    const hash = await cw.evaluate(async (sel) => [...new Uint8Array(await crypto.subtle.digest('SHA-256', await (await fetch(document.querySelector(sel).href)).arrayBuffer()))]
      .map((x) => x.toString(16).padStart(2, '0')).join(''), link);
    if (hash !== sha256(doc2)) throw new Error('the document differs');
    // The ciphertext kept for the upload is gone once the message is stored.
    const left = await cit.evaluate(() => new Promise((resolve) => {
      const r = indexedDB.open('wakks');
      r.onsuccess = () => { const q = r.result.transaction('uploads').objectStore('uploads').count(); q.onsuccess = () => { resolve(q.result); r.result.close(); }; };
    }));
    if (left !== 0) throw new Error(`${left} uploads left in IndexedDB`);
  });

  await step('the thread with attachments passes axe-core', async () => {
    await shot(cw, 'caseworker-attachments');
    await axe(cw, 'caseworker thread with attachments');
    await axe(cit, 'citizen thread with attachments');
  });
}
