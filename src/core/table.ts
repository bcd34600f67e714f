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

/** Rows are streamed so memory stays flat however many editions are stacked. */
export interface Table {
  schema: TableSchema;
  rows: AsyncIterable<Row>;
}
