import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as XLSX from '@e965/xlsx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { weeklyDeaths } from '../../src/transform/datasets/weekly-deaths.js';
import { isWeeklyTotal, weeklyFiguresSheets } from '../fixtures/ons/weekly-workbook.js';
import { readParquet, type ParquetContents } from '../helpers/parquet.js';
import { runCli } from '../helpers/run-cli.js';
import { hasSharedData, sharedDataDir, sharedFile } from '../helpers/shared-data.js';
import { writeWorkbook } from '../helpers/workbook-writer.js';

/**
 * Every real weekly workbook in ../shared/data/ons-weekly, through the built CLI. The expected all-ages
 * England and Wales totals are read straight from each workbook with SheetJS, by the layout's rules as
 * SOURCES.md describes them, not through the engine: old layout, the `Total deaths, all ages` row under
 * the `Week number` row; accessible layout (2022 on), the `Total deaths … England and Wales (YEAR)` column
 * of the sheet whose header has `Week number`, where YEAR is the edition.
 */
function expectedTotals(file: string): { edition: number; totals: Array<[number, number | null]> } {
  const workbook = XLSX.read(readFileSync(file), { dense: true });
  const grids = workbook.SheetNames.map((name) => ({ name, grid: XLSX.utils.sheet_to_json<unknown[]>(workbook.Sheets[name]!, { header: 1, defval: null }) }));
  const text = (cell: unknown): string => String(cell ?? '').replace(/\s+/g, ' ').trim();
  const old = grids.find(({ name }) => /^weekly figures \d{4}$/i.test(name.trim()));
  if (old) {
    const weekRow = old.grid.find((row) => text(row[0]) === 'Week number')!;
    const totalRow = old.grid.find((row) => text(row[0]) === 'Total deaths, all ages')!;
    const totals: Array<[number, number | null]> = [];
    weekRow.forEach((week, column) => {
      if (typeof week === 'number') totals.push([week, typeof totalRow[column] === 'number' ? (totalRow[column] as number) : null]);
    });
    return { edition: Number(/\d{4}/.exec(old.name)![0]), totals };
  }
  for (const { grid } of grids) {
    const header = grid.findIndex((row) => text(row[0]) === 'Week number');
    if (header === -1) continue;
    const firstWeekEnded = grid[header + 1]![1];
    const edition = firstWeekEnded instanceof Date ? firstWeekEnded.getUTCFullYear() : XLSX.SSF.parse_date_code(firstWeekEnded as number).y;
    const column = grid[header]!.findIndex((cell) => new RegExp(`^Total deaths,? England and Wales,? \\(${edition}\\)`).test(text(cell)));
    if (column === -1) continue;
    const rows = grid.slice(header + 1).filter((row) => typeof row[0] === 'number');
    return { edition, totals: rows.map((row) => [row[0] as number, typeof row[column] === 'number' ? (row[column] as number) : null]) };
  }
  throw new Error(`${file}: no weekly table found by the test's own rules`);
}

const weeklyDir = sharedFile('ons-weekly');
const files = hasSharedData ? readdirSync(weeklyDir).filter((name) => /\.xlsx?$/i.test(name)).sort() : [];

