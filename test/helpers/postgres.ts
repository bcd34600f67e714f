import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, inject, it } from 'vitest';

/**
 * A database of its own for each test file, in the cluster the run started (postgres-global-setup.ts), and the
 * ways tests reach it: a superuser client for setting up and reading back, the URL and environment a user gives etl.
 */
export interface TestDatabase {
  name: string;
  port: number;
  /** postgres://<user>@127.0.0.1:<port>/<database>: no password, as etl requires. */
  url(user?: string, port?: number): string;
  /** PGPASSWORD for the superuser, as a user would set it. */
  env: Record<string, string>;
  /** A superuser connection to this database. */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** A login role with a password, owning nothing. */
  createUser(name: string, password: string): Promise<void>;
  binDir: string;
}

/** `describe`, run against a fresh database; skipped (saying why) where no cluster runs, and failing in CI instead. */
export function describePostgres(name: string, body: (db: () => TestDatabase) => void): void {
  describe(name, () => {
    const provided = inject('postgres');
    if ('unavailable' in provided) {
      if (process.env.CI && provided.unavailable !== 'no PostgreSQL test file in this run') throw new Error(`PostgreSQL must be tested in CI: ${provided.unavailable}`);
      it.skip(`skipped: ${provided.unavailable}`, () => {});
      return;
    }
    let database: TestDatabase | undefined;
    let admin: pg.Client | undefined;
    beforeAll(async () => {
      const dbName = `etl_test_${randomBytes(4).toString('hex')}`;
      const connect = async (database: string): Promise<pg.Client> => {
        const client = new pg.Client({ host: '127.0.0.1', port: provided.port, user: 'postgres', password: provided.password, database });
        await client.connect();
        await client.query("SET TimeZone = 'UTC'");
        return client;
      };
      const root = await connect('postgres');
      await root.query(`CREATE DATABASE ${dbName}`);
      await root.end();
      admin = await connect(dbName);
      const client = admin;
      database = {
        name: dbName,
        port: provided.port,
        url: (user = 'postgres', port = provided.port) => `postgres://${user}@127.0.0.1:${port}/${dbName}`,
        env: { PGPASSWORD: provided.password, PGPASSFILE: '/nonexistent/.pgpass' },
        query: async (sql, params) => (await client.query(sql, params)).rows,
        createUser: async (user, password) => {
          await client.query(`DROP ROLE IF EXISTS ${user}`);
          await client.query(`CREATE ROLE ${user} LOGIN PASSWORD '${password.replace(/'/g, "''")}'`);
        },
        binDir: provided.binDir,
      };
    });
    afterAll(async () => {
      await admin?.end();
    });
    body(() => {
      if (!database) throw new Error('the test database is not ready');
      return database;
    });
  });
}
