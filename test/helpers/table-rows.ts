import type { Row, Table } from '../../src/core/table.js';

/** Every row of a table, with the name of the part (raw file or workbook) it came from. */
export async function tableRows(table: Table | Promise<Table>): Promise<Array<{ part: string; row: Row }>> {
  const rows: Array<{ part: string; row: Row }> = [];
  for await (const part of (await table).parts) for await (const row of part.rows) rows.push({ part: part.name, row });
  return rows;
}
