import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFileServer, type FileServer, type ServedFile } from '../helpers/http-server.js';
import { readParquet } from '../helpers/parquet.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli, startCli, type CliResult } from '../helpers/run-cli.js';
import { S3RVER_CREDENTIALS, startS3Server, type RunningS3Server } from '../load/servers/s3-server.js';
import { PAGE, REFRESHED_PATH, buildOnsSite } from './ons-site.js';

/**
 * `etl run` as cron runs it: the built CLI against a local ONS copy (one server keeps connections alive,
 * one closes them after each response) and s3rver, a real S3-compatible store. Runs that are not about the process
 * (its locks, signals, timeout and crontab line) after the first of each chain go through the CLI's `main` in this
 * process (test/helpers/cli-in-process.ts); the alerts too, though they check that no secret is printed: each
 * in-process session starts with no secret registered, as a process does.
 */
const BUCKET = 'lake';
const KEY = 'ons/monthly-deaths.parquet';
const S3_ENV = { ...S3RVER_CREDENTIALS, AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: 'us-east-1' };

let work: string;
let s3: RunningS3Server;
let s3Reader: S3Client;
/** Requests that write to the store (PUT/POST), counted as s3rver receives them. */
let s3Writes = 0;
let files: Record<string, ServedFile>;
let refreshed: ServedFile;

function fileRequests(server: FileServer, from: number): Array<{ path: string; status: number; bytes: number }> {
  return server.requests.slice(from).filter((r) => r.path.startsWith('/file?'));
}

/** Every file below `dir` with its size and mtime, to show a command wrote nothing. */
async function snapshot(dir: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  const entries = await Promise.all(names.map(async (name) => {
    const info = await stat(path.join(dir, name));
    return `${name} ${info.size} ${info.mtimeMs}`;
  }));
  return entries.sort();
}

async function tempFilesBelow(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).filter((name) => path.basename(name).startsWith('.etl-tmp-'));
}

function steps(result: CliResult): Array<[string, string]> {
  const manifest = JSON.parse(result.stdout) as { steps: Array<{ name: string; status: string }> };
  return manifest.steps.map((step) => [step.name, step.status]);
}

async function stored(): Promise<{ etag: string | undefined; modified: number | undefined }> {
  const head = await s3Reader.send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY }));
  return { etag: head.ETag, modified: head.LastModified?.getTime() };
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-run-'));
  ({ files, refreshed } = await buildOnsSite(work));
  s3 = await startS3Server([BUCKET]);
  s3.http.on('request', (request: IncomingMessage) => {
    if (request.method === 'PUT' || request.method === 'POST') s3Writes++;
  });
  s3Reader = new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
});

