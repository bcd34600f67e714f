import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readParquet } from '../helpers/parquet.js';
import { runCli } from '../helpers/run-cli.js';
import { hasSharedData, sharedFile } from '../helpers/shared-data.js';

/**
 * What a VM gets: the packed tarball installed into an empty project, as `npm install <tarball>` does on a machine
 * without the checkout. dist/ is the build `npm test` has just made (pretest), so the pack skips the prepack
 * build here instead of paying for it twice; the test checks that prepack builds.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const manifest = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string; scripts: Record<string, string> };
const run = promisify(execFile);

/** npm's own variables from the `npm test` that started vitest must not steer the nested npm. */
const npmEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));

let work: string;
let project: string;
let packed: string[];
let installedBin: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-package-'));
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: repoRoot, env: npmEnv });
  const [pack] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packed = pack!.files.map((file) => file.path);
  project = path.join(work, 'vm');
  await run('mkdir', [project]);
  await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'vm', private: true }));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(work, pack!.filename)], { cwd: project, env: npmEnv });
  installedBin = path.join(project, 'node_modules', '.bin', 'etl');
}, 180_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe(`the npm package ${manifest.name}`, () => {
  it('holds the built code and the bin, and no sources, tests, source maps or build info; prepack builds it', () => {
    expect(packed).toEqual(expect.arrayContaining(['bin/etl.js', 'dist/bundle.js', 'package.json', 'README.md', 'CHANGELOG.md', 'LICENSE']));
    // dist/ is the bundle and its chunks only: the build empties it first, so nothing an older build left ships.
    expect(packed.filter((file) => file.startsWith('dist/') && !/^dist\/bundle(-[A-Z0-9]+)?\.js$/.test(file))).toEqual([]);
    expect(packed.filter((file) => /^(src|test|bench|\.ci)\//.test(file) || file.endsWith('.map') || file.endsWith('.ts'))).toEqual([]);
    // Type-checked before it is packed (the build itself only transpiles).
    expect(manifest.scripts.prepack).toBe('npm run typecheck && npm run build');
  });

  it('installed into an empty project, runs as `etl` and prints its version', async () => {
    const { stdout } = await run(installedBin, ['--version'], { cwd: project });
    expect(stdout.trim()).toBe(manifest.version);
    // The installed copy, not this checkout.
    expect(await readdir(path.join(project, 'node_modules', manifest.name, 'dist'))).toContain('bundle.js');
  });

  it.skipIf(!hasSharedData)('transforms a real workbook through the installed bin, as the checkout does', async () => {
    const dir = sharedFile('ons-monthly');
    const workbook = path.join(dir, (await readdir(dir)).filter((name) => /\.xlsx?$/.test(name)).sort()[0]!);
    const installed = await run(installedBin, ['transform', 'ons', '--input', workbook, '--out', 'deaths.parquet'], { cwd: project });
    expect(installed.stdout).toMatch(/^transform: \d+ rows from 1 file -> /);
    const checkoutOut = path.join(work, 'checkout.parquet');
    expect((await runCli(['transform', 'ons', '--input', workbook, '--out', checkoutOut])).code).toBe(0);
    const [fromPackage, fromCheckout] = await Promise.all([readParquet(path.join(project, 'deaths.parquet')), readParquet(checkoutOut)]);
    expect(fromPackage.rows.length).toBeGreaterThan(0);
    expect(fromPackage).toEqual(fromCheckout);
  });
});
