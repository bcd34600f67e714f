import type { ChildProcess } from 'node:child_process';
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
  // A few MB each: the kills after the first and second file need the next copy to take a moment.
  await writeFile(path.join(inputs, 'b.csv'), 'b\n' + '1\n'.repeat(2 * 1024 * 1024));
  await writeFile(path.join(inputs, 'c.csv'), 'c\n' + '2\n'.repeat(2 * 1024 * 1024));
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

/**
 * Kills the run at the kill point: a temp file in the lake (polled, bounded), or a line on stderr (killed in the
 * handler that receives it, not at the next poll: the next small copy may finish within one).
 */
async function killAt(child: ChildProcess, lake: string, at: { tempFile: true } | { line: RegExp }): Promise<void> {
  let stderr = '';
  let killed = false;
  const kill = (): void => {
    killed = child.kill('SIGKILL');
  };
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if ('line' in at && !killed && at.line.test(stderr)) kill();
  });
  for (let i = 0; i < 3000 && !killed && child.exitCode === null; i++) {
    if ('tempFile' in at && (await listTree(lake)).some((name) => name.startsWith('.etl-tmp-'))) kill();
    else await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (!killed) throw new Error(`the run ended before the kill point: ${stderr}`);
}

describe('etl load killed with SIGKILL, then run again', () => {
  const killPoints: Array<{ name: string; at: { tempFile: true } | { line: RegExp } }> = [
    { name: 'while the first file is being copied', at: { tempFile: true } },
    { name: 'after the first file landed', at: { line: /uploaded .*a-large\.bin/ } },
    { name: 'after the second file landed', at: { line: /uploaded .*b\.csv/ } },
  ];

  it.each(killPoints)('$name: the re-run completes, the destination equals an uninterrupted run, no temp file', async ({ name, at }) => {
    const lake = path.join(work, `lake-${name.replaceAll(' ', '-')}`);
    const { child, done } = startCli(['load', inputs, '--bucket', lake, '--concurrency', '1']);
    await killAt(child, lake, at);
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
