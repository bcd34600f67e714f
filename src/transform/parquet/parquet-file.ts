import { open, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import { DataError } from '../../core/errors.js';
import { RowRuns, type Column, type ColumnType, type RowBatch, type Value } from '../../core/table.js';
import { PACKAGE_NAME, VERSION } from '../../version.js';
import { Bytes, ThriftWriter, bitWidth, compareUtf8, encodeHybrid, plainStrings } from './parquet-encoding.js';

/**
 * Writes a parquet file as rows arrive, one row group at a time: every column OPTIONAL (as DuckDB wrote
 * them, so old and new files of a partitioned folder read as one table), dictionary-encoded where values
 * repeat (PLAIN where they hardly do), each page GZIP-compressed by zlib (a large one on libuv's thread
 * pool while the next rows are read, a small one at once), and per column chunk the statistics readers
 * prune with (min, max, null count, and the distinct count where a dictionary gives it).
 *
 * A row group holds at most 122,880 rows (DuckDB's default) or 8 MB of plain values (text counted in
 * characters, 4 bytes a string more, as PLAIN writes them), whichever comes first: that bounds memory
 * however wide the rows, and a narrow table keeps big groups.
 *
 * Parts: rows between beginPart() and commitPart() land whole or not at all. rollbackPart() cuts the
 * file back to where the part began and restores the rows of earlier parts that were still waiting in
 * the current row group (a row group may hold rows of several parts).
 */
export const MAX_ROW_GROUP_ROWS = 122_880;
export const MAX_ROW_GROUP_BYTES = 8 * 1024 * 1024;
/** GZIP: the widest-read codec Node has built in (zstd arrives with Node 22); level 6 is zlib's default. */
export const CODEC_NAME = 'GZIP';
const GZIP_LEVEL = 6;
/** A text longer than this (in bytes) gives its statistic as a truncated bound, as parquet-mr and Arrow do. */
const MAX_STATISTIC_BYTES = 64;

const compressOnThreadPool = promisify(gzip);

/**
 * Below this many bytes a page is compressed here, synchronously: a trip to the thread pool costs the main
 * thread more than deflating a small page does (half the ONS transform's pages are dictionary and level pages
 * of a few hundred bytes; each trip cost it about half a millisecond at load 10, the deflate tens of microseconds).
 */
export const SYNC_GZIP_BYTES = 16 * 1024;

/** A page's GZIP member: the same bytes either way, level 6 in one output buffer. */
export function compressPage(page: Buffer): Promise<Buffer> | Buffer {
  const options = { level: GZIP_LEVEL, chunkSize: gzipChunkSize(page.length) };
  return page.length < SYNC_GZIP_BYTES ? gzipSync(page, options) : compressOnThreadPool(page, options);
}

/**
 * Room for a page's whole compressed output (deflate adds at most about 0.1% to incompressible bytes), so
 * zlib compresses it in one trip to the thread pool: with its 16 KB default each 16 KB of output was a trip
 * back to the main thread and out again.
 */
function gzipChunkSize(bytes: number): number {
  return bytes + (bytes >> 8) + 1024;
}

/** Parquet enums (parquet.thrift). */
const PHYSICAL = { BOOLEAN: 0, INT32: 1, INT64: 2, DOUBLE: 5, BYTE_ARRAY: 6 } as const;
const CONVERTED = { UTF8: 0, DATE: 6, TIMESTAMP_MICROS: 10, INT_32: 17, INT_64: 18 } as const;
const OPTIONAL = 1;
const ENCODING = { PLAIN: 0, PLAIN_DICTIONARY: 2, RLE: 3 } as const;
const PAGE = { DATA: 0, DICTIONARY: 2 } as const;
const GZIP_CODEC = 2;

const PHYSICAL_TYPES: Record<ColumnType, number> = {
  string: PHYSICAL.BYTE_ARRAY,
  int32: PHYSICAL.INT32,
  date: PHYSICAL.INT32,
  int64: PHYSICAL.INT64,
  timestamp: PHYSICAL.INT64,
  double: PHYSICAL.DOUBLE,
  boolean: PHYSICAL.BOOLEAN,
};
const CONVERTED_TYPES: Partial<Record<ColumnType, number>> = {
  string: CONVERTED.UTF8,
  int32: CONVERTED.INT_32,
  date: CONVERTED.DATE,
  int64: CONVERTED.INT_64,
  timestamp: CONVERTED.TIMESTAMP_MICROS,
};
/** Plain bytes of one value, for the row-group budget; text adds its length. */
const VALUE_BYTES: Record<ColumnType, number> = { string: 4, int32: 4, date: 4, int64: 8, timestamp: 8, double: 8, boolean: 1 };

const DAY_MS = 86_400_000;
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;
const MAGIC = Buffer.from('PAR1');

/** Where a bad value is reported: the part's name and the number of the batch's first row within it. */
export interface RowsOrigin {
  where: string;
  firstRow: number;
  table: string;
}

export class ParquetFileWriter {
  private readonly chunks: ColumnChunkBuilder[];
  private readonly rowGroups: RowGroupMeta[] = [];
  /** Row groups flushed, counting one still being written (rowGroups gets it only once it is on disk). */
  private groupsFlushed = 0;
  /** Rows and plain bytes waiting in the current row group. */
  private rows = 0;
  private bytes = 0;
  private totalRows = 0;
  private offset = MAGIC.length;
  /** The row group being compressed and written; writes happen in order, one group at a time. */
  private writing: Promise<void> = Promise.resolve();
  private failure: unknown;
  private part: PartStart | undefined;
  private rowBytes = new Float64Array(1024);
  private readonly columnScratch: Value[] = [];

  private constructor(private readonly file: FileHandle, private readonly columns: readonly Column[]) {
    this.chunks = columns.map((column) => new ColumnChunkBuilder(column));
  }

  static async create(path: string, columns: readonly Column[]): Promise<ParquetFileWriter> {
    const file = await open(path, 'w');
    try {
      await file.write(MAGIC, 0, MAGIC.length, 0);
    } catch (error) {
      await file.close();
      throw error;
    }
    return new ParquetFileWriter(file, columns);
  }

  beginPart(): void {
    this.part = { rowGroups: this.groupsFlushed, rows: this.rows, bytes: this.bytes, totalRows: this.totalRows, carried: undefined };
  }

  commitPart(): void {
    this.part = undefined;
  }

  /** Leaves out every row since beginPart(). */
  async rollbackPart(): Promise<void> {
    const part = this.part!;
    this.part = undefined;
    await this.settle();
    this.rowGroups.length = part.rowGroups;
    this.groupsFlushed = part.rowGroups;
    this.offset = part.rowGroups === 0 ? MAGIC.length : this.rowGroups.at(-1)!.end;
    await this.file.truncate(this.offset);
    if (part.carried) {
      this.chunks.forEach((chunk, c) => chunk.restore(part.carried![c]!));
    } else {
      for (const chunk of this.chunks) chunk.truncate(part.rows);
    }
    this.rows = part.rows;
    this.bytes = part.bytes;
    this.totalRows = part.totalRows;
  }

  /** Checks and takes a batch of rows, writing each row group that fills up. */
  async append(batch: RowBatch, origin: RowsOrigin): Promise<void> {
    let from = 0;
    while (from < batch.length) {
      const count = Math.min(batch.length - from, MAX_ROW_GROUP_ROWS - this.rows);
      if (this.rowBytes.length < count) this.rowBytes = new Float64Array(count);
      const rowBytes = this.rowBytes.fill(0, 0, count);
      const chunkOrigin = { ...origin, firstRow: origin.firstRow + from };
      for (const chunk of this.chunks) {
        if (batch instanceof RowRuns && chunk.text) chunk.appendTextRuns(batch, from, count, rowBytes, chunkOrigin);
        else chunk.append(this.columnValues(batch, chunk.name, from, count), count, rowBytes, chunkOrigin);
      }
      // Rows that fit in this row group's byte budget (at least one, or a huge row would never be written).
      let taken = 0;
      while (taken < count && (this.bytes + rowBytes[taken]! <= MAX_ROW_GROUP_BYTES || (taken === 0 && this.rows === 0))) this.bytes += rowBytes[taken++]!;
      if (taken < count) for (const chunk of this.chunks) chunk.truncate(this.rows + taken);
      this.rows += taken;
      this.totalRows += taken;
      from += taken;
      if (this.rows === MAX_ROW_GROUP_ROWS || taken < count) await this.flush();
    }
  }

  /**
   * One column of rows [from, from + count) in `columnScratch` (reused: the builder copies what it keeps).
   * One property name per loop over row objects keeps V8's lookups fast; runs need no row objects at all.
   */
  private columnValues(batch: RowBatch, name: string, from: number, count: number): readonly Value[] {
    const values = this.columnScratch;
    if (batch instanceof RowRuns) {
      batch.fill(name, from, count, values);
    } else {
      for (let i = 0; i < count; i++) values[i] = batch[from + i]![name] ?? null;
    }
    return values;
  }

  /** Writes what is left, the footer, and closes the file. */
  async finish(): Promise<void> {
    if (this.rows > 0) await this.flush();
    await this.settle();
    const footer = fileMetadata(this.columns, this.totalRows, this.rowGroups);
    const tail = Buffer.alloc(8);
    tail.writeUInt32LE(footer.length, 0);
    MAGIC.copy(tail, 4);
    await this.file.writev([footer, tail], this.offset);
    await this.close();
  }

  async close(): Promise<void> {
    await this.writing.catch(() => undefined);
    await this.file.close().catch(() => undefined);
  }

  /** Waits for the row group being written; rethrows its failure (a full disk). */
  private async settle(): Promise<void> {
    await this.writing;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Encodes the current row group and starts compressing and writing it (after the one before). */
  private async flush(): Promise<void> {
    await this.settle();
    const rows = this.rows;
    // Rows of earlier parts in this group are kept until the part commits, in case it is rolled back.
    if (this.part && this.part.carried === undefined && this.part.rowGroups === this.rowGroups.length) {
      this.part.carried = this.chunks.map((chunk) => chunk.copy(this.part!.rows));
    }
    this.groupsFlushed++;
    const pages = this.chunks.map((chunk) => chunk.encode(rows));
    for (const chunk of this.chunks) chunk.reset();
    this.rows = 0;
    this.bytes = 0;
    this.writing = this.writeRowGroup(pages, rows).catch((error: unknown) => {
      this.failure = error;
    });
  }

  private async writeRowGroup(encoded: EncodedChunk[], rows: number): Promise<void> {
    const compressed = await Promise.all(encoded.map((chunk) => Promise.all(chunk.pages.map((page) => compressPage(page.body)))));
    const buffers: Buffer[] = [];
    const chunks: ChunkMeta[] = [];
    let at = this.offset;
    encoded.forEach((chunk, c) => {
      const start = at;
      let uncompressed = 0;
      let dictionaryOffset: number | undefined;
      let dataOffset = start;
      chunk.pages.forEach((page, p) => {
        const body = compressed[c]![p]!;
        const header = pageHeader(page, body.length);
        if (page.dictionary) dictionaryOffset = at;
        else dataOffset = at;
        buffers.push(header, body);
        at += header.length + body.length;
        uncompressed += header.length + page.body.length;
      });
      chunks.push({ column: this.columns[c]!, chunk, start, dictionaryOffset, dataOffset, uncompressed, compressed: at - start });
    });
    await this.file.writev(buffers, this.offset);
    this.rowGroups.push({ chunks, rows, end: at });
    this.offset = at;
  }
}

interface PartStart {
  rowGroups: number;
  rows: number;
  bytes: number;
  totalRows: number;
  /** The earlier parts' rows of the row group that was written during this part. */
  carried: ColumnValues[] | undefined;
}

interface ChunkMeta {
  column: Column;
  chunk: EncodedChunk;
  start: number;
  dictionaryOffset: number | undefined;
  dataOffset: number;
  uncompressed: number;
  compressed: number;
}

interface RowGroupMeta {
  chunks: ChunkMeta[];
  rows: number;
  end: number;
}

interface Page {
  dictionary: boolean;
  /** Values in the page (rows for a data page, entries for a dictionary page). */
  values: number;
  encoding: number;
  body: Buffer;
}

interface Statistics {
  nullCount: number;
  distinct?: number;
  min?: Uint8Array;
  max?: Uint8Array;
  /** A long text's bound is a prefix (min) or a prefix just above the value (max): not the value itself. */
  exactMin: boolean;
  exactMax: boolean;
}

interface EncodedChunk {
  pages: Page[];
  encodings: number[];
  statistics: Statistics;
  rows: number;
}

/** Every number type in doubles (exact for all but int64s past 2^53, which switch their group to bigints). */
type Numbers = Float64Array | BigInt64Array;

/**
 * A column's values in the current row group: text as runs of one text (an area's name over its 12 months is
 * one run), anything else in a typed array. A string stored per row cost a write barrier per row (an array
 * that outlives its row group holding new strings), the writer's largest line.
 *
 * One class, one array type for numbers and reset in place: an object of another shape (a spread copy) or another
 * typed array sent each row group's first call of the hot functions back to unoptimised code, and V8 compiled
 * them again (a third of the transform's optimising-compiler time).
 */
class ColumnValues {
  constructor(
    /** Text: each run's text (null for a run of nulls), runs[0..runs). */
    public strings: Array<string | null>,
    /** Text: the row each run ends before. */
    public runEnds: Int32Array,
    public runs: number,
    public numbers: Numbers,
    /** 1 where the value is null (numbers only). */
    public nulls: Uint8Array | null,
    public length: number,
  ) {}
}

class ColumnChunkBuilder {
  private values: ColumnValues;
  readonly name: string;
  readonly text: boolean;

  constructor(private readonly column: Column) {
    this.values = emptyValues(column.type, 1024);
    this.name = column.name;
    this.text = column.type === 'string';
  }

  /** Checks and stores the column's next `count` values (batch[0..count)), adding each one's plain bytes to rowBytes. */
  append(batch: readonly Value[], count: number, rowBytes: Float64Array, origin: RowsOrigin): void {
    const { nullable, type } = this.column;
    const values = this.values;
    const start = values.length;
    const fail = (index: number, value: Value): never => {
      throw this.valueError(origin, index, value);
    };
    if (type === 'string') {
      this.reserveRuns(count);
      // Written in order from the group's first run, so the array grows at its end and stays packed.
      const strings = values.strings;
      const runEnds = values.runEnds;
      let runs = values.runs;
      for (let i = 0; i < count; i++) {
        const value = batch[i]!;
        let text: string | null = null;
        if (value === null) {
          if (!nullable) fail(i, value);
        } else {
          text = typeof value === 'string' ? value : String(value);
          rowBytes[i]! += 4 + text.length;
        }
        if (runs > 0 && strings[runs - 1] === text) {
          runEnds[runs - 1] = start + i + 1;
        } else {
          strings[runs] = text;
          runEnds[runs++] = start + i + 1;
        }
      }
      values.runs = runs;
      values.length = start + count;
      return;
    }
    this.ensureCapacity(start + count);
    const width = VALUE_BYTES[type];
    let numbers = values.numbers;
    for (let i = 0; i < count; i++) {
      const value = batch[i]!;
      const at = start + i;
      rowBytes[i]! += width;
      if (value === null) {
        if (!nullable) fail(i, value);
        (values.nulls ??= new Uint8Array(numbers.length))[at] = 1;
        continue;
      }
      if (values.nulls) values.nulls[at] = 0;
      switch (type) {
        case 'int32':
          if (typeof value !== 'number' || !Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) fail(i, value);
          numbers[at] = value as number;
          break;
        case 'double':
          if (typeof value !== 'number') fail(i, value);
          numbers[at] = value as number;
          break;
        case 'boolean':
          if (typeof value !== 'boolean') fail(i, value);
          numbers[at] = value ? 1 : 0;
          break;
        case 'date':
          if (!(value instanceof Date)) fail(i, value);
          numbers[at] = Math.floor((value as Date).getTime() / DAY_MS);
          break;
        case 'timestamp':
          if (!(value instanceof Date)) fail(i, value);
          numbers[at] = (value as Date).getTime() * 1000;
          break;
        case 'int64':
          if (typeof value === 'number' && Number.isSafeInteger(value)) {
            numbers[at] = numbers instanceof BigInt64Array ? BigInt(value) : value;
          } else if (typeof value === 'bigint' && BigInt.asIntN(64, value) === value) {
            // Beyond 2^53 a double is not exact: this row group's values go as bigints.
            if (!(numbers instanceof BigInt64Array)) numbers = values.numbers = BigInt64Array.from(numbers as Float64Array, (v) => BigInt(v));
            numbers[at] = value;
          } else {
            fail(i, value);
          }
          break;
      }
    }
    values.length = start + count;
  }

  /**
   * A text column's rows [from, from + count) of `batch` (0 to count in rowBytes and errors), read from the runs
   * themselves: a text a run shares (an area's name over its 12 months) is checked, counted and stored once for
   * all its rows, not once per row as append() must.
   */
  appendTextRuns(batch: RowRuns, from: number, count: number, rowBytes: Float64Array, origin: RowsOrigin): void {
    const { name, nullable } = this.column;
    this.reserveRuns(count);
    const values = this.values;
    const { strings, runEnds } = values;
    const start = values.length;
    let runs = values.runs;
    /** Rows [at, at + rows) hold `value`. */
    const put = (at: number, rows: number, value: Value): void => {
      let text: string | null = null;
      if (value === null) {
        if (!nullable) throw this.valueError(origin, at, value);
      } else {
        text = typeof value === 'string' ? value : String(value);
        const bytes = 4 + text.length;
        for (let i = at; i < at + rows; i++) rowBytes[i]! += bytes;
      }
      if (runs > 0 && strings[runs - 1] === text) {
        runEnds[runs - 1] = start + at + rows;
      } else {
        strings[runs] = text;
        runEnds[runs++] = start + at + rows;
      }
    };
    const batchRuns = batch.runs;
    let r = 0;
    let runStart = 0;
    while (runStart + batchRuns[r]!.count <= from) runStart += batchRuns[r++]!.count;
    for (let at = 0, offset = from - runStart; at < count; r++, offset = 0) {
      const { fields, varying, count: runRows } = batchRuns[r]!;
      const rows = Math.min(runRows - offset, count - at);
      // A run of no rows gives no text: not a dictionary entry, not a missing value.
      if (rows === 0) continue;
      const own = varying[name];
      if (own === undefined) {
        put(at, rows, fields[name] ?? null);
      } else {
        for (let i = 0; i < rows; i++) put(at + i, 1, own[offset + i] ?? null);
      }
      at += rows;
    }
    values.runs = runs;
    values.length = start + count;
  }

  /** Room for `count` more text runs. */
  private reserveRuns(count: number): void {
    const values = this.values;
    if (values.runEnds.length >= values.runs + count) return;
    const grown = new Int32Array(Math.max(values.runs + count, values.runEnds.length * 2));
    grown.set(values.runEnds.subarray(0, values.runs));
    values.runEnds = grown;
  }

  private valueError(origin: RowsOrigin, index: number, value: Value): DataError {
    const { name, type } = this.column;
    if (value === null) return new DataError(`${origin.where}row ${origin.firstRow + index} of ${origin.table} has no ${name}, which may not be empty`);
    return new DataError(`row ${origin.firstRow + index}: column ${name} expects ${type}, got ${JSON.stringify(String(value))}`);
  }

  /** Keeps the first `rows` values (also after an append that failed part-way). */
  truncate(rows: number): void {
    truncateValues(this.values, rows);
  }

  copy(rows: number): ColumnValues {
    const { strings, runEnds, runs, numbers, nulls } = this.values;
    const copy = new ColumnValues(strings.slice(0, runs), runEnds.slice(0, Math.max(runs, 1)), runs, numbers.slice(0, Math.max(rows, 1)), nulls?.slice(0, Math.max(rows, 1)) ?? null, rows);
    truncateValues(copy, rows);
    return copy;
  }

  restore(values: ColumnValues): void {
    this.values = values;
  }

  reset(): void {
    const values = this.values;
    // A row group's arrays are reused for the next (entries past `length` are stale); bigints go back to doubles.
    if (values.numbers instanceof BigInt64Array) values.numbers = new Float64Array(values.numbers.length);
    values.runs = 0;
    values.nulls = null;
    values.length = 0;
  }

  private ensureCapacity(rows: number): void {
    const values = this.values;
    if (values.numbers.length >= rows) return;
    const size = Math.max(rows, values.numbers.length * 2);
    const numbers = new (values.numbers.constructor as new (length: number) => Numbers)(size);
    numbers.set(values.numbers as never);
    values.numbers = numbers;
    if (values.nulls) {
      const nulls = new Uint8Array(size);
      nulls.set(values.nulls);
      values.nulls = nulls;
    }
  }

  encode(rows: number): EncodedChunk {
    const { type } = this.column;
    const values = this.values;
    const nullCount = countNulls(values, type, rows);
    const levels = new Bytes(16);
    let present: Uint8Array | undefined;
    // No null in the group (most columns): the levels are one RLE run of 1s, the bytes encodeHybrid would write,
    // without a pass over every row.
    if (nullCount === 0 && rows >= 8) {
      levels.varint(rows * 2);
      levels.byte(1);
    } else {
      encodeHybrid((present = presentFlags(values, type, rows)), rows, 1, levels);
    }
    // Text takes its values run by run and needs no flag per row; numbers check them value by value.
    if (type === 'string') return encodeStrings(values, rows, nullCount, levels);
    present ??= presentFlags(values, type, rows);
    if (type === 'double' || type === 'boolean') return encodePlainNumbers(values.numbers, type, rows, present, levels);
    return encodeIntegers(values.numbers, type, rows, present, nullCount, levels);
  }
}

function emptyValues(type: ColumnType, capacity: number): ColumnValues {
  const numbers = new Float64Array(type === 'string' ? 0 : capacity);
  // A text column's array grows as rows are written and is kept for the following row groups: arrays grown
  // per batch were garbage that only full collections freed, 50 MB more peak memory. (Filling one ahead with
  // nulls cost 0.1 s of the 60k-area transform, and `new Array(122_880)` has slow dictionary elements.)
  return new ColumnValues([], new Int32Array(type === 'string' ? 1024 : 0), 0, numbers, null, 0);
}

function truncateValues(values: ColumnValues, rows: number): void {
  values.length = rows;
  // Runs that start at or after `rows` go; the last one kept ends at `rows` at the latest.
  let runs = values.runs;
  while (runs > 0 && (runs === 1 ? 0 : values.runEnds[runs - 2]!) >= rows) runs--;
  if (runs > 0 && values.runEnds[runs - 1]! > rows) values.runEnds[runs - 1] = rows;
  values.runs = runs;
}

/** Rows without a value: text by its runs, numbers only where a null was stored at all. */
function countNulls(values: ColumnValues, type: ColumnType, rows: number): number {
  let count = 0;
  if (type === 'string') {
    const { strings, runEnds, runs } = values;
    for (let r = 0, start = 0; r < runs; start = runEnds[r++]!) if (strings[r] === null) count += runEnds[r]! - start;
  } else if (values.nulls) {
    const nulls = values.nulls;
    for (let i = 0; i < rows; i++) count += nulls[i]!;
  }
  return count;
}

/** 1 where the row has a value. */
function presentFlags(values: ColumnValues, type: ColumnType, rows: number): Uint8Array {
  const present = new Uint8Array(rows);
  if (type === 'string') {
    const { strings, runEnds, runs } = values;
    for (let r = 0, start = 0; r < runs; start = runEnds[r++]!) if (strings[r] !== null) present.fill(1, start, runEnds[r]);
  } else if (values.nulls) {
    const nulls = values.nulls;
    for (let i = 0; i < rows; i++) present[i] = 1 - nulls[i]!;
  } else {
    present.fill(1);
  }
  return present;
}

/** A dictionary pays while values repeat: past this many distinct values (or half the values) a chunk is PLAIN. */
const MAX_DICTIONARY_ENTRIES = 65_535;
/** Checked once this many values are in: almost all distinct means PLAIN without building the rest. */
const DICTIONARY_PROBE = 1024;

function dictionaryLimit(values: number): number {
  return Math.min(MAX_DICTIONARY_ENTRIES, Math.max(16, Math.floor(values / 2)));
}

function encodeStrings(values: ColumnValues, rows: number, nullCount: number, levels: Bytes): EncodedChunk {
  const { strings, runEnds, runs } = values;
  const indices = new Int32Array(rows);
  let count = 0;
  let limit = dictionaryLimit(rows);
  // At most one entry per run, and past the limit the dictionary is given up.
  const dictionary = new TextDictionary(Math.min(runs, limit + 1));
  const entries = dictionary.texts;
  // Entries in the order first seen; the probe looks at the entries once DICTIONARY_PROBE values are in.
  for (let r = 0, start = 0; r < runs && limit > 0; start = runEnds[r++]!) {
    const text = strings[r]!;
    if (text === null) continue;
    const index = dictionary.numberOf(text);
    if (entries.length > limit) limit = 0;
    const before = count;
    count += runEnds[r]! - start;
    // A loop, not indices.fill(): most runs are a few rows (an area's 12 months), where the builtin's call costs more.
    for (let i = before; i < count; i++) indices[i] = index;
    if (before < DICTIONARY_PROBE && count >= DICTIONARY_PROBE && entries.length > DICTIONARY_PROBE * 0.9) limit = 0;
  }
  // A column with no value in the group has no dictionary to give.
  if (entries.length === 0) limit = 0;
  if (limit === 0) {
    const nonNull: string[] = [];
    for (let r = 0, start = 0; r < runs; start = runEnds[r++]!) {
      const text = strings[r]!;
      if (text !== null) for (let i = start; i < runEnds[r]!; i++) nonNull.push(text);
    }
    const body = new Bytes(levels.length + 4);
    levelsPrefix(levels, body);
    const ascii = plainStrings(nonNull, body);
    return { pages: [{ dictionary: false, values: rows, encoding: ENCODING.PLAIN, body: copyOf(body) }], encodings: [ENCODING.PLAIN, ENCODING.RLE], statistics: stringStatistics(nonNull, nullCount, undefined, ascii), rows };
  }
  const dictionaryPage = new Bytes();
  const ascii = plainStrings(entries, dictionaryPage);
  return dictionaryChunk(dictionaryPage, entries.length, indices, count, rows, levels, stringStatistics(entries, nullCount, entries.length, ascii));
}

/**
 * Distinct texts numbered in the order first seen, in an open-addressing table sized once for the column chunk. A Map
 * grew and rehashed its way up to thousands of new texts in each chunk of area names: half of encodeStrings' time.
 */
class TextDictionary {
  readonly texts: string[] = [];
  /** Entry number + 1 by hash slot; 0 is an empty slot. */
  private readonly slots: Int32Array;
  private readonly mask: number;

  constructor(maxEntries: number) {
    let size = 16;
    while (size < maxEntries * 2) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
  }

  /** The text's entry number, adding it when new. */
  numberOf(text: string): number {
    let slot = textHash(text) & this.mask;
    for (;;) {
      const entry = this.slots[slot]!;
      if (entry === 0) {
        this.slots[slot] = this.texts.push(text);
        return this.texts.length - 1;
      }
      if (this.texts[entry - 1] === text) return entry - 1;
      slot = (slot + 1) & this.mask;
    }
  }
}

/** FNV-1a over a text's first 256 code units and its length: enough to spread texts, bounded for very long ones. */
function textHash(text: string): number {
  const end = Math.min(text.length, 256);
  let hash = 0x811c9dc5 ^ text.length;
  for (let i = 0; i < end; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash ^ (hash >>> 15);
}

/** `ascii`: every text is ASCII, where JavaScript's own comparison (UTF-16 units) is the UTF-8 byte order. */
function stringStatistics(texts: readonly string[], nullCount: number, distinct: number | undefined, ascii: boolean): Statistics {
  if (texts.length === 0) return { nullCount, distinct, exactMin: true, exactMax: true };
  let min = texts[0]!;
  let max = min;
  // Indexed loops: a for-of here allocated an iterator result per text (14 MB in the 60k-area transform, with plainStrings').
  if (ascii) {
    for (let i = 1; i < texts.length; i++) {
      const text = texts[i]!;
      if (text < min) min = text;
      else if (text > max) max = text;
    }
  } else {
    for (let i = 1; i < texts.length; i++) {
      const text = texts[i]!;
      if (text !== min && compareUtf8(text, min) < 0) min = text;
      else if (text !== max && compareUtf8(text, max) > 0) max = text;
    }
  }
  const minBytes = Buffer.from(min, 'utf8');
  const maxBytes = Buffer.from(max, 'utf8');
  const upper = upperBound(maxBytes);
  // No bound above a long run of 0xff bytes (not UTF-8, so never seen): leave both out rather than mislead.
  if (!upper) return { nullCount, distinct, exactMin: true, exactMax: true };
  return { nullCount, distinct, min: minBytes.subarray(0, MAX_STATISTIC_BYTES), max: upper, exactMin: minBytes.length <= MAX_STATISTIC_BYTES, exactMax: maxBytes.length <= MAX_STATISTIC_BYTES };
}

/** The value itself when short; else its first bytes with the last one raised, which sorts above the value. */
function upperBound(bytes: Buffer): Uint8Array | undefined {
  if (bytes.length <= MAX_STATISTIC_BYTES) return bytes;
  const bound = Uint8Array.from(bytes.subarray(0, MAX_STATISTIC_BYTES));
  for (let i = bound.length - 1; i >= 0; i--) {
    if (bound[i]! < 0xff) {
      bound[i]!++;
      return bound.subarray(0, i + 1);
    }
  }
  return undefined;
}

/** int32, date, int64 and timestamp: dictionary-encoded while values repeat, else PLAIN. */
function encodeIntegers(numbers: Numbers, type: ColumnType, rows: number, present: Uint8Array, nullCount: number, levels: Bytes): EncodedChunk {
  const wide = type === 'int64' || type === 'timestamp';
  const entries: Array<number | bigint> = [];
  const indices = new Int32Array(rows);
  const limit = dictionaryLimit(rows);
  const range = numbers instanceof BigInt64Array ? undefined : smallRange(numbers, present, rows);
  // Years, days and counts: the dictionary is a typed table by value (a Map of doubles cost 3x as much).
  const count = range
    ? numberByTable(numbers as Float64Array, present, rows, range.min, new Int32Array(range.max - range.min + 1).fill(-1), entries as number[], indices, limit)
    : numberByMap(numbers, present, rows, entries, indices, limit);
  // A column with no value in the group has no dictionary to give.
  const plain = count < 0 || entries.length === 0;
  const nonNull: Array<number | bigint> = plain ? compact(numbers, present, rows) : entries;
  let min = nonNull[0];
  let max = min;
  for (let i = 1; i < nonNull.length; i++) {
    const value = nonNull[i]!;
    if (value < min!) min = value;
    else if (value > max!) max = value;
  }
  const statistics: Statistics = { nullCount, distinct: plain ? undefined : entries.length, exactMin: true, exactMax: true };
  if (min !== undefined) {
    statistics.min = fixedBytes([min], wide);
    statistics.max = fixedBytes([max!], wide);
  }
  if (plain) {
    const body = new Bytes(levels.length + 4 + nonNull.length * 8);
    levelsPrefix(levels, body);
    body.append(fixedBytes(nonNull, wide));
    return { pages: [{ dictionary: false, values: rows, encoding: ENCODING.PLAIN, body: copyOf(body) }], encodings: [ENCODING.PLAIN, ENCODING.RLE], statistics, rows };
  }
  const dictionaryPage = new Bytes(entries.length * 8);
  dictionaryPage.append(fixedBytes(entries, wide));
  return dictionaryChunk(dictionaryPage, entries.length, indices, count, rows, levels, statistics);
}

/*
 * The dictionary loops of encodeIntegers, each a function of its own: inside encodeIntegers they were compiled on the
 * stack (OSR) and that code was thrown away again at the start of later column chunks (15 deoptimisations a run).
 * Each numbers the present values of numbers[0..rows) into `entries` (first seen first) and `indices`, and returns
 * how many it numbered, or -1 once a dictionary does not pay: more distinct values than `limit`, or almost all
 * distinct at the probe.
 */

function numberByTable(numbers: Float64Array, present: Uint8Array, rows: number, min: number, slots: Int32Array, entries: number[], indices: Int32Array, limit: number): number {
  let count = 0;
  for (let i = 0; i < rows; i++) {
    if (present[i] === 0) continue;
    const value = numbers[i]!;
    let index = slots[value - min]!;
    if (index === -1) {
      index = entries.length;
      slots[value - min] = index;
      entries.push(value);
      if (entries.length > limit) return -1;
    }
    indices[count++] = index;
    if (count === DICTIONARY_PROBE && entries.length > DICTIONARY_PROBE * 0.9) return -1;
  }
  return count;
}

function numberByMap(numbers: Numbers, present: Uint8Array, rows: number, entries: Array<number | bigint>, indices: Int32Array, limit: number): number {
  const dictionary = new Map<number | bigint, number>();
  let count = 0;
  for (let i = 0; i < rows; i++) {
    if (present[i] === 0) continue;
    const value = numbers[i]!;
    let index = dictionary.get(value);
    if (index === undefined) {
      index = entries.length;
      dictionary.set(value, index);
      entries.push(value);
      if (entries.length > limit) return -1;
    }
    indices[count++] = index;
    if (count === DICTIONARY_PROBE && entries.length > DICTIONARY_PROBE * 0.9) return -1;
  }
  return count;
}

/**
 * The least and greatest of the present values when they lie within a few times the row count of each
 * other (whole numbers here: the column's checks let no fraction in), so a table by value is small.
 */
function smallRange(numbers: Float64Array, present: Uint8Array, rows: number): { min: number; max: number } | undefined {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < rows; i++) {
    if (present[i] === 0) continue;
    const value = numbers[i]!;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return min <= max && max - min < Math.max(1024, rows * 4) ? { min, max } : undefined;
}

function compact(numbers: Numbers, present: Uint8Array, rows: number): Array<number | bigint> {
  const values: Array<number | bigint> = [];
  for (let i = 0; i < rows; i++) if (present[i] === 1) values.push(numbers[i]!);
  return values;
}

/** Little-endian INT32, or INT64 from whole doubles (exact below 2^53) or bigints. */
function fixedBytes(values: ReadonlyArray<number | bigint>, wide: boolean): Uint8Array {
  if (!wide) return new Uint8Array(Int32Array.from(values as number[]).buffer);
  const int64s = new BigInt64Array(values.length);
  const words = new Int32Array(int64s.buffer);
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (typeof value === 'bigint') {
      int64s[i] = value;
      continue;
    }
    words[2 * i] = value % 0x1_0000_0000; // ToInt32 keeps the low 32 bits, two's complement for negatives
    words[2 * i + 1] = Math.floor(value / 0x1_0000_0000);
  }
  return new Uint8Array(int64s.buffer);
}

/** double and boolean: PLAIN (a dictionary would fold -0 into 0; booleans are a bit each already). */
function encodePlainNumbers(numbers: Numbers, type: 'double' | 'boolean', rows: number, present: Uint8Array, levels: Bytes): EncodedChunk {
  const body = new Bytes(levels.length + 4 + rows * 8);
  levelsPrefix(levels, body);
  let count = 0;
  let min = Infinity;
  let max = -Infinity;
  if (type === 'double') {
    const values = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      if (present[i] === 0) continue;
      const value = numbers[i] as number;
      values[count++] = value;
      // NaN orders nowhere: readers ignore it in statistics, so it is left out of them.
      if (value < min) min = value;
      if (value > max) max = value;
    }
    body.append(new Uint8Array(values.buffer, 0, count * 8));
  } else {
    const bits = new Uint8Array(Math.ceil(rows / 8));
    for (let i = 0; i < rows; i++) {
      if (present[i] === 0) continue;
      const value = numbers[i] as number;
      if (value === 1) bits[count >> 3]! |= 1 << (count & 7);
      count++;
      if (value < min) min = value;
      if (value > max) max = value;
    }
    body.append(bits.subarray(0, Math.ceil(count / 8)));
  }
  const statistics: Statistics = { nullCount: rows - count, exactMin: true, exactMax: true };
  if (min <= max) {
    if (type === 'double') {
      // Parquet's rule for zeros: a min of 0 is written -0, a max of 0 is written +0.
      statistics.min = new Uint8Array(Float64Array.of(min === 0 ? -0 : min).buffer);
      statistics.max = new Uint8Array(Float64Array.of(max === 0 ? 0 : max).buffer);
    } else {
      statistics.min = Uint8Array.of(min);
      statistics.max = Uint8Array.of(max);
    }
  }
  return { pages: [{ dictionary: false, values: rows, encoding: ENCODING.PLAIN, body: copyOf(body) }], encodings: [ENCODING.PLAIN, ENCODING.RLE], statistics, rows };
}

function dictionaryChunk(dictionaryPage: Bytes, entries: number, indices: Int32Array, count: number, rows: number, levels: Bytes, statistics: Statistics): EncodedChunk {
  const width = bitWidth(entries);
  const data = new Bytes(levels.length + 5 + count);
  levelsPrefix(levels, data);
  data.byte(width);
  encodeHybrid(indices, count, width, data);
  return {
    pages: [
      { dictionary: true, values: entries, encoding: ENCODING.PLAIN_DICTIONARY, body: copyOf(dictionaryPage) },
      { dictionary: false, values: rows, encoding: ENCODING.PLAIN_DICTIONARY, body: copyOf(data) },
    ],
    encodings: [ENCODING.PLAIN_DICTIONARY, ENCODING.RLE],
    statistics,
    rows,
  };
}

/** Definition levels in a v1 data page: their byte length, then the hybrid runs. */
function levelsPrefix(levels: Bytes, body: Bytes): void {
  body.u32le(levels.length);
  body.append(levels.view());
}

function copyOf(bytes: Bytes): Buffer {
  return Buffer.from(bytes.view());
}

function pageHeader(page: Page, compressedSize: number): Buffer {
  const header = new ThriftWriter();
  header.struct(() => {
    header.i32(1, page.dictionary ? PAGE.DICTIONARY : PAGE.DATA);
    header.i32(2, page.body.length);
    header.i32(3, compressedSize);
    if (page.dictionary) {
      header.structField(7, () => {
        header.i32(1, page.values);
        header.i32(2, page.encoding);
      });
    } else {
      header.structField(5, () => {
        header.i32(1, page.values);
        header.i32(2, page.encoding);
        header.i32(3, ENCODING.RLE);
        header.i32(4, ENCODING.RLE);
      });
    }
  });
  return Buffer.from(header.out.view());
}

function fileMetadata(columns: readonly Column[], rows: number, rowGroups: readonly RowGroupMeta[]): Buffer {
  const meta = new ThriftWriter();
  meta.struct(() => {
    meta.i32(1, 1);
    meta.list(2, 'struct', columns.length + 1, (i) => {
      if (i === 0) {
        meta.binary(4, 'schema');
        meta.i32(5, columns.length);
        return;
      }
      const column = columns[i - 1]!;
      meta.i32(1, PHYSICAL_TYPES[column.type]);
      meta.i32(3, OPTIONAL);
      meta.binary(4, column.name);
      const converted = CONVERTED_TYPES[column.type];
      if (converted !== undefined) meta.i32(6, converted);
      logicalType(meta, column.type);
    });
    meta.i64(3, rows);
    meta.list(4, 'struct', rowGroups.length, (g) => {
      const group = rowGroups[g]!;
      meta.list(1, 'struct', group.chunks.length, (c) => columnChunk(meta, group.chunks[c]!));
      meta.i64(2, group.chunks.reduce((sum, chunk) => sum + chunk.uncompressed, 0));
      meta.i64(3, group.rows);
      meta.i64(5, group.chunks[0]?.start ?? 0);
      meta.i64(6, group.chunks.reduce((sum, chunk) => sum + chunk.compressed, 0));
    });
    meta.binary(6, `${PACKAGE_NAME} version ${VERSION}`);
    // TYPE_ORDER for every column: min and max are ordered by type (UTF-8 bytes for text), so readers use them.
    meta.list(7, 'struct', columns.length, () => meta.structField(1, () => {}));
  });
  return Buffer.from(meta.out.view());
}

/**
 * Converted types only, as DuckDB wrote them (readers of older files see the same schema), except an
 * instant: LogicalType TIMESTAMP(isAdjustedToUTC=true, MICROS), which DuckDB reads as TIMESTAMPTZ.
 */
function logicalType(meta: ThriftWriter, type: ColumnType): void {
  if (type !== 'timestamp') return;
  meta.structField(10, () =>
    meta.structField(8, () => {
      meta.bool(1, true);
      meta.structField(2, () => meta.structField(2, () => {}));
    }),
  );
}

function columnChunk(meta: ThriftWriter, chunk: ChunkMeta): void {
  const { column } = chunk;
  const { statistics } = chunk.chunk;
  meta.i64(2, chunk.start);
  meta.structField(3, () => {
    meta.i32(1, PHYSICAL_TYPES[column.type]);
    meta.list(2, 'i32', chunk.chunk.encodings.length, (e) => meta.listI32(chunk.chunk.encodings[e]!));
    meta.list(3, 'binary', 1, () => meta.listBinary(column.name));
    meta.i32(4, GZIP_CODEC);
    meta.i64(5, chunk.chunk.rows);
    meta.i64(6, chunk.uncompressed);
    meta.i64(7, chunk.compressed);
    meta.i64(9, chunk.dataOffset);
    if (chunk.dictionaryOffset !== undefined) meta.i64(11, chunk.dictionaryOffset);
    meta.structField(12, () => {
      meta.i64(3, statistics.nullCount);
      if (statistics.distinct !== undefined) meta.i64(4, statistics.distinct);
      if (statistics.max) meta.binary(5, statistics.max);
      if (statistics.min) meta.binary(6, statistics.min);
      if (statistics.max && !statistics.exactMax) meta.bool(7, false);
      if (statistics.min && !statistics.exactMin) meta.bool(8, false);
    });
  });
}
