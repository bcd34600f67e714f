import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { LocalLogStore } from '../../src/delta/log-store.js';
import { writeCheckpoint } from '../../src/delta/checkpoint.js';
import { readSnapshot } from '../../src/delta/replay.js';
import { writeDeltaTable, type DeltaWriteRequest } from '../../src/delta/write-table.js';
import { deltaTxnVersion } from '../../src/run/run-manifest.js';
import { readParquet } from '../helpers/parquet.js';
import { commitActions, parquetFrom, snapshotRows, sortRows } from './helpers.js';

const log = createLogger({ quiet: true });
let dir: string;
let table: string;
let store: LocalLogStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-delta-write-'));
  table = path.join(dir, 'table');
  store = new LocalLogStore(table);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

let files = 0;
const batch = (sql: string) => parquetFrom(sql, path.join(dir, `batch-${files++}.parquet`));
const write = async (sql: string, options: Partial<DeltaWriteRequest> = {}) =>
  writeDeltaTable({ parquet: await batch(sql), store, partitionBy: ['edition'], mergeKey: undefined, txn: undefined, log, ...options });
const rows = async (version?: number) => sortRows(await snapshotRows(table, (await readSnapshot(store, { version }))!));
const commit = async (version: number) => commitActions(await readFile(path.join(table, '_delta_log', `${String(version).padStart(20, '0')}.json`), 'utf8'));

const THREE = `SELECT * FROM (VALUES ('2019', 'a', 1), ('2019', 'b', 2), ('2020', 'a', 3), ('2021', 'c', 4)) AS t(edition, area, deaths)`;

