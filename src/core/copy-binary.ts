/**
 * `COPY … TO STDOUT (FORMAT binary)` decoded straight into per-column arrays: typed arrays for numbers, dates and
 * times, string arrays for text, a batch of rows at a time. No row objects: 1M rows x 10 columns as objects cost
 * more than DuckDB's whole CSV read and parquet write (README, Performance, issue 23).
 *
 * The format (PostgreSQL docs, "COPY", Binary Format): an 11-byte signature, a 32-bit flags word and a header
 * extension (its length first); then per row a 16-bit field count (-1 ends the data) and per field a 32-bit
 * length (-1 for NULL) and that many bytes, each value in its type's send format, big-endian. Socket reads
 * cut rows anywhere: a row that does not fit in what has arrived is read again once enough bytes have.
 */

/** How a field's bytes are read (its type's send format). Anything else is cast to text in the SELECT. */
export type CopyFieldKind = 'int2' | 'int4' | 'int8' | 'float4' | 'float8' | 'numeric' | 'bool' | 'date' | 'timestamp' | 'text';

/** One column of a batch, in the shape the parquet writer's appendColumns takes; entries past `length` are stale. */
export interface DecodedColumn {
  strings: Array<string | null>;
  numbers: Int32Array | Float64Array | Uint8Array | BigInt64Array;
  /** 1 where the value is NULL (numbers only; a NULL text is null in `strings`); null when the batch has none. */
  nulls: Uint8Array | null;
  length: number;
}

export interface DecodedBatch {
  rows: number;
  columns: DecodedColumn[];
}

const EMPTY = Buffer.alloc(0);
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Days and microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01. */
const EPOCH_DAYS = 10_957;
const EPOCH_MICROS = 946_684_800_000_000;
const TWO_32 = 4_294_967_296;
/** A high word within ±2^21 makes a 64-bit integer a double exactly (|value| < 2^53). */
const SAFE_HIGH = 2_097_152;
const INT32_MAX = 2_147_483_647;
const INT64_MAX = 9_223_372_036_854_775_807n;
const NUMERIC_NAN = 0xc000;
const NUMERIC_NEGATIVE = 0x4000;
const NUMERIC_INFINITY = 0xd000;
const NUMERIC_NEGATIVE_INFINITY = 0xf000;
/** Powers of 10,000 a double holds exactly (10^20 < 2^67 but is a multiple of 2^20: exact up to 10^22). */
const BASE_POWERS = [1, 1e4, 1e8, 1e12, 1e16, 1e20];

const KIND_CODES: Record<CopyFieldKind, number> = { int2: 0, int4: 1, int8: 2, float4: 3, float8: 4, numeric: 5, bool: 6, date: 7, timestamp: 8, text: 9 };

/** Incomplete input: the row (or header) needs at least this many bytes from where it began. */
class NeedMore {
  constructor(readonly bytes: number) {}
}

export class BinaryCopyDecoder {
  private readonly codes: Int32Array;
  private readonly batch: DecodedBatch;
  private readonly hasNulls: boolean[];
  private readonly texts: Array<TextCache | undefined>;
  private headerRead = false;
  private ended = false;
  /** Bytes of an incomplete row (or header), kept until `needed` bytes have arrived. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private needed = 0;
  private rows = 0;
  private taken = false;
  private bytes: Buffer = EMPTY;
  private view: DataView = new DataView(EMPTY.buffer, 0, 0);
  private at = 0;

  constructor(kinds: readonly CopyFieldKind[], private readonly batchRows: number) {
    this.codes = Int32Array.from(kinds, (kind) => KIND_CODES[kind]);
    this.batch = { rows: 0, columns: kinds.map((kind) => emptyColumn(kind, batchRows)) };
    this.hasNulls = kinds.map(() => false);
    this.texts = kinds.map((kind) => (kind === 'text' ? new TextCache() : undefined));
  }

  /** Takes the next socket read (after take() has returned undefined for the one before). */
  push(chunk: Buffer): void {
    if (this.ended) {
      if (chunk.length > 0) throw new Error('COPY binary: data after the end of the rows');
      return;
    }
    this.bytes = chunk;
    this.view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.at = 0;
    if (this.pendingBytes > 0) this.completePending();
  }

