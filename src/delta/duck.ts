import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * An in-memory DuckDB for the Delta code: built-in extensions only (parquet, json), never one downloaded at
 * run time (these machines may have no network, and the delta extension is not used: etl writes the log itself).
 */
export async function withDuck<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  const duck = await import('@duckdb/node-api');
  const instance = await duck.DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '256MB', autoinstall_known_extensions: 'false' });
  const connection = await instance.connect();
  // Zone-less timestamps become UTC instants in data files, whatever the machine's zone (icu is built in).
  await connection.run("SET TimeZone = 'UTC'");
  try {
    return await work(connection);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
