// SPDX-License-Identifier: MPL-2.0
// Crypto failures. Authentication failures of every kind are one indistinguishable error.

export class CryptoError extends Error {
  constructor(kind) { super(kind); this.name = 'CryptoError'; this.kind = kind; }
}
export const VERIFY = 'verification failed';
export const FORMAT = 'format error';
export const VERSION = 'unsupported version';
export const LIMIT = 'input exceeds a limit';
export const GAP = 'gap too large';
export const fail = (kind = VERIFY) => { throw new CryptoError(kind); };
