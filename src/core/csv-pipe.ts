import { execFile } from 'node:child_process';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { DuckDBConnection } from '@duckdb/node-api';
import { openDuckDbStatements, type DuckDbStatements } from './duckdb.js';
import { errorMessage } from './errors.js';

/**
 * Parquet <-> Postgres COPY through a named pipe: DuckDB writes (or reads) CSV in native code on one end, the COPY
 * stream carries the bytes on the other, and neither side ever holds more than a pipe buffer. Measured on 1M rows
 * x 10 columns, this took 3.7 s where encoding DuckDB's chunks to CSV in JavaScript took 13.6 s (README, Choices).
 */

/**
 * Connects (`connect`) and opens DuckDB at once: loading DuckDB's native library and starting its instance take
 * about as long as connecting and authenticating to a server, so doing both together saves one of them (~0.1-0.3 s
 * of each `etl load`/`extract` against Postgres). If either fails, the other is closed before the error is thrown.
 */
export async function connectBesideDuckDb<T>(connect: Promise<T>, disconnect: (connection: T) => Promise<void>, threads = 1): Promise<[T, Awaited<ReturnType<typeof openDuckDbStatements>>]> {
  const opening = openDuckDbStatements(threads);
  const [connection, duck] = await Promise.allSettled([connect, opening]);
  if (connection.status === 'fulfilled' && duck.status === 'fulfilled') return [connection.value, duck.value];
  if (duck.status === 'fulfilled') duck.value.close();
  if (connection.status === 'fulfilled') await disconnect(connection.value).catch(() => undefined);
  throw connection.status === 'rejected' ? connection.reason : (duck as PromiseRejectedResult).reason;
}

const PIPE_READ_BYTES = 64 * 1024;

/** Runs `body` with a fresh named pipe in a private temp folder, removed afterwards. */
async function withFifo<T>(body: (fifo: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'etl-pipe-'));
  const fifo = path.join(dir, 'rows.csv');
  try {
    await promisify(execFile)('mkfifo', ['-m', '600', fifo]);
    return await body(fifo);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A side that failed before opening the pipe leaves the other blocked in open(): opening the missing end
 * without blocking, and closing it, lets the other side see end-of-file (or a broken pipe) and finish.
 */
async function releaseOpen(fifo: string, missingEnd: 'reader' | 'writer'): Promise<void> {
  const flags = (missingEnd === 'writer' ? constants.O_WRONLY : constants.O_RDONLY) | constants.O_NONBLOCK;
  const handle = await open(fifo, flags).catch(() => null);
  await handle?.close();
}

/** Both sides' outcome: a failure of the preferred side wins, unless it is only the broken pipe the other side's failure caused. */
async function settleBoth(first: Promise<unknown>, second: Promise<unknown>, prefer: 'first' | 'second'): Promise<void> {
  const [a, b] = await Promise.allSettled([first, second]);
  const failures = (prefer === 'first' ? [a, b] : [b, a]).flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as unknown] : []));
  // DuckDB reports its side of a closed pipe as an IO Error with no code ("Could not write file …: Broken pipe").
  const brokenPipe = (error: unknown): boolean => ['EPIPE', 'ERR_STREAM_PREMATURE_CLOSE'].includes((error as { code?: string }).code ?? '') || /\bBroken pipe\b/.test(errorMessage(error));
  if (failures.length > 0) throw failures.find((error) => !brokenPipe(error)) ?? failures[0];
}

/**
 * DuckDB writes `select` as CSV (no header; NULL unquoted-empty, '' quoted: what COPY … CSV reads) into `into`.
 * A failure on either side rejects; the caller's transaction decides what is kept.
 */
export async function streamQueryAsCsv(duck: DuckDbStatements, select: string, into: Writable): Promise<void> {
  await pipeOut((fifo) => duck.run(`COPY (${select}) TO ${sqlPath(fifo)} (FORMAT csv, HEADER false)`), into);
}

/**
 * DuckDB writes `select` (its `$n` parameters bound to `params`) with COPY's `options` (e.g. `FORMAT parquet`) into
 * `into`, through a named pipe: the file is never whole anywhere, in memory or on disk.
 */
