import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Real files nobody here wrote, beside the checkout (../shared/data). Tests that need them skip without.
 * ETL_SHARED_DATA points elsewhere: `npm run test:mutation` runs the tests in a sandbox copy inside the checkout.
 */
export const sharedDataDir = process.env.ETL_SHARED_DATA ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/data');
export const hasSharedData = existsSync(sharedDataDir);

export function sharedFile(...parts: string[]): string {
  return path.join(sharedDataDir, ...parts);
}

if (!hasSharedData) {
  console.warn(`[skip] ${sharedDataDir} not found: integration tests over real ONS files are skipped`);
}
