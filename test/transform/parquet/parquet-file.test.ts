import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { parquetMetadataAsync } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import type { Column, Row, Table } from '../../../src/core/table.js';
import { compareUtf8 } from '../../../src/transform/parquet/parquet-encoding.js';
import { writeParquet } from '../../../src/transform/parquet/write-parquet.js';
import { readParquet } from '../../helpers/parquet.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-parquet-file-'));
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
  { name: 'unique', type: 'string', nullable: false },
  { name: 'empty', type: 'string', nullable: true },
];
const WORDS = ['héllo', 'héllo', '漢字😀', 'never', 'b', '\ue000 private use'];

/** Row i: every nullable column but `empty` is null where i % 7 === 3; `big` needs more than 53 bits. */
function row(i: number): Row {
  const isNull = i % 7 === 3;
  return {
    n: i,
    day: isNull ? null : new Date(Date.UTC(2020, 0, 1) + (i % 400) * 86_400_000),
    text: isNull ? null : WORDS[Math.floor(i / 5) % WORDS.length]!,
    big: isNull ? null : 2n ** 60n - BigInt(i),
    x: i % 11 === 0 ? -i / 8 : i / 8,
    flag: isNull ? null : i % 2 === 1,
    at: isNull ? null : new Date(1_700_000_000_000 + i * 1000),
    signed: i * 3_000_000_007 * (i % 2 ? -1 : 1),
    unique: `id-${i}`,
    empty: null,
  };
}

