import { readParquet } from './parquet.js';
import type { TestDatabase } from './postgres.js';

/**
 * Rows of `table` that the parquet file lacks, and rows of the file the table lacks (EXCEPT ALL both ways, so
 * duplicates count). The file is read by hyparquet and inserted as JSON: a path independent of etl's COPY.
 */
export async function compareTableWithParquet(db: TestDatabase, table: string, file: string, columns: readonly string[]): Promise<{ onlyInTable: number; onlyInFile: number; fileRows: number }> {
  const { rows } = await readParquet(file);
  const expected = `expected_${Math.random().toString(36).slice(2, 10)}`;
  const list = columns.map((c) => `"${c}"`).join(', ');
  await db.query(`CREATE TABLE ${expected} AS SELECT ${list} FROM ${table} WITH NO DATA`);
  const json = (row: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(columns.map((c) => [c, typeof row[c] === 'bigint' ? String(row[c]) : row[c] instanceof Date ? (row[c] as Date).toISOString() : (row[c] ?? null)]));
  for (let at = 0; at < rows.length; at += 5000) {
    await db.query(`INSERT INTO ${expected} SELECT * FROM json_populate_recordset(null::${expected}, $1)`, [JSON.stringify(rows.slice(at, at + 5000).map(json))]);
  }
  const count = async (sql: string): Promise<number> => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM (${sql}) d`))[0]!.n);
  const onlyInTable = await count(`SELECT ${list} FROM ${table} EXCEPT ALL SELECT ${list} FROM ${expected}`);
  const onlyInFile = await count(`SELECT ${list} FROM ${expected} EXCEPT ALL SELECT ${list} FROM ${table}`);
  await db.query(`DROP TABLE ${expected}`);
  return { onlyInTable, onlyInFile, fileRows: rows.length };
}
