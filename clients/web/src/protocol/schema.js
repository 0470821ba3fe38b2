// SPDX-License-Identifier: MPL-2.0
// Every frame body of protocol v1 as a table (spec/protocol.md §4-§9): key, type, required,
// limits. The decoder, the encoder and the validator all read these tables.

export const LIMITS = {
  FRAME_BYTES: 1048576, RECIPIENT_DEVICES: 512, RECIPIENT_ACCOUNTS: 32, CIPHERTEXT_BYTES: 65536,
  PREKEYS_PER_UPLOAD: 100, DEVICES_PER_ACCOUNT: 16, DEVICE_SET: 512, ATTESTATION_BYTES: 16384,
  CONSENT_RECORD_BYTES: 4096, CONSENTS: 256, TENANTS: 256, UNITS: 256, SLUG_BYTES: 32,
  NAME_BYTES: 128, LABEL_BYTES: 64, ERROR_TEXT_BYTES: 256, ERROR_NAME_BYTES: 32, MAP_KEYS: 32,
  BLOB_CHUNK_BYTES: 262144, BLOBS_PER_SEND: 16, BLOB_BYTES: 1n << 30n,
  PUSH_ENDPOINT_BYTES: 2048, PUSH_TOKEN_BYTES: 512,
};
// push_register kinds (spec/protocol.md §17).
export const PUSH_KIND = { web: 1, apns: 2, fcm: 3 };
const L = LIMITS;
const U32 = 0xffffffffn;
const U64 = 0xffffffffffffffffn;

const req = true, opt = false;
const u32 = (k, r, lo = 0n, hi = U32) => ({ k, kind: 'int', r, lo, hi, max: U32 });
const u64 = (k, r, lo = 0n, hi = U64) => ({ k, kind: 'int', r, lo, hi, max: U64 });
const bool = (k, r) => ({ k, kind: 'bool', r });
const fix = (k, r, n) => ({ k, kind: 'fix', r, n });
const bin = (k, r, lo, hi) => ({ k, kind: 'bin', r, lo, hi });
const text = (k, r, lo, hi) => ({ k, kind: 'text', r, lo, hi });
const ascii = (k, r, lo, hi) => ({ k, kind: 'ascii', r, lo, hi });
const slug = (k, r) => ({ k, kind: 'slug', r, lo: 1, hi: L.SLUG_BYTES });
const map = (k, r, sub) => ({ k, kind: 'map', r, sub });
const arrMap = (k, r, lo, hi, sub) => ({ k, kind: 'arr', r, lo, hi, sub });
const arrId = (k, r, lo, hi) => ({ k, kind: 'arr', r, lo, hi, item: 16 });
const schema = (fields, check) => ({ fields, check });

const ID = 16, KEY = 32, SIG = 64;
const prekey = schema([u32('id', req), fix('pub', req, KEY)]);
const spk = schema([u32('id', req), fix('pub', req, KEY), u64('time', req), fix('sig', req, SIG)]);
const empty = schema([]);

// Exactly one addressee: an account, or a tenant with its unit.
function checkTarget(b) {
  const unit = b.unit !== undefined, ten = b.ten !== undefined;
  return unit !== ten || (b.acc !== undefined) === (unit && ten) ? 'acc' : null;
}
function hasDup(list) {
  const seen = new Set();
  for (const x of list) { const h = hex(x); if (seen.has(h)) return true; seen.add(h); }
  return false;
}
function hex(b) { let s = ''; for (const x of b) s += x.toString(16).padStart(2, '0'); return s; }
// bundles_fetch may name single devices of the addressee, each once.
function checkBundlesFetch(b) {
  return checkTarget(b) ?? (b.devs && hasDup(b.devs) ? 'devs' : null);
}
function checkSend(b) {
  const unit = b.unit !== undefined, ten = b.ten !== undefined;
  if (unit !== ten) return unit ? 'ten' : 'unit';
  if (!b.to && !unit) return 'to';
  if (b.to && hasDup(b.to)) return 'to';
  if (hasDup(b.env.map((e) => e.dev))) return 'env';
  if (b.blobs && hasDup(b.blobs)) return 'blobs';
  return null;
}
// A blob's progress never exceeds its size, and `done` only when all of it is there.
function checkBlobState(b) {
  return b.have > b.size || (b.done && b.have !== b.size) ? 'have' : null;
}
// A Web Push subscription carries endpoint and keys only; an APNs/FCM one an app and a token only.
function checkPushRegister(b) {
  const has = (k) => b[k] !== undefined;
  const web = has('ep') && has('p256dh') && has('auth') && !has('app') && !has('tok');
  const app = !has('ep') && !has('p256dh') && !has('auth') && has('app') && has('tok');
  return (Number(b.kind) === 1 ? web : app) ? null : 'kind';
}
function checkDeliver(b) {
  return (b.unit !== undefined) !== (b.ten !== undefined) ? (b.unit !== undefined ? 'ten' : 'unit') : null;
}

