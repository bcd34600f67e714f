import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import type { Row } from '../../../src/core/table.js';
import { monthlyDeaths } from '../../../src/transform/datasets/monthly-deaths.js';
import { detectTableLayout, readWorkbookTable } from '../../../src/transform/layout/read-workbook-table.js';
import { monthlyAreas, monthlySheets, type MonthlyShape } from '../../fixtures/ons/monthly-workbook.js';
import { writeWorkbook, type FixtureSheet } from '../../helpers/workbook-writer.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'etl-workbook-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(file: string, edition?: number): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const row of readWorkbookTable({ file, edition }, monthlyDeaths)) rows.push(row);
  return rows;
}

async function workbook(name: string, sheets: FixtureSheet[]): Promise<string> {
  const file = path.join(dir, name);
  await writeWorkbook(file, sheets);
  return file;
}

const layouts: Array<{ name: string; shape: MonthlyShape; codes: boolean }> = [
  { name: '2006-2010: names over three level columns, Jan-06', shape: { year: 2006, nameLevels: 3, headerRow: 3 }, codes: true },
  { name: '2011-2014: no code column', shape: { year: 2012, codes: false }, codes: false },
  { name: '2015: trailing space in a label', shape: { year: 2015, label: (m, y) => (m === 'Mar' ? `${m}-${y} ` : `${m}-${y}`) }, codes: true },
  { name: '2019: footnote digit glued to the label (Jan-193)', shape: { year: 2019, label: (m, y) => `${m}-${y}3` }, codes: true },
  { name: 'labels stored as real dates', shape: { year: 2021, label: (m) => new Date(Date.UTC(2021, ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].indexOf(m), 1)) }, codes: true },
  { name: 'header moved to row 7 and sheet without extra sheets', shape: { year: 2023, headerRow: 7, extraSheets: false }, codes: true },
];

describe.each(['xls', 'xlsx'])('readWorkbookTable over .%s', (extension) => {
  it.each(layouts)('$name', async ({ shape, codes }) => {
    const file = await workbook(`layout-${shape.year}-${shape.headerRow ?? 4}.${extension}`, monthlySheets(shape));
    const rows = await collect(file);
    const areas = monthlyAreas(shape.year);
    expect(rows).toHaveLength(areas.length * 12);
    const englandAndWales = rows.filter((r) => r.geo_name === 'ENGLAND AND WALES');
    expect(englandAndWales.map((r) => r.deaths)).toEqual(areas[1]!.deaths);
    expect(englandAndWales.map((r) => (r.period as Date).toISOString().slice(0, 10))).toEqual(
      Array.from({ length: 12 }, (_, m) => `${shape.year}-${String(m + 1).padStart(2, '0')}-01`),
    );
    expect(new Set(rows.map((r) => r.edition))).toEqual(new Set([shape.year]));
    expect(new Set(rows.map((r) => r.source_file))).toEqual(new Set([path.basename(file)]));
    const names = [...new Set(rows.map((r) => r.geo_name))];
    expect(names).toEqual(['ENGLAND, WALES AND ELSEWHERE', 'ENGLAND AND WALES', 'ENGLAND', 'NORTH EAST', 'County Durham', 'WALES', 'Non-residents of England & Wales']);
    // The combined cell `K04000001, J99000001` is split: the first code, then the rest.
    const codesSeen = [...new Set(rows.map((r) => `${r.geo_code} ${r.geo_code_extra}`))];
    expect(codesSeen).toEqual(codes ? areas.map((a) => (a.code.includes(',') ? 'K04000001 J99000001' : `${a.code} null`)) : ['null null']);
    // From the code prefix, the level column or the name, whichever the edition prints.
    expect([...new Set(rows.map((r) => `${r.geo_name}: ${r.geo_level}`))]).toEqual(areas.map((a, i) => `${names[i]}: ${a.geoLevel}`));
    // The name weekly-deaths gives the same area; the printed one stays in geo_name.
    expect([...new Set(rows.map((r) => r.area_name))]).toEqual(areas.map((a) => a.areaName));
  });
});

/** Sums of deaths by geo_level per month, and the rows by (period, geo_level, geo_code, geo_name). */
function levels(rows: readonly Row[]): { sums: Array<Record<string, number>>; keys: string[] } {
  const sums = Array.from({ length: 12 }, () => ({}) as Record<string, number>);
  for (const r of rows) {
    const month = sums[(r.period as Date).getUTCMonth()]!;
    month[r.geo_level as string] = (month[r.geo_level as string] ?? 0) + (r.deaths as number);
  }
  return { sums, keys: rows.map((r) => [(r.period as Date).toISOString(), r.geo_level, r.geo_code, r.geo_name].join('|')) };
}

describe('each geo_level sums to its own meaning', () => {
  it.each([
    { name: 'a combined code cell (K04000001, J99000001)', shape: { year: 2019 } },
    { name: 'no code column: by name', shape: { year: 2012, codes: false } },
    { name: 'names over three level columns', shape: { year: 2008, codes: false, nameLevels: 3 } },
    { name: '2006-2010: TOTAL REGISTRATIONS and England and Wales without a code', shape: { year: 2009, nameLevels: 3, totalRegistrations: true } },
  ])('$name: one total row a month (countries sum to it), the total with non-residents its own level', async ({ shape }) => {
    const rows = await collect(await workbook(`sums-${shape.year}-${String(shape.totalRegistrations ?? false)}.xls`, monthlySheets(shape)));
    const { sums, keys } = levels(rows);
    const areas = monthlyAreas(shape.year);
    for (const [month, sum] of sums.entries()) {
      expect(rows.filter((r) => (r.period as Date).getUTCMonth() === month && r.geo_level === 'total')).toHaveLength(1);
      expect(sum.total, `month ${month + 1}`).toBe(areas[1]!.deaths[month]);
      expect(sum.country).toBe(sum.total);
      expect(sum.total_incl_non_residents).toBe(sum.total! + sum.non_resident!);
    }
    expect(keys.filter((key, i) => keys.indexOf(key) !== i)).toEqual([]);
    expect(rows.find((r) => r.geo_level === 'total_incl_non_residents')).toMatchObject({ area_name: 'England, Wales and elsewhere', geo_code_extra: shape.codes === false || shape.totalRegistrations ? null : 'J99000001' });
  });
});

