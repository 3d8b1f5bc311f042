#!/usr/bin/env node
// Bundles the in-box runtime (src/runtime/box-entry.ts and everything it imports) into
// one file, dist/box-runtime.mjs, that the host uploads into a box at each build. The box
// runs it with its own Node (24); the target stays at the oldest Node kiwi supports.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/runtime/box-entry.ts'],
  outfile: 'dist/box-runtime.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  legalComments: 'none',
  logLevel: 'warning',
  // CommonJS dependencies (xml2js, sax) call require() for Node's built-in modules.
  banner: { js: "import { createRequire as kiwiCreateRequire } from 'node:module'; const require = kiwiCreateRequire(import.meta.url);" },
});
