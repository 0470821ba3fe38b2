// SPDX-License-Identifier: MPL-2.0
// Tenant and unit ids (spec/protocol.md §1, `slug`): the one rule the web client checks ids with,
// in frames and in consent records alike, so it never accepts an id the wire cannot carry.
import { LIMITS } from './schema.js';

const SLUG = new RegExp(`^[a-z0-9][a-z0-9-]{0,${LIMITS.SLUG_BYTES - 1}}$`);

export const slugValid = (s) => typeof s === 'string' && SLUG.test(s);
