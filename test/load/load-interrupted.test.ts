import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/run-cli.js';
import { mountTmpfs, unmount } from '../helpers/tmpfs.js';

/**
 * `etl load` to a local directory killed with SIGKILL at several points, then run again as cron would: the
 * destination ends up as after an uninterrupted run, with no temp file. And a destination disk that fills up.
 */
let work: string;
let inputs: string;
const FILES = ['a-large.bin', 'b.csv', 'c.csv'];

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-load-interrupted-'));
  inputs = path.join(work, 'inputs');
  await mkdir(inputs);
  // Large enough that a copy is still running when its temp file is first seen.
  await writeFile(path.join(inputs, 'a-large.bin'), randomBytes(48 * 1024 * 1024));
  await writeFile(path.join(inputs, 'b.csv'), 'b\n1\n');
  await writeFile(path.join(inputs, 'c.csv'), 'c\n2\n');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function listTree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true }).catch(() => [] as string[])).sort();
}

async function sameAsInputs(lake: string): Promise<void> {
  expect(await listTree(lake)).toEqual(FILES);
  for (const name of FILES) expect((await readFile(path.join(lake, name))).equals(await readFile(path.join(inputs, name)))).toBe(true);
}

/** Polls (bounded) until `ready` says the run reached the kill point. */
async function waitFor(ready: () => Promise<boolean>, exited: () => boolean): Promise<void> {
  for (let i = 0; i < 3000 && !exited(); i++) {
    if (await ready()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('the run ended before the kill point');
}

describe('etl load killed with SIGKILL, then run again', () => {
  const killPoints: Array<{ name: string; ready: (lake: string, stderr: () => string) => Promise<boolean> }> = [
    { name: 'while the first file is being copied', ready: async (lake) => (await listTree(lake)).some((name) => name.startsWith('.etl-tmp-')) },
    { name: 'after the first file landed', ready: async (_lake, stderr) => /uploaded .*a-large\.bin/.test(stderr()) },
    { name: 'after the second file landed', ready: async (_lake, stderr) => /uploaded .*b\.csv/.test(stderr()) },
  ];

  it.each(killPoints)('$name: the re-run completes, the destination equals an uninterrupted run, no temp file', async ({ name, ready }) => {
    const lake = path.join(work, `lake-${name.replaceAll(' ', '-')}`);
    const { child, done } = startCli(['load', inputs, '--bucket', lake, '--concurrency', '1']);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await waitFor(() => ready(lake, () => stderr), () => child.exitCode !== null);
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');

    const rerun = await runCli(['load', inputs, '--bucket', lake]);
    expect(rerun.code, rerun.stderr).toBe(0);
    await sameAsInputs(lake);
  });

  it("leaves a live run's temp file alone", async () => {
    const lake = path.join(work, 'lake-live');
    await mkdir(lake);
    // This test process is alive: its temp file stands for a concurrent run's copy in progress.
    const live = `.etl-tmp-${process.pid}-0123456789ab-b.csv`;
    await writeFile(path.join(lake, live), 'half a copy');
    expect((await runCli(['load', inputs, '--bucket', lake])).code).toBe(0);
    expect(await listTree(lake)).toEqual([live, ...FILES]);
  });
});

describe('etl load to a full disk', () => {
  let disk: string;
  let unavailable: string | undefined;
  beforeAll(async () => {
    disk = path.join(work, 'small-disk');
    await mkdir(disk);
    unavailable = mountTmpfs(disk, 'size=4m');
    if (unavailable) console.warn(`[skip] disk-full test: ${unavailable}`);
  });
  afterAll(() => {
    if (!unavailable) unmount(disk);
  });

  it('says "no space left", keeps the previous copy and leaves no partial or temp file', async (context) => {
    if (unavailable) context.skip();
    const lake = path.join(disk, 'lake');
    const small = path.join(work, 'deaths.parquet');
    await writeFile(small, 'previous good copy');
    expect((await runCli(['load', small, '--bucket', lake])).code).toBe(0);

    await writeFile(small, randomBytes(6 * 1024 * 1024));
    const run = await runCli(['load', small, '--bucket', lake]);
    expect(run.code).toBe(5);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^etl: load error: .*deaths\.parquet: no space left on the device holding .*small-disk\/lake\/ \(writing /)]);
    expect(await listTree(lake)).toEqual(['deaths.parquet']);
    expect(await readFile(path.join(lake, 'deaths.parquet'), 'utf8')).toBe('previous good copy');
  });
});