export async function streamCopy(duck: DuckDBConnection, select: string, params: readonly string[], options: string, into: Writable): Promise<void> {
  await pipeOut((fifo) => duck.run(`COPY (${select}) TO ${sqlPath(fifo)} (${options})`, params.length > 0 ? [...params] : undefined), into);
}

function sqlPath(file: string): string {
  return `'${file.replace(/'/g, "''")}'`;
}

/** `write` has DuckDB write into the named pipe it is given; what it writes is carried into `into`. */
async function pipeOut(write: (fifo: string) => Promise<unknown>, into: Writable): Promise<void> {
  await withFifo(async (fifo) => {
    const writer = write(fifo).catch(async (error: unknown) => {
      await releaseOpen(fifo, 'writer');
      throw error;
    });
    // Reads of a pipe's size (64 KiB, what one read of a pipe returns): a larger buffer is allocated per read and
    // copied down to the bytes read, and that churn ran V8's full GC every ~40 ms (1M rows: 2.4 s -> 1.8 s).
    const carried = pipeline(createReadStream(fifo, { highWaterMark: PIPE_READ_BYTES }), into);
    // The server's refusal (a value that does not fit) is the story; DuckDB's broken pipe follows from it.
    await settleBoth(writer, carried, 'second');
  });
}

/**
 * The longest CSV line DuckDB is first asked to read. Its reader fills a buffer of at least this size before it
 * parses, and from a pipe that is a stall: with its default 32 MiB buffer the server waited while DuckDB parsed, and
 * DuckDB waited while the server sent (1M rows, four interleaved runs: 2.4 s against 1.8 s with 1 MiB; 2 MiB is
 * DuckDB's own default line limit). A longer row is read again with room for it (`CsvLineTooLong`).
 */
export const CSV_LINE_BYTES = 2 * 1024 * 1024;

/**
 * A CSV line longer than the reader was given room for. DuckDB says so in more than one way: "Maximum line size …
 * exceeded" (its "Actual Size" is not always the line's), another "CSV Error on Line" ("unterminated quote"), "The
 * Parallel CSV Reader currently does not support a full read", or, for such a line at the very end, no error and one
 * row fewer (the caller compares counts). Postgres writes well-formed CSV, so each of these means a longer line.
 */
export class CsvLineTooLong extends Error {
  /** `longestRowBytes`: the longest row the stream carried, where the caller knows it (0 where not). */
  constructor(readonly roomBytes: number, readonly longestRowBytes = 0) {
    super(`a row longer than ${roomBytes} bytes as CSV`);
  }
}

/**
 * DuckDB reads CSV (as COPY … TO STDOUT CSV writes it) from `from` with the given column types and writes it to
 * `parquetFile` (zstd). Returns the rows written. A line longer than `lineBytes` rejects with `CsvLineTooLong`.
 */
export async function writeCsvAsParquet(duck: DuckDbStatements, from: Readable, columns: ReadonlyArray<{ name: string; duckType: string }>, parquetFile: string, lineBytes = CSV_LINE_BYTES): Promise<number> {
  return withFifo(async (fifo) => {
    const types = `{${columns.map((c) => `'${c.name.replace(/'/g, "''")}': '${c.duckType}'`).join(', ')}}`;
    const read = `read_csv(${sqlPath(fifo)}, columns = ${types}, header = false, auto_detect = false, delim = ',', quote = '"', escape = '"', allow_quoted_nulls = false, strict_mode = true, max_line_size = ${lineBytes}, buffer_size = ${lineBytes})`;
    let rows = 0;
    const reader = duck
      // No tmp_ file of DuckDB's own: the caller's file is already a temp one, and a failed COPY left DuckDB's behind.
      .run(`COPY (SELECT * FROM ${read}) TO ${sqlPath(parquetFile)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880, USE_TMP_FILE false)`)
      .then((result) => {
        rows = Number(result.rowsChanged);
      })
      .catch(async (error: unknown) => {
        await releaseOpen(fifo, 'reader');
        throw /CSV Error on Line|Parallel CSV Reader/.test(errorMessage(error)) ? new CsvLineTooLong(lineBytes) : error;
      });
    const carried = pipeline(from, createWriteStream(fifo, { highWaterMark: 1 << 20 }));
    // The server going away is the story; a parquet file from a stream cut short is discarded by the caller.
    await settleBoth(carried, reader, 'first');
    return rows;
  });
}
