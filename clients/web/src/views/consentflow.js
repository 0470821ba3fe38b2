// SPDX-License-Identifier: MPL-2.0
// Consent in the flow (spec/client.md §17): before a citizen writes to a unit that her consent
// does not cover, the thread says that the unit cannot answer until she consents, and offers the
// consent text and the grant in place.
import { consentState, consentText, decide, GRANT } from '../app/consent.js';
import { h } from './dom.js';

export function consentInline(app, ten, unit, unitName, tenantName) {
  const box = h('div', { class: 'consent-inline', id: 'consent-inline' });
  if (app.client.status !== 'online') return box;
  consentState(app.client).then((state) => {
    if (state[ten]?.active || state[`${ten}/${unit}`]?.active) return;
    const status = h('p', { role: 'status', id: 'consent-inline-status' });
    const read = h('button', { type: 'button', id: 'consent-inline-read', onclick: async () => {
      const text = await consentText(ten).catch(() => null);
      if (!text) { status.textContent = 'Teksten kan ikke hentes.'; return; }
      read.replaceWith(
        h('div', { class: 'legal', lang: text.language || 'da', tabindex: '0', 'aria-label': 'Samtykketekst' }, text.text.split(/\n\s*\n/).map((p) => h('p', {}, p))),
        h('button', { type: 'button', id: 'consent-inline-grant', onclick: async () => {
          try {
            await decide(app.client, GRANT, text);
            box.replaceChildren(h('p', { class: 'ok', role: 'status' }, `Du har givet samtykke til ${tenantName}. ${unitName} kan nu svare dig her.`));
          } catch { status.textContent = 'Det lykkedes ikke. Prøv igen.'; }
        } }, 'Giv samtykke'));
    } }, 'Læs samtykketeksten');
    box.replaceChildren(
      h('p', { class: 'error' }, `${unitName} kan ikke svare dig her, før du har givet samtykke til, at ${tenantName} må skrive til dig. Du kan skrive alligevel, men svaret kommer så ikke her.`),
      read, status);
  }).catch(() => {});
  return box;
}