describe('Delta writer: one run, one commit', () => {
  it('first commit: protocol 1/2, metaData with the schema and partition column, one add per partition with stats', async () => {
    const result = await write(THREE);
    expect(result.version).toBe(0);
    const actions = await commit(0);
    expect(actions.map((action) => Object.keys(action)[0])).toEqual(['commitInfo', 'protocol', 'metaData', 'add', 'add', 'add']);
    const protocol = actions.find((a) => 'protocol' in a) as { protocol: { minReaderVersion: number; minWriterVersion: number } };
    expect(protocol.protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 2 });
    const { metaData } = actions.find((a) => 'metaData' in a) as { metaData: { schemaString: string; partitionColumns: string[] } };
    expect(metaData.partitionColumns).toEqual(['edition']);
    expect(JSON.parse(metaData.schemaString)).toEqual({ type: 'struct', fields: [
      { name: 'edition', type: 'string', nullable: true, metadata: {} },
      { name: 'area', type: 'string', nullable: true, metadata: {} },
      { name: 'deaths', type: 'integer', nullable: true, metadata: {} },
    ] });
    const adds = actions.flatMap((a) => ('add' in a ? [a.add] : []));
    const of2019 = adds.find((add) => add.partitionValues.edition === '2019')!;
    expect(of2019.path).toMatch(/^edition=2019\/part-00000-[0-9a-f-]{36}\.c000\.zstd\.parquet$/);
    expect(of2019.dataChange).toBe(true);
    expect(JSON.parse(of2019.stats!)).toEqual({ numRecords: 2, minValues: { area: 'a', deaths: 1 }, maxValues: { area: 'b', deaths: 2 }, nullCount: { area: 0, deaths: 0 } });
    expect((await readFile(path.join(table, of2019.path))).length).toBe(of2019.size);
    expect(await rows()).toEqual(sortRows([
      { edition: '2019', area: 'a', deaths: 1 }, { edition: '2019', area: 'b', deaths: 2 }, { edition: '2020', area: 'a', deaths: 3 }, { edition: '2021', area: 'c', deaths: 4 },
    ]));
  });

  it('a re-run with the same rows commits nothing', async () => {
    await write(THREE);
    const again = await write(THREE);
    expect(again.version).toBeUndefined();
    expect(again.unchanged).toBe(3);
    expect((await readdir(path.join(table, '_delta_log'))).filter((name) => name.endsWith('.json'))).toHaveLength(1);
  });

  it('replacing one partition removes its live file and adds the new one in one commit; other partitions stay', async () => {
    await write(THREE);
    const before = (await readSnapshot(store))!;
    const old2019 = [...before.files.values()].find((add) => add.partitionValues.edition === '2019')!;
    const result = await write(`SELECT * FROM (VALUES ('2019', 'a', 10)) AS t(edition, area, deaths)`);
    expect(result.version).toBe(1);
    expect(result.partitions).toEqual(['edition=2019']);
    const actions = await commit(1);
    expect(actions.map((action) => Object.keys(action)[0])).toEqual(['commitInfo', 'remove', 'add']);
    expect(actions[1]).toMatchObject({ remove: { path: old2019.path, dataChange: true } });
    expect(await rows()).toEqual(sortRows([{ edition: '2019', area: 'a', deaths: 10 }, { edition: '2020', area: 'a', deaths: 3 }, { edition: '2021', area: 'c', deaths: 4 }]));
    // Time travel: version 0 still reads the old file.
    expect(await rows(0)).toHaveLength(4);
  });

  it('a null partition value and values with / % and spaces round-trip through folder names and the log', async () => {
    await write(`SELECT * FROM (VALUES (NULL, 'x'), ('a/b c%2F', 'y'), ('__HIVE_DEFAULT_PARTITION__', 'z')) AS t(edition, area)`);
    expect(await rows()).toEqual(sortRows([{ edition: null, area: 'x' }, { edition: 'a/b c%2F', area: 'y' }, { edition: '__HIVE_DEFAULT_PARTITION__', area: 'z' }]));
  });

  it('an added column is a metaData update; a type change is refused naming the column', async () => {
    await write(THREE);
    await write(`SELECT * FROM (VALUES ('2022', 'd', 5, 'new')) AS t(edition, area, deaths, note)`);
    const actions = await commit(1);
    expect(actions.map((action) => Object.keys(action)[0])).toEqual(['commitInfo', 'metaData', 'add']);
    const snapshot = (await readSnapshot(store))!;
    expect(JSON.parse(snapshot.metaData.schemaString).fields.map((f: { name: string }) => f.name)).toEqual(['edition', 'area', 'deaths', 'note']);
    await expect(write(`SELECT * FROM (VALUES ('2022', 'd', 'five')) AS t(edition, area, deaths)`)).rejects.toMatchObject({
      exitCode: 4,
      message: expect.stringMatching(/column "deaths" is string in this run but integer in the Delta table/),
    });
    await expect(write(THREE, { partitionBy: [] })).rejects.toThrow(/is partitioned by edition; this run's rows are not partitioned/);
  });

  it('a txn action makes a retried run idempotent: the same (pipeline, run) commits once', async () => {
    await write(THREE, { txn: { appId: 'ons/monthly-deaths', version: 7 } });
    expect((await commit(0)).find((a) => 'txn' in a)).toMatchObject({ txn: { appId: 'ons/monthly-deaths', version: 7 } });
    const retried = await write(`SELECT * FROM (VALUES ('2019', 'zz', 0)) AS t(edition, area, deaths)`, { txn: { appId: 'ons/monthly-deaths', version: 7 } });
    expect(retried.version).toBeUndefined();
    const next = await write(`SELECT * FROM (VALUES ('2019', 'zz', 0)) AS t(edition, area, deaths)`, { txn: { appId: 'ons/monthly-deaths', version: 8 } });
    expect(next.version).toBe(1);
  });

  it('two runs of one pipeline started in the same millisecond are two runs: both commit (their txn versions differ)', async () => {
    const startedAt = '2026-12-06T22:33:52.440Z';
    const first = deltaTxnVersion({ run_id: '20261206T223352440Z-ons-monthly-deaths-44a7', started_at: startedAt });
    const second = deltaTxnVersion({ run_id: '20261206T223352440Z-ons-monthly-deaths-0b1c', started_at: startedAt });
    expect(first).not.toBe(second);
    expect(deltaTxnVersion({ run_id: '20261206T223352441Z-ons-monthly-deaths-0000', started_at: '2026-12-06T22:33:52.441Z' })).toBeGreaterThan(Math.max(first, second));
    expect(Number.isSafeInteger(first)).toBe(true);
    await write(THREE, { txn: { appId: 'ons/monthly-deaths', version: first } });
    const other = await write(`SELECT * FROM (VALUES ('2020', 'zz', 0)) AS t(edition, area, deaths)`, { txn: { appId: 'ons/monthly-deaths', version: second } });
    expect(other.version).toBe(1);
  });

  it('every 10th version writes a parquet checkpoint and _last_checkpoint that replay the same files', async () => {
    for (let i = 0; i <= 10; i++) await write(`SELECT * FROM (VALUES ('${2000 + (i % 3)}', 'a', ${i})) AS t(edition, area, deaths)`);
    const last = JSON.parse(await readFile(path.join(table, '_delta_log', '_last_checkpoint'), 'utf8'));
    expect(last.version).toBe(10);
    const fromCheckpoint = (await readSnapshot(store))!;
    expect(fromCheckpoint.checkpoint).toBe(10);
    // Read by a parquet reader that is not DuckDB: one action per row, partitionValues and tags as maps.
    const { rows: checkpointRows } = await readParquet(path.join(table, '_delta_log', '00000000000000000010.checkpoint.parquet'));
    const adds = checkpointRows.filter((row) => row.add !== null && row.add !== undefined).map((row) => row.add as { path: string; partitionValues: Record<string, string>; dataChange: boolean; tags: Record<string, string> });
    expect(adds.map((add) => add.partitionValues.edition).sort()).toEqual(['2000', '2001', '2002']);
    expect(adds.every((add) => add.dataChange === false && typeof add.tags['etl.sha256'] === 'string')).toBe(true);
    expect(checkpointRows.filter((row) => row.protocol).map((row) => row.protocol)).toEqual([{ minReaderVersion: 1, minWriterVersion: 2 }]);
    expect(checkpointRows.filter((row) => row.metaData)).toHaveLength(1);
    // The 8 files replaced on the way are tombstones (PROTOCOL.md: kept until they expire, for other engines' vacuum).
    const removedInLog: string[] = [];
    for (let version = 0; version <= 10; version++) for (const action of await commit(version)) if ('remove' in action) removedInLog.push(action.remove.path);
    expect(removedInLog).toHaveLength(8);
    const tombstones = checkpointRows.filter((row) => row.remove).map((row) => row.remove as { path: string; dataChange: boolean; deletionTimestamp: bigint | number; size: bigint | number; partitionValues: Record<string, string> });
    expect(tombstones.map((remove) => remove.path).sort()).toEqual(removedInLog.sort());
    expect(tombstones.every((remove) => remove.dataChange === false && Number(remove.deletionTimestamp) > 0 && Number(remove.size) > 0 && /^200[012]$/.test(remove.partitionValues.edition ?? ''))).toBe(true);
    // Expired ones (older than Delta's default week) are left out.
    await writeCheckpoint(store, fromCheckpoint, Date.now() + 8 * 86_400_000);
    const { rows: later } = await readParquet(path.join(table, '_delta_log', '00000000000000000010.checkpoint.parquet'));
    expect(later.filter((row) => row.remove)).toHaveLength(0);
    expect(later.filter((row) => row.add)).toHaveLength(3);
    await rm(path.join(table, '_delta_log', '00000000000000000010.checkpoint.parquet'));
    await rm(path.join(table, '_delta_log', '_last_checkpoint'));
    const fromJson = (await readSnapshot(store))!;
    expect(fromJson.checkpoint).toBeUndefined();
    expect([...fromCheckpoint.files.keys()].sort()).toEqual([...fromJson.files.keys()].sort());
    const withoutNulls = (value: object) => JSON.parse(JSON.stringify(value, (_, v: unknown) => (v === null ? undefined : v)));
    expect(withoutNulls(fromCheckpoint.metaData)).toEqual(withoutNulls(fromJson.metaData));
  });
});

