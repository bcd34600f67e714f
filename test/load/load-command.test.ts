import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runCli } from '../helpers/run-cli.js';

/**
 * The command's own edges: flags, usage errors and help. Uploads are covered by load-contract.test.ts. The help, the
 * first usage error and the inputs that would block or read forever (a process can be left behind, this one not)
 * are the built CLI; the other runs go through its `main` in this process (the same line and exit code).
 */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-load-command-'));
  await writeFile(path.join(dir, 'deaths.parquet'), 'PAR1');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('etl load', () => {
  it('--help teaches: examples, credentials for each destination, emulator options', async () => {
    const run = await runCli(['load', '--help']);
    expect(run.code).toBe(0);
    for (const text of ['--bucket gs://my-bucket/ons/', '--dry-run', 'GOOGLE_APPLICATION_CREDENTIALS', 'AWS_PROFILE', 'STORAGE_EMULATOR_HOST', 'AWS_ENDPOINT_URL_S3', '{edition}']) {
      expect(run.stdout).toContain(text);
    }
  });

  it.each([
    [['load', 'deaths.parquet'], /name a destination with --to .*--bucket/],
    [['load', 'nowhere.parquet', '--bucket', 'gs://b/'], /nowhere\.parquet does not exist/],
    [['load', '{dir}', '--bucket', 'ftp://b/'], /unknown scheme ftp/],
    [['load', '{dir}', '--bucket', '{dir}/out', '--concurrency', 'two'], /--concurrency <n>' argument 'two' is invalid/],
    [['load', '{dir}', '--bucket', '{dir}/out', '--key', '{month}/{name}'], /unknown placeholder \{month\}/],
    [['load', '{dir}', '--bucket', 's3://b/', '--endpoint', 'localhost:9000'], /--endpoint localhost:9000 is not an http/],
  ])('etl %j is a usage error (exit 2)', async (args, message) => {
    const firstRow = args[1] === 'deaths.parquet';
    const run = await (firstRow ? runCli : runCliInProcess)(args.map((arg) => arg.replace('{dir}', dir)));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it.each([
    ['a dangling symlink', 'dangling.parquet', /dangling\.parquet is a symlink to nothing: only regular files are uploaded/],
    ['a FIFO (would block on open)', 'fifo.parquet', /fifo\.parquet is a FIFO, not a regular file/],
    ['/dev/zero (would be read forever)', '/dev/zero', /\/dev\/zero is a device, not a regular file/],
    ['a symlink to /dev/zero', 'zero.parquet', /zero\.parquet is a device, not a regular file/],
    ['a directory holding a dangling symlink', 'with-dangling', /with-dangling\/gone\.parquet is a symlink to nothing/],
  ])('%s is refused at once with one line (exit 2), nothing opened or sent', async (_what, input, message) => {
    // Beside `dir`, not in it: the other tests load `dir` whole.
    const odd = await mkdtemp(path.join(tmpdir(), 'etl-load-odd-'));
    await mkdir(path.join(odd, 'with-dangling'), { recursive: true });
    await symlink(path.join(odd, 'nothing-here'), path.join(odd, 'dangling.parquet'));
    await symlink(path.join(odd, 'nothing-here'), path.join(odd, 'with-dangling', 'gone.parquet'));
    await symlink('/dev/zero', path.join(odd, 'zero.parquet'));
    execFileSync('mkfifo', [path.join(odd, 'fifo.parquet')]);
    const lake = path.join(odd, 'lake');
    const mayHang = /fifo|zero/.test(input);
    const run = await (mayHang ? runCli : runCliInProcess)(['load', input.startsWith('/') ? input : path.join(odd, input), '--bucket', lake]);
    await rm(odd, { recursive: true, force: true });
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  }, 10_000);

  it('two inputs that would land on one key are refused before anything is sent', async () => {
    const run = await runCliInProcess(['load', path.join(dir, 'deaths.parquet'), dir, '--bucket', path.join(dir, 'out')]);
    expect(run.code).toBe(2);
    // {name} is already in every --key, so the hint must not suggest it.
    expect(run.stderr).toMatch(/would both be uploaded to .*deaths\.parquet \(rename one, or load them in separate runs to different --bucket prefixes\)$/m);
  });
});
