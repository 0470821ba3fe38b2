// SPDX-License-Identifier: MPL-2.0
// The first page: one button per identity provider the relay lists (identity/oidc.js) — citizens
// with MitID through the municipality's broker, caseworkers with the municipality's own log-in.
// A button leaves for the provider's page; the log-in finishes when the browser comes back.
import { providers } from '../identity/oidc.js';
import { h } from './dom.js';

const REASONS = {
  login_cancelled: 'Login blev afbrudt.',
  access_denied: 'Login blev afbrudt.',
  login_refused: 'Login blev afvist hos identitetsudbyderen. Prøv igen.',
  login_too_slow: 'Login tog for lang tid. Prøv igen.',
  login_lost: 'Login kunne ikke afsluttes i denne fane. Prøv igen.',
  login_state: 'Login kunne ikke bekræftes. Prøv igen.',
  attestation_rejected: 'Login blev ikke godkendt. Prøv igen.',
  exchange_failed: 'Identitetsudbyderen afviste login. Prøv igen.',
  providers: 'Loginmulighederne kunne ikke hentes. Genindlæs siden.',
};

const label = (p) => (p.kind === 'citizen'
  ? `Log ind som borger med ${p.display_name}`
  : `Log ind som medarbejder (${p.display_name})`);

export function loginView(app) {
  const c = app.client;
  const msg = h('p', { id: 'login-error', role: 'alert', class: 'error' },
    c.loginError ? REASONS[c.loginError] ?? 'Login mislykkedes. Prøv igen.' : '');
  const choices = h('div', { class: 'choices', 'aria-busy': 'true' });
  const start = (p) => async (ev) => {
    ev.target.disabled = true;
    msg.textContent = '';
    c.loginError = null;
    try {
      await c.startLogin(p); // the page is replaced by the provider's
    } catch (e) {
      msg.textContent = REASONS[e.code] ?? REASONS[e.message] ?? 'Login mislykkedes. Prøv igen.';
      ev.target.disabled = false;
    }
  };
  if (c.loggingIn) {
    choices.append(h('p', { id: 'login-progress' }, 'Logger ind …'));
  } else {
    providers().then((list) => {
      // The first provider of each kind keeps a stable id (login-citizen, login-caseworker).
      const seen = new Set();
      const buttons = list.map((p) => {
        const first = !seen.has(p.kind);
        seen.add(p.kind);
        return h('button', {
          type: 'button', id: first ? `login-${p.kind}` : `login-${p.kind}-${p.id}`,
          class: p.kind === 'citizen' ? null : 'secondary', 'data-idp': p.id, onclick: start(p),
        }, label(p));
      });
      choices.replaceChildren(...buttons);
      choices.removeAttribute('aria-busy');
    }, () => { msg.textContent = REASONS.providers; });
  }
  return h('section', { 'aria-labelledby': 'login-title', class: 'login' },
    h('h2', { id: 'login-title', tabindex: '-1' }, 'Log ind'),
    h('p', {}, 'Skriv sikkert med din kommune. Beskederne krypteres på din enhed, og kun modtagerne kan læse dem.'),
    choices,
    msg);
}
