#!/usr/bin/env node
// V8's optimising compiler inlines less per function than its default (920 bytes of bytecode): a run of etl lasts
// seconds, and compiling the hot functions with everything they call took a quarter of the ONS transform's CPU
// (docs/performance-history.md, issue 22 sixth round). Set before the bundle loads, so every compile sees it.
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--max-inlined-bytecode-size-cumulative=300');

// dist/bundle.js is src/cli.ts bundled by esbuild (npm run build, scripts/bundle.mjs): a few dozen files to load, not ~185 modules.
const { main } = await import('../dist/bundle.js');

process.exitCode = await main(process.argv);
