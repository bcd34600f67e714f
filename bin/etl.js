#!/usr/bin/env node
// dist/bundle.js is src/cli.ts bundled by esbuild (npm run build, scripts/bundle.mjs): a few dozen files to load, not ~185 modules.
import { main } from '../dist/bundle.js';

process.exitCode = await main(process.argv);
