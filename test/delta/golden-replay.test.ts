import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeDeltaPath } from '../../src/delta/actions.js';
import { LocalLogStore } from '../../src/delta/log-store.js';
import { readSnapshot, type Snapshot } from '../../src/delta/replay.js';
import { readParquet } from '../helpers/parquet.js';

/** Tables written by Spark for delta-io/delta's own tests (see test/fixtures/delta/golden/README.md). */
const golden = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/delta/golden');
const table = (name: string) => new LocalLogStore(path.join(golden, name));

/** Rows of a snapshot read through its file list with hyparquet, partition values added from the log. */
async function rowsOf(root: string, snapshot: Snapshot): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = [];
  for (const add of snapshot.files.values()) {
    const { rows: fileRows } = await readParquet(path.join(root, decodeDeltaPath(add.path)));
    for (const row of fileRows) rows.push({ ...row, ...add.partitionValues });
  }
  return rows;
}

const sortedIds = (rows: Array<Record<string, unknown>>) => rows.map((row) => Number(row.id)).sort((a, b) => a - b);

describe('log replay against delta-io/delta golden tables', () => {
  it('checkpoint: starts from the version-10 parquet checkpoint and replays 11-14 (one live file, "15")', async () => {
    const snapshot = (await readSnapshot(table('checkpoint')))!;
    expect(snapshot.version).toBe(14);
    expect(snapshot.checkpoint).toBe(10);
    expect([...snapshot.files.keys()]).toEqual(['15']);
    expect(snapshot.history.map((entry) => entry.version)).toEqual([11, 12, 13, 14]);
  });

  it('checkpoint: time travel before the checkpoint replays JSON commits only', async () => {
    const snapshot = (await readSnapshot(table('checkpoint'), { version: 3 }))!;
    expect(snapshot.checkpoint).toBeUndefined();
    expect([...snapshot.files.keys()]).toEqual(['4']);
    const atTen = (await readSnapshot(table('checkpoint'), { version: 10 }))!;
    expect(atTen.checkpoint).toBe(10);
    expect([...atTen.files.keys()]).toEqual(['11']);
  });

  it('basic-with-inserts-deletes-checkpoint: appends and deletes across a checkpoint give the expected ids', async () => {
    const root = path.join(golden, 'basic-with-inserts-deletes-checkpoint');
    const snapshot = (await readSnapshot(table('basic-with-inserts-deletes-checkpoint')))!;
    expect(snapshot.version).toBe(13);
    const expected = [...range(0, 5), ...range(10, 15), ...range(20, 25), ...range(30, 35), ...range(40, 45), ...range(50, 66)];
    expect(sortedIds(await rowsOf(root, snapshot))).toEqual(expected);
    // Version 4: the five appends, before any delete.
    expect(sortedIds(await rowsOf(root, (await readSnapshot(table('basic-with-inserts-deletes-checkpoint'), { version: 4 }))!))).toEqual(range(0, 50));
  });

  it('snapshot-data2-deleted: an overwrite and a delete remove files (rows data-0/1/2 gone, data-3 kept)', async () => {
    const root = path.join(golden, 'snapshot-data2-deleted');
    const snapshot = (await readSnapshot(table('snapshot-data2-deleted')))!;
    expect(snapshot.version).toBe(4);
    const rows = await rowsOf(root, snapshot);
    expect(rows.map((row) => String(row.col2)).sort()).toEqual(range(0, 20).map((x) => `data-3-${x}`).sort());
    const v2 = await rowsOf(root, (await readSnapshot(table('snapshot-data2-deleted'), { version: 2 }))!);
    expect(v2.map((row) => String(row.col2)).sort()).toEqual(range(0, 10).map((x) => `data-2-${x}`).sort());
  });

  it('data-reader-escaped-chars: partition values with % and + read back from URL-encoded paths', async () => {
    const root = path.join(golden, 'data-reader-escaped-chars');
    const snapshot = (await readSnapshot(table('data-reader-escaped-chars')))!;
    const rows = await rowsOf(root, snapshot);
    expect(rows.map((row) => [row._1, row._2]).sort()).toEqual([['foo1', 'bar+%21'], ['foo2', 'bar+%22'], ['foo3', 'bar+%23']]);
  });

  it('time-travel-partition-changes-b: the partition column and schema change between versions', async () => {
    const root = path.join(golden, 'time-travel-partition-changes-b');
    const v0 = (await readSnapshot(table('time-travel-partition-changes-b'), { version: 0 }))!;
    expect(v0.metaData.partitionColumns).toEqual(['part5']);
    const v0rows = await rowsOf(root, v0);
    expect(v0rows.map((row) => [Number(row.id), Number(row.part5)]).sort((a, b) => a[0]! - b[0]!)).toEqual(range(0, 10).map((id) => [id, id % 5]));
    const v1 = (await readSnapshot(table('time-travel-partition-changes-b')))!;
    expect(v1.version).toBe(1);
    expect(v1.metaData.partitionColumns).toEqual(['part2']);
    const v1rows = await rowsOf(root, v1);
    expect(v1rows.map((row) => [Number(row.id), Number(row.part2)]).sort((a, b) => a[0]! - b[0]!)).toEqual(range(10, 20).map((id) => [id, id % 2]));
  });

  it('a version past the latest, and a folder without a log, are told apart', async () => {
    await expect(readSnapshot(table('checkpoint'), { version: 15 })).rejects.toThrow(/versions up to 14; there is no version 15/);
    expect(await readSnapshot(new LocalLogStore(path.join(golden, 'no-such-table')))).toBeUndefined();
  });

  it('a commit line that is not JSON is a data error naming the file and line', async () => {
    const copy = await mkdtemp(path.join(tmpdir(), 'etl-delta-golden-'));
    try {
      await cp(path.join(golden, 'snapshot-data2-deleted'), copy, { recursive: true });
      await writeFile(path.join(copy, '_delta_log', '00000000000000000003.json'), '{"add":{"path":"x"}}\n{"remove": tru');
      await expect(readSnapshot(new LocalLogStore(copy))).rejects.toMatchObject({ exitCode: 4, message: expect.stringMatching(/00000000000000000003\.json line 2 is not valid JSON/) });
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
