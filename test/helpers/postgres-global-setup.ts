import type { TestProject } from 'vitest/node';
import { postgresUnavailable, startCluster } from './postgres-cluster.js';

/** What test files get through inject('postgres'): a running cluster, or why there is none. */
export type ProvidedPostgres = { port: number; password: string; socketDir: string; binDir: string } | { unavailable: string };

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: ProvidedPostgres;
  }
}

/**
 * One PostgreSQL cluster for the whole run (initdb + start take ~3 s; once per file they cost that in every
 * file); each test file works in its own database. A run given only other test files starts none. In CI a
 * cluster that cannot start fails the run: PostgreSQL must be tested there.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  // A word right after an option may be its value (`--maxWorkers 2`, `--reporter verbose`), not a file filter: left
  // out, so at worst a cluster starts that no file uses, never a PostgreSQL file skipped.
  const args = process.argv.slice(2);
  const filters = args.filter((arg, i) => !arg.startsWith('-') && arg !== 'run' && !arg.endsWith('vitest.mjs') && !arg.endsWith('vitest') && !/^-[^=]*$/.test(args[i - 1] ?? ''));
  if (filters.length > 0 && !filters.some((filter) => /postgres/i.test(filter))) {
    project.provide('postgres', { unavailable: 'no PostgreSQL test file in this run' });
    return;
  }
  const unavailable = postgresUnavailable();
  if (unavailable) {
    if (process.env.CI) throw new Error(`PostgreSQL must be tested in CI: ${unavailable}`);
    project.provide('postgres', { unavailable });
    return;
  }
  const cluster = await startCluster();
  project.provide('postgres', { port: cluster.port, password: cluster.password, socketDir: cluster.socketDir, binDir: cluster.binDir });
  return () => cluster.stop();
}
