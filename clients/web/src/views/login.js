// SPDX-License-Identifier: MPL-2.0
// The first page: log in as a citizen with MitID or as a caseworker with the municipality's login.
import { openLoginWindow } from '../identity/oidc.js';
import { h } from './dom.js';

const REASONS = {
  popup_blocked: 'Login-vinduet blev blokeret. Tillad pop op-vinduer for denne side, og prøv igen.',
  login_cancelled: 'Login blev afbrudt.',
  closed: 'Forbindelsen til serveren blev afbrudt under login. Prøv igen.',
  login_too_slow: 'Login tog for lang tid, så serveren lukkede forbindelsen. Prøv igen.',
  attestation_rejected: 'Login blev ikke godkendt. Prøv igen.',
};

export function loginView(app) {
  const msg = h('p', { id: 'login-error', role: 'alert', class: 'error' });
  const start = (role) => async (ev) => {
    const popup = openLoginWindow();
    ev.target.disabled = true;
    msg.textContent = '';
    try {
      await app.client.login(role, popup);
      app.go({ view: 'home' });
    } catch (e) {
      msg.textContent = REASONS[e.code] ?? REASONS[e.message] ?? 'Login mislykkedes. Prøv igen.';
    } finally { ev.target.disabled = false; }
  };
  return h('section', { 'aria-labelledby': 'login-title', class: 'login' },
    h('h2', { id: 'login-title', tabindex: '-1' }, 'Log ind'),
    h('p', {}, 'Skriv sikkert med din kommune. Beskederne krypteres på din enhed, og kun modtagerne kan læse dem.'),
    h('div', { class: 'choices' },
      h('button', { type: 'button', id: 'login-citizen', onclick: start('citizen') }, 'Log ind som borger med MitID'),
      h('button', { type: 'button', id: 'login-caseworker', class: 'secondary', onclick: start('caseworker') }, 'Log ind som medarbejder')),
    msg);
}
