import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { decodeDeltaPath } from '../../src/delta/actions.js';
import { LocalLogStore } from '../../src/delta/log-store.js';
import { readSnapshot } from '../../src/delta/replay.js';
import { parseRetention, vacuumTable } from '../../src/delta/vacuum.js';
import { writeDeltaTable } from '../../src/delta/write-table.js';
import { parquetFrom } from './helpers.js';

const log = createLogger({ quiet: true });
let dir: string;
let store: LocalLogStore;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-delta-vacuum-'));
  store = new LocalLogStore(path.join(dir, 'table'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

let n = 0;
const write = async (sql: string) => writeDeltaTable({ parquet: await parquetFrom(sql, path.join(dir, `b${n++}.parquet`)), store, partitionBy: ['edition'], mergeKey: undefined, txn: undefined, log });
const filesOf = async (version: number) => [...(await readSnapshot(store, { version }))!.files.values()].map((add) => decodeDeltaPath(add.path));
const dataFiles = async () => (await store.list('')).map((file) => file.path).filter((file) => !file.startsWith('_delta_log/')).sort();

describe('etl vacuum', () => {
  it('keeps every file a version inside the retention reads; deletes what only older versions read, and orphans', async () => {
    await write(`SELECT * FROM (VALUES ('2019', 1), ('2020', 2)) AS t(edition, v)`);
    const v0 = await filesOf(0);
    const betweenCommits = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await write(`SELECT * FROM (VALUES ('2019', 10)) AS t(edition, v)`);
    const v1 = await filesOf(1);
    await writeFile(path.join(dir, 'table', 'edition=2019', 'part-orphan.parquet'), 'left by a killed run');
    await writeFile(path.join(dir, 'table', 'edition=2019', '.part-x.parquet.crc'), 'a hidden file Spark keeps beside its data');

    // The window reaches back past version 1's commit: version 0 was current at the cutoff, so all its files stay;
    // the orphan was written after the cutoff, so it stays too (it could be a commit in flight).
    const hourAhead = Date.now() + 3_600_000;
    const keepBoth = await vacuumTable(store, hourAhead - betweenCommits, { dryRun: false, now: hourAhead });
    expect(keepBoth.oldestKept).toBe(0);
    expect(keepBoth.deleted).toEqual([]);
    expect(keepBoth.keptYoung).toBe(1);
    expect(await dataFiles()).toEqual([...new Set([...v0, ...v1, 'edition=2019/part-orphan.parquet', 'edition=2019/.part-x.parquet.crc'])].sort());

    // Window after both commits: only version 1 must stay readable; version 0's replaced 2019 file goes.
    const keepLatest = await vacuumTable(store, parseRetention('30m'), { dryRun: true, now: hourAhead });
    expect(keepLatest.oldestKept).toBe(1);
    const replaced = v0.filter((file) => !v1.includes(file));
    expect(keepLatest.deleted.sort()).toEqual([...replaced, 'edition=2019/part-orphan.parquet'].sort());
    expect(await dataFiles()).toEqual([...new Set([...v0, ...v1, 'edition=2019/part-orphan.parquet', 'edition=2019/.part-x.parquet.crc'])].sort()); // dry run: nothing deleted
    await vacuumTable(store, parseRetention('30m'), { dryRun: false, now: hourAhead });
    expect(await dataFiles()).toEqual([...v1, 'edition=2019/.part-x.parquet.crc'].sort());
    for (const file of v1) expect(await store.read(file)).not.toBeNull();
  });

  it('never deletes a file younger than the retention, referenced or not (a writer may be about to commit it)', async () => {
    await write(`SELECT * FROM (VALUES ('2019', 1)) AS t(edition, v)`);
    await writeFile(path.join(dir, 'table', 'edition=2019', 'part-in-flight.parquet'), 'uploaded, commit not yet written');
    const result = await vacuumTable(store, parseRetention('7d'), { dryRun: false });
    expect(result.deleted).toEqual([]);
    expect(result.keptYoung).toBe(1);
  });

  it('--retain takes 7d, 12h, 30m, 0s and refuses anything else', () => {
    expect(parseRetention('7d')).toBe(7 * 86_400_000);
    expect(parseRetention('0s')).toBe(0);
    expect(() => parseRetention('7 days')).toThrow(/--retain 7 days: expected a number and a unit/);
  });
});
