// SPDX-License-Identifier: MPL-2.0
// The device label a browser registers with: browser and platform, in Danish, within the
// protocol's 64 bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deviceLabel } from '../src/app/label.js';

const UA = {
  firefoxWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0',
  chromeAndroid: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
  safariIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  chromeIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1',
  safariMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  edgeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68',
  firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  headlessChromium: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36',
  samsungAndroid: 'Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36',
  operaWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0',
  chromeOs: 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
};

test('browser and platform, in Danish', () => {
  assert.equal(deviceLabel(UA.firefoxWindows), 'Firefox på Windows');
  assert.equal(deviceLabel(UA.chromeAndroid), 'Chrome på Android');
  assert.equal(deviceLabel(UA.safariIphone), 'Safari på iPhone');
  assert.equal(deviceLabel(UA.chromeIphone), 'Chrome på iPhone');
  assert.equal(deviceLabel(UA.safariMac), 'Safari på macOS');
  assert.equal(deviceLabel(UA.edgeWindows), 'Edge på Windows');
  assert.equal(deviceLabel(UA.firefoxLinux), 'Firefox på Linux');
  assert.equal(deviceLabel(UA.headlessChromium), 'Chrome på Linux');
  assert.equal(deviceLabel(UA.samsungAndroid), 'Samsung Internet på Android');
  assert.equal(deviceLabel(UA.operaWindows), 'Opera på Windows');
  assert.equal(deviceLabel(UA.chromeOs), 'Chrome på ChromeOS');
});

test('the platform hint of userAgentData wins over the user agent string', () => {
  // a desktop-mode Android browser that reports a Linux user agent
  assert.equal(deviceLabel(UA.headlessChromium, 'Android'), 'Chrome på Android');
  assert.equal(deviceLabel(UA.firefoxWindows, 'unknown'), 'Firefox på Windows');
});

test('unknown browser or platform still gives a label', () => {
  assert.equal(deviceLabel('Mozilla/5.0 (Windows NT 10.0)'), 'Webbrowser på Windows');
  assert.equal(deviceLabel('curl/8.5.0'), 'Webbrowser');
  assert.equal(deviceLabel(undefined), 'Webbrowser');
  assert.equal(deviceLabel('Mozilla/5.0 Firefox/128.0'), 'Firefox');
});

test('every label fits the protocol: 1..64 bytes of UTF-8', () => {
  const hints = [undefined, 'Windows', 'macOS', 'Android', 'Chrome OS', 'Linux', 'iOS'];
  for (const ua of [...Object.values(UA), '', 'x']) {
    for (const hint of hints) {
      const bytes = new TextEncoder().encode(deviceLabel(ua, hint)).length;
      assert.ok(bytes >= 1 && bytes <= 64, `${ua} ${hint}`);
    }
  }
});
