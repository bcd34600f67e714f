import type { IncomingMessage } from 'node:http';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFileServer, type FileServer, type ServedFile } from '../helpers/http-server.js';
import { readParquet } from '../helpers/parquet.js';
import { runCli, startCli } from '../helpers/run-cli.js';
import { S3RVER_CREDENTIALS, startS3Server, type RunningS3Server } from '../load/servers/s3-server.js';
import { PAGE, REFRESHED_PATH, buildOnsSite } from './ons-site.js';

/** `etl run --partition-by edition`: a Hive-partitioned lake where a refresh rewrites and re-uploads one partition. */
let work: string;
let server: FileServer;
let refreshed: ServedFile;
let s3: RunningS3Server;
let reader: S3Client;
const writes: string[] = [];
const S3_ENV = { ...S3RVER_CREDENTIALS, AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: 'us-east-1' };

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-partition-'));
  const site = await buildOnsSite(work);
  server = await startFileServer(site.files);
  refreshed = site.refreshed;
  s3 = await startS3Server(['lake']);
  s3.http.on('request', (request: IncomingMessage) => {
    if (request.method === 'PUT' || request.method === 'POST') writes.push(decodeURIComponent(new URL(request.url!, 'http://x').pathname));
  });
  reader = new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
});
afterAll(async () => {
  reader?.destroy();
  await s3?.stop();
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

async function objects(): Promise<Record<string, string>> {
  const listed = await reader.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'ons/' }));
  return Object.fromEntries((listed.Contents ?? []).map((o) => [o.Key!, `${o.ETag} ${o.LastModified?.toISOString()}`]));
}

async function mtimes(dir: string): Promise<Record<number, number>> {
  const result: Record<number, number> = {};
  for (const edition of [2015, 2019, 2021]) result[edition] = (await stat(path.join(dir, `edition=${edition}`, 'part-0.parquet'))).mtimeMs;
  return result;
}

describe('etl run --partition-by edition', () => {
  const dataDir = () => path.join(work, 'data');
  const lakeDir = () => path.join(dataDir(), 'processed', 'ons', 'monthly-deaths');
  const run = () => runCli(['--json', 'run', 'ons', '--url', server.url + PAGE, '--data-dir', dataDir(), '--partition-by', 'edition', '--bucket', 's3://lake/ons/', '--endpoint', s3.url], { env: S3_ENV });

  it('writes one folder per edition without the edition column, _manifest.json last, and DuckDB reads it as one table', async () => {
    const result = await run();
    expect(result.code, result.stderr).toBe(0);
    const partition = await readParquet(path.join(lakeDir(), 'edition=2019', 'part-0.parquet'));
    expect(partition.columns.map((c) => c.name)).toEqual(['period', 'geo_code', 'geo_code_extra', 'geo_name', 'area_name', 'geo_level', 'deaths', 'source_file']);
    expect(partition.rows).toHaveLength(7 * 12);
    const manifest = JSON.parse(await readFile(path.join(lakeDir(), '_manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ partition_by: 'edition', rows: 3 * 7 * 12 });
    expect(manifest.files.map((f: { path: string }) => f.path)).toEqual(['edition=2015/part-0.parquet', 'edition=2019/part-0.parquet', 'edition=2021/part-0.parquet']);

    const duck = await DuckDBInstance.create(':memory:');
    const connection = await duck.connect();
    const glob = path.join(lakeDir(), '**', '*.parquet').replace(/'/g, "''");
    const counts = (await connection.runAndReadAll(`SELECT edition, count(*) AS n FROM read_parquet('${glob}', hive_partitioning=true) GROUP BY 1 ORDER BY 1`)).getRowObjectsJS();
    connection.closeSync();
    duck.closeSync();
    expect(counts.map((row) => [Number(row.edition), Number(row.n)])).toEqual([[2015, 84], [2019, 84], [2021, 84]]);

    expect(writes.slice(0, 3).sort()).toEqual([2015, 2019, 2021].map((edition) => `/lake/ons/monthly-deaths/edition=${edition}/part-0.parquet`));
    expect(writes.slice(3)).toEqual(['/lake/ons/monthly-deaths/_manifest.json']);
  });

  it('a workbook refreshed in place rewrites and re-uploads only its partition (and the manifest, last)', async () => {
    const [objectsBefore, filesBefore] = [await objects(), await mtimes(lakeDir())];
    writes.length = 0;
    server.set(REFRESHED_PATH, refreshed);
    const result = await run();
    expect(result.code, result.stderr).toBe(0);
    const transform = JSON.parse(result.stdout).steps[1];
    expect(transform.summary).toMatchObject({ partitions_rewritten: 1, partitions_removed: 0 });

    const filesAfter = await mtimes(lakeDir());
    expect(filesAfter[2015]).toBe(filesBefore[2015]);
    expect(filesAfter[2021]).toBe(filesBefore[2021]);
    expect(filesAfter[2019]).not.toBe(filesBefore[2019]);

    expect(writes).toEqual(['/lake/ons/monthly-deaths/edition=2019/part-0.parquet', '/lake/ons/monthly-deaths/_manifest.json']);
    const objectsAfter = await objects();
    for (const key of ['ons/monthly-deaths/edition=2015/part-0.parquet', 'ons/monthly-deaths/edition=2021/part-0.parquet']) expect(objectsAfter[key]).toBe(objectsBefore[key]);
    expect(objectsAfter['ons/monthly-deaths/edition=2019/part-0.parquet']).not.toBe(objectsBefore['ons/monthly-deaths/edition=2019/part-0.parquet']);
  });

  it('3 shards started at once (--shard, Cloud Run and Kubernetes variables) write exactly the rows of one unsharded run', async () => {
    const lake = path.join(work, 'sharded-lake');
    const shard = (index: number, flags: string[], env: Record<string, string>) =>
      startCli(['run', 'ons', '--url', server.url + PAGE, '--data-dir', path.join(work, `shard-${index}`), '--partition-by', 'edition', '--bucket', `file://${lake}/`, ...flags], { env }).done;
    const results = await Promise.all([
      shard(0, ['--shard', '0/3'], {}),
      shard(1, [], { CLOUD_RUN_TASK_INDEX: '1', CLOUD_RUN_TASK_COUNT: '3' }),
      shard(2, [], { JOB_COMPLETION_INDEX: '2', ETL_SHARD_COUNT: '3' }),
    ]);
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    // 2019 mod 3 = 0, 2015 and 2021 mod 3 = 2: shard 1 has no edition and says so.
    expect(results[1]!.stdout).toMatch(/transform skipped, load skipped/);
    expect((await readdir(path.join(lake, 'monthly-deaths'))).sort()).toEqual(['_manifest.shard-0-of-3.json', '_manifest.shard-2-of-3.json', 'edition=2015', 'edition=2019', 'edition=2021']);
    expect(await tableRows(path.join(lake, 'monthly-deaths'))).toEqual(await tableRows(lakeDir()));
  });
});

/** Every row of a Hive-partitioned folder, read by DuckDB as one table, in a fixed order. */
async function tableRows(dir: string): Promise<unknown[]> {
  const duck = await DuckDBInstance.create(':memory:');
  const connection = await duck.connect();
  try {
    const glob = path.join(dir, '**', '*.parquet').replace(/'/g, "''");
    return (await connection.runAndReadAll(`SELECT * FROM read_parquet('${glob}', hive_partitioning=true) ORDER BY ALL`)).getRowsJS();
  } finally {
    connection.closeSync();
    duck.closeSync();
  }
}
