import { watch } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalLogStore } from '../../src/delta/log-store.js';
import { readSnapshot } from '../../src/delta/replay.js';
import { monthlySheets } from '../fixtures/ons/monthly-workbook.js';
import { readParquet } from '../helpers/parquet.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli, startCli } from '../helpers/run-cli.js';
import { writeWorkbook, type FixtureCell, type FixtureSheet } from '../helpers/workbook-writer.js';
import { startConditionalFront, type ConditionalFront } from '../load/servers/conditional-writes.js';
import { gcsEmulatorInstalled, startGcsEmulator } from '../load/servers/gcs-emulator.js';
import { S3RVER_CREDENTIALS, startS3Server } from '../load/servers/s3-server.js';
import { commitActions, snapshotRows, sortRows } from './helpers.js';

/**
 * `etl run … --format delta --partition-by edition --bucket …` against a local folder, s3rver and the GCS emulator
 * (both behind the clouds' create-if-absent, test/load/servers/conditional-writes.ts). Tables are read back with the
 * store's own client and checked by replaying the log here and reading files with hyparquet. The built CLI runs as
 * a process where the process matters: each store's first run, the runs raced against each other and the runs
 * killed; the other runs go through the CLI's `main` in this process (test/helpers/cli-in-process.ts).
 */
interface Lake {
  name: 'local' | 's3' | 'gcs';
  unavailable?: string;
  /** --bucket for a prefix. */
  bucket(prefix: string): string;
  flags: string[];
  env: Record<string, string>;
  /** In front of the network stores: holds a request so a test can kill the writer there. */
  front: ConditionalFront | undefined;
  /** The table's files copied into a local folder (the folder itself, for local). */
  copyOut(prefix: string, into: string): Promise<string>;
  stop(): Promise<void>;
}

const BUCKET = 'etl-test';

async function localLake(): Promise<Lake> {
  const root = await mkdtemp(path.join(tmpdir(), 'etl-delta-lake-'));
  return { name: 'local', bucket: (prefix) => path.join(root, prefix) + '/', flags: [], env: {}, front: undefined, copyOut: async (prefix) => path.join(root, prefix), stop: () => rm(root, { recursive: true, force: true }) };
}