  /**
   * The row cut short by the last read, completed from the start of this one: only its bytes are joined, not the
   * whole read (a copy of every byte otherwise, as nearly every read ends inside a row).
   */
  private completePending(): void {
    const chunk = this.bytes;
    let from = 0;
    for (;;) {
      const more = Math.min(chunk.length, from + Math.max(this.needed - this.pendingBytes, 0) + 256);
      const joined = Buffer.concat([...this.pending, chunk.subarray(from, more)]);
      const view = new DataView(joined.buffer, joined.byteOffset, joined.byteLength);
      try {
        const end = this.headerRead ? this.readRow(joined, view, 0) : this.readHeader(joined, view);
        this.headerRead = true;
        this.at = end - this.pendingBytes + from;
        this.pending = [];
        this.pendingBytes = 0;
        return;
      } catch (error) {
        if (!(error instanceof NeedMore)) throw error;
        this.needed = error.bytes;
        if (more === chunk.length) {
          // Still short: all of this read waits with the rest for the next one.
          this.pending = [joined];
          this.pendingBytes = joined.length;
          this.bytes = EMPTY;
          this.at = 0;
          return;
        }
        from = more;
        this.pending = [joined];
        this.pendingBytes = joined.length;
      }
    }
  }

  /**
   * The next full batch from what has arrived, or undefined once it is used up (a row cut short waits for the
   * next push). The batch's arrays are reused from the next call on.
   */
  take(): DecodedBatch | undefined {
    if (this.taken) this.reset();
    // The row completed from the last read's bytes may have filled the batch.
    if (this.rows === this.batchRows) return this.emit();
    const { bytes, view } = this;
    try {
      if (!this.headerRead && bytes.length > 0) {
        this.at = this.readHeader(bytes, view);
        this.headerRead = true;
      }
      while (this.at < bytes.length && !this.ended) {
        this.at = this.readRow(bytes, view, this.at);
        if (this.rows === this.batchRows) return this.emit();
      }
    } catch (error) {
      if (!(error instanceof NeedMore)) throw error;
      this.pending = [bytes.subarray(this.at)];
      this.pendingBytes = bytes.length - this.at;
      this.needed = error.bytes;
    }
    this.bytes = EMPTY;
    this.at = 0;
    return undefined;
  }

  /** The input ended: the last rows, or a failure if it stopped inside a row or before the end marker. */
  finish(): DecodedBatch | undefined {
    if (this.taken) this.reset();
    if (!this.ended) throw new Error(`COPY binary: the data stopped ${this.pendingBytes > 0 ? 'inside a row' : 'before its end marker'}`);
    return this.rows > 0 ? this.emit() : undefined;
  }

  private emit(): DecodedBatch {
    const { batch, rows } = this;
    batch.rows = rows;
    batch.columns.forEach((column, c) => {
      column.length = rows;
      if (!this.hasNulls[c]) column.nulls = null;
    });
    this.taken = true;
    return batch;
  }

  private reset(): void {
    this.taken = false;
    this.rows = 0;
    this.batch.columns.forEach((column, c) => {
      this.hasNulls[c] = false;
      // A batch with a 64-bit integer past 2^53 held bigints; the next starts with doubles again.
      if (column.numbers instanceof BigInt64Array) column.numbers = new Float64Array(this.batchRows);
    });
  }

  private readHeader(bytes: Buffer, view: DataView): number {
    if (bytes.length < 19) throw new NeedMore(19);
    if (!bytes.subarray(0, 11).equals(SIGNATURE)) throw new Error('COPY binary: not PGCOPY data (no signature)');
    if ((view.getUint32(11) & 0x10000) !== 0) throw new Error('COPY binary: rows with OIDs are not read');
    const end = 19 + view.getUint32(15);
    if (bytes.length < end) throw new NeedMore(end);
    return end;
  }

