import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monthlySheets } from './fixtures/ons/monthly-workbook.js';
import { readParquet } from './helpers/parquet.js';
import { runCliInProcess } from './helpers/cli-in-process.js';
import { runCli, type CliOptions, type CliResult } from './helpers/run-cli.js';
import { writeWorkbook } from './helpers/workbook-writer.js';

/**
 * What every command promises a crontab: one result on stdout, one line per error on stderr, the same exit
 * code for the same mistake, and no work (nor a false success) on a flag that cannot be right.
 */
let work: string;
let workbooks: string;
/** Counts every request, to show that a command sent none. */
let listener: Server;
let endpoint: string;
let requests = 0;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-cli-contract-'));
  workbooks = path.join(work, 'workbooks');
  await mkdir(workbooks);
  await writeWorkbook(path.join(workbooks, 'Monthly2019Mortality.xls'), monthlySheets({ year: 2019 }));
  await writeWorkbook(path.join(workbooks, 'Monthly2021Mortality.xlsx'), monthlySheets({ year: 2021 }));
  await writeFile(path.join(work, 'deaths.parquet'), 'PAR1 not really');
  listener = createServer((request, response) => {
    requests++;
    response.writeHead(500).end();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => listener.close(resolve));
  await rm(work, { recursive: true, force: true });
});

type Run = (args: string[], options?: CliOptions) => Promise<CliResult>;

/**
 * For a table of cases: the first case run is a real process (its exit code and stderr as a crontab sees them),
 * the rest go through the CLI's main in-process (test/helpers/cli-in-process.ts), the same parsing and error lines.
 */
function firstAsProcess(): Run {
  let first = true;
  return (args, options) => {
    const run = first ? runCli : runCliInProcess;
    first = false;
    return run(args, options);
  };
}

/** Runs in a fresh empty directory, so anything a command wrongly creates there shows up. */
async function runInEmptyDir(args: string[], env: Record<string, string> = {}, run: Run = runCli) {
  const cwd = await mkdtemp(path.join(work, 'cwd-'));
  const result = await run(args, { cwd, env });
  return { ...result, created: await readdir(cwd) };
}

const errorLines = (stderr: string): string[] => stderr.trim().split('\n').filter((line) => line !== '');

