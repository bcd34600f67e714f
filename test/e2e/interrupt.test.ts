import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MONTHS, monthlySheets } from '../fixtures/ons/monthly-workbook.js';
import { runCli, startCli } from '../helpers/run-cli.js';
import { writeWorkbook } from '../helpers/workbook-writer.js';

let work: string;
const AREAS = 60_000;

/** A monthly-shaped workbook big enough that transform is still busy when the signal arrives. */
async function writeLargeWorkbook(file: string): Promise<void> {
  const writer = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: file, useSharedStrings: false, useStyles: false });
  const sheet = writer.addWorksheet('Figures for 2022');
  sheet.addRow(['Contents']).commit();
  sheet.addRow(['Monthly figures on deaths registered by area of usual residence, 2022']).commit();
  sheet.addRow([]).commit();
  sheet.addRow(['Area of usual residence', null, ...MONTHS.map((m) => `${m}-22`)]).commit();
  for (let i = 0; i < AREAS; i++) sheet.addRow([`E${String(i).padStart(8, '0')}`, `Area ${i} name`, ...MONTHS.map((_, m) => i + m)]).commit();
  sheet.commit();
  await writer.commit();
}

async function tempFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith('.etl-tmp-'));
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'etl-interrupt-'));
  await writeLargeWorkbook(path.join(work, 'large.xlsx'));
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