describe.skipIf(!hasSharedData)(`real ONS weekly workbooks in ${sharedDataDir}/ons-weekly, through the CLI`, () => {
  let work: string;
  let parquet: ParquetContents;
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'etl-weekly-shared-'));
    // One run over the whole folder, as a user transforms downloaded editions.
    const out = path.join(work, 'weekly.parquet');
    const result = await runCli(['transform', 'ons', 'weekly-deaths', '--input', weeklyDir, '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/not in the declaration|warn/);
    parquet = await readParquet(out);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('finds every edition there is; counts are INT64, averages DOUBLE', () => {
    expect(files.length).toBeGreaterThanOrEqual(4);
    expect(new Set(parquet.rows.map((r) => r.source_file))).toEqual(new Set(files));
    expect(parquet.columns.find((c) => c.name === 'deaths')).toMatchObject({ type: 'INT64' });
    expect(parquet.columns.find((c) => c.name === 'deaths_average')).toMatchObject({ type: 'DOUBLE' });
  });

  it.each(files)('%s: all-ages England and Wales deaths equal the workbook for every week; sex and age from the vocabularies; male + female = all', (name) => {
    const rows = parquet.rows.filter((r) => r.source_file === name);

    const { edition, totals } = expectedTotals(path.join(weeklyDir, name));
    const isTotal = (r: Record<string, unknown>): boolean => r.measure === 'deaths' && r.sex === 'all' && r.age_band === null && r.area_name === 'England and Wales';
    expect(rows.filter(isTotal).map((r) => [r.week_number, r.deaths === null ? null : Number(r.deaths)])).toEqual(totals);
    // Exactly one all-ages England and Wales row for every week the workbook prints.
    const weeks = new Set(rows.map((r) => r.week_number));
    expect([...weeks].map((week) => rows.filter((r) => r.week_number === week && isTotal(r)).length)).toEqual([...weeks].map(() => 1));
    expect(new Set(rows.map((r) => r.edition))).toEqual(new Set([edition]));

    // Every row of an age table: sex and age band from the declared vocabularies.
    const bands = new Set(weeklyDeaths.rowRules!.labels!.vocabularies.age_band!.map((entry) => entry.value));
    const byAge = rows.filter((r) => /age group/i.test(String(r.label_as_printed)));
    expect(byAge.length).toBeGreaterThan(0);
    for (const r of byAge) {
      expect(['all', 'male', 'female']).toContain(r.sex);
      expect(bands).toContain(r.age_band);
    }
    expect(rows.filter((r) => r.measure === null)).toEqual([]);

    // Where a week and band are printed for all three sexes, male + female = all. (All ages is printed by
    // sex only from 2022; before, the all-ages total counts deaths whose age is not stated, so it is not compared.)
    const counts = new Map(rows.filter((r) => r.measure === 'deaths' && r.area_name === 'England and Wales' && r.deaths !== null).map((r) => [`${r.week_number} ${r.age_band} ${r.sex}`, Number(r.deaths)]));
    let compared = 0;
    for (const [key, all] of counts) {
      if (!key.endsWith(' all')) continue;
      const male = counts.get(key.replace(/ all$/, ' male'));
      const female = counts.get(key.replace(/ all$/, ' female'));
      if (male === undefined || female === undefined) continue;
      expect(male + female, `${name} week/band ${key}`).toBe(all);
      compared++;
    }
    expect(compared).toBeGreaterThan(0);

    // One row per week and dimension.
    const keys = rows.map((r) => [r.week_number, r.measure, r.sex, r.age_band, r.area_name].join('|'));
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('weekly warnings through the CLI', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'etl-weekly-warn-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('a placeholder week 53 and an unknown label: exit 0, each said once on stderr with its cell, the label kept', async () => {
    const input = path.join(work, 'publishedweek522021.xls');
    await writeWorkbook(input, weeklyFiguresSheets({ year: 2021, placeholderWeek: { weekEnded: 2020, comparisonFigure: true }, unknownLabel: 'Deaths at sea' }));
    const out = path.join(work, 'weekly.parquet');
    const result = await runCli(['transform', 'ons', 'weekly-deaths', '--input', input, input, '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    const warnings = result.stderr.split('\n').filter((line) => line.includes('warn'));
    expect(warnings).toEqual([
      'warn: publishedweek522021.xls, sheet "Weekly figures 2021", cell BB5: column "53 7" is not a period of this edition (week_ended "2020" is not a date); left out',
      'warn: publishedweek522021.xls, sheet "Weekly figures 2021", cell A14: label "Deaths by underlying cause / Deaths at sea" is not in the declaration; kept with measure, sex, age_band, area_code, area_name left null',
    ]);
    const { rows } = await readParquet(out);
    expect(rows.filter((r) => r.label_as_printed === 'Deaths by underlying cause / Deaths at sea' && r.measure === null)).toHaveLength(52 * 2);
    expect(rows.filter((r) => r.week_number === 53)).toEqual([]);
  });

  it('a 2021 edition printing 2020 beside it: one total per week; the comparison row left out, said once for two releases', async () => {
    const week4 = path.join(work, 'publishedweek042021.xlsx');
    const week52 = path.join(work, 'publishedweek522021.xlsx');
    await writeWorkbook(week4, weeklyFiguresSheets({ year: 2021, headerRow: 5, labelColumns: 2, publishedWeeks: 4, comparisonYear: true }));
    await writeWorkbook(week52, weeklyFiguresSheets({ year: 2021, headerRow: 5, labelColumns: 2, comparisonYear: true, placeholderWeek: { weekEnded: 2020, comparisonFigure: true } }));
    const out = path.join(work, 'weekly-2021.parquet');
    const result = await runCli(['transform', 'ons', 'weekly-deaths', '--input', week4, week52, '--out', out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr.split('\n').filter((line) => line.includes('for comparison'))).toEqual([
      'warn: publishedweek042021.xlsx, sheet "Weekly figures 2021", cell A10: label "Total deaths, all ages (2020)" names a year other than the edition (2021): figures printed for comparison; left out',
    ]);
    const { rows } = await readParquet(out);
    for (const file of ['publishedweek042021.xlsx', 'publishedweek522021.xlsx']) {
      const totals = rows.filter((r) => r.source_file === file && isWeeklyTotal(r));
      expect(totals.map((r) => r.week_number), file).toEqual(Array.from({ length: 52 }, (_, i) => i + 1));
    }
    expect(rows.filter((r) => String(r.label_as_printed).includes('(2020)'))).toEqual([]);
  });
});
