// SPDX-License-Identifier: MPL-2.0
// Municipalities, units, and finding a citizen by CPR number.
import { T } from '../protocol/schema.js';

export async function directory(client) {
  const tenants = (await client.request(T.tenants_list)).body.list;
  const out = [];
  for (const t of tenants) {
    const units = (await client.request(T.units_list, { ten: t.id })).body.list;
    out.push({ ...t, units });
  }
  return out;
}

/** Normalises DDMMYY-SSSS or DDMMYYSSSS to ten digits, or null. */
export function normaliseCpr(s) {
  const m = /^\s*(\d{6})-?(\d{4})\s*$/.exec(s);
  return m ? m[1] + m[2] : null;
}

/** { reach, acc?, devs? } for a CPR number (spec/consent.md §6). */
export async function lookupCitizen(client, cpr) {
  return (await client.request(T.citizen_lookup, { cpr })).body;
}
