// SPDX-License-Identifier: MPL-2.0
// The account's devices: recognise them, remove one, or log this browser out.
import { equal, toHex } from '../crypto/bytes.js';
import { h, fmtTime, short } from './dom.js';

export function devicesView(app) {
  const sec = h('section', { 'aria-labelledby': 'devices-title' }, h('h2', { id: 'devices-title', tabindex: '-1' }, 'Mine enheder'), h('p', {}, 'Henter …'));
  app.client.devices().then((list) => {
    const me = app.client.device.dev;
    sec.replaceChildren(sec.firstChild,
      h('p', {}, 'Disse enheder kan læse dine beskeder. Fjern dem, du ikke genkender.'),
      h('ul', { class: 'devices' }, list.map((d) => {
        const self = equal(d.dev, me);
        return h('li', {},
          // The label a person recognises and when it was added; the id only for a device
          // registered without a label.
          h('span', {}, `${d.label ?? `Enhed ${short(toHex(d.dev))}`}, tilføjet ${fmtTime(d.time)}`, self ? ' – denne enhed' : ''),
          ' ',
          h('button', { type: 'button', onclick: async () => {
            const q = self ? 'Log ud og fjerne denne enhed? Beskederne i denne browser slettes.' : 'Fjerne enheden? Den kan derefter ikke længere læse dine beskeder.';
            if (!window.confirm(q)) return;
            await app.client.revoke(d.dev);
            app.go({ view: self ? 'home' : 'devices' });
          } }, self ? 'Log ud' : 'Fjern'));
      })));
  }).catch(() => sec.replaceChildren(sec.firstChild, h('p', { role: 'alert' }, 'Listen kan ikke hentes uden forbindelse.')));
  return sec;
}
