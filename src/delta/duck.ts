import type { DuckDBConnection } from '@duckdb/node-api';
import { openDuckDb } from '../core/duckdb.js';

/**
 * An in-memory DuckDB for the Delta code (one thread, a small budget, UTC, built-in extensions only: the delta
 * extension is not used, etl writes the log itself), closed when `work` ends.
 */
export async function withDuck<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  const duck = await openDuckDb();
  try {
    return await work(duck.connection);
  } finally {
    duck.close();
  }
}
