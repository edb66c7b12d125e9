// eslint for every browser script we write and the build script (tests/test_js_lint.py runs it,
// so the README's test command does). The built bundles are not linted: their sources in
// js/ are, and tests/test_js_build.py checks the bundles are fresh builds of them.
import js from '@eslint/js';
import globals from 'globals';

// The syntax the scripts' APIs already need (Promise, fetch, URL, classes) allows everywhere.
const modern = {
  'no-var': 'error',
  'prefer-const': 'error',
  'prefer-arrow-callback': 'error',
  'object-shorthand': 'error',
  'arrow-body-style': ['error', 'as-needed'],
  'prefer-template': 'error'
};

export default [
  { ignores: ['sdk/js/recap.js', 'widget_server/player/static/player.js', 'widget_server/share/static/share.js', 'node_modules/', '.venv/', 'build/'] },
  js.configs.recommended,
  { files: ['**/*.js'], languageOptions: { ecmaVersion: 2022, sourceType: 'script', globals: globals.browser } },
  { files: ['js/**/*.js'], languageOptions: { sourceType: 'module' }, rules: modern },
  { files: ['widget_server/player/static/*.js'], rules: modern },
  { files: ['**/*.mjs'], languageOptions: { sourceType: 'module', globals: globals.node } }
];
