import { createRequire } from 'node:module';
import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * @duckdb/node-api through require(): it is CommonJS, and import() runs Node's CommonJS export scanner over each of
 * its ~60 files first (measured: 1.0-1.3 s wall and 0.3-0.45 s CPU for import(), 0.3-0.6 s and 0.18-0.30 s for
 * require(), on the loaded 2-core machine of the README's issue 23 notes).
 */
export function loadDuckDb(): typeof import('@duckdb/node-api') {
  return createRequire(import.meta.url)('@duckdb/node-api') as typeof import('@duckdb/node-api');
}

/** A DuckDB connection with one thread and a small budget, no extensions fetched: enough to stream CSV and parquet. */
export async function openDuckDb(threads = 1): Promise<{ connection: DuckDBConnection; close(): void }> {
  const duck = loadDuckDb();
  const instance = await duck.DuckDBInstance.create(':memory:', {
    threads: String(threads),
    memory_limit: '256MB',
    preserve_insertion_order: 'true',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const connection = await instance.connect();
  await connection.run("SET TimeZone = 'UTC'");
  return {
    connection,
    close: () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}
