import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parquetMetadataAsync } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { deserializeTCompactProtocol } from 'hyparquet/src/thrift.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, LoadError } from '../../../src/core/errors.js';
import type { Column, Row, Table, TablePart } from '../../../src/core/table.js';
import { compareUtf8 } from '../../../src/transform/parquet/parquet-encoding.js';
import { writeParquet, type WriteParquetOptions } from '../../../src/transform/parquet/write-parquet.js';
import { PACKAGE_NAME, VERSION } from '../../../src/version.js';
import { readParquet } from '../../helpers/parquet.js';

/**
 * The parquet writer on small files (tens to a few thousand rows; row groups cut by the 8 MB budget with a
 * few rows of 1 MB), read back by hyparquet: fast enough for mutation runs (vitest.mutation-parquet.config.ts),
 * where parquet-file.test.ts's 300,000-row files are not.
 */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-parquet-small-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let files = 0;
const newFile = () => path.join(dir, `f${files++}.parquet`);
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);
const DAY = 86_400_000;
/** 8 MB, the writer's row-group budget of plain bytes. */
const BUDGET = 8 * 1024 * 1024;

interface PartSpec {
  name: string;
  rows: Row[];
  /** Throw this after yielding that many rows. */
  failAt?: number;
  error?: Error;
  /** Hand the rows over as arrays of this size (TablePart.batches) instead of one at a time. */
  batch?: number;
}

function part(spec: PartSpec): TablePart {
  const fail = () => spec.error ?? new DataError(`${spec.name} is bad`);
  const rows = async function* () {
    for (const [k, r] of spec.rows.entries()) {
      if (k === spec.failAt) throw fail();
      yield r;
    }
    if (spec.failAt === spec.rows.length) throw fail();
  };
  if (spec.batch === undefined) return { name: spec.name, rows: rows() };
  const size = spec.batch;
  const batches = async function* () {
    for (let k = 0; k < spec.rows.length; k += size) {
      if (spec.failAt !== undefined && k >= spec.failAt) throw fail();
      yield spec.rows.slice(k, k + size);
    }
    if (spec.failAt === spec.rows.length) throw fail();
  };
  return { name: spec.name, rows: rows(), batches: batches() };
}

function table(columns: Column[], parts: PartSpec[], name = 'small'): Table {
  return {
    schema: { name, columns },
    parts: (async function* () {
      for (const spec of parts) yield part(spec);
    })(),
  };
}

