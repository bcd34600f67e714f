import type { Sheet, SheetRow } from '../../src/transform/workbook/workbook.js';

/** A sheet's rows one at a time (the readers hand them out in arrays). */
export async function* sheetRows(sheet: Sheet): AsyncGenerator<SheetRow> {
  for await (const batch of sheet.rowBatches()) yield* batch;
}
