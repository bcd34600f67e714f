import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/log.js';
import { LocalLogStore, type LogStore } from '../../src/delta/log-store.js';
import { openLogStore } from '../../src/delta/open-store.js';
import { readSnapshot } from '../../src/delta/replay.js';
import { writeDeltaTable } from '../../src/delta/write-table.js';
import { startConditionalFront, type ConditionalFront } from '../load/servers/conditional-writes.js';
import { gcsEmulatorInstalled, startGcsEmulator } from '../load/servers/gcs-emulator.js';
import { S3RVER_CREDENTIALS, startS3Server } from '../load/servers/s3-server.js';
import { parquetFrom, snapshotRows, sortRows } from './helpers.js';

const log = createLogger({ quiet: true });
const BUCKET = 'etl-test';

/** A stand-in store with the cloud's create-if-absent in front, and a way to copy a table out with the store's own client. */
interface StoreUnderTest {
  name: 's3' | 'gcs';
  /** The stand-in alone, which ignores the condition. */
  rawUrl: string;
  front: ConditionalFront;
  open(prefix: string, endpoint?: string): Promise<LogStore>;
  /** Raw PUT through the stand-in, without any condition. */
  putRaw(key: string, body: string): Promise<void>;
  download(prefix: string, into: string): Promise<void>;
  stop(): Promise<void>;
}

async function s3Store(): Promise<StoreUnderTest> {
  const server = await startS3Server([BUCKET]);
  const front = await startConditionalFront(server.url, 's3');
  Object.assign(process.env, S3RVER_CREDENTIALS, { AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: 'us-east-1' });
  const client = new S3Client({ endpoint: server.url, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  return {
    name: 's3',
    rawUrl: server.url,
    front,
    open: (prefix, endpoint = front.url) => openLogStore(`s3://${BUCKET}/${prefix}`, { endpoint, region: 'us-east-1' }),
    putRaw: async (key, body) => { await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body })); },
    async download(prefix, into) {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
      for (const object of listed.Contents ?? []) {
        const body = await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: object.Key! }))).Body!.transformToByteArray();
        const local = path.join(into, object.Key!.slice(prefix.length));
        await mkdir(path.dirname(local), { recursive: true });
        await writeFile(local, body);
      }
    },
    async stop() {
      client.destroy();
      await front.stop();
      await server.stop();
    },
  };
}

async function gcsStore(): Promise<StoreUnderTest> {
  const emulator = await startGcsEmulator();
  const front = await startConditionalFront(emulator.url, 'gcs');
  Object.assign(process.env, { METADATA_SERVER_DETECTION: 'none', GOOGLE_CLOUD_PROJECT: 'etl-test' });
  const bucket = new Storage({ apiEndpoint: emulator.url, projectId: 'etl-test' }).bucket(BUCKET);
  return {
    name: 'gcs',
    rawUrl: emulator.url,
    front,
    open: (prefix, endpoint = front.url) => openLogStore(`gs://${BUCKET}/${prefix}`, { endpoint, region: undefined }),
    putRaw: async (key, body) => { await bucket.file(key).save(body, { resumable: false }); },
    async download(prefix, into) {
      const [files] = await bucket.getFiles({ prefix });
      for (const file of files) {
        const local = path.join(into, file.name.slice(prefix.length));
        await mkdir(path.dirname(local), { recursive: true });
        await file.download({ destination: local });
      }
    },
    async stop() {
      await front.stop();
      await emulator.stop();
    },
  };
}

const factories = [
  { name: 's3', start: s3Store, unavailable: undefined as string | undefined },
  { name: 'gcs', start: gcsStore, unavailable: gcsEmulatorInstalled() ? undefined : 'GCS emulator not installed: run `npm run install-gcs-emulator`' },
];

