import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as XLSX from '@e965/xlsx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../src/core/errors.js';
import type { Row } from '../../src/core/table.js';
import type { PeriodsAcrossLayout, WorkbookDataset } from '../../src/transform/layout/dataset.js';
import { weeklyDeaths } from '../../src/transform/datasets/weekly-deaths.js';
import { detectTableLayout, readWorkbookTable } from '../../src/transform/layout/read-workbook-table.js';
import { createRunReport } from '../../src/transform/layout/row-rules.js';
import { REGIONS, accessibleSheets, bandDeaths, comparisonTotal, isWeeklyTotal, weekEndedDate, weeklyFiguresSheets, weeklyTotal, type WeeklyFiguresShape } from '../fixtures/ons/weekly-workbook.js';
import { hasSharedData, sharedFile } from '../helpers/shared-data.js';
import { readRows } from '../helpers/workbook-rows.js';
import { writeWorkbook, type FixtureSheet } from '../helpers/workbook-writer.js';

const TOTAL = 'Total deaths, all ages';
const ENGLAND_AND_WALES = 'England and Wales';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-weekly-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const collect = (file: string, dataset: WorkbookDataset = weeklyDeaths): Promise<Row[]> => readRows({ file }, dataset);

async function workbook(name: string, sheets: FixtureSheet[]): Promise<string> {
  const file = path.join(dir, name);
  await writeWorkbook(file, sheets);
  return file;
}

/** The edition's own all-ages England and Wales figure for each week, in week order. */
function totals(rows: readonly Row[]): Array<[number, number | null]> {
  return rows.filter(isWeeklyTotal).map((r) => [r.week_number as number, r.deaths as number | null]);
}

/** Every row of an age or sex table has both from the vocabularies; `male + female = all` for each week and band printed for all three. */
function checkSexAndAge(rows: readonly Row[]): number {
  const bands = new Set(weeklyDeaths.rowRules!.labels!.vocabularies.age_band!.map((entry) => entry.value));
  const byAge = rows.filter((r) => /age group/i.test(String(r.label_as_printed)));
  expect(byAge.length).toBeGreaterThan(0);
  for (const row of byAge) {
    expect(['all', 'male', 'female'], String(row.label_as_printed)).toContain(row.sex);
    expect(bands, String(row.label_as_printed)).toContain(row.age_band);
  }
  const counts = rows.filter((r) => r.measure === 'deaths' && r.area_name === ENGLAND_AND_WALES);
  const figure = new Map(counts.map((r) => [`${String(r.week_number)} ${String(r.age_band)} ${String(r.sex)}`, r.deaths as number | null]));
  let checked = 0;
  for (const [key, all] of figure) {
    if (!key.endsWith(' all')) continue;
    const [male, female] = ['male', 'female'].map((sex) => figure.get(key.replace(/ all$/, ` ${sex}`)));
    if (typeof all !== 'number' || typeof male !== 'number' || typeof female !== 'number') continue;
    expect(male + female, key).toBe(all);
    checked++;
  }
  return checked;
}

const isoDay = (value: unknown): string => (value as Date).toISOString().slice(0, 10);

/**
 * Read straight from the workbook with SheetJS, not through the engine: the `Week number` row and the
 * `Total deaths, all ages` row of the `Weekly figures YYYY` sheet, cell by cell.
 */
function totalsInWorkbook(file: string): Array<[number, number | null]> {
  const workbook = XLSX.read(readFileSync(file), { dense: true });
  const sheet = workbook.Sheets[workbook.SheetNames.find((name) => /^weekly figures \d{4}$/i.test(name.trim()))!]!;
  const grid = XLSX.utils.sheet_to_json<unknown[]>(sheet, { header: 1, defval: null });
  const weekRow = grid.find((row) => row[0] === 'Week number')!;
  const totalRow = grid.find((row) => row[0] === TOTAL)!;
  const expected: Array<[number, number | null]> = [];
  weekRow.forEach((week, column) => {
    if (typeof week === 'number') expected.push([week, typeof totalRow[column] === 'number' ? (totalRow[column] as number) : null]);
  });
  return expected;
}

