import { rmSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCommandContext } from '../../src/commands/context.js';
import { runCommand } from '../../src/commands/run.js';
import { describePlan, type Plan } from '../../src/run/plan.js';
import { createLogger } from '../../src/core/log.js';
import { startFileServer, type FileServer } from '../helpers/http-server.js';
import { readParquet } from '../helpers/parquet.js';
import { PAGE, buildOnsSite } from './ons-site.js';

/**
 * `etl run` in-process, through the command layer (src/commands/run.ts, pipeline-flags.ts) down to the pipeline,
 * its cache and its retries, against a local ONS copy and a folder as the bucket. In-process so that a mutant
 * of src/run or src/commands is seen (the CLI tests spawn dist/, which Stryker does not mutate). Each test
 * holds one behaviour a cron user depends on; docs/testing.md ("Nine behaviours") says how its bug was planted.
 */
let work: string;
let server: FileServer;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-run-in-process-'));
  const { files } = await buildOnsSite(work);
  // The same page behind a URL with a token in its query, as some publishers hand out.
  server = await startFileServer({ ...files, [`${PAGE}?token=s3cr3t-value`]: files[PAGE]! });
});

afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

interface Ran {
  /** What `etl --json run` prints on stdout: the run manifest, parsed. */
  result: { status: string; params: Record<string, unknown>; steps: Array<{ name: string; status: string; cache: string; attempts: number }> };
  stdout: string;
  /** The JSON log lines, parsed. */
  logs: Array<{ level: string; msg: string }>;
}

/** `etl --json run <args>` in this process; `onLog` sees each log line as it is written. */
async function run(args: string[], onLog: (line: string) => void = () => {}): Promise<Ran> {
  let stdout = '';
  const lines: string[] = [];
  const out = { write: (text: string) => ((stdout += text), true) } as unknown as NodeJS.WritableStream;
  const stream = { write: (line: string) => (lines.push(line), onLog(line), true) } as unknown as NodeJS.WritableStream;
  const context = { ...(await createCommandContext({ json: true, debug: false, quiet: false }, out)), log: createLogger({ json: true, stream, interactive: false }) };
  await runCommand(async () => context).exitOverride().parseAsync(args, { from: 'user' });
  return { result: JSON.parse(stdout), stdout, logs: lines.map((line) => JSON.parse(line)) };
}

const steps = (ran: Ran): Array<[string, string]> => ran.result.steps.map((step) => [step.name, step.status]);
const step = (ran: Ran, name: string) => ran.result.steps.find((s) => s.name === name)!;

describe('etl run in-process: the cache', () => {
  it('a transform output overwritten in place (same size, same name) is not taken as cached: transform runs again and writes it back', async () => {
    const dataDir = path.join(work, 'overwritten');
    const args = ['ons', '--url', server.url + PAGE, '--data-dir', dataDir];
    expect(steps(await run(args))).toEqual([['extract', 'succeeded'], ['transform', 'succeeded']]);
    const out = path.join(dataDir, 'processed', 'ons', 'monthly-deaths.parquet');
    const written = await readFile(out);
    expect(steps(await run(args))).toEqual([['extract', 'succeeded'], ['transform', 'cached']]);

    // Another program rewrites the file where it is: the name stays, the size stays, only the bytes differ.
    await writeFile(out, Buffer.alloc(written.length, 0x20));
    const again = await run(args);
    expect(steps(again)).toEqual([['extract', 'succeeded'], ['transform', 'succeeded']]);
    expect(step(again, 'transform').cache).toBe('the output file was changed or removed since');
    expect(await readFile(out)).toEqual(written);
  });

  it('a source flag alone changing (--from 2019) runs transform again: the output holds only the editions asked for', async () => {
    const dataDir = path.join(work, 'from-flag');
    const args = ['ons', '--url', server.url + PAGE, '--data-dir', dataDir];
    const out = path.join(dataDir, 'processed', 'ons', 'monthly-deaths.parquet');
    expect(steps(await run(args))).toEqual([['extract', 'succeeded'], ['transform', 'succeeded']]);
    const editions = async () => [...new Set((await readParquet(out)).rows.map((row) => Number(row.edition)))].sort();
    expect(await editions()).toEqual([2015, 2019, 2021]);

    const from2019 = await run([...args, '--from', '2019']);
    expect(steps(from2019)).toEqual([['extract', 'succeeded'], ['transform', 'succeeded']]);
    expect(step(from2019, 'transform').cache).toBe('--from (none) -> 2019');
    expect(await editions()).toEqual([2019, 2021]);
    // And the same flags again is cached.
    expect(steps(await run([...args, '--from', '2019']))).toEqual([['extract', 'succeeded'], ['transform', 'cached']]);
  });

  it('a load whose destination alone changed (another --bucket) uploads there: the new bucket holds the file', async () => {
    const dataDir = path.join(work, 'two-lakes');
    const [lakeA, lakeB] = [path.join(work, 'lakeA'), path.join(work, 'lakeB')];
    const args = ['ons', '--url', server.url + PAGE, '--data-dir', dataDir];
    expect(steps(await run([...args, '--bucket', lakeA]))).toEqual([['extract', 'succeeded'], ['transform', 'succeeded'], ['load', 'succeeded']]);
    expect(steps(await run([...args, '--bucket', lakeA]))).toEqual([['extract', 'succeeded'], ['transform', 'cached'], ['load', 'cached']]);

    const toB = await run([...args, '--bucket', lakeB]);
    expect(steps(toB)).toEqual([['extract', 'succeeded'], ['transform', 'cached'], ['load', 'succeeded']]);
    expect(step(toB, 'load').cache).toBe(`parameter bucket ${lakeA} -> ${lakeB}`);
    expect(await readFile(path.join(lakeB, 'monthly-deaths.parquet'))).toEqual(await readFile(path.join(dataDir, 'processed', 'ons', 'monthly-deaths.parquet')));
  });
});