  /** Reads the row at `start` into the batch; returns where the next one begins. */
  private readRow(bytes: Buffer, view: DataView, start: number): number {
    const length = bytes.length;
    if (start + 2 > length) throw new NeedMore(2);
    const fields = view.getInt16(start);
    if (fields === -1) {
      this.ended = true;
      return start + 2;
    }
    const codes = this.codes;
    if (fields !== codes.length) throw new Error(`COPY binary: a row of ${fields} fields, expected ${codes.length}`);
    const row = this.rows;
    const columns = this.batch.columns;
    let at = start + 2;
    for (let c = 0; c < fields; c++) {
      if (at + 4 > length) throw new NeedMore(at + 4 - start);
      const size = view.getInt32(at);
      at += 4;
      const column = columns[c]!;
      if (size === -1) {
        if (codes[c] === 9) {
          column.strings[row] = null;
        } else {
          (column.nulls ??= new Uint8Array(this.batchRows))[row] = 1;
          this.hasNulls[c] = true;
        }
        continue;
      }
      if (at + size > length) throw new NeedMore(at + size - start);
      if (column.nulls !== null) column.nulls[row] = 0;
      const numbers = column.numbers;
      switch (codes[c]) {
        case 0:
          numbers[row] = view.getInt16(at);
          break;
        case 1:
          numbers[row] = view.getInt32(at);
          break;
        case 2: {
          const high = view.getInt32(at);
          if (high >= -SAFE_HIGH && high < SAFE_HIGH && !(numbers instanceof BigInt64Array)) numbers[row] = high * TWO_32 + view.getUint32(at + 4);
          else widen(column, row)[row] = view.getBigInt64(at);
          break;
        }
        case 3:
          numbers[row] = shortestDouble(view.getFloat32(at));
          break;
        case 4:
          numbers[row] = view.getFloat64(at);
          break;
        case 5:
          numbers[row] = numericValue(view, at);
          break;
        case 6:
          numbers[row] = bytes[at]!;
          break;
        case 7: {
          const days = view.getInt32(at);
          // ±infinity are the int32 extremes, as DuckDB's date infinities are.
          numbers[row] = days === INT32_MAX || days === -INT32_MAX - 1 ? days : days + EPOCH_DAYS;
          break;
        }
        case 8: {
          const high = view.getInt32(at);
          if (high >= -SAFE_HIGH && high < SAFE_HIGH && !(numbers instanceof BigInt64Array)) {
            numbers[row] = high * TWO_32 + view.getUint32(at + 4) + EPOCH_MICROS;
          } else {
            const micros = view.getBigInt64(at);
            // ±infinity are the int64 extremes, as DuckDB's timestamp infinities are.
            widen(column, row)[row] = micros === INT64_MAX || micros === -INT64_MAX - 1n ? micros : micros + BigInt(EPOCH_MICROS);
          }
          break;
        }
        default:
          column.strings[row] = size === 0 ? '' : this.texts[c]!.text(bytes, at, size);
      }
      at += size;
    }
    this.rows = row + 1;
    return at;
  }
}

const TEXT_CACHE_SLOTS = 1 << 14;
/** Longer texts are decoded each time: they rarely repeat, and comparing them costs what decoding does. */
const TEXT_CACHE_BYTES = 32;
/** Values looked at before a column whose texts hardly repeat stops using its cache. */
const TEXT_CACHE_TRIAL = 8192;

/**
 * A column's recent short ASCII texts by a hash of their bytes: a value seen before is the same string again,
 * with no allocation (codes, categories and names repeat: three million new strings were a fifth of the
 * extract's CPU, in decoding and garbage collection), and the parquet writer's dictionary finds it by the hash
 * V8 keeps in the string.
 */
class TextCache {
  private readonly slots: Array<string | undefined> = new Array<string | undefined>(TEXT_CACHE_SLOTS).fill(undefined);
  private seen = 0;
  private hits = 0;
  private enabled = true;

