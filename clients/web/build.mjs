// SPDX-License-Identifier: MPL-2.0
// Builds dist/: the bundled application and the static files in public/.
import { build } from 'esbuild';
import { cpSync, mkdirSync, rmSync } from 'node:fs';

const here = new URL('.', import.meta.url).pathname;
rmSync(`${here}dist`, { recursive: true, force: true });
mkdirSync(`${here}dist`, { recursive: true });
cpSync(`${here}public`, `${here}dist`, { recursive: true });
await build({
  entryPoints: [`${here}src/main.js`],
  bundle: true,
  format: 'iife',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  outfile: `${here}dist/app.js`,
  logLevel: 'warning',
});

// The service worker caches every file of this build under a version made from their contents:
// any change gives a new sw.js, which the browser finds on its next check and installs beside the
// running version (public/sw.js, src/app/update.js).
{
  const { createHash } = await import('node:crypto');
  const { readdirSync, readFileSync, writeFileSync } = await import('node:fs');
  const dist = `${here}dist/`;
  const files = readdirSync(dist, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && d.name !== 'sw.js')
    .map((d) => `${d.parentPath ?? d.path}/${d.name}`.slice(dist.length).replace(/^\/+/, ''))
    .sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(f).update('\0').update(readFileSync(dist + f)).update('\0');
  const version = hash.digest('hex').slice(0, 16);
  const sw = readFileSync(`${dist}sw.js`, 'utf8')
    .replace("'__WAKKS_VERSION__'", JSON.stringify(version))
    .replace("['__WAKKS_SHELL__']", JSON.stringify(['/', ...files.map((f) => `/${f}`)]));
  writeFileSync(`${dist}sw.js`, sw);
}
