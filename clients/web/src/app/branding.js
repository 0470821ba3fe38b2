// SPDX-License-Identifier: MPL-2.0
// The municipalities' own names, logos and colours (the relay's GET /branding; the service worker
// keeps the last answer for starting offline).

let cached = null;

/** Map of tenant id -> { id, name, display_name, colour?, logo? }; empty when unavailable. */
export function branding() {
  cached ??= fetch('/branding')
    .then((r) => (r.ok ? r.json() : { tenants: [] }))
    .then((b) => new Map((Array.isArray(b?.tenants) ? b.tenants : []).filter(valid).map((t) => [t.id, t])))
    .catch(() => { cached = null; return new Map(); });
  return cached;
}

// What reaches the page's style and image sources is checked here too: a colour is #rrggbb, a
// logo a path on the relay.
function valid(t) {
  if (typeof t?.id !== 'string' || typeof t.display_name !== 'string') return false;
  if (t.colour !== undefined && !/^#[0-9a-fA-F]{6}$/.test(t.colour)) delete t.colour;
  if (t.logo !== undefined && !/^\/branding\/[a-z0-9-]+\/logo$/.test(t.logo)) delete t.logo;
  return true;
}

/** The tenant whose design the whole app wears: the only one the relay serves, or none. */
export function appBrand(map) {
  return map.size === 1 ? [...map.values()][0] : null;
}
