// SPDX-License-Identifier: MPL-2.0
// The help, privacy and accessibility pages name the municipality when the relay serves one
// tenant; with several (or offline) they keep their general wording.
fetch('/branding').then((r) => (r.ok ? r.json() : null)).then((b) => {
  const list = b?.tenants ?? [];
  if (list.length !== 1) return;
  for (const el of document.querySelectorAll('[data-tenant-name]')) el.textContent = list[0].display_name;
}).catch(() => {});
