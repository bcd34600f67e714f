import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { cacheFile, cachedOutputsProblem, fileRecord, readCacheState, whatChanged, writeCacheState, type Fingerprint } from '../../src/run/cache.js';

/** src/run/cache.ts in-process: what counts as a change, and when a recorded output may be reused. */
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-cache-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function logger() {
  const lines: string[] = [];
  const stream = { write: (line: string) => (lines.push(line.replace(/\n$/, '')), true) } as unknown as NodeJS.WritableStream;
  return { log: createLogger({ stream, interactive: false }), lines };
}

const base: Fingerprint = {
  inputs: { '/raw/a.xls': 'a1', '/raw/b.xls': 'b1' },
  declaration: 'built-in',
  params: { dataset: 'monthly-deaths', source_flags: { from: 2015, url: 'https://example.org/page' }, skip_bad: false },
  etl_version: '1.2.0',
};
const withParams = (params: Record<string, unknown>): Fingerprint => ({ ...base, params: { ...base.params, ...params } });
const withFlags = (flags: Record<string, unknown>): Fingerprint => withParams({ source_flags: flags });

describe('whatChanged: the first difference, in words', () => {
  it('nothing changed: null; no earlier run; the etl version; the declaration', () => {
    expect(whatChanged(base, structuredClone(base))).toBeNull();
    expect(whatChanged(undefined, base)).toBe('no earlier successful run');
    expect(whatChanged({ ...base, etl_version: '1.1.0' }, base)).toBe('etl version 1.1.0 -> 1.2.0');
    expect(whatChanged({ ...base, declaration: 'abc' }, base)).toBe('dataset declaration changed');
    // The version is named before the declaration, the declaration before a parameter, a parameter before an input.
    expect(whatChanged({ ...base, etl_version: '1.1.0', declaration: 'abc' }, withParams({ skip_bad: true }))).toBe('etl version 1.1.0 -> 1.2.0');
    expect(whatChanged({ ...base, declaration: 'abc', inputs: {} }, withParams({ skip_bad: true }))).toBe('dataset declaration changed');
    expect(whatChanged({ ...base, inputs: {} }, withParams({ skip_bad: true }))).toBe('parameter skip_bad false -> true');
  });

  it('a source flag: named as typed on the command line (--drop-unpublished), with its values; added or removed shows (none)', () => {
    expect(whatChanged(withFlags({ from: 2015 }), withFlags({ from: 2019 }))).toBe('--from 2015 -> 2019');
    expect(whatChanged(withFlags({}), withFlags({ from: 2019 }))).toBe('--from (none) -> 2019');
    expect(whatChanged(withFlags({ from: 2019 }), withFlags({}))).toBe('--from 2019 -> (none)');
    expect(whatChanged(withFlags({ dropUnpublished: true }), withFlags({ dropUnpublished: false }))).toBe('--drop-unpublished true -> false');
    expect(whatChanged(withFlags({ maxLinks: null }), withFlags({ maxLinks: 5 }))).toBe('--max-links (none) -> 5');
    expect(whatChanged(withFlags({ input: ['a.xls'] }), withFlags({ input: ['a.xls', 'b.xls'] }))).toBe('--input ["a.xls"] -> ["a.xls","b.xls"]');
    // The first flag that differs, in the order the flags are held.
    expect(whatChanged(withFlags({ from: 2015, to: 2020 }), withFlags({ from: 2016, to: 2021 }))).toBe('--from 2015 -> 2016');
    expect(whatChanged(withFlags({ from: 2015, to: 2020 }), withFlags({ from: 2015, to: 2021 }))).toBe('--to 2020 -> 2021');
  });

  it('source_flags that are not a mapping are compared as one parameter', () => {
    expect(whatChanged(withParams({ source_flags: ['a'] }), withParams({ source_flags: ['b'] }))).toBe('parameter source_flags ["a"] -> ["b"]');
    expect(whatChanged(withParams({ source_flags: null }), withParams({ source_flags: 'x' }))).toBe('parameter source_flags (none) -> x');
  });

  it('other parameters: named with both values; a secret in a value is redacted; a long value is cut at 80 characters', () => {
    expect(whatChanged(withParams({ bucket: 'gs://a' }), withParams({ bucket: 'gs://b' }))).toBe('parameter bucket gs://a -> gs://b');
    expect(whatChanged(withParams({}), withParams({ partition_by: 'edition' }))).toBe('parameter partition_by (none) -> edition');
    expect(whatChanged(withParams({ shard: { index: 0 } }), withParams({ shard: { index: 1 } }))).toBe('parameter shard {"index":0} -> {"index":1}');
    const secret = whatChanged(withParams({ url: 'https://user:hunter2@example.org/?token=s3cr3t' }), withParams({ url: 'https://example.org/' }))!;
    expect(secret).toMatch(/^parameter url https:\/\/\S+@example\.org\/\?token=\S+ -> https:\/\/example\.org\/$/);
    expect(secret).not.toMatch(/hunter2|s3cr3t/);
    const flagSecret = whatChanged(withFlags({ url: 'https://example.org/?token=s3cr3t' }), withFlags({ url: 'https://example.org/?token=other' }))!;
    expect(flagSecret).toMatch(/^--url https:\/\/example\.org\/\?token=/);
    expect(flagSecret).not.toMatch(/s3cr3t|other/);
    const long = 'x'.repeat(81);
    expect(whatChanged(withParams({ out: long }), withParams({ out: 'y'.repeat(80) }))).toBe(`parameter out ${'x'.repeat(77)}... -> ${'y'.repeat(80)}`);
  });

  it('inputs: one changed, several (the first three named), a new one, one removed', () => {
    expect(whatChanged(base, { ...base, inputs: { '/raw/a.xls': 'a2', '/raw/b.xls': 'b1' } })).toBe('input changed: /raw/a.xls');
    expect(whatChanged(base, { ...base, inputs: { '/raw/a.xls': 'a2', '/raw/b.xls': 'b2' } })).toBe('2 inputs changed: /raw/a.xls, /raw/b.xls');
    const four = { '/1': 'x', '/2': 'x', '/3': 'x', '/4': 'x' };
    expect(whatChanged({ ...base, inputs: {} }, { ...base, inputs: four })).toBe('4 inputs changed: /1, /2, /3, …');
    const three = { '/1': 'x', '/2': 'x', '/3': 'x' };
    expect(whatChanged({ ...base, inputs: {} }, { ...base, inputs: three })).toBe('3 inputs changed: /1, /2, /3');
    expect(whatChanged(base, { ...base, inputs: { ...base.inputs, '/raw/c.xls': 'c1' } })).toBe('input changed: /raw/c.xls');
    expect(whatChanged(base, { ...base, inputs: { '/raw/a.xls': 'a1' } })).toBe('input removed: /raw/b.xls');
    // A change is named before a removal.
    expect(whatChanged(base, { ...base, inputs: { '/raw/a.xls': 'a2' } })).toBe('input changed: /raw/a.xls');
  });
});

