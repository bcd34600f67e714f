import { createHash } from 'node:crypto';
import { readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { peoplePage } from '../fixtures/random-person/people.js';
import { json } from '../helpers/api-server.js';
import { useApiTestbed } from '../helpers/api-testbed.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';

/**
 * Files under the data dir are records etl wrote, not instructions: a hand-edited or corrupt
 * state/last-transform.json or raw manifest must not make `etl load` upload a file from elsewhere, make
 * `extract` delete one, or make `transform` read one. Each is refused (exit 4) with one line naming the
 * record and the field, or, for a delete, left alone with a warning. The first refusal of each command, extract's
 * warning and the upload run the built CLI; the setup runs and the other refusals go through the CLI's `main` in this
 * process (test/helpers/cli-in-process.ts).
 */
const bed = useApiTestbed('hostile-state', (request) => {
  if (!request.path.startsWith('/api/')) return json(404, { error: 'not found' });
  const q = request.url.searchParams;
  return { status: 200, body: peoplePage({ results: Number(q.get('results')), seed: q.get('seed')!, page: Number(q.get('page')) }) };
});

const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');
const rawDir = () => path.join(bed.dataDir, 'raw', 'random-person', 'people');
const manifestFile = () => path.join(rawDir(), 'manifest.json');
const extractArgs = (seed: string) => ['extract', 'random-person', 'people', '--base-url', bed.server.url, '--data-dir', bed.dataDir, '--rate-limit', '0', '--count', '6', '--seed', seed];
const extract = (seed = 'hostile') => runCliInProcess(extractArgs(seed));
const transformArgs = (extra: string[]) => ['transform', 'random-person', 'people', '--data-dir', bed.dataDir, ...extra];
const transform = (...extra: string[]) => runCliInProcess(transformArgs(extra));
const load = (lake: string, how: 'in-process' | 'process' = 'in-process') => (how === 'process' ? runCli : runCliInProcess)(['load', '--bucket', lake, '--data-dir', bed.dataDir]);
const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8'));

/** A file outside the data dir that no command may read, upload or delete. */
async function outsideFile(name: string): Promise<{ file: string; body: string }> {
  const body = `SECRET-CONTENT-${name}\nroot:x:0:0:root:/root:/bin/bash\n`;
  const file = path.join(bed.work, `${path.basename(bed.dataDir)}-${name}`);
  await writeFile(file, body);
  return { file, body };
}

function expectRefusal(result: CliResult, message: RegExp): void {
  expect(result.code, result.stderr).toBe(4);
  expect(result.stderr).toMatch(/^etl: data error: /);
  expect(result.stderr.trim().split('\n'), result.stderr).toHaveLength(1);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toContain('SECRET-CONTENT');
  expect(result.stderr).not.toContain('root:x');
}

describe('etl load with no paths uploads what the transform recorded, and nothing else', () => {
  it('the recorded files, byte for byte, the partition manifest last; a file dropped into the output folder is not sent', async () => {
    expect((await extract()).code).toBe(0);
    const transformed = await transform('--partition-by', 'gender');
    expect(transformed.code, transformed.stderr).toBe(0);
    const output = path.join(bed.dataDir, 'processed', 'random-person', 'people');
    await writeFile(path.join(output, 'planted.parquet'), 'not written by a transform');
    const lake = path.join(bed.dataDir, 'lake');
    const loaded = await runCli(['--json', 'load', '--bucket', lake, '--data-dir', bed.dataDir]);
    expect(loaded.code, loaded.stderr).toBe(0);
    const record = await readJson(path.join(bed.dataDir, 'state', 'last-transform.json'));
    const uploaded = JSON.parse(loaded.stdout).files.map((f: { path: string }) => f.path);
    expect(uploaded.at(-1)).toBe(path.join(output, '_manifest.json'));
    expect([...uploaded].sort()).toEqual(record.files.map((f: { path: string }) => f.path).sort());
    expect((await readdir(lake, { recursive: true })).filter((name) => name.endsWith('.parquet') || name.endsWith('.json')).sort()).toEqual(
      record.files.map((f: { path: string }) => path.relative(output, f.path)).sort(),
    );
    for (const file of record.files) expect(await readFile(path.join(lake, path.relative(output, file.path)))).toEqual(await readFile(file.path));
  });

  it('a record naming /etc/passwd, /proc/self/environ, /, a symlink out, a file outside its output, or changed bytes is refused before anything is sent', async () => {
    expect((await extract()).code).toBe(0);
    expect((await transform()).code).toBe(0);
    const recordFile = path.join(bed.dataDir, 'state', 'last-transform.json');
    const good = await readJson(recordFile);
    const parquet = good.output as string;
    const { file: outside, body } = await outsideFile('passwd');
    const outsideEntry = { path: outside, sha256: sha256(body), bytes: Buffer.byteLength(body) };
    await symlink(outside, path.join(bed.dataDir, 'processed', 'innocent.parquet'));
    const lake = path.join(bed.dataDir, 'lake');

    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['/etc/passwd', { ...good, output: '/etc/passwd', files: [{ path: '/etc/passwd', sha256: sha256(await readFile('/etc/passwd')), bytes: (await stat('/etc/passwd')).size }] }, /last-transform\.json: output "\/etc\/passwd" lies outside /],
      ['/proc/self/environ', { ...good, output: '/proc/self/environ', files: [{ ...outsideEntry, path: '/proc/self/environ' }] }, /last-transform\.json: output "\/proc\/self\/environ" lies outside /],
      ['/', { ...good, output: '/', files: [outsideEntry] }, /last-transform\.json: output "\/" lies outside /],
      ['an outside file listed under a good output', { ...good, files: [outsideEntry] }, /last-transform\.json: files\[0\]\.path ".*-passwd" lies outside /],
      ['a symlink in the data dir to an outside file', { ...good, output: path.join(bed.dataDir, 'processed', 'innocent.parquet'), files: [{ ...outsideEntry, path: path.join(bed.dataDir, 'processed', 'innocent.parquet') }] }, /output ".*innocent\.parquet" lies outside .* \(it resolves to ".*-passwd"\)/],
      ['a damaged record', 'not json' as unknown as Record<string, unknown>, /last-transform\.json is damaged: not JSON/],
    ];
    for (const [index, [name, record, message]] of cases.entries()) {
      await writeFile(recordFile, typeof record === 'string' ? record : JSON.stringify(record));
      const result = await load(lake, index === 0 ? 'process' : 'in-process');
      expectRefusal(result, message);
      expect(await readdir(lake).catch(() => []), name).toEqual([]);
    }

    // The record is right but the file changed since (same size): not uploaded either.
    await writeFile(recordFile, JSON.stringify(good));
    const bytes = await readFile(parquet);
    bytes[100] = bytes[100]! ^ 0xff;
    await writeFile(parquet, bytes);
    expectRefusal(await load(lake), /last-transform\.json: files\[0\]\.path ".*people\.parquet" does not hold the recorded bytes \(sha256 [0-9a-f]{12}…, the record says [0-9a-f]{12}…\)/);
    expect(await readdir(lake).catch(() => [])).toEqual([]);
    expect(await readFile(outside, 'utf8')).toBe(body);
  });
});

