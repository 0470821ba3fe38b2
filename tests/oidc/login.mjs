// SPDX-License-Identifier: MPL-2.0
// Logs in at an OpenID provider the way a public client does (authorization code + PKCE), for
// the tests: follows the provider's redirects with its cookies until the redirect to
// redirect_uri, then exchanges the code. Arguments (JSON in argv[2]):
//   authorization_endpoint, token_endpoint, client_id, redirect_uri, scope, nonce, login_hint,
//   acr_values, prompt (optional), code_only (print {code, code_verifier} instead of exchanging).
// Or, as the person in front of a browser for a client that built the request itself (the
// command-line client): url (the authorization URL it printed), login (typed into the provider's
// form), redirect_prefix (where the client listens); the redirect is then delivered there.
// Prints one JSON line: {id_token} or {code, code_verifier}, {delivered}, or {error}. Trusts the
// test CA through NODE_EXTRA_CA_CERTS.
import { createHash, randomBytes } from 'node:crypto';

const a = JSON.parse(process.argv[2]);
const b64u = (buf) => buf.toString('base64url');
const verifier = b64u(randomBytes(32));
const challenge = b64u(createHash('sha256').update(verifier).digest());
const q = new URLSearchParams({
  response_type: 'code', client_id: a.client_id, redirect_uri: a.redirect_uri,
  scope: a.scope || 'openid', nonce: a.nonce, state: b64u(randomBytes(16)),
  code_challenge: challenge, code_challenge_method: 'S256', login_hint: a.login_hint,
});
if (a.acr_values) q.set('acr_values', a.acr_values);
if (a.prompt) q.set('prompt', a.prompt);

const jar = new Map();
function keep(res) {
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    jar.set(pair.slice(0, i), pair.slice(i + 1));
  }
}
const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

let url = a.url ?? `${a.authorization_endpoint}?${q}`;
let post = null;
for (let hop = 0; hop < 12; hop++) {
  const res = await fetch(url, post ? {
    method: 'POST', redirect: 'manual', body: post,
    headers: { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded' },
  } : { redirect: 'manual', headers: { cookie: cookie() } });
  post = null;
  keep(res);
  const loc = res.headers.get('location');
  if (!loc && a.login && res.status === 200 && url.includes('/interaction/')) {
    post = new URLSearchParams({ login: a.login }).toString(); // the provider's log-in form
    continue;
  }
  if (!loc) {
    console.log(JSON.stringify({ error: `no redirect at hop ${hop} (status ${res.status}): ${(await res.text()).slice(0, 200)}` }));
    process.exit(1);
  }
  const next = new URL(loc, url);
  if (a.redirect_prefix && next.href.startsWith(a.redirect_prefix)) {
    const r = await fetch(next.href);
    console.log(JSON.stringify({ delivered: r.status }));
    process.exit(r.ok ? 0 : 1);
  }
  if (next.href.startsWith(a.redirect_uri)) {
    const code = next.searchParams.get('code');
    if (!code) {
      console.log(JSON.stringify({ error: next.searchParams.get('error') || 'no code' }));
      process.exit(1);
    }
    if (a.code_only) {
      console.log(JSON.stringify({ code, code_verifier: verifier }));
      process.exit(0);
    }
    const tr = await fetch(a.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: a.redirect_uri,
        client_id: a.client_id, code_verifier: verifier }),
    });
    const body = await tr.json();
    console.log(JSON.stringify(body.id_token ? { id_token: body.id_token } : { error: JSON.stringify(body) }));
    process.exit(body.id_token ? 0 : 1);
  }
  url = next.href;
}
console.log(JSON.stringify({ error: 'too many redirects' }));
process.exit(1);