describe('Delta writer: merge by key', () => {
  const merge = (sql: string) => write(sql, { mergeKey: ['edition', 'area'] });

  it('rows whose key exists are replaced, new keys added, only in the partitions touched', async () => {
    await merge(THREE);
    const result = await merge(`SELECT * FROM (VALUES ('2019', 'b', 20), ('2019', 'e', 5)) AS t(edition, area, deaths)`);
    expect(result.partitions).toEqual(['edition=2019']);
    expect(await rows()).toEqual(sortRows([
      { edition: '2019', area: 'a', deaths: 1 }, { edition: '2019', area: 'b', deaths: 20 }, { edition: '2019', area: 'e', deaths: 5 },
      { edition: '2020', area: 'a', deaths: 3 }, { edition: '2021', area: 'c', deaths: 4 },
    ]));
    const again = await merge(`SELECT * FROM (VALUES ('2019', 'b', 20)) AS t(edition, area, deaths)`);
    expect(again.version).toBeUndefined();
  });

  it('a duplicate key in one batch is a data error naming the key; nothing is committed', async () => {
    await expect(merge(`SELECT * FROM (VALUES ('2019', 'a', 1), ('2019', 'a', 2)) AS t(edition, area, deaths)`)).rejects.toMatchObject({
      exitCode: 4,
      message: expect.stringMatching(/the key \(edition="2019", area="a"\) appears 2 times/),
    });
    expect(await readSnapshot(store)).toBeUndefined();
  });
});