async function s3Lake(): Promise<Lake> {
  const server = await startS3Server([BUCKET]);
  const front = await startConditionalFront(server.url, 's3');
  const client = new S3Client({ endpoint: server.url, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  return {
    name: 's3',
    bucket: (prefix) => `s3://${BUCKET}/${prefix}/`,
    flags: ['--endpoint', front.url],
    env: { ...S3RVER_CREDENTIALS, AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: 'us-east-1' },
    front,
    async copyOut(prefix, into) {
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/`, ContinuationToken: token }));
        for (const object of page.Contents ?? []) {
          const body = await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: object.Key! }))).Body!.transformToByteArray();
          const local = path.join(into, object.Key!.slice(prefix.length + 1));
          await mkdir(path.dirname(local), { recursive: true });
          await writeFile(local, body);
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return into;
    },
    async stop() {
      client.destroy();
      await front.stop();
      await server.stop();
    },
  };
}

async function gcsLake(): Promise<Lake> {
  const emulator = await startGcsEmulator();
  const front = await startConditionalFront(emulator.url, 'gcs');
  const bucket = new Storage({ apiEndpoint: emulator.url, projectId: 'etl-test' }).bucket(BUCKET);
  return {
    name: 'gcs',
    bucket: (prefix) => `gs://${BUCKET}/${prefix}/`,
    flags: ['--endpoint', front.url],
    env: { METADATA_SERVER_DETECTION: 'none', GOOGLE_CLOUD_PROJECT: 'etl-test' },
    front,
    async copyOut(prefix, into) {
      const [files] = await bucket.getFiles({ prefix: `${prefix}/` });
      for (const file of files) {
        const local = path.join(into, file.name.slice(prefix.length + 1));
        await mkdir(path.dirname(local), { recursive: true });
        await file.download({ destination: local });
      }
      return into;
    },
    async stop() {
      await front.stop();
      await emulator.stop();
    },
  };
}

const lakes: Array<{ name: Lake['name']; start: () => Promise<Lake>; unavailable: string | undefined }> = [
  { name: 'local', start: localLake, unavailable: undefined },
  { name: 's3', start: s3Lake, unavailable: undefined },
  { name: 'gcs', start: gcsLake, unavailable: gcsEmulatorInstalled() ? undefined : 'GCS emulator not installed: run `npm run install-gcs-emulator`' },
];

let work: string;
/** Editions 2019-2021; `changed2020` is 2020 with six months published instead of twelve. */
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-delta-cli-'));
  for (const folder of ['three', 'changed2020', 'changed2019', 'other2020', 'merge-before', 'merge-after']) await mkdir(path.join(work, folder));
  for (const year of [2019, 2020, 2021]) await writeWorkbook(path.join(work, 'three', `publishedoutput${year}.xls`), monthlySheets({ year }));
  await writeWorkbook(path.join(work, 'changed2020', 'publishedoutput2020.xls'), monthlySheets({ year: 2020, publishedMonths: 6 }));
  await writeWorkbook(path.join(work, 'changed2019', 'publishedoutput2019.xls'), monthlySheets({ year: 2019, publishedMonths: 3 }));
  await writeWorkbook(path.join(work, 'other2020', 'publishedoutput2020.xls'), monthlySheets({ year: 2020, publishedMonths: 9 }));
  // A merge's second batch: England's figures changed (existing keys), County Durham new, Wales absent (kept).
  await writeWorkbook(path.join(work, 'merge-before', 'publishedoutput2019.xls'), monthlySheets({ year: 2019 }));
  await writeWorkbook(path.join(work, 'merge-before', 'publishedoutput2020.xls'), editedSheets(2020, (row) => (row[0] === 'E06000047' ? null : row)));
  await writeWorkbook(path.join(work, 'merge-after', 'publishedoutput2020.xls'), editedSheets(2020, (row) => (row[0] === 'W92000004' ? null : row[0] === 'E92000001' ? row.map((cell) => (typeof cell === 'number' ? cell + 1000 : cell)) : row)));
}, 60_000);
afterAll(() => rm(work, { recursive: true, force: true }));

/** An edition's sheets with each area row passed through `edit` (null drops the row). */
function editedSheets(year: number, edit: (row: FixtureCell[]) => FixtureCell[] | null): FixtureSheet[] {
  return monthlySheets({ year }).map((sheet) => ({ ...sheet, rows: sheet.rows.flatMap((row) => (typeof row[0] === 'string' && /^[EWKJ]\d{8}/.test(row[0]) ? [edit(row)].filter((kept) => kept !== null) : [row])) }));
}

/**
 * What plain `etl transform` writes for an input folder: the reference every table is compared with. Each input is
 * transformed once per file (its own data dir, so concurrent first uses do not share one), not once per assertion.
 */
const plainOutputs = new Map<string, Promise<Array<Record<string, unknown>>>>();
const plainRows = (input: string): Promise<Array<Record<string, unknown>>> => {
  let rows = plainOutputs.get(input);
  if (!rows) {
    rows = (async () => {
      const name = path.basename(input);
      const out = path.join(work, `plain-${name}.parquet`);
      const result = await runCliInProcess(['transform', 'ons', '--data-dir', path.join(work, `plain-data-${name}`), '--input', input, '--out', out]);
      expect(result.code, result.stderr).toBe(0);
      return (await readParquet(out)).rows.map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, key === 'edition' ? String(value) : typeof value === 'bigint' ? Number(value) : value])));
    })();
    plainOutputs.set(input, rows);
  }
  return rows;
};