  text(bytes: Buffer, at: number, size: number): string {
    if (!this.enabled || size > TEXT_CACHE_BYTES) return bytes.toString('utf8', at, at + size);
    let hash = 0x811c9dc5;
    let high = 0;
    for (let i = at, end = at + size; i < end; i++) {
      const byte = bytes[i]!;
      high |= byte;
      hash = Math.imul(hash ^ byte, 0x01000193);
    }
    if (high > 0x7f) return bytes.toString('utf8', at, at + size);
    if (++this.seen === TEXT_CACHE_TRIAL && this.hits < TEXT_CACHE_TRIAL / 4) this.enabled = false;
    const slot = (hash ^ (hash >>> 16)) & (TEXT_CACHE_SLOTS - 1);
    const cached = this.slots[slot];
    if (cached !== undefined && cached.length === size && sameAscii(cached, bytes, at)) {
      this.hits++;
      return cached;
    }
    // Buffer's own latin1Slice: toString()'s argument checks were a third of the cost of a short text.
    const text = (bytes as Buffer & { latin1Slice(start: number, end: number): string }).latin1Slice(at, at + size);
    this.slots[slot] = text;
    return text;
  }
}

function sameAscii(text: string, bytes: Buffer, at: number): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== bytes[at + i]) return false;
  return true;
}

/** The column's batch as bigints from here on (the rows before kept), for a 64-bit value a double would round. */
function widen(column: DecodedColumn, rows: number): BigInt64Array {
  if (column.numbers instanceof BigInt64Array) return column.numbers;
  const wide = new BigInt64Array(column.numbers.length);
  const numbers = column.numbers;
  for (let i = 0; i < rows; i++) wide[i] = BigInt(numbers[i]!);
  column.numbers = wide;
  return wide;
}

/**
 * A real as the double of its shortest decimal text, which is what the server's text output gives and what a
 * CSV reader read: 1.1, not 1.100000023841858.
 */
function shortestDouble(value: number): number {
  if (!Number.isFinite(value) || value === 0) return value;
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return Number(value.toPrecision(9));
}

/**
 * A numeric's send format as a double: digit count, weight (of the first base-10,000 digit), sign, display
 * scale, then the digits. One exact integer divided (or multiplied) by an exact power of 10,000 rounds once,
 * as a cast of the decimal text does; longer values go through that text.
 */
function numericValue(view: DataView, at: number): number {
  const count = view.getInt16(at);
  const weight = view.getInt16(at + 2);
  const sign = view.getUint16(at + 4);
  if (sign === NUMERIC_NAN) return NaN;
  if (sign === NUMERIC_INFINITY) return Infinity;
  if (sign === NUMERIC_NEGATIVE_INFINITY) return -Infinity;
  const negative = sign === NUMERIC_NEGATIVE;
  let whole = 0;
  for (let i = 0; i < count; i++) whole = whole * 10_000 + view.getInt16(at + 8 + 2 * i);
  const exponent = weight - count + 1;
  let value: number;
  if (whole <= Number.MAX_SAFE_INTEGER && Math.abs(exponent) < BASE_POWERS.length) {
    value = exponent < 0 ? whole / BASE_POWERS[-exponent]! : whole * BASE_POWERS[exponent]!;
  } else {
    let digits = '';
    for (let i = 0; i < count; i++) digits += String(view.getInt16(at + 8 + 2 * i)).padStart(4, '0');
    value = Number(`${digits}e${exponent * 4}`);
  }
  return negative ? -value : value;
}

function emptyColumn(kind: CopyFieldKind, rows: number): DecodedColumn {
  const numbers = kind === 'text' ? new Uint8Array(0) : kind === 'int2' || kind === 'int4' || kind === 'date' ? new Int32Array(rows) : kind === 'bool' ? new Uint8Array(rows) : new Float64Array(rows);
  return { strings: [], numbers, nulls: null, length: 0 };
}

/** Decodes a COPY binary stream a batch at a time; each batch's arrays are reused for the next, so use it before asking for another. */
export async function* decodeBinaryCopy(chunks: AsyncIterable<Buffer>, kinds: readonly CopyFieldKind[], batchRows: number): AsyncGenerator<DecodedBatch> {
  const decoder = new BinaryCopyDecoder(kinds, batchRows);
  for await (const chunk of chunks) {
    decoder.push(chunk);
    for (let batch = decoder.take(); batch; batch = decoder.take()) yield batch;
  }
  const last = decoder.finish();
  if (last) yield last;
}
