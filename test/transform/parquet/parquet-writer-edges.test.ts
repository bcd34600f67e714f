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
  it('keeps a dictionary past 921 distinct values when the first 1,024 values held fewer: text, whole numbers far apart and close together', async () => {
    const columns: Column[] = [
      { name: 'text', type: 'string', nullable: false },
      { name: 'far', type: 'int64', nullable: false },
      { name: 'close', type: 'int32', nullable: false },
    ];
    // The first 1,024 values cycle through 900; then 100 more appear: 1,000 distinct in 2,400 rows (at most 1,200).
    const value = (i: number) => (i < 1024 ? i % 900 : i < 1124 ? i - 124 : i % 1000);
    const rows = range(0, 2400).map((i) => ({ text: `v${value(i)}`, far: value(i) * 2 ** 40, close: value(i) - 400 }));
    const file = path.join(dir, 'probe-passed.parquet');
    await writeParquet(table(columns, [{ name: 'one', rows, batch: 2400 }]), file);
    expect((await readParquet(file)).rows).toEqual(rows.map((r) => ({ ...r, far: BigInt(r.far) })));
    const bytes = await readFile(file);
    const meta = await parquetMetadataAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    expect(meta.row_groups[0]!.columns.map((chunk) => [chunk.meta_data!.encodings, chunk.meta_data!.statistics!.distinct_count])).toEqual(new Array(3).fill([['PLAIN_DICTIONARY', 'RLE'], 1000n]));
  });

  it('flags only a long text\'s bounds as inexact: numbers, dates, booleans and short texts are exact; a boolean column ending in true still has min false', async () => {
    const columns: Column[] = [
      { name: 'n', type: 'int32', nullable: true },
      { name: 'spread', type: 'int64', nullable: true },
      { name: 'x', type: 'double', nullable: true },
      { name: 'flag', type: 'boolean', nullable: true },
      { name: 'day', type: 'date', nullable: true },
      { name: 'text', type: 'string', nullable: true },
    ];
    const rows = range(0, 40).map((i) => ({ n: i % 3, spread: i * 1_000_003, x: i / 3, flag: i === 0 ? null : i % 7 === 3 ? false : true, day: new Date(Date.UTC(2020, 0, 1 + (i % 4))), text: `t${i % 5}` }));
    const file = path.join(dir, 'exact.parquet');
    await writeParquet(table(columns, [{ name: 'one', rows, batch: 40 }]), file);
    const bytes = await readFile(file);
    const meta = await parquetMetadataAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    const stats = meta.row_groups[0]!.columns.map((chunk) => chunk.meta_data!.statistics!);
    expect(stats.map((s) => [s.is_min_value_exact, s.is_max_value_exact])).toEqual(new Array(6).fill([undefined, undefined]));
    expect(stats[3]).toMatchObject({ min_value: false, max_value: true, null_count: 1n });
    expect(stats[1]).toMatchObject({ min_value: 0n, max_value: 39n * 1_000_003n });
  });

  it('orders text statistics as UTF-8 bytes, dictionary or PLAIN: a character past U+FFFF is above one from U+E000, unlike JavaScript\'s < (ASCII texts take that quicker way)', async () => {
    const columns: Column[] = [
      { name: 'few', type: 'string', nullable: false },
      { name: 'many', type: 'string', nullable: false },
      { name: 'ascii', type: 'string', nullable: false },
    ];
    // 40 rows: `few` repeats 4 texts (a dictionary), `many` has 40 distinct ones (PLAIN).
    const few = ['b', '\ue000', '\u{1f600}', 'a'];
    const rows = range(0, 40).map((i) => ({ few: few[i % 4]!, many: i === 7 ? '\u{1f600}' : i === 9 ? '\ue000' : `m${String(i).padStart(2, '0')}`, ascii: `z${39 - i}` }));
    const file = path.join(dir, 'utf8-order.parquet');
    await writeParquet(table(columns, [{ name: 'one', rows, batch: 40 }]), file);
    const bytes = await readFile(file);
    const meta = await parquetMetadataAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    const chunks = meta.row_groups[0]!.columns.map((chunk) => chunk.meta_data!);
    expect(chunks.map((chunk) => chunk.encodings)).toEqual([['PLAIN_DICTIONARY', 'RLE'], ['PLAIN', 'RLE'], ['PLAIN', 'RLE']]);
    expect(chunks.map((chunk) => [chunk.statistics!.min_value, chunk.statistics!.max_value])).toEqual([
      ['a', '\u{1f600}'],
      ['m00', '\u{1f600}'],
      ['z0', 'z9'],
    ]);
  });

  it('gives a smaller row group after a bigger one the statistics of its own texts only', async () => {
    const columns: Column[] = [
      { name: 'id', type: 'string', nullable: false },
      { name: 'pad', type: 'string', nullable: false },
    ];
    // About 256 KB a row: 32 rows a group. 52 rows: groups of 32 and 20, each id distinct (PLAIN past 16 in 20 rows).
    const pad = 'p'.repeat(256 * 1024);
    const rows = range(0, 52).map((i) => ({ id: `id-${String(51 - i).padStart(2, '0')}`, pad: `${i}${pad}` }));
    const file = path.join(dir, 'stale.parquet');
    await writeParquet(table(columns, [{ name: 'one', rows, batch: 64 }]), file);
    const bytes = await readFile(file);
    const meta = await parquetMetadataAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    const sizes = meta.row_groups.map((group) => Number(group.num_rows));
    expect(sizes).toHaveLength(2);
    expect(sizes[0]).toBeGreaterThan(sizes[1]!);
    const second = meta.row_groups[1]!.columns[0]!.meta_data!;
    expect(second.encodings).toEqual(['PLAIN', 'RLE']);
    // Rows sizes[0]..51 hold ids 51 - i: from 51 - sizes[0] down to 00.
    expect(second.statistics).toMatchObject({ min_value: 'id-00', max_value: `id-${String(51 - sizes[0]!).padStart(2, '0')}` });
    expect((await readParquet(file)).rows.map((r) => r.id)).toEqual(rows.map((r) => r.id));
  });
});
