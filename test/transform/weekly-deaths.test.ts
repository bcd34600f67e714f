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
import { detectTableLayout } from '../../src/transform/layout/read-workbook-table.js';
import { REGIONS, accessibleSheets, comparisonTotal, weekEndedDate, weeklyFiguresSheets, weeklyTotal, type WeeklyFiguresShape } from '../fixtures/ons/weekly-workbook.js';
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
  return rows.filter((r) => r.measure === TOTAL && r.area === ENGLAND_AND_WALES).map((r) => [r.week_number as number, r.value as number | null]);
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
    const weekEnded = rows.filter((r) => r.measure === TOTAL && r.area === ENGLAND_AND_WALES).map((r) => r.week_ended as Date);
    expect(weekEnded.every((date, i) => date.getUTCDay() === 5 && (i === 0 || date.getTime() - weekEnded[i - 1]!.getTime() === 7 * 86_400_000))).toBe(true);
    expect(isoDay(weekEnded.at(-1))).toBe(lastWeekEnded);
  });

  it.each(editions)('$file: finds the main sheet and its header whatever sits beside it', async ({ file, sheet, headerRow, edition, weeks }) => {
    const layout = await detectTableLayout({ file: sharedFile('ons-weekly', file) }, weeklyDeaths);
    expect(layout).toMatchObject({ layout: 'weeks across (2010-2021)', sheet, headerRow, edition, periodAxis: 'columns' });
    expect(layout.periodColumns).toHaveLength(weeks);
    expect(layout.rejected).toEqual([{ layout: 'weeks down (2022 on)', failed: 'no sheet name matches /^\\s*1\\s*$/i' }]);
  });

  it('2019: sections, wrapped labels and regions come out as declared', async () => {
    const rows = await collect(sharedFile('ons-weekly', '2019Mortality.xls'));
    const week1 = rows.filter((r) => r.week_number === 1);
    expect(week1.map((r) => [r.section, r.measure, r.area]).slice(0, 5)).toEqual([
      [null, TOTAL, ENGLAND_AND_WALES],
      [null, 'Total deaths: average of corresponding week over the previous 5 years', ENGLAND_AND_WALES],
      ['Deaths by underlying cause', 'All respiratory diseases (ICD-10 J00-J99) ICD-10 v 2013 (IRIS)', ENGLAND_AND_WALES],
      ['Deaths by age group, Persons', 'Under 1 year', ENGLAND_AND_WALES],
      ['Deaths by age group, Persons', '01-14', ENGLAND_AND_WALES],
    ]);
    const regions = week1.filter((r) => r.section === 'Deaths by region of usual residence');
    expect(regions.map((r) => r.area)).toEqual(['North East', 'North West', 'Yorkshire and The Humber', 'East Midlands', 'West Midlands', 'East', 'London', 'South East', 'South West', 'Wales']);
    expect(new Set(regions.map((r) => r.measure))).toEqual(new Set(['Deaths by region of usual residence']));
    expect(regions[0]!.value).toBe(574);
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

    const measures = [...new Set(rows.map((r) => `${r.section ?? '-'} | ${r.measure} | ${r.area}`))];
    expect(measures.slice(0, 4)).toEqual([
      `- | ${TOTAL} | ${ENGLAND_AND_WALES}`,
      `- | Total deaths: average of corresponding week over the previous ${shape.wrappedFiguresOn === 'second' ? '5' : 'five'} years | ${ENGLAND_AND_WALES}`,
      `Deaths by underlying cause | All respiratory diseases (ICD-10 J00-J99) | ${ENGLAND_AND_WALES}`,
      `Deaths by age group, Persons | <1 | ${ENGLAND_AND_WALES}`,
    ]);
    expect(measures).toContain(`Deaths by age group, Females | 85+ | ${ENGLAND_AND_WALES}`);
    expect(measures.slice(-REGIONS.length)).toEqual(REGIONS.map((r) => `Deaths by Region of usual residence | Deaths by Region of usual residence | ${r.name}`));
    expect(rows).toHaveLength(measures.length * weeks);
  });
});

describe('weekly deaths, weeks down (2022 on), over generated workbooks', () => {
  it.each([
    { name: 'header at row 6, [note n] markers in headers', headerRow: 6, weeks: 52 },
    { name: 'header moved down a row, a partial year', headerRow: 7, weeks: 9 },
  ])('$name: the edition’s own total becomes "Total deaths, all ages", the comparison year is left out', async ({ headerRow, weeks }) => {
    const file = await workbook(`accessible-${headerRow}.xlsx`, accessibleSheets({ year: 2022, headerRow, weeks }));
    const rows = await collect(file);
    expect(totals(rows)).toEqual(Array.from({ length: weeks }, (_, i) => [i + 1, weeklyTotal(2022, i + 1)]));
    expect(rows.filter((r) => r.value === comparisonTotal(1))).toEqual([]);
    expect(new Set(rows.map((r) => `${r.measure} | ${r.area}`))).toEqual(
      new Set([`${TOTAL} | ${ENGLAND_AND_WALES}`, `${TOTAL} | England`, `${TOTAL} | Wales`, `Total deaths: five-year average for the corresponding week | ${ENGLAND_AND_WALES}`]),
    );
    expect(rows.find((r) => r.area === 'Wales' && r.week_number === 1)?.value).toBeNull(); // [x]
    expect(rows.every((r) => r.edition === 2022 && (r.section ?? null) === null)).toBe(true); // no headings in this layout
    expect(isoDay(rows[0]!.week_ended)).toBe('2022-01-07');
  });

  it('inspect shows the value columns taken and the layout that did not match', async () => {
    const file = await workbook('accessible-inspect.xlsx', accessibleSheets({ year: 2023 }));
    const layout = await detectTableLayout({ file }, weeklyDeaths);
    expect(layout).toMatchObject({ layout: 'weeks down (2022 on)', sheet: '1', headerRow: 6, edition: 2023, periodAxis: 'rows', idColumns: ['A', 'B'] });
    expect(layout.valueColumns[0]).toEqual({ cell: 'C6', label: 'Total deaths, England and Wales (2023)', fields: { measure: TOTAL, area: ENGLAND_AND_WALES } });
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
      error: /no-own-total\.xlsx, sheet "1", row 6: no column header matches \/\^Total deaths,\? England and Wales \\\(2022\\\)\/i/,
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
