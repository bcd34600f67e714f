import type { Row } from '../../core/table.js';
import type { WorkbookDataset } from './dataset.js';
import { findTable, type LayoutAttempt, type WorkbookInput } from './find-table.js';
import { cellRef, columnName } from './labels.js';
import { periodParsers } from './period-parsers.js';
import { acrossEdition, readAcrossRows } from './read-periods-across.js';
import { openDownBody, readDownRows } from './read-periods-down.js';

export type { WorkbookInput } from './find-table.js';

/** What the engine found in a workbook, for `etl inspect` and tests. */
export interface TableLayout {
  /** The declared layout that matched. */
  layout: string;
  sheet: string;
  /** Sheets read up to and including the table sheet. */
  sheets: string[];
  headerRow: number;
  edition: number;
  /** `columns`: a column per period (unpivoted across); `rows`: a row per period (value columns unpivoted). */
  periodAxis: 'columns' | 'rows';
  /** Columns that identify a body row: its labels (periods across) or its period cells (periods down). */
  idColumns: string[];
  /** Periods across: each period column, its label and the period it parsed to. */
  periodColumns: Array<{ cell: string; label: string; period: string }>;
  /** Periods down: each value column taken, and the fields its rows get. */
  valueColumns: Array<{ cell: string; label: string; fields: Readonly<Record<string, string>> }>;
  /** Layouts tried that did not match, with the rule each failed. */
  rejected: LayoutAttempt[];
}

/** Streams the tidy rows of one workbook, whichever declared layout it has. */
export async function* readWorkbookTable(input: WorkbookInput, dataset: WorkbookDataset): AsyncGenerator<Row> {
  const table = await findTable(input, dataset);
  try {
    yield* table.periodAxis === 'columns' ? readAcrossRows(table, input) : readDownRows(table, input);
  } finally {
    await table.close();
  }
}

/** Detects the table without reading the body (beyond one row, for a weeks-down table): what `etl inspect` shows. */
export async function detectTableLayout(input: WorkbookInput, dataset: WorkbookDataset): Promise<TableLayout> {
  const table = await findTable(input, dataset);
  const common = { layout: table.layout.name, sheet: table.sheet, sheets: table.sheets, headerRow: table.header.rowNumber, rejected: table.rejected };
  try {
    if (table.periodAxis === 'columns') {
      const across = table;
      const format = (fields: Record<string, unknown>): string =>
        across.layout.periods.map((spec) => periodParsers[spec.parse].format(fields[spec.field] as Date | number)).join(' ');
      return {
        ...common,
        edition: acrossEdition(across, input),
        periodAxis: 'columns',
        idColumns: Array.from({ length: across.header.firstPeriodColumn }, (_, c) => columnName(c)),
        periodColumns: across.header.periods.map((p) => ({ cell: cellRef(p.column, across.header.rowNumber), label: p.label, period: format(p.fields) })),
        valueColumns: [],
      };
    }
    const down = table;
    const { edition, valueColumns } = await openDownBody(down, input);
    return {
      ...common,
      edition,
      periodAxis: 'rows',
      idColumns: down.header.periods.map((p) => columnName(p.column)),
      periodColumns: [],
      valueColumns: valueColumns.map((v) => ({ cell: cellRef(v.column, down.header.rowNumber), label: v.label, fields: v.set })),
    };
  } finally {
    await table.close();
  }
}