const errorDet = schema([
  arrId('missing', opt, 1, L.RECIPIENT_DEVICES), arrId('stale', opt, 1, L.RECIPIENT_DEVICES),
  u64('limit', opt, 1n), u64('retry', opt, 1n),
]);
const target = schema([fix('acc', opt, ID), slug('ten', opt), slug('unit', opt)], checkTarget);
const bundlesFetch = schema([fix('acc', opt, ID), slug('ten', opt), slug('unit', opt),
  arrId('devs', opt, 1, L.DEVICE_SET)], checkBundlesFetch);
const entry = schema([slug('id', req), text('name', req, 1, L.NAME_BYTES)]);
const deviceAddr = schema([fix('acc', req, ID), fix('dev', req, ID)]);
const consent = schema([bin('rec', req, 1, L.CONSENT_RECORD_BYTES), fix('sig', req, SIG)]);
const counted = schema([u32('n', req)]);

// [name, number, kind, body schema]; kind: req (request), rep (reply), push, any (error).
const TABLE = [
  ['hello', 1, 'push', schema([u32('ver', req, 1n), u64('time', req), fix('chal', req, 32)])],
  ['auth', 2, 'req', schema([fix('dev', req, ID), fix('sig', req, SIG)])],
  ['auth_ok', 3, 'rep', schema([fix('acc', req, ID)])],
  ['ok', 4, 'rep', empty],
  ['error', 5, 'any', schema([u32('code', req, 1n), ascii('name', req, 1, L.ERROR_NAME_BYTES),
    text('text', req, 0, L.ERROR_TEXT_BYTES), map('det', opt, errorDet)])],
  ['register', 16, 'req', schema([ascii('att', req, 1, L.ATTESTATION_BYTES), fix('ik', req, KEY),
    map('spk', req, spk), arrMap('opk', req, 0, L.PREKEYS_PER_UPLOAD, prekey),
    text('label', opt, 1, L.LABEL_BYTES)])],
  ['registered', 17, 'rep', schema([fix('acc', req, ID), fix('dev', req, ID)])],
  ['devices_list', 18, 'req', empty],
  ['devices', 19, 'rep', schema([arrMap('list', req, 0, L.DEVICES_PER_ACCOUNT, schema([
    fix('dev', req, ID), fix('ik', req, KEY), u64('time', req), text('label', opt, 1, L.LABEL_BYTES)]))])],
  ['device_revoke', 20, 'req', schema([fix('dev', req, ID)])],
  // A unit's device set grew (spec/protocol.md §5.5): unit devices give the new one history.
  ['unit_devices_changed', 21, 'push', schema([slug('ten', req), slug('unit', req)])],
  ['prekeys_upload', 32, 'req', schema([arrMap('opk', req, 1, L.PREKEYS_PER_UPLOAD, prekey)])],
  ['spk_rotate', 33, 'req', schema([map('spk', req, spk)])],
  ['key_count_get', 34, 'req', empty],
  ['key_count', 35, 'rep', counted],
  ['prekeys_low', 36, 'push', counted],
  ['bundles_fetch', 37, 'req', bundlesFetch],
  ['bundles', 38, 'rep', schema([arrMap('list', req, 0, L.DEVICE_SET, schema([
    fix('acc', req, ID), fix('dev', req, ID), fix('ik', req, KEY), map('spk', req, spk),
    map('opk', opt, prekey)]))])],
  ['tenants_list', 48, 'req', empty],
  ['tenants', 49, 'rep', schema([arrMap('list', req, 0, L.TENANTS, entry)])],
  ['units_list', 50, 'req', schema([slug('ten', req)])],
  ['units', 51, 'rep', schema([slug('ten', req), arrMap('list', req, 0, L.UNITS, entry)])],
  ['device_set_get', 52, 'req', target],
  ['device_set', 53, 'rep', schema([arrMap('list', req, 0, L.DEVICE_SET, deviceAddr)])],
  ['send', 64, 'req', schema([fix('cmid', req, ID), arrId('to', opt, 1, L.RECIPIENT_ACCOUNTS),
    slug('ten', opt), slug('unit', opt), bool('rcpt', opt),
    arrMap('env', req, 1, L.RECIPIENT_DEVICES, schema([fix('dev', req, ID),
      bin('ct', req, 1, L.CIPHERTEXT_BYTES)])),
    arrId('blobs', opt, 1, L.BLOBS_PER_SEND)], checkSend)],
  ['stored', 65, 'rep', schema([fix('cmid', req, ID), u64('time', req)])],
  ['deliver', 66, 'push', schema([u64('seq', req), fix('cmid', req, ID), fix('acc', req, ID),
    fix('dev', req, ID), u64('time', req), slug('ten', opt), slug('unit', opt),
    bin('ct', req, 1, L.CIPHERTEXT_BYTES)], checkDeliver)],
  ['ack', 67, 'req', schema([u64('seq', req)])],
  ['receipt', 68, 'push', schema([fix('cmid', req, ID), fix('acc', req, ID), fix('dev', req, ID), u64('time', req)])],
  ['expired', 69, 'push', schema([fix('cmid', req, ID), fix('acc', req, ID), fix('dev', req, ID), u64('time', req)])],
  ['consent_grant', 80, 'req', consent],
  ['consent_withdraw', 81, 'req', consent],
  ['consent_list', 82, 'req', empty],
  ['consents', 83, 'rep', schema([arrMap('list', req, 0, L.CONSENTS, schema([
    u32('kind', req, 1n, 2n), bin('rec', req, 1, L.CONSENT_RECORD_BYTES), fix('sig', req, SIG),
    u64('time', req)]))])],
  // Caseworker look-up of a citizen by CPR number (spec/consent.md §6).
  ['citizen_lookup', 84, 'req', schema([ascii('cpr', req, 10, 11)])],
  ['citizen', 85, 'rep', schema([bool('reach', req), fix('acc', opt, ID),
    arrId('devs', opt, 0, L.DEVICES_PER_ACCOUNT)])],
  ['consent_changed', 86, 'push', schema([fix('acc', req, ID), slug('ten', req), slug('unit', opt),
    u32('kind', req, 1n, 2n), u64('time', req)])],
  ['devices_changed', 87, 'push', schema([fix('acc', req, ID)])],
  // Whether a citizen's consent covers a unit, asked before writing (spec/protocol.md §9.3).
  ['consent_check', 88, 'req', schema([fix('acc', req, ID), slug('ten', req), slug('unit', req)])],
  ['consent_state', 89, 'rep', schema([bool('active', req)])],
  // Attachments (spec/protocol.md §10): encrypted blobs uploaded and fetched in chunks.
  ['blob_put', 96, 'req', schema([fix('id', req, ID), u64('size', req, 1n, L.BLOB_BYTES),
    fix('sha', req, 32)])],
  ['blob_state', 97, 'rep', schema([fix('id', req, ID), u64('size', req, 1n, L.BLOB_BYTES),
    u64('have', req, 0n, L.BLOB_BYTES), bool('done', opt)], checkBlobState)],
  ['blob_chunk', 98, 'req', schema([fix('id', req, ID), u64('off', req, 0n, L.BLOB_BYTES - 1n),
    bin('data', req, 1, L.BLOB_CHUNK_BYTES)])],
  ['blob_status', 99, 'req', schema([fix('id', req, ID)])],
  ['blob_get', 100, 'req', schema([fix('id', req, ID), u64('off', req, 0n, L.BLOB_BYTES - 1n),
    u32('len', req, 1n, BigInt(L.BLOB_CHUNK_BYTES))])],
  ['blob_data', 101, 'rep', schema([fix('id', req, ID), u64('off', req, 0n, L.BLOB_BYTES - 1n),
    bin('data', req, 1, L.BLOB_CHUNK_BYTES)])],
  // Push subscriptions (spec/protocol.md §17).
  ['push_register', 112, 'req', schema([u32('kind', req, 1n, 3n),
    ascii('ep', opt, 1, L.PUSH_ENDPOINT_BYTES), fix('p256dh', opt, 65), fix('auth', opt, 16),
    slug('app', opt), ascii('tok', opt, 1, L.PUSH_TOKEN_BYTES)], checkPushRegister)],
  ['push_remove', 113, 'req', empty],
  ['push_key_get', 114, 'req', empty],
  ['push_key', 115, 'rep', schema([fix('vapid', req, 65)])],
];

export const T = {};
export const BY_NUMBER = new Map();
for (const [name, num, kind, body] of TABLE) {
  T[name] = num;
  BY_NUMBER.set(num, { name, num, kind, body });
}
