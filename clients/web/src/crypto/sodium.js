// SPDX-License-Identifier: MPL-2.0
// The one place libsodium is loaded. Await `ready` before any other crypto call.
import sodium from 'libsodium-wrappers-sumo';

export const ready = sodium.ready;
export { sodium };
