import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLargeMonthlyWorkbook } from '../fixtures/ons/large-monthly-workbook.js';
import { monthlySheets } from '../fixtures/ons/monthly-workbook.js';
import { runCli, startCli } from '../helpers/run-cli.js';
import { writeWorkbook } from '../helpers/workbook-writer.js';

let work: string;
const AREAS = 60_000;

async function tempFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith('.etl-tmp-'));
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-interrupt-'));
  await writeLargeMonthlyWorkbook(path.join(work, 'large.xlsx'), AREAS);
  await writeWorkbook(path.join(work, 'small.xls'), monthlySheets({ year: 2021 }));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('a transform killed part-way', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('by %s leaves the previous output and no partial or temp file', async (signal) => {
    const outDir = path.join(work, signal);
    const out = path.join(outDir, 'deaths.parquet');
    expect((await runCli(['transform', 'ons', '--input', path.join(work, 'small.xls'), '--out', out])).code).toBe(0);
    const previous = await readFile(out);

    const { child, done } = startCli(['transform', 'ons', '--input', path.join(work, 'large.xlsx'), '--out', out]);
    // Wait until the run has started writing (its scratch files exist), then interrupt it.
    while ((await tempFiles(outDir)).length === 0 && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    expect(child.exitCode).toBeNull();
    child.kill(signal);
    const result = await done;

    expect(result.code).toBe(signal === 'SIGINT' ? 130 : 143);
    expect(result.stderr).toContain(`interrupted by ${signal}`);
    expect(await tempFiles(outDir)).toEqual([]);
    expect(await readFile(out)).toEqual(previous);
  });
});

describe('a transform killed with SIGKILL', () => {
  it('leaves scratch files that the next transform removes, and the output is the same as an uninterrupted run', async () => {
    const outDir = path.join(work, 'SIGKILL');
    const out = path.join(outDir, 'deaths.parquet');
    await mkdir(outDir);
    const { child, done } = startCli(['transform', 'ons', '--input', path.join(work, 'large.xlsx'), '--out', out]);
    while ((await tempFiles(outDir)).length === 0 && child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
    expect(child.exitCode).toBeNull();
    child.kill('SIGKILL');
    expect((await done).signal).toBe('SIGKILL');
    expect((await tempFiles(outDir)).length).toBeGreaterThan(0);

    const rerun = await runCli(['transform', 'ons', '--input', path.join(work, 'small.xls'), '--out', out]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(/removed \d+ temp file\(s\) an interrupted run left/);
    expect(await tempFiles(outDir)).toEqual([]);
    const reference = path.join(work, 'reference', 'deaths.parquet');
    expect((await runCli(['transform', 'ons', '--input', path.join(work, 'small.xls'), '--out', reference])).code).toBe(0);
    expect(await readFile(out)).toEqual(await readFile(reference));
  });
});