describe.skipIf(!hasSharedData)('weekly deaths over the real workbooks in ../shared/data/ons-weekly', () => {
  const editions = [
    { file: '2014Mortality.xls', edition: 2014, sheet: 'Weekly Figures 2014', headerRow: 3, weeks: 52, published: 52, rows: 1820, lastWeekEnded: '2014-12-26' },
    { file: '2019Mortality.xls', edition: 2019, sheet: 'Weekly figures 2019', headerRow: 4, weeks: 52, published: 52, rows: 1768, lastWeekEnded: '2019-12-27' },
    // The week-15 release: the header lists 53 weeks, figures fill weeks 1-14; COVID-19 sheets sit beside the main one.
    { file: '2020Mortality.xlsx', edition: 2020, sheet: 'Weekly figures 2020', headerRow: 5, weeks: 53, published: 14, rows: 3922, lastWeekEnded: '2021-01-01' },
  ];

  it.each(editions)('$file: every week has the workbook’s all-ages England and Wales total', async ({ file, edition, weeks, published, rows: rowCount, lastWeekEnded }) => {
    const workbookPath = sharedFile('ons-weekly', file);
    const rows = await collect(workbookPath);
    const expected = totalsInWorkbook(workbookPath);
    expect(expected).toHaveLength(weeks);
    expect(expected.filter(([, value]) => value !== null)).toHaveLength(published);
    expect(totals(rows)).toEqual(expected);
    expect(rows).toHaveLength(rowCount);
    expect(new Set(rows.map((r) => r.edition))).toEqual(new Set([edition]));
    expect(rows.filter((r) => r.measure === null)).toEqual([]);
    expect(checkSexAndAge(rows)).toBeGreaterThan(0);
    const weekEnded = rows.filter(isWeeklyTotal).map((r) => r.week_ended as Date);
    expect(weekEnded.every((date, i) => date.getUTCDay() === 5 && (i === 0 || date.getTime() - weekEnded[i - 1]!.getTime() === 7 * 86_400_000))).toBe(true);
    expect(isoDay(weekEnded.at(-1))).toBe(lastWeekEnded);
  });

  it.each(editions)('$file: finds the main sheet and its header whatever sits beside it', async ({ file, sheet, headerRow, edition, weeks }) => {
    const layout = await detectTableLayout({ file: sharedFile('ons-weekly', file) }, weeklyDeaths);
    expect(layout).toMatchObject({ layout: 'weeks across (2010-2021)', sheet, headerRow, edition, periodAxis: 'columns' });
    expect(layout.periodColumns).toHaveLength(weeks);
    expect(layout.rejected).toEqual([{ layout: 'weeks down (2022 on)', failed: 'no sheet name matches /^\\s*1\\s*$/i' }]);
  });

  it('2019: headings, wrapped labels and regions become canonical dimensions', async () => {
    const rows = await collect(sharedFile('ons-weekly', '2019Mortality.xls'));
    const week1 = rows.filter((r) => r.week_number === 1);
    expect(week1.map((r) => [r.label_as_printed, r.measure, r.sex, r.age_band, r.area_name]).slice(0, 5)).toEqual([
      [TOTAL, 'deaths', 'all', null, ENGLAND_AND_WALES],
      ['Total deaths: average of corresponding week over the previous 5 years', 'deaths_5y_average', 'all', null, ENGLAND_AND_WALES],
      ['Deaths by underlying cause / All respiratory diseases (ICD-10 J00-J99) ICD-10 v 2013 (IRIS)', 'deaths_respiratory', 'all', null, ENGLAND_AND_WALES],
      ['Deaths by age group, Persons / Under 1 year', 'deaths', 'all', '<1', ENGLAND_AND_WALES],
      ['Deaths by age group, Persons / 01-14', 'deaths', 'all', '1-14', ENGLAND_AND_WALES],
    ]);
    const regions = week1.filter((r) => /region/i.test(String(r.label_as_printed)));
    expect(regions.map((r) => r.area_name)).toEqual(['North East', 'North West', 'Yorkshire and The Humber', 'East Midlands', 'West Midlands', 'East of England', 'London', 'South East', 'South West', 'Wales']);
    expect(regions.map((r) => r.area_code)).toEqual([...Array.from({ length: 9 }, (_, i) => `E1200000${i + 1}`), 'W92000004']);
    expect(regions[0]).toMatchObject({ measure: 'deaths', sex: 'all', age_band: null, deaths: 574 });
    expect(week1.find((r) => r.measure === 'deaths_5y_average')).toMatchObject({ deaths: null, deaths_average: 12273 });
  });
});