describe('the cache file', () => {
  it('lives in <data-dir>/state/<pipeline>.cache.json, written whole, read back; absent or damaged reads as empty', async () => {
    const dataDir = path.join(work, 'state-file');
    expect(cacheFile(dataDir, 'ons-monthly-deaths')).toBe(path.join(dataDir, 'state', 'ons-monthly-deaths.cache.json'));
    expect(await readCacheState(dataDir, 'ons-monthly-deaths')).toEqual({});
    const state = { transform: { fingerprint: base, outputs: [{ path: '/out.parquet', sha256: 'ab', bytes: 2 }] } };
    await writeCacheState(dataDir, 'ons-monthly-deaths', state);
    expect(await readFile(cacheFile(dataDir, 'ons-monthly-deaths'), 'utf8')).toBe(JSON.stringify(state, null, 2) + '\n');
    expect(await readCacheState(dataDir, 'ons-monthly-deaths')).toEqual(state);
    await writeFile(cacheFile(dataDir, 'ons-monthly-deaths'), '{"transform":');
    expect(await readCacheState(dataDir, 'ons-monthly-deaths')).toEqual({});
  });

  it('fileRecord: path, sha256, bytes, and rows when given', async () => {
    const file = path.join(work, 'record.txt');
    await writeFile(file, 'hello');
    const sha = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
    // No rows: no `rows` key at all (toStrictEqual tells an absent key from one set to undefined).
    expect(await fileRecord(file)).toStrictEqual({ path: file, sha256: sha, bytes: 5 });
    expect(await fileRecord(file, 0)).toEqual({ path: file, sha256: sha, bytes: 5, rows: 0 });
  });
});