/**
 * The real local store, but the first create-if-absent of each of `writers` waits until all have arrived: both
 * planned against the same snapshot and race for the same version, every time, not only when timing allows.
 */
class RacingStore extends LocalLogStore {
  private waiting: Array<() => void> = [];
  constructor(root: string, private writers: number) {
    super(root);
  }
  override async createIfAbsent(relative: string, bytes: Uint8Array): Promise<boolean> {
    if (this.writers > 0) {
      this.writers--;
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        if (this.writers === 0) for (const go of this.waiting) go();
      });
    }
    return super.createIfAbsent(relative, bytes);
  }
}

describe('Delta writer: racing writers', () => {
  it('two writers on different partitions: both land, as consecutive versions (the loser re-read the log and retried)', async () => {
    await write(THREE);
    const racing = new RacingStore(table, 2);
    const [a, b] = await Promise.all([
      write(`SELECT * FROM (VALUES ('2019', 'x', 1)) AS t(edition, area, deaths)`, { store: racing }),
      write(`SELECT * FROM (VALUES ('2020', 'y', 2)) AS t(edition, area, deaths)`, { store: racing }),
    ]);
    expect([a.version, b.version].sort()).toEqual([1, 2]);
    expect([...a.retriedAfter, ...b.retriedAfter]).toEqual([1]);
    expect(await rows()).toEqual(sortRows([{ edition: '2019', area: 'x', deaths: 1 }, { edition: '2020', area: 'y', deaths: 2 }, { edition: '2021', area: 'c', deaths: 4 }]));
  });

  it('two writers creating the table at once (shards of a first run), different partitions: both land', async () => {
    const racing = new RacingStore(table, 2);
    const [a, b] = await Promise.all([
      write(`SELECT * FROM (VALUES ('2019', 'x', 1)) AS t(edition, area, deaths)`, { store: racing }),
      write(`SELECT * FROM (VALUES ('2020', 'y', 2)) AS t(edition, area, deaths)`, { store: racing }),
    ]);
    expect([a.version, b.version].sort()).toEqual([0, 1]);
    expect((await commit(1)).map((action) => Object.keys(action)[0])).toEqual(['commitInfo', 'add']);
    expect(await rows()).toEqual(sortRows([{ edition: '2019', area: 'x', deaths: 1 }, { edition: '2020', area: 'y', deaths: 2 }]));
  });

  it('two writers on the same partition: one lands, the other fails with a conflict naming it, none lost silently', async () => {
    await write(THREE);
    const racing = new RacingStore(table, 2);
    const results = await Promise.allSettled([
      write(`SELECT * FROM (VALUES ('2019', 'x', 1)) AS t(edition, area, deaths)`, { store: racing }),
      write(`SELECT * FROM (VALUES ('2019', 'y', 2)) AS t(edition, area, deaths)`, { store: racing }),
    ]);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    {
      expect(failed).toHaveLength(1);
      expect(failed[0]!.reason).toMatchObject({ exitCode: 5, message: expect.stringMatching(/conflicts with version 1, .*partition edition=2019/) });
      // The loser's data file was removed again: nothing on disk that no version references.
      const snapshot = (await readSnapshot(store))!;
      const onDisk = (await store.list('edition=2019')).map((file) => file.path);
      const referenced = new Set([...snapshot.files.keys()]);
      for (const version of [0]) for (const key of (await readSnapshot(store, { version }))!.files.keys()) referenced.add(key);
      expect(onDisk.filter((file) => !referenced.has(file))).toEqual([]);
    }
  });

  it('a gap in the log, or a table that needs a newer writer, is refused naming it; nothing written', async () => {
    await write(THREE);
    await write(`SELECT * FROM (VALUES ('2019', 'x', 1)) AS t(edition, area, deaths)`);
    await write(`SELECT * FROM (VALUES ('2019', 'y', 1)) AS t(edition, area, deaths)`);
    await rm(path.join(table, '_delta_log', '00000000000000000001.json'));
    await expect(write(THREE)).rejects.toMatchObject({ exitCode: 4, message: expect.stringMatching(/_delta_log\/00000000000000000001\.json is missing: the log has no commit for version 1/) });
    await writeFile(path.join(table, '_delta_log', '00000000000000000001.json'), '{"protocol":{"minReaderVersion":1,"minWriterVersion":7,"writerFeatures":["deletionVectors"]}}\n');
    const before = await store.list('');
    await expect(write(`SELECT * FROM (VALUES ('2030', 'z', 1)) AS t(edition, area, deaths)`)).rejects.toMatchObject({ exitCode: 4, message: expect.stringMatching(/needs a writer of version 7; etl writes version 2 tables/) });
    expect((await store.list('')).map((file) => file.path).sort()).toEqual(before.map((file) => file.path).sort());
  });

  it('a log file that is not valid JSON stops the writer with a clear error', async () => {
    await write(THREE);
    await writeFile(path.join(table, '_delta_log', '00000000000000000001.json'), 'not json\n');
    await expect(write(THREE)).rejects.toMatchObject({ exitCode: 4, message: expect.stringMatching(/00000000000000000001\.json line 1 is not valid JSON/) });
  });
});

