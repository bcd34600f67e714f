import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLargeMonthlyWorkbook } from '../fixtures/ons/large-monthly-workbook.js';
import { monthlySheets } from '../fixtures/ons/monthly-workbook.js';
import { runCli, startCli } from '../helpers/run-cli.js';
import { writeWorkbook } from '../helpers/workbook-writer.js';

let work: string;
let large: string;
let small: string;
/** The output of uninterrupted runs over the large and the small workbook. */
let reference: Buffer;
let previous: Buffer;

const tempFiles = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((name) => name.startsWith('.etl-tmp-'));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-transform-faults-'));
  large = path.join(work, 'large.xlsx');
  small = path.join(work, 'small.xls');
  await writeLargeMonthlyWorkbook(large, 20_000);
  await writeWorkbook(small, monthlySheets({ year: 2021 }));
  const result = await runCli(['transform', 'ons', '--input', large, '--out', path.join(work, 'reference.parquet')]);
  expect(result.code).toBe(0);
  reference = await readFile(path.join(work, 'reference.parquet'));
  expect((await runCli(['transform', 'ons', '--input', small, '--out', path.join(work, 'previous.parquet')])).code).toBe(0);
  previous = await readFile(path.join(work, 'previous.parquet'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/**
 * When to SIGKILL, seen from outside as a cron job's neighbour would: at start-up, as soon as the temp file
 * beside the output exists, and a moment into writing row groups to it.
 */
const KILL_POINTS: Array<{ name: string; reached: (temps: string[], sinceStart: number) => boolean }> = [
  { name: 'at start-up', reached: (_temps, ms) => ms >= 150 },
  { name: 'as the temp file appears', reached: (temps) => temps.some((name) => /-deaths\.parquet$/.test(name)) },
  { name: 'a moment into writing row groups', reached: (temps, ms) => temps.length > 0 && ms >= 900 },
];

describe('transform killed with SIGKILL at several points, then run again', () => {
  it('leaves the previous output until a run completes; the re-run writes what an uninterrupted run writes, and no temp file is left', async () => {
    const dir = path.join(work, 'kill');
    await mkdir(dir);
    const out = path.join(dir, 'deaths.parquet');
    await writeFile(out, previous);
    for (const point of KILL_POINTS) {
      const { child, done } = startCli(['transform', 'ons', '--input', large, '--out', out]);
      const started = Date.now();
      // Bounded: the run ends on its own within a few seconds if the point is never seen.
      for (let polls = 0; polls < 4000 && child.exitCode === null; polls++) {
        if (point.reached(await tempFiles(dir), Date.now() - started)) break;
        await sleep(2);
      }
      child.kill('SIGKILL');
      const result = await done;
      // Killed: the output is the previous one, whole. Finished before the kill arrived: the new one.
      const now = await readFile(out);
      expect({ point: point.name, output: now.equals(previous) ? 'previous' : now.equals(reference) ? 'new' : 'other' }).toEqual({
        point: point.name,
        output: result.signal === 'SIGKILL' ? 'previous' : 'new',
      });
      if (!now.equals(previous)) await writeFile(out, previous);
    }

    const rerun = await runCli(['transform', 'ons', '--input', large, '--out', out]);
    expect(rerun.code).toBe(0);
    expect((await readFile(out)).equals(reference)).toBe(true);
    expect(await tempFiles(dir)).toEqual([]);
  });
});

/** A small tmpfs of our own; mount needs root (or CAP_SYS_ADMIN), so elsewhere the test says why it skips. */
function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('transform on a full disk', () => {
  it('is a load error saying "no space left on ...", keeps the previous output and leaves no temp file', async (context) => {
    const disk = path.join(work, 'disk');
    await mkdir(disk);
    if (!mountTmpfs(disk, '4m')) {
      console.warn('[skip] disk-full test: cannot mount a tmpfs here (needs root)');
      context.skip();
    }
    try {
      const out = path.join(disk, 'deaths.parquet');
      await copyFile(path.join(work, 'previous.parquet'), out);
      // The disk fills at once, or part-way through writing the row groups.
      const outcomes = new Set<string>();
      for (const free of [0, 1024 * 1024]) {
        const filler = path.join(disk, 'filler');
        await fillDisk(disk, filler, free);
        const result = await runCli(['transform', 'ons', '--input', large, '--out', out]);
        await rm(filler, { force: true });
        if (result.code === 0) {
          outcomes.add('written');
          await copyFile(path.join(work, 'previous.parquet'), out);
          continue;
        }
        outcomes.add('disk full');
        expect(result.code).toBe(5);
        const lines = result.stderr.split('\n').filter((line) => line !== '');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^etl: load error: no space left on the device holding ${disk} \\(writing deaths\\.parquet\\)`));
        expect((await readFile(out)).equals(previous)).toBe(true);
        expect(await readdir(disk)).toEqual(['deaths.parquet']);
      }
      expect(outcomes.has('disk full')).toBe(true);
    } finally {
      execFileSync('umount', [disk]);
    }
  });
});

/** Fills the filesystem until only about `free` bytes are left. */
async function fillDisk(disk: string, filler: string, free: number): Promise<void> {
  const { bavail, bsize } = await import('node:fs/promises').then((fs) => fs.statfs(disk));
  const size = Math.max(0, bavail * bsize - free);
  await writeFile(filler, Buffer.alloc(size));
}
