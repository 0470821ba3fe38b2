// SPDX-License-Identifier: MPL-2.0
// The municipalities' own names, logos and colours (the relay's GET /branding; the service worker
// keeps the last answer for starting offline).

let cached = null;

/** Map of tenant id -> { id, name, display_name, colour?, logo? }; empty when unavailable. */
export function branding() {
  cached ??= fetch('/branding')
    .then((r) => (r.ok ? r.json() : { tenants: [] }))
    .then(brandingMap)
    .catch(() => { cached = null; return new Map(); });
  return cached;
}

/**
 * The relay's answer as a Map of tenant id -> { id, name, display_name, colour?, logo? }. What
 * reaches the page's style and image sources is checked here too: a colour is #rrggbb, a logo a
 * path on the relay; a tenant without an id or name is left out, a bad colour or logo dropped.
 */
export function brandingMap(answer) {
  const out = new Map();
  for (const t of Array.isArray(answer?.tenants) ? answer.tenants : []) {
    if (typeof t?.id !== 'string' || typeof t.display_name !== 'string' || !t.display_name) continue;
    const b = { id: t.id, name: typeof t.name === 'string' ? t.name : t.display_name, display_name: t.display_name };
    if (typeof t.colour === 'string' && /^#[0-9a-fA-F]{6}$/.test(t.colour)) b.colour = t.colour;
    if (typeof t.logo === 'string' && /^\/branding\/[a-z0-9-]+\/logo$/.test(t.logo)) b.logo = t.logo;
    out.set(t.id, b);
  }
  return out;
}

/** The tenant whose design the whole app wears: the only one the relay serves, or none. */
export function appBrand(map) {
  return map.size === 1 ? [...map.values()][0] : null;
}
