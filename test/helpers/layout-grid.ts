import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Row } from '../../src/core/table.js';
import type { PeriodsAcrossLayout, PeriodsDownLayout, WorkbookDataset, WorkbookLayout } from '../../src/transform/layout/dataset.js';
import { readWorkbookTable, type ReadOptions, type WorkbookInput } from '../../src/transform/layout/read-workbook-table.js';
import { writeWorkbook, type FixtureSheet } from './workbook-writer.js';

/** Small in-memory grids written as .xlsx in one temp folder, for the layout engine's tests. */
export function gridFolder(prefix: string) {
  let dir: string | undefined;
  let count = 0;
  return {
    /** Named `grid-<n>.xlsx` after the how-manieth write it is, unless named. */
    async write(sheets: FixtureSheet[], name?: string): Promise<string> {
      count++;
      dir ??= await mkdtemp(path.join(tmpdir(), prefix));
      const file = path.join(dir, name ?? `grid-${count}.xlsx`);
      await writeWorkbook(file, sheets);
      return file;
    },
    async remove(): Promise<void> {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A months-across layout: a name and an optional code left of the month columns. */
export function acrossLayout(change: Partial<PeriodsAcrossLayout> = {}): PeriodsAcrossLayout {
  return {
    name: 'across',
    periodAxis: 'columns',
    sheet: { namePattern: '^table' },
    header: { searchRows: 5, minPeriods: 2 },
    periods: [{ field: 'month', parse: 'month-label', offset: 0 }],
    ids: [
      { field: 'code', pattern: '^[A-Z]\\d{2}', optional: true, clean: false },
      { field: 'name', pattern: '[a-z]', optional: false, clean: true },
    ],
    value: { field: 'deaths', markers: [':', '[x]'] },
    stopAt: '^(notes|source)',
    ...change,
  };
}

/** A weeks-down layout: a week and a date column, then value columns. */
export function downLayout(change: Partial<PeriodsDownLayout> = {}): PeriodsDownLayout {
  return {
    name: 'down',
    periodAxis: 'rows',
    sheet: { namePattern: '^weekly' },
    header: { searchRows: 5 },
    periods: [
      { field: 'week', header: '^week number$', parse: 'week-number' },
      { field: 'week_ended', header: '^week ended', parse: 'date' },
    ],
    values: [
      { header: '^total deaths', optional: false, set: { measure: 'total' } },
      { header: '^deaths (male|female)', optional: true, set: { measure: '{header}' } },
    ],
    value: { field: 'deaths', markers: [':'] },
    stopAt: '^notes',
    ...change,
  };
}

export function datasetOf(...layouts: WorkbookLayout[]): WorkbookDataset {
  return { name: 'grid', title: 'Grid', pageUrl: 'https://example.org/grid', releases: 'newest-file', layouts, columns: [] };
}

export async function readAll(input: WorkbookInput, dataset: WorkbookDataset, options?: ReadOptions): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const row of readWorkbookTable(input, dataset, options)) rows.push(row);
  return rows;
}
