// SPDX-License-Identifier: MPL-2.0
// Verifying a citizen's identity presentation (spec/client.md §15) on a unit device: the
// provider's signature with the keys the tenant publishes, the audience, the nonce binding the
// token to the identity key of the device that sent it, and the person claims. Expiry is not
// checked: the token is evidence of the registration, shown with its date.
import { registrationNonce } from './nonce.js';

// Algorithms this client can verify (spec/identity.md §4: RS256 and ES256 only).
const ALGS = {
  RS256: { kty: 'RSA', imp: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, ver: { name: 'RSASSA-PKCS1-v1_5' } },
  ES256: { kty: 'EC', imp: { name: 'ECDSA', namedCurve: 'P-256' }, ver: { name: 'ECDSA', hash: 'SHA-256' } },
};

function b64urlBytes(s) {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error('base64url');
  const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(b, (c) => c.charCodeAt(0));
}
const json = (s) => JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b64urlBytes(s)));

/** A valid CPR number: ten digits whose first six are a date (the modulus 11 check is gone). */
export function cprValid(cpr) {
  if (typeof cpr !== 'string' || !/^\d{10}$/.test(cpr)) return false;
  const d = Number(cpr.slice(0, 2)), m = Number(cpr.slice(2, 4));
  return d >= 1 && d <= 31 && m >= 1 && m <= 12;
}

/**
 * @param {object} p the decoded presentation { issuer, challenge, token }
 * @param {Uint8Array} senderIk identity key of the device that sent it
 * @param {object} tenant the tenant's information (GET /tenant/TENANT) or null when unavailable
 * @returns {Promise<object>} { ok: true, name, cpr, iat, idp } or { ok: false, reason }
 */
export async function verifyPresentation(p, senderIk, tenant) {
  if (!tenant) return { ok: false, reason: 'unavailable' };
  const prov = (tenant.citizen_idps ?? []).find((x) => x.issuer === p.issuer);
  const parts = p.token.split('.');
  let header, payload;
  try {
    if (parts.length !== 3) throw new Error('parts');
    header = json(parts[0]);
    payload = json(parts[1]);
  } catch { return { ok: false, reason: 'malformed' }; }
  if (!prov || payload?.iss !== prov.issuer) return { ok: false, reason: 'foreign_provider' };
  const alg = ALGS[header?.alg];
  if (!alg || !(prov.algs ?? ['RS256', 'ES256']).includes(header.alg) || header.jwk || header.jku || header.x5u) return { ok: false, reason: 'signature' };
  const keys = (prov.jwks?.keys ?? []).filter((k) => k.kty === alg.kty && (!k.alg || k.alg === header.alg) && (!k.use || k.use === 'sig'));
  const chosen = header.kid !== undefined ? keys.filter((k) => k.kid === header.kid) : keys.length === 1 ? keys : [];
  if (chosen.length !== 1) return { ok: false, reason: 'signature', unknownKid: header.kid !== undefined };
  try {
    const { kty, n, e, crv, x, y } = chosen[0];
    const key = await crypto.subtle.importKey('jwk', { kty, n, e, crv, x, y, ext: true }, alg.imp, false, ['verify']);
    const ok = await crypto.subtle.verify(alg.ver, key, b64urlBytes(parts[2]), new TextEncoder().encode(`${parts[0]}.${parts[1]}`));
    if (!ok) return { ok: false, reason: 'signature' };
  } catch { return { ok: false, reason: 'signature' }; }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return { ok: false, reason: 'audience' };
  const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (!aud.includes(prov.client_id)) return { ok: false, reason: 'audience' };
  if (payload.nonce !== registrationNonce(prov.issuer, senderIk, p.challenge)) return { ok: false, reason: 'key_binding' };
  const cpr = payload[prov.person_claim ?? 'dk.cpr'];
  const name = typeof payload.name === 'string' && payload.name ? payload.name
    : typeof payload.given_name === 'string' && typeof payload.family_name === 'string' ? `${payload.given_name} ${payload.family_name}` : '';
  if (!cprValid(cpr) || !name) return { ok: false, reason: 'claims' };
  return { ok: true, name, cpr, iat: Number(payload.iat) || 0, issuer: p.issuer };
}

export const REASONS = {
  malformed: 'beviset kan ikke læses',
  unavailable: 'kommunens oplysninger om MitID kunne ikke hentes',
  foreign_provider: 'beviset er ikke fra kommunens MitID-udbyder',
  signature: 'MitID-signaturen er ikke gyldig',
  audience: 'beviset er udstedt til en anden tjeneste',
  key_binding: 'beviset hører ikke til den enhed, der skrev',
  claims: 'beviset mangler navn eller CPR-nummer',
  not_presented: 'borgerens enhed har ikke vist sin MitID-identitet',
};