for (const factory of factories) {
  describe.skipIf(factory.unavailable !== undefined)(`Delta log store on ${factory.name}`, () => {
    let store: StoreUnderTest;
    let dir: string;
    beforeAll(async () => {
      store = await factory.start();
      dir = await mkdtemp(path.join(tmpdir(), `etl-delta-${factory.name}-`));
    }, 60_000);
    afterAll(async () => {
      await store?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it('create-if-absent: the first write of a name wins, the second is refused (412) and leaves the first intact', async () => {
      const log = await store.open('conditional/');
      expect(await log.createIfAbsent('_delta_log/00000000000000000000.json', Buffer.from('{"first":1}\n'))).toBe(true);
      expect(await log.createIfAbsent('_delta_log/00000000000000000000.json', Buffer.from('{"second":2}\n'))).toBe(false);
      expect(store.front.refused).toContain(factory.name === 's3' ? `/${BUCKET}/conditional/_delta_log/00000000000000000000.json` : `${BUCKET}/conditional/_delta_log/00000000000000000000.json`);
      expect((await log.read('_delta_log/00000000000000000000.json'))!.toString()).toBe('{"first":1}\n');
    });

    it('the stand-in alone ignores the condition (why the tests put the cloud\'s behaviour in front of it)', async () => {
      const raw = await store.open('unconditional/', store.rawUrl);
      expect(await raw.createIfAbsent('x.json', Buffer.from('1'))).toBe(true);
      expect(await raw.createIfAbsent('x.json', Buffer.from('2'))).toBe(true);
    });

    it('a partitioned table written, one partition replaced, read back through the store\'s own client', async () => {
      const table = await store.open('lake/deaths/');
      const first = await parquetFrom(`SELECT * FROM (VALUES ('2019', 'a', 1), ('2020', 'b', 2)) AS t(edition, area, deaths)`, path.join(dir, 'first.parquet'));
      const second = await parquetFrom(`SELECT * FROM (VALUES ('2019', 'a', 10)) AS t(edition, area, deaths)`, path.join(dir, 'second.parquet'));
      expect((await writeDeltaTable({ parquet: first, store: table, partitionBy: ['edition'], mergeKey: undefined, txn: undefined, log })).version).toBe(0);
      expect((await writeDeltaTable({ parquet: second, store: table, partitionBy: ['edition'], mergeKey: undefined, txn: undefined, log })).version).toBe(1);
      expect((await writeDeltaTable({ parquet: second, store: table, partitionBy: ['edition'], mergeKey: undefined, txn: undefined, log })).version).toBeUndefined();
      const copy = path.join(dir, 'copy');
      await store.download('lake/deaths/', copy);
      const local = new LocalLogStore(copy);
      expect(sortRows(await snapshotRows(copy, (await readSnapshot(local))!))).toEqual(sortRows([{ edition: '2019', area: 'a', deaths: 10 }, { edition: '2020', area: 'b', deaths: 2 }]));
      expect(await snapshotRows(copy, (await readSnapshot(local, { version: 0 }))!)).toHaveLength(2);
    });

    it('the 10th version writes a parquet checkpoint and _last_checkpoint to the store; replay starts there', async () => {
      const table = await store.open('checkpointed/');
      for (let i = 0; i <= 10; i++) {
        const batch = await parquetFrom(`SELECT * FROM (VALUES ('${i % 4}', ${i})) AS t(p, v)`, path.join(dir, `cp-${i}.parquet`));
        expect((await writeDeltaTable({ parquet: batch, store: table, partitionBy: ['p'], mergeKey: undefined, txn: undefined, log })).version).toBe(i);
      }
      expect(JSON.parse((await table.read('_delta_log/_last_checkpoint'))!.toString())).toMatchObject({ version: 10 });
      const snapshot = (await readSnapshot(table))!;
      expect(snapshot.checkpoint).toBe(10);
      expect([...snapshot.files.values()].map((add) => add.partitionValues.p).sort()).toEqual(['0', '1', '2', '3']);
      const copy = path.join(dir, 'checkpointed');
      await store.download('checkpointed/', copy);
      const rows = await snapshotRows(copy, (await readSnapshot(new LocalLogStore(copy)))!);
      expect(sortRows(rows)).toEqual(sortRows([{ p: '0', v: 8 }, { p: '1', v: 9 }, { p: '2', v: 10 }, { p: '3', v: 7 }]));
    }, 60_000);

    it('two writers racing through the store: different partitions both land as consecutive versions', async () => {
      const [a, b] = await Promise.all([store.open('race/'), store.open('race/')]);
      const base = await parquetFrom(`SELECT * FROM (VALUES ('1', 0), ('2', 0)) AS t(p, v)`, path.join(dir, 'base.parquet'));
      await writeDeltaTable({ parquet: base, store: a, partitionBy: ['p'], mergeKey: undefined, txn: undefined, log });
      const one = await parquetFrom(`SELECT * FROM (VALUES ('1', 1)) AS t(p, v)`, path.join(dir, 'one.parquet'));
      const two = await parquetFrom(`SELECT * FROM (VALUES ('2', 2)) AS t(p, v)`, path.join(dir, 'two.parquet'));
      const results = await Promise.all([
        writeDeltaTable({ parquet: one, store: a, partitionBy: ['p'], mergeKey: undefined, txn: undefined, log }),
        writeDeltaTable({ parquet: two, store: b, partitionBy: ['p'], mergeKey: undefined, txn: undefined, log }),
      ]);
      expect(results.map((result) => result.version).sort()).toEqual([1, 2]);
      const snapshot = (await readSnapshot(a))!;
      expect([...snapshot.files.values()].map((add) => add.partitionValues.p).sort()).toEqual(['1', '2']);
    });
  });
}
