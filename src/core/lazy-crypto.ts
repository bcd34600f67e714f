import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * node:crypto, loaded on first use. Imported by every module that hashes or names a temp file, it cost
 * `etl --help` about 10 ms of CPU (of some 250) while no command that prints help needs it.
 */
export function crypto(): typeof import('node:crypto') {
  return require('node:crypto') as typeof import('node:crypto');
}