async function metadata(file: string) {
  const bytes = await readFile(file);
  return parquetMetadataAsync(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

/** The footer's column orders (field 7 of FileMetaData), which hyparquet does not parse: one TYPE_ORDER ({1: {}}) a column. */
async function columnOrders(file: string): Promise<unknown> {
  const bytes = await readFile(file);
  const length = bytes.readUInt32LE(bytes.length - 8);
  const footer = bytes.subarray(bytes.length - 8 - length, bytes.length - 8);
  expect(bytes.subarray(bytes.length - 4).toString()).toBe('PAR1');
  expect(bytes.subarray(0, 4).toString()).toBe('PAR1');
  return deserializeTCompactProtocol({ view: new DataView(footer.buffer, footer.byteOffset, footer.byteLength), offset: 0 }).field_7;
}

type Meta = Awaited<ReturnType<typeof metadata>>;
const chunkOf = (meta: Meta, name: string, group = 0) => meta.row_groups[group]!.columns.find((c) => c.meta_data!.path_in_schema[0] === name)!.meta_data!;
const groupSizes = (meta: Meta) => meta.row_groups.map((group) => Number(group.num_rows));

/** Walks every column chunk's pages from the file's bytes with hyparquet's page-header reader. */
async function checkPages(file: string, meta: Meta): Promise<Array<Array<{ type: string; values: number; encoding: string }>>> {
  const bytes = await readFile(file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: Array<Array<{ type: string; values: number; encoding: string }>> = [];
  let expectedStart = 4;
  for (const group of meta.row_groups) {
    expect(Number(group.file_offset)).toBe(Number(group.columns[0]!.file_offset));
    let groupCompressed = 0;
    let groupUncompressed = 0;
    for (const column of group.columns) {
      const chunk = column.meta_data!;
      const start = Number(column.file_offset);
      // Chunks follow each other from the magic on, with nothing between them.
      expect(start).toBe(expectedStart);
      const reader = { view, offset: start };
      const pages: Array<{ type: string; values: number; encoding: string }> = [];
      let uncompressed = 0;
      while (reader.offset < start + Number(chunk.total_compressed_size)) {
        const pageStart = reader.offset;
        const header = parquetHeader(reader);
        const headerLength = reader.offset - pageStart;
        const body = bytes.subarray(reader.offset, reader.offset + header.compressed_page_size);
        expect(gunzipSync(body).length).toBe(header.uncompressed_page_size);
        reader.offset += header.compressed_page_size;
        uncompressed += headerLength + header.uncompressed_page_size;
        if (header.type === 'DICTIONARY_PAGE') {
          expect(Number(chunk.dictionary_page_offset)).toBe(pageStart);
          pages.push({ type: 'dictionary', values: header.dictionary_page_header!.num_values, encoding: header.dictionary_page_header!.encoding });
        } else {
          expect(header.type).toBe('DATA_PAGE');
          expect(Number(chunk.data_page_offset)).toBe(pageStart);
          const data = header.data_page_header!;
          expect([data.definition_level_encoding, data.repetition_level_encoding]).toEqual(['RLE', 'RLE']);
          pages.push({ type: 'data', values: data.num_values, encoding: data.encoding });
        }
      }
      expect(reader.offset).toBe(start + Number(chunk.total_compressed_size));
      expect(Number(chunk.total_uncompressed_size)).toBe(uncompressed);
      if (!pages.some((page) => page.type === 'dictionary')) expect(chunk.dictionary_page_offset).toBeUndefined();
      expect(Number(chunk.num_values)).toBe(Number(group.num_rows));
      groupCompressed += Number(chunk.total_compressed_size);
      groupUncompressed += uncompressed;
      expectedStart = reader.offset;
      chunks.push(pages);
    }
    expect(Number(group.total_compressed_size)).toBe(groupCompressed);
    expect(Number(group.total_byte_size)).toBe(groupUncompressed);
  }
  // Then the footer: its length and the magic close the file.
  expect(bytes.readUInt32LE(bytes.length - 8)).toBe(bytes.length - 8 - expectedStart);
  return chunks;
}

const ALL_TYPES: Column[] = [
  { name: 'i32', type: 'int32', nullable: true },
  { name: 'day', type: 'date', nullable: true },
  { name: 'text', type: 'string', nullable: true },
  { name: 'i64', type: 'int64', nullable: true },
  { name: 'x', type: 'double', nullable: true },
  { name: 'flag', type: 'boolean', nullable: true },
  { name: 'at', type: 'timestamp', nullable: true },
];

/** Row i of the all-types table: nulls where i % 5 === 2, negative values, days before 1970, non-ASCII text. */
function allTypesRow(i: number): Row {
  const isNull = i % 5 === 2;
  return {
    i32: isNull ? null : i % 3 === 0 ? -2_147_483_648 + i : 2_147_483_647 - i,
    day: isNull ? null : new Date(Date.UTC(1969, 11, 30) + (i - 20) * DAY),
    text: isNull ? null : ['b', 'héllo', '漢字😀', '', 'a'][Math.floor(i / 3) % 5]!,
    i64: isNull ? null : (i - 20) * 3_000_000_007,
    x: isNull ? null : i % 4 === 0 ? -i / 8 : i / 8,
    flag: isNull ? null : i % 3 === 1,
    at: isNull ? null : new Date(-86_400_000 + i * 1_234_567),
  };
}

describe('the parquet writer, small files', () => {
  it('writes every type with nulls that hyparquet reads back, with the schema, footer, pages and offsets of the spec', async () => {
    const file = newFile();
    const rows = range(0, 40).map(allTypesRow);
    const summary = await writeParquet(table(ALL_TYPES, [{ name: 'one', rows }]), file);
    expect(summary).toEqual({ path: path.resolve(file), rows: 40, parts: [{ name: 'one', rows: 40 }], skipped: [] });
    const { columns, rows: back } = await readParquet(file);
    expect(columns).toEqual([
      { name: 'i32', type: 'INT32', logical: 'INT_32' },
      { name: 'day', type: 'INT32', logical: 'DATE' },
      { name: 'text', type: 'BYTE_ARRAY', logical: 'UTF8' },
      { name: 'i64', type: 'INT64', logical: 'INT_64' },
      { name: 'x', type: 'DOUBLE', logical: undefined },
      { name: 'flag', type: 'BOOLEAN', logical: undefined },
      { name: 'at', type: 'INT64', logical: 'TIMESTAMP' },
    ]);
    expect(back).toEqual(rows.map((r) => ({ ...r, i64: r.i64 === null ? null : BigInt(r.i64 as number) })));

    const meta = await metadata(file);
    expect(meta.version).toBe(1);
    expect(Number(meta.num_rows)).toBe(40);
    expect(meta.created_by).toBe(`${PACKAGE_NAME} version ${VERSION}`);
    expect(meta.schema[0]).toMatchObject({ name: 'schema', num_children: 7 });
    expect(meta.schema.slice(1).map((element) => [element.repetition_type, element.converted_type])).toEqual([
      ['OPTIONAL', 'INT_32'],
      ['OPTIONAL', 'DATE'],
      ['OPTIONAL', 'UTF8'],
      ['OPTIONAL', 'INT_64'],
      ['OPTIONAL', undefined],
      ['OPTIONAL', undefined],
      ['OPTIONAL', 'TIMESTAMP_MICROS'],
    ]);
    // An instant is TIMESTAMP(UTC, MICROS) (DuckDB reads it as TIMESTAMPTZ); the other columns have no logical type.
    expect(meta.schema.slice(1).map((element) => element.logical_type)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined, { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' }]);
    expect(await columnOrders(file)).toEqual(new Array(7).fill({ field_1: {} }));
    expect(groupSizes(meta)).toEqual([40]);
    const chunks = meta.row_groups[0]!.columns.map((c) => c.meta_data!);
    expect(chunks.map((chunk) => [chunk.path_in_schema, chunk.type, chunk.codec])).toEqual([
      [['i32'], 'INT32', 'GZIP'],
      [['day'], 'INT32', 'GZIP'],
      [['text'], 'BYTE_ARRAY', 'GZIP'],
      [['i64'], 'INT64', 'GZIP'],
      [['x'], 'DOUBLE', 'GZIP'],
      [['flag'], 'BOOLEAN', 'GZIP'],
      [['at'], 'INT64', 'GZIP'],
    ]);
    const pages = await checkPages(file, meta);
    // Repeating values (5 texts, 40 rows) get a dictionary page; doubles and booleans are always PLAIN.
    expect(pages[2]).toEqual([
      { type: 'dictionary', values: 5, encoding: 'PLAIN_DICTIONARY' },
      { type: 'data', values: 40, encoding: 'PLAIN_DICTIONARY' },
    ]);
    expect(chunks[2]!.encodings).toEqual(['PLAIN_DICTIONARY', 'RLE']);
    expect(pages[4]).toEqual([{ type: 'data', values: 40, encoding: 'PLAIN' }]);
    expect(pages[5]).toEqual([{ type: 'data', values: 40, encoding: 'PLAIN' }]);
    expect(chunks[4]!.encodings).toEqual(['PLAIN', 'RLE']);
  });

  it('gives each chunk min, max and null count by type (UTF-8 order for text, -0 and +0 for zero bounds, NaN left out), and the distinct count of a dictionary', async () => {
    const file = newFile();
    const rows = range(0, 40).map(allTypesRow);
    await writeParquet(table(ALL_TYPES, [{ name: 'one', rows }]), file);
    const meta = await metadata(file);
    const present = (name: string) => rows.map((r) => r[name]).filter((v) => v !== null);
    const stats = (name: string) => chunkOf(meta, name).statistics!;
    const numbers = (name: string) => present(name).map((v) => (v instanceof Date ? v.getTime() : (v as number)));
    expect(stats('i32')).toMatchObject({ min_value: Math.min(...numbers('i32')), max_value: Math.max(...numbers('i32')), null_count: 8n });
    // 32 distinct values in 40 rows: PLAIN, so no distinct count.
    expect(stats('i32').distinct_count).toBeUndefined();
    expect(stats('i64')).toMatchObject({ min_value: BigInt(Math.min(...numbers('i64'))), max_value: BigInt(Math.max(...numbers('i64'))), null_count: 8n });
    expect(stats('day')).toMatchObject({ min_value: new Date(Math.min(...numbers('day'))), max_value: new Date(Math.max(...numbers('day'))), null_count: 8n });
    expect(stats('at').min_value).toEqual(new Date(Math.min(...numbers('at'))));
    expect(stats('at').max_value).toEqual(new Date(Math.max(...numbers('at'))));
    expect(stats('x')).toMatchObject({ min_value: Math.min(...numbers('x')), max_value: Math.max(...numbers('x')), null_count: 8n });
    expect(stats('x').distinct_count).toBeUndefined();
    expect(stats('flag')).toMatchObject({ min_value: false, max_value: true, null_count: 8n });
    const texts = (present('text') as string[]).sort(compareUtf8);
    expect(stats('text')).toMatchObject({ min_value: '', max_value: '漢字😀', null_count: 8n, distinct_count: 5n });
    expect([texts[0], texts.at(-1)]).toEqual(['', '漢字😀']);
    // Exact bounds: no "not exact" flags.
    expect(stats('text').is_min_value_exact).toBeUndefined();
    expect(stats('text').is_max_value_exact).toBeUndefined();

    const zeros = newFile();
    const doubles: Column[] = [
      { name: 'zero', type: 'double', nullable: true },
      { name: 'negative', type: 'double', nullable: true },
      { name: 'nan', type: 'double', nullable: true },
      { name: 'only_nan', type: 'double', nullable: true },
      { name: 'all_true', type: 'boolean', nullable: true },
      { name: 'all_false', type: 'boolean', nullable: false },
    ];
    const make = (i: number): Row => ({ zero: [0, 1.5, -0, 2][i % 4]!, negative: [-3, -0, -1][i % 3]!, nan: [Number.NaN, 5, -5][i % 3]!, only_nan: i % 2 ? Number.NaN : null, all_true: i % 4 === 1 ? null : true, all_false: false });
    await writeParquet(table(doubles, [{ name: 'one', rows: range(0, 12).map(make) }]), zeros);
    const z = await metadata(zeros);
    const zs = (name: string) => chunkOf(z, name).statistics!;
    // Parquet's rule: a min of zero is written -0, a max of zero +0.
    expect(Object.is(zs('zero').min_value, -0)).toBe(true);
    expect(zs('zero').max_value).toBe(2);
    expect(zs('negative').min_value).toBe(-3);
    expect(Object.is(zs('negative').max_value, 0)).toBe(true);
    expect(zs('nan')).toMatchObject({ min_value: -5, max_value: 5, null_count: 0n });
    expect(zs('only_nan')).toMatchObject({ null_count: 6n });
    expect(zs('only_nan').min_value).toBeUndefined();
    expect(zs('only_nan').max_value).toBeUndefined();
    expect(zs('all_true')).toMatchObject({ min_value: true, max_value: true, null_count: 3n });
    expect(zs('all_false')).toMatchObject({ min_value: false, max_value: false, null_count: 0n });
    const { rows: back } = await readParquet(zeros);
    expect(back.map((r) => r.only_nan)).toEqual(range(0, 12).map((i) => (i % 2 ? Number.NaN : null)));
    expect(back.map((r) => r.all_true)).toEqual(range(0, 12).map((i) => (i % 4 === 1 ? null : true)));
    expect(back.map((r) => [Object.is(r.zero, -0), r.negative])).toEqual(range(0, 12).map((i) => [i % 4 === 2, make(i).negative]));
  });

  it('writes a column with no value in a row group: every type, nulls only, no min or max, no dictionary', async () => {
    const file = newFile();
    const rows = range(0, 30).map(() => Object.fromEntries(ALL_TYPES.map((column) => [column.name, null])));
    await writeParquet(table(ALL_TYPES, [{ name: 'one', rows }]), file);
    const meta = await metadata(file);
    for (const column of ALL_TYPES) {
      const chunk = chunkOf(meta, column.name);
      expect(chunk.statistics).toMatchObject({ null_count: 30n });
      expect(chunk.statistics!.min_value).toBeUndefined();
      expect(chunk.statistics!.max_value).toBeUndefined();
      expect(chunk.statistics!.distinct_count).toBeUndefined();
      expect(chunk.encodings).toEqual(['PLAIN', 'RLE']);
    }
    await checkPages(file, meta);
    const { rows: back } = await readParquet(file);
    expect(back).toEqual(rows);
  });

  it('chooses a dictionary while values repeat: up to 16 distinct values in a small group, up to half of a larger one, and not when the first 1,024 are almost all new', async () => {
    const columns: Column[] = [
      { name: 'text', type: 'string', nullable: true },
      { name: 'whole', type: 'int32', nullable: true },
      { name: 'wide', type: 'int64', nullable: true },
    ];
    /** `rows` rows, every tenth null, the others cycling through `distinct` values. */
    async function encodingsFor(rowCount: number, distinct: number) {
      const file = newFile();
      let k = 0;
      const rows = range(0, rowCount).map((i) => {
        if (i % 10 === 9) return { text: null, whole: null, wide: null };
        const v = k++ % distinct;
        return { text: `v${v}`, whole: v * 1000, wide: v * 2 ** 40 };
      });
      await writeParquet(table(columns, [{ name: 'one', rows }]), file);
      const meta = await metadata(file);
      const { rows: back } = await readParquet(file);
      expect(back).toEqual(rows.map((r) => ({ ...r, wide: r.wide === null ? null : BigInt(r.wide) })));
      const pages = await checkPages(file, meta);
      return columns.map((column, c) => {
        const chunk = chunkOf(meta, column.name);
        const dictionary = pages[c]!.find((page) => page.type === 'dictionary');
        if (dictionary) expect(chunk.statistics!.distinct_count).toBe(BigInt(dictionary.values));
        else expect(chunk.statistics!.distinct_count).toBeUndefined();
        return dictionary ? dictionary.values : 'PLAIN';
      });
    }
    // 20 rows (18 with a value): at most 16 entries.
    expect(await encodingsFor(20, 16)).toEqual([16, 16, 16]);
    expect(await encodingsFor(20, 17)).toEqual(['PLAIN', 'PLAIN', 'PLAIN']);
    // 100 rows (90 with a value): at most 50.
    expect(await encodingsFor(100, 50)).toEqual([50, 50, 50]);
    expect(await encodingsFor(100, 51)).toEqual(['PLAIN', 'PLAIN', 'PLAIN']);
    // 2,400 rows: at most 1,200, but once 1,024 values are in, more than 921.6 distinct among them means PLAIN.
    expect(await encodingsFor(2400, 921)).toEqual([921, 921, 921]);
    expect(await encodingsFor(2400, 922)).toEqual(['PLAIN', 'PLAIN', 'PLAIN']);
  });

  it('reads back dictionary and PLAIN whole numbers of every width: spread-out values, negatives, int64 past 2^53 and a mix of both in one group', async () => {
    const columns: Column[] = [
      { name: 'spread', type: 'int32', nullable: true },
      { name: 'far', type: 'int64', nullable: true },
      { name: 'mixed', type: 'int64', nullable: true },
      { name: 'day', type: 'date', nullable: true },
      { name: 'label', type: 'string', nullable: true },
    ];
    const far = [-(2 ** 53) + 1, 2 ** 53 - 1, -1, 0, 1, -(2 ** 32), 2 ** 32 + 7];
    // 1,500 rows: past the writer's first 1,024-row arrays, with nulls from the start.
    const make = (i: number): Row => ({
      spread: i % 6 === 0 ? null : [-2_000_000_000, 2_000_000_000, 7, 0][i % 4]!,
      far: i % 11 === 3 ? null : far[i % far.length]!,
      // Numbers first; from row 700 a value past 2^53 makes the group's values bigints.
      mixed: i % 9 === 4 ? null : i === 700 || i === 1200 ? 2n ** 62n + BigInt(i) : i < 700 ? -i * 1_000_003 : i % 3,
      day: i % 8 === 0 ? null : new Date(Date.UTC(1900, 0, 1) + ((i * 37) % 60_000) * DAY),
      label: i % 11 === 0 ? null : String(i % 300).repeat(i % 3),
    });
    const rows = range(0, 1500).map(make);
    const file = newFile();
    await writeParquet(table(columns, [{ name: 'one', rows, batch: 333 }]), file);
    const { rows: back } = await readParquet(file);
    const big = (v: unknown) => (v === null ? null : BigInt(v as number | bigint));
    expect(back).toEqual(rows.map((r) => ({ ...r, far: big(r.far), mixed: big(r.mixed) })));
    const meta = await metadata(file);
    await checkPages(file, meta);
    const presentBig = (name: string) => rows.map((r) => r[name]).filter((v) => v !== null).map((v) => BigInt(v as number));
    const bounds = (values: bigint[]) => ({ min_value: values.reduce((a, b) => (b < a ? b : a)), max_value: values.reduce((a, b) => (b > a ? b : a)) });
    expect(chunkOf(meta, 'far').statistics).toMatchObject({ ...bounds(presentBig('far')), distinct_count: 7n });
    expect(chunkOf(meta, 'mixed').statistics).toMatchObject(bounds(presentBig('mixed')));
    expect(chunkOf(meta, 'spread').statistics).toMatchObject({ min_value: -2_000_000_000, max_value: 2_000_000_000, distinct_count: 4n, null_count: 250n });
    const days = rows.map((r) => r.day).filter((d): d is Date => d instanceof Date).map((d) => d.getTime());
    expect(chunkOf(meta, 'day').statistics).toMatchObject({ min_value: new Date(Math.min(...days)), max_value: new Date(Math.max(...days)) });
  });

  it('gives a text longer than 64 bytes as a bound, flagged not exact: a prefix below it, a prefix raised by one above it', async () => {
    const columns: Column[] = [{ name: 'label', type: 'string', nullable: false }];
    const long = 'm'.repeat(100);
    async function stats(labels: string[]) {
      const file = newFile();
      await writeParquet(table(columns, [{ name: 'one', rows: labels.map((label) => ({ label })) }]), file);
      const { rows } = await readParquet(file);
      expect(rows.map((r) => r.label)).toEqual(labels);
      return (await metadata(file)).row_groups[0]!.columns[0]!.meta_data!.statistics!;
    }
    const lower = await stats([`${long}a`, 'n', `${long}z`]);
    expect(lower).toMatchObject({ min_value: 'm'.repeat(64), max_value: 'n', is_min_value_exact: false });
    expect(lower.is_max_value_exact).toBeUndefined();
    const upper = await stats(['a', `${long}z`, 'b']);
    expect(upper).toMatchObject({ min_value: 'a', max_value: `${'m'.repeat(63)}n`, is_max_value_exact: false });
    expect(upper.is_min_value_exact).toBeUndefined();
    // Exactly 64 bytes is still exact; 65 is not.
    const edge = await stats(['z'.repeat(64), 'a'.repeat(64)]);
    expect(edge).toMatchObject({ min_value: 'a'.repeat(64), max_value: 'z'.repeat(64) });
    expect([edge.is_min_value_exact, edge.is_max_value_exact]).toEqual([undefined, undefined]);
    const over = await stats(['z'.repeat(65), 'a'.repeat(65)]);
    expect(over).toMatchObject({ min_value: 'a'.repeat(64), max_value: `${'z'.repeat(63)}{`, is_min_value_exact: false, is_max_value_exact: false });
    // Non-ASCII: the 64-byte cut falls inside a 2-byte character, and the raised byte is its last one kept.
    const accents = await stats(['a', `${'é'.repeat(40)}`]);
    const bound = Buffer.from('é'.repeat(32), 'utf8');
    bound[63]! += 1;
    expect(accents.max_value).toBe(bound.toString('utf8'));
    // Many distinct long texts (PLAIN): the same bounds.
    const plain = await stats(range(0, 40).map((i) => `${String(i).padStart(2, '0')}${long}`));
    expect(plain).toMatchObject({ min_value: `00${'m'.repeat(62)}`, max_value: `39${'m'.repeat(61)}n`, is_min_value_exact: false, is_max_value_exact: false });
  });

  it('cuts a row group when the next row would pass 8 MB of plain values (exactly 8 MB fits), and writes a single row bigger than that alone', async () => {
    const columns: Column[] = [
      { name: 'n', type: 'int32', nullable: false },
      { name: 'text', type: 'string', nullable: false },
    ];
    // A row: 4 bytes of int32, 4 of length and the text's characters: 8 rows make exactly 8 MB.
    const filler = 'x'.repeat(BUDGET / 8 - 12);
    const file = newFile();
    const rows = range(0, 10).map((n) => ({ n, text: `${String(n).padStart(4, '0')}${filler}` }));
    await writeParquet(table(columns, [{ name: 'one', rows }]), file);
    const meta = await metadata(file);
    expect(groupSizes(meta)).toEqual([8, 2]);
    await checkPages(file, meta);
    const { rows: back } = await readParquet(file);
    expect(back.map((r) => [r.n, (r.text as string).slice(0, 4), (r.text as string).length])).toEqual(rows.map((r) => [r.n, r.text.slice(0, 4), r.text.length]));
    expect(chunkOf(meta, 'n', 1).statistics).toMatchObject({ min_value: 8, max_value: 9 });

    // One byte more a row: 7 fit.
    const over = newFile();
    await writeParquet(table(columns, [{ name: 'one', rows: rows.map((r) => ({ ...r, text: `${r.text}y` })) }]), over);
    expect(groupSizes(await metadata(over))).toEqual([7, 3]);

    // A row of 9 MB alone passes the budget: it is written as a group of its own rather than never.
    const huge = newFile();
    const big = 'h'.repeat(9 * 1024 * 1024);
    await writeParquet(table(columns, [{ name: 'one', rows: [{ n: 1, text: 'small' }, { n: 2, text: big }, { n: 3, text: 'small' }] }]), huge);
    const hugeMeta = await metadata(huge);
    expect(groupSizes(hugeMeta)).toEqual([1, 1, 1]);
    expect((await readParquet(huge)).rows.map((r) => [r.n, (r.text as string).length])).toEqual([[1, 5], [2, big.length], [3, 5]]);
  });

  it('cuts a row group at 122,880 rows, and numbers a bad row after the cut from the start of its part', async () => {
    const columns: Column[] = [{ name: 'flag', type: 'boolean', nullable: true }];
    const rows = range(0, 122_890).map((i) => ({ flag: i % 3 === 0 ? null : i % 2 === 0 }));
    const file = newFile();
    await writeParquet(table(columns, [{ name: 'one', rows, batch: 200_000 }]), file);
    const meta = await metadata(file);
    expect(groupSizes(meta)).toEqual([122_880, 10]);
    const { rows: back } = await readParquet(file);
    expect(back.slice(122_870)).toEqual(rows.slice(122_870));
    expect(back.filter((r) => r.flag === null)).toHaveLength(rows.filter((r) => r.flag === null).length);

    const bad = rows.map((r, i) => (i === 122_885 ? { flag: 'yes' } : r));
    await expect(writeParquet(table(columns, [{ name: 'one', rows: bad, batch: 200_000 }]), newFile())).rejects.toThrow('row 122886: column flag expects boolean, got "yes"');
  });

  it('refuses a value of the wrong type or a null in a required column, naming the part, the row within it and the table', async () => {
    const cases: Array<[Column['type'], unknown, string]> = [
      ['int32', 1.5, 'expects int32, got "1.5"'],
      ['int32', 2_147_483_648, 'expects int32, got "2147483648"'],
      ['int32', -2_147_483_649, 'expects int32, got "-2147483649"'],
      ['int32', '7', 'expects int32, got "7"'],
      ['double', '1.5', 'expects double, got "1.5"'],
      ['boolean', 1, 'expects boolean, got "1"'],
      ['date', '2020-01-01', 'expects date, got "2020-01-01"'],
      ['timestamp', 1_700_000_000_000, 'expects timestamp, got "1700000000000"'],
      ['int64', 2 ** 53, 'expects int64, got "9007199254740992"'],
      ['int64', 1.5, 'expects int64, got "1.5"'],
      ['int64', 2n ** 63n, 'expects int64, got "9223372036854775808"'],
      ['int64', '12', 'expects int64, got "12"'],
    ];
    for (const [type, value, message] of cases) {
      const columns: Column[] = [{ name: 'v', type, nullable: true }];
      const ok = type === 'int32' || type === 'int64' ? 1 : type === 'double' ? 1.5 : type === 'boolean' ? true : new Date(0);
      // Row 300: in the second batch of 256 rows; the message counts from the part's first row.
      const rows = range(0, 400).map((i) => ({ v: i === 299 ? value : i % 2 ? null : ok })) as Row[];
      await expect(writeParquet(table(columns, [{ name: 'p', rows }]), newFile()), `${type} ${String(value)}`).rejects.toThrow(`row 300: column v ${message}`);
    }
    for (const type of ['string', 'int32', 'int64', 'double', 'boolean', 'date', 'timestamp'] as const) {
      const columns: Column[] = [{ name: 'v', type, nullable: false }];
      const ok = type === 'string' ? 'x' : type === 'int32' || type === 'int64' ? 1 : type === 'double' ? 1.5 : type === 'boolean' ? true : new Date(0);
      const rows = range(0, 10).map((i) => ({ v: i === 6 ? null : ok }));
      await expect(writeParquet(table(columns, [{ name: 'first.csv', rows: [{ v: ok }] }, { name: 'p.csv', rows }], 'people'), newFile())).rejects.toThrow(
        new DataError('p.csv: row 7 of people has no v, which may not be empty'),
      );
      // A missing field is a null too.
      await expect(writeParquet(table(columns, [{ name: 'p.csv', rows: [{ v: ok }, {}] }], 'people'), newFile())).rejects.toThrow('p.csv: row 2 of people has no v');
    }
    // A string column takes any value as its text.
    const file = newFile();
    await writeParquet(table([{ name: 's', type: 'string', nullable: false }], [{ name: 'p', rows: [{ s: 12 }, { s: true }, { s: 'x' }] }]), file);
    expect((await readParquet(file)).rows).toEqual([{ s: '12' }, { s: 'true' }, { s: 'x' }]);
  });

  it('leaves out a part that fails, whether or not a row group with earlier parts\' rows was written during it, and keeps writing after', async () => {
    const columns: Column[] = [
      { name: 'n', type: 'int32', nullable: false },
      { name: 'text', type: 'string', nullable: true },
      { name: 'v', type: 'int64', nullable: true },
    ];
    // 1 MB a row: 8 rows a group.
    const filler = 'x'.repeat(BUDGET / 8 - 16);
    const rowsOf = (from: number, to: number): Row[] => range(from, to).map((n) => ({ n, text: n % 4 === 1 ? null : `${n}:${filler}`, v: n % 5 === 0 ? null : n % 3 ? n : 2n ** 60n + BigInt(n) }));
    const file = newFile();
    const skipped: Array<[string, string]> = [];
    const options: WriteParquetOptions = { skipBadParts: true, onPartSkipped: (name, error) => skipped.push([name, error.message]) };
    const summary = await writeParquet(
      table(columns, [
        { name: 'a', rows: rowsOf(0, 11), batch: 4 },
        // Fails before its rows fill a group: cut back to a's rows.
        { name: 'early', rows: rowsOf(100, 103), failAt: 2 },
        // Fails after the group holding a's last 3 rows and 5 of its own was written: a's 3 rows come back.
        { name: 'late', rows: rowsOf(200, 220), batch: 4, failAt: 12 },
        { name: 'b', rows: rowsOf(300, 312), batch: 5 },
        // Fails on a bad value of its own, in a batch after one that filled a group.
        { name: 'bad value', rows: [...rowsOf(400, 410), { n: 'ten' }], batch: 10 },
        { name: 'c', rows: rowsOf(500, 502) },
      ]),
      file,
      options,
    );
    expect(skipped).toEqual([
      ['early', 'early is bad'],
      ['late', 'late is bad'],
      ['bad value', 'row 11: column n expects int32, got "ten"'],
    ]);
    expect(summary).toEqual({
      path: path.resolve(file),
      rows: 25,
      parts: [
        { name: 'a', rows: 11 },
        { name: 'b', rows: 12 },
        { name: 'c', rows: 2 },
      ],
      skipped: [
        { name: 'early', reason: 'early is bad' },
        { name: 'late', reason: 'late is bad' },
        { name: 'bad value', reason: 'row 11: column n expects int32, got "ten"' },
      ],
    });
    const meta = await metadata(file);
    expect(Number(meta.num_rows)).toBe(25);
    await checkPages(file, meta);
    const { rows: back } = await readParquet(file);
    const wanted = [...rowsOf(0, 11), ...rowsOf(300, 312), ...rowsOf(500, 502)];
    expect(back).toEqual(wanted.map((r) => ({ ...r, v: r.v === null ? null : BigInt(r.v as number) })));
    // The same row groups as a file written without the failed parts.
    const without = newFile();
    await writeParquet(table(columns, [{ name: 'a', rows: rowsOf(0, 11), batch: 4 }, { name: 'b', rows: rowsOf(300, 312), batch: 5 }, { name: 'c', rows: rowsOf(500, 502) }]), without);
    const withoutMeta = await metadata(without);
    expect(groupSizes(meta)).toEqual(groupSizes(withoutMeta));
    expect(groupSizes(meta).length).toBeGreaterThanOrEqual(3);
    expect(meta.row_groups.map((group) => group.columns.map((c) => c.meta_data!.statistics))).toEqual(withoutMeta.row_groups.map((group) => group.columns.map((c) => c.meta_data!.statistics)));
  });

  it('leaves out a failed part that began on a row-group boundary, and one that was alone in the file so far', async () => {
    const columns: Column[] = [
      { name: 'n', type: 'int32', nullable: false },
      { name: 'text', type: 'string', nullable: false },
    ];
    const filler = 'x'.repeat(BUDGET / 8 - 16);
    const rowsOf = (from: number, to: number): Row[] => range(from, to).map((n) => ({ n, text: `${n}:${filler}` }));
    const file = newFile();
    const summary = await writeParquet(
      table(columns, [
        { name: 'first fails', rows: rowsOf(0, 12), batch: 3, failAt: 12 },
        { name: 'a', rows: rowsOf(100, 108), batch: 8 },
        { name: 'b fails', rows: rowsOf(200, 212), batch: 4, failAt: 12 },
        { name: 'c', rows: rowsOf(300, 303), batch: 4 },
      ]),
      file,
      { skipBadParts: true },
    );
    expect(summary.parts).toEqual([
      { name: 'a', rows: 8 },
      { name: 'c', rows: 3 },
    ]);
    expect(summary.skipped.map((s) => s.name)).toEqual(['first fails', 'b fails']);
    const meta = await metadata(file);
    expect(groupSizes(meta)).toEqual([8, 3]);
    await checkPages(file, meta);
    expect((await readParquet(file)).rows.map((r) => r.n)).toEqual([...range(100, 108), ...range(300, 303)]);
  });

  it('writes nothing, and keeps the file that was there, when a part fails without skipping, a skipped part is not a DataError, or nothing is left', async () => {
    const columns: Column[] = [{ name: 'n', type: 'int32', nullable: false }];
    const file = path.join(dir, 'kept', 'out.parquet');
    const first = await writeParquet(table(columns, [{ name: 'a', rows: [{ n: 1 }] }]), file);
    expect(first.rows).toBe(1);
    const before = await readFile(file);
    const rows = range(0, 300).map((n) => ({ n }));
    const attempts: Array<[Table, WriteParquetOptions, unknown]> = [
      [table(columns, [{ name: 'a', rows }, { name: 'b', rows, failAt: 290 }]), {}, new DataError('b is bad')],
      [table(columns, [{ name: 'a', rows }, { name: 'b', rows, failAt: 290, error: new TypeError('a bug') }]), { skipBadParts: true }, new TypeError('a bug')],
      [table(columns, [{ name: 'b', rows, failAt: 10 }, { name: 'c', rows, failAt: 0 }]), { skipBadParts: true }, new DataError(`nothing written to ${file}: every input was skipped`, { hint: 'see the warnings above for why each input was skipped' })],
      [table(columns, []), {}, new DataError(`nothing written to ${file}: there was no input`, { hint: 'check the inputs and the --from/--to range' })],
    ];
    for (const [input, options, error] of attempts) {
      const attempt = writeParquet(input, file, options);
      await expect(attempt).rejects.toThrow(error as Error);
      await expect(attempt).rejects.toBeInstanceOf((error as Error).constructor);
      expect(await readFile(file)).toEqual(before);
      expect(await readdir(path.dirname(file))).toEqual(['out.parquet']);
    }
    const hints = await Promise.all([
      writeParquet(table(columns, [{ name: 'b', rows, failAt: 0 }]), file, { skipBadParts: true }).catch((error: DataError) => error.hint),
      writeParquet(table(columns, []), file).catch((error: DataError) => error.hint),
    ]);
    expect(hints).toEqual(['see the warnings above for why each input was skipped', 'check the inputs and the --from/--to range']);
  });

  it('reports a full disk met while writing as a LoadError naming the folder, with nothing left behind', async () => {
    const columns: Column[] = [{ name: 'n', type: 'int32', nullable: false }];
    const file = path.join(dir, 'full', 'out.parquet');
    await rm(path.dirname(file), { recursive: true, force: true });
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const attempt = writeParquet(table(columns, [{ name: 'a', rows: [{ n: 1 }, { n: 2 }], failAt: 1, error: full }]), file, { skipBadParts: true });
    await expect(attempt).rejects.toBeInstanceOf(LoadError);
    await expect(attempt).rejects.toThrow(`no space left on the device holding ${path.dirname(path.resolve(file))} (writing out.parquet)`);
    expect(await readdir(path.dirname(file))).toEqual([]);
    // Any other failure passes through as it is.
    await writeFile(path.join(dir, 'full', 'note'), 'x');
    await expect(writeParquet(table(columns, [{ name: 'a', rows: [{ n: 1 }], failAt: 0, error: new RangeError('other') }]), file)).rejects.toThrow(new RangeError('other'));
  });

  it('writes a schema of 15 or more columns (long list headers in the footer) and a table of many parts, one row each', async () => {
    const columns: Column[] = range(0, 17).map((c) => ({ name: `c${c}`, type: c % 2 ? 'int32' : 'string', nullable: true }));
    const make = (i: number): Row => Object.fromEntries(columns.map((column, c) => [column.name, (i + c) % 3 === 0 ? null : column.type === 'int32' ? i * c : `${c}-${i}`]));
    const file = newFile();
    const parts = range(0, 30).map((i) => ({ name: `p${i}`, rows: [make(i)] }));
    const summary = await writeParquet(table(columns, parts), file);
    expect(summary.parts).toHaveLength(30);
    const meta = await metadata(file);
    expect(meta.schema.slice(1).map((element) => element.name)).toEqual(columns.map((column) => column.name));
    expect(await columnOrders(file)).toEqual(new Array(17).fill({ field_1: {} }));
    await checkPages(file, meta);
    expect((await readParquet(file)).rows).toEqual(range(0, 30).map(make));
  });
});
