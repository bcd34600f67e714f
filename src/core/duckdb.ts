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

/** The settings both clients open DuckDB with. */
function settings(threads: number): Record<string, string> {
  return { threads: String(threads), memory_limit: '256MB', preserve_insertion_order: 'true', autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' };
}

/** A DuckDB connection with one thread and a small budget, no extensions fetched: enough to stream CSV and parquet. */
export async function openDuckDb(threads = 1): Promise<{ connection: DuckDBConnection; close(): void }> {
  const duck = loadDuckDb();
  const instance = await duck.DuckDBInstance.create(':memory:', settings(threads));
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

/** What the Postgres load and extract ask of DuckDB: run a statement, and read a small answer of text. */
export interface DuckDbStatements {
  run(sql: string): Promise<{ rowsChanged: number }>;
  /** The rows of an answer whose columns are all VARCHAR, none NULL (cast and coalesce in the SQL). */
  readText(sql: string): Promise<string[][]>;
}

/**
 * DuckDB through its C API bindings alone. @duckdb/node-api on top of them costs ~150 ms of CPU to load (measured on
 * the 2-core machine), a tenth of a 1M-row `etl load` into Postgres, which only runs statements and reads a few values.
 */
export async function openDuckDbStatements(threads = 1): Promise<DuckDbStatements & { close(): void }> {
  const duckdb = createRequire(import.meta.url)('@duckdb/node-bindings') as typeof import('@duckdb/node-bindings');
  const config = duckdb.create_config();
  for (const [name, value] of Object.entries(settings(threads))) duckdb.set_config(config, name, value);
  const database = await duckdb.open(':memory:', config);
  const connection = await duckdb.connect(database);
  const decoder = new TextDecoder();
  const run = async (sql: string) => ({ rowsChanged: duckdb.rows_changed(await duckdb.query(connection, sql)) });
  await run("SET TimeZone = 'UTC'");
  return {
    run,
    async readText(sql) {
      const result = await duckdb.query(connection, sql);
      const width = duckdb.column_count(result);
      for (let column = 0; column < width; column++) {
        if (duckdb.column_type(result, column) !== duckdb.Type.VARCHAR) throw new Error(`readText: column ${duckdb.column_name(result, column)} is not VARCHAR: ${sql}`);
      }
      const rows: string[][] = [];
      for (let index = 0, chunks = duckdb.result_chunk_count(result); index < chunks; index++) {
        const chunk = duckdb.result_get_chunk(result, index);
        const size = duckdb.data_chunk_get_size(chunk);
        // A VARCHAR vector holds 16 bytes a value: its length, then the text itself up to 12 bytes, else a pointer to it.
        const vectors = Array.from({ length: width }, (_, column) => {
          const data = duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk, column), 16 * size);
          return { data, view: new DataView(data.buffer, data.byteOffset, data.byteLength) };
        });
        for (let row = 0; row < size; row++) {
          rows.push(
            vectors.map(({ data, view }) => {
              const length = view.getUint32(16 * row, true);
              const at = data.byteOffset + 16 * row;
              return decoder.decode(length <= 12 ? new Uint8Array(data.buffer, at + 4, length) : duckdb.get_data_from_pointer(data.buffer as ArrayBuffer, at + 8, length));
            }),
          );
        }
      }
      return rows;
    },
    close: () => {
      duckdb.disconnect_sync(connection);
      duckdb.close_sync(database);
    },
  };
}
