import { rmSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DataError, diskFullError, errorMessage, isDiskFull } from '../../core/errors.js';
import { tempPathFor, trackTempFile, withAtomicFile } from '../../core/atomic-file.js';
import type { Column, ColumnType, Row, Table, TablePart, Value } from '../../core/table.js';
import { NULL_STRING, REPEATED_STRING, type ColumnBatch, type EncodedColumn } from './parquet-plain.js';
import { BUSY, INTERRUPT, STOPPING, type WorkerCall, type WorkerReply, type WorkerSetup } from './parquet-worker.js';

export interface ParquetSummary {
  path: string;
  rows: number;
  parts: Array<{ name: string; rows: number }>;
  skipped: Array<{ name: string; reason: string }>;
}

export interface WriteParquetOptions {
  /** Leave out a part that fails with a DataError instead of failing the whole file. */
  skipBadParts?: boolean;
  onPartSkipped?: (name: string, error: DataError) => void;
}

const DAY_MS = 86_400_000;
const WRITER_MEMORY = '64MB';
/** Rows per message to the worker, and how many such batches may be on their way at once. */
const BATCH_ROWS = 2048;
/** A batch is also cut at this many characters of text, so one page stays small however long the labels. */
const BATCH_CHARS = 4 * 1024 * 1024;
const BATCHES_IN_FLIGHT = 8;

/**
 * Streams a Table into one zstd parquet file. This thread checks each value against its column and
 * packs rows into column batches (typed arrays); a worker thread (parquet-worker.ts) writes them as a
 * plain, uncompressed parquet file per part (parquet-plain.ts) while the next rows are read; DuckDB
 * then reads those files and writes the real file with one COPY (zstd, statistics, 122,880-row groups).
 *
 * Why not DuckDB's appender: it costs a native call per value and then DuckDB's table append. On
 * 720,000 rows x 6 columns made in JS, the appender took 1.85 s (whole process), this 0.9 s; on
 * 1M x 10, 3.5 s and 1.8 s (docs/performance.md). Memory stays flat: the worker holds at most one row
 * group, DuckDB streams the files. A part that fails leaves nothing (its file is deleted); the parquet
 * file appears only when every row was written, and on any error the previous file stays.
 */
export async function writeParquet(table: Table, destination: string, options: WriteParquetOptions = {}): Promise<ParquetSummary> {
  const scratch = tempPathFor(destination);
  await mkdir(path.dirname(scratch), { recursive: true });
  const scratchFiles: string[] = [];
  const untrack: Array<() => void> = [];
  const columns = table.schema.columns;
  // One DuckDB thread and a small buffer pool keep the final COPY to one row group at a time.
  const worker = startWorker({ columns, duckdbOptions: { memory_limit: WRITER_MEMORY, threads: '1', preserve_insertion_order: 'true' } }, scratchFiles);
  try {
    const summary: ParquetSummary = { path: path.resolve(destination), rows: 0, parts: [], skipped: [] };
    for await (const part of table.parts) {
      const partFile = `${scratch}.${summary.parts.length + summary.skipped.length}.parquet`;
      scratchFiles.push(partFile);
      untrack.push(trackTempFile(partFile));
      await worker.call({ op: 'begin', path: partFile });
      try {
        const rows = await appendPart(part, columns, worker, table.schema.name);
        await worker.call({ op: 'commit' });
        summary.parts.push({ name: part.name, rows });
        summary.rows += rows;
      } catch (error) {
        // The part's own error is the one to report, even if removing its file fails too.
        await worker.call({ op: 'rollback' }).catch(() => undefined);
        if (!(error instanceof DataError) || !options.skipBadParts) throw error;
        summary.skipped.push({ name: part.name, reason: error.message });
        options.onPartSkipped?.(part.name, error);
      }
    }
    if (summary.parts.length === 0) {
      throw new DataError(summary.skipped.length > 0 ? `nothing written to ${destination}: every input was skipped` : `nothing written to ${destination}: there was no input`, {
        hint: summary.skipped.length > 0 ? 'see the warnings above for why each input was skipped' : 'check the inputs and the --from/--to range',
      });
    }
    await withAtomicFile(destination, (temp) => {
      scratchFiles.push(temp);
      return worker.call({ op: 'copy', path: temp });
    });
    return summary;
  } catch (error) {
    if (isDiskFull(error)) throw diskFullError(path.resolve(destination), error);
    // DuckDB's budget (memory_limit above) holds a row group of the final file: only text by the hundred MB fills it.
    if (/Out of Memory Error/.test(errorMessage(error))) {
      throw new DataError(`${path.basename(destination)}: the rows hold more text than the parquet writer's memory budget (${WRITER_MEMORY}) can take per row group`, {
        cause: error,
        hint: 'some labels in the input are likely thousands of characters long: check the workbooks with etl inspect',
      });
    }
    throw error;
  } finally {
    await worker.close();
    for (const file of scratchFiles) await rm(file, { force: true });
    for (const release of untrack) release();
  }
}

