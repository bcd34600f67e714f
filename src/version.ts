import { createRequire } from 'node:module';

// Read at run time so the version printed is the one installed (dist/ and src/ are both one level down).
const manifest = createRequire(import.meta.url)('../package.json') as { name: string; version: string };
export const VERSION: string = manifest.version;
/** The npm package (the command is `etl`; the npm name `etl` belongs to another project). */
export const PACKAGE_NAME: string = manifest.name;
