import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '../../../src/core/errors.js';
import { LABEL_CELL, createRunReport } from '../../../src/transform/layout/row-rules.js';
import { describeRowRules, detectTableLayout, readWorkbookTableBatches } from '../../../src/transform/layout/read-workbook-table.js';
import { ROW_BATCH } from '../../../src/transform/layout/read-periods-across.js';
import { acrossLayout, datasetOf, downLayout, gridFolder, readAll } from '../../helpers/layout-grid.js';
import type { FixtureSheet } from '../../helpers/workbook-writer.js';

const grids = gridFolder('etl-down-');
afterAll(() => grids.remove());

/** An error message, whole. */
const exactly = (message: string): RegExp => new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);
const day = (iso: string): Date => new Date(`${iso}T00:00:00Z`);

const weekly: FixtureSheet = {
  name: 'Weekly figures',
  rows: [
    ['Weekly deaths'],
    ['Week number', 'Week ended [note 1]', 'Total deaths, all ages (2020)', 'Deaths male', 'Deaths female', 'Comment'],
    [1, '03/01/2020', 100, 60, ':', 'x'],
    [],
    [2, '10/01/2020', '1,200', null, 40, null],
    ['Notes'],
    [3, '17/01/2020', 1, 1, 1],
  ],
};

describe('periods down: one row per period and value column', () => {
  it('reads each period row once per value column, with the column set fields; markers and blanks are null', async () => {
    const file = await grids.write([{ name: 'Contents', rows: [['x']] }, weekly], 'weekly.xlsx');
    const rows = await readAll({ file }, datasetOf(downLayout({ set: { kind: 'deaths' } })));
    expect(rows).toEqual([
      { edition: 2020, week: 1, week_ended: day('2020-01-03'), kind: 'deaths', measure: 'total', deaths: 100, source_file: 'weekly.xlsx' },
      { edition: 2020, week: 1, week_ended: day('2020-01-03'), kind: 'deaths', measure: 'Deaths male', deaths: 60, source_file: 'weekly.xlsx' },
      { edition: 2020, week: 1, week_ended: day('2020-01-03'), kind: 'deaths', measure: 'Deaths female', deaths: null, source_file: 'weekly.xlsx' },
      { edition: 2020, week: 2, week_ended: day('2020-01-10'), kind: 'deaths', measure: 'total', deaths: 1200, source_file: 'weekly.xlsx' },
      { edition: 2020, week: 2, week_ended: day('2020-01-10'), kind: 'deaths', measure: 'Deaths male', deaths: null, source_file: 'weekly.xlsx' },
      { edition: 2020, week: 2, week_ended: day('2020-01-10'), kind: 'deaths', measure: 'Deaths female', deaths: 40, source_file: 'weekly.xlsx' },
    ]);
  });

  it('detectTableLayout reports the period columns and each value column with its fields', async () => {
    const file = await grids.write([weekly]);
    expect(await detectTableLayout({ file }, datasetOf(acrossLayout({ sheet: { namePattern: 'weekly' } }), downLayout()))).toEqual({
      layout: 'down',
      sheet: 'Weekly figures',
      sheets: ['Weekly figures'],
      headerRow: 2,
      edition: 2020,
      periodAxis: 'rows',
      idColumns: ['A', 'B'],
      periodColumns: [],
      valueColumns: [
        { cell: 'C2', label: 'Total deaths, all ages (2020)', fields: { measure: 'total' } },
        { cell: 'D2', label: 'Deaths male', fields: { measure: 'Deaths male' } },
        { cell: 'E2', label: 'Deaths female', fields: { measure: 'Deaths female' } },
      ],
      rejected: [{ layout: 'across', sheet: 'Weekly figures', failed: 'no header row with at least 2 month labels (like "Jan-19") in rows 1-5' }],
    });
  });

  it('a value header may name the edition; a required one missing is refused with the headers; an optional one is not', async () => {
    const file = await grids.write([weekly]);
    const byEdition = downLayout({ values: [{ header: '\\({edition}\\)$', optional: false, set: { measure: 'total' } }] });
    expect(await readAll({ file }, datasetOf(byEdition))).toHaveLength(2);
    await expect(readAll({ file, edition: 2021 }, datasetOf(byEdition))).rejects.toThrow(
      exactly('weekly.xlsx, sheet "Weekly figures", row 2: no column header matches /\\(2021\\)$/i (headers: "Week number", "Week ended", "Total deaths, all ages (2020)", "Deaths male", "Deaths female", "Comment")'.replace('weekly.xlsx', 'grid-3.xlsx')),
    );
    const optional = downLayout({ values: [{ header: '\\(2021\\)$', optional: true, set: {} }, { header: '^comment', optional: false, set: { measure: 'comment' } }] });
    await expect(readAll({ file }, datasetOf(optional))).rejects.toThrow(new DataError('grid-3.xlsx, sheet "Weekly figures", cell F3: "x" is neither a number nor a known marker (:)').message);
    // A column is taken by the first value rule that matches it, not again by a later one.
    const twice = downLayout({ values: [{ header: '^deaths', optional: false, set: { measure: 'first' } }, { header: 'male$', optional: true, set: { measure: 'second' } }] });
    expect((await readAll({ file }, datasetOf(twice))).map((row) => row.measure)).toEqual(['first', 'first', 'first', 'first']);
  });

  it('refuses a period cell it cannot read, and a period printed twice', async () => {
    const bad = await grids.write([{ name: 'Weekly', rows: [['Week number', 'Week ended', 'Total deaths'], [1, '03/01/2020', 5], [2, 'soon', 6]] }]);
    await expect(readAll({ file: bad }, datasetOf(downLayout()))).rejects.toThrow(exactly('grid-4.xlsx, sheet "Weekly", cell B3: "soon" is not a date like "7-Jan-11" (week_ended)'));
    const twice = await grids.write([{ name: 'Weekly', rows: [['Week number', 'Week ended', 'Total deaths'], [1, '03/01/2020', 5], [1, '03/01/2020', 6]] }]);
    await expect(readAll({ file: twice }, datasetOf(downLayout()))).rejects.toThrow(exactly('grid-5.xlsx, sheet "Weekly", row 3: period 1|2020-01-03 repeats an earlier row'));
  });

  it('the edition: as given, else the sheet name, else the first period; none is refused', async () => {
    const rows = [['Week number', 'Week ended', 'Total deaths'], [52, '27/12/2019', 5]];
    const file = await grids.write([{ name: 'Weekly 2020', rows }]);
    expect((await readAll({ file }, datasetOf(downLayout())))[0]!.edition).toBe(2020);
    expect((await readAll({ file, edition: 2019 }, datasetOf(downLayout())))[0]!.edition).toBe(2019);
    const unnamed = await grids.write([{ name: 'Weekly', rows }]);
    expect((await readAll({ file: unnamed }, datasetOf(downLayout())))[0]!.edition).toBe(2019);
    const empty = await grids.write([{ name: 'Weekly', rows: [['Week number', 'Week ended', 'Total deaths']] }]);
    await expect(readAll({ file: empty }, datasetOf(downLayout()))).rejects.toThrow(exactly('grid-8.xlsx, sheet "Weekly": cannot tell the edition year (no year in the sheet name and no period rows)'));
    expect(await readAll({ file: empty, edition: 2020 }, datasetOf(downLayout()))).toEqual([]);
  });

  it('the header row must also have every required header; none within searchRows is refused', async () => {
    const file = await grids.write([weekly]);
    expect((await detectTableLayout({ file }, datasetOf(downLayout({ header: { searchRows: 5, requires: ['^comment$'] } })))).headerRow).toBe(2);
    await expect(readAll({ file }, datasetOf(downLayout({ header: { searchRows: 5, requires: ['^remark$'] } })))).rejects.toThrow(
      exactly('grid-9.xlsx, sheet "Weekly figures": no header row with columns matching /^week number$/i and /^week ended/i and /^remark$/i in rows 1-5 (sheets: "Weekly figures")'),
    );
    await expect(readAll({ file }, datasetOf(downLayout({ header: { searchRows: 1 } })))).rejects.toThrow('in rows 1-1');
  });

  it('rows hold their label cell for the row rules; without rules it is not written', async () => {
    const file = await grids.write([weekly]);
    const rows = await readAll({ file }, { ...datasetOf(downLayout()), rowRules: { unique: ['week', 'measure'] } }, { keepLabelCell: true });
    expect(rows.map((row) => row[LABEL_CELL])).toEqual(['C2', 'D2', 'E2', 'C2', 'D2', 'E2']);
    expect((await readAll({ file }, datasetOf(downLayout())))[0]).not.toHaveProperty(LABEL_CELL);
  });

  it('a row the row rules leave out is not given', async () => {
    const file = await grids.write([weekly]);
    const rules = { labels: { printed: 'label', from: ['measure'], required: 'sex', canonical: ['sex'], rules: [{ match: { measure: 'male' }, drop: 'is by sex' }], vocabularies: {} } };
    const rows = await readAll({ file }, { ...datasetOf(downLayout()), rowRules: rules });
    expect(rows.map((row) => row.label)).toEqual(['total', 'total']);
  });

  it('more rows than ROW_BATCH come in batches', async () => {
    const rows = [['Week number', 'Week ended', 'Total deaths'], ...Array.from({ length: ROW_BATCH + 1 }, (_, i) => [(i % 53) + 1, `${String((i % 28) + 1).padStart(2, '0')}/01/${2000 + Math.floor(i / 53)}`, i])];
    const file = await grids.write([{ name: 'Weekly 2020', rows }]);
    const sizes: number[] = [];
    for await (const batch of readWorkbookTableBatches({ file }, datasetOf(downLayout()))) sizes.push(batch.length);
    expect(sizes).toEqual([ROW_BATCH, 1]);
  });
});

