import { rm } from 'node:fs/promises';

/**
 * The peer of the parquet writer: DuckDB's own `COPY ... TO` of the same rows, already in a DuckDB
 * table, with the same parquet settings (zstd, 122,880-row groups) and DuckDB's default threads.
 * Usage: node duckdb-copy.js prepare <rows.parquet> <scratch.duckdb>   (untimed: load the rows)
 *        node duckdb-copy.js copy <scratch.duckdb> <output.parquet>
 */
const [mode, from, to] = process.argv.slice(2) as ['prepare' | 'copy', string, string];
const duck = await import('@duckdb/node-api');
const quote = (file: string) => `'${file.replace(/'/g, "''")}'`;

if (mode === 'prepare') {
  await rm(to, { force: true });
  const instance = await duck.DuckDBInstance.create(to);
  const connection = await instance.connect();
  await connection.run(`CREATE TABLE rows_in AS SELECT * FROM read_parquet(${quote(from)})`);
  connection.closeSync();
  instance.closeSync();
} else {
  const instance = await duck.DuckDBInstance.create(from, { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  await connection.run(`COPY rows_in TO ${quote(to)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`);
  connection.closeSync();
  instance.closeSync();
}
