import os from 'node:os';
import path from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { loadDuckDb } from '../core/duckdb.js';
import { HttpError } from './http-error.js';

export interface EngineLimits {
  /** A query still running after this many milliseconds is interrupted (streams: until their first bytes). */
  queryTimeoutMs: number;
  /** Queries running at once; each holds one DuckDB connection. */
  maxConcurrent: number;
  /** Requests waiting for a connection beyond this are refused with 503 at once. */
  maxWaiting: number;
}

/**
 * One in-process DuckDB for the server, read-only in practice: SQL is only what src/serve builds (values bound,
 * names checked), extensions are never downloaded or loaded, and the configuration is locked after start-up so
 * no statement can change it. A pool of connections bounds the queries at once; a query past its time is
 * stopped with DuckDB's interrupt, which cancels it inside the engine (not merely abandoned).
 */
export interface Engine {
  /** Runs `work` on a connection of its own; the timeout interrupts it and rejects with 503. */
  withConnection<T>(work: (connection: DuckDBConnection, timer: QueryTimer) => Promise<T>): Promise<T>;
  close(): void;
}

/** A query's deadline: `stop()` once the answer is in hand (a stream stops it at its first bytes). */
export interface QueryTimer {
  stop(): void;
  readonly timedOut: boolean;
}

export async function openEngine(limits: EngineLimits): Promise<Engine> {
  const duck = loadDuckDb();
  const instance: DuckDBInstance = await duck.DuckDBInstance.create(':memory:', {
    threads: '2',
    memory_limit: '256MB',
    // A sort bigger than the memory limit spills here, not into a `.tmp` folder in the user's working directory.
    temp_directory: path.join(os.tmpdir(), `etl-serve-duckdb-${process.pid}`),
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    // Files are opened through /proc/self/fd/<n> (see pinned-files.ts): a cache keyed by path would hand one
    // file's bytes to another that later got the same descriptor number.
    enable_external_file_cache: 'false',
  });
  const setup = await instance.connect();
  await setup.run("SET TimeZone = 'UTC'");
  await setup.run('SET lock_configuration = true');
  setup.closeSync();

  const idle: DuckDBConnection[] = [];
  let running = 0;
  const waiting: Array<() => void> = [];

  const acquire = async (): Promise<DuckDBConnection> => {
    if (running >= limits.maxConcurrent) {
      if (waiting.length >= limits.maxWaiting) {
        throw new HttpError(503, `busy: ${limits.maxConcurrent} queries running and ${limits.maxWaiting} waiting; try again shortly`, { 'Retry-After': '1' });
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    running++;
    return idle.pop() ?? (await instance.connect());
  };
  const release = (connection: DuckDBConnection): void => {
    idle.push(connection);
    running--;
    waiting.shift()?.();
  };

  return {
    async withConnection(work) {
      const connection = await acquire();
      let timedOut = false;
      let repeat: NodeJS.Timeout | undefined;
      // DuckDB forgets an interrupt that arrives before a statement starts executing (while it is prepared), so
      // once the time is up the interrupt is repeated until the work gives up.
      const timeout = setTimeout(() => {
        timedOut = true;
        connection.interrupt();
        repeat = setInterval(() => connection.interrupt(), 20);
      }, limits.queryTimeoutMs);
      const stop = (): void => {
        clearTimeout(timeout);
        clearInterval(repeat);
      };
      const timer: QueryTimer = {
        stop,
        get timedOut() {
          return timedOut;
        },
      };
      try {
        return await work(connection, timer);
      } catch (error) {
        if (timedOut) throw new HttpError(503, `query ran past the time limit of ${limits.queryTimeoutMs / 1000} s and was stopped; narrow it with filters or a smaller limit`);
        throw error;
      } finally {
        stop();
        release(connection);
      }
    },
    close() {
      for (const connection of idle) connection.closeSync();
      instance.closeSync();
    },
  };
}
