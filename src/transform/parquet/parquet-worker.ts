import { rmSync, statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { Column } from '../../core/table.js';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { PlainParquetWriter, type ColumnBatch } from './parquet-plain.js';

/**
 * The writing side of writeParquet, on a worker thread so the main thread can read the next rows
 * meanwhile: column batches become pages of a plain parquet file per part (parquet-plain.ts), and at
 * the end DuckDB reads those files and writes the one real parquet file.
 */

export type WorkerCall =
  | { op: 'begin'; path: string }
  | { op: 'append'; batch: ColumnBatch }
  | { op: 'commit' }
  | { op: 'rollback' }
  | { op: 'copy'; path: string }
  | { op: 'close' };

export type WorkerRequest = WorkerCall & { id: number };

/** `code` is the errno code of a failed write (ENOSPC), so the main thread can tell a full disk from a bug. */
export type WorkerReply = { id: number; ok: true } | { id: number; ok: false; message: string; stack?: string; code?: string };

/** Sent outside the request queue: stop the running statement now. */
export const INTERRUPT = 'interrupt';

export interface WorkerSetup {
  columns: readonly Column[];
  duckdbOptions: Record<string, string>;
  /** Int32Array over it: [BUSY] counts work in progress in the worker, [STOPPING] is set by the main thread on exit. */
  state: SharedArrayBuffer;
}

export const BUSY = 0;
export const STOPPING = 1;

function serve(port: NonNullable<typeof parentPort>, setup: WorkerSetup): void {
  const state = new Int32Array(setup.state);
  /**
   * A thread torn down inside a DuckDB call, or while a DuckDB promise is pending, aborts the whole
   * process (the binding throws from native code), and process.exit() tears workers down. So all work
   * is counted: on exit the main thread sets STOPPING and waits until BUSY is 0 (write-parquet.ts).
   * BUSY is raised before STOPPING is read, and the main thread sets STOPPING before it reads BUSY, so
   * one of the two always sees the other. A count, because DuckDB opens while parts are written.
   */
  const busy = async <T>(work: () => Promise<T> | T): Promise<T> => {
    Atomics.add(state, BUSY, 1);
    try {
      if (Atomics.load(state, STOPPING) === 1) throw new Error('the process is exiting');
      return await work();
    } finally {
      Atomics.sub(state, BUSY, 1);
      Atomics.notify(state, BUSY);
    }
  };
  // DuckDB is needed only for the final copy: it opens (0.3 s and more) while the parts are written,
  // instead of holding back the first rows.
  let opened: { instance: DuckDBInstance; connection: DuckDBConnection } | undefined;
  const duckdb = busy(async () => {
    const duck = await import('@duckdb/node-api'); // loading the binding counts too
    const instance = await duck.DuckDBInstance.create(':memory:', setup.duckdbOptions);
    return (opened = { instance, connection: await instance.connect() });
  });
  duckdb.catch(() => undefined); // reported by the copy that needs it
  const parts: Array<{ path: string; rows: number }> = [];
  let part: { path: string; writer: PlainParquetWriter; rows: number } | undefined;

  const handle = async (request: WorkerRequest): Promise<void> => {
    switch (request.op) {
      case 'begin':
        // Each part has a file of its own, so a part that fails half-way leaves no rows behind.
        part = { path: request.path, writer: new PlainParquetWriter(request.path, setup.columns), rows: 0 };
        return;
      case 'append':
        part!.writer.add(request.batch);
        part!.rows += request.batch.rows;
        return;
      case 'commit':
        part!.writer.close();
        parts.push({ path: part!.path, rows: part!.rows });
        part = undefined;
        return;
      case 'rollback':
        if (part) {
          part.writer.abandon();
          rmSync(part.path, { force: true });
        }
        part = undefined;
        return;
      case 'copy': {
        const { connection } = await duckdb;
        const { listValue } = await import('@duckdb/node-api');
        // Paths are bound, not pasted; the row-group size is a number etl computed (COPY options take no parameters).
        await connection.run(`COPY (SELECT * FROM read_parquet($1)) TO $2 (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${rowGroupRows(parts)})`, [listValue(parts.map((p) => p.path)), request.path]);
        return;
      }
      case 'close': {
        const { instance, connection } = await duckdb.catch(() => ({ instance: undefined, connection: undefined }));
        connection?.closeSync();
        instance?.closeSync();
        return;
      }
    }
  };

  // Requests run one at a time, in the order sent.
  let queue = Promise.resolve();
  port.on('message', (request: WorkerRequest | typeof INTERRUPT) => {
    if (request === INTERRUPT) {
      // Only while a statement runs: BUSY cannot drop during this call, so the main thread waits for it;
      // a DuckDB call made once the main thread no longer waits could abort the process.
      if (Atomics.load(state, BUSY) > 0) opened?.connection.interrupt();
      return;
    }
    queue = queue.then(async () => {
      try {
        await busy(() => handle(request));
        port.postMessage({ id: request.id, ok: true } satisfies WorkerReply);
      } catch (error) {
        const { message, stack } = error instanceof Error ? error : { message: String(error), stack: undefined };
        const code = (error as NodeJS.ErrnoException | undefined)?.code;
        port.postMessage({ id: request.id, ok: false, message, stack, code: typeof code === 'string' ? code : undefined } satisfies WorkerReply);
      }
      if (request.op === 'close') port.close();
    });
  });
}

/**
 * DuckDB holds a whole row group while it writes it: its rows must fit well inside memory_limit, and
 * that buffer is most of the writer's peak memory (8 MB rather than 16 cut 100,000 people's peak by 20 MB).
 */
const ROW_GROUP_BYTES = 8 * 1024 * 1024;
const MAX_ROW_GROUP_ROWS = 122_880;
const MIN_ROW_GROUP_ROWS = 2048;

/**
 * 122,880 rows (DuckDB's default) for narrow tables; fewer for wide ones (a person with 31 text fields
 * is ~500 bytes: 16,000-row groups), sized from the plain files, which hold the values uncompressed.
 */
function rowGroupRows(files: ReadonlyArray<{ path: string; rows: number }>): number {
  let bytes = 0;
  let rows = 0;
  for (const file of files) {
    bytes += statSync(file.path).size;
    rows += file.rows;
  }
  if (rows === 0) return MAX_ROW_GROUP_ROWS;
  return Math.max(MIN_ROW_GROUP_ROWS, Math.min(MAX_ROW_GROUP_ROWS, Math.floor(ROW_GROUP_BYTES / (bytes / rows))));
}

if (parentPort) {
  const port = parentPort;
  serve(port, workerData as WorkerSetup);
}
