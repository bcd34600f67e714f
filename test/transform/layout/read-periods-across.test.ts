import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RowRuns, rowsOf, type RowBatch } from '../../../src/core/table.js';
import type { WorkbookDataset } from '../../../src/transform/layout/dataset.js';
import { DataError } from '../../../src/core/errors.js';
import { NoTableError } from '../../../src/transform/layout/find-table.js';
import { LABEL_CELL, createRunReport } from '../../../src/transform/layout/row-rules.js';
import { ROW_BATCH } from '../../../src/transform/layout/read-periods-across.js';
import { detectTableLayout, readWorkbookTableBatches } from '../../../src/transform/layout/read-workbook-table.js';
import { acrossLayout, datasetOf, gridFolder, readAll } from '../../helpers/layout-grid.js';
import type { FixtureSheet } from '../../helpers/workbook-writer.js';

const grids = gridFolder('etl-across-');
afterAll(() => grids.remove());

/** An error message, whole. */
const exactly = (message: string): RegExp => new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);

const month = (m: number, year = 2020): Date => new Date(Date.UTC(year, m - 1, 1));

const table: FixtureSheet = {
  name: 'Table 1',
  rows: [
    ['Deaths by month'],
    [],
    ['Code', 'Area', 'Jan-20', 'Feb-20', 'Mar-20'],
    ['K04', 'England and Wales 1', 10, 11, ':'],
    [null, 'Wales', 3, '1,204', null],
    [],
    ['Notes'],
    ['Z99', 'after the notes', 1, 2, 3],
  ],
};

