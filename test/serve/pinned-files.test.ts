import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { LocalLogStore } from '../../src/delta/log-store.js';
import { vacuumTable } from '../../src/delta/vacuum.js';
import { writeDeltaTable } from '../../src/delta/write-table.js';
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

describe('pinned Delta versions', () => {
  const log = createLogger({ quiet: true });
  const commit = async (table: string, select: string): Promise<void> => {
    const staged = path.join(work, `.delta-run-${Date.now()}-${Math.random()}.parquet`);
    await writeParquetWithDuckDb(staged, select);
    await writeDeltaTable({ parquet: staged, store: new LocalLogStore(table), partitionBy: ['part'], mergeKey: undefined, txn: undefined, log });
  };
  const rowsOf = async (pinned: PinnedTable): Promise<Array<{ part: number; version: string; n: number }>> =>
    engine.withConnection(async (connection) => {
      const params: string[] = [];
      const from = pinned.from((value) => `$${params.push(value)}`);
      const rows = (await connection.runAndReadAll(`SELECT part, version, count(*)::INTEGER AS n FROM ${from} GROUP BY ALL ORDER BY ALL`, params)).getRowObjectsJson();
      return rows.map((row) => ({ part: Number(row.part), version: String(row.version), n: Number(row.n) }));
    });

  it('a commit replacing a partition, and a vacuum deleting the old file, after pinning: the query reads the pinned version whole; a new pin the new one', async () => {
    const table = path.join(work, 'delta-table');
    await commit(table, "SELECT i, i % 3 AS part, 'v0' AS version FROM range(300) t(i)");
    const location: DatasetLocation = { source: 'demo', name: 'delta_table', kind: 'delta', path: table };
    const pinned = await pinFiles(location);
    try {
      expect(pinned.delta?.version).toBe(0);
      // Version 1 replaces partition 1 only; vacuum then deletes the file version 0 read for it.
      await commit(table, "SELECT i, 1::BIGINT AS part, 'v1' AS version FROM range(7) t(i)");
      const vacuumed = await vacuumTable(new LocalLogStore(table), 0, { dryRun: false, now: Date.now() + 1000 });
      expect(vacuumed.deleted.length).toBe(1);
      expect(await rowsOf(pinned)).toEqual([0, 1, 2].map((part) => ({ part, version: 'v0', n: 100 })));
    } finally {
      await pinned.release();
    }
    const again = await pinFiles(location);
    try {
      expect(again.delta?.version).toBe(1);
      expect(again.files.map((file) => path.relative(table, path.dirname(file)))).toEqual(['part=0', 'part=1', 'part=2']);
      expect(await rowsOf(again)).toEqual([{ part: 0, version: 'v0', n: 100 }, { part: 1, version: 'v1', n: 7 }, { part: 2, version: 'v0', n: 100 }]);
    } finally {
      await again.release();
    }
  });
});
