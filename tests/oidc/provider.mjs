// SPDX-License-Identifier: MPL-2.0
// A certified OpenID provider (oidc-provider) for the test suite, on loopback over HTTPS with a
// test certificate. One process is one provider, shaped by MODE:
//   mitid  a MitID broker: CPR in dk.cpr, NSIS assurance answered in acr, idp/identity_type
//   adfs   an AD FS: upn and groups
//   entra  an Entra ID: oid, tid, groups (object ids), and a user whose groups overflow
// Configuration (JSON in the environment variable OIDC_TEST_CONFIG):
//   port, host ("127.0.0.1"), mode, cert, key (PEM files of the TLS certificate),
//   signing_keys (a file of private JWKs; created with a fresh RSA key when missing: delete it
//   and restart to rotate), clients (oidc-provider client metadata; a client with
//   "jwks_file" is registered with the public part of the private JWK in that file, which is
//   created when missing: the key a private_key_jwt client signs with).
// The log-in takes login_hint as the account when the request has one (tests driving the flow
// over HTTP); a browser without one gets a one-field form (input name=login). Consent is given
// for what was asked. Prints "listening <issuer>" when ready.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import Provider from 'oidc-provider';

const cfg = JSON.parse(process.env.OIDC_TEST_CONFIG);
const host = cfg.host || '127.0.0.1';
const issuer = `https://${host}:${cfg.port}`;
const NSIS = 'https://data.gov.dk/concept/core/nsis/loa/';

function rsaJwk() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

function privateJwks(file) {
  if (!existsSync(file))
    writeFileSync(file, JSON.stringify({ keys: [rsaJwk()] }), { mode: 0o600 });
  return JSON.parse(readFileSync(file, 'utf8'));
}

// A confidential client's private key: one private JWK (what the relay's client_key_file holds).
function clientKey(file) {
  if (!existsSync(file))
    writeFileSync(file, JSON.stringify(rsaJwk()), { mode: 0o600 });
  return JSON.parse(readFileSync(file, 'utf8'));
}

function publicJwk(k) {
  const { d, p, q, dp, dq, qi, ...pub } = k;
  return pub;
}

// The people each mode knows, by login_hint.
const accounts = {
  mitid: {
    anna: { claims: { 'dk.cpr': '0101901234', idp: 'mitid', identity_type: 'private' }, acr: `${NSIS}Substantial` },
    bo: { claims: { 'dk.cpr': '0202904321', idp: 'mitid', identity_type: 'private' }, acr: `${NSIS}High` },
    low: { claims: { 'dk.cpr': '0303901111', idp: 'mitid', identity_type: 'private' }, acr: `${NSIS}Low` },
    nocpr: { claims: { idp: 'mitid', identity_type: 'private' }, acr: `${NSIS}Substantial` },
  },
  adfs: {
    camilla: { claims: { upn: 'camilla.holm@varde.dk', groups: ['VARDE\\Jobcenter', 'Domain Users'] } },
    dennis: { claims: { upn: 'dennis.berg@varde.dk', groups: ['S-1-5-21-1004336348-1177238915-682003330-1130'] } },
    outsider: { claims: { upn: 'ole@varde.dk', groups: ['Domain Users'] } },
  },
  entra: {
    eva: { claims: { oid: '6c7b1a2e-0000-4000-8000-0000000000aa', tid: cfg.tid || 'tid-test', groups: ['0b2ad6e4-5f2a-4c5e-a1e3-6d4c1d6f0a11'] } },
    many: { claims: { oid: '6c7b1a2e-0000-4000-8000-0000000000bb', tid: cfg.tid || 'tid-test',
      _claim_names: { groups: 'src1' },
      _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/x/getMemberObjects' } } } },
  },
}[cfg.mode];
const claimNames = [...new Set(Object.values(accounts).flatMap((a) => Object.keys(a.claims)))];

const clients = cfg.clients.map((c) => {
  const { jwks_file, ...meta } = c;
  if (jwks_file) meta.jwks = { keys: [publicJwk(clientKey(jwks_file))] };
  return meta;
});

const provider = new Provider(issuer, {
  clients,
  jwks: privateJwks(cfg.signing_keys),
  claims: { openid: ['sub', ...claimNames] },
  // The claims of the granted scopes go into the ID token (as the brokers and AD FS do), not
  // only to the userinfo endpoint.
  conformIdTokenClaims: false,
  acrValues: [`${NSIS}Low`, `${NSIS}Substantial`, `${NSIS}High`],
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => true },
  cookies: { keys: ['wakks-test-cookie-key'] },
  ttl: { IdToken: 300, AccessToken: 300, AuthorizationCode: 60, Session: 3600, Interaction: 300, Grant: 3600 },
  async findAccount(ctx, id) {
    const a = accounts[id];
    if (!a) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...a.claims }; } };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

async function formLogin(req) {
  if (req.method !== 'POST') return null;
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body).get('login');
}

function loginForm(res, uid) {
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><html lang="en"><head><title>Test provider</title></head><body><main>
<form method="post" action="/interaction/${uid}"><label>Login <input name="login" autofocus></label>
<button type="submit">Log in</button></form></main></body></html>`);
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    const id = params.login_hint || await formLogin(req);
    if (!id) return loginForm(res, details.uid);
    if (!accounts[id]) {
      res.statusCode = 400;
      return res.end('unknown login_hint');
    }
    const result = { login: { accountId: id } };
    if (accounts[id].acr) result.login.acr = accounts[id].acr;
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  const grant = details.grantId ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  grant.addOIDCScope(String(params.scope));
  grant.addOIDCClaims(claimNames);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
const server = https.createServer({ cert: readFileSync(cfg.cert), key: readFileSync(cfg.key) }, (req, res) => {
  if (req.url.startsWith('/interaction/'))
    return interaction(req, res).catch((e) => { res.statusCode = 500; res.end(String(e)); });
  return callback(req, res);
});
server.listen(cfg.port, host, () => console.log(`listening ${issuer}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
