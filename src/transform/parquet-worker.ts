import { parentPort, workerData } from 'node:worker_threads';
import type { ColumnType } from '../core/table.js';

/**
 * The DuckDB side of writeParquet, on a worker thread: it fills DuckDB data chunks from column
 * batches, appends them, and finally copies the table to parquet. Handing a value to DuckDB costs a
 * native call per string, so doing it here lets the main thread read and reshape the next rows
 * meanwhile (see write-parquet.ts for the numbers).
 */

/**
 * A batch of rows, column by column, in typed arrays that are transferred rather than copied. A
 * string column is one joined string plus each value's length, which posts far faster than an array
 * of strings; a repeat of the previous value is not joined again.
 */
export interface ColumnBatch {
  rows: number;
  columns: EncodedColumn[];
}

export const NULL_STRING = -1;
export const REPEATED_STRING = -2;

export type EncodedColumn =
  /** lengths[i] is the length of value i in text, or NULL_STRING, or REPEATED_STRING (same as value i - 1). */
  | { type: 'string'; text: string; lengths: Int32Array }
  /** int32 as is, date as days since 1970-01-01, int64 as bigint, timestamp as microseconds, boolean as 0/1. */
  | { type: Exclude<ColumnType, 'string'>; values: Int32Array | BigInt64Array | Float64Array | Uint8Array; nulls: Uint8Array | null };

export type WorkerCall =
  | { op: 'begin' }
  | { op: 'append'; batch: ColumnBatch }
  | { op: 'commit' }
  | { op: 'rollback' }
  | { op: 'copy'; path: string }
  | { op: 'close' };

export type WorkerRequest = WorkerCall & { id: number };

export type WorkerReply = { id: number; ok: true } | { id: number; ok: false; message: string; stack?: string };

/** Sent outside the request queue: stop the running statement now. */
export const INTERRUPT = 'interrupt';

export interface WorkerSetup {
  database: string;
  /** CREATE TABLE column list. */
  columnsSql: string;
  options: Record<string, string>;
  /** Int32Array over it: [BUSY] is 1 while a DuckDB statement runs, [STOPPING] is set by the main thread on exit. */
  state: SharedArrayBuffer;
}

export const BUSY = 0;
export const STOPPING = 1;

type Duck = typeof import('@duckdb/node-api');
type Vector = import('@duckdb/node-api').DuckDBVector;
type Value = import('@duckdb/node-api').DuckDBValue;

const TABLE = 'rows_out';

async function serve(port: NonNullable<typeof parentPort>, setup: WorkerSetup): Promise<void> {
  const state = new Int32Array(setup.state);
  /**
   * A thread torn down inside a DuckDB call, or while a DuckDB promise is pending, aborts the whole
   * process (the binding throws from native code), and process.exit() tears workers down. So all DuckDB
   * work is flagged: on exit the main thread sets STOPPING and waits until BUSY is 0 (write-parquet.ts).
   * BUSY is set before STOPPING is read, and the main thread sets STOPPING before it reads BUSY, so one
   * of the two always sees the other.
   */
  const busy = async <T>(work: () => Promise<T>): Promise<T> => {
    Atomics.store(state, BUSY, 1);
    try {
      if (Atomics.load(state, STOPPING) === 1) throw new Error('the process is exiting');
      return await work();
    } finally {
      Atomics.store(state, BUSY, 0);
      Atomics.notify(state, BUSY);
    }
  };
  const duck: Duck = await import('@duckdb/node-api');
  const { instance, connection } = await busy(async () => {
    const instance = await duck.DuckDBInstance.create(setup.database, setup.options);
    const connection = await instance.connect();
    await connection.run(`CREATE TABLE ${TABLE} (${setup.columnsSql})`);
    return { instance, connection };
  });
  let appender: import('@duckdb/node-api').DuckDBAppender | undefined;

  const handle = async (request: WorkerRequest): Promise<void> => {
    switch (request.op) {
      case 'begin':
        // Each part is one transaction, so a part that fails half-way leaves no rows behind.
        await connection.run('BEGIN TRANSACTION');
        appender = await connection.createAppender(TABLE);
        return;
      case 'append':
        appendBatch(duck, appender!, request.batch);
        // Flushing each batch into the table now keeps the work off the final commit.
        appender!.flushSync();
        return;
      case 'commit':
        appender!.closeSync();
        appender = undefined;
        await connection.run('COMMIT');
        return;
      case 'rollback':
        appender?.clear();
        appender = undefined;
        await connection.run('ROLLBACK');
        return;
      case 'copy':
        await connection.run(`COPY ${TABLE} TO '${request.path.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`);
        return;
      case 'close':
        connection.closeSync();
        instance.closeSync();
        return;
    }
  };

  // Requests run one at a time, in the order sent.
  let queue = Promise.resolve();
  port.on('message', (request: WorkerRequest | typeof INTERRUPT) => {
    if (request === INTERRUPT) {
      connection.interrupt();
      return;
    }
    queue = queue.then(async () => {
      try {
        await busy(() => handle(request));
        port.postMessage({ id: request.id, ok: true } satisfies WorkerReply);
      } catch (error) {
        const { message, stack } = error instanceof Error ? error : { message: String(error), stack: undefined };
        port.postMessage({ id: request.id, ok: false, message, stack } satisfies WorkerReply);
      }
      if (request.op === 'close') port.close();
    });
  });
  port.postMessage({ id: 0, ok: true } satisfies WorkerReply);
}

