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
  const filters = process.argv.slice(2).filter((arg) => !arg.startsWith('-') && arg !== 'run' && !arg.endsWith('vitest.mjs') && !arg.endsWith('vitest'));
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
