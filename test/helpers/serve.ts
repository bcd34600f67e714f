import type { ChildProcess } from 'node:child_process';
import { startCli } from './run-cli.js';

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** What the process wrote so far. */
  output(): { stdout: string; stderr: string };
  stop(): Promise<void>;
}

/** `etl serve --port 0 …` as a real process; resolves with the URL it prints once it listens. */
export async function startServe(args: string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  const { child, done } = startCli(['serve', '--port', '0', ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const look = (): void => {
      const found = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
      if (found) resolve(found);
    };
    child.stdout!.on('data', look);
    void done.then((result) => reject(new Error(`etl serve exited ${result.code} before listening: ${result.stderr}`)));
  });
  return {
    url,
    child,
    output: () => ({ stdout, stderr }),
    stop: async () => {
      child.kill('SIGTERM');
      await done;
    },
  };
}

/** A dataset written straight with DuckDB: the served layer is parquet, whoever wrote it. */
export async function writeParquetWithDuckDb(file: string, select: string): Promise<void> {
  const duck = await import('@duckdb/node-api');
  const instance = await duck.DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`COPY (${select}) TO '${file.replace(/'/g, "''")}' (FORMAT parquet)`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
