import { createRequire } from 'node:module';

// Read at run time so the version printed is the one installed (dist/ and src/ are both one level down).
const manifest = createRequire(import.meta.url)('../package.json') as { version: string };
export const VERSION: string = manifest.version;
