// Builds the browser scripts from js/: sdk/js/recap.js, the player's player.js and the share page's share.js.
//   node js/build.mjs          write them
//   node js/build.mjs --check  fail if a committed file differs from a fresh build
// The outputs are committed: `pip install` ships them and runs no Node. tests/test_js_build.py
// runs --check.
import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const BUNDLES = [
  { entry: 'js/recap/index.js', out: 'sdk/js/recap.js',
    banner: '/*! recap.js: Recap analytics for web pages. Built from js/recap by js/build.mjs; see docs/JS.md. */' },
  { entry: 'js/player/index.js', out: 'widget_server/player/static/player.js',
    banner: '/*! Recap story player. Built from js/player by js/build.mjs; see docs/PLAYER.md. */' },
  { entry: 'js/share/index.js', out: 'widget_server/share/static/share.js',
    banner: '/*! Recap share page. Built from js/share by js/build.mjs; see docs/SHARING.md. */' }
];

const check = process.argv.includes('--check');
let stale = 0;
for (const b of BUNDLES) {
  const result = await build({
    entryPoints: [join(root, b.entry)], bundle: true, format: 'iife', target: 'es2020',
    minify: true, legalComments: 'none', banner: { js: b.banner }, write: false, charset: 'utf8'
  });
  const text = result.outputFiles[0].text;
  const path = join(root, b.out);
  if (!check) { writeFileSync(path, text); continue; }
  let old = '';
  try { old = readFileSync(path, 'utf8'); } catch { /* missing */ }
  if (old !== text) { stale++; console.error(`${b.out} is not a fresh build of ${b.entry}: run node js/build.mjs`); }
}
process.exit(stale ? 1 : 0);
