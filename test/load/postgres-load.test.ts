import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ALL_TYPES, writeAllTypes } from '../fixtures/postgres/all-types.js';
import { compareTableWithParquet } from '../helpers/postgres-compare.js';
import { describePostgres } from '../helpers/postgres.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli } from '../helpers/run-cli.js';
import { loadResultOf } from './load-result.js';

/**
 * `etl load … --to postgres://…` against a real server, PGPASSWORD in the environment: the first load and the
 * refusals of a file or its rows as a user runs it (the built CLI), the other loads through the CLI's main in-process
 * (the same code). The password refusals too: each in-process session starts with no secret registered, as a
 * process does, so a password is masked only if this run registered it.
 */
let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-pg-load-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const COLUMNS = ALL_TYPES.map((c) => c.name);
let fileNumber = 0;
async function parquet(count: number, options: Parameters<typeof writeAllTypes>[2] = {}): Promise<string> {
  const file = path.join(work, `rows-${++fileNumber}.parquet`);
  await writeAllTypes(file, count, options);
  return file;
}

describePostgres('etl load --to postgres://', (database) => {
  let loadsRun = 0;
  const load = (file: string, table: string, flags: string[] = [], env: Record<string, string> = {}) =>
    (loadsRun++ === 0 ? runCli : runCliInProcess)(['--json', 'load', file, '--to', database().url(), '--table', table, ...flags], { env: { ...database().env, ...env } });

  it('replace creates the table with typed columns and holds the file row for row; a re-run sends nothing', async () => {
    const file = await parquet(2000);
    const first = await load(file, 'lake.all_types');
    expect(first.code, first.stderr).toBe(0);
    expect(loadResultOf(first)).toMatchObject({ uploaded: 1, skipped: 0, files: [{ action: 'uploaded', method: 'copy', verified_with: 'row count (2000)' }] });
    const types = await database().query<{ column_name: string; data_type: string }>(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'lake' AND table_name = 'all_types' ORDER BY ordinal_position`);
    expect(types.map((t) => `${t.column_name} ${t.data_type}`)).toEqual(['id integer', 'big bigint', 'ratio double precision', 'name text', 'day date', 'at timestamp with time zone', 'flag boolean']);
    expect(await compareTableWithParquet(database(), 'lake.all_types', file, COLUMNS)).toEqual({ onlyInTable: 0, onlyInFile: 0, fileRows: 2000 });
    const emptyAndNull = await database().query<{ empty: string; nulls: string }>(`SELECT count(*) FILTER (WHERE name = '') AS empty, count(*) FILTER (WHERE name IS NULL) AS nulls FROM lake.all_types`);
    expect(emptyAndNull[0]).toEqual({ empty: '200', nulls: '200' });

    const again = await load(file, 'lake.all_types');
    expect(again.code, again.stderr).toBe(0);
    expect(loadResultOf(again)).toMatchObject({ uploaded: 0, skipped: 1, files: [{ action: 'skipped', reason: 'same sha256 as the last replace into this table' }] });
    const loads = await database().query<{ mode: string; rows: string }>(`SELECT mode, rows FROM lake._etl_loads WHERE table_name = 'all_types'`);
    expect(loads).toEqual([{ mode: 'replace', rows: '2000' }]);
  });

  it('replace swaps in new rows whole and keeps what readers were granted', async () => {
    await database().createUser('reader', 'reader-pw');
    const first = await load(await parquet(300), 'lake.swapped');
    expect(first.code, first.stderr).toBe(0);
    await database().query('GRANT USAGE ON SCHEMA lake TO reader; GRANT SELECT ON lake.swapped TO reader');
    const second = await parquet(120, { first: 1000 });
    const run = await load(second, 'lake.swapped');
    expect(run.code, run.stderr).toBe(0);
    expect(await compareTableWithParquet(database(), 'lake.swapped', second, COLUMNS)).toEqual({ onlyInTable: 0, onlyInFile: 0, fileRows: 120 });
    const grants = await database().query(`SELECT privilege_type FROM information_schema.role_table_grants WHERE grantee = 'reader' AND table_name = 'swapped'`);
    expect(grants).toEqual([{ privilege_type: 'SELECT' }]);
    expect(await database().query(`SELECT relname FROM pg_class WHERE relname LIKE '\\_etl\\_%swapped'`)).toEqual([]);
  });

  it('append adds the rows once: the same file again is skipped', async () => {
    const file = await parquet(50);
    for (const expected of ['uploaded', 'skipped']) {
      const run = await load(file, 'lake.appended', ['--mode', 'append']);
      expect(run.code, run.stderr).toBe(0);
      expect(loadResultOf(run).files[0]!.action).toBe(expected);
    }
    const other = await load(await parquet(30, { first: 50 }), 'lake.appended', ['--mode', 'append']);
    expect(other.code, other.stderr).toBe(0);
    expect(await database().query('SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids FROM lake.appended')).toEqual([{ n: 80, ids: 80 }]);
  });

  it('merge upserts on --key and rewrites only the rows that changed', async () => {
    const run1 = await load(await parquet(100), 'lake.merged', ['--mode', 'merge', '--key', 'id']);
    expect(run1.code, run1.stderr).toBe(0);
    const before = new Map((await database().query<{ id: number; xmin: string }>('SELECT id, xmin::text AS xmin FROM lake.merged')).map((r) => [r.id, r.xmin]));
    // ids 90..109: 10 changed (version 1), 10 new; ids 0..89 absent from the file and kept.
    const run2 = await load(await parquet(20, { first: 90, version: 1 }), 'lake.merged', ['--mode', 'merge', '--key', 'id']);
    expect(run2.code, run2.stderr).toBe(0);
    const after = await database().query<{ id: number; xmin: string; ratio: number | null }>('SELECT id, xmin::text AS xmin, ratio FROM lake.merged ORDER BY id');
    expect(after).toHaveLength(110);
    const rewritten = after.filter((r) => before.get(r.id) !== r.xmin).map((r) => r.id);
    // Rows 90..99 whose values differ under version 1 (all but those whose changing columns are null).
    expect(rewritten).toEqual(after.filter((r) => r.id >= 90).filter((r) => r.id >= 100 || r.ratio !== null || r.id % 7 !== 0).map((r) => r.id));
    expect(after.find((r) => r.id === 91)!.ratio).toBeCloseTo(91 / 3 + 1);
  });

  it('merge refuses a key that appears twice in one file, naming the key', async () => {
    const file = await parquet(10, { extra: { column: { name: 'grp', type: 'int32', nullable: false }, value: (i) => i % 4 } });
    const run = await runCli(['load', file, '--to', database().url(), '--table', 'lake.dupes', '--mode', 'merge', '--key', 'grp'], { env: database().env });
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/the key \(grp\) = \(0\) appears 3 times; a merge takes each key once/);
    expect(await database().query(`SELECT to_regclass('lake.dupes') IS NULL AS absent`)).toEqual([{ absent: true }]);
  });

  it('a column added upstream is added; a changed type is an error naming the column and both types', async () => {
    expect((await load(await parquet(10), 'lake.evolving', ['--mode', 'append'])).code).toBe(0);
    const wider = await parquet(10, { first: 10, extra: { column: { name: 'note', type: 'string', nullable: true }, value: (i) => `note ${i}` } });
    const added = await load(wider, 'lake.evolving', ['--mode', 'append']);
    expect(added.code, added.stderr).toBe(0);
    expect(await database().query('SELECT count(*)::int AS n, count(note)::int AS notes FROM lake.evolving')).toEqual([{ n: 20, notes: 10 }]);
    const changed = await parquet(5, { first: 20, extra: { column: { name: 'note', type: 'int64', nullable: true }, value: (i) => i } });
    const refused = await load(changed, 'lake.evolving', ['--mode', 'append']);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/lake\.evolving: column note is text in the table but bigint in rows-\d+\.parquet/);
    expect(await database().query('SELECT count(*)::int AS n FROM lake.evolving')).toEqual([{ n: 20 }]);
  });

  it('a file that is not parquet is a data error naming the file, in one line; no table is made', async () => {
    const file = path.join(work, 'not-parquet.parquet');
    await writeFile(file, 'id,name\n1,a\n');
    const run = await runCli(['load', file, '--to', database().url(), '--table', 'lake.not_parquet'], { env: database().env });
    expect(run.code).toBe(4);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^etl: data error: \S+not-parquet\.parquet: cannot read it as parquet \(.*\) \(is it a parquet file\?/);
    expect(lines[0]).not.toMatch(/LINE 1|internal error/);
    expect(await database().query("SELECT to_regclass('lake.not_parquet') IS NULL AS absent")).toEqual([{ absent: true }]);
  });

  it('a value that does not fit the column fails in one line naming table, column and row; nothing is committed', async () => {
    await database().query('CREATE TABLE lake.narrow (id integer, big integer, ratio double precision, name text, day date, at timestamptz, flag boolean)');
    const file = await parquet(20, { first: 1 });
    const run = await runCli(['load', file, '--to', database().url(), '--table', 'lake.narrow', '--mode', 'append'], { env: database().env });
    expect(run.code).toBe(4);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/lake\.narrow, row 1, column big: value "10000000000" is out of range for type integer/);
    expect(await database().query('SELECT count(*)::int AS n FROM lake.narrow')).toEqual([{ n: 0 }]);
  });

  it('a partitioned folder replaces only the partitions whose file changed', async () => {
    const { partitionParquet } = await import('../../src/transform/parquet/partition-parquet.js');
    const out = path.join(work, 'by-flag');
    // Partitions flag=true, flag=false and the null one; the second file changes only rows whose id is a multiple of 3 (flag null).
    const first = await parquet(60);
    await partitionParquet(first, 'flag', out);
    const run1 = await load(out, 'lake.partitioned');
    expect(run1.code, run1.stderr).toBe(0);
    expect(loadResultOf(run1)).toMatchObject({ uploaded: 3, skipped: 0 });
    expect(await compareTableWithParquet(database(), 'lake.partitioned', first, COLUMNS)).toEqual({ onlyInTable: 0, onlyInFile: 0, fileRows: 60 });
    const before = await database().query<{ id: number; xmin: string }>('SELECT id, xmin::text AS xmin FROM lake.partitioned ORDER BY id');

    const changed = path.join(work, 'changed.parquet');
    await writeChanged(changed);
    await partitionParquet(changed, 'flag', out);
    const run2 = await load(out, 'lake.partitioned');
    expect(run2.code, run2.stderr).toBe(0);
    expect(loadResultOf(run2)).toMatchObject({ uploaded: 1, skipped: 2 });
    expect(await compareTableWithParquet(database(), 'lake.partitioned', changed, COLUMNS)).toEqual({ onlyInTable: 0, onlyInFile: 0, fileRows: 60 });
    const after = await database().query<{ id: number; xmin: string }>('SELECT id, xmin::text AS xmin FROM lake.partitioned ORDER BY id');
    const rewritten = after.filter((row) => before.find((b) => b.id === row.id)?.xmin !== row.xmin).map((row) => row.id);
    expect(rewritten).toEqual(after.map((row) => row.id).filter((id) => id % 3 === 0));
    expect(await readdir(out)).toContain('_manifest.json');
  });

  /** The same 60 rows, except that rows with a null flag have another ratio. */
  async function writeChanged(file: string): Promise<void> {
    const { ALL_TYPES: columns, allTypesRow } = await import('../fixtures/postgres/all-types.js');
    const { writeParquet } = await import('../../src/transform/parquet/write-parquet.js');
    async function* rows() {
      for (let i = 0; i < 60; i++) yield i % 3 === 0 ? { ...allTypesRow(i), ratio: -i } : allTypesRow(i);
    }
    await writeParquet({ schema: { name: 'changed', columns }, parts: (async function* () { yield { name: 'rows', rows: rows() }; })() }, file);
  }

  it('a URL holding a password is refused before anything is printed or recorded', async () => {
    const file = await parquet(5);
    const dataDir = path.join(work, 'refused-data');
    const run = await runCliInProcess(['load', file, '--data-dir', dataDir, '--to', database().url().replace('postgres@', 'postgres:hunter2-secret@'), '--table', 'lake.refused'], { env: database().env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--to: the URL holds a password; etl never takes one on the command line \(remove it from the URL and set PGPASSWORD/);
    expect(run.stdout + run.stderr).not.toContain('hunter2');
    const viaRun = await runCliInProcess(['run', 'random-person', '--data-dir', dataDir, '--to', database().url().replace('postgres@', 'postgres:hunter2-secret@'), '--table', 'lake.refused'], { env: database().env });
    expect(viaRun.code).toBe(2);
    expect(viaRun.stdout + viaRun.stderr).not.toContain('hunter2');
    expect(await readdir(dataDir).catch(() => [])).toEqual([]);
    expect(await database().query(`SELECT to_regclass('lake.refused') IS NULL AS absent`)).toEqual([{ absent: true }]);
  });

  it('a wrong password exits 5 with a hint naming PGPASSWORD and ~/.pgpass, and never prints the password', async () => {
    const run = await runCliInProcess(['load', await parquet(5), '--to', database().url(), '--table', 'lake.denied'], { env: { ...database().env, PGPASSWORD: 'not-the-password-4711' } });
    expect(run.code).toBe(5);
    expect(run.stderr).toMatch(/password authentication failed for user postgres \(set PGPASSWORD, or a line in ~\/\.pgpass \(PGPASSFILE\)/);
    expect(run.stdout + run.stderr).not.toContain('not-the-password-4711');
  });
});
