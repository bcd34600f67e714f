import { createRequire } from 'node:module';
import path from 'node:path';

// Read at run time so the version printed is the one installed (src/ and the bundle in dist/ are both one level down).
const require = createRequire(import.meta.url);
const manifestFile = require.resolve('../package.json');
const manifest = require(manifestFile) as { name: string; version: string };
/** Where the package is installed: bin/ is found from here, whichever module (or bundle chunk) asks. */
export const PACKAGE_ROOT: string = path.dirname(manifestFile);
export const VERSION: string = manifest.version;
/** The npm package (the command is `etl`; the npm name `etl` belongs to another project). */
export const PACKAGE_NAME: string = manifest.name;
