import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { ConfigError } from '../core/errors.js';
import { quoteIdentifier } from '../transform/parquet/duckdb-sql.js';
import { partitionFolderName } from '../transform/parquet/hive-partition.js';
import type { FileStats } from './actions.js';

/** One data file written locally for this run, before it goes into the table. */
export interface StagedFile {
  /** Partition values as Delta records them (strings; null for the null partition). */
  partitionValues: Record<string, string | null>;
  /** Path in the table, not URL-encoded: `edition=2019/part-00000-<uuid>.c000.zstd.parquet`. */
  relative: string;
  local: string;
  size: number;
  sha256: string;
  stats: FileStats;
}

export interface Column {
  name: string;
  type: string;
}

/** Columns whose min and max Delta readers use for data skipping; others get a null count only. */
const RANGE_TYPES = /^(VARCHAR|BIGINT|INTEGER|SMALLINT|TINYINT|DOUBLE|FLOAT|DATE|DECIMAL\(.*\))$/;

export async function columnsOf(connection: DuckDBConnection, file: string): Promise<Column[]> {
  return (await connection.runAndReadAll('DESCRIBE SELECT * FROM read_parquet($1)', [file])).getRowObjectsJS().map((row) => ({ name: String(row.column_name), type: String(row.column_type) }));
}

/** The select list of a data file: the partition column lives in folder names and the log, not in the file. */
export function dataSelectList(columns: readonly Column[], partitionBy: readonly string[]): string {
  return columns
    .filter((column) => !partitionBy.includes(column.name))
    // Delta's `timestamp` is an instant: a zone-less timestamp is written as UTC (the connection's TimeZone is UTC).
    .map((column) => (column.type === 'TIMESTAMP' ? `CAST(${quoteIdentifier(column.name)} AS TIMESTAMPTZ) AS ${quoteIdentifier(column.name)}` : quoteIdentifier(column.name)))
    .join(', ');
}

/** The folder and file name of a new data file; a fresh name each time, so the files of older versions stay readable. */
export function newDataFilePath(partitionBy: readonly string[], values: Record<string, string | null>): string {
  const folders = partitionBy.map((column) => partitionFolderName(column, values[column] ?? null));
  return [...folders, `part-00000-${randomUUID()}.c000.zstd.parquet`].join('/');
}

/**
 * A partition column's value as the log records it (PROTOCOL.md, "Partition Value Serialization"): DuckDB's text
 * for numbers, dates and booleans is Delta's, but a timestamp's (`2024-01-01 10:00:00+00`) is not: it is written
 * as the recommended ISO 8601 UTC instant. Binary has no text DuckDB and Delta agree on: refused.
 */
function partitionValueSql(columns: readonly Column[], column: string): string {
  const type = columns.find((c) => c.name === column)!.type;
  const name = quoteIdentifier(column);
  if (type === 'TIMESTAMP' || type === 'TIMESTAMP WITH TIME ZONE') return `strftime(CAST(${name} AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ')`;
  if (type === 'BLOB') throw new ConfigError(`--partition-by ${column}: the column is binary, which etl does not partition a Delta table by`, { hint: 'partition by a string, number, date or timestamp column' });
  return `CAST(${name} AS VARCHAR)`;
}

/**
 * Splits the run's table into one data file per partition value under `dir` (the whole table when there is
 * no partition column), each with its Delta stats and sha256.
 */
export async function stageDataFiles(connection: DuckDBConnection, source: string, partitionBy: readonly string[], dir: string): Promise<{ columns: Column[]; files: StagedFile[] }> {
  const columns = await columnsOf(connection, source);
  for (const column of partitionBy) {
    if (!columns.some((c) => c.name === column)) throw new ConfigError(`--partition-by ${column}: the table has no such column`, { hint: `choose one of: ${columns.map((c) => c.name).join(', ')}` });
  }
  const groups: Array<Record<string, string | null>> = partitionBy.length === 0
    ? [{}]
    : (await connection.runAndReadAll(`SELECT DISTINCT ${partitionBy.map((column) => `${partitionValueSql(columns, column)} AS ${quoteIdentifier(column)}`).join(', ')} FROM read_parquet($1) ORDER BY ALL`, [source]))
        .getRowObjectsJS()
        .map((row) => Object.fromEntries(partitionBy.map((column) => [column, row[column] === null ? null : String(row[column])])));
  const files: StagedFile[] = [];
  for (const values of groups) {
    const relative = newDataFilePath(partitionBy, values);
    const local = path.join(dir, `${files.length}.parquet`);
    // IS NOT DISTINCT FROM: a bound null picks the null rows; values are bound, never pasted into SQL.
    const where = partitionBy.length === 0 ? '' : `WHERE ${partitionBy.map((column, index) => `${partitionValueSql(columns, column)} IS NOT DISTINCT FROM $${index + 3}::VARCHAR`).join(' AND ')}`;
    await connection.run(`COPY (SELECT ${dataSelectList(columns, partitionBy)} FROM read_parquet($1) ${where}) TO $2 (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`, [source, local, ...partitionBy.map((column) => values[column] ?? null)]);
    files.push(await describeDataFile(connection, local, relative, values));
  }
  return { columns, files };
}

