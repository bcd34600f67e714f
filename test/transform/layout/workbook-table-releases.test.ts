import { afterAll, describe, expect, it } from 'vitest';
import type { Row, Table } from '../../../src/core/table.js';
import type { WorkbookDataset } from '../../../src/transform/layout/dataset.js';
import { workbookTable } from '../../../src/transform/layout/workbook-table.js';
import { datasetOf, downLayout, gridFolder } from '../../helpers/layout-grid.js';

const grids = gridFolder('etl-releases-');
afterAll(() => grids.remove());

/** Each part's name and its rows' week, figure and file, in order. */
async function parts(table: Table): Promise<Array<[string, Array<[unknown, unknown, unknown]>]>> {
  const out: Array<[string, Array<[unknown, unknown, unknown]>]> = [];
  for await (const part of table.parts) {
    const rows: Row[] = [];
    for await (const row of part.rows) rows.push(row);
    out.push([part.name, rows.map((row) => [row.edition === undefined ? undefined : `${String(row.edition)}w${String(row.week)}`, row.deaths ?? row.count ?? row.average ?? null, row.source_file])]);
  }
  return out;
}

/** A weeks-down release: one total per week, `:` where not yet published. */
function release(year: number, figures: Array<number | string | null>): Parameters<typeof grids.write>[0] {
  return [{ name: 'Weekly', rows: [['Week number', 'Week ended', 'Total deaths'], ...figures.map((figure, i) => [i + 1, `${String(i * 7 + 1).padStart(2, '0')}/01/${year}`, figure])] }];
}

const perPeriod: WorkbookDataset = { ...datasetOf(downLayout()), releases: 'newest-per-period' };

