import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { findSource } from '../../src/sources/index.js';
import { createSourceIO, defaultOutput, describeTransform, extractStep, loadStep, transformStep, withRawLock } from '../../src/run/steps.js';
import type { SourceParams } from '../../src/run/source-adapter.js';
import { PACKAGE_NAME, VERSION } from '../../src/version.js';
import { peoplePage } from '../fixtures/random-person/people.js';
import { json, startApiServer, type ApiServer } from '../helpers/api-server.js';
import { readParquet } from '../helpers/parquet.js';

/** src/run/steps.ts in-process: each step alone, as `etl extract`, `etl transform` and `etl load` call it. */
let work: string;
let api: ApiServer;
let counter = 0;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-steps-'));
  api = await startApiServer((request) => {
    if (!request.path.startsWith('/api/?')) return json(404, { error: 'not found' });
    const q = request.url.searchParams;
    return { status: 200, body: peoplePage({ results: Number(q.get('results')), seed: q.get('seed')!, page: Number(q.get('page')) }) };
  });
});
afterAll(async () => {
  await api?.close();
  await rm(work, { recursive: true, force: true });
});

function logger() {
  const lines: string[] = [];
  const stream = { write: (line: string) => (lines.push(line.replace(/\n$/, '')), true) } as unknown as NodeJS.WritableStream;
  return { log: createLogger({ stream, interactive: false, debug: true }), lines };
}
const params = (dataDir: string, flags: Record<string, unknown> = {}): SourceParams => ({
  source: 'random-person',
  dataset: 'people',
  dataDir,
  baseUrl: api.url,
  concurrency: 1,
  rateLimit: 0,
  flags: { count: 3, seed: 'steps', ...flags },
});
const http = { timeoutSeconds: 5, retries: 0 };
const newDir = () => path.join(work, `data-${++counter}`);

describe('extractStep and createSourceIO', () => {
  it('fetches with etl\'s own User-Agent, into the raw layer', async () => {
    const dataDir = newDir();
    const report = await extractStep(params(dataDir), http, logger().log);
    expect(report.files.map((f) => [f.file, f.status])).toEqual([['page-00001.json', 'downloaded']]);
    expect(api.requests.at(-1)!.headers['user-agent']).toBe(`${PACKAGE_NAME}/${VERSION} (+https://www.npmjs.com/package/${PACKAGE_NAME})`);
  });

  it('a source that cannot be reached: the hint names the source\'s URL flag and its offline way', async () => {
    const dataDir = newDir();
    // .invalid never resolves (RFC 6761): a DNS failure, whose hint speaks of the host name.
    const url = 'http://etl-test.invalid';
    const error = (await extractStep({ ...params(dataDir), baseUrl: url }, http, logger().log).catch((e: unknown) => e)) as Error & { hint?: string };
    expect(error.hint).toBe(`check the network (DNS, proxy, offline?) and the host name in --base-url; ${findSource('random-person').offline!}`);
    // Without a source (etl load, transform), no such hint.
    const io = createSourceIO({ timeoutSeconds: 1, retries: 0, downloadTimeoutSeconds: 1 }, logger().log);
    const bare = (await io.http.getText(`${url}/x`).catch((e: unknown) => e)) as Error & { hint?: string };
    await io.http.close();
    expect(bare.hint).toBe('check the network (DNS, proxy, offline?) and the host name in --url');
  });
});

describe('extractStep: --download-timeout', () => {
  it('a download slower than --download-timeout is given up, naming the limit', async () => {
    const dataDir = newDir();
    api.queue('/api/', { status: 200, body: peoplePage({ results: 3, seed: 'steps', page: 1 }), delayMs: 3000 });
    const error = (await extractStep(params(dataDir), { ...http, downloadTimeoutSeconds: 0.2 }, logger().log).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/download-timeout|0\.2 s/);
  });
});