describe('periods across: the header, the body, the edition', () => {
  it('reads one row per area and month, with codes, cleaned names, markers and blanks as null', async () => {
    const file = await grids.write([{ name: 'Contents', rows: [['x']] }, table]);
    expect(await readAll({ file }, datasetOf(acrossLayout()))).toEqual([
      { edition: 2020, month: month(1), code: 'K04', name: 'England and Wales', deaths: 10, source_file: 'grid-1.xlsx' },
      { edition: 2020, month: month(2), code: 'K04', name: 'England and Wales', deaths: 11, source_file: 'grid-1.xlsx' },
      { edition: 2020, month: month(3), code: 'K04', name: 'England and Wales', deaths: null, source_file: 'grid-1.xlsx' },
      { edition: 2020, month: month(1), code: null, name: 'Wales', deaths: 3, source_file: 'grid-1.xlsx' },
      { edition: 2020, month: month(2), code: null, name: 'Wales', deaths: 1204, source_file: 'grid-1.xlsx' },
      { edition: 2020, month: month(3), code: null, name: 'Wales', deaths: null, source_file: 'grid-1.xlsx' },
    ]);
  });

  it('detectTableLayout reports the sheet, header row, id columns and each period', async () => {
    const file = await grids.write([{ name: 'Contents', rows: [['x']] }, table]);
    expect(await detectTableLayout({ file }, datasetOf(acrossLayout()))).toEqual({
      layout: 'across',
      sheet: 'Table 1',
      sheets: ['Contents', 'Table 1'],
      headerRow: 3,
      edition: 2020,
      periodAxis: 'columns',
      idColumns: ['A', 'B'],
      periodColumns: [
        { cell: 'C3', label: 'Jan-20', period: '2020-01' },
        { cell: 'D3', label: 'Feb-20', period: '2020-02' },
        { cell: 'E3', label: 'Mar-20', period: '2020-03' },
      ],
      valueColumns: [],
      rejected: [],
    });
  });

  it('the edition: as given, else a year in the sheet name, else the first period', async () => {
    const file = await grids.write([{ ...table, name: 'Table 2019 (x)' }]);
    const dataset = datasetOf(acrossLayout());
    expect((await readAll({ file }, dataset))[0]!.edition).toBe(2019);
    expect((await readAll({ file, edition: 2020 }, dataset))[0]!.edition).toBe(2020);
    const noYear = await grids.write([{ name: 'Table', rows: [['Area', 'Week 1', 'Week 2'], ['Wales', 1, 2]] }]);
    const weeks = acrossLayout({ periods: [{ field: 'week', parse: 'week-number', offset: 0 }] });
    expect((await readAll({ file: noYear, edition: 2021 }, datasetOf(weeks)))[0]).toEqual({ edition: 2021, week: 1, code: null, name: 'Wales', deaths: 1, source_file: 'grid-4.xlsx' });
    await expect(readAll({ file: noYear }, datasetOf(weeks))).rejects.toThrow(exactly('grid-4.xlsx, sheet "Table": cannot tell the edition year (no year in the sheet name or the period labels)'));
  });

  it('the header is the first row with enough periods within searchRows; the rows above it are not body', async () => {
    const rows = [['Jan-20 only'], ['Area', 'Jan-20'], ['Area', 'Jan-20', 'Feb-20'], ['Wales', 1, 2]];
    const file = await grids.write([{ name: 'Table', rows }]);
    expect((await detectTableLayout({ file }, datasetOf(acrossLayout()))).headerRow).toBe(3);
    expect((await detectTableLayout({ file }, datasetOf(acrossLayout({ header: { searchRows: 5, minPeriods: 1 } })))).headerRow).toBe(2);
    await expect(readAll({ file }, datasetOf(acrossLayout({ header: { searchRows: 2, minPeriods: 2 } })))).rejects.toThrow(exactly('grid-5.xlsx, sheet "Table": no header row with at least 2 month labels (like "Jan-19") in rows 1-2 (sheets: "Table")'));
    await expect(readAll({ file }, datasetOf(acrossLayout({ header: { searchRows: 1, minPeriods: 1 } })))).rejects.toThrow(
      'grid-5.xlsx, sheet "Table": no header row with at least 1 month label (like "Jan-19") in rows 1-1 (sheets: "Table")',
    );
  });

  it('a period label must have its declared label to its left', async () => {
    const rows = [['Code', 'Jan-20', 'Feb-20'], ['Area name', 'Jan-20', 'Feb-20'], ['Wales', 1, 2]];
    const file = await grids.write([{ name: 'Table', rows }]);
    const labelled = acrossLayout({ periods: [{ field: 'month', parse: 'month-label', offset: 0, label: '^area' }] });
    expect((await detectTableLayout({ file }, datasetOf(labelled))).headerRow).toBe(2);
    await expect(readAll({ file }, datasetOf(acrossLayout({ periods: [{ field: 'month', parse: 'month-label', offset: 0, label: '^region' }] })))).rejects.toThrow(
      'no header row labelled /^region/i with at least 2 month labels',
    );
  });

  it('a stray label right of the first period is refused with its cell', async () => {
    const file = await grids.write([{ name: 'Table', rows: [['Area', 'Jan-20', 'Feb-20', null, 'Total'], ['Wales', 1, 2, null, 3]] }]);
    await expect(readAll({ file }, datasetOf(acrossLayout()))).rejects.toThrow(exactly('grid-7.xlsx, sheet "Table", cell E1: header label "Total" is not a month label like "Jan-19"'));
    // Left of the first period, labels are ids.
    const left = await grids.write([{ name: 'Table', rows: [['Total', 'Area', 'Jan-20', 'Feb-20'], ['x', 'Wales', 1, 2]] }]);
    expect(await readAll({ file: left }, datasetOf(acrossLayout()))).toHaveLength(2);
  });

  it('a repeated period column, and a period outside the edition year, are refused', async () => {
    const repeated = await grids.write([{ name: 'Table', rows: [['Area', 'Jan-20', 'Feb-20', 'Jan-20'], ['Wales', 1, 2, 3]] }]);
    await expect(readAll({ file: repeated }, datasetOf(acrossLayout()))).rejects.toThrow(exactly('grid-9.xlsx, sheet "Table", cell D1: month label "Jan-20" repeats an earlier column'));
    const strict = acrossLayout({ periods: [{ field: 'month', parse: 'month-label', offset: 0, mustBeInEditionYear: true }] });
    const file = await grids.write([{ name: 'Table', rows: [['Area', 'Dec-19', 'Jan-20'], ['Wales', 1, 2]] }]);
    await expect(readAll({ file, edition: 2020 }, datasetOf(strict))).rejects.toThrow(exactly('grid-10.xlsx, sheet "Table", cell B1: month label "Dec-19" is in 2019, outside edition 2020'));
    expect(await readAll({ file, edition: 2020 }, datasetOf(acrossLayout()))).toHaveLength(2);
    const inYear = await grids.write([{ name: 'Table', rows: [['Area', 'Nov-19', 'Dec-19'], ['Wales', 1, 2]] }]);
    expect(await readAll({ file: inYear }, datasetOf(strict))).toHaveLength(2);
  });

  it('stops at the notes, skips blank rows, and refuses a figure cell it cannot read', async () => {
    const file = await grids.write([{ name: 'Table', rows: [['Area', 'Jan-20', 'Feb-20'], [], ['Wales', 1, 2], ['Source: ONS', 9, 9], ['England', 3, 4]] }]);
    expect((await readAll({ file }, datasetOf(acrossLayout()))).map((row) => row.name)).toEqual(['Wales', 'Wales']);
    const bad = await grids.write([{ name: 'Table', rows: [['Area', 'Jan-20', 'Feb-20'], ['Wales', 1, 'n/a']] }]);
    await expect(readAll({ file: bad }, datasetOf(acrossLayout()))).rejects.toThrow(exactly('grid-13.xlsx, sheet "Table", cell C2: "n/a" is neither a number nor a known marker (: [x])'));
    // A row whose every figure cell is unreadable is a row of figures, not a label.
    const allBad = await grids.write([{ name: 'Table', rows: [['Area', 'Jan-20', 'Feb-20'], ['Wales', 'n/a', 'n/a']] }]);
    await expect(readAll({ file: allBad }, datasetOf(acrossLayout()))).rejects.toThrow('cell B2: "n/a" is neither');
  });

  it('a row of markers only is a row of figures; a row of labels only is not', async () => {
    const file = await grids.write([{ name: 'Table', rows: [['Area', 'Jan-20', 'Feb-20'], ['Wales', ':', '[x]'], ['A heading'], ['England', 0, null]] }]);
    expect(await readAll({ file }, datasetOf(acrossLayout()))).toEqual([
      { edition: 2020, month: month(1), code: null, name: 'Wales', deaths: null, source_file: 'grid-15.xlsx' },
      { edition: 2020, month: month(2), code: null, name: 'Wales', deaths: null, source_file: 'grid-15.xlsx' },
      { edition: 2020, month: month(1), code: null, name: 'England', deaths: 0, source_file: 'grid-15.xlsx' },
      { edition: 2020, month: month(2), code: null, name: 'England', deaths: null, source_file: 'grid-15.xlsx' },
    ]);
  });

  it('a row with figures and no required id is refused, naming the id columns', async () => {
    const file = await grids.write([{ name: 'Table', rows: [['Code', 'Area', 'Jan-20', 'Feb-20'], ['K04', '123', 1, 2]] }]);
    await expect(readAll({ file }, datasetOf(acrossLayout()))).rejects.toThrow(exactly('grid-16.xlsx, sheet "Table", row 2: has figures but no name (no cell in columns A-B matches /[a-z]/)'));
  });

  it('each id takes a cell no earlier id took; depth counts columns right of the leftmost seen; the label cell is the last required id', async () => {
    const layout = acrossLayout({
      ids: [
        { field: 'code', pattern: '^[A-Z]\\d{2}', optional: true, clean: false },
        { field: 'name', pattern: '[a-z]', optional: false, clean: false, depthField: 'depth' },
      ],
    });
    const rows = [['Code', 'Name', null, 'Jan-20', 'Feb-20'], ['E12', 'North 2', null, 1, 2], [null, null, 'Leeds', 3, 4], ['E13', 'East', null, 5, 6]];
    const file = await grids.write([{ name: 'Table', rows }]);
    const read = await readAll({ file }, datasetOf(layout), { keepLabelCell: true });
    expect(read.filter((row) => (row.month as Date).getUTCMonth() === 0).map(({ code, name, depth, [LABEL_CELL]: cell }) => [code, name, depth, cell])).toEqual([
      ['E12', 'North 2', 0, 'B2'],
      [null, 'Leeds', 1, 'C3'],
      ['E13', 'East', 0, 'B4'],
    ]);
    // A code that also matches the name pattern is taken by the code, so the name is the next cell.
    const both = acrossLayout({ ids: [{ field: 'code', pattern: '.', optional: false, clean: false }, { field: 'name', pattern: '.', optional: false, clean: false }] });
    const twice = await grids.write([{ name: 'Table', rows: [['Code', 'Area', 'Jan-20', 'Feb-20'], ['x1', 'y2', 1, 2]] }]);
    expect((await readAll({ file: twice }, datasetOf(both)))[0]).toMatchObject({ code: 'x1', name: 'y2' });
  });

  it('set fields are on every row; a field the row sets itself wins over the period', async () => {
    const layout = acrossLayout({ set: { measure: 'deaths', month: 'printed' } });
    const file = await grids.write([{ name: 'Table', rows: [['Area', 'Jan-20', 'Feb-20'], ['Wales', 1, 2]] }]);
    expect(await readAll({ file }, datasetOf(layout))).toEqual([
      { edition: 2020, month: 'printed', measure: 'deaths', code: null, name: 'Wales', deaths: 1, source_file: 'grid-19.xlsx' },
      { edition: 2020, month: 'printed', measure: 'deaths', code: null, name: 'Wales', deaths: 2, source_file: 'grid-19.xlsx' },
    ]);
  });

  it('rows come in batches of ROW_BATCH', async () => {
    const rows = [['Area', 'Jan-20', 'Feb-20'], ...Array.from({ length: ROW_BATCH / 2 + 1 }, (_, i) => [`Area ${i}x`, i, i])];
    const file = await grids.write([{ name: 'Table', rows }]);
    const sizes: number[] = [];
    for await (const batch of readWorkbookTableBatches({ file }, datasetOf(acrossLayout()))) sizes.push(batch.length);
    expect(sizes).toEqual([ROW_BATCH, 2]);
  });

});

