import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import type { Column, Row } from '../../../src/core/table.js';
import { describeParquet } from '../../../src/transform/parquet/inspect-parquet.js';
import { writeParquet } from '../../../src/transform/parquet/write-parquet.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-inspect-parquet-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const COLUMNS: Column[] = [
  { name: 'n', type: 'int32', nullable: false },
  { name: 'day', type: 'date', nullable: true },
  { name: 'text', type: 'string', nullable: true },
  { name: 'big', type: 'int64', nullable: true },
  { name: 'x', type: 'double', nullable: true },
  { name: 'flag', type: 'boolean', nullable: true },
  { name: 'at', type: 'timestamp', nullable: true },
];

describe('describeParquet', () => {
  it('gives each column DuckDB\'s type and the parquet types it was read from (no "null" for a column without a logical type), the row count and the first rows', async () => {
    const file = path.join(dir, 'all.parquet');
    const rows: Row[] = Array.from({ length: 7 }, (_, i) => ({ n: i, day: new Date(Date.UTC(2024, 0, 1 + i)), text: i === 1 ? null : `t${i}`, big: 2n ** 60n + BigInt(i), x: i / 2, flag: i % 2 === 0, at: new Date(Date.UTC(2024, 0, 1, i)) }));
    await writeParquet({ schema: { name: 't', columns: COLUMNS }, parts: (async function* () { yield { name: 'p', rows: (async function* () { yield* rows; })() }; })() }, file);
    const description = await describeParquet(file, 2.7);
    expect(description.rows).toBe(7);
    expect(description.columns).toEqual([
      { name: 'n', type: 'INTEGER', parquet: 'INT32 INT_32' },
      { name: 'day', type: 'DATE', parquet: 'INT32 DATE' },
      { name: 'text', type: 'VARCHAR', parquet: 'BYTE_ARRAY UTF8' },
      { name: 'big', type: 'BIGINT', parquet: 'INT64 INT_64' },
      { name: 'x', type: 'DOUBLE', parquet: 'DOUBLE' },
      { name: 'flag', type: 'BOOLEAN', parquet: 'BOOLEAN' },
      { name: 'at', type: 'TIMESTAMP WITH TIME ZONE', parquet: expect.stringMatching(/^INT64 TimestampType\(isAdjustedToUTC=1, unit=.*MICROS=MicroSeconds\(\)/) },
    ]);
    // 2.7 rows asked: the first 2, JSON-friendly (a BIGINT as text).
    expect(description.head.map((row) => [row.n, row.day, row.text, row.big, row.x, row.flag])).toEqual([
      [0, '2024-01-01', 't0', '1152921504606846976', 0, true],
      [1, '2024-01-02', null, '1152921504606846977', 0.5, false],
    ]);
    expect((await describeParquet(file, -3)).head).toEqual([]);
  });

  it('refuses a file that is not parquet with the first line of DuckDB\'s reason and a hint', async () => {
    const file = path.join(dir, 'not.parquet');
    await writeFile(file, 'name,value\na,1\n');
    const error = await describeParquet(file, 5).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DataError);
    expect((error as DataError).message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read it as parquet \\([^\\n]+\\)$`));
    expect((error as DataError).hint).toBe('is it a parquet file? `etl inspect` reads .parquet files and workbooks');
    expect((error as DataError).cause).toBeInstanceOf(Error);
  });
});