/** Fills one DuckDB data chunk (2,048 rows) at a time from the batch's columns and appends it. */
function appendBatch(duck: Duck, appender: import('@duckdb/node-api').DuckDBAppender, batch: ColumnBatch): void {
  const chunkRows = duck.DuckDBVector.standardSize();
  const types = batch.columns.map((_, i) => appender.columnType(i));
  const chunk = duck.DuckDBDataChunk.create(types, chunkRows);
  const fillers = batch.columns.map((column) => fillerFor(duck, column));
  for (let offset = 0; offset < batch.rows; offset += chunkRows) {
    const rows = Math.min(chunkRows, batch.rows - offset);
    chunk.rowCount = rows;
    for (let c = 0; c < fillers.length; c++) {
      const vector = chunk.getColumnVector(c);
      fillers[c]!(vector, offset, rows);
      vector.flush();
    }
    appender.appendDataChunk(chunk);
    chunk.reset();
  }
}

type Filler = (vector: Vector, offset: number, rows: number) => void;

function fillerFor(duck: Duck, column: EncodedColumn): Filler {
  if (column.type === 'string') {
    const { text, lengths } = column;
    let position = 0;
    let previous: string | null = null;
    // Chunks are filled in order, so the read position carries over from one chunk to the next.
    return (vector, offset, rows) => {
      for (let i = 0; i < rows; i++) {
        const length = lengths[offset + i]!;
        if (length === NULL_STRING) {
          previous = null;
        } else if (length !== REPEATED_STRING) {
          previous = text.slice(position, position + length);
          position += length;
        }
        vector.setItem(i, previous);
      }
    };
  }
  const { values, nulls } = column;
  const convert = converterFor(duck, column.type, values);
  return (vector, offset, rows) => {
    for (let i = 0; i < rows; i++) vector.setItem(i, nulls !== null && nulls[offset + i] === 1 ? null : convert(offset + i));
  };
}

function converterFor(duck: Duck, type: Exclude<ColumnType, 'string'>, values: Int32Array | BigInt64Array | Float64Array | Uint8Array): (index: number) => Value {
  switch (type) {
    case 'int32':
    case 'double':
      return (i) => (values as Int32Array | Float64Array)[i]!;
    case 'int64':
      return (i) => (values as BigInt64Array)[i]!;
    case 'boolean':
      return (i) => values[i] === 1;
    case 'date':
      return (i) => new duck.DuckDBDateValue((values as Int32Array)[i]!);
    case 'timestamp':
      return (i) => new duck.DuckDBTimestampValue((values as BigInt64Array)[i]!);
  }
}

if (parentPort) {
  const port = parentPort;
  serve(port, workerData as WorkerSetup).catch((error: unknown) => {
    const { message, stack } = error instanceof Error ? error : { message: String(error), stack: undefined };
    port.postMessage({ id: 0, ok: false, message, stack } satisfies WorkerReply);
    port.close();
  });
}
