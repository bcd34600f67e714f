import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import { weeklyDeaths } from '../../src/transform/datasets/weekly-deaths.js';
import { accessibleSheets, weeklyFiguresSheets, weeklyTotal } from '../fixtures/ons/weekly-workbook.js';
import { writeWorkbook } from '../helpers/workbook-writer.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-commands-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs the CLI in-process, as `etl <args>`, and captures what it prints. */
async function etl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  const code = await main(['node', 'etl', ...args]);
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

describe('etl datasets', () => {
  it('lists every declared dataset with its page, layouts and columns', async () => {
    const { code, stdout } = await etl('datasets');
    expect(code).toBe(0);
    expect(stdout).toContain('ons weekly-deaths: Deaths registered weekly in England and Wales, provisional');
    expect(stdout).toContain(`  page:     ${weeklyDeaths.pageUrl}`);
    expect(stdout).toContain('"weeks across (2010-2021)": sheet /^\\s*Weekly figures \\d{4}\\s*$/i, header in rows 1-20, periods across columns: week_number (week-number), week_ended (date)');
    expect(stdout).toContain('"weeks down (2022 on)": sheet /^\\s*1\\s*$/i');
    expect(stdout).toContain('columns:  edition INT32, week_number INT32, week_ended DATE, section STRING?, measure STRING, area STRING, value DOUBLE?, source_file STRING');
    expect(stdout).toContain('ons monthly-deaths:');
  });

  it('--json gives the declarations themselves', async () => {
    const { stdout } = await etl('--json', 'datasets');
    const result = JSON.parse(stdout);
    expect(result.datasets.map((d: { name: string }) => d.name)).toEqual(['monthly-deaths', 'weekly-deaths']);
    expect(result.datasets[1]).toEqual(JSON.parse(JSON.stringify(weeklyDeaths)));
  });

  it('--dataset-file with a bad declaration exits 2 naming the field', async () => {
    const file = path.join(dir, 'bad.json');
    await writeFile(file, JSON.stringify({ ...weeklyDeaths, releases: 'latest' }));
    const { code, stderr } = await etl('datasets', '--dataset-file', file);
    expect(code).toBe(2);
    expect(stderr).toContain('bad.json: releases: expected one of "newest-file", "newest-per-period", got "latest"');
  });
});

describe('etl inspect', () => {
  it('a workbook: its sheets, the table each dataset finds, and the layouts that did not match', async () => {
    const file = path.join(dir, 'publicationfileweek522022.xlsx');
    await writeWorkbook(file, accessibleSheets({ year: 2022 }));
    const { code, stdout } = await etl('inspect', file);
    expect(code).toBe(0);
    expect(stdout.split('\n')).toEqual([
      'publicationfileweek522022.xlsx: 5 sheets: "Cover sheet", "Contents", "Notes", "1", "2"',
      'monthly-deaths: no layout matches',
      '  layout "areas down, months across" did not match: no sheet name matches /^\\s*Figures for \\d{4}\\s*$/i',
      'weekly-deaths: table on sheet "1" (layout "weeks down (2022 on)"), edition 2022, header row 6',
      '  one row per period; period columns A, B; value columns:',
      '    C6 "Total deaths, England and Wales (2022)" -> measure=Total deaths, all ages, area=England and Wales',
      '    F6 "Total deaths, England (2022)" -> measure=Total deaths, all ages, area=England',
      '    G6 "Total deaths, Wales (2022)" -> measure=Total deaths, all ages, area=Wales',
      '    E6 "Total deaths, England and Wales, five-year average (2016 to 2021)" -> measure=Total deaths: five-year average for the corresponding week, area=England and Wales',
      '  layout "weeks across (2010-2021)" did not match: no sheet name matches /^\\s*Weekly figures \\d{4}\\s*$/i',
      '',
    ]);
  });

  it('a workbook no layout matches: every rule that failed, where, and exit 4', async () => {
    const file = path.join(dir, 'moved.xls');
    await writeWorkbook(file, weeklyFiguresSheets({ year: 2021, headerRow: 30 }));
    const { code, stdout, stderr } = await etl('inspect', file, '--dataset', 'weekly-deaths');
    expect(code).toBe(4);
    expect(stdout).toContain('weekly-deaths: no layout matches\n');
    expect(stdout).toContain('  layout "weeks across (2010-2021)" did not match on sheet "Weekly figures 2021": no header row labelled /^Week number/i with at least 1 week number (like "53") in rows 1-20');
    expect(stdout).toContain('  layout "weeks down (2022 on)" did not match: no sheet name matches /^\\s*1\\s*$/i');
    expect(stderr).toContain('etl: data error: moved.xls: no declared layout matches (weekly-deaths)');
  });

  it('a parquet file: schema, row count and first rows; transform takes a --dataset-file', async () => {
    const workbook = path.join(dir, 'weekly-2019.xls');
    await writeWorkbook(workbook, weeklyFiguresSheets({ year: 2019, weeks: 2 }));
    const declaration = path.join(dir, 'deaths-by-week.json');
    await writeFile(declaration, JSON.stringify({ ...weeklyDeaths, name: 'deaths-by-week' }));
    const transformed = await etl('transform', 'ons', '--dataset-file', declaration, '--input', workbook, '--data-dir', dir);
    expect(transformed.code).toBe(0);
    const out = path.join(dir, 'processed', 'ons', 'deaths-by-week.parquet');
    expect(transformed.stdout).toContain(`-> ${out}`);

    const { code, stdout } = await etl('inspect', out, '--rows', '2');
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines.slice(0, 4)).toEqual(['deaths-by-week.parquet: 54 rows, 8 columns', '  edition      INTEGER  INT32 INT_32', '  week_number  INTEGER  INT32 INT_32', '  week_ended   DATE     INT32 DATE']);
    expect(lines[9]).toBe('first 2 rows:');
    expect(lines[10]).toMatch(/^ {2}edition +week_number +week_ended +section +measure +area +value +source_file$/);
    expect(lines[11]).toMatch(new RegExp(`^ {2}2019 +1 +2019-01-04 +Total deaths, all ages +England and Wales +${weeklyTotal(2019, 1)} +weekly-2019\\.xls$`));
  });

  it('a damaged parquet file is a data error giving DuckDB\'s reason, without the SQL etl ran', async () => {
    const damaged = path.join(dir, 'cut-short.parquet');
    await writeFile(damaged, Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(996, 7)]));
    const { code, stderr } = await etl('inspect', damaged);
    expect(code).toBe(4);
    expect(stderr).toMatch(/^etl: data error: .*cut-short\.parquet: cannot read it as parquet \([^)]*magic bytes[^)]*\) \(is it a parquet file\?/);
    expect(stderr).not.toMatch(/LINE 1|read_parquet|\\n/);
  });
});