describe('a raw manifest entry never leads extract or transform outside the raw folder', () => {
  it('extract replacing its files deletes none outside: not through ../, an absolute path or a symlinked folder; it warns and carries on', async () => {
    expect((await extract()).code).toBe(0);
    const victims = await Promise.all(['a', 'b', 'c'].map(outsideFile));
    await symlink(bed.work, path.join(rawDir(), 'up'));
    const manifest = await readJson(manifestFile());
    const entry = manifest.files[0];
    manifest.files.push(
      { ...entry, key: 'x1', path: path.relative(rawDir(), victims[0]!.file).split(path.sep).join('/') },
      { ...entry, key: 'x2', path: victims[1]!.file },
      { ...entry, key: 'x3', path: `up/${path.basename(victims[2]!.file)}` },
    );
    await writeFile(manifestFile(), JSON.stringify(manifest));
    const again = await runCli(extractArgs('again'));
    expect(again.code, again.stderr).toBe(0);
    for (const victim of victims) expect(await readFile(victim.file, 'utf8')).toBe(victim.body);
    expect(again.stderr.split('\n').filter((line) => line.includes('not removed'))).toHaveLength(3);
    expect((await readJson(manifestFile())).files.map((f: { path: string }) => f.path)).toEqual(['page-00001.json']);
  });

  it('transform refuses an entry leading outside (../ or a symlink) and never prints the outside bytes; the previous output stays', async () => {
    expect((await extract()).code).toBe(0);
    const out = path.join(bed.dataDir, 'people.parquet');
    expect((await transform('--out', out)).code).toBe(0);
    const before = await readFile(out);
    const { file, body } = await outsideFile('environ');
    const manifest = await readJson(manifestFile());
    const good = manifest.files[0];
    const hostile = { ...good, path: path.relative(rawDir(), file).split(path.sep).join('/'), bytes: Buffer.byteLength(body), sha256: sha256(body) };

    await writeFile(manifestFile(), JSON.stringify({ ...manifest, files: [hostile] }));
    expectRefusal(await runCli(transformArgs(['--out', out])), /manifest\.json: files\[0\]\.path "\.\.\/.*-environ" is not a relative path inside the raw folder \(run `etl extract` for this dataset again/);

    await symlink(file, path.join(rawDir(), 'page-00009.json'));
    await writeFile(manifestFile(), JSON.stringify({ ...manifest, files: [good, { ...hostile, path: 'page-00009.json' }] }));
    expectRefusal(await transform('--out', out), /manifest\.json: files\[1\]\.path "page-00009\.json" lies outside .* \(it resolves to ".*-environ"\)/);
    expect(await readFile(out)).toEqual(before);
  });

  it('transform checks each raw file against its manifest as it reads it: a page changed since extract (same size) is refused, naming it', async () => {
    expect((await extract()).code).toBe(0);
    const page = path.join(rawDir(), 'page-00001.json');
    const text = await readFile(page, 'utf8');
    // Same size, other people: what a second extraction writing under a transform would leave.
    await writeFile(page, text.replace(/"first":"([^"]*)"/, (_, first: string) => `"first":"${first.split('').reverse().join('')}"`));
    expect(await readFile(page, 'utf8')).not.toBe(text);
    expectRefusal(await transform(), /manifest\.json: files\[0\]\.path "page-00001\.json" does not hold the recorded bytes/);
    await rm(path.join(bed.dataDir, 'processed'), { recursive: true, force: true });
    expect(await readdir(bed.dataDir)).not.toContain('processed');
  });
});
