import type { Cell } from '../src/transform/workbook/workbook.js';
import type { Column, Row } from '../src/core/table.js';

/**
 * The 10-column table of the "1M rows x 10 columns" scenarios: an id, a date, three strings of
 * different cardinality (400 codes, 50,000 names, 4 categories) and five numbers. Row i is the same
 * wherever it is made (workbook cells, JS rows for the writer), so every scenario writes the same rows.
 */
export const TABULAR_COLUMNS: readonly Column[] = [
  { name: 'id', type: 'int64', nullable: false },
  { name: 'day', type: 'date', nullable: false },
  { name: 'code', type: 'string', nullable: false },
  { name: 'name', type: 'string', nullable: false },
  { name: 'category', type: 'string', nullable: false },
  { name: 'count', type: 'int64', nullable: true },
  { name: 'ratio', type: 'double', nullable: true },
  { name: 'bucket', type: 'int32', nullable: false },
  { name: 'delta', type: 'int64', nullable: false },
  { name: 'score', type: 'double', nullable: false },
];

const CATEGORIES = ['alpha', 'beta', 'gamma', 'delta'];
const DAY_MS = 86_400_000;
const FIRST_DAY = Date.UTC(2000, 0, 1);

/** Row i as workbook cells, in TABULAR_COLUMNS order. Every 97th row has two empty cells. */
export function tabularCells(i: number): Cell[] {
  const sparse = i % 97 === 0;
  return [
    i,
    new Date(FIRST_DAY + (i % 9000) * DAY_MS),
    `E${String(i % 400).padStart(8, '0')}`,
    `Name ${i % 50_000}`,
    CATEGORIES[i % 4]!,
    sparse ? null : i * 3,
    sparse ? null : (i % 1000) / 8,
    i % 17,
    -i,
    ((i * 7) % 1000) / 4,
  ];
}

/** Workbook cells (a data row) as a Row of TABULAR_COLUMNS. */
export function rowFromCells(cells: readonly Cell[]): Row {
  const row: Record<string, Cell> = {};
  for (let c = 0; c < TABULAR_COLUMNS.length; c++) row[TABULAR_COLUMNS[c]!.name] = cells[c] ?? null;
  return row;
}
