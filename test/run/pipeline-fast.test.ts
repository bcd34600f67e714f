import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../src/core/log.js';
import { PipelineBusyError } from '../../src/run/lock.js';
import { checkLoad, checkTransform, outputOf, pipelineSlug, runPipeline, type PipelineRequest } from '../../src/run/pipeline.js';
import { describePlan, planPipeline } from '../../src/run/plan.js';
import { deltaTxnVersion, type RunManifest } from '../../src/run/run-manifest.js';
import type { Action } from '../../src/delta/actions.js';
import { VERSION } from '../../src/version.js';
import { monthlySheets } from '../fixtures/ons/monthly-workbook.js';
import { peoplePage } from '../fixtures/random-person/people.js';
import { json, startApiServer, type ApiServer } from '../helpers/api-server.js';
import { readParquet } from '../helpers/parquet.js';
import { writeWorkbook } from '../helpers/workbook-writer.js';
import { commitActions } from '../delta/helpers.js';

/**
 * runPipeline, planPipeline and the cache in-process on the smallest real pipeline: random-person, three people
 * a page from a local randomuser.me look-alike, into a folder as the bucket. Each run takes a few tens of
 * milliseconds, so Stryker can afford every mutant of src/run/pipeline.ts, cache.ts, steps.ts and plan.ts
 * (test/run/pipeline-in-process.test.ts holds the same behaviours through the command layer, with ONS).
 */
let work: string;
let api: ApiServer;
let counter = 0;
/** A live process whose command line holds `etl.js`, as a running etl's does (a lock it holds is not stale). */
let etl: ChildProcess;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-pipeline-fast-'));
  await writeFile(path.join(work, 'etl.js'), 'setInterval(() => {}, 1000);\n');
  etl = spawn(process.execPath, [path.join(work, 'etl.js')], { stdio: 'ignore' });
  await once(etl, 'spawn');
  api = await startApiServer((request) => {
    if (!request.path.startsWith('/api/?')) return json(404, { error: 'not found' });
    const q = request.url.searchParams;
    return { status: 200, body: peoplePage({ results: Number(q.get('results')), seed: q.get('seed')!, page: Number(q.get('page')) }) };
  });
});

afterAll(async () => {
  etl?.kill('SIGKILL');
  await api?.close();
  await rm(work, { recursive: true, force: true });
});

interface Captured {
  log: Logger;
  lines: string[];
}

