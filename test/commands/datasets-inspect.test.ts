import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.js';
import { weeklyDeaths } from '../../src/transform/datasets/weekly-deaths.js';
import { monthlySheets } from '../fixtures/ons/monthly-workbook.js';
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
    expect(stdout).toContain(
      'columns:  edition INT32, week_number INT32, week_ended DATE, measure STRING?, sex STRING?, age_band STRING?, area_code STRING?, area_name STRING?, label_as_printed STRING, deaths INT64?, deaths_average DOUBLE?, source_file STRING',
    );
    expect(stdout).toContain('    deaths_average    average measures (deaths_5y_average); else null');
    expect(stdout).toContain('ons monthly-deaths:');
    expect(stdout).toContain('columns:  edition INT32, period DATE, geo_code STRING?, geo_code_extra STRING?, geo_name STRING, area_name STRING?, geo_level STRING, deaths INT64?, source_file STRING');
    expect(stdout.match(/ {2}version: {2}\d+\n/g)).toEqual(['  version:  3\n', '  version:  2\n']);
    // Every source, its datasets, columns and the environment variables it reads.
    for (const text of ['climatempo forecast-hourly:', 'climatempo forecast-daily:', 'climatempo cities:', 'random-person people:', 'supermetrics query:', 'env:      CLIMATEMPO_TOKEN (secret), CLIMATEMPO_BASE_URL', 'env:      SUPERMETRICS_API_KEY (secret)', 'forecast_at TIMESTAMP', 'uuid STRING, gender STRING?']) {
      expect(stdout).toContain(text);
    }
  });

  it('--json gives the declarations themselves', async () => {
    const { stdout } = await etl('--json', 'datasets');
    const result = JSON.parse(stdout);
    expect(result.datasets.map((d: { name: string }) => d.name)).toEqual(['monthly-deaths', 'weekly-deaths']);
    expect(result.datasets[1]).toEqual(JSON.parse(JSON.stringify(weeklyDeaths)));
    expect(result.sources.map((s: { name: string }) => s.name)).toEqual(['ons', 'climatempo', 'random-person', 'supermetrics', 'postgres']);
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
    await writeWorkbook(file, accessibleSheets({ year: 2022, companions: false }));
    const { code, stdout } = await etl('inspect', file);
    expect(code).toBe(0);
    expect(stdout.split('\n')).toEqual([
      'publicationfileweek522022.xlsx: 4 sheets: "Cover sheet", "Contents", "Notes", "1"',
      'monthly-deaths: no layout matches',
      '  layout "areas down, months across" did not match: no sheet name matches /^\\s*Figures for \\d{4}\\s*$/i',
      'weekly-deaths: table on sheet "1" (layout "weeks down (2022 on)"), edition 2022, header row 6',
      '  one row per period; period columns A, B; value columns:',
      '    C6 "Total deaths, England and Wales (2022)" -> label=Total deaths, England and Wales (2022)',
      '    F6 "Total deaths, England (2022)" -> label=Total deaths, England (2022)',
      '    G6 "Total deaths, Wales (2022)" -> label=Total deaths, Wales (2022)',
      '    E6 "Total deaths, England and Wales, five-year average (2016 to 2021)" -> label=Total deaths, England and Wales, five-year average (2016 to 2021)',
      '  layout "weeks across (2010-2021)" did not match: no sheet name matches /^\\s*Weekly figures \\d{4}\\s*$/i',
      '  row labels -> canonical values:',
      '    C6    "Total deaths, England and Wales (2022)" -> measure=deaths sex=all age_band=- area_code=K04000001 area_name=England and Wales',
      '    F6    "Total deaths, England (2022)" -> measure=deaths sex=all age_band=- area_code=E92000001 area_name=England',
      '    G6    "Total deaths, Wales (2022)" -> measure=deaths sex=all age_band=- area_code=W92000004 area_name=Wales',
      '    E6    "Total deaths, England and Wales, five-year average (2016 to 2021)" -> measure=deaths_5y_average sex=all age_band=- area_code=K04000001 area_name=England and Wales',
      // The warnings a transform of it gives: this copy lacks the sheets by age and by region.
      expect.stringMatching(/^ {2}warning: publicationfileweek522022\.xlsx: no sheet for "weeks down, by sex and age group" \(.*\); its rows are missing from this edition$/),
      expect.stringMatching(/^ {2}warning: publicationfileweek522022\.xlsx: no sheet for "weeks down, by region" \(.*\); its rows are missing from this edition$/),
      '',
    ]);
  });

  it('a workbook: each row label with its cell and canonical values, unknown labels said so; monthly geo_level counts', async () => {
    const weekly = path.join(dir, 'weekly-unknown.xls');
    await writeWorkbook(weekly, weeklyFiguresSheets({ year: 2019, labelColumns: 2, unknownLabel: 'Deaths at sea' }));
    const { stdout } = await etl('inspect', weekly, '--dataset', 'weekly-deaths');
    expect(stdout).toContain('    B14   "Deaths by underlying cause / Deaths at sea" -> not in the declaration (canonical fields null)\n');
    expect(stdout).toMatch(/ {4}B\d+ +"Deaths by age group, Males \/ 1-14" -> measure=deaths sex=male age_band=1-14 area_code=K04000001 area_name=England and Wales\n/);
    expect(stdout).toContain('"Deaths by Region of usual residence / London" -> measure=deaths sex=all age_band=- area_code=E12000007 area_name=London\n');
    const monthly = path.join(dir, 'monthly-2019.xls');
    await writeWorkbook(monthly, monthlySheets({ year: 2019 }));
    const inspected = await etl('inspect', monthly, '--dataset', 'monthly-deaths');
    expect(inspected.stdout).toContain('  geo_level (rows of the first period): total_incl_non_residents 1, total 1, country 2, region 1, local_authority 1, non_resident 1\n');
    // Names given another area_name are listed; names kept as printed (County Durham) are not.
    expect(inspected.stdout).toContain('    B12   "NORTH EAST" -> area_name=North East\n');
    expect(inspected.stdout).not.toContain('County Durham');
  });

  it('a 2021 edition: the row printed for comparison is reported as transform would leave it out', async () => {
    const file = path.join(dir, 'publishedweek102021.xlsx');
    await writeWorkbook(file, weeklyFiguresSheets({ year: 2021, headerRow: 5, publishedWeeks: 10, comparisonYear: true }));
    const { code, stdout } = await etl('inspect', file, '--dataset', 'weekly-deaths');
    expect(code).toBe(0);
    expect(stdout).toContain('    A9    "Total deaths, all ages (2021)" -> measure=deaths sex=all age_band=- area_code=K04000001 area_name=England and Wales\n');
    expect(stdout).toContain('  warning: publishedweek102021.xlsx, sheet "Weekly figures 2021", cell A10: label "Total deaths, all ages (2020)" names a year other than the edition (2021): figures printed for comparison; left out\n');
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
    expect(lines.slice(0, 4)).toEqual(['deaths-by-week.parquet: 54 rows, 12 columns', '  edition           INTEGER  INT32 INT_32', '  week_number       INTEGER  INT32 INT_32', '  week_ended        DATE     INT32 DATE']);
    expect(lines[13]).toBe('first 2 rows:');
    expect(lines[14]).toMatch(/^ {2}edition +week_number +week_ended +measure +sex +age_band +area_code +area_name +label_as_printed +deaths +deaths_average +source_file$/);
    expect(lines[15]).toMatch(new RegExp(`^ {2}2019 +1 +2019-01-04 +deaths +all +K04000001 +England and Wales +Total deaths, all ages +${weeklyTotal(2019, 1)} +weekly-2019\\.xls$`));
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
