// The build: src/ bundled by esbuild into dist/bundle.js and its chunks, which bin/etl.js runs. Type checking is
// `npm run typecheck` (tsc --noEmit over src, test and bench), which CI and prepack run; emitting takes esbuild ~1 s
// where tsc took ~16 s, and the tests already run src/ through esbuild (vitest).
// Why bundled: Node 20 loads ES modules one by one through libuv's thread pool (open, stat, read, close each);
// `etl transform ons` loaded 185 of them (95 of zod's), a fixed cost that weighed on every run
// (docs/performance-history.md, issue 22 fifth round). Bundled it loads about 50.
// Chunks are split at each dynamic import, so a command still loads only what it runs (`etl --help` stays small).
// Only etl and zod are bundled: the other dependencies load lazily (DuckDB, cloud SDKs) or are CommonJS (commander),
// which Node reads synchronously.
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const { dependencies } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const bundled = new Set(['zod']);

// Chunk names change with their content: the last build's would pile up.
rmSync(dist, { recursive: true, force: true });

await build({
  entryPoints: { bundle: path.join(root, 'src', 'cli.ts') },
  // Chunks sit in dist/, one level below the package root as src/ is: version.ts finds ../package.json from either.
  outdir: dist,
  chunkNames: 'bundle-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  tsconfig: path.join(root, 'tsconfig.json'),
  external: Object.keys(dependencies).filter((name) => !bundled.has(name)),
  logLevel: 'warning',
});