afterAll(async () => {
  s3Reader?.destroy();
  await s3?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('etl run twice, then with one workbook refreshed (server closing connections after each response)', () => {
  let server: FileServer;
  let dataDir: string;
  const runArgs = () => ['--json', 'run', 'ons', '--url', server.url + PAGE, '--data-dir', dataDir, '--bucket', `s3://${BUCKET}/ons/`, '--endpoint', s3.url];
  const run = () => runCliInProcess(runArgs(), { env: S3_ENV });

  beforeAll(async () => {
    server = await startFileServer(files, { closeAfterResponse: true });
    dataDir = path.join(work, 'twice');
  });
  afterAll(() => server.close());

  it('the second run fetches 0 workbook bytes, transforms nothing and writes 0 objects; a refresh redoes only what it must', async () => {
    const first = await runCli(runArgs(), { env: S3_ENV });
    expect(first.code, first.stderr).toBe(0);
    expect(steps(first)).toEqual([['extract', 'succeeded'], ['transform', 'succeeded'], ['load', 'succeeded']]);
    expect(s3Writes).toBe(1);
    const before = await stored();

    const requestsBefore = server.requests.length;
    const second = await run();
    expect(second.code, second.stderr).toBe(0);
    expect(steps(second)).toEqual([['extract', 'succeeded'], ['transform', 'cached'], ['load', 'cached']]);
    const again = fileRequests(server, requestsBefore);
    expect(again.map((r) => r.status)).toEqual([304, 304, 304]);
    expect(again.reduce((sum, r) => sum + r.bytes, 0)).toBe(0);
    expect(s3Writes).toBe(1);
    expect(await stored()).toEqual(before);

    server.set(REFRESHED_PATH, refreshed);
    const third = await run();
    expect(third.code, third.stderr).toBe(0);
    const manifest = JSON.parse(third.stdout);
    expect(steps(third)).toEqual([['extract', 'succeeded'], ['transform', 'succeeded'], ['load', 'succeeded']]);
    expect(manifest.steps[0].summary).toMatchObject({ downloaded: 1, unchanged: 2 });
    expect(manifest.steps[1].cache).toMatch(/^input changed: .*2019[/\\]annual2019publishedoutputrefresh\.xls$/);
    expect(s3Writes).toBe(2);
    expect((await stored()).etag).not.toBe(before.etag);
  });

  it('each run left a manifest: etl runs lists them, etl runs show gives steps, inputs and outputs with sha256', async () => {
    const listed = await runCliInProcess(['runs', '--data-dir', dataDir]);
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/-ons-monthly-deaths-\w+ {2}ons\/monthly-deaths {2}succeeded .* extract succeeded, transform cached, load cached$/);

    const runId = lines[2]!.split(' ')[0]!;
    const shown = await runCliInProcess(['--json', 'runs', 'show', runId, '--data-dir', dataDir]);
    const run = JSON.parse(shown.stdout);
    expect(run).toMatchObject({ run_id: runId, pipeline: 'ons/monthly-deaths', status: 'succeeded', etl_version: expect.any(String), params: { bucket: `s3://${BUCKET}/ons/` } });
    const transform = run.steps[1];
    expect(transform).toMatchObject({ status: 'succeeded', attempts: 1, cache: 'no earlier successful run' });
    expect(transform.inputs).toHaveLength(3);
    expect(transform.outputs).toEqual([{ path: expect.stringMatching(/monthly-deaths\.parquet$/), sha256: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: expect.any(Number), rows: 3 * 7 * 12 }]);
    expect(run.steps[2].outputs[0]).toMatchObject({ path: `s3://${BUCKET}/${KEY}`, sha256: transform.outputs[0].sha256 });
  });
});

describe('etl plan: fresh, cached, one changed; nothing fetched, written or uploaded', () => {
  let server: FileServer;
  let dataDir: string;
  const flags = () => ['ons', '--url', server.url + PAGE, '--data-dir', dataDir, '--bucket', `s3://${BUCKET}/plan/`, '--endpoint', s3.url];
  const plan = async () => {
    const [requests, writes, files] = [server.requests.length, s3Writes, await snapshot(dataDir)];
    const result = await runCliInProcess(['plan', ...flags()], { env: S3_ENV });
    expect(result.code, result.stderr).toBe(0);
    expect(server.requests.length).toBe(requests);
    expect(s3Writes).toBe(writes);
    expect(await snapshot(dataDir)).toEqual(files);
    return result.stdout;
  };

  beforeAll(async () => {
    server = await startFileServer(files);
    dataDir = path.join(work, 'plan');
  });
  afterAll(() => server.close());

  it('says what each step would do and why', async () => {
    expect(await plan()).toMatch(/extract +run +nothing extracted yet.*\n +transform +run +no earlier successful run\n +load +run +uploads what transform writes/);
    const dryRun = await runCliInProcess(['run', ...flags(), '--dry-run'], { env: S3_ENV });
    expect(dryRun.stdout).toContain('nothing extracted yet');
    await expect(stat(dataDir)).rejects.toThrow(/ENOENT/);

    expect((await runCliInProcess(['run', ...flags()], { env: S3_ENV })).code).toBe(0);
    expect(await plan()).toMatch(/extract +run +asks the source for changes to 3 files.*\n +transform +cached .*\n +load +cached +the same files are already in s3:\/\/lake\/plan\//);

    server.set(REFRESHED_PATH, refreshed);
    expect((await runCliInProcess(['extract', 'ons', '--url', server.url + PAGE, '--data-dir', dataDir])).stdout).toMatch(/1 downloaded/);
    expect(await plan()).toMatch(/transform +run +input changed: .*annual2019publishedoutputrefresh\.xls\n +load +run/);
  });
});

describe('extract, transform, load chained through the data dir', () => {
  it('transform with no source reads what extract left; load with no paths uploads what transform wrote', async () => {
    const server = await startFileServer(files);
    const dataDir = path.join(work, 'chain');
    const lake = path.join(work, 'chain-lake');
    try {
      expect((await runCliInProcess(['extract', 'ons', '--url', server.url + PAGE, '--data-dir', dataDir])).code).toBe(0);
      const out = path.join(dataDir, 'chain-deaths.parquet');
      const transformed = await runCliInProcess(['transform', '--out', out, '--data-dir', dataDir]);
      expect(transformed.code, transformed.stderr).toBe(0);
      const loaded = await runCliInProcess(['load', '--bucket', lake, '--data-dir', dataDir]);
      expect(loaded.code, loaded.stderr).toBe(0);
      expect(await readFile(path.join(lake, 'chain-deaths.parquet'))).toEqual(await readFile(out));

      // The record is a file in the data dir, so a file written outside it is not uploaded from the record: name it.
      const outside = path.join(work, 'chain-outside.parquet');
      expect((await runCliInProcess(['transform', '--out', outside, '--data-dir', dataDir])).code).toBe(0);
      const refused = await runCli(['load', '--bucket', lake, '--data-dir', dataDir]);
      expect(refused.code).toBe(4);
      expect(refused.stderr).toMatch(/^etl: data error: .*last-transform\.json: output ".*chain-outside\.parquet" lies outside .*chain \(.*name the files to upload: etl load <file>… --bucket …\)\n$/);
      expect((await runCliInProcess(['load', outside, '--bucket', lake, '--data-dir', dataDir])).code).toBe(0);

      await mkdir(path.join(dataDir, 'raw', 'ons', 'weekly-deaths'), { recursive: true });
      await writeFile(path.join(dataDir, 'raw', 'ons', 'weekly-deaths', 'manifest.json'), JSON.stringify({ files: [] }));
      const ambiguous = await runCliInProcess(['transform', '--out', out, '--data-dir', dataDir]);
      expect(ambiguous.code).toBe(2);
      expect(ambiguous.stderr).toMatch(/holds several extracted datasets: ons monthly-deaths, ons weekly-deaths/);

      const nothing = await runCliInProcess(['load', '--bucket', lake, '--data-dir', path.join(work, 'empty')]);
      expect(nothing.code).toBe(2);
      expect(nothing.stderr).toMatch(/no files given and no transform recorded/);
    } finally {
      await server.close();
    }
  });
});

describe('the pipeline cache is a record, not an instruction', () => {
  it('cached transform outputs naming a file outside the output are not trusted: transform runs again, load sends only what it wrote', async () => {
    const server = await startFileServer(files);
    const dataDir = path.join(work, 'forged-cache');
    const lake = path.join(work, 'forged-lake');
    try {
      const args = ['run', 'ons', '--url', server.url + PAGE, '--data-dir', dataDir, '--bucket', lake];
      expect((await runCliInProcess(args)).code).toBe(0);
      const cacheFile = path.join(dataDir, 'state', 'ons-monthly-deaths.cache.json');
      const cache = JSON.parse(await readFile(cacheFile, 'utf8'));
      const outside = path.join(work, 'forged-secret.txt');
      await writeFile(outside, 'SECRET');
      // The outside file's true sha256: only where it lies gives it away.
      cache.transform.outputs = [{ path: outside, sha256: createHash('sha256').update('SECRET').digest('hex'), bytes: 6 }];
      delete cache.load;
      await writeFile(cacheFile, JSON.stringify(cache));
      const result = await runCliInProcess(['--json', ...args]);
      expect(result.code, result.stderr).toBe(0);
      expect(steps(result)).toEqual([['extract', 'succeeded'], ['transform', 'succeeded'], ['load', 'succeeded']]);
      expect(result.stderr).toMatch(/"level":"warn".*ons-monthly-deaths\.cache\.json: transform\.outputs\[0\]\.path \\".*forged-secret\.txt\\" is not this run's output .*; not trusted, the transform runs again/);
      expect(await readdir(lake)).toEqual(['monthly-deaths.parquet']);
    } finally {
      await server.close();
    }
  });
});

describe('one run per pipeline at a time', () => {
  let server: FileServer;
  beforeAll(async () => {
    server = await startFileServer(files);
  });
  afterAll(() => server.close());

  it('of two runs started at once, one runs and the other exits 75 at once naming the holder', async () => {
    const dataDir = path.join(work, 'lock');
    const release = server.hold(PAGE);
    const args = ['run', 'ons', '--url', server.url + PAGE, '--data-dir', dataDir];
    const [a, b] = [startCli(args), startCli(args)];
    const loser = await Promise.race([a.done.then(() => a), b.done.then(() => b)]);
    const winner = loser === a ? b : a;
    release();
    const [lost, won] = [await loser.done, await winner.done];
    expect(lost.code).toBe(75);
    expect(lost.stderr.trim().split('\n')).toHaveLength(1);
    expect(lost.stderr).toMatch(new RegExp(`pipeline ons-monthly-deaths is already running: PID ${winner.child.pid}, started \\d{4}-\\d\\d-\\d\\dT`));
    expect(won.code, won.stderr).toBe(0);
  });

  it('an extract holds its dataset\'s raw layer: a transform or a run of that dataset started meanwhile exits 75 at once naming it, having done nothing', async () => {
    const dataDir = path.join(work, 'raw-lock');
    const release = server.hold(PAGE);
    const extract = startCli(['extract', 'ons', '--url', server.url + PAGE, '--data-dir', dataDir]);
    try {
      const lock = path.join(dataDir, 'locks', 'raw.ons.monthly-deaths.lock');
      for (const started = Date.now(); !(await stat(lock).then(() => true, () => false)); ) {
        if (Date.now() - started > 20_000) throw new Error(`the extract never took ${lock}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      for (const args of [['transform', 'ons', '--data-dir', dataDir], ['run', 'ons', '--url', server.url + PAGE, '--data-dir', dataDir]]) {
        const busy = await runCli(args);
        expect(busy.code, `${args.join(' ')}: ${busy.stderr}`).toBe(75);
        expect(busy.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^etl: busy error: an extract or transform of ons monthly-deaths is already running: PID ${extract.child.pid}, started \\d{4}-`))]);
      }
      // Nothing written by the refused commands: no output, no run manifest, no pipeline lock left.
      expect((await readdir(dataDir)).sort()).toEqual(['locks']);
      expect(await readdir(path.join(dataDir, 'locks'))).toEqual(['raw.ons.monthly-deaths.lock']);
    } finally {
      release();
    }
    expect((await extract.done).code).toBe(0);
    const after = await runCliInProcess(['transform', 'ons', '--data-dir', dataDir]);
    expect(after.code, after.stderr).toBe(0);
    expect(await readdir(path.join(dataDir, 'locks'))).toEqual([]);
  });

  it("a step past --step-timeout stops the run with that step's exit code, is recorded, and frees the lock", async () => {
    const dataDir = path.join(work, 'step-timeout');
    const release = server.hold(PAGE);
    let result: CliResult;
    try {
      result = await runCli(['run', 'ons', '--url', server.url + PAGE, '--data-dir', dataDir, '--step-timeout', '1']);
    } finally {
      release();
    }
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^etl: timeout error: extract ran past its timeout of 1 s and was stopped \(raise --step-timeout/)]);
    const [manifestName] = await readdir(path.join(dataDir, 'runs'));
    const manifest = JSON.parse(await readFile(path.join(dataDir, 'runs', manifestName!), 'utf8'));
    expect(manifest).toMatchObject({ status: 'failed', error: { step: 'extract', exit_code: 3 }, steps: [{ name: 'extract', status: 'failed' }] });
    expect(await readdir(path.join(dataDir, 'locks'))).toEqual([]);
    const again = await runCliInProcess(['run', 'ons', '--url', server.url + PAGE, '--data-dir', dataDir, '--step-timeout', '60']);
    expect(again.code, again.stderr).toBe(0);
  });

  it('a lock held by a process that is not etl is stale and taken over with a warning', async () => {
    const dataDir = path.join(work, 'foreign-lock');
    await mkdir(path.join(dataDir, 'locks'), { recursive: true });
    await writeFile(path.join(dataDir, 'locks', 'ons-monthly-deaths.lock'), JSON.stringify({ pid: process.pid, started_at: '2026-01-01T00:00:00.000Z', run_id: 'x' }));
    const result = await runCli(['run', 'ons', '--url', server.url + PAGE, '--data-dir', dataDir]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`warn: took over the lock of pipeline ons-monthly-deaths from PID ${process.pid}`);
  });
});