describe('Delta log paths are records, not instructions', () => {
  it.each(['../outside.parquet', '/etc/passwd', 's3://other-bucket/x.parquet', 'edition%3D1/..%2F..%2Fx.parquet', 'a//b.parquet'])('an add of %s is refused before any file is read', async (bad) => {
    await write(THREE);
    await writeFile(path.join(table, '_delta_log', '00000000000000000001.json'), `${JSON.stringify({ add: { path: bad, partitionValues: { edition: '2019' }, size: 1, modificationTime: 0, dataChange: true } })}\n`);
    await expect(write(`SELECT * FROM (VALUES ('2019', 'x', 1)) AS t(edition, area, deaths)`, { mergeKey: ['edition', 'area'] })).rejects.toMatchObject({ exitCode: 4, message: expect.stringMatching(/the Delta log names a file outside the table/) });
  });
});

describe('Delta writer: what the log records is what PROTOCOL.md says readers parse', () => {
  it('stats: min/max that a JSON double cannot hold exactly (BIGINT beyond 2^53, a 19-digit DECIMAL) or that are not finite are left out, never rounded; the others kept', async () => {
    const result = await write(`SELECT * FROM (VALUES
      ('2019', 9007199254740993::BIGINT, 12345678901234567.89::DECIMAL(38,2), 'infinity'::DOUBLE, 1.25::DECIMAL(10,2), 7::BIGINT, -2.5::DOUBLE),
      ('2019', 1::BIGINT, 1.00::DECIMAL(38,2), 1.5::DOUBLE, 0.05::DECIMAL(10,2), 3::BIGINT, 'nan'::DOUBLE)) AS t(edition, big, wide, d, small, n, e)`);
    expect(result.version).toBe(0);
    const add = (await commit(0)).flatMap((a) => ('add' in a ? [a.add] : []))[0]!;
    expect(JSON.parse(add.stats!)).toEqual({
      numRecords: 2,
      minValues: { big: 1, wide: 1, d: 1.5, small: 0.05, n: 3, e: -2.5 },
      maxValues: { small: 1.25, n: 7 },
      nullCount: { big: 0, wide: 0, d: 0, small: 0, n: 0, e: 0 },
    });
  });

  it('a timestamp partition value is an ISO 8601 UTC instant (not DuckDB\'s `+00` text), and a re-run finds the same partition', async () => {
    const sql = `SELECT * FROM (VALUES (TIMESTAMPTZ '2024-01-01 10:00:00+02', 'a', 1), (TIMESTAMPTZ '2024-01-02 00:00:00.123456+00', 'b', 2)) AS t(edition, area, deaths)`;
    await write(sql);
    const values = (await commit(0)).flatMap((a) => ('add' in a ? [a.add.partitionValues.edition] : []));
    expect(values.sort()).toEqual(['2024-01-01T08:00:00.000000Z', '2024-01-02T00:00:00.123456Z']);
    expect((await write(sql)).version).toBeUndefined();
  });
});