describe('etl run in-process: retries and secrets', () => {
  it('--step-retries 1 runs a failing load a second time, and that second attempt can succeed', async () => {
    const dataDir = path.join(work, 'step-retries');
    const lake = path.join(work, 'blocked-lake');
    // A file where the destination folder should be: every upload fails until it is gone.
    await writeFile(lake, 'not a folder');
    const args = ['ons', '--url', server.url + PAGE, '--data-dir', dataDir, '--bucket', lake];
    await expect(run([...args, '--step-retries', '0'])).rejects.toThrow(/cannot write .*blocked-lake/);

    // The blocker is removed when the pipeline says it will try the load again: only a second attempt can pass.
    const retried = await run([...args, '--step-retries', '1'], (line) => {
      if (/"msg":"load failed \(.*\); attempt 2 of 2"/.test(line)) rmSync(lake);
    });
    expect(steps(retried)).toEqual([['extract', 'succeeded'], ['transform', 'cached'], ['load', 'succeeded']]);
    expect(step(retried, 'load').attempts).toBe(2);
    expect(retried.logs.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([expect.stringMatching(/^load failed \(.*\); attempt 2 of 2$/)]);
    expect(await readdir(lake)).toEqual(['monthly-deaths.parquet']);
  });

  it('a password and a token in --url appear neither in the --json run output nor in any file of the data dir', async () => {
    const dataDir = path.join(work, 'secret-url');
    const url = `${server.url.replace('http://', 'http://etl-user:hunter2@')}${PAGE}?token=s3cr3t-value`;
    const ran = await run(['ons', '--url', url, '--data-dir', dataDir]);
    expect(steps(ran)).toEqual([['extract', 'succeeded'], ['transform', 'succeeded']]);
    // The URL is there, only without its secrets.
    expect(ran.result.params.source_flags).toEqual({ url: expect.stringContaining(PAGE) });
    expect(ran.stdout).not.toMatch(/hunter2|s3cr3t-value/);
    expect(JSON.stringify(ran.logs)).not.toMatch(/hunter2|s3cr3t-value/);
    const names = (await readdir(dataDir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile() && /\.json$/.test(entry.name));
    expect(names.filter((entry) => entry.parentPath.endsWith('runs'))).toHaveLength(1);
    for (const entry of names) expect(await readFile(path.join(entry.parentPath, entry.name), 'utf8'), entry.name).not.toMatch(/hunter2|s3cr3t-value/);
  });
});

describe('etl run --dry-run in-process: what each step would do and why, nothing fetched or written', () => {
  it('fresh, then cached, then another bucket, no bucket and --input', async () => {
    const dataDir = path.join(work, 'plan');
    const lake = path.join(work, 'plan-lake');
    const args = ['ons', '--url', server.url + PAGE, '--data-dir', dataDir];
    const plan = async (extra: string[]): Promise<Plan> => {
      const requests = server.requests.length;
      const { result } = await run([...args, ...extra, '--dry-run']);
      expect(server.requests.length).toBe(requests);
      return result as unknown as Plan;
    };
    const fresh = await plan(['--bucket', lake]);
    expect(fresh).toMatchObject({ command: 'run', dry_run: true, pipeline: 'ons/monthly-deaths' });
    expect(describePlan(fresh)).toBe(
      [
        'plan for ons/monthly-deaths (nothing fetched, written or uploaded):',
        '  extract   run    nothing extracted yet: every edition is downloaded',
        '  transform run    no earlier successful run',
        `  load      run    uploads what transform writes to ${lake}`,
      ].join('\n'),
    );
    await expect(readdir(dataDir)).rejects.toThrow(/ENOENT/);

    expect(steps(await run([...args, '--bucket', lake]))).toEqual([['extract', 'succeeded'], ['transform', 'succeeded'], ['load', 'succeeded']]);
    expect((await plan(['--bucket', lake])).steps).toEqual([
      { name: 'extract', action: 'run', why: 'asks the source for changes to 3 files already here (conditional GETs: an unchanged file costs 0 bytes)' },
      { name: 'transform', action: 'cached', why: '3 input files, declaration, parameters and etl version unchanged (runs if extract fetches a changed file)' },
      { name: 'load', action: 'cached', why: `the same files are already in ${lake}` },
    ]);
    expect((await plan(['--bucket', path.join(work, 'plan-lake-2')])).steps[2]).toEqual({ name: 'load', action: 'run', why: `parameter bucket ${lake} -> ${path.join(work, 'plan-lake-2')}` });
    expect((await plan([])).steps[2]).toEqual({ name: 'load', action: 'skip', why: `no --bucket: the parquet stays in ${path.join(dataDir, 'processed', 'ons')}` });
    expect((await plan(['--bucket', lake, '--no-cache'])).steps.slice(1)).toEqual([
      { name: 'transform', action: 'run', why: '--no-cache' },
      { name: 'load', action: 'run', why: `uploads what transform writes to ${lake}` },
    ]);
    const input = await plan(['--input', path.join(dataDir, 'raw', 'ons', 'monthly-deaths')]);
    expect(input.steps.slice(0, 2)).toEqual([
      { name: 'extract', action: 'skip', why: '--input given: the workbooks are read where they are' },
      { name: 'transform', action: 'run', why: expect.stringMatching(/^--input \(none\) -> \["/) },
    ]);
  });
});
