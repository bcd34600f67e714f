import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetLocation } from '../../src/serve/catalog.js';
import { openEngine, type Engine } from '../../src/serve/engine.js';
import { pinFiles, type PinnedTable } from '../../src/serve/pinned-files.js';
import { partitionParquet } from '../../src/transform/parquet/partition-parquet.js';
import { writeParquetWithDuckDb } from '../helpers/serve.js';

/**
 * What a query reads while a run replaces its files, in-process against the real pinning code and DuckDB: the
 * moment between pinning and reading is held open here, which no request from outside can do reliably.
 */
let work: string;
let engine: Engine;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-pin-'));
  engine = await openEngine({ queryTimeoutMs: 30_000, maxConcurrent: 2, maxWaiting: 4 });
});

afterAll(async () => {
  engine.close();
  await rm(work, { recursive: true, force: true });
});

async function versions(pinned: PinnedTable): Promise<string[]> {
  return engine.withConnection(async (connection) => {
    const params: string[] = [];
    const from = pinned.from((value) => `$${params.push(value)}`);
    const rows = (await connection.runAndReadAll(`SELECT DISTINCT version FROM ${from} ORDER BY 1`, params)).getRowObjectsJson();
    return rows.map((row) => String(row.version));
  });
}

describe('pinned files', () => {
  it('a file renamed over after pinning: the pinned query still reads the old rows, a new pin the new', async () => {
    const file = path.join(work, 'one.parquet');
    await writeParquetWithDuckDb(file, "SELECT i, 'old' AS version FROM range(1000) t(i)");
    const location: DatasetLocation = { source: 'demo', name: 'one', kind: 'file', path: file };
    const pinned = await pinFiles(location);
    try {
      const replacement = path.join(work, '.etl-tmp-one.parquet');
      await writeParquetWithDuckDb(replacement, "SELECT i, 'new' AS version, 1 AS extra FROM range(10) t(i)");
      await rename(replacement, file);
      expect(await versions(pinned)).toEqual(['old']);
    } finally {
      await pinned.release();
    }
    const again = await pinFiles(location);
    expect(await versions(again)).toEqual(['new']);
    await again.release();
  });

  it('a partitioned folder mid-rewrite (a new partition file in place, the old manifest still there) is not read; once the manifest is written it is', async () => {
    const whole = path.join(work, 'whole.parquet');
    const dir = path.join(work, 'parted');
    await writeParquetWithDuckDb(whole, "SELECT i, i % 3 AS part, 'old' AS version FROM range(300) t(i)");
    await partitionParquet(whole, 'part', dir);
    const location: DatasetLocation = { source: 'demo', name: 'parted', kind: 'partitioned', path: dir };
    const before = await pinFiles(location);
    expect(await versions(before)).toEqual(['old']);
    await before.release();

    // What partition-parquet.ts does part-way: one partition's new file renamed in, the manifest not yet rewritten.
    const staged = path.join(work, 'staged');
    await writeParquetWithDuckDb(path.join(work, 'new.parquet'), "SELECT i, i % 3 AS part, 'new' AS version FROM range(300) t(i)");
    await partitionParquet(path.join(work, 'new.parquet'), 'part', staged);
    const oldManifest = await readFile(path.join(dir, '_manifest.json'), 'utf8');
    await rename(path.join(staged, 'part=1', 'part-0.parquet'), path.join(dir, 'part=1', 'part-0.parquet'));
    await expect(pinFiles(location)).rejects.toMatchObject({ status: 503, message: 'demo/parted is being rewritten by a run; try again shortly' });

    // The rest of the rewrite: the other partitions, then the manifest.
    for (const part of ['0', '2']) await rename(path.join(staged, `part=${part}`, 'part-0.parquet'), path.join(dir, `part=${part}`, 'part-0.parquet'));
    await writeFile(path.join(dir, '_manifest.json'), await readFile(path.join(staged, '_manifest.json')));
    expect(await readFile(path.join(dir, '_manifest.json'), 'utf8')).not.toBe(oldManifest);
    const pinned = await pinFiles(location);
    expect(await versions(pinned)).toEqual(['new']);
    await pinned.release();
  });

  it('a folder copied elsewhere (every mtime newer than its manifest) is still served: the files hash to the manifest', async () => {
    const dir = path.join(work, 'copied');
    await mkdir(dir);
    await partitionParquet(path.join(work, 'whole.parquet'), 'part', dir);
    // Touching every file makes it newer than the manifest, as `cp` without -p does.
    const now = new Date(Date.now() + 60_000);
    const { utimes } = await import('node:fs/promises');
    for (const part of ['0', '1', '2']) await utimes(path.join(dir, `part=${part}`, 'part-0.parquet'), now, now);
    const pinned = await pinFiles({ source: 'demo', name: 'copied', kind: 'partitioned', path: dir });
    expect(await versions(pinned)).toEqual(['old']);
    await pinned.release();
  });
});