/** Size, sha256 and Delta stats of a data file written locally. */
export async function describeDataFile(connection: DuckDBConnection, local: string, relative: string, partitionValues: Record<string, string | null>): Promise<StagedFile> {
  return { partitionValues, relative, local, size: (await stat(local)).size, sha256: await sha256Of(local), stats: await statsOf(connection, local) };
}

/** numRecords, min/max of orderable columns and null counts, as Delta readers use them to skip files. */
export async function statsOf(connection: DuckDBConnection, file: string): Promise<FileStats> {
  const columns = await columnsOf(connection, file);
  const ranged = columns.filter((column) => RANGE_TYPES.test(column.type));
  // Min and max travel as text: to_json would print Infinity or NaN (not JSON), and a JS number would round a
  // BIGINT or a long DECIMAL, making a bound that excludes the file's own extreme value (readers would skip it).
  const struct = (fn: string, list: readonly Column[]) => `to_json({${list.map((column, index) => `'c${index}': CAST(${fn}(${quoteIdentifier(column.name)}) AS VARCHAR)`).join(', ')}})::VARCHAR`;
  const select = [
    'count(*) AS n',
    ranged.length > 0 ? `${struct('min', ranged)} AS mins, ${struct('max', ranged)} AS maxs` : `'{}' AS mins, '{}' AS maxs`,
    columns.length > 0 ? `to_json({${columns.map((column, index) => `'c${index}': count(*) - count(${quoteIdentifier(column.name)})`).join(', ')}})::VARCHAR AS nulls` : `'{}' AS nulls`,
  ].join(', ');
  const row = (await connection.runAndReadAll(`SELECT ${select} FROM read_parquet($1)`, [file])).getRowObjectsJS()[0]!;
  // Keys are positional in SQL (a column name is never pasted into a string literal) and renamed here.
  const bounds = (json: unknown) => {
    const parsed = JSON.parse(String(json)) as Record<string, string | null>;
    return Object.fromEntries(ranged.map((column, index) => [column.name, boundValue(column.type, parsed[`c${index}`] ?? null)]).filter(([, value]) => value !== undefined));
  };
  const nulls = JSON.parse(String(row.nulls)) as Record<string, number>;
  return { numRecords: Number(row.n), minValues: bounds(row.mins), maxValues: bounds(row.maxs), nullCount: Object.fromEntries(columns.map((column, index) => [column.name, nulls[`c${index}`]!])) };
}

/**
 * A min or max as the stats JSON holds it, or undefined to leave it out (allowed: a reader then cannot skip on it):
 * null (all rows null), a float that is not finite, or a number a JSON double cannot hold exactly.
 */
export function boundValue(duckType: string, text: string | null): string | number | undefined {
  if (text === null) return undefined;
  if (!/^(BIGINT|INTEGER|SMALLINT|TINYINT|DOUBLE|FLOAT|DECIMAL)/.test(duckType)) return text;
  const value = Number(text);
  if (!Number.isFinite(value)) return undefined;
  if (/^(BIGINT|INTEGER|SMALLINT|TINYINT)$/.test(duckType)) return Number.isSafeInteger(value) ? value : undefined;
  // A decimal of at most 15 significant digits reads back as the same decimal from its shortest double.
  if (duckType.startsWith('DECIMAL')) return text.replace(/^-?0*|\.|0*$/g, '').replace(/^0+/, '').length <= 15 ? value : undefined;
  return value;
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
