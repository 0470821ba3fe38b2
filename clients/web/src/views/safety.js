// SPDX-License-Identifier: MPL-2.0
// Safety numbers of the peer devices in a conversation (spec/crypto.md §14), with a mark for the
// ones the user has compared.
import { toHex } from '../crypto/bytes.js';
import { groups, safetyNumber } from '../crypto/safety.js';
import * as db from '../store/db.js';
import { h, short } from './dom.js';
import { qrFigure } from './qrcode.js';

export function safetyPanel(app, conv) {
  const c = app.client;
  const mine = toHex(c.device.acc);
  const peers = c.sessions.peers().filter((p) => {
    const acc = toHex(p.acc);
    return acc !== mine && (c.isCitizen || acc === conv.citizen);
  });
  const body = h('div', {});
  const details = h('details', { class: 'safety' }, h('summary', {}, 'Bekræft sikkerhedsnumre'), body);
  details.addEventListener('toggle', async () => {
    if (!details.open) return;
    body.replaceChildren(h('p', {}, 'Sammenlign tallene med modparten, fx i telefonen eller ved et møde. Er de ens, er der ingen mellemmand.'));
    if (!peers.length) body.append(h('p', {}, 'Der er endnu ingen krypteret forbindelse til modparten.'));
    for (const p of peers) {
      const ik = p.session.ikRemote;
      const key = `verified:${toHex(p.dev)}`;
      const stored = await db.get('kv', key);
      const verified = stored === toHex(ik);
      const changedKey = stored && !verified;
      const number = groups(safetyNumber(c.device.ik.pk, ik));
      body.append(h('div', { class: 'peer' },
        h('p', {}, `Enhed ${short(toHex(p.dev))}`),
        h('p', { class: 'number', 'aria-label': `Sikkerhedsnummer ${number}` }, number),
        // The same digits as a code the other phone's camera can read.
        qrFigure(number.replace(/ /g, ''), `QR-kode med sikkerhedsnummeret for enhed ${short(toHex(p.dev))}`),
        changedKey ? h('p', { class: 'error', role: 'alert' }, 'Sikkerhedsnummeret er ændret, siden du bekræftede det. Sammenlign det igen, før du skriver noget fortroligt.') : null,
        verified ? h('p', { class: 'ok' }, '✓ Bekræftet')
          : h('button', { type: 'button', onclick: async (ev) => {
            await db.put('kv', key, toHex(ik));
            ev.target.replaceWith(h('p', { class: 'ok' }, '✓ Bekræftet'));
          } }, 'Markér som bekræftet')));
    }
  });
  return details;
}

