// SPDX-License-Identifier: MPL-2.0
// The label this browser registers with (spec/protocol.md §5.1): browser and platform in words a
// person recognises in the device list, "Firefox på Windows". Built only from what the browser
// says of itself; nothing of the person or the account goes into it.

// The order matters: Edge, Opera and Samsung Internet also name Chrome and Safari; Chrome also
// names Safari.
const BROWSERS = [
  [/Edg(e|A|iOS)?\//, 'Edge'],
  [/OPR\/|Opera/, 'Opera'],
  [/SamsungBrowser\//, 'Samsung Internet'],
  [/Firefox\/|FxiOS\//, 'Firefox'],
  [/Chrome\/|Chromium\/|CriOS\//, 'Chrome'],
  [/Safari\//, 'Safari'],
];

// Android and ChromeOS user agents also say Linux; iPhone and iPad ones also say Mac OS X.
const PLATFORMS = [
  [/iPhone|iPod/, 'iPhone'],
  [/iPad/, 'iPad'],
  [/Android/, 'Android'],
  [/Windows/, 'Windows'],
  [/CrOS/, 'ChromeOS'],
  [/Macintosh|Mac OS X/, 'macOS'],
  [/Linux|X11/, 'Linux'],
];

// navigator.userAgentData.platform, where the browser has it (Chromium), is the surer source.
const HINTS = { Windows: 'Windows', macOS: 'macOS', Android: 'Android', 'Chrome OS': 'ChromeOS', ChromeOS: 'ChromeOS', Linux: 'Linux', iOS: 'iPhone' };

const pick = (table, s) => (table.find(([re]) => re.test(s)) ?? [null, null])[1];

/**
 * The device label for a browser: `${browser} på ${platform}`, or the browser alone when the
 * platform is unknown. At most 64 bytes of UTF-8 (MAX_LABEL_BYTES): every part is a fixed word.
 * @param {string} userAgent navigator.userAgent
 * @param {string} [platformHint] navigator.userAgentData.platform, when there is one
 */
export function deviceLabel(userAgent, platformHint) {
  const ua = typeof userAgent === 'string' ? userAgent : '';
  const browser = pick(BROWSERS, ua) ?? 'Webbrowser';
  const platform = (typeof platformHint === 'string' && HINTS[platformHint]) || pick(PLATFORMS, ua);
  return platform ? `${browser} på ${platform}` : browser;
}
