import path from 'node:path';
import { DataError } from '../../core/errors.js';
import { partFromBatches, rowsOf, type Row, type RowBatch, type Table, type TablePart } from '../../core/table.js';
import type { WorkbookDataset } from './dataset.js';
import type { WorkbookInput } from './find-table.js';
import { periodKey } from './period-parsers.js';
import { readWorkbookTable, readWorkbookTableBatches } from './read-workbook-table.js';
import { createRunReport, type RunReport } from './row-rules.js';

/**
 * The dataset's table over a set of workbooks, one part per workbook read. Files of one edition are
 * releases: `newest-file` keeps the newest; `newest-per-period` keeps them all and takes each period from
 * the newest release with a figure for it (a week's release replaces the last, and only the last for the
 * weeks it covers). Workbooks with no known edition are read as they are.
 */
export function workbookTable(dataset: WorkbookDataset, inputs: readonly WorkbookInput[], warn?: (message: string) => void, options: WorkbookTableOptions = {}): Table {
  return { schema: { name: dataset.name, columns: dataset.columns }, parts: workbookParts(dataset, inputs, createRunReport(warn), options) };
}

export interface WorkbookTableOptions {
  /**
   * Leave out rows with no figure: periods not yet published (and cells printed as a marker such as `:`
   * or `[x]`, or left blank). By default they are kept, with null figures, to say "not published".
   */
  dropUnpublished?: boolean;
}

async function* workbookParts(dataset: WorkbookDataset, inputs: readonly WorkbookInput[], report: RunReport, options: WorkbookTableOptions): AsyncGenerator<TablePart> {
  const figureFields = figureFieldsOf(dataset);
  const part = (input: WorkbookInput, batches: AsyncIterable<RowBatch>): TablePart =>
    partFromBatches(path.basename(input.file), options.dropUnpublished ? withFigures(batches, figureFields) : batches);
  for (const releases of groupReleases(inputs)) {
    if (dataset.releases === 'newest-file' || releases.length === 1) {
      yield part(releases[0]!, readWorkbookTableBatches(releases[0]!, dataset, { report }));
      continue;
    }
    const owners = await periodOwners(releases, dataset, report);
    for (const [index, release] of releases.entries()) {
      yield part(release, ownedRows(readWorkbookTableBatches(release, dataset, { report }), periodFieldsOf(dataset), (key) => owners.get(key) === index));
    }
  }
}

/** The fields a row's figure is in: the routed count and average columns, else each layout's value field. */
function figureFieldsOf(dataset: WorkbookDataset): string[] {
  const routing = dataset.rowRules?.values;
  return routing ? [routing.count, routing.average] : [...new Set(dataset.layouts.flatMap((layout) => [layout, ...(layout.companions ?? [])]).map((layout) => layout.value.field))];
}

function hasFigure(row: Row, figureFields: readonly string[]): boolean {
  return figureFields.some((field) => row[field] !== null && row[field] !== undefined);
}

async function* withFigures(batches: AsyncIterable<RowBatch>, figureFields: readonly string[]): AsyncGenerator<Row[]> {
  for await (const batch of batches) {
    const kept = rowsOf(batch).filter((row) => hasFigure(row, figureFields));
    if (kept.length > 0) yield kept;
  }
}

/** Editions in ascending order, each edition's files newest first; a file with no edition is a group of its own. */
function groupReleases(inputs: readonly WorkbookInput[]): WorkbookInput[][] {
  const byEdition = new Map<number, WorkbookInput[]>();
  const groups: WorkbookInput[][] = [];
  for (const input of inputs) {
    if (input.edition === undefined) {
      groups.push([input]);
      continue;
    }
    const group = byEdition.get(input.edition) ?? [];
    if (group.length === 0) byEdition.set(input.edition, group);
    group.push(input);
  }
  const editions = [...byEdition].sort(([a], [b]) => a - b).map(([, group]) => group.sort((a, b) => (b.releasedAt ?? 0) - (a.releasedAt ?? 0)));
  return [...editions, ...groups];
}

/**
 * Which release (index, newest first) supplies each period: the newest with a figure for it, else the
 * newest that lists it. Reads each release once beforehand and keeps only the period keys, not rows. A
 * release that cannot be read owns nothing; its own part then fails with the same error.
 */
async function periodOwners(releases: readonly WorkbookInput[], dataset: WorkbookDataset, report: RunReport): Promise<Map<string, number>> {
  const periodFields = periodFieldsOf(dataset);
  const figureFields = figureFieldsOf(dataset);
  const withFigures = new Map<string, number>();
  const listed = new Map<string, number>();
  for (const [index, release] of releases.entries()) {
    try {
      for await (const row of readWorkbookTable(release, dataset, { report })) {
        const key = periodKey(periodFields.map((field) => row[field]));
        if (!listed.has(key)) listed.set(key, index);
        if (!withFigures.has(key) && hasFigure(row, figureFields)) withFigures.set(key, index);
      }
    } catch (error) {
      if (!(error instanceof DataError)) throw error;
    }
  }
  for (const [key, index] of listed) if (!withFigures.has(key)) withFigures.set(key, index);
  return withFigures;
}

function periodFieldsOf(dataset: WorkbookDataset): string[] {
  return [...new Set(dataset.layouts.flatMap((layout) => layout.periods.map((period) => period.field)))].sort();
}

async function* ownedRows(batches: AsyncIterable<RowBatch>, periodFields: readonly string[], owns: (key: string) => boolean): AsyncGenerator<Row[]> {
  for await (const rows of batches) yield rowsOf(rows).filter((row) => owns(periodKey(periodFields.map((field) => row[field]))));
}
