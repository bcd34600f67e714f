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
   * fifth of the ONS transform's time), or in runs of rows that share their fields (`RowRuns`). A consumer
   * reads `batches` or `rows`, never both.
   */
  batches?: AsyncIterable<RowBatch>;
}

/** Rows in an array, or the same rows as runs (rowsOf() makes the array). */
export type RowBatch = readonly Row[] | RowRuns;

/**
 * `count` rows that are `fields` each, but for the `varying` fields, whose i-th row takes the i-th value (a
 * sheet row's 12 months: one object for the area, the months and figures in arrays).
 */
export interface RowRun {
  fields: Row;
  count: number;
  varying: Readonly<Record<string, ArrayLike<Value>>>;
}

/**
 * Rows handed over as runs, so that a consumer reading column by column (the parquet writer) needs no
 * object per row: 720,000 row objects made and taken apart again were the ONS transform's largest cost.
 */
export class RowRuns {
  constructor(
    readonly runs: readonly RowRun[],
    /** Rows in all the runs. */
    readonly length: number,
  ) {}

  /** Puts rows [from, from + count)'s values of `field` in out[0..count): what each row object would hold, null if absent. */
  fill(field: string, from: number, count: number, out: Value[]): void {
    if (count <= 0) return;
    const { runs } = this;
    let run = 0;
    let runStart = 0;
    while (runStart + runs[run]!.count <= from) runStart += runs[run++]!.count;
    let k = 0;
    for (let offset = from - runStart; k < count; run++, offset = 0) {
      const { fields, count: runCount, varying } = runs[run]!;
      const end = Math.min(runCount, offset + count - k);
      const values = varying[field];
      if (values !== undefined) {
        for (let i = offset; i < end; i++) out[k++] = values[i] ?? null;
      } else {
        const value = fields[field] ?? null;
        for (let i = offset; i < end; i++) out[k++] = value;
      }
    }
  }

  rows(): Row[] {
    const rows: Row[] = [];
    for (const { fields, count, varying } of this.runs) {
      const names = Object.keys(varying);
      for (let i = 0; i < count; i++) {
        const row: Record<string, Value> = { ...fields };
        for (const name of names) row[name] = varying[name]![i] ?? null;
        rows.push(row);
      }
    }
    return rows;
  }
}

export function rowsOf(batch: RowBatch): readonly Row[] {
  return batch instanceof RowRuns ? batch.rows() : batch;
}

/** A part read from arrays of rows: `rows` gives them one at a time to consumers that want rows. */
export function partFromBatches(name: string, batches: AsyncIterable<RowBatch>): TablePart {
  return {
    name,
    batches,
    rows: (async function* () {
      for await (const batch of batches) yield* rowsOf(batch);
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