describe('periods down: stacked tables', () => {
  const blocks = downLayout({ blocks: { title: '^table \\d', field: 'block' } });

  it('a title row starts the next table; its repeated header is skipped; the first title is above the header', async () => {
    const rows = [
      ['Table 1: deaths'],
      ['Week number', 'Week ended', 'Total deaths'],
      [1, '03/01/2020', 5],
      [],
      ['Table 2: deaths again'],
      ['Week number', 'Week ended', 'Total deaths'],
      [1, '03/01/2020', 6],
    ];
    const file = await grids.write([{ name: 'Weekly', rows }]);
    expect((await readAll({ file }, datasetOf(blocks))).map((row) => [row.block, row.deaths])).toEqual([
      ['Table 1: deaths', 5],
      ['Table 2: deaths again', 6],
    ]);
    // Without blocks the same sheet fails: the second title is not a period.
    await expect(readAll({ file }, datasetOf(downLayout()))).rejects.toThrow('cell A5: "Table 2: deaths again" is not a week number like "53" (week)');
    const untitled = await grids.write([{ name: 'Weekly', rows: rows.slice(1) }]);
    expect((await readAll({ file: untitled }, datasetOf(blocks))).map((row) => row.block)).toEqual([null, 'Table 2: deaths again']);
    // Above the header, the nearest title wins.
    const two = await grids.write([{ name: 'Weekly', rows: [['Table 1: a'], ['Table 2: b'], ...rows.slice(1, 3)] }]);
    expect((await readAll({ file: two }, datasetOf(blocks))).map((row) => row.block)).toEqual(['Table 2: b']);
  });
});

