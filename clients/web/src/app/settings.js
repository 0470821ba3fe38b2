// SPDX-License-Identifier: MPL-2.0
// This browser's preferences and a unit's standard phrases. They are not secret and belong to the
// browser, not to the device's keys, so they live in localStorage and survive a log-out (the next
// colleague at a shared desk of the same unit finds the unit's phrases).

const SETTINGS = 'wakks.settings';
const PHRASES = 'wakks.phrases.';
// Standard phrases per unit, and their sizes: enough for a unit's set, small enough for storage.
export const MAX_PHRASES = 50;
export const MAX_PHRASE_CHARS = 4000;
export const MAX_PHRASE_NAME = 80;

const DEFAULTS = { enterSends: true, notifyOffer: true };

function read(key, fallback) {
  try {
    const v = JSON.parse(globalThis.localStorage?.getItem(key) ?? 'null');
    return v ?? fallback;
  } catch { return fallback; }
}
function write(key, value) {
  try { globalThis.localStorage?.setItem(key, JSON.stringify(value)); } catch { /* storage full or off: kept for this page */ }
}

export function settings() { return { ...DEFAULTS, ...read(SETTINGS, {}) }; }
export function saveSettings(patch) { write(SETTINGS, { ...settings(), ...patch }); }

/** Cleans a list of phrases: names and texts trimmed and bounded, empty ones dropped. */
export function cleanPhrases(list) {
  const out = [];
  for (const p of Array.isArray(list) ? list : []) {
    const name = String(p?.name ?? '').trim().slice(0, MAX_PHRASE_NAME);
    const text = String(p?.text ?? '').trim().slice(0, MAX_PHRASE_CHARS);
    if (name && text) out.push({ name, text });
    if (out.length === MAX_PHRASES) break;
  }
  return out;
}

export const phrases = (ten, unit) => cleanPhrases(read(`${PHRASES}${ten}/${unit}`, []));
export const savePhrases = (ten, unit, list) => write(`${PHRASES}${ten}/${unit}`, cleanPhrases(list));
