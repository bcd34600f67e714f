import { Writable } from 'node:stream';
import type { DuckDBConnection, DuckDBResultReader, Json } from '@duckdb/node-api';
import { streamCopy } from '../core/csv-pipe.js';
import { HttpError } from './http-error.js';
import type { BuiltQuery } from './rows-query.js';

export const FORMATS = {
  json: 'application/json',
  ndjson: 'application/x-ndjson',
  csv: 'text/csv; charset=utf-8',
  parquet: 'application/vnd.apache.parquet',
} as const;
export type Format = keyof typeof FORMATS;

/** `format=` wins; else the first of the Accept header's types we can write; else JSON. */
export function chooseFormat(formatParam: string | null, accept: string | undefined): Format {
  if (formatParam !== null) {
    if (formatParam in FORMATS) return formatParam as Format;
    throw new HttpError(400, `unknown format ${JSON.stringify(formatParam)}; formats: ${Object.keys(FORMATS).join(', ')}`);
  }
  for (const type of (accept ?? '').split(',').map((part) => part.split(';')[0]!.trim().toLowerCase())) {
    const found = (Object.entries(FORMATS) as Array<[Format, string]>).find(([, mime]) => mime.split(';')[0] === type);
    if (found) return found[0];
  }
  return 'json';
}

/**
 * A value as JSON shows it: DuckDB's JSON form (dates `YYYY-MM-DD`, decimals as text), except that a whole number
 * of a 64-bit or wider type is a JSON number when JavaScript reads it exactly (|n| ≤ 2^53 − 1) and text
 * otherwise, and a timestamp is ISO 8601 (`2024-01-31T12:00:00`, `Z` when it carries a zone).
 */
export function jsonConverter(type: string): (value: Json) => Json {
  if (/^(BIGINT|HUGEINT|UBIGINT|UHUGEINT)$/.test(type)) {
    return (value) => (typeof value === 'string' && Number.isSafeInteger(Number(value)) ? Number(value) : value);
  }
  if (/^TIMESTAMP/.test(type)) {
    return (value) => (typeof value === 'string' ? value.replace(' ', 'T').replace(/\+00(:00)?$/, 'Z') : value);
  }
  return (value) => value;
}

export interface Page {
  rows: Array<Record<string, Json>>;
  /** More rows follow the page. */
  more: boolean;
  /** The last row's key values, when more rows follow. */
  lastKeys: Array<string | null> | undefined;
}

/** One JSON page: the query asks one row more than the limit, to know whether another page follows. */
export async function readPage(connection: DuckDBConnection, query: BuiltQuery, limit: number): Promise<Page> {
  const reader = await connection.runAndReadAll(query.sql, query.params);
  const rows = objectsOf(reader, query.keyColumns.length);
  const more = rows.length > limit;
  const keyStart = reader.columnCount - query.keyColumns.length;
  const lastKeys = more && query.keyColumns.length > 0 ? (reader.getRowsJson()[limit - 1]!.slice(keyStart) as Array<string | null>) : undefined;
  return { rows: rows.slice(0, limit), more, lastKeys };
}

function objectsOf(reader: DuckDBResultReader, keyCount: number): Array<Record<string, Json>> {
  const names = reader.columnNames().slice(0, reader.columnCount - keyCount);
  const convert = reader.columnTypes().slice(0, names.length).map((type) => jsonConverter(type.toString()));
  return reader.getRowsJson().map((row) => Object.fromEntries(names.map((name, i) => [name, convert[i]!(row[i]!)])));
}

/**
 * The whole selection, streamed: CSV and parquet are written by DuckDB into a named pipe (native speed, a pipe
 * buffer in flight), NDJSON by converting DuckDB's chunks as they come, each waiting for the socket to drain.
 * `firstBytes` is called when output starts (the query's time limit covers the time to it).
 */
export async function streamRows(connection: DuckDBConnection, query: BuiltQuery, format: Exclude<Format, 'json'>, into: Writable, firstBytes: () => void): Promise<void> {
  if (format === 'ndjson') {
    const result = await connection.stream(query.sql, query.params);
    const names = result.columnNames();
    const convert = result.columnTypes().map((type) => jsonConverter(type.toString()));
    firstBytes();
    for await (const rows of result.yieldRowsJson()) {
      const text = rows.map((row) => JSON.stringify(Object.fromEntries(names.map((name, i) => [name, convert[i]!(row[i]!)])))).join('\n') + '\n';
      if (into.destroyed) break;
      if (!into.write(text)) await new Promise<void>((resolve) => into.once('drain', resolve).once('close', resolve));
    }
    into.end();
    return;
  }
  const options = format === 'csv' ? 'FORMAT csv, HEADER true' : 'FORMAT parquet, COMPRESSION zstd';
  let started = false;
  const start = (): void => {
    if (!started) {
      started = true;
      firstBytes();
    }
  };
  // Bytes go on to `into` at its pace. The end is left to the caller's success: a query that fails before its
  // first byte closes the pipe too, and ending `into` then would send an empty 200 instead of the error.
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (into.destroyed) return done(new Error('the client went away'));
      start();
      if (into.write(chunk)) return done();
      const resume = (): void => {
        into.off('drain', resume).off('close', resume);
        done(into.destroyed ? new Error('the client went away') : undefined);
      };
      into.on('drain', resume).on('close', resume);
    },
  });
  await streamCopy(connection, query.sql, query.params, options, sink);
  start();
  into.end();
}

