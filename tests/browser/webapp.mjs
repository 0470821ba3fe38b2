// SPDX-License-Identifier: MPL-2.0
// The installable web app on a phone-sized screen, against a relay of its own whose tenant has a
// display name, colour and logo and whose web root is a copy of the build (so a new version can be
// published during the test): the manifest is installable, the service worker shows a push as the
// generic notification and opens the thread from it, the app starts offline from its cache with
// its queued message, a new version waits for "Ny version – genindlæs", the citizen's home is her
// conversations (unread ones counted in the title), a thread opens at its newest message, the
// header is compact, nothing scrolls sideways at 320 px and axe-core finds nothing at 320 and
// 390 px.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRelay } from './relay.mjs';

const PHONE = { width: 390, height: 844 };
const NARROW = { width: 320, height: 640 };
const COLOUR = '#7a1f5c';
const NOTICE = 'Du har en ny besked i OS2wakks';
const LOGO = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40" rx="8" fill="#7a1f5c"/><circle cx="20" cy="20" r="9" fill="#fff"/></svg>\n';

// A PNG's width and height from its IHDR chunk.
function pngSize(buf) {
  if (buf.readUInt32BE(0) !== 0x89504e47 || buf.toString('latin1', 12, 16) !== 'IHDR') throw new Error('not a PNG');
  return `${buf.readUInt32BE(16)}x${buf.readUInt32BE(20)}`;
}