describe('companion tables', () => {
  const companion = downLayout({ name: 'other sheet', sheet: { namePattern: '^other' }, values: [{ header: '^count$', optional: false, set: { measure: 'count' } }] });
  const main = downLayout({ companions: [companion] });

  it('rows of the main table, then of each companion, with the main table edition', async () => {
    const file = await grids.write([
      { name: 'Weekly', rows: [['Week number', 'Week ended', 'Total deaths'], [1, '03/01/2020', 5]] },
      { name: 'Other', rows: [['Week number', 'Week ended', 'Count'], [1, '03/01/2020', 7]] },
    ]);
    expect((await readAll({ file }, datasetOf(main))).map((row) => [row.measure, row.deaths, row.edition])).toEqual([
      ['total', 5, 2020],
      ['count', 7, 2020],
    ]);
    const given = await readAll({ file, edition: 2019 }, datasetOf(main));
    expect(given.map((row) => row.edition)).toEqual([2019, 2019]);
  });

  it('a companion that is missing or does not read costs its rows and a warning, not the main table', async () => {
    const missing = await grids.write([{ name: 'Weekly', rows: [['Week number', 'Week ended', 'Total deaths'], [1, '03/01/2020', 5]] }]);
    const warnings: string[] = [];
    const report = createRunReport((message) => warnings.push(message));
    expect(await readAll({ file: missing }, datasetOf(main), { report })).toHaveLength(1);
    const broken = await grids.write([
      { name: 'Weekly', rows: [['Week number', 'Week ended', 'Total deaths'], [1, '03/01/2020', 5]] },
      { name: 'Other', rows: [['Week number', 'Week ended', 'Count'], [1, '03/01/2020', 7], [2, '10/01/2020', 'n/a']] },
    ]);
    expect(await readAll({ file: broken }, datasetOf(main), { report })).toHaveLength(1);
    const empty = await grids.write([
      { name: 'Weekly', rows: [['Week number', 'Week ended', 'Total deaths'], [1, '03/01/2020', 5]] },
      { name: 'Other', rows: [['Week number', 'Week ended', 'Count']] },
    ]);
    expect(await readAll({ file: empty }, datasetOf(main), { report })).toHaveLength(1);
    expect(warnings).toEqual([
      'grid-17.xlsx: no sheet for "other sheet" (grid-17.xlsx: no sheet name matches /^other/i (sheets: "Weekly")); its rows are missing from this edition',
      'grid-18.xlsx, sheet "Other" ("other sheet") left out: grid-18.xlsx, sheet "Other", cell C3: "n/a" is neither a number nor a known marker (:)',
    ]);
  });
});

