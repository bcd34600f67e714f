import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { startCluster } from '../test/helpers/postgres-cluster.js';
import { postgresUnavailable } from '../test/helpers/postgres-cluster.js';
import { measure, runProcess, type Measurer, type Result } from './measure.js';

/**
 * The Postgres scenarios, against a throwaway cluster started here as the tests start theirs: `etl load` of a
 * 10-column parquet file (100k and 1M rows) into a table, against psql's `\copy … from file.csv` of the same rows
 * (the floor: no parquet to read); and `etl extract postgres` of the 1M-row table into raw parquet, against psql's
 * `\copy (select …) to file.csv`.
 */
export const POSTGRES_SCENARIOS = ['pg-load-1m', 'pg-load-100k', 'psql-copy-in-1m', 'pg-extract-1m', 'psql-copy-out-1m'] as const;

export interface PostgresBench {
  results: Result[];
  skipped: Array<{ scenario: string; reason: string }>;
}

export async function benchPostgres(options: { etl: string; measurer: Measurer; writeRows: string; work: string; runs: number; wanted: (id: string) => boolean; log: (line: string) => void }): Promise<PostgresBench> {
  const bench: PostgresBench = { results: [], skipped: [] };
  const unavailable = postgresUnavailable();
  if (unavailable) {
    for (const scenario of POSTGRES_SCENARIOS) if (options.wanted(scenario)) bench.skipped.push({ scenario, reason: unavailable });
    return bench;
  }
  const { etl, measurer, work, log } = options;
  const runs = Math.min(options.runs, 3);
  const dir = path.join(work, 'postgres');
  await mkdir(dir, { recursive: true });
  const files = { m1: path.join(dir, 'rows-1m.parquet'), k100: path.join(dir, 'rows-100k.parquet'), csv: path.join(dir, 'rows-1m.csv') };
  await runProcess(process.execPath, [options.writeRows, '1000000', files.m1]);
  await runProcess(process.execPath, [options.writeRows, '100000', files.k100]);
  const duck = await import('@duckdb/node-api');
  const instance = await duck.DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  await connection.run(`COPY (SELECT * FROM read_parquet('${files.m1}')) TO '${files.csv}' (FORMAT csv, HEADER false)`);
  connection.closeSync();
  instance.closeSync();

  const cluster = await startCluster();
  try {
    const env = { PGPASSWORD: cluster.password, PGPASSFILE: '/nonexistent' };
    const url = `postgres://${cluster.superuser}@127.0.0.1:${cluster.port}/postgres`;
    const psql = (...args: string[]) => runProcess(path.join(cluster.binDir, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(cluster.port), '-U', cluster.superuser, '-d', 'postgres', ...args], env);
    const load = (cli: string, file: string, table: string) => runProcess(process.execPath, [cli, 'load', file, '--to', url, '--table', table, '--force'], env);
    const report = (result: Result): void => {
      bench.results.push(result);
      log(`    ${result.detail}`);
    };
    const columns = 'id bigint, day date, code text, name text, category text, count bigint, ratio double precision, bucket integer, delta bigint, score double precision';
    if (options.wanted('pg-load-1m') || options.wanted('psql-copy-in-1m')) {
      report(await measurer.cli('pg-load-1m', 'etl load: 1M rows x 10 columns parquet -> a Postgres table (replace, COPY)', { runs, warmUp: true, rows: 1_000_000 }, (cli) => load(cli, files.m1, 'bench.load_1m')));
      if (measurer.runPeer('psql-copy-in-1m')) {
        await psql('-c', `CREATE TABLE IF NOT EXISTS bench_peer (${columns})`);
        report(await measure('psql-copy-in-1m', 'psql \\copy ... from file.csv: the same rows as CSV, into a table (the floor)', { runs, rows: 1_000_000 }, () =>
          psql('-c', 'TRUNCATE bench_peer', '-c', `\\copy bench_peer from '${files.csv}' (format csv)`),
        ));
      }
    }
    if (options.wanted('pg-load-100k')) {
      report(await measurer.cli('pg-load-100k', 'etl load: 100k rows x 10 columns parquet -> a Postgres table (peak RSS against 1M)', { runs, warmUp: true, rows: 100_000 }, (cli) => load(cli, files.k100, 'bench.load_100k')));
    }
    if (options.wanted('pg-extract-1m') || options.wanted('psql-copy-out-1m')) {
      await load(etl, files.m1, 'bench.source_1m');
      await psql('-c', 'ALTER TABLE bench.source_1m ADD PRIMARY KEY (id)');
      const dataDir = path.join(dir, 'extract');
      report(await measurer.cli('pg-extract-1m', 'etl extract postgres table: 1M rows -> raw parquet (COPY TO STDOUT, zstd)', { runs, rows: 1_000_000 }, async (cli) => {
        await rm(dataDir, { recursive: true, force: true });
        return runProcess(process.execPath, [cli, 'extract', 'postgres', 'table', '--url', url, '--table', 'bench.source_1m', '--data-dir', dataDir], env);
      }));
      if (measurer.runPeer('psql-copy-out-1m')) {
        report(await measure('psql-copy-out-1m', 'psql \\copy (select ...) to file.csv: the same rows (the floor)', { runs, rows: 1_000_000 }, () =>
          psql('-c', `\\copy (select * from bench.source_1m) to '${path.join(dir, 'out.csv')}' (format csv)`),
        ));
      }
    }
  } finally {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return bench;
}