describe('periods across: rows of periods below the header', () => {
  const twoRows = acrossLayout({
    periods: [
      { field: 'week', parse: 'week-number', offset: 0 },
      { field: 'week_ended', parse: 'date', offset: 2, label: '^week ended' },
    ],
    header: { searchRows: 3, minPeriods: 2 },
  });

  it('gives each column the period below it, and starts the body after the last period row', async () => {
    const rows = [['Week number', 1, 2], ['a note'], ['Week ended', '03/01/2020', '10/01/2020'], ['Wales', 5, 6]];
    const file = await grids.write([{ name: 'Table 2020', rows }]);
    expect(await readAll({ file }, datasetOf(twoRows))).toEqual([
      { edition: 2020, week: 1, week_ended: new Date(Date.UTC(2020, 0, 3)), code: null, name: 'Wales', deaths: 5, source_file: 'grid-21.xlsx' },
      { edition: 2020, week: 2, week_ended: new Date(Date.UTC(2020, 0, 10)), code: null, name: 'Wales', deaths: 6, source_file: 'grid-21.xlsx' },
    ]);
    expect((await detectTableLayout({ file }, datasetOf(twoRows))).periodColumns).toEqual([
      { cell: 'B1', label: '1', period: 'week 1 2020-01-03' },
      { cell: 'C1', label: '2', period: 'week 2 2020-01-10' },
    ]);
  });

  it('refuses a period row without its label, or a cell in it that is not a period', async () => {
    const unlabelled = await grids.write([{ name: 'Table 2020', rows: [['Week number', 1, 2], [], ['Date', '03/01/2020', '10/01/2020'], ['Wales', 5, 6]] }]);
    await expect(readAll({ file: unlabelled }, datasetOf(twoRows))).rejects.toThrow(exactly('grid-22.xlsx, sheet "Table 2020", row 3: expected the week_ended row labelled /^week ended/i 2 below the header'));
    const short = await grids.write([{ name: 'Table 2020', rows: [['Week number', 1, 2]] }]);
    await expect(readAll({ file: short }, datasetOf(twoRows))).rejects.toThrow('row 3: expected the week_ended row');
    const bad = await grids.write([{ name: 'Table 2020', rows: [['Week number', 1, 2], [], ['Week ended', '03/01/2020', 'soon'], ['Wales', 5, 6]] }]);
    await expect(readAll({ file: bad }, datasetOf(twoRows))).rejects.toThrow(exactly('grid-24.xlsx, sheet "Table 2020", cell C3: "soon" is not a date like "7-Jan-11" (week_ended below header "2")'));
  });

  it('trailing placeholders: columns after the last readable period are left out, each said once', async () => {
    const layout = acrossLayout({
      periods: [
        { field: 'week', parse: 'week-number', offset: 0 },
        { field: 'week_ended', parse: 'date', offset: 1, placeholders: 'trailing' },
      ],
    });
    const rows = [['Area', 1, 2, 3], [null, '03/01/2020', '10/01/2020', 'tbc'], ['Wales', 5, 6, ':']];
    const file = await grids.write([{ name: 'Table 2020', rows }]);
    const warnings: string[] = [];
    const read = await readAll({ file }, datasetOf(layout), { report: createRunReport((message) => warnings.push(message)) });
    expect(read.map((row) => row.week)).toEqual([1, 2]);
    expect(warnings).toEqual(['grid-25.xlsx, sheet "Table 2020", cell D2: column "3" is not a period of this edition (week_ended "tbc" is not a date); left out']);
    // Only trailing: an unreadable cell before a readable one is an error.
    const gap = await grids.write([{ name: 'Table 2020', rows: [['Area', 1, 2, 3], [null, '03/01/2020', 'tbc', '17/01/2020'], ['Wales', 5, 6, 7]] }]);
    await expect(readAll({ file: gap }, datasetOf(layout))).rejects.toThrow('cell C2: "tbc" is not a date');
    const without = acrossLayout({ periods: [layout.periods[0]!, { ...layout.periods[1]!, placeholders: undefined }] });
    await expect(readAll({ file }, datasetOf(without))).rejects.toThrow('cell D2: "tbc" is not a date');
  });
});