/** A table of parts, each yielding `rows(part)`; a part with `failAt` throws a DataError after yielding that many rows. */
function table(parts: Array<{ name: string; rows: number[]; failAt?: number }>, columns = COLUMNS, make = row): Table {
  return {
    schema: { name: 'test', columns },
    parts: (async function* () {
      for (const part of parts) {
        yield {
          name: part.name,
          rows: (async function* () {
            for (const [k, i] of part.rows.entries()) {
              if (k === part.failAt) throw new DataError(`${part.name} is bad at row ${k}`);
              yield make(i);
            }
          })(),
        };
      }
    })(),
  };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

/** The values hyparquet reads for row(i). */
function expected(i: number): Record<string, unknown> {
  const r = row(i) as Record<string, unknown>;
  return { ...r, signed: BigInt(r.signed as number), at: r.at ?? null };
}

async function metadata(file: string) {
  const bytes = await readFile(file);
  return parquetMetadataAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

describe('the parquet writer', () => {
  it('writes every type and null that an independent reader reads back exactly, GZIP-compressed, in row groups of at most 122,880 rows', async () => {
    const rows = 250_000;
    const file = path.join(dir, 'all.parquet');
    const summary = await writeParquet(table([{ name: 'one', rows: range(0, rows) }]), file);
    expect(summary.rows).toBe(rows);

    const { columns, rows: back } = await readParquet(file);
    expect(columns).toEqual([
      { name: 'n', type: 'INT32', logical: 'INT_32' },
      { name: 'day', type: 'INT32', logical: 'DATE' },
      { name: 'text', type: 'BYTE_ARRAY', logical: 'UTF8' },
      { name: 'big', type: 'INT64', logical: 'INT_64' },
      { name: 'x', type: 'DOUBLE', logical: undefined },
      { name: 'flag', type: 'BOOLEAN', logical: undefined },
      { name: 'at', type: 'INT64', logical: 'TIMESTAMP' },
      { name: 'signed', type: 'INT64', logical: 'INT_64' },
      { name: 'unique', type: 'BYTE_ARRAY', logical: 'UTF8' },
      { name: 'empty', type: 'BYTE_ARRAY', logical: 'UTF8' },
    ]);
    expect(back).toHaveLength(rows);
    for (const i of [0, 1, 2, 3, 4, 5, 6, 7, 1023, 1024, 122_879, 122_880, 122_881, 200_003, rows - 1]) expect(back[i]).toEqual(expected(i));
    expect(back.every((r, i) => r.n === i && r.unique === `id-${i}`)).toBe(true);

    const meta = await metadata(file);
    expect(meta.schema.slice(1).every((element) => element.repetition_type === 'OPTIONAL')).toBe(true);
    expect(meta.row_groups.map((group) => Number(group.num_rows))).toEqual([122_880, 122_880, rows - 2 * 122_880]);
    const chunks = meta.row_groups.flatMap((group) => group.columns.map((chunk) => chunk.meta_data!));
    expect(new Set(chunks.map((chunk) => chunk.codec))).toEqual(new Set(['GZIP']));
    // Repeating values are dictionary-encoded; unique ones are PLAIN.
    const encodings = Object.fromEntries(meta.row_groups[0]!.columns.map((chunk) => [chunk.meta_data!.path_in_schema[0], chunk.meta_data!.encodings]));
    expect(encodings.text).toContain('PLAIN_DICTIONARY');
    expect(encodings.unique).not.toContain('PLAIN_DICTIONARY');
  });

  it('gives each column chunk the statistics of its rows: min, max, null count and, where a dictionary has it, the distinct count', async () => {
    const rows = 130_000;
    const file = path.join(dir, 'statistics.parquet');
    await writeParquet(table([{ name: 'one', rows: range(0, rows) }]), file);
    const meta = await metadata(file);
    let first = 0;
    for (const group of meta.row_groups) {
      const last = first + Number(group.num_rows);
      const groupRows = range(first, last).map(row);
      const stats = Object.fromEntries(group.columns.map((chunk) => [chunk.meta_data!.path_in_schema[0], chunk.meta_data!.statistics!]));
      const values = (name: string) => groupRows.map((r) => r[name]).filter((v) => v !== null);
      const sorted = (name: string, compare?: (a: unknown, b: unknown) => number) => [...values(name)].sort(compare);
      const nulls = (name: string) => BigInt(groupRows.length - values(name).length);
      const texts = sorted('text', compareUtf8 as (a: unknown, b: unknown) => number) as string[];
      expect(stats.text).toMatchObject({ min_value: texts[0], max_value: texts.at(-1), null_count: nulls('text'), distinct_count: BigInt(new Set(texts).size) });
      expect(stats.n).toMatchObject({ min_value: first, max_value: last - 1, null_count: 0n });
      expect(stats.x).toMatchObject({ min_value: Math.min(...(values('x') as number[])), max_value: Math.max(...(values('x') as number[])), null_count: 0n });
      const bigs = sorted('big', (a, b) => ((a as bigint) < (b as bigint) ? -1 : 1)) as bigint[];
      expect(stats.big).toMatchObject({ min_value: bigs[0], max_value: bigs.at(-1), null_count: nulls('big') });
      const signed = (values('signed') as number[]).map(BigInt).sort((a, b) => (a < b ? -1 : 1));
      expect(stats.signed).toMatchObject({ min_value: signed[0], max_value: signed.at(-1) });
      expect(stats.flag).toMatchObject({ min_value: false, max_value: true, null_count: nulls('flag') });
      expect(stats.empty).toMatchObject({ null_count: BigInt(groupRows.length) });
      expect(stats.empty!.min_value).toBeUndefined();
      first = last;
    }
  });

  it('dictionary-encodes small whole numbers, negative ones and -0 too, with their distinct count, and falls back to PLAIN past the dictionary limit', async () => {
    const columns: Column[] = [
      { name: 'small', type: 'int32', nullable: true },
      { name: 'count', type: 'int64', nullable: true },
      { name: 'spread', type: 'int32', nullable: false },
    ];
    const make = (i: number): Row => ({ small: i % 9 === 4 ? null : i === 5 ? -0 : (i % 101) - 50, count: i % 13 === 0 ? null : (i * 7) % 500, spread: (i * 7919) % 3000 });
    const rows = 3000;
    const file = path.join(dir, 'small-numbers.parquet');
    await writeParquet(table([{ name: 'one', rows: range(0, rows) }], columns, make), file);
    const { rows: back } = await readParquet(file);
    expect(back).toEqual(range(0, rows).map((i) => {
      const r = make(i);
      return { ...r, small: r.small === -0 ? 0 : r.small, count: r.count === null ? null : BigInt(r.count as number) };
    }));
    const meta = await metadata(file);
    const chunk = (name: string) => meta.row_groups[0]!.columns.find((c) => c.meta_data!.path_in_schema[0] === name)!.meta_data!;
    const distinct = (name: string) => new Set(range(0, rows).map((i) => make(i)[name]).filter((v) => v !== null).map((v) => Number(v))).size;
    expect(chunk('small').encodings).toContain('PLAIN_DICTIONARY');
    expect(chunk('small').statistics).toMatchObject({ min_value: -50, max_value: 50, distinct_count: BigInt(distinct('small')) });
    expect(chunk('count').encodings).toContain('PLAIN_DICTIONARY');
    expect(chunk('count').statistics).toMatchObject({ min_value: 0n, max_value: BigInt(Math.max(...range(0, rows).map((i) => (make(i).count as number | null) ?? 0))), distinct_count: BigInt(distinct('count')) });
    // 3,000 distinct values in 3,000 rows: past half the values, so PLAIN, without a distinct count.
    expect(chunk('spread').encodings).not.toContain('PLAIN_DICTIONARY');
    expect(chunk('spread').statistics).toMatchObject({ min_value: 0, max_value: 2999 });
    expect(chunk('spread').statistics!.distinct_count).toBeUndefined();
  });

  it('orders text statistics by UTF-8 bytes, and gives a long text as a bound, not the value', async () => {
    expect(['\ue000', '😀', 'z', 'é'].sort(compareUtf8)).toEqual(['z', 'é', '\ue000', '😀']);
    const long = 'm'.repeat(100);
    const file = path.join(dir, 'long.parquet');
    const columns: Column[] = [{ name: 'label', type: 'string', nullable: false }];
    await writeParquet(table([{ name: 'one', rows: [0, 1, 2] }], columns, (i) => ({ label: [`${long}a`, 'n', `${long}z`][i]! })), file);
    const stats = (await metadata(file)).row_groups[0]!.columns[0]!.meta_data!.statistics!;
    expect(stats.min_value).toBe('m'.repeat(64));
    expect(stats.is_min_value_exact).toBe(false);
    expect(stats.max_value).toBe('n');
    expect(stats.is_max_value_exact).toBeUndefined();
    await writeParquet(table([{ name: 'one', rows: [0, 1] }], columns, (i) => ({ label: ['a', `${long}z`][i]! })), file);
    const upper = (await metadata(file)).row_groups[0]!.columns[0]!.meta_data!.statistics!;
    expect(upper).toMatchObject({ min_value: 'a', max_value: `${'m'.repeat(63)}n`, is_max_value_exact: false });
  });

  it('cuts row groups at 8 MB of plain values when rows are wide', async () => {
    const columns: Column[] = [{ name: 'text', type: 'string', nullable: false }];
    const file = path.join(dir, 'wide.parquet');
    // 1,000 characters + 4 bytes a row: 8,355 rows make 8 MB.
    await writeParquet(table([{ name: 'one', rows: range(0, 20_000) }], columns, (i) => ({ text: `${String(i).padStart(6, '0')}${'x'.repeat(994)}` })), file);
    const groups = (await metadata(file)).row_groups.map((group) => Number(group.num_rows));
    expect(groups).toEqual([8355, 8355, 20_000 - 2 * 8355]);
    const { rows } = await readParquet(file);
    expect(rows.map((r) => (r.text as string).slice(0, 6))).toEqual(range(0, 20_000).map((i) => String(i).padStart(6, '0')));
  });

  it('leaves out a part that fails, whether it failed before or after a row group holding earlier parts\' rows was written', async () => {
    const file = path.join(dir, 'skipped.parquet');
    const skipped: string[] = [];
    const summary = await writeParquet(
      table([
        { name: 'a', rows: range(0, 1000) },
        { name: 'fails early', rows: range(1000, 2000), failAt: 500 },
        { name: 'b', rows: range(2000, 100_000) },
        // Fails after 60,000 rows: the group it shares with b's last 11,760 rows is written by then.
        { name: 'fails late', rows: range(100_000, 300_000), failAt: 60_000 },
        { name: 'c', rows: range(300_000, 300_010) },
      ]),
      file,
      { skipBadParts: true, onPartSkipped: (name) => skipped.push(name) },
    );
    expect(skipped).toEqual(['fails early', 'fails late']);
    expect(summary.parts).toEqual([
      { name: 'a', rows: 1000 },
      { name: 'b', rows: 98_000 },
      { name: 'c', rows: 10 },
    ]);
    const { rows } = await readParquet(file);
    const wanted = [...range(0, 1000), ...range(2000, 100_000), ...range(300_000, 300_010)];
    expect(rows.map((r) => r.n)).toEqual(wanted);
    expect(rows.at(-1)).toEqual(expected(300_009));
    expect((await metadata(file)).row_groups.map((group) => Number(group.num_rows))).toEqual([99_010]);
  });

  it('is read by DuckDB with the same rows and types', async () => {
    const file = path.join(dir, 'duckdb.parquet');
    await writeParquet(table([{ name: 'one', rows: range(0, 5000) }]), file);
    const duck = await DuckDBInstance.create(':memory:');
    const connection = await duck.connect();
    try {
      const quoted = `'${file}'`;
      const types = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${quoted})`)).getRowObjectsJS().map((r) => [r.column_name, r.column_type]);
      expect(types).toEqual([
        ['n', 'INTEGER'],
        ['day', 'DATE'],
        ['text', 'VARCHAR'],
        ['big', 'BIGINT'],
        ['x', 'DOUBLE'],
        ['flag', 'BOOLEAN'],
        ['at', 'TIMESTAMP WITH TIME ZONE'],
        ['signed', 'BIGINT'],
        ['unique', 'VARCHAR'],
        ['empty', 'VARCHAR'],
      ]);
      const rows = (await connection.runAndReadAll(`SELECT n, text, big::VARCHAR AS big, signed, flag, epoch_ms("at") AS at_ms, day::VARCHAR AS day FROM read_parquet(${quoted}) ORDER BY n`)).getRowObjectsJS();
      expect(rows).toHaveLength(5000);
      for (const i of [0, 3, 4, 4999]) {
        const r = row(i);
        expect(rows[i]).toEqual({
          n: i,
          text: r.text,
          big: r.big === null ? null : String(r.big),
          signed: BigInt(r.signed as number),
          flag: r.flag,
          at_ms: r.at === null ? null : BigInt((r.at as Date).getTime()),
          day: r.day === null ? null : (r.day as Date).toISOString().slice(0, 10),
        });
      }
      // DuckDB skips row groups by their statistics: wrong ones would lose rows here.
      const count = (await connection.runAndReadAll(`SELECT count(*)::INTEGER AS n FROM read_parquet(${quoted}) WHERE n > 4000 AND text = 'never'`)).getRowObjectsJS();
      expect(count).toEqual([{ n: range(4001, 5000).filter((i) => row(i).text === 'never').length }]);
    } finally {
      connection.closeSync();
      duck.closeSync();
    }
  });

});
