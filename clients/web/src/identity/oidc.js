// SPDX-License-Identifier: MPL-2.0
// Logging in through whatever the relay's operator configured (spec/identity.md §2.1–2.3): the
// relay lists the providers; the authorization code flow with PKCE runs as a full-page redirect,
// so that leaving the page (the provider's pages, an app switch to the MitID app) loses nothing.
// What must survive the page being replaced is kept in sessionStorage (this tab only): the
// provider, state, PKCE verifier and the login challenge the nonce binds. The device keys the
// nonce binds wait in IndexedDB (store/db.js) like every other key of this device.
import { pkcePair, newState } from './pkce.js';
import { b64url, registrationNonce } from './nonce.js';
import { toHex } from '../crypto/bytes.js';

const CALLBACK = '/callback.html';
const PENDING = 'wakks-login';        // set before leaving for the provider
const ANSWER = 'wakks-login-answer';  // set by callback.js with the provider's answer
// A log-in left unfinished longer than this is forgotten (the relay's login challenge is gone).
const PENDING_MAX_MS = 10 * 60 * 1000;

const fail = (code) => Object.assign(new Error(code), { code });

/** The relay's provider list: {providers: [{id, kind, display_name, issuer, ...}],
 * caseworker_attestation_seconds}. */
export async function providerList() {
  const r = await fetch(new URL('/idp/providers', location.href), { cache: 'no-store' });
  if (!r.ok) throw fail('providers');
  return r.json();
}

/** The providers this relay lets clients log in through. */
export async function providers() {
  return (await providerList()).providers ?? [];
}

/** Errors with which a provider answers prompt=none when it must show a page (OIDC Core 3.1.2.6). */
export const NEEDS_INTERACTION = new Set(['login_required', 'interaction_required', 'consent_required', 'account_selection_required']);

async function postJson(path, body) {
  const r = await fetch(new URL(path, location.href), {
    method: 'POST', cache: 'no-store', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw fail(j.error ?? 'relay');
  return j;
}

/** The authorization request URL for `provider`, after saving what the return needs. */
export async function beginLogin(provider, ik, extra = {}) {
  const { challenge: loginChallenge } = await postJson('/idp/login-challenge', { ik: b64url(ik) });
  const chal = Uint8Array.from(atob(loginChallenge.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
  const nonce = registrationNonce(provider.issuer, ik, chal);
  const { verifier, challenge } = pkcePair();
  const state = newState();
  const redirectUri = new URL(CALLBACK, location.href).href;
  // loginChallenge: with the token, a citizen device's evidence of who it is (spec/client.md §15).
  sessionStorage.setItem(PENDING, JSON.stringify({
    provider, state, verifier, redirectUri, started: Date.now(), loginChallenge: toHex(chal), ...extra,
  }));
  sessionStorage.removeItem(ANSWER);
  const q = new URLSearchParams({
    response_type: 'code', client_id: provider.client_id, redirect_uri: redirectUri,
    scope: provider.scope || 'openid', code_challenge: challenge, code_challenge_method: 'S256',
    nonce, state,
  });
  if (provider.acr_values) q.set('acr_values', provider.acr_values);
  if (extra.prompt) q.set('prompt', extra.prompt);
  const sep = provider.authorization_endpoint.includes('?') ? '&' : '?';
  return `${provider.authorization_endpoint}${sep}${q}`;
}

/** The log-in this tab started, with the provider's answer, or null. Removes both. */
export function takeReturn() {
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null');
  const answer = JSON.parse(sessionStorage.getItem(ANSWER) ?? 'null');
  if (!pending || !answer) return null;
  sessionStorage.removeItem(PENDING);
  sessionStorage.removeItem(ANSWER);
  if (Date.now() - pending.started > PENDING_MAX_MS) return { pending, error: 'login_too_slow' };
  return { pending, answer };
}

export const loginPending = () => sessionStorage.getItem(PENDING) !== null;

/** Exchanges the code of a returned log-in for the ID token: at the provider (public client) or
 * through the relay (confidential client, whose secret stays there). */
export async function finishLogin({ pending, answer }) {
  const p = pending.provider;
  if (answer.state !== pending.state) throw fail('login_state');
  if (answer.error) throw fail(NEEDS_INTERACTION.has(answer.error) ? 'login_required' : 'login_refused');
  if (answer.iss && answer.iss !== p.issuer) throw fail('login_issuer'); // RFC 9207
  if (!answer.code) throw fail('login_refused');
  if (p.code_exchange === 'relay') {
    const j = await postJson('/idp/token', { idp: p.id, code: answer.code, redirect_uri: pending.redirectUri, code_verifier: pending.verifier });
    if (!j.id_token) throw fail('token');
    return j.id_token;
  }
  const r = await fetch(p.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: answer.code, redirect_uri: pending.redirectUri, client_id: p.client_id, code_verifier: pending.verifier }),
  });
  const tok = await r.json().catch(() => ({}));
  if (!r.ok || !tok.id_token) throw fail('token');
  return tok.id_token;
}

/** The claims of our own ID token, for showing the user's name locally (never trusted for access). */
export function claimsOf(idToken) {
  try {
    const p = idToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(p), (c) => c.charCodeAt(0))));
  } catch { return {}; }
}