describe('Delta writer: what writer version 2 obliges a writer to honour', () => {
  /** Commits, as another engine would, a metaData change to the table etl created. */
  const amendMetaData = async (change: (metaData: Record<string, unknown>) => Record<string, unknown>) => {
    const metaData = (await commit(0)).flatMap((a) => ('metaData' in a ? [a.metaData as unknown as Record<string, unknown>] : []))[0]!;
    await writeFile(path.join(table, '_delta_log', '00000000000000000001.json'), JSON.stringify({ metaData: change(metaData) }) + '\n');
  };

  it('delta.appendOnly: a new partition is added, replacing one is refused naming it, nothing committed', async () => {
    await write(THREE);
    await amendMetaData((metaData) => ({ ...metaData, configuration: { 'delta.appendOnly': 'true' } }));
    expect((await write(`SELECT * FROM (VALUES ('2022', 'a', 5)) AS t(edition, area, deaths)`)).version).toBe(2);
    await expect(write(`SELECT * FROM (VALUES ('2019', 'a', 9)) AS t(edition, area, deaths)`)).rejects.toMatchObject({ exitCode: 4, message: expect.stringMatching(/is append-only \(delta.appendOnly\), and this run would replace the partition edition=2019/) });
    expect((await readSnapshot(store))!.version).toBe(2);
  });

  it('a NOT NULL column (nullable: false) refuses a run with a null in it, naming the column; non-null rows go in', async () => {
    await write(THREE);
    await amendMetaData((metaData) => {
      const schema = JSON.parse(String(metaData.schemaString)) as { fields: Array<{ name: string; nullable: boolean }> };
      schema.fields.find((field) => field.name === 'deaths')!.nullable = false;
      return { ...metaData, schemaString: JSON.stringify(schema) };
    });
    await expect(write(`SELECT * FROM (VALUES ('2022', 'a', NULL::INTEGER), ('2022', 'b', 1)) AS t(edition, area, deaths)`)).rejects.toMatchObject({ exitCode: 4, message: expect.stringMatching(/column "deaths" is NOT NULL in the Delta table .*, but this run has 1 null value\(s\) in it/) });
    expect((await write(`SELECT * FROM (VALUES ('2022', 'b', 1)) AS t(edition, area, deaths)`)).version).toBe(2);
  });

  it('a column invariant (delta.invariants) is refused naming the column: etl cannot check it', async () => {
    await write(THREE);
    await amendMetaData((metaData) => {
      const schema = JSON.parse(String(metaData.schemaString)) as { fields: Array<{ name: string; metadata: Record<string, unknown> }> };
      schema.fields.find((field) => field.name === 'deaths')!.metadata = { 'delta.invariants': JSON.stringify({ expression: { expression: 'deaths >= 0' } }) };
      return { ...metaData, schemaString: JSON.stringify(schema) };
    });
    await expect(write(`SELECT * FROM (VALUES ('2022', 'a', -5)) AS t(edition, area, deaths)`)).rejects.toMatchObject({ exitCode: 4, message: expect.stringMatching(/has an invariant on column "deaths", which etl cannot check/) });
    expect((await readSnapshot(store))!.version).toBe(1);
  });
});
