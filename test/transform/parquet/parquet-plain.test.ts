import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Column } from '../../../src/core/table.js';
import { NULL_STRING, PlainParquetWriter, REPEATED_STRING, type ColumnBatch } from '../../../src/transform/parquet/parquet-plain.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-plain-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const COLUMNS: Column[] = [
  { name: 'n', type: 'int32', nullable: false },
  { name: 'day', type: 'date', nullable: true },
  { name: 'text', type: 'string', nullable: true },
  { name: 'big', type: 'int64', nullable: true },
  { name: 'x', type: 'double', nullable: false },
  { name: 'flag', type: 'boolean', nullable: true },
  { name: 'at', type: 'timestamp', nullable: true },
  { name: 'signed', type: 'int64', nullable: false },
];

/** Row i of the test table; every column but n and x is null where i % 5 === 3. */
function batch(first: number, rows: number): ColumnBatch {
  const nulls = Uint8Array.from({ length: rows }, (_, i) => ((first + i) % 5 === 3 ? 1 : 0));
  const words = ['héllo', 'héllo', '漢字😀', 'never', 'b'];
  let text = '';
  const lengths = new Int32Array(rows);
  let previous: string | null = null;
  for (let i = 0; i < rows; i++) {
    const value = nulls[i] ? null : words[(first + i) % 5]!;
    if (value === null) lengths[i] = NULL_STRING;
    else if (value === previous) lengths[i] = REPEATED_STRING;
    else {
      lengths[i] = value.length;
      text += value;
    }
    previous = value;
  }
  return {
    rows,
    columns: [
      { type: 'int32', values: Int32Array.from({ length: rows }, (_, i) => first + i), nulls: null },
      { type: 'date', values: Int32Array.from({ length: rows }, (_, i) => 19000 + ((first + i) % 400)), nulls },
      { type: 'string', text, lengths },
      { type: 'int64', values: BigInt64Array.from({ length: rows }, (_, i) => 2n ** 60n - BigInt(first + i)), nulls },
      { type: 'double', values: Float64Array.from({ length: rows }, (_, i) => (first + i) / 8), nulls: null },
      { type: 'boolean', values: Uint8Array.from({ length: rows }, (_, i) => (first + i) % 2), nulls },
      { type: 'timestamp', values: Float64Array.from({ length: rows }, (_, i) => (first + i) * 1_000_000), nulls },
      // int64 as whole doubles, as writeParquet sends them while they fit: beyond 32 bits, both signs.
      { type: 'int64', values: Float64Array.from({ length: rows }, (_, i) => (first + i) * 3_000_000_007 * ((first + i) % 2 ? -1 : 1)), nulls: null },
    ],
  };
}

function expectedRow(i: number): Record<string, unknown> {
  const isNull = i % 5 === 3;
  return {
    n: i,
    day: isNull ? null : new Date(Date.UTC(1970, 0, 1) + (19000 + (i % 400)) * 86_400_000),
    text: isNull ? null : ['héllo', 'héllo', '漢字😀', 'never', 'b'][i % 5],
    big: isNull ? null : 2n ** 60n - BigInt(i),
    x: i / 8,
    flag: isNull ? null : i % 2 === 1,
    at: isNull ? null : new Date(i * 1000),
    signed: BigInt(i * 3_000_000_007 * (i % 2 ? -1 : 1)),
  };
}

describe('PlainParquetWriter', () => {
  it('writes batches that an independent reader reads back exactly, one row group per batch', async () => {
    const file = path.join(dir, 'plain.parquet');
    const writer = new PlainParquetWriter(file, COLUMNS);
    const rows = 70_000;
    for (let first = 0; first < rows; first += 2048) writer.add(batch(first, Math.min(2048, rows - first)));
    writer.close();

    const bytes = await readFile(file);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const metadata = await parquetMetadataAsync(buffer);
    expect(metadata.row_groups.map((g) => Number(g.num_rows))).toEqual([...Array<number>(34).fill(2048), 70_000 - 34 * 2048]);
    expect(metadata.schema.slice(1).map((s) => [s.name, s.type, s.repetition_type, s.converted_type])).toEqual([
      ['n', 'INT32', 'REQUIRED', undefined],
      ['day', 'INT32', 'OPTIONAL', 'DATE'],
      ['text', 'BYTE_ARRAY', 'OPTIONAL', 'UTF8'],
      ['big', 'INT64', 'OPTIONAL', undefined],
      ['x', 'DOUBLE', 'REQUIRED', undefined],
      ['flag', 'BOOLEAN', 'OPTIONAL', undefined],
      ['at', 'INT64', 'OPTIONAL', 'TIMESTAMP_MICROS'],
      ['signed', 'INT64', 'REQUIRED', undefined],
    ]);
    const read = (await parquetReadObjects({ file: buffer })) as Array<Record<string, unknown>>;
    expect(read).toHaveLength(rows);
    for (const i of [0, 1, 2, 3, 4, 5, 2047, 2048, 65_535, 65_536, 69_999]) expect(read[i]).toEqual(expectedRow(i));
    expect(read.every((row, i) => row.n === i)).toBe(true);
  });

  it('writes a valid file with no rows', async () => {
    const file = path.join(dir, 'empty.parquet');
    new PlainParquetWriter(file, COLUMNS).close();
    const bytes = await readFile(file);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    expect(Number((await parquetMetadataAsync(buffer)).num_rows)).toBe(0);
  });
});