describe('periods across: headings and wrapped labels', () => {
  const layout = acrossLayout({
    ids: [{ field: 'label', pattern: '.', optional: false, clean: true }],
    headings: { field: 'section', labelField: 'label', ignore: '^see notes', continuation: '^(and|or) ', areas: { heading: '^region', field: 'area' } },
  });

  it('headings stack until figures; the next heading starts a new stack; ignored headings are skipped', async () => {
    const rows = [
      ['Label', 'Jan-20', 'Feb-20'],
      ['All persons 2'],
      ['Deaths', 1, 2],
      ['Males'],
      ['See notes'],
      ['Aged 1-14'],
      ['Deaths', 3, 4],
      ['Under one', 5, 6],
    ];
    const file = await grids.write([{ name: 'Table', rows }]);
    const read = await readAll({ file }, datasetOf(layout), { keepLabelCell: true });
    expect(read.filter((row) => (row.month as Date).getUTCMonth() === 1).map((row) => [row.section, row.label, row.deaths, row[LABEL_CELL]])).toEqual([
      ['All persons', 'Deaths', 2, 'A3'],
      ['Aged 1-14, Males', 'Deaths', 4, 'A7'],
      ['Aged 1-14, Males', 'Under one', 6, 'A8'],
    ]);
  });

  it('rows with no heading above them have a null section; under an area heading the label is the area', async () => {
    const rows = [['Label', 'Jan-20', 'Feb-20'], ['Deaths', 1, 2], ['Region 7'], ['Wales', 3, 4]];
    const file = await grids.write([{ name: 'Table', rows }]);
    const read = await readAll({ file }, datasetOf(layout));
    expect(read.filter((row) => (row.month as Date).getUTCMonth() === 0).map((row) => [row.section, row.label, row.area])).toEqual([
      [null, 'Deaths', undefined],
      ['Region', 'Region', 'Wales'],
    ]);
  });

  it('a wrapped label joins its two lines, whether the figures are on the first or the second', async () => {
    const rows = [['Label', 'Jan-20', 'Feb-20'], ['Deaths 1', 1, 2], ['and injuries 3'], ['Births'], ['or adoptions', 3, 4], ['Marriages', 5, 6], ['and more', 7, 8]];
    const file = await grids.write([{ name: 'Table', rows }]);
    const read = await readAll({ file }, datasetOf(layout));
    expect(read.filter((row) => (row.month as Date).getUTCMonth() === 0).map((row) => [row.section, row.label])).toEqual([
      [null, 'Deaths and injuries'],
      [null, 'Births or adoptions'],
      [null, 'Marriages'],
      [null, 'and more'],
    ]);
    const noContinuation = acrossLayout({ ids: layout.ids, headings: { field: 'section', labelField: 'label' } });
    const plain = await readAll({ file }, datasetOf(noContinuation));
    expect(plain.filter((row) => (row.month as Date).getUTCMonth() === 0).map((row) => [row.section, row.label])).toEqual([
      [null, 'Deaths'],
      ['Births, and injuries', 'or adoptions'],
      ['Births, and injuries', 'Marriages'],
      ['Births, and injuries', 'and more'],
    ]);
  });
});

