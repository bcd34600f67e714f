import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parquetMetadataAsync } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import type { Column, Row, Table } from '../../../src/core/table.js';
import { writeParquet } from '../../../src/transform/parquet/write-parquet.js';
import { readParquet } from '../../helpers/parquet.js';

/** Row-group edges of the parquet writer that the first mutation run of src/transform/parquet showed untested. */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-parquet-edges-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

/** Parts handed over as arrays of `batch` rows; a part with `failAt` throws a DataError before the batch holding that row. */
function table(columns: Column[], parts: Array<{ name: string; rows: Row[]; batch: number; failAt?: number }>): Table {
  return {
    schema: { name: 'edges', columns },
    parts: (async function* () {
      for (const spec of parts) {
        const batches = async function* () {
          for (let k = 0; k < spec.rows.length; k += spec.batch) {
            if (spec.failAt !== undefined && k + spec.batch > spec.failAt) throw new DataError(`${spec.name} is bad`);
            yield spec.rows.slice(k, k + spec.batch);
          }
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

describe('the parquet writer at row-group edges', () => {
  it('writes exactly 122,880 rows as one row group, with no empty one after it', async () => {
    const columns: Column[] = [{ name: 'flag', type: 'boolean', nullable: false }];
    const file = path.join(dir, 'exact.parquet');
    await writeParquet(table(columns, [{ name: 'one', rows: range(0, 122_880).map((i) => ({ flag: i % 5 === 0 })), batch: 50_000 }]), file);
    expect(await groupSizes(file)).toEqual([122_880]);
  });

  it('leaves out a part that failed after several row groups were written during it, bringing back the earlier part\'s rows', async () => {
    const columns: Column[] = [
      { name: 'n', type: 'int32', nullable: false },
      { name: 'text', type: 'string', nullable: false },
    ];
    // About 1 MB a row: 7 rows a group.
    const filler = 'x'.repeat(1024 * 1024);
    const rowsOf = (from: number, to: number): Row[] => range(from, to).map((n) => ({ n, text: `${n}:${filler}` }));
    const skipped = path.join(dir, 'skipped.parquet');
    await writeParquet(
      table(columns, [
        { name: 'a', rows: rowsOf(0, 3), batch: 3 },
        { name: 'fails after three groups', rows: rowsOf(100, 130), batch: 4, failAt: 26 },
        { name: 'b', rows: rowsOf(200, 206), batch: 2 },
      ]),
      skipped,
      { skipBadParts: true },
    );
    const without = path.join(dir, 'without.parquet');
    await writeParquet(table(columns, [{ name: 'a', rows: rowsOf(0, 3), batch: 3 }, { name: 'b', rows: rowsOf(200, 206), batch: 2 }]), without);
    expect(await groupSizes(skipped)).toEqual(await groupSizes(without));
    expect((await readParquet(skipped)).rows.map((r) => r.n)).toEqual([...range(0, 3), ...range(200, 206)]);
  });
  it('gives up a dictionary of small whole numbers too once the first 1,024 values hold more than 921 distinct ones', async () => {
    const columns: Column[] = [
      { name: 'small', type: 'int32', nullable: true },
      { name: 'day', type: 'date', nullable: true },
    ];
    async function distinctCounts(distinct: number): Promise<Array<bigint | undefined>> {
      const file = path.join(dir, `small-${distinct}.parquet`);
      // Values within a few thousand of each other: the writer's table-by-value dictionary, not its Map.
      const rows = range(0, 2400).map((i) => (i % 25 === 24 ? { small: null, day: null } : { small: -500 + (i % distinct), day: new Date(Date.UTC(2000, 0, 1 + (i % distinct))) }));
      await writeParquet(table(columns, [{ name: 'one', rows, batch: 2400 }]), file);
      expect((await readParquet(file)).rows).toEqual(rows);
      const bytes = await readFile(file);
      const meta = await parquetMetadataAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
      return meta.row_groups[0]!.columns.map((chunk) => chunk.meta_data!.statistics!.distinct_count);
    }
    expect(await distinctCounts(921)).toEqual([921n, 921n]);
    expect(await distinctCounts(960)).toEqual([undefined, undefined]);
  });
});
