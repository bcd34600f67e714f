import { DataError, errorMessage } from '../../core/errors.js';
import { loadDuckDb } from '../../core/duckdb.js';

export interface ParquetDescription {
  rows: number;
  /** DuckDB's type, and the parquet physical and logical types it was read from. */
  columns: Array<{ name: string; type: string; parquet: string }>;
  /** The first rows, as JSON-friendly values (dates as ISO strings). */
  head: Array<Record<string, unknown>>;
}

/** Schema, row count and first rows of a parquet file, read with DuckDB (loaded only when asked). */
export async function describeParquet(file: string, headRows: number): Promise<ParquetDescription> {
  const duck = loadDuckDb();
  const instance = await duck.DuckDBInstance.create(':memory:');
  try {
    const connection = await instance.connect();
    // The path (and the row count) are bound, never pasted into the SQL.
    const schema = await connection.runAndReadAll('DESCRIBE SELECT * FROM read_parquet($1)', [file]);
    const physical = await connection.runAndReadAll('SELECT name, type, converted_type, logical_type FROM parquet_schema($1) WHERE num_children IS NULL OR num_children = 0', [file]);
    const count = await connection.runAndReadAll('SELECT count(*)::BIGINT AS n FROM read_parquet($1)', [file]);
    const head = await connection.runAndReadAll('SELECT * FROM read_parquet($1) LIMIT $2', [file, Math.max(0, Math.floor(headRows))]);
    const parquetTypes = new Map(
      physical.getRowObjectsJson().map((row) => [String(row.name), [row.type, row.logical_type ?? row.converted_type].filter((t) => t !== null && t !== undefined).map(String).join(' ')]),
    );
    connection.closeSync();
    return {
      rows: Number(count.getRowObjectsJson()[0]?.n ?? 0),
      columns: schema.getRowObjectsJson().map((row) => ({ name: String(row.column_name), type: String(row.column_type), parquet: parquetTypes.get(String(row.column_name)) ?? '' })),
      head: head.getRowObjectsJson(),
    };
  } catch (error) {
    // DuckDB appends the SQL it ran, with a caret, on further lines: the first line is the reason.
    const reason = errorMessage(error).split('\n')[0]!.trim();
    throw new DataError(`${file}: cannot read it as parquet (${reason})`, { hint: 'is it a parquet file? `etl inspect` reads .parquet files and workbooks', cause: error });
  } finally {
    instance.closeSync();
  }
}