describe('finding the table among sheets and layouts', () => {
  const other = acrossLayout({ name: 'weeks', sheet: { namePattern: 'weekly' }, periods: [{ field: 'week', parse: 'week-number', offset: 0 }] });

  it('tries sheets in order and layouts in declared order; the failed rules are kept for etl inspect', async () => {
    const file = await grids.write([
      { name: 'Weekly', rows: [['Area', 'x', 'y']] },
      { name: 'TABLE weekly', rows: [['Area', 1, 2], ['Wales', 5, 6]] },
    ]);
    const found = await detectTableLayout({ file, edition: 2020 }, datasetOf(acrossLayout(), other));
    expect(found).toMatchObject({ layout: 'weeks', sheet: 'TABLE weekly', sheets: ['Weekly', 'TABLE weekly'], headerRow: 1 });
    expect(found.rejected).toEqual([
      { layout: 'across', sheet: 'TABLE weekly', failed: 'no header row with at least 2 month labels (like "Jan-19") in rows 1-5' },
    ]);
    const none = await detectTableLayout({ file, edition: 2020 }, datasetOf(other));
    expect(none.rejected).toEqual([]);
  });

  it('a layout whose sheet pattern matches no sheet is named so', async () => {
    const file = await grids.write([{ name: 'Table', rows: [['Area', 'Jan-20', 'Feb-20'], ['Wales', 1, 2]] }]);
    expect((await detectTableLayout({ file }, datasetOf(acrossLayout(), other))).rejected).toEqual([{ layout: 'weeks', failed: 'no sheet name matches /weekly/i' }]);
  });

  it('no table: the error lists every layout and sheet tried, and the sheets', async () => {
    const file = await grids.write([
      { name: 'Weekly', rows: [['Area', 'x', 'y']] },
      { name: 'Table', rows: [['nothing']] },
    ]);
    const error = await readAll({ file }, datasetOf(acrossLayout(), other)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoTableError);
    expect((error as NoTableError).message).toBe(
      'grid-32.xlsx: no layout of grid matches: layout "across": sheet "Table": no header row with at least 2 month labels (like "Jan-19") in rows 1-5; ' +
        'layout "weeks": sheet "Weekly": no header row with at least 2 week numbers (like "53") in rows 1-5 (sheets: "Weekly", "Table")',
    );
    expect((error as NoTableError).name).toBe('DataError');
    expect((error as NoTableError).hint).toMatch(/^run `etl inspect <workbook>`.*: sheet.namePattern finds the sheet, header.searchRows bounds where the header may sit$/);
    const single = await readAll({ file }, datasetOf(other)).catch((e: unknown) => e);
    expect((single as Error).message).toBe('grid-32.xlsx, sheet "Weekly": no header row with at least 2 week numbers (like "53") in rows 1-5 (sheets: "Weekly", "Table")');
    const noSheet = await readAll({ file }, datasetOf(acrossLayout({ sheet: { namePattern: '^none$' } }))).catch((e: unknown) => e);
    expect((noSheet as Error).message).toBe('grid-32.xlsx: no sheet name matches /^none$/i (sheets: "Weekly", "Table")');
  });

  it('searches only the first rows of a sheet for the header, and reads a body longer than that window', async () => {
    const body = Array.from({ length: 12 }, (_, i) => [`Area ${i}x`, i, i]);
    const file = await grids.write([{ name: 'Table', rows: [['Area', 'Jan-20', 'Feb-20'], ...body] }]);
    const layout = acrossLayout({ header: { searchRows: 1, minPeriods: 2 } });
    expect((await readAll({ file }, datasetOf(layout))).length).toBe(24);
    const late = await grids.write([{ name: 'Table', rows: [[], [], ['Area', 'Jan-20', 'Feb-20'], ['Wales', 1, 2]] }]);
    await expect(readAll({ file: late }, datasetOf(acrossLayout({ header: { searchRows: 2, minPeriods: 2 } })))).rejects.toThrow('in rows 1-2');
    expect(await readAll({ file: late }, datasetOf(acrossLayout({ header: { searchRows: 3, minPeriods: 2 } })))).toHaveLength(2);
  });
});