describe('cachedOutputsProblem: a recorded output is reused only when it is this run\'s and holds the bytes recorded', () => {
  it('one file: the same bytes pass; other bytes of the same size, a removed file, another path fail', async () => {
    const dir = path.join(work, 'one');
    await mkdir(dir, { recursive: true });
    const out = path.join(dir, 'out.parquet');
    await writeFile(out, 'parquet bytes');
    const record = await fileRecord(out);
    const { log, lines } = logger();
    expect(await cachedOutputsProblem([record], out, false, 'cache.json', log)).toBeNull();
    await writeFile(out, 'PARQUET BYTES');
    expect(await cachedOutputsProblem([record], out, false, 'cache.json', log)).toBe('the output file was changed or removed since');
    expect(lines).toEqual([]);
    await rm(out);
    expect(await cachedOutputsProblem([record], out, false, 'cache.json', log)).toBe('the output file was changed or removed since');
    // A deleted output is ordinary: no warning that reads like tampering.
    expect(lines).toEqual([]);

    await writeFile(out, 'parquet bytes');
    const other = path.join(dir, 'other.parquet');
    await writeFile(other, 'parquet bytes');
    expect(await cachedOutputsProblem([{ ...record, path: other }], out, false, 'cache.json', log)).toBe('the output file was changed or removed since');
    expect(lines).toEqual([`warn: cache.json: transform.outputs[0].path ${JSON.stringify(other)} is not this run's output ${out}; not trusted, the transform runs again`]);
  });

  it('no outputs, or not a list: the cache lists no output; a path that is not text is not trusted', async () => {
    const { log, lines } = logger();
    expect(await cachedOutputsProblem([], '/x', false, 'c.json', log)).toBe('the cache lists no output');
    expect(await cachedOutputsProblem({} as never, '/x', false, 'c.json', log)).toBe('the cache lists no output');
    expect(await cachedOutputsProblem([{ path: 7 } as never], '/x', false, 'c.json', log)).toBe('the output file was changed or removed since');
    expect(await cachedOutputsProblem([null as never], '/x', true, 'c.json', log)).toBe('the output file was changed or removed since');
    expect(lines).toEqual(['warn: c.json: transform.outputs[0].path is not a path; not trusted, the transform runs again', 'warn: c.json: transform.outputs[0].path is not a path; not trusted, the transform runs again']);
  });

  it('partitioned: every file inside the output folder with its bytes; the second of two changed; a symlink out of the folder refused', async () => {
    const dir = path.join(work, 'parted');
    await mkdir(path.join(dir, 'year=2019'), { recursive: true });
    const files = [path.join(dir, 'year=2019', 'part-0.parquet'), path.join(dir, '_manifest.json')];
    await writeFile(files[0]!, 'p0');
    await writeFile(files[1]!, '{}');
    const records = await Promise.all(files.map((file) => fileRecord(file)));
    const { log, lines } = logger();
    expect(await cachedOutputsProblem(records, dir, true, 'c.json', log)).toBeNull();
    // Partitioned, the record's path is not the folder itself, and that is no problem.
    await writeFile(files[1]!, '[]');
    expect(await cachedOutputsProblem(records, dir, true, 'c.json', log)).toBe('the output file was changed or removed since');
    expect(lines).toEqual([]);

    const outside = path.join(work, 'outside.parquet');
    await writeFile(outside, 'p0');
    await symlink(outside, path.join(dir, 'year=2019', 'link.parquet'));
    const linked = [{ ...records[0]!, path: path.join(dir, 'year=2019', 'link.parquet') }];
    expect(await cachedOutputsProblem(linked, dir, true, 'c.json', log)).toBe('the output file was changed or removed since');
    expect(lines).toEqual([expect.stringMatching(/^warn: c\.json: transform\.outputs\[0\]\.path .*link\.parquet.* lies outside .*; not trusted, the transform runs again$/)]);
  });

  it('an error that is not about the data (a bug) is passed on, not taken for a changed file', async () => {
    const { log } = logger();
    const throwing = { get path(): string { throw new TypeError('boom'); } };
    await expect(cachedOutputsProblem([throwing as never], '/x', false, 'c.json', log)).rejects.toThrow('boom');
  });
});