// The widest an element of the page reaches beyond the viewport, with the element, or null.
const overflow = (page) => page.evaluate(() => {
  const vw = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > vw) {
    const wide = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > vw + 0.5)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.className && typeof e.className === 'string' ? `.${e.className.split(' ').join('.')}` : ''}`);
    return `scrollWidth ${document.documentElement.scrollWidth} > ${vw}: ${wide.slice(0, 6).join(', ')}`;
  }
  return null;
});

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// The notifications the service worker shows, once `until(list)` holds (polled for up to 10 s).
async function notifications(page, until) {
  const end = Date.now() + 10000;
  for (;;) {
    const list = await page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications())
      .map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data })));
    if (until(list)) return list;
    if (Date.now() > end) throw new Error(`notifications: ${JSON.stringify(list)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function webappSteps({ step, chromium, buildDir, distDir, login, axe, shot }) {
  const dir = mkdtempSync(join(tmpdir(), 'wakks-webapp-'));
  const webRoot = join(dir, 'web');
  cpSync(distDir, webRoot, { recursive: true });
  writeFileSync(join(dir, 'logo.svg'), LOGO);
  const relay = await startRelay(buildDir, webRoot, [
    '[tenant varde]', 'name = Varde Kommune', 'cvr = 29189781', 'idps = dev-mitid, dev-adfs',
    'display_name = Varde Kommune – Borgerpost', `colour = "${COLOUR}"`, `logo = ${join(dir, 'logo.svg')}`,
    '[unit varde/jobcenter]', 'name = Jobcenter', 'groups = varde-jobcenter',
    '[unit varde/borgerservice]', 'name = Borgerservice', 'groups = varde-borgerservice',
  ]);
  // Its own browser: service workers refuse a script whose certificate the browser does not
  // trust, and the relay's development certificate is self-signed.
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...ARGS, '--ignore-certificate-errors'] });
  const base = relay.url;
  const cspViolations = [];
  const newContext = async (viewport) => {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'da-DK', viewport, serviceWorkers: 'allow' });
    ctx.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
    return ctx;
  };
  let cit, cw, conv;
  const figures = {};
  const citCtx = await newContext(PHONE);
  try {
    await step('web app: the relay serves the manifest, icons and branding with their content types', async () => {
      const get = async (path) => {
        const r = await citCtx.request.get(new URL(path, base).href);
        return { type: r.headers()['content-type'], csp: r.headers()['content-security-policy'], body: await r.body(), status: r.status() };
      };
      const m = await get('/manifest.webmanifest');
      if (m.status !== 200 || m.type !== 'application/manifest+json') throw new Error(`manifest: ${m.status} ${m.type}`);
      const b = await get('/branding');
      const brand = JSON.parse(b.body).tenants;
      if (brand.length !== 1 || brand[0].display_name !== 'Varde Kommune – Borgerpost' || brand[0].colour !== COLOUR || brand[0].logo !== '/branding/varde/logo') throw new Error(JSON.stringify(brand));
      const logo = await get('/branding/varde/logo');
      if (logo.type !== 'image/svg+xml' || logo.body.toString() !== LOGO || !/sandbox/.test(logo.csp)) throw new Error(`logo: ${logo.type} ${logo.csp}`);
      if ((await get('/branding/nope/logo')).status !== 404) throw new Error('a tenant without a logo answers 404');
      const sw = await get('/sw.js');
      if (!/javascript/.test(sw.type) || /__WAKKS_/.test(sw.body.toString())) throw new Error(`sw.js: ${sw.type}, not versioned by the build`);
      if (!/manifest-src 'self'/.test(m.csp ?? sw.csp ?? '')) throw new Error(`policy without manifest-src: ${sw.csp}`);
    });

    await step('web app: a caseworker and a citizen on a phone log in', async () => {
      await citCtx.grantPermissions(['notifications'], { origin: base });
      const cwCtx = await newContext({ width: 1280, height: 800 });
      cw = await login(cwCtx, base, 'caseworker', 'camilla');
      cit = await login(citCtx, base, 'citizen', 'anna');
    });

    await step('web app: the manifest is installable and the service worker controls the page over HTTPS', async () => {
      await cit.waitForFunction(() => !!navigator.serviceWorker.controller, null, { timeout: 15000 });
      const info = await cit.evaluate(async () => {
        const link = document.querySelector('link[rel=manifest]');
        const r = await fetch(link.href);
        return { href: link.href, manifest: await r.json(), protocol: location.protocol, scope: (await navigator.serviceWorker.ready).scope };
      });
      const mf = info.manifest;
      if (info.protocol !== 'https:') throw new Error(info.protocol);
      if (mf.name !== 'OS2wakks – sikker besked med kommunen' || mf.short_name !== 'OS2wakks' || mf.lang !== 'da') throw new Error(`names: ${mf.name} / ${mf.short_name}`);
      if (mf.display !== 'standalone' || mf.start_url !== '/' || mf.scope !== '/' || !/^#[0-9a-f]{6}$/.test(mf.theme_color) || !mf.background_color) throw new Error(JSON.stringify(mf));
      if (info.scope !== `${base}/`) throw new Error(`service worker scope ${info.scope}`);
      const seen = new Set();
      for (const icon of mf.icons) {
        const r = await citCtx.request.get(new URL(icon.src, info.href).href);
        const body = await r.body();
        if (!r.ok() || r.headers()['content-type'] !== icon.type) throw new Error(`${icon.src}: ${r.status()} ${r.headers()['content-type']}`);
        if (icon.type === 'image/png') {
          if (pngSize(body) !== icon.sizes) throw new Error(`${icon.src} is ${pngSize(body)}, not ${icon.sizes}`);
          seen.add(`${icon.sizes}/${icon.purpose}`);
        }
      }
      for (const need of ['192x192/any', '512x512/any', '512x512/maskable']) if (!seen.has(need)) throw new Error(`no ${need} PNG icon`);
      // Chromium's own verdict, where this version offers it.
      const cdp = await citCtx.newCDPSession(cit);
      const verdict = await cdp.send('Page.getInstallabilityErrors').catch(() => null);
      await cdp.detach();
      // Test contexts are incognito profiles, where Chromium installs nothing; every other reason
      // it gives is about the app.
      const errors = (verdict?.installabilityErrors ?? []).map((e) => e.errorId).filter((e) => e !== 'in-incognito');
      if (errors.length) throw new Error(`Chromium: not installable: ${errors.join(', ')}`);
      figures.installabilityChecked = verdict ? 'chromium' : 'script only';
    });

    await step('web app: the tenant\'s name, logo and colour are in the header', async () => {
      await cit.waitForSelector('body > header .brand-name:has-text("Varde Kommune – Borgerpost")');
      const s = await cit.evaluate(() => ({
        accent: getComputedStyle(document.documentElement).getPropertyValue('--accent').trim(),
        theme: document.querySelector('meta[name=theme-color]').content,
        logo: document.querySelector('body > header img.brand-logo')?.naturalWidth ?? 0,
      }));
      if (s.accent !== COLOUR || s.theme !== COLOUR || !s.logo) throw new Error(JSON.stringify(s));
    });

    await step('web app: the citizen\'s home lists conversations with the newest message; a thread opens at its end', async () => {
      // With no conversation yet, starting one is what the home screen offers.
      await cit.waitForSelector('.new-conv button[data-unit=jobcenter]');
      await cit.click('.new-conv button[data-unit=jobcenter]');
      await cit.waitForSelector('#compose');
      conv = await cit.evaluate(() => window.wakks.route.conv);
      await cit.evaluate(async (n) => {
        const m = window.wakks.client.messaging;
        const c = m.conversations.get(window.wakks.route.conv);
        for (let i = 1; i <= n; i++) await m.sendText(c, `Besked nummer ${i} i en lang samtale`);
      }, 24);
      await cw.waitForFunction(() => [...window.wakks.client.messaging.messages.values()].some((m) => m.text === 'Besked nummer 24 i en lang samtale'), null, { timeout: 15000 });
      await cit.waitForFunction(() => document.querySelectorAll('.msg.mine').length === 24);
      await cit.click('.thread-head button.link');
      await cit.waitForSelector('.conversations li');
      const home = await cit.evaluate(() => ({
        items: document.querySelectorAll('.conversations li').length,
        preview: document.querySelector('.conversations .preview')?.textContent,
        tenant: document.querySelector('.conversations .conv-tenant')?.textContent,
        logo: document.querySelector('.conversations img.conv-logo')?.getAttribute('src'),
        newConv: [...document.querySelectorAll('.new-conv button')].map((b) => b.dataset.unit),
        newOpen: document.querySelector('details.new-conv')?.open,
      }));
      if (home.items !== 1 || home.preview !== 'Dig: Besked nummer 24 i en lang samtale' || home.tenant !== 'Varde Kommune – Borgerpost' || home.logo !== '/branding/varde/logo') throw new Error(JSON.stringify(home));
      if (home.newConv.join() !== 'borgerservice' || home.newOpen !== false) throw new Error(`new conversation: ${JSON.stringify(home)}`);
      await shot(cit, 'webapp-home-390');
      await cit.click('.conversations button[data-unit=jobcenter]');
      await cit.waitForSelector('.msg.mine:has-text("Besked nummer 24")');
      await cit.waitForFunction(() => {
        const r = document.querySelector('.messages li:last-child').getBoundingClientRect();
        return r.top >= 0 && r.bottom <= innerHeight;
      }, null, { timeout: 3000 }).catch(async () => {
        throw new Error(`the newest message is not in view: ${JSON.stringify(await cit.evaluate(() => [scrollY, document.querySelector('.messages li:last-child').getBoundingClientRect().top]))}`);
      });
      await shot(cit, 'webapp-thread-390');
    });

    await step('web app: the header is compact on a 390×844 phone', async () => {
      figures.headerPx = await cit.evaluate(() => Math.round(document.querySelector('body > header').getBoundingClientRect().height));
      if (figures.headerPx > 90) throw new Error(`header ${figures.headerPx} px high`);
    });

    await step('web app: a reply shows as the preview and as an unread count in the title', async () => {
      await cit.evaluate(() => window.wakks.go({ view: 'consent' }));
      await cit.click('button[data-tenant=varde]');
      await cit.click('#grant-varde');
      await cit.waitForSelector('#consent-status:has-text("givet samtykke")');
      await cit.evaluate(() => window.wakks.go({ view: 'home' }));
      const plain = await cit.title();
      await cw.evaluate(async () => {
        const m = window.wakks.client.messaging;
        await m.sendText([...m.conversations.values()].find((c) => c.citizen), 'Svar fra Jobcentret');
      });
      await cit.waitForFunction((t) => document.title === `(1) ${t}`, plain, { timeout: 15000 });
      await cit.waitForSelector('.conversations li.unread .preview:text-is("Svar fra Jobcentret")');
      await cit.click('.conversations button[data-unit=jobcenter]');
      await cit.waitForFunction((t) => document.title === t, plain, { timeout: 5000 });
    });

    await step('web app: the safety number is also a QR code', async () => {
      await cit.click('details.safety summary');
      await cit.waitForSelector('details.safety svg.qr');
      const q = await cit.evaluate(() => {
        const svg = document.querySelector('details.safety svg.qr');
        const r = svg.getBoundingClientRect();
        return { label: svg.getAttribute('aria-label'), box: svg.getAttribute('viewBox'), w: r.width };
      });
      // 60 digits: a version 2 symbol (25 modules) and its quiet zone.
      if (!/^QR-kode med sikkerhedsnummeret/.test(q.label) || q.box !== '0 0 33 33' || q.w < 100) throw new Error(JSON.stringify(q));
      await axe(cit, 'safety number with QR code');
    });

    await step('web app: no citizen screen scrolls sideways at 320 px, and axe-core is clean at 320 and 390 px', async () => {
      const screens = [
        ['home', () => window.wakks.go({ view: 'home' }), '.conversations li'],
        ['thread', (c) => { const x = window.wakks.client.messaging.conversations.get(c); window.wakks.go({ view: 'thread', conv: c, ten: x.ten, unit: x.unit }); }, '.msg'],
        ['consent', () => window.wakks.go({ view: 'consent' }), 'button[data-tenant=varde]'],
        ['devices', () => window.wakks.go({ view: 'devices' }), 'ul.devices li'],
      ];
      const problems = [];
      for (const vp of [NARROW, PHONE]) {
        await cit.setViewportSize(vp);
        for (const [name, go, ready] of screens) {
          await cit.evaluate(go, conv);
          await cit.waitForSelector(ready);
          if (name === 'home') await cit.click('details.new-conv summary');
          if (name === 'consent') { await cit.click('button[data-tenant=varde]'); await cit.waitForSelector('#withdraw-varde'); }
          if (name === 'thread') await cit.click('details.safety summary');
          if (vp === NARROW) { const o = await overflow(cit); if (o) problems.push(`${name}: ${o}`); await shot(cit, `webapp-${name}-320`); }
          await axe(cit, `${name} at ${vp.width} px`).catch((e) => problems.push(e.message));
        }
        for (const pg of ['hjaelp.html', 'privatliv.html', 'tilgaengelighed.html']) {
          const p = await citCtx.newPage();
          await p.setViewportSize(vp);
          await p.goto(`${base}/${pg}`);
          await p.waitForSelector('h1');
          if (vp === NARROW) { const o = await overflow(p); if (o) problems.push(`${pg}: ${o}`); }
          await axe(p, `${pg} at ${vp.width} px`).catch((e) => problems.push(e.message));
          await p.close();
        }
      }
      // The login page, before any device exists.
      const fresh = await newContext(NARROW);
      const lp = await fresh.newPage();
      await lp.goto(base);
      await lp.waitForSelector('#login-citizen');
      const o = await overflow(lp);
      if (o) problems.push(`login: ${o}`);
      await axe(lp, 'login at 320 px').catch((e) => problems.push(e.message));
      await fresh.close();
      if (problems.length) throw new Error(problems.join('\n    '));
      await cit.setViewportSize(PHONE);
    });

    await step('web app: the help, privacy and accessibility pages are reachable from the app', async () => {
      await cit.evaluate(() => window.wakks.go({ view: 'home' }));
      for (const [label, h1] of [['Hjælp', 'Hjælp til OS2wakks'], ['Privatlivspolitik', 'Privatlivspolitik for OS2wakks'], ['Tilgængelighedserklæring', 'Tilgængelighedserklæring for OS2wakks']]) {
        await cit.click(`footer.app-footer a:has-text("${label}")`);
        await cit.waitForSelector(`h1:has-text("${h1}")`);
        // The page names the relay's one municipality.
        await cit.waitForSelector('[data-tenant-name]:has-text("Varde Kommune – Borgerpost")');
        await cit.goBack();
        await cit.waitForSelector('.conversations li');
      }
    });

    await step('web app: a push shows the generic notification, and clicking it opens the thread', async () => {
      await cit.evaluate(() => window.wakks.go({ view: 'home' }));
      const cdp = await citCtx.newCDPSession(cit);
      const reg = new Promise((ok) => cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => {
        const r = e.registrations.find((x) => x.scopeURL === `${base}/` && !x.isDeleted);
        if (r) ok(r.registrationId);
      }));
      await cdp.send('ServiceWorker.enable');
      const registrationId = await reg;
      await cdp.send('ServiceWorker.deliverPushMessage', { origin: base, registrationId, data: JSON.stringify({ thread: conv }) });
      const shown = await notifications(cit, (l) => l.length > 0);
      if (shown.length !== 1 || shown[0].title !== 'OS2wakks' || shown[0].body !== NOTICE || shown[0].data?.thread !== conv) throw new Error(JSON.stringify(shown));
      // A second push replaces the first (one notice, however many messages wait); a payload
      // that is not JSON still shows the notice.
      await cdp.send('ServiceWorker.deliverPushMessage', { origin: base, registrationId, data: 'x' });
      const replaced = await notifications(cit, (l) => l.length === 1 && l[0].data?.thread === null);
      if (replaced[0].body !== NOTICE) throw new Error(JSON.stringify(replaced));
      await cdp.send('ServiceWorker.deliverPushMessage', { origin: base, registrationId, data: JSON.stringify({ thread: conv }) });
      await notifications(cit, (l) => l.length === 1 && l[0].data?.thread === conv);
      await cdp.detach();
      // The click, as the notification service delivers it, inside the worker.
      const [worker] = citCtx.serviceWorkers();
      if (!worker) throw new Error('no service worker in the context');
      await worker.evaluate(async () => {
        const [n] = await self.registration.getNotifications();
        self.dispatchEvent(new NotificationEvent('notificationclick', { notification: n }));
      });
      await cit.waitForFunction((c) => window.wakks.route.view === 'thread' && window.wakks.route.conv === c, conv, { timeout: 5000 });
    });

    await step('web app: with the relay out of reach, a reload starts the app from its cache with the queued message', async () => {
      await cit.evaluate(() => window.wakks.go({ view: 'home' }));
      await citCtx.setOffline(true);
      const reached = await cit.evaluate(() => fetch('/healthz').then(() => true, () => false));
      if (reached) throw new Error('the context is not offline');
      await cit.click('.conversations button[data-unit=jobcenter]');
      await cit.fill('#compose', 'Skrevet i appen uden net');
      await cit.click('.compose button[type=submit]');
      await cit.waitForSelector('.msg.mine[data-status=queued]:has-text("Skrevet i appen uden net")');
      const resp = await cit.reload();
      if (!resp?.fromServiceWorker()) throw new Error('the reload did not come from the service worker');
      if (cit.url().startsWith('chrome-error:')) throw new Error('the browser\'s error page');
      await cit.waitForSelector('.conversations li', { timeout: 15000 });
      const t = await cit.evaluate(() => ({ status: document.getElementById('status').textContent, brand: document.querySelector('.brand-name')?.textContent, preview: document.querySelector('.conversations .preview').textContent }));
      if (!/Ingen forbindelse|Forbinder/.test(t.status) || t.preview !== 'Dig: Skrevet i appen uden net' || t.brand !== 'Varde Kommune – Borgerpost') throw new Error(JSON.stringify(t));
      await shot(cit, 'webapp-offline-home');
      await axe(cit, 'home offline');
      await cit.click('.conversations button[data-unit=jobcenter]');
      await cit.waitForSelector('.msg.mine[data-status=queued]:has-text("Skrevet i appen uden net")');
      await citCtx.setOffline(false);
      await cit.evaluate(() => window.dispatchEvent(new Event('online')));
      await cw.waitForFunction(() => [...window.wakks.client.messaging.messages.values()].some((m) => m.text === 'Skrevet i appen uden net'), null, { timeout: 15000 });
    });

    await step('web app: a new version waits until the citizen chooses "Ny version – genindlæs"', async () => {
      const version = () => cit.evaluate(() => new Promise((ok) => {
        navigator.serviceWorker.addEventListener('message', (e) => { if (e.data?.type === 'version') ok(e.data.version); });
        navigator.serviceWorker.controller.postMessage({ type: 'version' });
      }));
      const old = await version();
      const before = await cit.evaluate(() => caches.keys());
      // Publish a new version, as a new build does: another VERSION in sw.js.
      const swPath = join(webRoot, 'sw.js');
      writeFileSync(swPath, readFileSync(swPath, 'utf8').replace(`const VERSION = "${old}"`, `const VERSION = "${old}-next"`));
      await cit.evaluate(async () => (await navigator.serviceWorker.ready).update());
      await cit.waitForSelector('#app-notices .update button:has-text("Ny version – genindlæs")', { timeout: 15000 });
      await axe(cit, 'new-version notice');
      // The running version is untouched until then.
      const still = await cit.evaluate(() => caches.keys());
      if (!before.every((k) => still.includes(k))) throw new Error(`caches replaced before the reload: ${before} -> ${still}`);
      await Promise.all([cit.waitForEvent('load', { timeout: 15000 }), cit.click('#update-reload')]);
      await cit.waitForSelector('.conversations li, .msg', { timeout: 15000 });
      if (await version() !== `${old}-next`) throw new Error('the page is not controlled by the new version');
      const after = await cit.evaluate(async () => ({ waiting: !!(await navigator.serviceWorker.ready).waiting, keys: await caches.keys(), notice: !!document.querySelector('#app-notices .update') }));
      if (after.waiting || after.notice || after.keys.filter((k) => k.startsWith('wakks-shell-')).length !== 1 || before.some((k) => k.startsWith('wakks-shell-') && after.keys.includes(k))) throw new Error(JSON.stringify({ before, after }));
    });

    await step('web app: everything ran under the relay\'s Content-Security-Policy', async () => {
      if (cspViolations.length) throw new Error(cspViolations.join('\n    '));
    });
  } finally {
    if (Object.keys(figures).length) console.log(`# web app figures: ${JSON.stringify(figures)}`);
    await browser.close().catch(() => {});
    await relay.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