interface ParquetWorker {
  /** Sends a request; resolves when the worker has done it. Requests run in the order sent. */
  call(request: WorkerCall, transfer?: ArrayBuffer[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the worker; `files` are the paths it may write, removed again if the process exits while it
 * runs (the signal handler removes temp files first, but work still running could create them anew).
 */
function startWorker(options: Omit<WorkerSetup, 'state'>, files: readonly string[]): ParquetWorker {
  const state = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  // Run from TypeScript sources (the tests), the worker comes from dist/, which `npm test` builds first:
  // a worker thread cannot load .ts.
  const fromSources = import.meta.url.endsWith('.ts');
  const worker = new Worker(new URL(fromSources ? '../../../dist/transform/parquet/parquet-worker.js' : './parquet-worker.js', import.meta.url), {
    workerData: { ...options, state: state.buffer } satisfies WorkerSetup,
    // Its garbage is short-lived page buffers: a small young generation keeps peak memory down, at no cost in time.
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
  });
  // process.exit() (a signal, see cli.ts) must not tear the thread down mid-statement: stop the
  // statement and wait for it, a few seconds at most, then remove what it may have written.
  const onExit = (): void => {
    Atomics.store(state, STOPPING, 1);
    worker.postMessage(INTERRUPT);
    const deadline = Date.now() + 5000;
    for (let busy = Atomics.load(state, BUSY); busy > 0 && Date.now() < deadline; busy = Atomics.load(state, BUSY)) Atomics.wait(state, BUSY, busy, 50);
    for (const file of files) rmSync(file, { force: true });
  };
  process.on('exit', onExit);
  const waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let failure: Error | undefined;
  const failAll = (error: Error): void => {
    failure ??= error;
    for (const { reject } of waiting.values()) reject(error);
    waiting.clear();
  };
  worker.on('message', (reply: WorkerReply) => {
    const entry = waiting.get(reply.id);
    waiting.delete(reply.id);
    if (reply.ok) entry?.resolve();
    else entry?.reject(Object.assign(new Error(`parquet writer: ${reply.message}`), { stack: reply.stack, code: reply.code }));
  });
  worker.on('error', failAll);
  worker.on('exit', (code) => failAll(new Error(`parquet writer thread exited (code ${code})`)));
  const call = async (request: WorkerCall, transfer: ArrayBuffer[] = []): Promise<void> => {
    if (failure) throw failure;
    const id = nextId++;
    const done = new Promise<void>((resolve, reject) => waiting.set(id, { resolve, reject }));
    worker.postMessage({ ...request, id }, transfer);
    return done;
  };
  return {
    call,
    async close() {
      await call({ op: 'close' }).catch(() => undefined);
      await worker.terminate();
      process.off('exit', onExit);
    },
  };
}

/** Checks and packs a part's rows into column batches, keeping a few batches in flight to the worker. */
async function appendPart(part: TablePart, columns: readonly Column[], worker: ParquetWorker, tableName: string): Promise<number> {
  const inFlight: Array<Promise<void>> = [];
  const textColumns = columns.filter((column) => column.type === 'string').map((column) => column.name);
  let batch: Row[] = [];
  let batchChars = 0;
  let rows = 0;
  const send = async (): Promise<void> => {
    const { message, transfer } = encodeBatch(batch, rows - batch.length + 1, columns, `${part.name}: `, tableName);
    batch = [];
    batchChars = 0;
    const appended = worker.call({ op: 'append', batch: message }, transfer);
    appended.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
    inFlight.push(appended);
    if (inFlight.length >= BATCHES_IN_FLIGHT) await inFlight.shift();
  };
  try {
    for await (const row of part.rows) {
      rows++;
      batch.push(row);
      for (const name of textColumns) {
        const value = row[name];
        if (typeof value === 'string') batchChars += value.length;
      }
      if (batch.length === BATCH_ROWS || batchChars >= BATCH_CHARS) await send();
    }
    if (batch.length > 0) await send();
    await Promise.all(inFlight);
    return rows;
  } catch (error) {
    await Promise.allSettled(inFlight);
    throw error;
  }
}

/**
 * Checks each value against its column and packs the rows column by column (one property name per
 * loop keeps V8's lookups fast), without an object per value: numbers into typed arrays (int64 and
 * timestamps as exact doubles while they fit, else bigints), strings joined.
 */
function encodeBatch(rows: readonly Row[], firstRowNumber: number, columns: readonly Column[], where: string, tableName: string): { message: ColumnBatch; transfer: ArrayBuffer[] } {
  const encoded: EncodedColumn[] = [];
  const transfer: ArrayBuffer[] = [];
  for (const column of columns) {
    const fail = (index: number, value: Value): never => {
      if (value === null) throw new DataError(`${where}row ${firstRowNumber + index} of ${tableName} has no ${column.name}, which may not be empty`);
      throw new DataError(`row ${firstRowNumber + index}: column ${column.name} expects ${column.type}, got ${JSON.stringify(String(value))}`);
    };
    const packed = column.type === 'string' ? encodeStrings(rows, column, fail) : encodeValues(rows, column as ValueColumn, fail);
    encoded.push(packed);
    if (packed.type === 'string') transfer.push(packed.lengths.buffer as ArrayBuffer);
    else {
      transfer.push(packed.values.buffer as ArrayBuffer);
      if (packed.nulls) transfer.push(packed.nulls.buffer as ArrayBuffer);
    }
  }
  return { message: { rows: rows.length, columns: encoded }, transfer };
}

function encodeStrings(rows: readonly Row[], column: Column, fail: (index: number, value: Value) => never): EncodedColumn {
  const { name, nullable } = column;
  const lengths = new Int32Array(rows.length);
  const parts: string[] = [];
  let previous: Value = null;
  for (let i = 0; i < rows.length; i++) {
    const value = rows[i]![name] ?? null;
    if (value === null) {
      if (!nullable) fail(i, value);
      lengths[i] = NULL_STRING;
    } else if (value === previous) {
      lengths[i] = REPEATED_STRING;
    } else {
      const text = String(value);
      lengths[i] = text.length;
      parts.push(text);
    }
    previous = value;
  }
  return { type: 'string', text: parts.join(''), lengths };
}

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

type ValueColumn = Column & { type: Exclude<ColumnType, 'string'> };

function encodeValues(rows: readonly Row[], column: ValueColumn, fail: (index: number, value: Value) => never): EncodedColumn {
  const { name, nullable, type } = column;
  const n = rows.length;
  let values: Int32Array | Float64Array | Uint8Array | BigInt64Array = type === 'int32' || type === 'date' ? new Int32Array(n) : type === 'boolean' ? new Uint8Array(n) : new Float64Array(n);
  let nulls: Uint8Array | null = null;
  for (let i = 0; i < n; i++) {
    const value = rows[i]![name] ?? null;
    if (value === null) {
      if (!nullable) fail(i, value);
      (nulls ??= new Uint8Array(n))[i] = 1;
      continue;
    }
    switch (type) {
      case 'int32':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) fail(i, value);
        values[i] = value as number;
        break;
      case 'double':
        if (typeof value !== 'number') fail(i, value);
        values[i] = value as number;
        break;
      case 'boolean':
        if (typeof value !== 'boolean') fail(i, value);
        values[i] = value ? 1 : 0;
        break;
      case 'date':
        if (!(value instanceof Date)) fail(i, value);
        values[i] = Math.floor((value as Date).getTime() / DAY_MS);
        break;
      case 'timestamp':
        if (!(value instanceof Date)) fail(i, value);
        values[i] = (value as Date).getTime() * 1000;
        break;
      case 'int64':
        if (typeof value === 'number' && Number.isSafeInteger(value)) {
          values[i] = values instanceof BigInt64Array ? BigInt(value) : value;
        } else if (typeof value === 'bigint' && BigInt.asIntN(64, value) === value) {
          // Beyond 2^53 a double is not exact: the rest of this batch goes as bigints.
          if (!(values instanceof BigInt64Array)) values = BigInt64Array.from(values as Float64Array, (v) => BigInt(v));
          values[i] = value;
        } else {
          fail(i, value);
        }
        break;
    }
  }
  return { type, values, nulls };
}
