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
}

/** Parts and rows are streamed so memory stays flat however many editions are stacked. */
export interface Table {
  schema: TableSchema;
  parts: AsyncIterable<TablePart>;
}