for (const entry of lakes) {
  // Each test has its own prefix, data dirs and copies, so a store's tests run concurrently (they wait on child processes).
  describe.skipIf(entry.unavailable !== undefined)(`etl run --format delta to ${entry.name}`, { concurrent: true }, () => {
    let lake: Lake;
    let case_ = 0;
    beforeAll(async () => {
      lake = await entry.start();
    }, 60_000);
    afterAll(() => lake?.stop());

    /** A fresh prefix, data dir and copy-out folder per test; `id` is fixed here, as the tests run concurrently. */
    const fresh = () => {
      const id = ++case_;
      const prefix = `lake-${id}`;
      const runArgs = (input: string, extra: string[], dataDir: string) => ['run', 'ons', '--data-dir', dataDir, '--input', path.join(work, input), '--format', 'delta', '--partition-by', 'edition', '--bucket', lake.bucket(prefix), '--no-cache', ...lake.flags, ...extra];
      return {
        id,
        prefix,
        run: (input: string, extra: string[] = [], dataDir = path.join(work, `${entry.name}-data-${id}`)) => runCliInProcess(runArgs(input, extra, dataDir), { env: lake.env }),
        /** The built CLI as a process: for runs that race each other (two processes, not two calls in one). */
        runProcess: (input: string, extra: string[] = [], dataDir = path.join(work, `${entry.name}-data-${id}`)) => runCli(runArgs(input, extra, dataDir), { env: lake.env }),
        start: (input: string) => startCli(runArgs(input, [], path.join(work, `${entry.name}-data-${id}`)), { env: lake.env }),
        table: async () => {
          const into = await lake.copyOut(`${prefix}/monthly-deaths`, await mkdtemp(path.join(work, 'copy-')));
          return { root: into, store: new LocalLogStore(into) };
        },
        vacuum: () => runCliInProcess(['vacuum', `${lake.bucket(prefix)}monthly-deaths/`, '--retain', '0s', ...lake.flags], { env: lake.env }),
      };
    };

    it('a run is one commit: valid JSON lines with the required actions; the replayed files read as the plain parquet output', async () => {
      const t = fresh();
      const result = await t.runProcess('three');
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/load succeeded \(Delta version 0, 3 files added, 0 files removed\)/);
      const { root, store } = await t.table();
      const actions = commitActions(await readFile(path.join(root, '_delta_log', '00000000000000000000.json'), 'utf8'));
      expect(actions.map((action) => Object.keys(action)[0]).sort()).toEqual(['add', 'add', 'add', 'commitInfo', 'metaData', 'protocol', 'txn']);
      expect(actions.find((a) => 'txn' in a)).toMatchObject({ txn: { appId: 'ons-monthly-deaths', version: expect.any(Number) } });
      const snapshot = (await readSnapshot(store))!;
      expect([...snapshot.files.values()].map((add) => add.partitionValues.edition).sort()).toEqual(['2019', '2020', '2021']);
      expect(sortRows(await snapshotRows(root, snapshot))).toEqual(sortRows(await plainRows(path.join(work, 'three'))));
    }, 60_000);

    it('a re-run with nothing changed commits nothing; refreshing one partition is one remove + one add, older versions still read', async () => {
      const t = fresh();
      expect((await t.run('three')).code).toBe(0);
      const again = await t.run('three');
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toContain('Delta unchanged, nothing committed');
      const refresh = await t.run('changed2020');
      expect(refresh.code, refresh.stderr).toBe(0);
      const { root, store } = await t.table();
      expect(commitActions(await readFile(path.join(root, '_delta_log', '00000000000000000001.json'), 'utf8')).map((a) => Object.keys(a)[0])).toEqual(['commitInfo', 'remove', 'add', 'txn']);
      await expect(readFile(path.join(root, '_delta_log', '00000000000000000002.json'))).rejects.toThrow();
      const latest = await snapshotRows(root, (await readSnapshot(store))!);
      const expected = [...(await plainRows(path.join(work, 'three'))).filter((row) => row.edition !== '2020'), ...(await plainRows(path.join(work, 'changed2020')))];
      expect(sortRows(latest)).toEqual(sortRows(expected));
      expect(sortRows(await snapshotRows(root, (await readSnapshot(store, { version: 0 }))!))).toEqual(sortRows(await plainRows(path.join(work, 'three'))));
      // inspect reads the table where it is, including time travel.
      const inspect = await runCliInProcess(['inspect', `${lake.bucket(t.prefix)}monthly-deaths/`, '--version-as-of', '0', ...lake.flags], { env: lake.env });
      expect(inspect.code, inspect.stderr).toBe(0);
      expect(inspect.stdout).toMatch(/version 0 of 1/);
      expect(inspect.stdout).toMatch(/files \(3\)/);
    }, 90_000);

    it('two runs at once on different partitions: both commits land, as consecutive versions', async () => {
      const t = fresh();
      expect((await t.run('three')).code).toBe(0);
      const [a, b] = await Promise.all([t.runProcess('changed2019', [], path.join(work, `${entry.name}-race-a-${t.id}`)), t.runProcess('changed2020', [], path.join(work, `${entry.name}-race-b-${t.id}`))]);
      expect([a.code, b.code], a.stderr + b.stderr).toEqual([0, 0]);
      const { root, store } = await t.table();
      const snapshot = (await readSnapshot(store))!;
      expect(snapshot.version).toBe(2);
      const expected = [...(await plainRows(path.join(work, 'three'))).filter((row) => row.edition === '2021'), ...(await plainRows(path.join(work, 'changed2019'))), ...(await plainRows(path.join(work, 'changed2020')))];
      expect(sortRows(await snapshotRows(root, snapshot))).toEqual(sortRows(expected));
    }, 90_000);

    it('two runs at once on the same partition: consecutive versions, or one fails cleanly naming the conflict; none lost', async () => {
      const t = fresh();
      expect((await t.run('three')).code).toBe(0);
      const [a, b] = await Promise.all([t.runProcess('changed2020', [], path.join(work, `${entry.name}-same-a-${t.id}`)), t.runProcess('other2020', [], path.join(work, `${entry.name}-same-b-${t.id}`))]);
      const { root, store } = await t.table();
      const snapshot = (await readSnapshot(store))!;
      const rows2020 = (await snapshotRows(root, snapshot)).filter((row) => row.edition === '2020');
      const changed = (await plainRows(path.join(work, 'changed2020'))).length;
      const other = (await plainRows(path.join(work, 'other2020'))).length;
      if (a.code === 0 && b.code === 0) {
        expect(snapshot.version).toBe(2);
        expect([changed, other]).toContain(rows2020.length);
      } else {
        const [won, lost] = a.code === 0 ? [changed, b] : [other, a];
        expect(lost.code, lost.stderr).toBe(5);
        expect(lost.stderr).toMatch(/conflicts with version 1, committed meanwhile by another writer: it also wrote the partition edition=2020/);
        expect(snapshot.version).toBe(1);
        expect(rows2020).toHaveLength(won);
      }
    }, 90_000);

    // A test about one kind of store is declared for it only (not listed as skipped on the others).
    if (entry.name !== 'local') it('kill -9 before the data, and between the data and the log entry: no version reads a missing file; a re-run commits; vacuum removes the orphans', async () => {
      const t = fresh();
      expect((await t.run('three')).code).toBe(0);
      const isData = (method: string, name: string) => (method === 'PUT' || method === 'POST') && name.includes(`${t.prefix}/monthly-deaths/edition=`);
      const isCommit = (method: string, name: string) => (method === 'PUT' || method === 'POST') && /_delta_log\/\d{20}\.json$/.test(name) && name.includes(`${t.prefix}/`);
      for (const point of [isData, isCommit]) {
        const held = lake.front!.holdNext(point);
        const { child, done } = t.start('changed2020');
        await held;
        child.kill('SIGKILL');
        expect((await done).signal).toBe('SIGKILL');
        const { root, store } = await t.table();
        const snapshot = (await readSnapshot(store))!;
        expect(snapshot.version).toBe(0);
        for (const add of snapshot.files.values()) await expect(readFile(path.join(root, add.path))).resolves.toBeTruthy();
      }
      const rerun = await t.run('changed2020');
      expect(rerun.code, rerun.stderr).toBe(0);
      const before = await t.table();
      const latest = (await readSnapshot(before.store))!;
      expect(latest.version).toBe(1);
      const onDisk = (await before.store.list('')).map((file) => file.path).filter((file) => !file.startsWith('_delta_log/'));
      const referenced = new Set<string>();
      for (const version of [0, 1]) for (const add of (await readSnapshot(before.store, { version }))!.files.values()) referenced.add(decodeURIComponent(add.path));
      // The run killed after its data left a file no version references.
      expect(onDisk.filter((file) => !referenced.has(file)).length).toBeGreaterThan(0);
      const vacuum = await t.vacuum();
      expect(vacuum.code, vacuum.stderr).toBe(0);
      // --retain 0s keeps only the latest version: said as one version, not a range `1-1`.
      expect(vacuum.stdout).toMatch(/; version 1 stays readable/);
      const after = await t.table();
      const live = new Set([...(await readSnapshot(after.store))!.files.values()].map((add) => decodeURIComponent(add.path)));
      const remaining = (await after.store.list('')).map((file) => file.path).filter((file) => !file.startsWith('_delta_log/'));
      expect(remaining.sort()).toEqual([...live].sort());
    }, 120_000);

    // The merge itself is store-independent; the next test merges on every store (reading the old partition back from it).
    if (entry.name === 'local') it('--merge-key: rows whose key is in the table are replaced, new keys added, only in the partition the run holds', async () => {
      const t = fresh();
      expect((await t.run('three', ['--merge-key', 'period,geo_code,geo_level'])).code).toBe(0);
      const merged = await t.run('changed2020', ['--merge-key', 'period,geo_code,geo_level']);
      expect(merged.code, merged.stderr).toBe(0);
      const { root, store } = await t.table();
      const snapshot = (await readSnapshot(store))!;
      expect(snapshot.version).toBe(1);
      const key = (row: Record<string, unknown>) => JSON.stringify([row.edition, String(row.period), row.geo_code, row.geo_level]);
      const fresh2020 = await plainRows(path.join(work, 'changed2020'));
      const newKeys = new Set(fresh2020.map(key));
      const expected = [...(await plainRows(path.join(work, 'three'))).filter((row) => !newKeys.has(key(row))), ...fresh2020];
      expect(sortRows(await snapshotRows(root, snapshot))).toEqual(sortRows(expected));
    }, 90_000);

    it('--merge-key, a batch with changed, new and absent keys: changed rows replaced, new ones added, absent ones and other partitions kept; a duplicate key is exit 4 naming it', async () => {
      const t = fresh();
      const mergeKey = ['--merge-key', 'period,geo_code,geo_level'];
      expect((await t.run('merge-before', mergeKey)).code).toBe(0);
      const merged = await t.run('merge-after', mergeKey);
      expect(merged.code, merged.stderr).toBe(0);
      const { root, store } = await t.table();
      const snapshot = (await readSnapshot(store))!;
      expect(snapshot.version).toBe(1);
      const key = (row: Record<string, unknown>) => JSON.stringify([row.edition, String(row.period), row.geo_code, row.geo_level]);
      const before = await plainRows(path.join(work, 'merge-before'));
      const after = await plainRows(path.join(work, 'merge-after'));
      // The batches themselves differ as the test means them to: some keys changed, some new, some absent.
      const beforeByKey = new Map(before.map((row) => [key(row), row]));
      const afterKeys = new Set(after.map(key));
      expect(after.filter((row) => beforeByKey.has(key(row)) && beforeByKey.get(key(row))!.deaths !== row.deaths && row.geo_code === 'E92000001')).toHaveLength(12);
      expect(after.filter((row) => !beforeByKey.has(key(row))).map((row) => row.geo_code)).toEqual(Array(12).fill('E06000047'));
      expect(before.filter((row) => row.edition === '2020' && !afterKeys.has(key(row))).map((row) => row.geo_code)).toEqual(Array(12).fill('W92000004'));
      const expected = sortRows([...before.filter((row) => !afterKeys.has(key(row))), ...after]);
      const actual = sortRows(await snapshotRows(root, snapshot));
      expect(actual.length).toBe(expected.length);
      for (const [index, row] of expected.entries()) expect(actual[index], `row ${index}, key ${key(row)}`).toEqual(row);
      // Only the 2020 partition was rewritten.
      const commit = commitActions(await readFile(path.join(root, '_delta_log', '00000000000000000001.json'), 'utf8'));
      expect(commit.flatMap((action) => ('add' in action ? [action.add.partitionValues] : []))).toEqual([{ edition: '2020' }]);
      expect(commit.flatMap((action) => ('remove' in action ? [action.remove.partitionValues] : []))).toEqual([{ edition: '2020' }]);

      const duplicate = await t.run('merge-after', ['--merge-key', 'period,geo_code']);
      expect(duplicate.code, duplicate.stderr).toBe(4);
      expect(duplicate.stderr).toMatch(/--merge-key period,geo_code: the key \(period="2020-\d\d-01", geo_code="K04000001"\) appears 2 times in this run's rows/);
      expect((await readSnapshot((await t.table()).store))!.version).toBe(1);
    }, 120_000);

    if (entry.name === 'local') it('etl transform --format delta --out ./dir/ commits a local table; again, nothing; --merge-key without delta is a usage error', async () => {
      const t = fresh();
      const table = path.join(lake.bucket(t.prefix), 'transformed');
      const transform = (input: string, extra: string[] = []) => runCliInProcess(['transform', 'ons', '--data-dir', path.join(work, `transform-data-${t.id}`), '--input', path.join(work, input), '--partition-by', 'edition', '--out', table, ...extra]);
      const first = await transform('three', ['--format', 'delta']);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/Delta: version 0 of .*transformed\/: 3 partitions written \(edition=2019, edition=2020, edition=2021\), 3 files added, 0 removed/);
      expect((await transform('three', ['--format', 'delta'])).stdout).toMatch(/already holds these rows; nothing committed/);
      expect(sortRows(await snapshotRows(table, (await readSnapshot(new LocalLogStore(table)))!))).toEqual(sortRows(await plainRows(path.join(work, 'three'))));
      const misuse = await transform('three', ['--merge-key', 'period']);
      expect(misuse.code).toBe(2);
      expect(misuse.stderr).toMatch(/--merge-key goes with --format delta/);
    }, 60_000);

    if (entry.name === 'local') it('format: delta in a config file writes the same table as the flags', async () => {
      const t = fresh();
      const config = path.join(work, `delta-config-${t.id}.yaml`);
      await writeFile(config, `pipelines:\n  deaths:\n    source: ons\n    options: { input: ["${path.join(work, 'three')}"], format: delta, partition_by: edition }\n    destination: { bucket: "${lake.bucket(t.prefix)}" }\n`);
      const result = await runCliInProcess(['run', '--config', config, '--data-dir', path.join(work, `config-data-${t.id}`)]);
      expect(result.code, result.stderr).toBe(0);
      const { root, store } = await t.table();
      expect(sortRows(await snapshotRows(root, (await readSnapshot(store))!))).toEqual(sortRows(await plainRows(path.join(work, 'three'))));
    }, 60_000);

    if (entry.name === 'local') it('kill -9 as the data file appears, and as the commit file is being written: whichever side of the commit it lands, no version reads a missing file; a re-run commits; vacuum removes the orphans', async () => {
      const t = fresh();
      expect((await t.run('three')).code).toBe(0);
      const tableDir = path.join(lake.bucket(t.prefix), 'monthly-deaths');
      for (const watched of [path.join(tableDir, 'edition=2020'), path.join(tableDir, '_delta_log')]) {
        const { child, done } = t.start('changed2020');
        // The first new name in the folder: a data file being copied in, or the commit's temp file before its link().
        const watcher = watch(watched, () => child.kill('SIGKILL'));
        const result = await done;
        watcher.close();
        const store = new LocalLogStore(tableDir);
        const latest = (await readSnapshot(store))!;
        for (let version = 0; version <= latest.version; version++) {
          for (const add of (await readSnapshot(store, { version }))!.files.values()) await expect(readFile(path.join(tableDir, decodeURIComponent(add.path)))).resolves.toBeTruthy();
        }
        if (result.signal !== 'SIGKILL') expect(result.code, result.stderr).toBe(0); // it finished before the signal: also fine
      }
      const rerun = await t.run('changed2020');
      expect(rerun.code, rerun.stderr).toBe(0);
      const store = new LocalLogStore(tableDir);
      const rows2020 = (await snapshotRows(tableDir, (await readSnapshot(store))!)).filter((row) => row.edition === '2020');
      expect(sortRows(rows2020)).toEqual(sortRows(await plainRows(path.join(work, 'changed2020'))));
      const vacuum = await t.vacuum();
      expect(vacuum.code, vacuum.stderr).toBe(0);
      const live = new Set([...(await readSnapshot(store))!.files.values()].map((add) => decodeURIComponent(add.path)));
      const visible = (await store.list('')).map((file) => file.path).filter((file) => !file.startsWith('_delta_log/'));
      expect(visible.sort()).toEqual([...live].sort());
    }, 120_000);

    if (entry.name === 'local') it('a commit file that is not valid JSON: the run stops with a clear error naming it (exit 4)', async () => {
      const t = fresh();
      expect((await t.run('three')).code).toBe(0);
      await writeFile(path.join(lake.bucket(t.prefix), 'monthly-deaths', '_delta_log', '00000000000000000001.json'), '{"commitInfo":{}}\n{not json\n');
      const result = await t.run('changed2020');
      expect(result.code).toBe(4);
      expect(result.stderr).toMatch(/00000000000000000001\.json line 2 is not valid JSON.*Delta log is damaged/);
    }, 60_000);
  });
}
