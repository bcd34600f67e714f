import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parquetMetadataAsync } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import type { Column, Row, Table } from '../../../src/core/table.js';
import { writeParquet } from '../../../src/transform/parquet/write-parquet.js';
import { readParquet } from '../../helpers/parquet.js';

/** Parts left out before any row group is written, the row cap across batches, int32 bounds, and file handles. */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-parquet-parts-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

/** Parts handed over as the given arrays of rows; a part with `fails` throws a DataError after its arrays. */
function table(columns: Column[], parts: Array<{ name: string; batches: Row[][]; fails?: boolean }>): Table {
  return {
    schema: { name: 'parts', columns },
    parts: (async function* () {
      for (const spec of parts) {
        const batches = async function* () {
          yield* spec.batches;
          if (spec.fails) throw new DataError(`${spec.name} is bad`);
        };
        yield { name: spec.name, rows: (async function* () {})(), batches: batches() };
      }
    })(),
  };
}

async function groupSizes(file: string): Promise<number[]> {
  const bytes = await readFile(file);
  const meta = await parquetMetadataAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  return meta.row_groups.map((group) => Number(group.num_rows));
}

const COLUMNS: Column[] = [
  { name: 'n', type: 'int32', nullable: true },
  { name: 'v', type: 'int64', nullable: true },
  { name: 'text', type: 'string', nullable: true },
];

describe('the parquet writer, parts and bounds', () => {
  it('leaves out a part that failed before any row group was written: none of its values or nulls stay behind', async () => {
    const file = path.join(dir, 'early.parquet');
    const summary = await writeParquet(
      table(COLUMNS, [
        { name: 'a', batches: [[{ n: 1, v: 10, text: 'a1' }, { n: 2, v: 20, text: 'a2' }]] },
        { name: 'b', batches: [[{ n: null, v: null, text: null }, { n: 99, v: null, text: 'b' }, { n: null, v: 98, text: null }]], fails: true },
        { name: 'c', batches: [[{ n: 3, v: 30, text: 'c3' }, { n: 4, v: 40, text: 'c4' }, { n: 5, v: 50, text: 'c5' }]] },
      ]),
      file,
      { skipBadParts: true },
    );
    expect(summary.rows).toBe(5);
    expect((await readParquet(file)).rows).toEqual([
      { n: 1, v: 10n, text: 'a1' },
      { n: 2, v: 20n, text: 'a2' },
      { n: 3, v: 30n, text: 'c3' },
      { n: 4, v: 40n, text: 'c4' },
      { n: 5, v: 50n, text: 'c5' },
    ]);
  });

  it('holds a row group to 122,880 rows when a big batch arrives after a few rows', async () => {
    const columns: Column[] = [{ name: 'n', type: 'int32', nullable: false }];
    const file = path.join(dir, 'cap.parquet');
    await writeParquet(table(columns, [{ name: 'one', batches: [range(0, 10).map((n) => ({ n })), range(10, 122_890).map((n) => ({ n }))] }]), file);
    expect(await groupSizes(file)).toEqual([122_880, 10]);
  });

  it('takes int32 values at both ends of the range', async () => {
    const columns: Column[] = [{ name: 'n', type: 'int32', nullable: false }];
    const file = path.join(dir, 'int32.parquet');
    const rows = [{ n: 2_147_483_647 }, { n: -2_147_483_648 }, { n: 0 }];
    await writeParquet(table(columns, [{ name: 'one', batches: [rows] }]), file);
    expect((await readParquet(file)).rows).toEqual(rows);
  });

  it('closes its file whether the write succeeds or fails', async () => {
    const open = async () => (await readdir('/proc/self/fd')).length;
    const before = await open();
    for (let k = 0; k < 5; k++) {
      await writeParquet(table(COLUMNS, [{ name: 'a', batches: [[{ n: 1, v: 1, text: 'x' }]] }]), path.join(dir, `ok-${k}.parquet`));
      await expect(writeParquet(table(COLUMNS, [{ name: 'a', batches: [[{ n: 1, v: 1, text: 'x' }]], fails: true }]), path.join(dir, `bad-${k}.parquet`))).rejects.toThrow('a is bad');
    }
    expect(await open()).toBe(before);
  });
});
