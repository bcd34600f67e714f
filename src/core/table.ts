/** A table schema is plain typed data (dlt's TTableSchema, Arrow's Field): writers and tests read it. */
export type ColumnType = 'string' | 'int32' | 'int64' | 'double' | 'boolean' | 'date' | 'timestamp';

export interface Column {
  name: string;
  type: ColumnType;
  nullable: boolean;
  description?: string;
}

export interface TableSchema {
  name: string;
  columns: readonly Column[];
}

/** Dates are JS Dates at UTC midnight for 'date' columns; int64 values may be number or bigint. */
export type Value = string | number | bigint | boolean | Date | null;
export type Row = Readonly<Record<string, Value>>;

/**
 * A unit that lands whole or not at all: one workbook, one API response. With --skip-bad a part that
 * fails with a DataError is left out and reported; rows it yielded before failing are discarded.
 */
export interface TablePart {
  /** Shown in reports and errors, e.g. the workbook's file name. */
  name: string;
  rows: AsyncIterable<Row>;
  /**
   * The same rows in arrays, where the source makes them so (one await per array instead of per row: a
   * fifth of the ONS transform's time). A consumer reads `batches` or `rows`, never both.
   */
  batches?: AsyncIterable<readonly Row[]>;
}

/** A part read from arrays of rows: `rows` gives them one at a time to consumers that want rows. */
export function partFromBatches(name: string, batches: AsyncIterable<readonly Row[]>): TablePart {
  return {
    name,
    batches,
    rows: (async function* () {
      for await (const batch of batches) yield* batch;
    })(),
  };
}

/** Parts and rows are streamed so memory stays flat however many editions are stacked. */
export interface Table {
  schema: TableSchema;
  parts: AsyncIterable<TablePart>;
  /** Which one of its dataset's many things this table is (a Postgres table, `public.orders`): it names the processed file, so two never share one. */
  instance?: string;
}