describe('kill -9 part-way, then a new run', () => {
  let server: FileServer;
  let reference: Awaited<ReturnType<typeof readParquet>>;
  /** Accepts connections and never answers: a load that is still waiting on the store when killed; `connected` settles on the first. */
  let silentStore: { url: string; connected: Promise<void>; close(): void };

  beforeAll(async () => {
    server = await startFileServer(files);
    const dataDir = path.join(work, 'reference');
    expect((await runCliInProcess(['run', 'ons', '--url', server.url + PAGE, '--data-dir', dataDir])).code).toBe(0);
    reference = await readParquet(path.join(dataDir, 'processed', 'ons', 'monthly-deaths.parquet'));
    const sockets: Socket[] = [];
    let connected!: () => void;
    const tcp = createTcpServer((socket) => (sockets.push(socket), connected()));
    tcp.listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    silentStore = {
      url: `http://127.0.0.1:${(tcp.address() as AddressInfo).port}`,
      connected: new Promise<void>((resolve) => (connected = resolve)),
      close: () => (sockets.forEach((s) => s.destroy()), tcp.close()),
    };
  });
  afterAll(async () => {
    silentStore.close();
    await server.close();
  });

  /**
   * Killed on an event, never on a timer or on what a file said at one instant: the held request has reached the
   * server, or the store has a connection. By then the step's "running" manifest is in place, since a step writes
   * it (renamed into place) before its work starts. Waiting on the manifest instead was flaky: the poll could read
   * the temp file a manifest write had not yet renamed, and a kill landing before the rename left a manifest
   * without the running step.
   */
  it.each<{ point: string; hold: string | undefined; store: boolean; step: string }>([
    { point: 'while fetching the page', hold: PAGE, store: false, step: 'extract' },
    { point: 'while downloading a workbook', hold: REFRESHED_PATH, store: false, step: 'extract' },
    { point: 'while uploading', hold: undefined, store: true, step: 'load' },
  ])('$point: the next run takes over the lock, leaves no temp file and writes what an uninterrupted run writes', async ({ point, hold, store, step }) => {
    const dataDir = path.join(work, `killed-${point.replace(/\W+/g, '-')}`);
    const release = hold ? server.hold(hold) : Object.assign(() => {}, { arrived: silentStore.connected });
    const args = ['run', 'ons', '--url', server.url + PAGE, '--data-dir', dataDir, '--step-retries', '0'];
    const killed = startCli(store ? [...args, '--bucket', 's3://lake/killed/', '--endpoint', silentStore.url] : args, { env: S3_ENV });
    const runs = path.join(dataDir, 'runs');
    const reached = await Promise.race([release.arrived.then(() => true), killed.done.then(() => false), new Promise<boolean>((resolve) => setTimeout(resolve, 30_000, false).unref())]);
    expect(reached).toBe(true);
    const manifestNow = async () => JSON.parse(await readFile(path.join(runs, (await readdir(runs)).find((n) => n.endsWith('.json') && !n.startsWith('.etl-tmp-'))!), 'utf8'));
    expect((await manifestNow()).steps.at(-1)).toMatchObject({ name: step, status: 'running' });
    killed.child.kill('SIGKILL');
    const result = await killed.done;
    release();
    expect(result.signal).toBe('SIGKILL');
    // The kill can land while the run manifest or the cache state is being rewritten: such leftovers are planted.
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    await mkdir(path.join(dataDir, 'state'), { recursive: true });
    for (const folder of ['runs', 'state']) await writeFile(path.join(dataDir, folder, `.etl-tmp-${deadPid}-a1b2c3d4e5f6-cut.json`), '{"cut');

    // The killed run is the process; the run after it, which finds its lock and leftovers, is the same code in-process.
    const next = await runCliInProcess(['run', 'ons', '--url', server.url + PAGE, '--data-dir', dataDir]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain(`took over the lock of pipeline ons-monthly-deaths from PID ${killed.child.pid}`);
    expect(await tempFilesBelow(dataDir)).toEqual([]);
    expect(await readParquet(path.join(dataDir, 'processed', 'ons', 'monthly-deaths.parquet'))).toEqual(reference);
    // The killed run's manifest still says where it stopped, and the run that took over its lock marked it interrupted.
    const manifests = await Promise.all((await readdir(runs)).map(async (name) => JSON.parse(await readFile(path.join(runs, name), 'utf8'))));
    expect(manifests.map((m) => m.status).sort()).toEqual(['interrupted', 'succeeded']);
    expect(manifests.find((m) => m.status === 'interrupted').steps.some((step: { status: string }) => step.status === 'running')).toBe(true);
  });
});

describe('alerts', () => {
  it('a failed run POSTs its summary to the webhook, with no secret in it; an unreachable webhook leaves the exit code alone', async () => {
    const bodies: string[] = [];
    const webhook = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        bodies.push(body);
        response.end('ok');
      });
    });
    webhook.listen(0, '127.0.0.1');
    await once(webhook, 'listening');
    const hookUrl = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`;
    const server = await startFileServer(files);
    const badUrl = `${server.url.replace('http://', 'http://user:hunter2@')}/missing?token=s3cr3t-value`;
    try {
      const args = ['run', 'ons', '--url', badUrl, '--retries', '0', '--data-dir', path.join(work, 'alert')];
      const logFile = path.join(work, 'alert.jsonl');
      const failed = await runCliInProcess(['--log-file', logFile, ...args], { env: { ETL_ALERT_URL: hookUrl } });
      expect(failed.code).toBe(3);
      const logged = (await readFile(logFile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
      expect(logged.at(-1)).toMatchObject({ level: 'error', exit_code: 3, msg: expect.stringContaining('answered HTTP 404') });
      expect(JSON.stringify(logged)).not.toMatch(/hunter2|s3cr3t-value/);
      expect(bodies).toHaveLength(1);
      expect(JSON.parse(bodies[0]!)).toMatchObject({ pipeline: 'ons/monthly-deaths', status: 'failed', failed_step: 'extract', exit_code: 3, error: expect.stringContaining('404') });
      expect(bodies[0]).not.toMatch(/hunter2|s3cr3t-value/);

      webhook.close();
      const unreachable = await runCliInProcess(args, { env: { ETL_ALERT_URL: hookUrl } });
      expect(unreachable.code).toBe(3);
      expect(unreachable.stderr).toMatch(/warn: alert not delivered to 127\.0\.0\.1:\d+: .*; the run's result stands/);
    } finally {
      webhook.close();
      await server.close();
    }
  });
});

describe('etl cron', () => {
  it('prints a crontab line with absolute node and etl paths and the run flags as given', async () => {
    const envFile = path.join(work, 'etl.env');
    await writeFile(envFile, 'ETL_ALERT_URL=http://hook.example/secret\n');
    const result = await runCli(['cron', 'ons', '--schedule', '0 5 * * *', '--bucket', 's3://lake/ons/', '--region', 'eu-west-2', '--env-vars', envFile], { env: { ETL_ALERT_URL: 'http://hook.example/secret' } });
    expect(result.code, result.stderr).toBe(0);
    const line = result.stdout.trim().split('\n').at(-1)!;
    const bin = path.resolve('bin/etl.js');
    expect(line).toBe(`0 5 * * * cd ${process.cwd()} && ${process.execPath} --env-file=${envFile} ${bin} --quiet run ons --bucket s3://lake/ons/ --region eu-west-2 >>/var/log/etl/ons-monthly-deaths.log 2>&1`);
  });
});