describe('--bucket: a mistyped scheme or a bare name is a usage error, never a local folder', () => {
  const mistypedRun = firstAsProcess();
  it.each([
    ['gs:/bucket/ons/', /looks like a mistyped URL \(did you mean gs:\/\/bucket\/ons\/\?\)/],
    ['s3:/bucket/', /did you mean s3:\/\/bucket\/\?/],
    ['gs//bucket/', /did you mean gs:\/\/bucket\/\?/],
    ['s3//bucket/', /did you mean s3:\/\/bucket\/\?/],
    ['gs:bucket/ons', /did you mean gs:\/\/bucket\/ons\?/],
    ['S3:/bucket/', /did you mean s3:\/\/bucket\/\?/],
    ['file:/srv/lake/', /did you mean file:\/\/\/srv\/lake\/\?/],
    ['file://lake/', /not a local file URL/],
    ['gcs://bucket/', /unknown scheme gcs:\/\//],
    ['my-bucket/ons/', /neither a bucket URL nor a local path \(for a bucket write gs:\/\/my-bucket\/ons\/ or s3:\/\/my-bucket\/ons\/; for a local folder write \.\/my-bucket\/ons\//],
    ['lake', /neither a bucket URL nor a local path/],
  ])('load --bucket %s exits 2 and writes nothing', async (bucket, message) => {
    const run = await runInEmptyDir(['load', path.join(work, 'deaths.parquet'), '--bucket', bucket], {}, mistypedRun);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(errorLines(run.stderr)).toHaveLength(1);
    expect(run.stdout).toBe('');
    expect(run.created).toEqual([]);
  });

  it('run checks --bucket before extracting anything', async () => {
    const run = await runInEmptyDir(['run', 'ons', '--bucket', 'gs:/b/ons/', '--url', `${endpoint}/page`, '--retries', '0'], {}, runCliInProcess);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--bucket gs:\/b\/ons\/ looks like a mistyped URL/);
    expect(requests).toBe(0);
    expect(run.created).toEqual([]);
  });

  const localRun = firstAsProcess();
  it.each(['./lake/', '../lake-up/', '{abs}/lake-abs/', 'file://{abs}/lake-url/'])('a local path %s is a local destination', async (bucket) => {
    const cwd = await mkdtemp(path.join(work, 'local-'));
    const run = await localRun(['load', path.join(work, 'deaths.parquet'), '--bucket', bucket.replace('{abs}', cwd)], { cwd });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^1 uploaded, 0 skipped \(already there\), 0 failed; 15 B to file:\/\/\//);
  });
});

describe('--from/--to', () => {
  it('apply to --input too: only editions in range are written', async () => {
    const out = path.join(work, 'from-2020.parquet');
    const run = await runCliInProcess(['transform', 'ons', '--input', workbooks, '--from', '2020', '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    const editions = new Set((await readParquet(out)).rows.map((row) => row.edition));
    expect([...editions]).toEqual([2021]);
    expect(run.stdout).toMatch(/from 1 file -> /);
  });

  it('an empty selection is a usage error naming the editions there are', async () => {
    const out = path.join(work, 'from-2030.parquet');
    const run = await runCliInProcess(['transform', 'ons', '--input', workbooks, '--from', '2030', '--out', out]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no edition matches --from 2030: --input holds editions 2019, 2021/);
    expect(errorLines(run.stderr)).toHaveLength(1);
    await expect(readdir(work)).resolves.not.toContain('from-2030.parquet');
  });

  const invertedRun = firstAsProcess();
  it.each([
    ['transform', 'ons', '--input', '{workbooks}', '--from', '2021', '--to', '2019'],
    ['extract', 'ons', '--url', '{endpoint}/page', '--from', '2021', '--to', '2019'],
    ['run', 'ons', '--url', '{endpoint}/page', '--from', '2021', '--to', '2019'],
  ])('an inverted range is a usage error before any work: %j', async (...args) => {
    const run = await runInEmptyDir(args.map((arg) => arg.replace('{workbooks}', workbooks).replace('{endpoint}', endpoint)), {}, invertedRun);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--from 2021 is after --to 2019/);
    expect(requests).toBe(0);
    expect(run.created).toEqual([]);
  });
});

describe('output', () => {
  it('etl with no command prints help on stdout and exits 0', async () => {
    const run = await runCli([]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: etl /);
    expect(run.stdout).toContain('Exit codes:');
    expect(run.stderr).toBe('');
  });

  it.each([
    [['tranform', 'ons'], /^etl: config error: unknown command 'tranform' \(Did you mean transform\?\)/],
    [['transform', 'ons', '--inptu', 'x.xls'], /^etl: config error: unknown option '--inptu' \(Did you mean --input\?\)/],
  ])('a suggestion stays on the error line: %j', async (args, message) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(errorLines(run.stderr)).toHaveLength(1);
  });

  it('--shard 3/3 (shards count from 0) is a usage error, exit 2, before anything is fetched or written', async () => {
    const before = requests;
    const run = await runInEmptyDir(['run', 'ons', '--shard', '3/3', '--partition-by', 'edition', '--url', endpoint, '--data-dir', 'data']);
    expect(run.code).toBe(2);
    expect(errorLines(run.stderr)).toEqual([expect.stringMatching(/^etl: config error: option '--shard <i\/n>' argument '3\/3' is invalid\. expected i\/n with 0 <= i < n, e\.g\. 0\/3/)]);
    expect(run.created).toEqual([]);
    expect(requests).toBe(before);
  });

  it('a transform prints its summary once: the result on stdout, nothing on stderr', async () => {
    const run = await runCli(['transform', 'ons', '--input', workbooks, '--out', path.join(work, 'once.parquet')]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^transform: \d+ rows from 2 files -> /)]);
    expect(run.stderr).toBe('');
  });

  it('a load prints its summary once: per-file lines on stderr, the summary on stdout', async () => {
    const cwd = await mkdtemp(path.join(work, 'summary-'));
    const run = await runCli(['load', path.join(work, 'deaths.parquet'), '--bucket', './lake/'], { cwd });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    expect(errorLines(run.stderr)).toEqual([expect.stringMatching(/^uploaded .*deaths\.parquet -> file:\/\/.*lake\/deaths\.parquet/)]);
  });

  it('a failed load prints one error line, and its summary on stdout only', async () => {
    const blocker = path.join(work, 'plain-file');
    await writeFile(blocker, 'x');
    const run = await runCli(['load', path.join(work, 'deaths.parquet'), '--bucket', path.join(blocker, 'lake')]);
    expect(run.code).toBe(5);
    expect(errorLines(run.stderr)).toEqual([expect.stringMatching(/^etl: load error: .*deaths\.parquet: cannot write .*plain-file\/lake\/deaths\.parquet/)]);
    expect(run.stdout).toMatch(/^0 uploaded, 0 skipped \(already there\), 1 failed/);
  });
});

