import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readParquet } from '../helpers/parquet.js';
import { describePostgres } from '../helpers/postgres.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli } from '../helpers/run-cli.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

/** `etl extract postgres table` and `etl transform postgres table`, the built CLI against a real server. */
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-pg-source-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

interface TableManifest {
  cursor_value: string;
  primary_key: string[];
  chunks: Array<{ path: string; rows: number; kind: string }>;
}

describePostgres('etl extract postgres table', (database) => {
  const dataDir = (name: string): string => path.join(work, name);
  const tableDir = (data: string, table: string): string => path.join(data, 'raw', 'postgres', 'table', table);
  const manifestOf = async (data: string, table: string): Promise<TableManifest> => JSON.parse(await readFile(path.join(tableDir(data, table), 'manifest.json'), 'utf8')) as TableManifest;
  /** In this process (the CLI's main), but for the file's first run, a process of its own as a user starts it. */
  const extract = (data: string, table: string, flags: string[] = [], url = database().url(), via: 'process' | 'in-process' = 'in-process') =>
    (via === 'process' ? runCli : runCliInProcess)(['extract', 'postgres', 'table', '--url', url, '--table', table, '--data-dir', data, ...flags], { env: database().env });

  beforeAll(async () => {
    await database().query(`CREATE SCHEMA app;
      CREATE TABLE app.orders (id bigint PRIMARY KEY, customer text, amount numeric(10,2), status text, placed date, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
      INSERT INTO app.orders SELECT i, 'customer ' || (i % 997), (i % 10000) / 100.0, CASE WHEN i % 5 = 0 THEN NULL ELSE 'new' END, DATE '2015-01-01' + (i % 3000)::int,
        timestamptz '2010-01-01 00:00:00+00' + i * interval '1 hour', timestamptz '2010-01-01 00:00:00+00' + i * interval '1 hour' FROM generate_series(1, 100000) i`);
  });

  it('reads the whole table, then exactly the rows changed since; transform keeps every row once at its newest version', async () => {
    const data = dataDir('orders');
    const first = await extract(data, 'app.orders', ['--cursor', 'updated_at', '--lag', '5m'], database().url(), 'process');
    expect(first.code, first.stderr).toBe(0);
    const after1 = await manifestOf(data, 'app.orders');
    expect(after1).toMatchObject({ primary_key: ['id'], cursor_value: '2021-05-29 16:00:00+00', chunks: [{ rows: 100000, kind: 'full' }] });

    await database().query(`UPDATE app.orders SET status = 'shipped', amount = amount + 1, updated_at = now() WHERE id % 100 = 0;
      INSERT INTO app.orders SELECT i, 'late ' || i, 1.5, 'new', NULL, now(), now() FROM generate_series(100001, 101000) i`);
    const second = await extract(data, 'app.orders', ['--cursor', 'updated_at', '--lag', '5m']);
    expect(second.code, second.stderr).toBe(0);
    const after2 = await manifestOf(data, 'app.orders');
    expect(after2.chunks.map((c) => [c.kind, c.rows])).toEqual([['full', 100000], ['incremental', 2000]]);
    // The changed rows and nothing else: no row but id 100000 (updated anyway) lies within 5 minutes of the first cursor.
    const changes = await readParquet(path.join(tableDir(data, 'app.orders'), after2.chunks[1]!.path));
    const ids = changes.rows.map((row) => Number(row.id)).sort((a, b) => a - b);
    expect(ids).toEqual([...Array.from({ length: 1000 }, (_, i) => (i + 1) * 100), ...Array.from({ length: 1000 }, (_, i) => 100001 + i)]);
    expect(changes.rows.find((row) => Number(row.id) === 500)).toMatchObject({ status: 'shipped', customer: 'customer 500' });

    const third = await extract(data, 'app.orders', ['--cursor', 'updated_at', '--lag', '5m']);
    expect(third.code, third.stderr).toBe(0);
    // Within the lag: the newest rows are read again, and deduplicated below.
    const after3 = await manifestOf(data, 'app.orders');
    expect(after3.chunks.length).toBeLessThanOrEqual(3);

    const out = path.join(work, 'orders.parquet');
    const transform = await runCliInProcess(['transform', 'postgres', 'table', '--data-dir', data, '--out', out]);
    expect(transform.code, transform.stderr).toBe(0);
    const { rows, columns } = await readParquet(out);
    expect(columns.map((c) => c.name)).toEqual(['id', 'customer', 'amount', 'status', 'placed', 'created_at', 'updated_at', '_etl_op', 'extracted_at', 'source_file']);
    expect(rows).toHaveLength(101000);
    expect(new Set(rows.map((row) => Number(row.id))).size).toBe(101000);
    const byId = new Map(rows.map((row) => [Number(row.id), row]));
    expect(byId.get(500)).toMatchObject({ status: 'shipped', amount: 6, _etl_op: 'update' });
    expect(byId.get(501)).toMatchObject({ status: 'new', amount: 5.01, _etl_op: 'insert', customer: 'customer 501' });
    expect(byId.get(100500)).toMatchObject({ customer: 'late 100500', _etl_op: 'insert', placed: null });
    expect(String(byId.get(501)!.source_file)).toMatch(/^raw\/postgres\/table\/app\.orders\/chunk-.*\.parquet$/);
    const expected = await database().query<{ n: string; shipped: string; total: string }>(`SELECT count(*) AS n, count(*) FILTER (WHERE status = 'shipped') AS shipped, sum(amount)::text AS total FROM app.orders`);
    expect(String(rows.filter((row) => row.status === 'shipped').length)).toBe(expected[0]!.shipped);
    expect(rows.reduce((sum, row) => sum + Math.round(Number(row.amount) * 100), 0) / 100).toBeCloseTo(Number(expected[0]!.total), 2);
  });

  it('the server going away during the extract fails it (exit 3) without advancing the cursor; the next run reads the same rows', async () => {
    const data = dataDir('cut');
    expect((await extract(data, 'app.orders', ['--cursor', 'updated_at'])).code).toBe(0);
    const before = await readFile(path.join(tableDir(data, 'app.orders'), 'manifest.json'), 'utf8');
    await database().query(`UPDATE app.orders SET updated_at = now(), status = 'cut' WHERE id <= 20000`);
    const proxy = await startTcpProxy(database().port);
    try {
      proxy.cutAfter('down', 200_000);
      const cut = await extract(data, 'app.orders', ['--cursor', 'updated_at'], database().url('postgres', proxy.port));
      expect(cut.code, cut.stderr).toBe(3);
      expect(cut.stderr).toMatch(/the server went away during the extract .*; the cursor was not advanced \(run again/);
      expect(proxy.cuts).toBe(1);
    } finally {
      await proxy.close();
    }
    expect(await readFile(path.join(tableDir(data, 'app.orders'), 'manifest.json'), 'utf8')).toBe(before);
    expect((await readdir(tableDir(data, 'app.orders'))).filter((name) => name !== 'manifest.json')).toHaveLength(1);
    const again = await extract(data, 'app.orders', ['--cursor', 'updated_at']);
    expect(again.code, again.stderr).toBe(0);
    expect((await manifestOf(data, 'app.orders')).chunks.map((c) => c.rows)).toEqual([expect.any(Number), 20000]);
  });

  it('the next extract removes the temp chunk a killed one left (its PID gone), and only that', async () => {
    const data = dataDir('swept');
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((resolve) => child.on('exit', () => resolve(child.pid!)));
    const dir = tableDir(data, 'app.orders');
    await mkdir(dir, { recursive: true });
    const leftover = `.etl-tmp-${deadPid}-0a1b2c3d4e5f-chunk-20260101T000000000Z.parquet`;
    await writeFile(path.join(dir, leftover), 'partial');
    const run = await extract(data, 'app.orders');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`removed 1 temp file(s) an interrupted run left in ${dir}`);
    const manifest = await manifestOf(data, 'app.orders');
    expect((await readdir(dir)).sort()).toEqual([...manifest.chunks.map((c) => c.path), 'manifest.json'].sort());
  });

  it('refuses a URL with a password, a cursor the table lacks, and --lag on a number cursor', async () => {
    const data = dataDir('refused');
    const withPassword = await extract(data, 'app.orders', [], database().url().replace('postgres@', 'postgres:s3cret-pw@'));
    expect(withPassword.code).toBe(2);
    expect(withPassword.stderr).not.toContain('s3cret-pw');
    expect(await readdir(data).catch(() => [])).toEqual([]);
    const noColumn = await extract(data, 'app.orders', ['--cursor', 'modified']);
    expect(noColumn.code).toBe(2);
    expect(noColumn.stderr).toMatch(/--cursor modified: app\.orders has no such column \(its columns: id, customer, amount/);
    const lag = await extract(data, 'app.orders', ['--cursor', 'id', '--lag', '5m']);
    expect(lag.code).toBe(2);
    expect(lag.stderr).toMatch(/--lag applies to a time cursor; id is bigint/);
  });

  it('two tables are two pipelines in one data dir: each its own processed file, cache and lock, neither overwriting the other', async () => {
    const data = dataDir('two-tables');
    // Two small tables: what is told apart is the pipelines, not the rows (app.orders' 101,000 rows took 20 s more here).
    await database().query(`CREATE TABLE app.customers (id int PRIMARY KEY, name text);
      INSERT INTO app.customers SELECT i, 'name ' || i FROM generate_series(1, 30) i;
      CREATE TABLE app.suppliers (id int PRIMARY KEY, name text, since date);
      INSERT INTO app.suppliers SELECT i, 'supplier ' || i, DATE '2020-01-01' + i FROM generate_series(1, 12) i`);
    const run = (table: string) => runCliInProcess(['--json', 'run', 'postgres', 'table', '--url', database().url(), '--table', table, '--data-dir', data], { env: database().env });
    const customers = await run('app.customers');
    expect(customers.code, customers.stderr).toBe(0);
    const suppliers = await run('app.suppliers');
    expect(suppliers.code, suppliers.stderr).toBe(0);
    const processed = path.join(data, 'processed', 'postgres');
    expect((await readdir(processed)).sort()).toEqual(['app.customers.parquet', 'app.suppliers.parquet']);
    expect((await readParquet(path.join(processed, 'app.customers.parquet'))).rows).toHaveLength(30);
    const supplierRows = (await readParquet(path.join(processed, 'app.suppliers.parquet'))).rows;
    expect(supplierRows.map((row) => row.name).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `supplier ${i + 1}`).sort());
    // Run again, the first table's pipeline has its own name (cache, lock, run history) and leaves the other's file alone.
    const suppliersBytes = await readFile(path.join(processed, 'app.suppliers.parquet'));
    const again = await run('app.customers');
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ pipeline: 'postgres/table/app.customers' });
    expect((await readParquet(path.join(processed, 'app.customers.parquet'))).rows).toHaveLength(30);
    expect(await readFile(path.join(processed, 'app.suppliers.parquet'))).toEqual(suppliersBytes);
  });
});
