#!/usr/bin/env node
// dist/bundle.js is dist/cli.js bundled (scripts/bundle.mjs): a few dozen modules to load instead of 185.
import { main } from '../dist/bundle.js';

process.exitCode = await main(process.argv);