describe('withRawLock', () => {
  it('holds raw.<source>.<dataset>.lock while the work runs, and releases it after, also when the work fails', async () => {
    const dataDir = newDir();
    const lock = path.join(dataDir, 'locks', 'raw.random-person.people.lock');
    const during = await withRawLock(params(dataDir), logger().log, async () => JSON.parse(await readFile(lock, 'utf8')));
    expect(during).toMatchObject({ pid: process.pid, run_id: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(await readdir(path.join(dataDir, 'locks'))).toEqual([]);
    await expect(withRawLock(params(dataDir), logger().log, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await readdir(path.join(dataDir, 'locks'))).toEqual([]);
    // A postgres table has a lock of its own.
    const table = await withRawLock({ ...params(dataDir), source: 'postgres', dataset: 'table', flags: { table: 'public.orders' } }, logger().log, async () => readdir(path.join(dataDir, 'locks')));
    expect(table).toEqual(['raw.postgres.table.public.orders.lock']);
  });
});

describe('defaultOutput', () => {
  it('processed/<source>/<dataset>.parquet, a folder when partitioned, an instance\'s own name; names checked', () => {
    expect(defaultOutput('/d', 'ons', 'monthly-deaths')).toBe(path.join('/d', 'processed', 'ons', 'monthly-deaths.parquet'));
    expect(defaultOutput('/d', 'ons', 'monthly-deaths', true)).toBe(path.join('/d', 'processed', 'ons', 'monthly-deaths'));
    expect(defaultOutput('/d', 'postgres', 'table', false, 'public.orders')).toBe(path.join('/d', 'processed', 'postgres', 'public.orders.parquet'));
    expect(defaultOutput('/d', 'postgres', 'table', true, 'public.orders')).toBe(path.join('/d', 'processed', 'postgres', 'public.orders'));
    expect(() => defaultOutput('/d', '../ons', 'x')).toThrow(/source/);
    expect(() => defaultOutput('/d', 'ons', 'a/b')).toThrow(/dataset/);
  });
});

describe('transformStep', () => {
  it('writes the parquet, records it for etl load, logs its progress; leftovers of a dead run beside it are swept', async () => {
    const dataDir = newDir();
    await extractStep(params(dataDir), http, logger().log);
    const out = path.join(dataDir, 'processed', 'random-person', 'people.parquet');
    await mkdir(path.dirname(out), { recursive: true });
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    await writeFile(path.join(path.dirname(out), `.etl-tmp-${dead}-a1b2c3d4e5f6-people.parquet`), 'cut');
    const { log, lines } = logger();
    const before = Date.now();
    const result = await transformStep(params(dataDir), { skipBad: false }, log);
    expect(result.summary).toMatchObject({ rows: 3, path: out, skipped: [] });
    expect(result.partitions).toBeUndefined();
    const bytes = await readFile(out);
    expect(result.files).toEqual([{ path: out, sha256: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: bytes.length, rows: 3 }]);
    expect(await readdir(path.dirname(out))).toEqual(['people.parquet']);
    expect(lines).toContain(`removed 1 temp file(s) an interrupted run left beside ${out}`);
    expect(lines).toContain(`debug: people: writing ${out}`);
    expect(lines).toContain('debug: people: 3 rows from 1 file');
    const record = JSON.parse(await readFile(path.join(dataDir, 'state', 'last-transform.json'), 'utf8'));
    expect(record).toEqual({ source: 'random-person', dataset: 'people', output: out, files: [{ path: out, sha256: result.files[0]!.sha256, bytes: bytes.length }], written_at: expect.any(String) });
    expect(Date.parse(record.written_at)).toBeGreaterThanOrEqual(before - 1);
    // Nothing to sweep: nothing said about it.
    const again = logger();
    await transformStep(params(dataDir), { skipBad: false }, again.log);
    expect(again.lines.filter((line) => line.includes('temp file'))).toEqual([]);
  });

  it('--out: written there (relative to the working folder), recorded as absolute', async () => {
    const dataDir = newDir();
    await extractStep(params(dataDir), http, logger().log);
    const target = path.join(work, `out-${counter}`, 'p.parquet');
    const result = await transformStep(params(dataDir), { skipBad: false, out: path.relative(process.cwd(), target) }, logger().log);
    expect(result.files[0]!.path).toBe(target);
    expect((await readParquet(target)).rows).toHaveLength(3);
  });

  it('a raw file that cannot be read: nothing written, the failure logged; with skipBad the part is skipped, named in a warning', async () => {
    const dataDir = newDir();
    await extractStep(params(dataDir), http, logger().log);
    const raw = path.join(dataDir, 'raw', 'random-person', 'people', 'page-00001.json');
    await writeFile(raw, (await readFile(raw, 'utf8')).replace('"results":[', '"results":[7,'));
    const { log, lines } = logger();
    await expect(transformStep(params(dataDir), { skipBad: false }, log)).rejects.toThrow(/page-00001\.json/);
    expect(lines).toContain('debug: people: nothing written');
    expect(lines.filter((line) => line.startsWith('warn:'))).toEqual([]);
    const out = path.join(dataDir, 'processed', 'random-person', 'people.parquet');
    await expect(readFile(out)).rejects.toThrow(/ENOENT/);
    // Its only part skipped, the transform has nothing to write: refused, the part named.
    const skipping = logger();
    await expect(transformStep(params(dataDir), { skipBad: true }, skipping.log)).rejects.toThrow(/every input was skipped/);
    expect(skipping.lines.filter((line) => line.startsWith('warn:'))).toEqual([expect.stringMatching(/^warn: skipped raw\/random-person\/people\/page-00001\.json: .*manifest\.json: files\[0\]\.path "page-00001\.json" is \d+ bytes, the record says \d+$/)]);
  });
});

describe('loadStep and describeTransform', () => {
  it('uploads the recorded files under their names, or under <folder>/<relative path> with the manifest last', async () => {
    const dir = path.join(work, `load-${++counter}`);
    await mkdir(path.join(dir, 'parted', 'year=2019'), { recursive: true });
    const single = path.join(dir, 'one.parquet');
    await writeFile(single, 'one');
    const lake = path.join(dir, 'lake');
    const record = async (file: string) => ({ path: file, sha256: (await import('node:crypto')).createHash('sha256').update(await readFile(file)).digest('hex'), bytes: (await readFile(file)).length });
    const load = { bucket: lake, keyTemplate: '{name}', sink: { endpoint: undefined, region: undefined }, concurrency: 1, dryRun: false, force: false };
    const one = await loadStep([await record(single)], load, logger().log);
    expect(one.files.map((f) => [f.key, f.action])).toEqual([['one.parquet', 'uploaded']]);

    const part = path.join(dir, 'parted', 'year=2019', 'part-0.parquet');
    const manifest = path.join(dir, 'parted', '_manifest.json');
    await writeFile(part, 'p');
    await writeFile(manifest, '{}');
    const parted = await loadStep([await record(manifest), await record(part)], { ...load, keyTemplate: 'v1/{name}' }, logger().log, path.join(dir, 'parted'));
    expect(parted.files.map((f) => f.key)).toEqual(['parted/v1/year=2019/part-0.parquet', 'parted/v1/_manifest.json']);
    expect(await readFile(path.join(lake, 'parted', 'v1', 'year=2019', 'part-0.parquet'), 'utf8')).toBe('p');
    // A shard's manifest is its own, and goes last.
    const shardManifest = path.join(dir, 'parted', '_manifest.shard-1-of-2.json');
    await writeFile(shardManifest, '{}');
    const sharded = await loadStep([await record(shardManifest), await record(part)], load, logger().log, path.join(dir, 'parted'), { index: 1, count: 2 });
    expect(sharded.files.map((f) => f.key).at(-1)).toBe('parted/_manifest.shard-1-of-2.json');
  });

  it('describeTransform: rows, files, and the parts skipped', () => {
    expect(describeTransform({ rows: 1, parts: [{ name: 'a', rows: 1 }], skipped: [], path: '/o.parquet' } as never)).toBe('transform: 1 row from 1 file -> /o.parquet');
    expect(describeTransform({ rows: 5, parts: [{ name: 'a' }, { name: 'b' }], skipped: [{ name: 'c' }, { name: 'd' }], path: '/o.parquet' } as never)).toBe('transform: 5 rows from 2 files, 2 skipped (c, d) -> /o.parquet');
  });
});