describe('geo_level in editions with no code column', () => {
  it.each([
    { name: 'names over three level columns', shape: { year: 2008, codes: false, nameLevels: 3, walesAmongRegions: true } },
    { name: 'one name column', shape: { year: 2012, codes: false, walesAmongRegions: true } },
    { name: 'codes, WALES printed again among the regions', shape: { year: 2016, walesAmongRegions: true } },
  ])('$name: WALES once as a country, once as a region; countries sum to England and Wales', async ({ shape }) => {
    const rows = await collect(await workbook(`levels-${shape.year}.xls`, monthlySheets(shape)));
    const wales = rows.filter((r) => r.geo_name === 'WALES' && (r.period as Date).getUTCMonth() === 0);
    // Without a level column nothing tells which of the two is the country: one is, and the other a region.
    expect(wales.map((r) => r.geo_level).sort()).toEqual(['country', 'region']);
    for (let month = 0; month < 12; month++) {
      const inMonth = rows.filter((r) => (r.period as Date).getUTCMonth() === month);
      const countries = inMonth.filter((r) => r.geo_level === 'country').reduce((sum, r) => sum + (r.deaths as number), 0);
      expect(countries).toBe(inMonth.find((r) => r.geo_name === 'ENGLAND AND WALES')!.deaths);
    }
  });
});

describe('readWorkbookTable markers and partial years', () => {
  it('keeps every area row and turns unpublished months (:) into nulls', async () => {
    const file = await workbook('partial.xlsx', monthlySheets({ year: 2020, publishedMonths: 2 }));
    const rows = await collect(file);
    expect(rows).toHaveLength(monthlyAreas(2020).length * 12);
    const wales = rows.filter((r) => r.geo_name === 'WALES').map((r) => r.deaths);
    expect(wales.slice(0, 2)).toEqual(monthlyAreas(2020)[5]!.deaths.slice(0, 2));
    expect(wales.slice(2)).toEqual(Array(10).fill(null));
  });

  it('takes the edition it is given over the sheet name', async () => {
    const file = await workbook('edition.xlsx', monthlySheets({ year: 2018 }));
    await expect(collect(file, 2019)).rejects.toThrow(/cell C4: month label "Jan-18" is in 2018, outside edition 2019/);
  });
});

describe('readWorkbookTable failures name the file, sheet and cell', () => {
  const cases: Array<{ name: string; file: string; sheets: () => FixtureSheet[]; error: RegExp }> = [
    {
      name: 'table sheet renamed beyond recognition',
      file: 'renamed.xlsx',
      sheets: () => monthlySheets({ year: 2019, sheetName: 'Data' }),
      error: /renamed\.xlsx: no sheet name matches \/.*Figures for.*\/i \(sheets: "Contents", "Information", "Data", "Related publications"\)/,
    },
    {
      name: 'no header row',
      file: 'no-header.xlsx',
      sheets: () => [{ name: 'Figures for 2019', rows: [['Contents'], ['Area', 'January', 'February']] }],
      error: /no-header\.xlsx, sheet "Figures for 2019": no header row with at least 3 month labels/,
    },
    {
      name: 'a header label that does not parse',
      file: 'bad-label.xlsx',
      sheets: () => monthlySheets({ year: 2019, label: (m, y) => (m === 'Jun' ? 'June (provisional)' : `${m}-${y}`) }),
      error: /bad-label\.xlsx, sheet "Figures for 2019", cell H4: header label "June \(provisional\)" is not a month label/,
    },
    {
      name: 'a figure that is neither a number nor a marker',
      file: 'bad-value.xlsx',
      sheets: () => {
        const sheets = monthlySheets({ year: 2019 });
        sheets[2]!.rows[7]![5] = 'n/a?';
        return sheets;
      },
      error: /bad-value\.xlsx, sheet "Figures for 2019", cell F8: "n\/a\?" is neither a number nor a known marker/,
    },
  ];
  it.each(cases)('$name', async ({ file: fileName, sheets, error }) => {
    const file = await workbook(fileName, sheets());
    await expect(collect(file)).rejects.toBeInstanceOf(DataError);
    await expect(collect(file)).rejects.toThrow(error);
  });
});

describe('detectTableLayout', () => {
  it('reports the sheet, header row, id columns and periods it found', async () => {
    const file = await workbook('inspect.xls', monthlySheets({ year: 2019, headerRow: 3, label: (m, y) => `${m}-${y}3` }));
    const layout = await detectTableLayout({ file }, monthlyDeaths);
    expect(layout).toMatchObject({ sheet: 'Figures for 2019', headerRow: 3, idColumns: ['A', 'B'], edition: 2019 });
    expect(layout.periodColumns[0]).toEqual({ cell: 'C3', label: 'Jan-193', period: '2019-01' });
    expect(layout.periodColumns).toHaveLength(12);
  });
});