describe('periods across: batches as runs', () => {
  it('a sheet row goes as one run when no rule works per output row, as rows when one does; a dropped label gives nothing', async () => {
    const file = await grids.write([{ name: 'Table', rows: [['Area', 'Jan-20', 'Feb-20'], ['Wales', 1, 2], ['Drop me', 3, 4], ['East', 5, null]] }]);
    const labels = {
      printed: 'name',
      from: ['name'],
      required: 'name',
      canonical: [],
      rules: [{ match: { name: '^drop me$' }, drop: 'is dropped' }],
      vocabularies: {},
    };
    const batchesOf = async (rowRules: WorkbookDataset['rowRules']): Promise<RowBatch[]> => {
      const batches: RowBatch[] = [];
      for await (const batch of readWorkbookTableBatches({ file }, { ...datasetOf(acrossLayout()), rowRules })) batches.push(batch);
      return batches;
    };
    const source = path.basename(file);
    const expected = [
      { edition: 2020, month: month(1), code: null, name: 'Wales', deaths: 1, source_file: source },
      { edition: 2020, month: month(2), code: null, name: 'Wales', deaths: 2, source_file: source },
      { edition: 2020, month: month(1), code: null, name: 'East', deaths: 5, source_file: source },
      { edition: 2020, month: month(2), code: null, name: 'East', deaths: null, source_file: source },
    ];
    const [runs, ...noMore] = await batchesOf({ labels });
    expect(noMore).toEqual([]);
    expect(runs).toBeInstanceOf(RowRuns);
    expect((runs as RowRuns).runs.map((run) => [run.fields.name, run.count])).toEqual([['Wales', 2], ['East', 2]]);
    expect(rowsOf(runs!)).toEqual(expected);
    // `unique` works row by row (a repeated row is left out): plain rows.
    const [rows] = await batchesOf({ labels, unique: ['name', 'month'] });
    expect(Array.isArray(rows)).toBe(true);
    expect(rows).toEqual(expected);
  });
});
