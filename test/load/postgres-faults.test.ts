import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ALL_TYPES, writeAllTypes } from '../fixtures/postgres/all-types.js';
import { compareTableWithParquet } from '../helpers/postgres-compare.js';
import { describePostgres } from '../helpers/postgres.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli, startCli } from '../helpers/run-cli.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { loadResultOf } from './load-result.js';

/** What happens to a table when a load meets a dropped connection, a reader, or another load. */
let work: string;
let big: string;
let small: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-pg-faults-'));
  big = path.join(work, 'big.parquet');
  small = path.join(work, 'small.parquet');
  await writeAllTypes(big, 150_000);
  await writeAllTypes(small, 1000, { first: 500_000 });
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});
const COLUMNS = ALL_TYPES.map((c) => c.name);

describePostgres('etl load --to postgres:// under faults', (database) => {
  // The loads that set a table up or finish it go through the CLI's `main` in this process; the load a fault meets
  // (cut, read during, raced) is the built CLI as a process, as a user runs it.
  const loadArgs = (file: string, table: string) => ['--json', 'load', file, '--to', database().url(), '--table', table];
  const load = (file: string, table: string) => runCliInProcess(loadArgs(file, table), { env: database().env });

  it('a connection dropped mid-COPY commits nothing (exit 5, may pass next time); the next run completes', async () => {
    expect((await load(small, 'lake.dropped')).code).toBe(0);
    const proxy = await startTcpProxy(database().port);
    try {
      proxy.cutAfter('up', 2_000_000);
      const cut = await runCli(['load', big, '--to', database().url('postgres', proxy.port), '--table', 'lake.dropped'], { env: database().env });
      expect(cut.code, cut.stderr).toBe(5);
      expect(cut.stderr).toMatch(/lake\.dropped: the connection was lost during the load .*; nothing was committed \(run again/);
      expect(proxy.cuts).toBe(1);
    } finally {
      await proxy.close();
    }
    expect(await compareTableWithParquet(database(), 'lake.dropped', small, COLUMNS)).toEqual({ onlyInTable: 0, onlyInFile: 0, fileRows: 1000 });
    const again = await load(big, 'lake.dropped');
    expect(again.code, again.stderr).toBe(0);
    expect(await database().query('SELECT count(*)::int AS n FROM lake.dropped')).toEqual([{ n: 150_000 }]);
    expect(await database().query(`SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE '\\_etl\\_new%'`)).toEqual([{ n: 0 }]);
  });

  it('a reader querying during a replace sees the old rows or the new ones, never an empty or partial table', async () => {
    expect((await load(small, 'lake.read_during')).code).toBe(0);
    const reader = new pg.Client({ host: '127.0.0.1', port: database().port, user: 'postgres', password: database().env.PGPASSWORD, database: database().name });
    await reader.connect();
    const seen = new Set<number>();
    let reading = true;
    const loop = (async () => {
      while (reading) seen.add(Number((await reader.query('SELECT count(*) AS n FROM lake.read_during')).rows[0].n));
    })();
    try {
      const run = await runCli(loadArgs(big, 'lake.read_during'), { env: database().env });
      expect(run.code, run.stderr).toBe(0);
    } finally {
      reading = false;
      await loop;
      await reader.end();
    }
    expect([...seen].sort((a, b) => a - b)).toEqual(seen.has(150_000) ? [1000, 150_000] : [1000]);
    expect(seen.size).toBeGreaterThan(0);
    expect(await database().query('SELECT count(*)::int AS n FROM lake.read_during')).toEqual([{ n: 150_000 }]);
  });

  it('two loads of the same table at once take turns: appended once, the other skipped', async () => {
    const both = [0, 1].map(() => startCli(['--json', 'load', big, '--to', database().url(), '--table', 'lake.twice', '--mode', 'append'], { env: database().env }).done);
    const runs = await Promise.all(both);
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    expect(runs.map((run) => loadResultOf(run).files[0]!.action).sort()).toEqual(['skipped', 'uploaded']);
    expect(await database().query('SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM lake.twice')).toEqual([{ n: 150_000, ids: 150_000 }]);
  });
});
