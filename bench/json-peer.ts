/**
 * The peer of `etl transform random-person`: DuckDB reads the same raw pages (`read_json`), flattens
 * the people (unnest, recursive) and writes parquet with the same settings (zstd, 122,880-row groups).
 * Usage: node json-peer.js <raw dataset dir> <output.parquet>
 */
const [rawDir, out] = process.argv.slice(2) as [string, string];
const duck = await import('@duckdb/node-api');
const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;
const instance = await duck.DuckDBInstance.create(':memory:');
const connection = await instance.connect();
await connection.run(
  `COPY (SELECT unnest(results, recursive := true) FROM read_json(${quote(`${rawDir}/page-*.json`)}, maximum_object_size = 134217728)) TO ${quote(out)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`,
);
connection.closeSync();
instance.closeSync();
