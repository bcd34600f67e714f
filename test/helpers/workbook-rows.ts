import type { Row } from '../../src/core/table.js';
import type { WorkbookDataset } from '../../src/transform/layout/dataset.js';
import { readWorkbookTable, type WorkbookInput } from '../../src/transform/layout/read-workbook-table.js';

/** Every row the engine reads from one workbook, in order. */
export async function readRows(input: WorkbookInput, dataset: WorkbookDataset): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const row of readWorkbookTable(input, dataset)) rows.push(row);
  return rows;
}