describe('describeRowRules', () => {
  it('lists each printed label with its canonical fields, counts classified values in the first period, and the warnings', async () => {
    const rows = [['Code', 'Area', 'Jan-20', 'Feb-20'], ['K04000001', 'Eng & Wales', 1, 2], ['E12000001', 'North', 3, 4], ['E12000002', 'South', 5, 6], ['W92000004', 'Wales', 7, 8], ['X', 'Mars', 0, 0]];
    const file = await grids.write([{ name: 'Table', rows }]);
    const dataset = {
      ...datasetOf(acrossLayout({ ids: [{ field: 'code', pattern: '^[A-Z]', optional: false, clean: false }, { field: 'name', pattern: '[a-z]', optional: false, clean: true }] })),
      rowRules: {
        labels: {
          printed: 'name',
          from: ['name'],
          required: 'area',
          canonical: ['area'],
          rules: [{ match: {}, lookup: { area: { from: 'name', vocabulary: 'areas' } } }],
          vocabularies: { areas: [{ value: 'England and Wales', printed: ['Eng & Wales'] }, { value: 'North', printed: [] }, { value: 'Wales', printed: [] }, { value: 'South', printed: [] }] },
        },
        classify: [{ field: 'level', values: ['total', 'region', 'other'], when: [{ value: 'total', match: { code: '^k04' } }, { value: 'region', match: { code: '^e12' } }], otherwise: 'other' }],
      },
    };
    expect(await describeRowRules({ file }, dataset)).toEqual({
      labels: [
        { cell: 'B2', printed: 'Eng & Wales', canonical: { area: 'England and Wales' } },
        { cell: 'B6', printed: 'Mars', canonical: { area: null } },
      ],
      classified: { level: { total: 1, region: 2, other: 2 } },
      warnings: ['grid-20.xlsx, sheet "Table", cell B6: label "Mars" is not in the declaration; kept with area left null'],
    });
    expect(await describeRowRules({ file }, datasetOf(acrossLayout()))).toEqual({ labels: [], classified: {}, warnings: [] });
    expect(await describeRowRules({ file }, { ...datasetOf(acrossLayout()), rowRules: { classify: dataset.rowRules.classify } })).toEqual({
      labels: [],
      classified: { level: { total: 1, region: 2, other: 2 } },
      warnings: [],
    });
  });
});
