// SPDX-License-Identifier: MPL-2.0
// OpenID Connect authorization code flow with PKCE in a popup window (spec/identity.md §2). The
// main page keeps the WebSocket whose challenge the nonce binds; the popup only carries the
// redirect back.
import { pkcePair, newState } from './pkce.js';

export const CLIENT_ID = 'wakks-dev';
export const PROVIDERS = {
  citizen: '/dev-idp/dev-mitid',
  caseworker: '/dev-idp/dev-adfs',
};
const CALLBACK = '/callback.html';
// How long a person may take in the provider's window before the login is given up.
const LOGIN_TIMEOUT_MS = 10 * 60 * 1000;

export async function discover(path) {
  const r = await fetch(new URL(`${path}/.well-known/openid-configuration`, location.href), { cache: 'no-store' });
  if (!r.ok) throw new Error('discovery');
  return r.json();
}

/** Opens the login window at once (inside the user's click) so no popup blocker stops it. */
export function openLoginWindow() {
  return window.open('about:blank', 'wakks-login', 'popup,width=560,height=700');
}

function waitForCode(popup, state) {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (popup.closed) { cleanup(); reject(new Error('login_cancelled')); }
    }, 500);
    const limit = setTimeout(() => { cleanup(); reject(new Error('login_timeout')); }, LOGIN_TIMEOUT_MS);
    function onMessage(ev) {
      if (ev.origin !== location.origin || ev.data?.type !== 'wakks-oidc' || ev.data.state !== state) return;
      cleanup();
      resolve(ev.data);
    }
    function cleanup() { clearInterval(timer); clearTimeout(limit); window.removeEventListener('message', onMessage); }
    window.addEventListener('message', onMessage);
  });
}

/** Runs the flow in `popup` with the given nonce; resolves with the ID token. */
export async function login(popup, discovery, nonce) {
  const { verifier, challenge } = pkcePair();
  const state = newState();
  const redirectUri = new URL(CALLBACK, location.href).href;
  const q = new URLSearchParams({
    response_type: 'code', client_id: CLIENT_ID, redirect_uri: redirectUri, scope: 'openid',
    code_challenge: challenge, code_challenge_method: 'S256', nonce, state,
  });
  popup.location.href = `${discovery.authorization_endpoint}?${q}`;
  const answer = await waitForCode(popup, state);
  if (answer.error) throw new Error('login_refused');
  if (answer.iss && answer.iss !== discovery.issuer) throw new Error('login_issuer'); // RFC 9207
  const r = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: answer.code, redirect_uri: redirectUri, client_id: CLIENT_ID, code_verifier: verifier }),
  });
  const tok = await r.json().catch(() => ({}));
  if (!r.ok || !tok.id_token) throw new Error('token');
  return tok.id_token;
}

/** The claims of our own ID token, for showing the user's name locally (never trusted for access). */
export function claimsOf(idToken) {
  try {
    const p = idToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(p), (c) => c.charCodeAt(0))));
  } catch { return {}; }
}
