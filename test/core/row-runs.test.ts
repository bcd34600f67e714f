import { describe, expect, it } from 'vitest';
import { RowRuns, partFromBatches, rowsOf, type Row, type Value } from '../../src/core/table.js';

const day = (d: number): Date => new Date(Date.UTC(2020, 0, d));

/** Two sheet rows of three months, and one run whose own field wins over a varying one it does not list. */
const runs = new RowRuns(
  [
    { fields: { edition: 2020, month: null, name: 'A', deaths: null, source: 'f' }, count: 3, varying: { month: [day(1), day(2), day(3)], deaths: [1, null, 3] } },
    { fields: { edition: 2020, month: null, name: 'B', deaths: null, source: 'f' }, count: 3, varying: { month: [day(1), day(2), day(3)], deaths: [4, 5] } },
    { fields: { edition: 2020, month: 'own', name: 'C', deaths: null, source: 'f' }, count: 2, varying: { deaths: [6, 7] } },
  ],
  8,
);

describe('RowRuns', () => {
  it('rows() gives each run its fields with the varying ones taken in turn, in the fields\' order, a missing value null', () => {
    const rows = runs.rows();
    expect(rows).toEqual([
      { edition: 2020, month: day(1), name: 'A', deaths: 1, source: 'f' },
      { edition: 2020, month: day(2), name: 'A', deaths: null, source: 'f' },
      { edition: 2020, month: day(3), name: 'A', deaths: 3, source: 'f' },
      { edition: 2020, month: day(1), name: 'B', deaths: 4, source: 'f' },
      { edition: 2020, month: day(2), name: 'B', deaths: 5, source: 'f' },
      { edition: 2020, month: day(3), name: 'B', deaths: null, source: 'f' },
      { edition: 2020, month: 'own', name: 'C', deaths: 6, source: 'f' },
      { edition: 2020, month: 'own', name: 'C', deaths: 7, source: 'f' },
    ]);
    expect(rows.map((row) => Object.keys(row).join())).toEqual(Array(8).fill('edition,month,name,deaths,source'));
    // Each row is an object of its own: a consumer may change one without the others.
    expect(new Set(rows).size).toBe(8);
  });

  it('fill() gives any stretch of one column, across and inside runs, as rows() holds it; an absent field is null', () => {
    const rows = runs.rows();
    for (const field of ['month', 'name', 'deaths', 'absent']) {
      for (let from = 0; from < 8; from++) {
        for (let count = 0; from + count <= 8; count++) {
          const out: Value[] = Array(10).fill('untouched');
          runs.fill(field, from, count, out);
          expect(out.slice(0, count), `${field} [${from}, ${from + count})`).toEqual(rows.slice(from, from + count).map((row) => row[field] ?? null));
          expect(out.slice(count)).toEqual(Array(10 - count).fill('untouched'));
        }
      }
    }
  });

  it('rowsOf() and partFromBatches() give rows whichever way a batch comes', async () => {
    const plain: Row[] = [{ name: 'x' }];
    expect(rowsOf(plain)).toBe(plain);
    expect(rowsOf(runs)).toEqual(runs.rows());
    const part = partFromBatches('p', (async function* () {
      yield plain;
      yield runs;
    })());
    const rows: Row[] = [];
    for await (const row of part.rows) rows.push(row);
    expect(rows).toEqual([...plain, ...runs.rows()]);
  });
});
