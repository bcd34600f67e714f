import type { Row } from '../src/core/table.js';
import { readWorkbook } from '../src/transform/workbook/workbook.js';
import { writeParquet } from '../src/transform/parquet/write-parquet.js';
import { TABULAR_COLUMNS, rowFromCells } from './tabular-data.js';

/**
 * One process of the "1M x 10 .xlsx to parquet" scenario: etl's workbook reader and parquet writer,
 * wired directly. The transform engine only knows period-by-column tables like monthly deaths, so a
 * plain 10-column table goes through reader and writer without it.
 * Usage: node tabular.js <input.xlsx> <output.parquet>
 */
const [input, output] = process.argv.slice(2) as [string, string];

async function* rows(): AsyncGenerator<Row> {
  for await (const sheet of readWorkbook(input)) {
    for await (const batch of sheet.rowBatches()) for (const row of batch) if (row.rowNumber > 1) yield rowFromCells(row.cells);
    return;
  }
}

async function* parts() {
  yield { name: input, rows: rows() };
}

const summary = await writeParquet({ schema: { name: 'tabular', columns: TABULAR_COLUMNS }, parts: parts() }, output);
process.stdout.write(`${JSON.stringify({ rows: summary.rows })}\n`);
