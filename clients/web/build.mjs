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