function captured(onLine: (line: string) => void = () => {}): Captured {
  const lines: string[] = [];
  const stream = {
    write: (line: string) => {
      lines.push(line.replace(/\n$/, ''));
      onLine(line);
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  return { log: createLogger({ stream, interactive: false }), lines };
}

const warnings = (c: Captured) => c.lines.filter((line) => line.startsWith('warn:'));

function request(dataDir: string, overrides: { flags?: Record<string, unknown>; load?: Partial<NonNullable<PipelineRequest['load']>> | null; [key: string]: unknown } = {}): PipelineRequest {
  const { flags, load, ...rest } = overrides;
  return {
    name: 'random-person/people',
    source: { source: 'random-person', dataset: 'people', dataDir, baseUrl: api.url, concurrency: 1, rateLimit: 0, flags: { count: 3, seed: 'fast', ...flags } },
    http: { timeoutSeconds: 5, retries: 0 },
    transform: { skipBad: false },
    load: load === null || load === undefined ? undefined : { bucket: path.join(work, 'lake'), keyTemplate: '{name}', sink: { endpoint: undefined, region: undefined }, concurrency: 1, dryRun: false, force: false, ...load },
    noCache: false,
    stepRetries: { extract: 0, transform: 0, load: 0 },
    stepTimeouts: { extract: undefined, transform: undefined, load: undefined },
    alert: undefined,
    ...rest,
  } as PipelineRequest;
}

const newDir = () => path.join(work, `data-${++counter}`);
const steps = (manifest: RunManifest) => manifest.steps.map((step) => [step.name, step.status]);
const step = (manifest: RunManifest, name: string) => manifest.steps.find((s) => s.name === name)!;
const out = (dataDir: string) => path.join(dataDir, 'processed', 'random-person', 'people.parquet');
const cacheOf = async (dataDir: string, slug = 'random-person-people') => JSON.parse(await readFile(path.join(dataDir, 'state', `${slug}.cache.json`), 'utf8'));
async function runsOf(dataDir: string): Promise<RunManifest[]> {
  const names = (await readdir(path.join(dataDir, 'runs'))).filter((name) => name.endsWith('.json')).sort();
  return Promise.all(names.map(async (name) => JSON.parse(await readFile(path.join(dataDir, 'runs', name), 'utf8')) as RunManifest));
}
/** The error a run fails with (a run that succeeds fails the test). */
function failure(run: Promise<unknown>): Promise<Error & { exitCode?: number }> {
  return run.then(
    () => {
      throw new Error('the run was expected to fail');
    },
    (error: unknown) => error as Error & { exitCode?: number },
  );
}
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('runPipeline: what a run records', () => {
  it('extract, transform, load: the run manifest on disk is the one returned, each step with its inputs, outputs, summary and why', async () => {
    const dataDir = newDir();
    const lake = path.join(work, 'lake-record');
    const c = captured();
    const before = Date.now();
    const { manifest, extract, transform, load } = await runPipeline(request(dataDir, { load: { bucket: lake } }), c.log);
    expect(manifest).toMatchObject({ pipeline: 'random-person/people', etl_version: VERSION, pid: process.pid, status: 'succeeded' });
    expect(manifest.run_id).toMatch(/^\d{8}T\d{9}Z-random-person-people-[0-9a-f]{4}$/);
    expect(Date.parse(manifest.started_at)).toBeGreaterThanOrEqual(before - 1);
    expect(Date.parse(manifest.ended_at!)).toBeGreaterThanOrEqual(Date.parse(manifest.started_at));
    expect(manifest.error).toBeUndefined();
    expect(manifest.params).toEqual({
      source: 'random-person',
      dataset: 'people',
      data_dir: dataDir,
      source_flags: { count: 3, seed: 'fast' },
      out: null,
      skip_bad: false,
      partition_by: null,
      shard: null,
      bucket: lake,
      key: '{name}',
      endpoint: null,
      region: null,
      no_cache: false,
      step_retries: { extract: 0, transform: 0, load: 0 },
      step_timeouts: {},
    });
    expect(steps(manifest)).toEqual([['extract', 'succeeded'], ['transform', 'succeeded'], ['load', 'succeeded']]);
    expect(await runsOf(dataDir)).toEqual([manifest]);

    const rawDir = path.join(dataDir, 'raw', 'random-person', 'people');
    expect(extract?.rawDir).toBe(rawDir);
    const page = Buffer.from(peoplePage({ results: 3, seed: 'fast', page: 1 }));
    const [e, t, l] = manifest.steps as [RunManifest['steps'][0], RunManifest['steps'][0], RunManifest['steps'][0]];
    expect(e).toMatchObject({ attempts: 1, cache: 'always asks the source (conditional GETs)', inputs: [], summary: { url: api.url, downloaded: 1, unchanged: 0 } });
    expect(e.outputs).toEqual([{ path: path.join(rawDir, 'page-00001.json'), sha256: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: page.length }]);
    // Seconds, to the millisecond: a step of this size takes well under a minute (not milliseconds counted as seconds).
    for (const each of manifest.steps) expect(each.duration_s).toBeGreaterThanOrEqual(0);
    for (const each of manifest.steps) expect(each.duration_s).toBeLessThan(60);
    expect(e.duration_s).toBeGreaterThan(0);
    for (const each of manifest.steps) expect(Math.round(each.duration_s * 1000)).toBeCloseTo(each.duration_s * 1000, 6);
    expect(Date.parse(e.started_at)).toBeGreaterThanOrEqual(Date.parse(manifest.started_at));

    expect(t).toMatchObject({ attempts: 1, cache: 'no earlier successful run', inputs: e.outputs, summary: { rows: 3, parts: 1, skipped: [] } });
    const written = await readFile(out(dataDir));
    expect(t.outputs).toEqual([{ path: out(dataDir), sha256: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: written.length, rows: 3 }]);
    expect(transform).toMatchObject({ rows: 3, path: out(dataDir) });
    expect((await readParquet(out(dataDir))).rows).toHaveLength(3);

    expect(l).toMatchObject({ attempts: 1, cache: 'no earlier successful run', inputs: t.outputs, summary: { uploaded: 1, skipped: 0, failed: 0, bytes_uploaded: written.length } });
    expect(l.outputs).toEqual([{ path: load!.files[0]!.uri, sha256: t.outputs[0]!.sha256, bytes: written.length }]);
    expect(await readFile(path.join(lake, 'people.parquet'))).toEqual(written);

    // What transform and load depend on, as stored for the next run.
    const cache = await cacheOf(dataDir);
    expect(cache.transform).toEqual({
      fingerprint: {
        inputs: { [path.join(rawDir, 'page-00001.json')]: e.outputs[0]!.sha256 },
        declaration: 'built-in',
        params: { dataset: 'people', source_flags: { count: 3, seed: 'fast' }, skip_bad: false, out: out(dataDir), partition_by: null, shard: null },
        etl_version: VERSION,
      },
      outputs: t.outputs,
    });
    expect(cache.load).toEqual({
      fingerprint: { inputs: { [out(dataDir)]: t.outputs[0]!.sha256 }, declaration: 'none', params: { bucket: lake, key: '{name}', endpoint: null, region: null }, etl_version: VERSION },
      outputs: l.outputs,
    });
    // The locks are released, nothing temporary is left, nothing was warned about.
    expect(await readdir(path.join(dataDir, 'locks'))).toEqual([]);
    expect((await readdir(dataDir, { recursive: true })).filter((name) => path.basename(name).startsWith('.etl-tmp-'))).toEqual([]);
    expect(warnings(c)).toEqual([]);
  });

  it('the same request again: transform and load cached, the outputs as recorded; the source is still asked', async () => {
    const dataDir = newDir();
    const lake = path.join(work, 'lake-again');
    const first = await runPipeline(request(dataDir, { load: { bucket: lake } }), captured().log);
    const requests = api.requests.length;
    const { manifest, transform, load } = await runPipeline(request(dataDir, { load: { bucket: lake } }), captured().log);
    expect(api.requests.length).toBe(requests + 1);
    expect(steps(manifest)).toEqual([['extract', 'succeeded'], ['transform', 'cached'], ['load', 'cached']]);
    expect(step(manifest, 'extract').status).toBe('succeeded');
    expect(step(manifest, 'transform')).toMatchObject({ cache: 'cached: inputs, declaration, parameters and etl version unchanged', outputs: step(first.manifest, 'transform').outputs, inputs: step(first.manifest, 'transform').inputs });
    expect(step(manifest, 'load')).toMatchObject({ cache: 'cached: the same files were uploaded to the same destination by an earlier run', outputs: step(first.manifest, 'load').outputs, inputs: step(first.manifest, 'transform').outputs });
    expect(transform).toBeUndefined();
    expect(load).toBeUndefined();
    expect(await runsOf(dataDir)).toHaveLength(2);
  });

  it('without a bucket there is no load step; with noCache every step runs and says so', async () => {
    const dataDir = newDir();
    const first = await runPipeline(request(dataDir), captured().log);
    expect(steps(first.manifest)).toEqual([['extract', 'succeeded'], ['transform', 'succeeded']]);
    expect(first.manifest.params.bucket).toBeNull();
    expect(first.manifest.params.key).toBeNull();
    const lake = path.join(work, 'lake-nocache');
    await runPipeline(request(dataDir, { load: { bucket: lake } }), captured().log);
    const again = await runPipeline(request(dataDir, { load: { bucket: lake }, noCache: true }), captured().log);
    expect(steps(again.manifest)).toEqual([['extract', 'succeeded'], ['transform', 'succeeded'], ['load', 'succeeded']]);
    expect([step(again.manifest, 'transform').cache, step(again.manifest, 'load').cache]).toEqual(['--no-cache', '--no-cache']);
    expect(again.manifest.params.no_cache).toBe(true);
    // --force uploads again though nothing changed.
    const forced = await runPipeline(request(dataDir, { load: { bucket: lake, force: true } }), captured().log);
    expect(steps(forced.manifest)).toEqual([['extract', 'succeeded'], ['transform', 'cached'], ['load', 'succeeded']]);
    expect(step(forced.manifest, 'load').cache).toBe('--force');
  });

  it('a dry-run load lists what it would upload and records no load in the cache, so the next run uploads', async () => {
    const dataDir = newDir();
    const lake = path.join(work, 'lake-dry');
    const dry = await runPipeline(request(dataDir, { load: { bucket: lake, dryRun: true } }), captured().log);
    expect(steps(dry.manifest)).toEqual([['extract', 'succeeded'], ['transform', 'succeeded'], ['load', 'succeeded']]);
    expect(dry.load?.files.map((f) => f.action)).toEqual(['would-upload']);
    await expect(readdir(lake)).rejects.toThrow(/ENOENT/);
    expect((await cacheOf(dataDir)).load).toBeUndefined();
    const real = await runPipeline(request(dataDir, { load: { bucket: lake } }), captured().log);
    expect(steps(real.manifest)).toEqual([['extract', 'succeeded'], ['transform', 'cached'], ['load', 'succeeded']]);
    expect(await readdir(lake)).toEqual(['people.parquet']);
  });

  it('--out elsewhere: written there, the manifest names it; the fingerprint holds the absolute path', async () => {
    const dataDir = newDir();
    const target = path.join(work, `elsewhere-${counter}`, 'people-out.parquet');
    const { manifest } = await runPipeline(request(dataDir, { transform: { skipBad: false, out: path.relative(process.cwd(), target) } }), captured().log);
    expect(manifest.params.out).toBe(path.relative(process.cwd(), target));
    expect(step(manifest, 'transform').outputs[0]!.path).toBe(target);
    expect((await cacheOf(dataDir)).transform.fingerprint.params.out).toBe(target);
    expect((await readParquet(target)).rows).toHaveLength(3);
  });
});

describe('runPipeline: the cache fingerprints', () => {
  it('an output overwritten in place (same name, same size) runs transform again and writes it back', async () => {
    const dataDir = newDir();
    await runPipeline(request(dataDir), captured().log);
    const written = await readFile(out(dataDir));
    await writeFile(out(dataDir), Buffer.alloc(written.length, 0x20));
    const { manifest } = await runPipeline(request(dataDir), captured().log);
    expect(steps(manifest)).toEqual([['extract', 'succeeded'], ['transform', 'succeeded']]);
    expect(step(manifest, 'transform').cache).toBe('the output file was changed or removed since');
    expect((await readParquet(out(dataDir))).rows).toHaveLength(3);
  });

  it('an output removed runs transform again', async () => {
    const dataDir = newDir();
    await runPipeline(request(dataDir), captured().log);
    await rm(out(dataDir));
    const { manifest } = await runPipeline(request(dataDir), captured().log);
    expect(step(manifest, 'transform')).toMatchObject({ status: 'succeeded', cache: 'the output file was changed or removed since' });
  });

  it('a source flag alone changing runs transform again, the reason naming the flag as typed', async () => {
    const dataDir = newDir();
    await runPipeline(request(dataDir), captured().log);
    const { manifest } = await runPipeline(request(dataDir, { flags: { count: 4 } }), captured().log);
    expect(step(manifest, 'transform')).toMatchObject({ status: 'succeeded', cache: '--count 3 -> 4' });
    expect((await readParquet(out(dataDir))).rows).toHaveLength(4);
    const withCredentials = await runPipeline(request(dataDir, { flags: { count: 4, withCredentials: true } }), captured().log);
    expect(step(withCredentials.manifest, 'transform')).toMatchObject({ status: 'succeeded', cache: '--with-credentials (none) -> true' });
    // The same flags in another order are the same fingerprint; an undefined flag is no flag.
    const reordered = await runPipeline(request(dataDir, { flags: { withCredentials: true, nat: undefined, seed: 'fast', count: 4 } }), captured().log);
    expect(step(reordered.manifest, 'transform').status).toBe('cached');
    expect(Object.keys((await cacheOf(dataDir)).transform.fingerprint.params.source_flags)).toEqual(['count', 'seed', 'withCredentials']);
  });

  it('skip-bad, the dataset declaration and the etl version are part of the transform fingerprint', async () => {
    const dataDir = newDir();
    await runPipeline(request(dataDir), captured().log);
    const skipBad = await runPipeline(request(dataDir, { transform: { skipBad: true } }), captured().log);
    expect(step(skipBad.manifest, 'transform').cache).toBe('parameter skip_bad false -> true');
    const cache = await cacheOf(dataDir);
    cache.transform.fingerprint.etl_version = '0.0.1';
    await writeFile(path.join(dataDir, 'state', 'random-person-people.cache.json'), JSON.stringify(cache));
    const upgraded = await runPipeline(request(dataDir, { transform: { skipBad: true } }), captured().log);
    expect(step(upgraded.manifest, 'transform').cache).toBe(`etl version 0.0.1 -> ${VERSION}`);
  });

  it('a load whose destination alone changed uploads there; the old destination again is cached no more', async () => {
    const dataDir = newDir();
    const [lakeA, lakeB] = [path.join(work, `lakeA-${counter}`), path.join(work, `lakeB-${counter}`)];
    await runPipeline(request(dataDir, { load: { bucket: lakeA } }), captured().log);
    const toB = await runPipeline(request(dataDir, { load: { bucket: lakeB } }), captured().log);
    expect(steps(toB.manifest)).toEqual([['extract', 'succeeded'], ['transform', 'cached'], ['load', 'succeeded']]);
    expect(step(toB.manifest, 'load').cache).toBe(`parameter bucket ${lakeA} -> ${lakeB}`);
    expect(await readFile(path.join(lakeB, 'people.parquet'))).toEqual(await readFile(out(dataDir)));
    const key = await runPipeline(request(dataDir, { load: { bucket: lakeB, keyTemplate: 'v2/{name}' } }), captured().log);
    expect(step(key.manifest, 'load').cache).toBe('parameter key {name} -> v2/{name}');
    expect(await readdir(path.join(lakeB, 'v2'))).toEqual(['people.parquet']);
  });

  it('a damaged cache file only costs a full run', async () => {
    const dataDir = newDir();
    await runPipeline(request(dataDir), captured().log);
    await writeFile(path.join(dataDir, 'state', 'random-person-people.cache.json'), '{"transform": ');
    const { manifest } = await runPipeline(request(dataDir), captured().log);
    expect(step(manifest, 'transform')).toMatchObject({ status: 'succeeded', cache: 'no earlier successful run' });
  });

  it('a cache record naming a file outside the output is not trusted: warned about, transform runs again', async () => {
    const dataDir = newDir();
    await runPipeline(request(dataDir), captured().log);
    const cacheFile = path.join(dataDir, 'state', 'random-person-people.cache.json');
    const cache = await cacheOf(dataDir);
    cache.transform.outputs[0].path = '/etc/passwd';
    await writeFile(cacheFile, JSON.stringify(cache));
    const c = captured();
    const { manifest } = await runPipeline(request(dataDir), c.log);
    expect(step(manifest, 'transform')).toMatchObject({ status: 'succeeded', cache: 'the output file was changed or removed since' });
    expect(warnings(c)).toEqual([`warn: ${cacheFile}: transform.outputs[0].path "/etc/passwd" is not this run's output ${out(dataDir)}; not trusted, the transform runs again`]);
    cache.transform.outputs = [];
    await writeFile(cacheFile, JSON.stringify(cache));
    expect(step((await runPipeline(request(dataDir), captured().log)).manifest, 'transform').cache).toBe('the cache lists no output');
  });
});

describe('runPipeline: failures, retries, secrets', () => {
  it('a failing load is tried once more per --step-retries, warning each time; a second attempt can succeed', async () => {
    const dataDir = newDir();
    const lake = path.join(work, `blocked-${counter}`);
    await writeFile(lake, 'not a folder');
    const once = await failure(runPipeline(request(dataDir, { load: { bucket: lake } }), captured().log));
    expect(String(once)).toMatch(/cannot write .*blocked/);
    const [failedRun] = await runsOf(dataDir);
    expect(failedRun!.status).toBe('failed');
    expect(step(failedRun!, 'load')).toMatchObject({ status: 'failed', attempts: 1, error: expect.stringMatching(/cannot write .*blocked/) });
    expect(failedRun!.error).toEqual({ step: 'load', message: expect.stringMatching(/cannot write .*blocked/), exit_code: 5 });

    let locksDuringLoad: string[] = [];
    let onDiskDuringLoad: RunManifest | undefined;
    const c = captured((line) => {
      if (!/^warn: load failed \(.*\); attempt 2 of 2/.test(line)) return;
      // Transform is done: the raw layer is free for the next extract while this load goes on.
      locksDuringLoad = readdirSync(path.join(dataDir, 'locks'));
      // What a run killed now would leave: the run and its load said to be running.
      const runs = readdirSync(path.join(dataDir, 'runs')).filter((name) => name.endsWith('.json') && !name.startsWith('.etl-tmp-')).sort();
      onDiskDuringLoad = JSON.parse(readFileSync(path.join(dataDir, 'runs', runs.at(-1)!), 'utf8')) as RunManifest;
      rmSync(lake, { force: true });
    });
    const retried = await runPipeline(request(dataDir, { load: { bucket: lake }, stepRetries: { extract: 0, transform: 0, load: 1 } }), c.log);
    expect(step(retried.manifest, 'load')).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(locksDuringLoad).toEqual(['random-person-people.lock']);
    expect(onDiskDuringLoad?.status).toBe('running');
    expect(onDiskDuringLoad?.steps.map((s) => [s.name, s.status])).toEqual([['extract', 'succeeded'], ['transform', 'cached'], ['load', 'running']]);
    expect(warnings(c)).toEqual([expect.stringMatching(/^warn: load failed \(.*cannot write .*\); attempt 2 of 2$/)]);
    expect(await readdir(lake)).toEqual(['people.parquet']);
  });

  it('--step-retries 2 against a destination that stays broken: three attempts, then the load error', async () => {
    const dataDir = newDir();
    const lake = path.join(work, `blocked-${counter}`);
    await writeFile(lake, 'not a folder');
    const c = captured();
    await expect(runPipeline(request(dataDir, { load: { bucket: lake }, stepRetries: { extract: 0, transform: 0, load: 2 } }), c.log)).rejects.toThrow(/cannot write/);
    expect(warnings(c).map((line) => line.replace(/\(.*\)/, '(…)'))).toEqual(['warn: load failed (…); attempt 2 of 3', 'warn: load failed (…); attempt 3 of 3']);
    const [run] = await runsOf(dataDir);
    expect(step(run!, 'load').attempts).toBe(3);
  });

  it('a source error that may pass next time (503) is retried as a whole step', async () => {
    const dataDir = newDir();
    api.queue('/api/', { status: 503, body: 'busy' });
    const c = captured();
    const { manifest } = await runPipeline(request(dataDir, { stepRetries: { extract: 1, transform: 0, load: 0 } }), c.log);
    expect(step(manifest, 'extract')).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(warnings(c)).toEqual([expect.stringMatching(/^warn: extract failed \(.*503.*\); attempt 2 of 2$/)]);
  });

  it('an error that will not pass next time is not retried: a source answering 404 fails extract at once', async () => {
    const dataDir = newDir();
    const c = captured();
    const bad = request(dataDir, { stepRetries: { extract: 3, transform: 3, load: 3 } });
    bad.source.baseUrl = `${api.url}/missing/`;
    const error = await failure(runPipeline(bad, c.log));
    expect(error).toBeInstanceOf(Error);
    const [run] = await runsOf(dataDir);
    expect(steps(run!)).toEqual([['extract', 'failed']]);
    expect(step(run!, 'extract').attempts).toBe(1);
    expect(run!.error).toEqual({ step: 'extract', message: expect.stringContaining('404'), exit_code: error.exitCode });
    expect(warnings(c)).toEqual([]);
    expect(await readdir(path.join(dataDir, 'locks'))).toEqual([]);
  });

  it('a step that takes longer than its timeout fails with the step named', async () => {
    const dataDir = newDir();
    api.queue('/api/', { status: 200, body: peoplePage({ results: 3, seed: 'fast', page: 1 }), delayMs: 3000 });
    const error = await failure(runPipeline(request(dataDir, { stepTimeouts: { extract: 0.2, transform: undefined, load: undefined } }), captured().log));
    expect(error.message).toMatch(/extract/);
    const [run] = await runsOf(dataDir);
    expect(run!.params.step_timeouts).toEqual({ extract: 0.2 });
    // Given up after the 0.2 s asked for, not before (a lower bound only: no test measures an upper one).
    expect(step(run!, 'extract').duration_s).toBeGreaterThanOrEqual(0.15);
    expect(step(run!, 'extract')).toMatchObject({ status: 'failed', error: error.message });
  });

  it('a password and a token in a source flag appear neither in the returned manifest nor in any file of the data dir', async () => {
    const dataDir = newDir();
    const url = `${api.url.replace('http://', 'http://etl-user:hunter2@')}/people?token=s3cr3t-value`;
    const { manifest } = await runPipeline(request(dataDir, { flags: { url } }), captured().log);
    expect(manifest.status).toBe('succeeded');
    expect(manifest.params.source_flags).toEqual({ count: 3, seed: 'fast', url: expect.stringContaining('/people?token=') });
    expect(JSON.stringify(manifest)).not.toMatch(/hunter2|s3cr3t-value/);
    const files = (await readdir(dataDir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile() && entry.name.endsWith('.json'));
    expect(files.map((entry) => entry.name)).toEqual(expect.arrayContaining(['random-person-people.cache.json', `${manifest.run_id}.json`]));
    for (const entry of files) expect(await readFile(path.join(entry.parentPath, entry.name), 'utf8'), entry.name).not.toMatch(/hunter2|s3cr3t-value/);
  });
});

describe('runPipeline: locks, leftovers, refusals', () => {
  it('refuses a request its checks refuse before the lock, the first request and the first write', async () => {
    const dataDir = newDir();
    const requests = api.requests.length;
    await expect(runPipeline(request(dataDir, { flags: { count: 'many' } }), captured().log)).rejects.toThrow(/--count <n>/);
    await expect(readdir(dataDir)).rejects.toThrow(/ENOENT/);
    expect(api.requests.length).toBe(requests);
  });

  it('a pipeline already running: exit 75, nothing fetched, its lock left alone', async () => {
    const dataDir = newDir();
    await mkdir(path.join(dataDir, 'locks'), { recursive: true });
    const holder = JSON.stringify({ pid: etl.pid, started_at: '2026-01-01T00:00:00.000Z', run_id: 'other' });
    await writeFile(path.join(dataDir, 'locks', 'random-person-people.lock'), holder);
    const requests = api.requests.length;
    await expect(runPipeline(request(dataDir), captured().log)).rejects.toBeInstanceOf(PipelineBusyError);
    expect(api.requests.length).toBe(requests);
    expect(await readFile(path.join(dataDir, 'locks', 'random-person-people.lock'), 'utf8')).toBe(holder);
    expect(await readdir(path.join(dataDir, 'locks'))).toEqual(['random-person-people.lock']);
  });

  it('the dataset busy in another pipeline (its raw lock held): refused, nothing fetched, this pipeline\'s own lock released', async () => {
    const dataDir = newDir();
    await mkdir(path.join(dataDir, 'locks'), { recursive: true });
    const rawLock = path.join(dataDir, 'locks', 'raw.random-person.people.lock');
    await writeFile(rawLock, JSON.stringify({ pid: etl.pid, started_at: '2026-01-01T00:00:00.000Z', run_id: 'other' }));
    const requests = api.requests.length;
    await expect(runPipeline(request(dataDir), captured().log)).rejects.toThrow('an extract or transform of random-person people is already running');
    expect(api.requests.length).toBe(requests);
    expect(await readdir(path.join(dataDir, 'locks'))).toEqual(['raw.random-person.people.lock']);
    await expect(readdir(path.join(dataDir, 'runs'))).rejects.toThrow(/ENOENT/);
  });

  it('takes over the lock of a killed run, marks that run interrupted, and sweeps the temp files it left', async () => {
    const dataDir = newDir();
    const first = await runPipeline(request(dataDir), captured().log);
    const killed: RunManifest = { ...first.manifest, run_id: '20260101T000000000Z-random-person-people-dead', status: 'running', ended_at: null };
    await writeFile(path.join(dataDir, 'runs', `${killed.run_id}.json`), JSON.stringify(killed));
    const dead = deadPid();
    await writeFile(path.join(dataDir, 'locks', 'random-person-people.lock'), JSON.stringify({ pid: dead, started_at: killed.started_at, run_id: killed.run_id }));
    // The raw layer is swept with its subfolders (a postgres table's folder is one).
    await mkdir(path.join(dataDir, 'raw', 'random-person', 'people', 'sub'), { recursive: true });
    const leftovers = [path.join(dataDir, 'runs'), path.join(dataDir, 'state'), path.join(dataDir, 'raw', 'random-person', 'people', 'sub'), path.join(dataDir, 'processed', 'random-person')].map((dir) => path.join(dir, `.etl-tmp-${dead}-a1b2c3d4e5f6-cut`));
    for (const file of leftovers) await writeFile(file, 'cut');
    const c = captured();
    const { manifest } = await runPipeline(request(dataDir), c.log);
    expect(manifest.status).toBe('succeeded');
    const runs = await runsOf(dataDir);
    expect(runs.find((run) => run.run_id === killed.run_id)!.status).toBe('interrupted');
    expect(warnings(c)).toContain('warn: removed 4 temp files left by an interrupted run');
    for (const file of leftovers) await expect(readFile(file)).rejects.toThrow(/ENOENT/);

    // A dead holder whose run had already finished (killed between its last manifest and the release) stays as it ended;
    // one whose manifest is gone is no obstacle.
    await writeFile(path.join(dataDir, 'locks', 'random-person-people.lock'), JSON.stringify({ pid: dead, started_at: killed.started_at, run_id: manifest.run_id }));
    await runPipeline(request(dataDir), captured().log);
    expect((await runsOf(dataDir)).find((run) => run.run_id === manifest.run_id)!.status).toBe('succeeded');
    await writeFile(path.join(dataDir, 'locks', 'random-person-people.lock'), JSON.stringify({ pid: dead, started_at: killed.started_at, run_id: 'no-such-run' }));
    expect((await runPipeline(request(dataDir), captured().log)).manifest.status).toBe('succeeded');

    // One leftover is one "file".
    await writeFile(leftovers[0]!, 'cut');
    const c2 = captured();
    await runPipeline(request(dataDir), c2.log);
    expect(warnings(c2)).toEqual(['warn: removed 1 temp file left by an interrupted run']);
  });

  it('pipelineSlug: the name as a file-name part, and the shard', () => {
    expect(pipelineSlug(request(''))).toBe('random-person-people');
    expect(pipelineSlug({ ...request(''), name: 'my pipeline/v2 (daily)' })).toBe('my-pipeline-v2-daily-');
    const sharded = request('');
    sharded.source.shard = { index: 1, count: 3 };
    expect(pipelineSlug(sharded)).toBe('random-person-people-shard-1-of-3');
  });

  it('outputOf: --out resolved, else processed/<source>/<dataset>.parquet, a folder when partitioned', () => {
    const dataDir = path.join(work, 'x');
    expect(outputOf(request(dataDir))).toBe(path.join(dataDir, 'processed', 'random-person', 'people.parquet'));
    expect(outputOf(request(dataDir, { transform: { skipBad: false, partitionBy: 'nat' } }))).toBe(path.join(dataDir, 'processed', 'random-person', 'people'));
    expect(outputOf(request(dataDir, { transform: { skipBad: false, out: 'rel.parquet' } }))).toBe(path.resolve('rel.parquet'));
  });

  it('checkLoad: a table destination\'s flags are in the fingerprint, an object store\'s are not', () => {
    const outputs = [{ path: '/x/a.parquet', sha256: 'a'.repeat(64), bytes: 1 }];
    const sink = { endpoint: 'http://127.0.0.1:9', region: 'eu-west-2' };
    const common = { keyTemplate: '{name}', sink, concurrency: 1, dryRun: false, force: false, table: 't', mode: 'merge', mergeKey: 'id' };
    expect(checkLoad({ ...common, bucket: 'postgres://db/x' }, outputs, {}, false).fingerprint.params).toEqual({ bucket: 'postgres://db/x', key: '{name}', endpoint: sink.endpoint, region: 'eu-west-2', table: 't', mode: 'merge', merge_key: 'id' });
    expect(checkLoad({ ...common, bucket: 'postgres://db/x', mergeKey: undefined }, outputs, {}, false).fingerprint.params).not.toHaveProperty('merge_key');
    expect(checkLoad({ ...common, bucket: 's3://b/p/' }, outputs, {}, false).fingerprint.params).toEqual({ bucket: 's3://b/p/', key: '{name}', endpoint: sink.endpoint, region: 'eu-west-2' });
    const first = checkLoad({ ...common, bucket: 's3://b/p/' }, outputs, {}, false);
    expect(first).toMatchObject({ cached: undefined, why: 'no earlier successful run', inputs: outputs });
    const cache = { load: { fingerprint: first.fingerprint, outputs: [{ path: 's3://b/p/a.parquet', sha256: 'a'.repeat(64), bytes: 1 }] } };
    expect(checkLoad({ ...common, bucket: 's3://b/p/' }, outputs, cache, false)).toMatchObject({ cached: { outputs: cache.load.outputs }, why: '' });
    expect(checkLoad({ ...common, bucket: 's3://b/p/' }, outputs, cache, true)).toMatchObject({ cached: undefined, why: '--no-cache' });
    expect(checkLoad({ ...common, bucket: 's3://b/p/', force: true }, outputs, cache, false)).toMatchObject({ cached: undefined, why: '--force' });
    expect(checkLoad({ ...common, bucket: 's3://b/p/' }, [{ ...outputs[0]!, sha256: 'b'.repeat(64) }], cache, false).why).toBe('input changed: /x/a.parquet');
  });
});

describe('runPipeline: alerts', () => {
  let hook: Server;
  let hookUrl: string;
  const bodies: Array<Record<string, unknown>> = [];
  beforeAll(async () => {
    hook = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk) => (text += chunk));
      req.on('end', () => {
        bodies.push(JSON.parse(text));
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  });
  afterAll(() => new Promise<void>((resolve) => hook.close(() => resolve())));

  it('a failed run alerts; a succeeded one only with onSuccess; a webhook that is not http(s) is refused before the run', async () => {
    bodies.length = 0;
    const dataDir = newDir();
    const failing = request(dataDir, { alert: { url: hookUrl, onSuccess: false } });
    failing.source.baseUrl = `${api.url}/missing/`;
    await expect(runPipeline(failing, captured().log)).rejects.toThrow();
    expect(bodies.map((b) => b.status)).toEqual(['failed']);
    await runPipeline(request(dataDir, { alert: { url: hookUrl, onSuccess: false } }), captured().log);
    expect(bodies).toHaveLength(1);
    await runPipeline(request(dataDir, { alert: { url: hookUrl, onSuccess: true } }), captured().log);
    expect(bodies.map((b) => b.status)).toEqual(['failed', 'succeeded']);
    await expect(runPipeline(request(newDir(), { alert: { url: 'ftp://hooks.example/x', onSuccess: true } }), captured().log)).rejects.toThrow(
      'the alert webhook (--alert-url, ETL_ALERT_URL or alert.url) is not an http:// or https:// URL',
    );
  });
});

describe('planPipeline: what a run would do, from the data dir alone', () => {
  it('fresh, then cached, then a changed destination, no bucket, --no-cache', async () => {
    const dataDir = newDir();
    const lake = path.join(work, `plan-lake-${counter}`);
    const requests = api.requests.length;
    const fresh = await planPipeline(request(dataDir, { load: { bucket: lake } }), captured().log);
    expect(describePlan(fresh)).toBe(
      [
        'plan for random-person/people (nothing fetched, written or uploaded):',
        '  extract   run    nothing extracted yet: every edition is downloaded',
        '  transform run    no earlier successful run',
        `  load      run    uploads what transform writes to ${lake}`,
      ].join('\n'),
    );
    expect(api.requests.length).toBe(requests);
    await expect(readdir(dataDir)).rejects.toThrow(/ENOENT/);

    await runPipeline(request(dataDir, { load: { bucket: lake } }), captured().log);
    expect((await planPipeline(request(dataDir, { load: { bucket: lake } }), captured().log)).steps).toEqual([
      { name: 'extract', action: 'run', why: 'asks the source for changes to 1 files already here (conditional GETs: an unchanged file costs 0 bytes)' },
      { name: 'transform', action: 'cached', why: '1 input files, declaration, parameters and etl version unchanged (runs if extract fetches a changed file)' },
      { name: 'load', action: 'cached', why: `the same files are already in ${lake}` },
    ]);
    expect((await planPipeline(request(dataDir, { load: { bucket: `${lake}-2` } }), captured().log)).steps[2]).toEqual({ name: 'load', action: 'run', why: `parameter bucket ${lake} -> ${lake}-2` });
    expect((await planPipeline(request(dataDir), captured().log)).steps).toHaveLength(3);
    expect((await planPipeline(request(dataDir), captured().log)).steps[2]).toEqual({ name: 'load', action: 'skip', why: `no --bucket: the parquet stays in ${path.join(dataDir, 'processed', 'random-person')}` });
    expect((await planPipeline(request(dataDir, { load: { bucket: lake }, noCache: true }), captured().log)).steps.slice(1)).toEqual([
      { name: 'transform', action: 'run', why: '--no-cache' },
      { name: 'load', action: 'run', why: `uploads what transform writes to ${lake}` },
    ]);
    expect((await planPipeline(request(dataDir, { flags: { count: 5 } }), captured().log)).steps[1]).toEqual({ name: 'transform', action: 'run', why: '--count 3 -> 5' });
    await expect(planPipeline(request(dataDir, { flags: { count: 0 } }), captured().log)).rejects.toThrow(/--count <n>/);
    expect(api.requests.length).toBe(requests + 1);
  });
});

describe('runPipeline and planPipeline with --input (ONS workbooks read where they are)', () => {
  const onsRequest = (dataDir: string, input: string[]): PipelineRequest => ({
    ...request(dataDir),
    name: 'ons/monthly-deaths',
    source: { source: 'ons', dataset: 'monthly-deaths', dataDir, concurrency: 1, rateLimit: 0, flags: { input } },
  });

  it('no extract; the workbooks are the transform\'s inputs, and one changed runs it again', async () => {
    const dataDir = newDir();
    const book = path.join(work, `book-${counter}`, 'deaths2021.xlsx');
    await mkdir(path.dirname(book), { recursive: true });
    await writeWorkbook(book, monthlySheets({ year: 2021, publishedMonths: 2 }));
    const plan = await planPipeline(onsRequest(dataDir, [book]), captured().log);
    expect(plan.steps.slice(0, 2)).toEqual([
      { name: 'extract', action: 'skip', why: '--input given: the workbooks are read where they are' },
      { name: 'transform', action: 'run', why: 'no earlier successful run' },
    ]);
    const requests = api.requests.length;
    const { manifest } = await runPipeline(onsRequest(dataDir, [book]), captured().log);
    expect(api.requests.length).toBe(requests);
    expect(steps(manifest)).toEqual([['extract', 'skipped'], ['transform', 'succeeded']]);
    expect(step(manifest, 'extract').cache).toBe('--input given: the workbooks are read where they are');
    expect(step(manifest, 'transform').inputs).toEqual([{ path: book, sha256: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: (await readFile(book)).length }]);
    // No raw lock was needed: only the pipeline's own lock was ever taken.
    expect(await readdir(path.join(dataDir, 'locks'))).toEqual([]);
    expect(steps((await runPipeline(onsRequest(dataDir, [book]), captured().log)).manifest)).toEqual([['extract', 'skipped'], ['transform', 'cached']]);
    await writeWorkbook(book, monthlySheets({ year: 2021, publishedMonths: 3 }));
    expect(step((await runPipeline(onsRequest(dataDir, [book]), captured().log)).manifest, 'transform').cache).toBe(`input changed: ${book}`);
  });

  it('an input that does not exist is refused in transform\'s words', async () => {
    const missing = path.join(work, 'no-such-book.xlsx');
    const error = await failure(checkTransform(onsRequest(newDir(), [missing]), {}, captured().log));
    expect(error.message).toBe(`--input ${missing}: no such file or directory`);
    expect((error as Error & { hint?: string }).hint).toBe("give workbooks or directories that exist (--input, or input: in the pipeline's options)");
  });
});

describe('runPipeline: a partitioned output\'s leftovers', () => {
  it('temp files of a dead run inside the partitioned folder are swept before anything runs', async () => {
    const dataDir = newDir();
    const nested = path.join(dataDir, 'processed', 'random-person', 'people', 'nat=CA');
    await mkdir(nested, { recursive: true });
    const leftover = path.join(nested, `.etl-tmp-${deadPid()}-a1b2c3d4e5f6-part-0.parquet`);
    await writeFile(leftover, 'cut');
    const c = captured();
    // The extract fails (404), so no partitioning is attempted; the sweep came first.
    const bad = request(dataDir, { transform: { skipBad: false, partitionBy: 'nat' } });
    bad.source.baseUrl = `${api.url}/missing/`;
    await failure(runPipeline(bad, c.log));
    await expect(readFile(leftover)).rejects.toThrow(/ENOENT/);
    expect(warnings(c)).toEqual(['warn: removed 1 temp file left by an interrupted run']);
    const [run] = await runsOf(dataDir);
    expect(run!.params.partition_by).toBe('nat');
  });
});

describe('runPipeline: a shard with no work units', () => {
  it('extract finds none of its cities: transform and load are skipped, saying why; the lock and run ids name the shard', async () => {
    const dataDir = newDir();
    const token = process.env.CLIMATEMPO_TOKEN;
    process.env.CLIMATEMPO_TOKEN = 'ct-test-token';
    try {
      const sharded: PipelineRequest = {
        ...request(dataDir, { load: { bucket: path.join(work, `shard-lake-${counter}`) } }),
        name: 'climatempo/forecast-hourly',
        // 3476 is shard 0's (id mod 2): shard 1 of 2 has nothing to fetch, and asks nothing.
        source: { source: 'climatempo', dataset: 'forecast-hourly', dataDir, baseUrl: `${api.url}/climatempo/`, concurrency: 1, rateLimit: 0, shard: { index: 1, count: 2 }, flags: { city: ['3476'] } },
        transform: { skipBad: false, partitionBy: 'city_id' },
      };
      const requests = api.requests.length;
      const { manifest } = await runPipeline(sharded, captured().log);
      expect(api.requests.length).toBe(requests);
      expect(manifest.run_id).toMatch(/-climatempo-forecast-hourly-shard-1-of-2-[0-9a-f]{4}$/);
      expect(manifest.params.shard).toBe('1/2');
      expect(manifest.steps.map((s) => [s.name, s.status, s.cache])).toEqual([
        ['extract', 'succeeded', 'always asks the source (conditional GETs)'],
        ['transform', 'skipped', 'this shard has no work units (more shards than editions)'],
        ['load', 'skipped', 'nothing to upload from this shard'],
      ]);
      await expect(readdir(path.join(dataDir, 'processed'))).rejects.toThrow(/ENOENT/);
      // Without a bucket there is no load step to skip.
      const { manifest: noLoad } = await runPipeline({ ...sharded, load: undefined }, captured().log);
      expect(steps(noLoad)).toEqual([['extract', 'succeeded'], ['transform', 'skipped']]);
    } finally {
      if (token === undefined) delete process.env.CLIMATEMPO_TOKEN;
      else process.env.CLIMATEMPO_TOKEN = token;
    }
  });
});

describe('runPipeline: a Delta table (--format delta)', () => {
  /** The actions of one commit of the table at `table`. */
  const commitOf = async (table: string, version: number) => commitActions(await readFile(path.join(table, '_delta_log', `${String(version).padStart(20, '0')}.json`), 'utf8'));
  const txnOf = (actions: Action[]) => actions.flatMap((action) => ('txn' in action ? [action.txn] : []));

  it('no bucket: transform commits to processed/<source>/<dataset>/ as the run (pipeline slug, deltaTxnVersion); nothing staged is left; a second run commits as its own run', async () => {
    const dataDir = newDir();
    const deltaRequest = () => request(dataDir, { transform: { skipBad: false, format: 'delta', partitionBy: 'nat', mergeKey: ['nat', 'email'] } });
    const table = path.join(dataDir, 'processed', 'random-person', 'people');
    expect(outputOf(deltaRequest())).toBe(table);
    const { manifest, transform } = await runPipeline(deltaRequest(), captured().log);
    expect(manifest.params).toMatchObject({ out: null, partition_by: 'nat', format: 'delta', merge_key: 'nat,email', bucket: null });
    expect(transform).toMatchObject({ rows: 3, path: table });
    const t = step(manifest, 'transform');
    const first = await commitOf(table, 0);
    const added = first.filter((action) => 'add' in action);
    expect(added.length).toBeGreaterThan(0);
    expect(t).toMatchObject({ status: 'succeeded', outputs: [], summary: { rows: 3, parts: 1, skipped: [], delta: 'version 0', files_added: added.length, files_removed: 0 } });
    expect(txnOf(first)).toEqual([expect.objectContaining({ appId: 'random-person-people', version: deltaTxnVersion(manifest) })]);
    // The whole table was staged beside the folder, then committed: only the table is left.
    expect(await readdir(path.dirname(table))).toEqual(['people']);
    expect((await cacheOf(dataDir)).transform.fingerprint.params).toMatchObject({ out: table, partition_by: 'nat', format: 'delta', merge_key: 'nat,email' });

    // Nothing recorded to check a table against: transform runs again (its rows' extracted_at differ, so it commits).
    const again = await runPipeline(deltaRequest(), captured().log);
    expect(step(again.manifest, 'transform')).toMatchObject({ status: 'succeeded', cache: 'the cache lists no output', summary: { delta: 'version 1', files_added: added.length, files_removed: added.length } });
    expect(txnOf(await commitOf(table, 1))).toEqual([expect.objectContaining({ version: deltaTxnVersion(again.manifest) })]);
  });

  it('no bucket, neither partitioned nor merged: still a folder (the table), staged beside it; no merge key is null in the manifest and the fingerprint', async () => {
    const dataDir = newDir();
    const plain = request(dataDir, { transform: { skipBad: false, format: 'delta' } });
    const table = path.join(dataDir, 'processed', 'random-person', 'people');
    expect(outputOf(plain)).toBe(table);
    const { manifest } = await runPipeline(plain, captured().log);
    expect(manifest.params).toMatchObject({ partition_by: null, format: 'delta', merge_key: null });
    const added = (await commitOf(table, 0)).filter((action) => 'add' in action);
    expect(added).toHaveLength(1);
    expect(step(manifest, 'transform')).toMatchObject({ status: 'succeeded', outputs: [], summary: { delta: 'version 0', files_added: 1, files_removed: 0 } });
    expect(await readdir(path.dirname(table))).toEqual(['people']);
    expect((await cacheOf(dataDir)).transform.fingerprint.params).toMatchObject({ out: table, partition_by: null, format: 'delta', merge_key: null });
  });

  it('a commit that fails (a merge key that is not a column) removes the staged table; nothing is committed', async () => {
    const dataDir = newDir();
    const error = await failure(runPipeline(request(dataDir, { transform: { skipBad: false, format: 'delta', mergeKey: ['no_such_column'] } }), captured().log));
    expect(error.message).toMatch(/no_such_column/);
    expect(await readdir(path.join(dataDir, 'processed', 'random-person'))).toEqual([]);
  });

  it('with a bucket: transform writes its parquet, load commits it to <bucket>/<dataset>/ as the run (deltaTxnVersion, as transform); the same file again is cached; another merge key, or the bucket spelt with a slash, runs load again on the same table and commits nothing', async () => {
    const dataDir = newDir();
    const lake = path.join(work, 'lake-delta');
    const table = path.join(lake, 'people');
    const deltaLoad = (mergeKey?: string[], bucket = lake) => request(dataDir, { load: { bucket, delta: { partitionBy: 'nat', mergeKey } } });
    const { manifest } = await runPipeline(deltaLoad(), captured().log);
    expect(manifest.params).toMatchObject({ bucket: lake, format: 'delta', partition_by: 'nat', merge_key: null });
    const t = step(manifest, 'transform');
    expect(t.outputs).toEqual([expect.objectContaining({ path: out(dataDir), rows: 3 })]);
    const first = await commitOf(table, 0);
    const added = first.flatMap((action) => ('add' in action ? [action.add.path] : []));
    expect(added.length).toBeGreaterThan(0);
    expect(txnOf(first)).toEqual([expect.objectContaining({ appId: 'random-person-people', version: deltaTxnVersion(manifest) })]);
    const l = step(manifest, 'load');
    expect(l).toMatchObject({ status: 'succeeded', cache: 'no earlier successful run', inputs: t.outputs, summary: { delta: 'version 0', files_added: added.length, files_removed: 0 } });
    expect(l.outputs.map((o) => [o.path.slice(o.path.indexOf('/people/') + '/people/'.length), o.sha256, o.bytes])).toEqual(added.map((file) => [file, '', 0]));
    const cache = await cacheOf(dataDir);
    expect(cache.load).toEqual({
      fingerprint: { inputs: { [out(dataDir)]: t.outputs[0]!.sha256 }, declaration: 'none', params: { bucket: lake, key: '{name}', endpoint: null, region: null, format: 'delta', partition_by: 'nat', merge_key: null }, etl_version: VERSION },
      outputs: l.outputs,
    });

    const cached = await runPipeline(deltaLoad(), captured().log);
    expect(steps(cached.manifest)).toEqual([['extract', 'succeeded'], ['transform', 'cached'], ['load', 'cached']]);

    const merged = await runPipeline(deltaLoad(['email', 'nat']), captured().log);
    expect(merged.manifest.params).toMatchObject({ format: 'delta', partition_by: 'nat', merge_key: 'email,nat' });
    expect(step(merged.manifest, 'load')).toMatchObject({ status: 'succeeded', cache: expect.stringContaining('merge_key'), outputs: [], summary: { delta: 'unchanged, nothing committed', files_added: 0, files_removed: 0 } });
    expect((await cacheOf(dataDir)).load.fingerprint.params).toMatchObject({ partition_by: 'nat', merge_key: 'email,nat' });

    const slash = await runPipeline(deltaLoad(['email', 'nat'], `${lake}/`), captured().log);
    expect(step(slash.manifest, 'load')).toMatchObject({ status: 'succeeded', cache: expect.stringContaining('bucket'), summary: { delta: 'unchanged, nothing committed' } });
    expect(await readdir(lake)).toEqual(['people']);
    expect(await readdir(path.join(table, '_delta_log'))).toEqual(['00000000000000000000.json']);
  });
});