describe('the same mistake, the same exit code', () => {
  const missingRun = firstAsProcess();
  it.each([
    [['inspect', '{work}/nosuch.xls'], /nosuch\.xls: cannot open/],
    [['inspect', '{work}'], /^etl: config error: .* is a directory \(give one workbook/],
    [['transform', 'ons', '--input', '{work}/nosuch.xls'], /--input .*nosuch\.xls: no such file or directory/],
    [['load', '{work}/nosuch.parquet', '--bucket', './lake/'], /nosuch\.parquet does not exist/],
    [['transform', 'ons', '--dataset-file', '{work}/nosuch.json', '--input', '{work}/workbooks'], /nosuch\.json: cannot read it/],
  ])('a missing file is a usage error (exit 2): %j', async (args, message) => {
    const run = await runInEmptyDir(args.map((arg) => arg.replace('{work}', work)), {}, missingRun);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(errorLines(run.stderr)).toHaveLength(1);
  });

  it('S3 without a region is a configuration error (exit 2), found before any request', async () => {
    const home = await mkdtemp(path.join(work, 'home-'));
    const run = await runInEmptyDir(['load', path.join(work, 'deaths.parquet'), '--bucket', 's3://b/ons/'], {
      HOME: home, AWS_REGION: '', AWS_DEFAULT_REGION: '', AWS_PROFILE: '', AWS_CONFIG_FILE: path.join(home, 'none'), AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'none'),
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^etl: config error: no AWS region set for s3:\/\/b\/ \(pass --region, set AWS_REGION/);
    expect(errorLines(run.stderr)).toHaveLength(1);
  });

  it.each([
    ['gs://b/ons/', { METADATA_SERVER_DETECTION: 'none' }],
    ['s3://b/ons/', { AWS_EC2_METADATA_DISABLED: 'true', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'never-used-secret' }],
  ])('load --dry-run to %s sends no request and names what it would upload', async (bucket, env) => {
    const before = requests;
    const run = await runInEmptyDir(['load', path.join(work, 'deaths.parquet'), '--bucket', bucket, '--endpoint', endpoint, '--dry-run'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(requests).toBe(before);
    expect(run.stdout).toContain(`upload ${path.join(work, 'deaths.parquet')} -> ${bucket}deaths.parquet (not compared: a dry run sends no request to ${bucket.slice(0, 5)}b/)`);
    expect(run.stdout).toMatch(/dry run: 1 would upload \(15 B\), 0 would skip, 0 failed; nothing sent to /);
  });
});
