import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parquetMetadataAsync } from 'hyparquet';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Column } from '../../../src/core/table.js';
import { MAX_ROW_GROUP_ROWS, ParquetFileWriter, type ColumnValues } from '../../../src/transform/parquet/parquet-file.js';
import { readParquet } from '../../helpers/parquet.js';

/** ParquetFileWriter.appendColumns (rows already in column arrays, as the Postgres binary COPY reader gives them), read back by hyparquet. */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-parquet-columns-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const COLUMNS: Column[] = [
  { name: 'n', type: 'int64', nullable: true },
  { name: 'day', type: 'date', nullable: true },
  { name: 'x', type: 'double', nullable: true },
  { name: 'ok', type: 'boolean', nullable: true },
  { name: 'at', type: 'timestamp', nullable: true },
  { name: 's', type: 'string', nullable: true },
];

/** Rows from..to as a batch; `nullEvery`: every such row NULL in every column (0: none, and no nulls arrays). */
function batch(from: number, to: number, nullEvery: number, wide = false): { rows: number; columns: ColumnValues[] } {
  const rows = to - from;
  const isNull = (i: number): boolean => nullEvery > 0 && (from + i) % nullEvery === 0;
  const nulls = nullEvery > 0 ? Uint8Array.from({ length: rows }, (_, i) => (isNull(i) ? 1 : 0)) : null;
  const ints = wide ? BigInt64Array.from({ length: rows }, (_, i) => BigInt(from + i) + 2n ** 60n) : Float64Array.from({ length: rows }, (_, i) => from + i);
  return {
    rows,
    columns: [
      { strings: [], numbers: ints, nulls, length: rows },
      { strings: [], numbers: Int32Array.from({ length: rows }, (_, i) => (from + i) % 1000), nulls, length: rows },
      { strings: [], numbers: Float64Array.from({ length: rows }, (_, i) => (from + i) / 4), nulls, length: rows },
      { strings: [], numbers: Uint8Array.from({ length: rows }, (_, i) => (from + i) % 2), nulls, length: rows },
      { strings: [], numbers: Float64Array.from({ length: rows }, (_, i) => (from + i) * 1_000_000), nulls, length: rows },
      { strings: Array.from({ length: rows }, (_, i) => (isNull(i) ? null : `s${(from + i) % 77}`)), numbers: new Uint8Array(0), nulls: null, length: rows },
    ],
  };
}

function expectedRow(i: number, nullEvery: number, wide = false): Record<string, unknown> {
  if (nullEvery > 0 && i % nullEvery === 0) return { n: null, day: null, x: null, ok: null, at: null, s: null };
  return { n: wide ? BigInt(i) + 2n ** 60n : BigInt(i), day: new Date((i % 1000) * 86_400_000), x: i / 4, ok: i % 2 === 1, at: new Date(i * 1000), s: `s${i % 77}` };
}

it('batches with and without NULLs, across a row group boundary, land as the rows they hold', async () => {
  const file = path.join(dir, 'boundary.parquet');
  const writer = await ParquetFileWriter.create(file, COLUMNS, { gzipLevel: 1 });
  // 100,000 rows with NULLs, then 50,000 without (the boundary at 122,880 falls inside), then 10 with again.
  await writer.appendColumns(batch(0, 100_000, 7));
  await writer.appendColumns(batch(100_000, 150_000, 0));
  await writer.appendColumns(batch(150_000, 150_010, 3));
  await writer.finish();
  const bytes = await readFile(file);
  const metadata = await parquetMetadataAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  expect(metadata.row_groups.map((group) => Number(group.num_rows))).toEqual([MAX_ROW_GROUP_ROWS, 150_010 - MAX_ROW_GROUP_ROWS]);
  const { rows } = await readParquet(file);
  expect(rows).toHaveLength(150_010);
  const nullEveryOf = (i: number): number => (i < 100_000 ? 7 : i < 150_000 ? 0 : 3);
  rows.forEach((row, i) => {
    const expected = expectedRow(i, nullEveryOf(i));
    if (JSON.stringify(row, bigints) !== JSON.stringify(expected, bigints)) throw new Error(`row ${i}: ${JSON.stringify(row, bigints)}, expected ${JSON.stringify(expected, bigints)}`);
  });
});

it('a batch of bigints (past 2^53) and one of doubles in the same row group keep their values', async () => {
  const file = path.join(dir, 'wide.parquet');
  const writer = await ParquetFileWriter.create(file, COLUMNS);
  await writer.appendColumns(batch(0, 5, 0));
  await writer.appendColumns(batch(5, 10, 0, true));
  await writer.appendColumns(batch(10, 15, 0));
  await writer.finish();
  const { rows } = await readParquet(file);
  expect(rows.map((row) => row.n)).toEqual([...Array.from({ length: 5 }, (_, i) => BigInt(i)), ...Array.from({ length: 5 }, (_, i) => BigInt(5 + i) + 2n ** 60n), ...Array.from({ length: 5 }, (_, i) => BigInt(10 + i))]);
});

it('rows past the 8 MB budget of plain bytes start the next row group, each row whole', async () => {
  const file = path.join(dir, 'budget.parquet');
  const writer = await ParquetFileWriter.create(file, [{ name: 's', type: 'string', nullable: true }]);
  const texts = ['a', 'b', 'c', 'd', 'e'].map((letter) => letter.repeat(3 * 1024 * 1024));
  await writer.appendColumns({ rows: 5, columns: [{ strings: texts, numbers: new Uint8Array(0), nulls: null, length: 5 }] });
  await writer.finish();
  const bytes = await readFile(file);
  const metadata = await parquetMetadataAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  expect(metadata.row_groups.map((group) => Number(group.num_rows))).toEqual([2, 2, 1]);
  expect((await readParquet(file)).rows.map((row) => row.s)).toEqual(texts);
});

it('rows appended after a part was left out do not inherit its NULLs', async () => {
  const file = path.join(dir, 'rollback.parquet');
  const writer = await ParquetFileWriter.create(file, COLUMNS);
  await writer.appendColumns(batch(0, 10, 0));
  writer.beginPart();
  await writer.appendColumns(batch(10, 20, 2));
  await writer.rollbackPart();
  await writer.appendColumns(batch(10, 20, 0));
  await writer.finish();
  const { rows } = await readParquet(file);
  expect(JSON.stringify(rows, bigints)).toBe(JSON.stringify(Array.from({ length: 20 }, (_, i) => expectedRow(i, 0)), bigints));
});

function bigints(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `${value}n` : value instanceof Date ? value.toISOString() : value;
}