describe.skipIf(!hasSharedData)('weekly deaths over the real 2023 accessible-layout workbook', () => {
  const file = sharedFile('ons-weekly', 'publicationfileweek032023.xlsx');
  const grid = (sheet: string): unknown[][] => XLSX.utils.sheet_to_json<unknown[]>(XLSX.read(readFileSync(file)).Sheets[sheet]!, { header: 1, defval: null });

  it('every week’s all-ages England and Wales total equals sheet 1; sheets 2 and 12a give sex, age and regions', async () => {
    const rows = await collect(file);
    const sheet1 = grid('1');
    const header = sheet1.findIndex((row) => row[0] === 'Week number');
    const own = sheet1[header]!.findIndex((cell) => cell === 'Total deaths England and Wales (2023)');
    const expected = sheet1.slice(header + 1).filter((row) => typeof row[0] === 'number').map((row) => [row[0], row[own]]);
    expect(expected).toHaveLength(3);
    expect(totals(rows)).toEqual(expected);
    expect(rows.filter((r) => r.measure === null)).toEqual([]);
    // People, males and females by 20 age bands and all ages: male + female = all for every band and week.
    expect(checkSexAndAge(rows)).toBe(3 * 21);
    expect(new Set(rows.filter((r) => r.area_code?.toString().startsWith('E12')).map((r) => r.area_name)).size).toBe(9);
    expect(rows.find((r) => r.week_number === 1 && r.area_name === 'North East' && r.measure === 'deaths')?.deaths).toBe(788);
    expect(rows.find((r) => r.week_number === 1 && r.area_name === 'North East' && r.measure === 'deaths_covid19')?.deaths).toBe(37);
    expect(rows.find((r) => r.week_number === 1 && r.measure === 'deaths_5y_average' && r.area_name === ENGLAND_AND_WALES)?.deaths_average).toBe(13136);
    // Sheet 2's all-ages people column repeats sheet 1's total: kept once.
    const keys = rows.map((r) => [r.week_number, r.measure, r.sex, r.age_band, r.area_name].join('|'));
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('weekly deaths, weeks across (2010-2021), over generated workbooks', () => {
  const shapes: Array<{ name: string; extension: 'xls' | 'xlsx'; shape: WeeklyFiguresShape }> = [
    { name: '2011: text week-ended dates (7-Jan-11), header at row 4', extension: 'xls', shape: { year: 2011, weekEnded: (date) => `${date.getUTCDate()}-${date.toUTCString().slice(8, 11)}-11` } },
    { name: '2014: header one row higher (row 3)', extension: 'xls', shape: { year: 2014, headerRow: 3 } },
    { name: '2015: 53 weeks, last header "53 7" (week 53, footnote 7)', extension: 'xls', shape: { year: 2015, weeks: 53, weekLabel: (week) => (week === 53 ? '53 7' : week) } },
    { name: '2016: second label column, GSS codes on regions', extension: 'xls', shape: { year: 2016, labelColumns: 2 } },
    { name: '2020: .xlsx, header at row 5, figures on the wrapped label’s second line, COVID sheets', extension: 'xlsx', shape: { year: 2020, headerRow: 5, labelColumns: 2, weeks: 53, wrappedFiguresOn: 'second', covidSheets: true } },
    { name: '2021: week 4 release, later weeks not yet reported (:)', extension: 'xlsx', shape: { year: 2021, headerRow: 5, labelColumns: 2, publishedWeeks: 4 } },
    { name: 'sheet renamed within the pattern ("Weekly Figures 2017 ")', extension: 'xls', shape: { year: 2017, sheetName: 'Weekly Figures 2017 ' } },
    { name: 'header moved down a row (row 6)', extension: 'xlsx', shape: { year: 2018, headerRow: 6 } },
  ];

  it.each(shapes)('$name', async ({ extension, shape }) => {
    const file = await workbook(`weekly-${shape.year}-${shape.headerRow ?? 4}.${extension}`, weeklyFiguresSheets(shape));
    const rows = await collect(file);
    const weeks = shape.weeks ?? 52;
    const published = shape.publishedWeeks ?? weeks;
    expect(totals(rows)).toEqual(Array.from({ length: weeks }, (_, i) => [i + 1, i < published ? weeklyTotal(shape.year, i + 1) : null]));
    expect(rows.filter((r) => r.week_number === weeks).map((r) => isoDay(r.week_ended))).toContain(isoDay(weekEndedDate(shape.year, weeks)));

    const dimensions = [...new Set(rows.map((r) => `${r.measure} | ${r.sex} | ${r.age_band} | ${r.area_code} ${r.area_name}`))];
    expect(dimensions.slice(0, 4)).toEqual([
      `deaths | all | null | K04000001 ${ENGLAND_AND_WALES}`,
      `deaths_5y_average | all | null | K04000001 ${ENGLAND_AND_WALES}`,
      `deaths_respiratory | all | null | K04000001 ${ENGLAND_AND_WALES}`,
      `deaths | all | <1 | K04000001 ${ENGLAND_AND_WALES}`,
    ]);
    expect(dimensions).toContain(`deaths | female | 85+ | K04000001 ${ENGLAND_AND_WALES}`);
    expect(dimensions.slice(-REGIONS.length)).toEqual(REGIONS.map((r) => `deaths | all | null | ${r.code} ${r.name === 'East' ? 'East of England' : r.name}`));
    expect(rows.find((r) => r.measure === 'deaths_5y_average')?.label_as_printed).toBe(`Total deaths: average of corresponding week over the previous ${shape.wrappedFiguresOn === 'second' ? '5' : 'five'} years`);
    expect(rows.filter((r) => r.measure === null)).toEqual([]);
    expect(rows).toHaveLength(dimensions.length * weeks);
  });
});

/** Rows and warnings of a workbook read twice with one report, as a run over several releases does: each warning is said once. */
async function readReported(file: string): Promise<{ rows: Row[]; warnings: string[] }> {
  const warnings: string[] = [];
  const report = createRunReport((message) => warnings.push(message));
  const rows: Row[] = [];
  for (let pass = 0; pass < 2; pass++) {
    rows.length = 0;
    for await (const row of readWorkbookTable({ file }, weeklyDeaths, { report })) rows.push(row);
  }
  return { rows, warnings };
}

/** (week, measure, sex, age band, area): one row each. */
function expectOneRowPerDimension(rows: readonly Row[]): void {
  const keys = rows.map((r) => [r.week_number, r.measure, r.sex, r.age_band, r.area_name].join('|'));
  expect(keys.filter((key, i) => keys.indexOf(key) !== i)).toEqual([]);
}

describe('weekly deaths: placeholder weeks and labels the declaration does not know', () => {
  it.each([
    { name: 'a year as the week-ended note, figures in the comparison row', extension: 'xls', weekEnded: 2020, comparisonFigure: true },
    { name: 'text note, no figures at all', extension: 'xlsx', weekEnded: '2020', comparisonFigure: false },
  ] as const)('a 53rd column in a 52-week year ($name) is left out with one warning naming the cell', async ({ extension, weekEnded, comparisonFigure }) => {
    const file = await workbook(`placeholder-${String(comparisonFigure)}.${extension}`, weeklyFiguresSheets({ year: 2021, weekLabel: (week) => week, placeholderWeek: { weekEnded, comparisonFigure } }));
    const { rows, warnings } = await readReported(file);
    expect(totals(rows)).toEqual(Array.from({ length: 52 }, (_, i) => [i + 1, weeklyTotal(2021, i + 1)]));
    expect(rows.filter((r) => r.week_number === 53)).toEqual([]);
    expect(warnings).toEqual([`placeholder-${String(comparisonFigure)}.${extension}, sheet "Weekly figures 2021", cell BB5: column "53 7" is not a period of this edition (week_ended "2020" is not a date); left out`]);
  });

  it('an unreadable week-ended cell inside the run of weeks still fails', async () => {
    const file = await workbook('placeholder-inside.xls', weeklyFiguresSheets({ year: 2021, weekEnded: (date) => (date.getUTCMonth() === 5 && date.getUTCDate() <= 7 ? '2020' : date), placeholderWeek: { weekEnded: 2020, comparisonFigure: true } }));
    await expect(collect(file)).rejects.toThrow(/placeholder-inside\.xls, sheet "Weekly figures 2021", cell W5: "2020" is not a date like "7-Jan-11" \(week_ended below header "22"\)/);
  });

  it('an unknown label is kept with null canonical fields and reported once with its cell', async () => {
    const file = await workbook('unknown-label.xls', weeklyFiguresSheets({ year: 2019, unknownLabel: 'Deaths at sea 8' }));
    const { rows, warnings } = await readReported(file);
    const unknown = rows.filter((r) => r.measure === null);
    expect(unknown).toHaveLength(52);
    expect(unknown[0]).toMatchObject({ label_as_printed: 'Deaths by underlying cause / Deaths at sea', sex: null, age_band: null, area_code: null, area_name: null, deaths: 8 });
    expect(warnings).toEqual(['unknown-label.xls, sheet "Weekly figures 2019", cell A14: label "Deaths by underlying cause / Deaths at sea" is not in the declaration; kept with measure, sex, age_band, area_code, area_name left null']);
    expect(totals(rows)).toHaveLength(52);
  });
});

describe('weekly deaths: figures of another year printed for comparison are never the edition’s', () => {
  const comparisonLabel = (year: number) => `Total deaths, all ages (${year - 1})`;

  it.each([
    { name: '.xlsx, GSS codes column, header at row 5, a placeholder week 53 holding last year’s week 53', extension: 'xlsx', shape: { year: 2021, headerRow: 5, labelColumns: 2, placeholderWeek: { weekEnded: 2020, comparisonFigure: true } } },
    { name: '.xls, labels in column A, a partial year', extension: 'xls', shape: { year: 2022, publishedWeeks: 6 } },
  ] as const)('a 2021-style edition ($name): one all-ages total per week, the previous year’s row left out with one warning', async ({ extension, shape }) => {
    const file = await workbook(`comparison-${shape.year}.${extension}`, weeklyFiguresSheets({ ...shape, comparisonYear: true }));
    const { rows, warnings } = await readReported(file);
    const published = ('publishedWeeks' in shape ? shape.publishedWeeks : undefined) ?? 52;
    expect(totals(rows)).toEqual(Array.from({ length: 52 }, (_, i) => [i + 1, i < published ? weeklyTotal(shape.year, i + 1) : null]));
    expect(rows.filter((r) => String(r.label_as_printed).includes(`(${shape.year - 1})`))).toEqual([]);
    expect(rows.filter((r) => typeof r.deaths === 'number' && r.deaths >= comparisonTotal(1) && r.deaths <= comparisonTotal(53))).toEqual([]);
    const cell = `A${(shape.headerRow ?? 4) + 5}`;
    expect(warnings.filter((w) => !w.includes('placeholder') && !w.includes('is not a period'))).toEqual([
      `comparison-${shape.year}.${extension}, sheet "Weekly figures ${shape.year}", cell ${cell}: label "${comparisonLabel(shape.year)}" names a year other than the edition (${shape.year}): figures printed for comparison; left out`,
    ]);
    // The averages name a range of years, not one: kept, one per area; `People` are all persons.
    const averages = rows.filter((r) => r.measure === 'deaths_5y_average' && r.week_number === 1);
    expect(averages.map((r) => [r.area_name, r.deaths_average])).toEqual([
      ['England and Wales', weeklyTotal(shape.year, 1) + 0.4],
      ['England', weeklyTotal(shape.year, 1) - 599.6],
      ['Wales', weeklyTotal(shape.year, 1) - 9_399.6],
    ]);
    const people = rows.filter((r) => String(r.label_as_printed).startsWith('Deaths by age group, People'));
    expect(people.length).toBeGreaterThan(0);
    expect(people.every((r) => r.sex === 'all')).toBe(true);
    expect(rows.filter((r) => r.measure === null)).toEqual([]);
    expectOneRowPerDimension(rows);
  });

  it('a heading naming another year leaves out the rows under it; the edition’s own year and ranges are kept', async () => {
    const sheets = weeklyFiguresSheets({ year: 2021, comparisonYear: true });
    const table = sheets.find((sheet) => sheet.name === 'Weekly figures 2021')!;
    const heading = table.rows.findIndex((row) => String(row[0]).startsWith('Deaths by Region'));
    table.rows[heading] = ['Deaths by Region of usual residence (2020) 6'];
    const { rows, warnings } = await readReported(await workbook('comparison-regions.xls', sheets));
    expect(rows.filter((r) => String(r.area_code).startsWith('E12'))).toEqual([]);
    expect(warnings).toContain(`comparison-regions.xls, sheet "Weekly figures 2021", cell A${heading + 2}: label "Deaths by Region of usual residence (2020) / North East" names a year other than the edition (2021): figures printed for comparison; left out`);
    expect(totals(rows)).toHaveLength(52);
  });

  it('the accessible layout: a companion column naming the previous year is left out too', async () => {
    const sheets = accessibleSheets({ year: 2023, weeks: 2 });
    // Both tables of the sheet by region print last year's London beside this year's regions.
    const regions = sheets.find((sheet) => sheet.name === '12a')!;
    for (const row of regions.rows) if (row[0] === 'Week number') row.push('London (2022)');
    for (const row of regions.rows) if (typeof row[0] === 'number') row.push(comparisonTotal(row[0]));
    const { rows, warnings } = await readReported(await workbook('accessible-comparison.xlsx', sheets));
    expect(rows.filter((r) => r.deaths === comparisonTotal(1) || r.deaths === comparisonTotal(2))).toEqual([]);
    expect(warnings).toHaveLength(2);
    for (const [i, table] of ['12a1', '12a2'].entries()) {
      expect(warnings[i]).toMatch(new RegExp(`^accessible-comparison\\.xlsx, sheet "12a", cell F\\d+: label "Table ${table}: .* / London \\(2022\\)" names a year other than the edition \\(2023\\): figures printed for comparison; left out$`));
    }
    expect(rows.filter((r) => r.area_name === 'London' && r.measure === 'deaths').map((r) => r.deaths)).toEqual([1001, 1002]);
    expectOneRowPerDimension(rows);
  });
});

describe('weekly deaths, weeks down (2022 on), over generated workbooks', () => {
  it.each([
    { name: 'header at row 6, [note n] markers in headers', headerRow: 6, weeks: 52 },
    { name: 'header moved down a row, a partial year', headerRow: 7, weeks: 9 },
  ])('$name: the edition’s own columns become canonical rows, the comparison year is left out; sheets by age and region are read too', async ({ headerRow, weeks }) => {
    const file = await workbook(`accessible-${headerRow}.xlsx`, accessibleSheets({ year: 2022, headerRow, weeks }));
    const rows = await collect(file);
    expect(totals(rows)).toEqual(Array.from({ length: weeks }, (_, i) => [i + 1, weeklyTotal(2022, i + 1)]));
    expect(rows.filter((r) => r.deaths === comparisonTotal(1))).toEqual([]);
    const sheet1 = rows.filter((r) => !String(r.label_as_printed).startsWith('Table'));
    expect(new Set(sheet1.map((r) => `${r.measure} | ${r.sex} | ${r.age_band} | ${r.area_name}`))).toEqual(
      new Set([`deaths | all | null | ${ENGLAND_AND_WALES}`, 'deaths | all | null | England', 'deaths | all | null | Wales', `deaths_5y_average | all | null | ${ENGLAND_AND_WALES}`]),
    );
    expect(rows.find((r) => r.area_name === 'Wales' && r.week_number === 1 && r.measure === 'deaths')?.deaths).toBeNull(); // [x]
    expect(rows.find((r) => r.measure === 'deaths_5y_average' && r.week_number === 1)).toMatchObject({ deaths: null, deaths_average: weeklyTotal(2022, 1) + 0.4 });
    expect(rows.every((r) => r.edition === 2022 && r.measure !== null)).toBe(true);
    expect(isoDay(rows[0]!.week_ended)).toBe('2022-01-07');
    // 7 bands and all ages, male + female = all, every week; the people all-ages column repeats sheet 1's total and is kept once.
    expect(checkSexAndAge(rows)).toBe(8 * weeks);
    expect(rows.filter((r) => r.age_band === '1-14' && r.sex === 'male' && r.week_number === 2).map((r) => r.deaths)).toEqual([bandDeaths(2, 1, 'male')]);
    const regions = rows.filter((r) => String(r.area_code).startsWith('E12') && r.week_number === 1);
    expect(regions.map((r) => `${r.measure} ${r.area_name} ${r.deaths}`)).toEqual(['deaths North East 501', 'deaths London 1001', 'deaths_covid19 North East 21', 'deaths_covid19 London 41']);
    const keys = rows.map((r) => [r.week_number, r.measure, r.sex, r.age_band, r.area_name].join('|'));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('a companion sheet that does not read as declared is left out whole, with a warning; the main table and other sheets stay', async () => {
    const file = await workbook('accessible-broken-ages.xlsx', accessibleSheets({ year: 2022, weeks: 3, brokenAgeSheet: true }));
    const warnings: string[] = [];
    const rows: Row[] = [];
    for await (const row of readWorkbookTable({ file }, weeklyDeaths, { report: createRunReport((message) => warnings.push(message)) })) rows.push(row);
    expect(totals(rows)).toEqual([1, 2, 3].map((week) => [week, weeklyTotal(2022, week)]));
    expect(rows.filter((r) => r.age_band !== null || r.sex !== 'all')).toEqual([]);
    expect(rows.filter((r) => r.area_name === 'London' && r.measure === 'deaths')).toHaveLength(3);
    expect(warnings).toEqual([expect.stringMatching(/^accessible-broken-ages\.xlsx, sheet "2" \("weeks down, by sex and age group"\) left out: .*cell A\d+: "tbc" is not a week number/)]);
  });

  it('finds the sheets by age and region by their headers, whatever their numbers', async () => {
    const file = await workbook('accessible-renumbered.xlsx', accessibleSheets({ year: 2024, weeks: 2, companionSheetNames: ['4', '11'] }));
    const rows = await collect(file);
    expect(checkSexAndAge(rows)).toBe(8 * 2);
    expect(rows.filter((r) => r.area_name === 'London' && r.measure === 'deaths').map((r) => r.deaths)).toEqual([1001, 1002]);
  });

  it('inspect shows the value columns taken and the layout that did not match', async () => {
    const file = await workbook('accessible-inspect.xlsx', accessibleSheets({ year: 2023 }));
    const layout = await detectTableLayout({ file }, weeklyDeaths);
    expect(layout).toMatchObject({ layout: 'weeks down (2022 on)', sheet: '1', headerRow: 6, edition: 2023, periodAxis: 'rows', idColumns: ['A', 'B'] });
    expect(layout.valueColumns[0]).toEqual({ cell: 'C6', label: 'Total deaths, England and Wales (2023)', fields: { label: 'Total deaths, England and Wales (2023)' } });
    expect(layout.valueColumns.map((v) => v.cell)).toEqual(['C6', 'F6', 'G6', 'E6']);
    expect(layout.rejected).toEqual([{ layout: 'weeks across (2010-2021)', failed: 'no sheet name matches /^\\s*Weekly figures \\d{4}\\s*$/i' }]);
  });
});

describe('weekly deaths failures name the rule, file, sheet and cell', () => {
  const cases: Array<{ name: string; file: string; sheets: () => FixtureSheet[]; dataset?: WorkbookDataset; error: RegExp }> = [
    {
      name: 'no sheet matches any layout',
      file: 'renamed.xlsx',
      sheets: () => weeklyFiguresSheets({ year: 2019, sheetName: 'Deaths 2019' }),
      error: /renamed\.xlsx: no layout of weekly-deaths matches: layout "weeks across \(2010-2021\)": no sheet name matches .*; layout "weeks down \(2022 on\)": no sheet name matches .*\(sheets: "Contents", "Information", "Deaths 2019", "Related publications"\)/,
    },
    {
      name: 'the sheet is there but its header moved beyond header.searchRows',
      file: 'deep-header.xls',
      sheets: () => weeklyFiguresSheets({ year: 2019, headerRow: 25 }),
      error: /layout "weeks across \(2010-2021\)": sheet "Weekly figures 2019": no header row labelled \/\^Week number\/i with at least 1 week number \(like "53"\) in rows 1-20/,
    },
    {
      name: 'the edition’s own total column is missing (only the comparison year is printed)',
      file: 'no-own-total.xlsx',
      sheets: () => accessibleSheets({ year: 2022, totalHeader: 'Total deaths (provisional)' }),
      error: /no-own-total\.xlsx, sheet "1", row 6: no column header matches \/\^Total deaths,\? England and Wales,\? \\\(2022\\\)\/i/,
    },
    {
      name: 'a week-ended cell that is not a date',
      file: 'bad-date.xls',
      sheets: () => weeklyFiguresSheets({ year: 2019, weekEnded: (date) => (date.getUTCMonth() === 2 && date.getUTCDate() <= 7 ? 'tbc' : date) }),
      error: /bad-date\.xls, sheet "Weekly figures 2019", cell J5: "tbc" is not a date like "7-Jan-11" \(week_ended below header "9"\)/,
    },
    {
      name: 'a broken declaration: the label rule no longer matches the sheet',
      file: 'broken-declaration.xls',
      sheets: () => weeklyFiguresSheets({ year: 2019 }),
      dataset: {
        ...weeklyDeaths,
        layouts: [{ ...(weeklyDeaths.layouts[0] as PeriodsAcrossLayout), periods: [{ field: 'week_number', parse: 'week-number', offset: 0, label: '^Week no\\.' }, weeklyDeaths.layouts[0]!.periods[1]!] as PeriodsAcrossLayout['periods'] }],
      },
      error: /broken-declaration\.xls, sheet "Weekly figures 2019": no header row labelled \/\^Week no\\\.\/i with at least 1 week number/,
    },
  ];
  it.each(cases)('$name', async ({ file: name, sheets, dataset, error }) => {
    const file = await workbook(name, sheets());
    const failure = collect(file, dataset);
    await expect(failure).rejects.toBeInstanceOf(DataError);
    await expect(failure).rejects.toThrow(error);
  });
});
