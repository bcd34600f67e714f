import type { Row } from '../src/core/table.js';
import { writeParquet } from '../src/transform/parquet/write-parquet.js';
import { TABULAR_COLUMNS, rowFromCells, tabularCells } from './tabular-data.js';

/**
 * One process of the parquet-writer scenario: `count` rows made in JS, written by writeParquet.
 * With `--no-write` it only makes the rows, to show what making them costs.
 * Usage: node write-rows.js <count> <output.parquet> [--no-write]
 */
const [countText, output, flag] = process.argv.slice(2) as [string, string, string | undefined];
const count = Number(countText);

function* rows(): Generator<Row> {
  for (let i = 0; i < count; i++) yield rowFromCells(tabularCells(i));
}

if (flag === '--no-write') {
  let made = 0;
  for (const _row of rows()) made++;
  process.stdout.write(`${JSON.stringify({ rows: made })}\n`);
} else {
  async function* parts() {
    yield { name: 'rows', rows: (async function* () { yield* rows(); })() };
  }
  const summary = await writeParquet({ schema: { name: 'tabular', columns: TABULAR_COLUMNS }, parts: parts() }, output);
  process.stdout.write(`${JSON.stringify({ rows: summary.rows })}\n`);
}