describe('workbookTable: releases of one edition', () => {
  it('newest-per-period: each week from the newest release with a figure for it, else the newest listing it', async () => {
    const old = await grids.write(release(2021, [10, 20, 30, 40]), 'old.xlsx');
    const mid = await grids.write(release(2021, [11, 21, ':', ':']), 'mid.xlsx');
    const late = await grids.write(release(2021, [12, ':', ':']), 'late.xlsx');
    const inputs = [
      { file: mid, edition: 2021, releasedAt: 2 },
      { file: old, edition: 2021, releasedAt: 1 },
      { file: late, edition: 2021, releasedAt: 3 },
    ];
    expect(await parts(workbookTable(perPeriod, inputs))).toEqual([
      ['late.xlsx', [['2021w1', 12, 'late.xlsx']]],
      ['mid.xlsx', [['2021w2', 21, 'mid.xlsx']]],
      ['old.xlsx', [['2021w3', 30, 'old.xlsx'], ['2021w4', 40, 'old.xlsx']]],
    ]);
    // No release has a figure for week 3: the newest that lists it keeps it, as not published.
    const none = await grids.write(release(2021, [12, ':', ':']), 'none.xlsx');
    const both = [
      { file: mid, edition: 2021, releasedAt: 1 },
      { file: none, edition: 2021, releasedAt: 2 },
    ];
    expect(await parts(workbookTable(perPeriod, both))).toEqual([
      ['none.xlsx', [['2021w1', 12, 'none.xlsx'], ['2021w3', null, 'none.xlsx']]],
      ['mid.xlsx', [['2021w2', 21, 'mid.xlsx'], ['2021w4', null, 'mid.xlsx']]],
    ]);
  });

  it('editions in ascending order, then files with no edition in the order given; a release with no date is the oldest', async () => {
    const a = await grids.write(release(2021, [1]), 'a.xlsx');
    const b = await grids.write(release(2020, [2]), 'b.xlsx');
    const c = await grids.write(release(2020, [3]), 'c.xlsx');
    const loose = await grids.write(release(2019, [4]), 'loose.xlsx');
    const looseToo = await grids.write(release(2018, [5]), 'loose-too.xlsx');
    const newestFile = datasetOf(downLayout());
    const inputs = [{ file: loose }, { file: a, edition: 2021 }, { file: b, edition: 2020 }, { file: looseToo }, { file: c, edition: 2020, releasedAt: 5 }];
    expect((await parts(workbookTable(newestFile, inputs))).map(([name]) => name)).toEqual(['c.xlsx', 'a.xlsx', 'loose.xlsx', 'loose-too.xlsx']);
    expect((await parts(workbookTable(perPeriod, inputs))).map(([name]) => name)).toEqual(['c.xlsx', 'b.xlsx', 'a.xlsx', 'loose.xlsx', 'loose-too.xlsx']);
    const table = workbookTable(newestFile, []);
    expect(table.schema).toEqual({ name: 'grid', columns: [] });
  });

  it('a release that cannot be read owns no week; its own part fails with its error', async () => {
    const good = await grids.write(release(2021, [1, 2]), 'good.xlsx');
    const bad = await grids.write(release(2021, [5, 'n/a']), 'bad.xlsx');
    const table = workbookTable(perPeriod, [
      { file: bad, edition: 2021, releasedAt: 2 },
      { file: good, edition: 2021, releasedAt: 1 },
    ]);
    await expect(parts(table)).rejects.toThrow('bad.xlsx, sheet "Weekly", cell C3: "n/a" is neither');
  });

  it('an older release that cannot be read: the newer parts come whole, then its part fails', async () => {
    const good = await grids.write(release(2021, [1, 2]), 'newer.xlsx');
    const bad = await grids.write(release(2021, [5, 'n/a']), 'older.xlsx');
    const table = workbookTable(perPeriod, [
      { file: good, edition: 2021, releasedAt: 2 },
      { file: bad, edition: 2021, releasedAt: 1 },
    ]);
    const iterator = table.parts[Symbol.asyncIterator]();
    const first = await iterator.next();
    const rows: Row[] = [];
    for await (const row of first.value!.rows) rows.push(row);
    expect(rows.map((row) => row.deaths)).toEqual([1, 2]);
    const second = await iterator.next();
    await expect(parts({ schema: table.schema, parts: (async function* () { yield second.value!; })() })).rejects.toThrow('older.xlsx, sheet "Weekly", cell C3');
  });

  it('dropUnpublished leaves out rows with no figure; the routed count and average both count as figures', async () => {
    const file = await grids.write(release(2021, [1, ':', null, 2.5]), 'routed.xlsx');
    const kept = workbookTable(datasetOf(downLayout()), [{ file, edition: 2021 }], undefined, { dropUnpublished: true });
    expect(await parts(kept)).toEqual([['routed.xlsx', [['2021w1', 1, 'routed.xlsx'], ['2021w4', 2.5, 'routed.xlsx']]]]);
    const routing = { from: 'deaths', measure: 'measure', averages: ['total'], count: 'count', average: 'average' };
    const averages: WorkbookDataset = { ...datasetOf(downLayout()), rowRules: { values: routing } };
    expect(await parts(workbookTable(averages, [{ file, edition: 2021 }], undefined, { dropUnpublished: true }))).toEqual([['routed.xlsx', [['2021w1', 1, 'routed.xlsx'], ['2021w4', 2.5, 'routed.xlsx']]]]);
    expect((await parts(workbookTable(averages, [{ file, edition: 2021 }])))[0]![1]).toHaveLength(4);
    const whole = await grids.write(release(2021, [1, ':', 3]), 'counts.xlsx');
    const counts: WorkbookDataset = { ...datasetOf(downLayout()), rowRules: { values: { ...routing, averages: [] } } };
    expect(await parts(workbookTable(counts, [{ file: whole, edition: 2021 }], undefined, { dropUnpublished: true }))).toEqual([['counts.xlsx', [['2021w1', 1, 'counts.xlsx'], ['2021w3', 3, 'counts.xlsx']]]]);
    const nothing = await grids.write(release(2021, [':']), 'nothing.xlsx');
    expect(await parts(workbookTable(datasetOf(downLayout()), [{ file: nothing, edition: 2021 }], undefined, { dropUnpublished: true }))).toEqual([['nothing.xlsx', []]]);
  });

  it('newest-file: the warnings of the file read go to the given function', async () => {
    const rules = { labels: { printed: 'label', from: ['measure'], required: 'sex', canonical: ['sex'], rules: [], vocabularies: {} } };
    const file = await grids.write(release(2021, [1]), 'newest.xlsx');
    const warnings: string[] = [];
    await parts(workbookTable({ ...datasetOf(downLayout()), rowRules: rules }, [{ file, edition: 2021 }], (message) => warnings.push(message)));
    expect(warnings).toEqual(['newest.xlsx, sheet "Weekly", cell C1: label "total" is not in the declaration; kept with sex left null']);
  });

  it('warnings go to the given function, once over all releases', async () => {
    const rules = { labels: { printed: 'label', from: ['measure'], required: 'sex', canonical: ['sex'], rules: [], vocabularies: {} } };
    const one = await grids.write(release(2021, [1, 2]), 'one.xlsx');
    const two = await grids.write(release(2021, [1]), 'two.xlsx');
    const warnings: string[] = [];
    await parts(workbookTable({ ...perPeriod, rowRules: rules }, [{ file: one, edition: 2021, releasedAt: 1 }, { file: two, edition: 2021, releasedAt: 2 }], (message) => warnings.push(message)));
    expect(warnings).toEqual(['two.xlsx, sheet "Weekly", cell C1: label "total" is not in the declaration; kept with sex left null']);
  });
});
