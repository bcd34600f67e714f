import path from 'node:path';
import { DataError } from '../../core/errors.js';
import type { PeriodParserName, PeriodsAcrossLayout, PeriodsDownLayout, WorkbookDataset, WorkbookLayout } from './dataset.js';
import { cellRef, cellText, stripNotes } from './labels.js';
import { periodParsers, type PeriodValue } from './period-parsers.js';
import { readWorkbook, type SheetRow } from '../workbook/workbook.js';

export interface WorkbookInput {
  file: string;
  /** Edition year; when unknown (a workbook given directly) it comes from the sheet name or the first period. */
  edition?: number;
  /** When this file was published (ms since epoch): orders several files of one edition, newest first. */
  releasedAt?: number;
}

/** A layout that was tried and the rule it failed, for errors and `etl inspect`. */
export interface LayoutAttempt {
  layout: string;
  sheet?: string;
  failed: string;
}

export interface PeriodColumn {
  column: number;
  label: string;
  /** One value per `periods` entry of the layout, by field. */
  fields: Record<string, PeriodValue>;
}

export interface AcrossHeader {
  rowNumber: number;
  /** The last header row (the header row plus the largest period row offset). */
  lastRowNumber: number;
  firstPeriodColumn: number;
  periods: PeriodColumn[];
  /** Columns left out as placeholders (see `placeholders` in dataset.ts), one message each. */
  placeholders: string[];
}

export interface DownHeader {
  rowNumber: number;
  lastRowNumber: number;
  /** Header text of every non-empty cell, by column. */
  labels: Map<number, string>;
  /** With `blocks`: the title of the first table, the nearest title row above the header. */
  title?: string;
  periods: Array<{ field: string; column: number; parse: PeriodParserName }>;
}

interface FoundTableBase {
  sourceFile: string;
  sheet: string;
  /** Sheets read up to and including the table sheet. */
  sheets: string[];
  /** `file, sheet "name"` for messages. */
  where: string;
  rejected: LayoutAttempt[];
  /** Body rows: every row after the header block, streamed in the arrays the sheet reader gives (never empty). */
  rowBatches: AsyncIterable<readonly SheetRow[]>;
  /** Stops reading the workbook; call it whether or not the rows were read to the end. */
  close(): Promise<void>;
}

export type FoundTable =
  | (FoundTableBase & { periodAxis: 'columns'; layout: PeriodsAcrossLayout; header: AcrossHeader })
  | (FoundTableBase & { periodAxis: 'rows'; layout: PeriodsDownLayout; header: DownHeader });

/** No layout of the dataset matched: `attempts` says which rule failed where, one entry per layout and sheet tried. */
export class NoTableError extends DataError {
  // Reported as the data error it is (exit 4, "data error").
  override readonly name = 'DataError';

  constructor(
    message: string,
    readonly attempts: readonly LayoutAttempt[],
    hint: string,
  ) {
    super(message, { hint });
  }
}

export const HINT_INSPECT = 'run `etl inspect <workbook>` to see what the engine detects, then adjust the dataset declaration';

/**
 * Finds the table: sheets in workbook order, and on each sheet the layouts whose sheet rule matches, in
 * declared order. The first layout whose header rule passes wins; only the rows needed to find the header
 * are held, the rest stream on. When nothing matches, the DataError lists every rule that failed, where.
 */
export async function findTable(input: WorkbookInput, dataset: WorkbookDataset): Promise<FoundTable> {
  const sourceFile = path.basename(input.file);
  const sheets: string[] = [];
  const attempts: LayoutAttempt[] = [];
  const workbook = readWorkbook(input.file);
  try {
    // Iterated by hand: leaving a for-await loop would close the workbook before the table's rows are read.
    for (let next = await workbook.next(); !next.done; next = await workbook.next()) {
      const sheet = next.value;
      sheets.push(sheet.name);
      const candidates = dataset.layouts.filter((layout) => new RegExp(layout.sheet.namePattern, 'i').test(sheet.name));
      if (candidates.length === 0) continue;
      const rows = sheet.rowBatches()[Symbol.asyncIterator]();
      const window = await readWindow(rows, Math.max(...candidates.map(headerWindow)));
      for (const layout of candidates) {
        const found = layout.periodAxis === 'columns' ? findAcrossHeader(window.rows, layout, `${sourceFile}, sheet "${sheet.name}"`) : findDownHeader(window.rows, layout);
        if (typeof found === 'string') {
          attempts.push({ layout: layout.name, sheet: sheet.name, failed: found });
          continue;
        }
        return foundTable(sheet.name, layout, found, window, rows);
      }
      // The header is not in the searched rows: the rest of this sheet (maybe gigabytes) is never needed.
      if (!window.exhausted) await rows.return?.();
    }
  } catch (error) {
    await workbook.return(undefined);
    throw error;
  }

  function foundTable(sheet: string, layout: WorkbookLayout, header: AcrossHeader | DownHeader, window: Window, rows: AsyncIterator<readonly SheetRow[]>): FoundTable {
    // The rows below the header block already read (with the rest of the array the window ended in), then the
    // sheet's own iterator handed on: no generator of its own in between.
    const body = (): AsyncIterable<readonly SheetRow[]> => {
      const read = [...window.rows.filter((row) => row.rowNumber > header.lastRowNumber), ...window.rest];
      let given = read.length === 0;
      let stopped = false;
      const iterator: AsyncIterator<readonly SheetRow[]> = {
        next: () => {
          if (!given) {
            given = true;
            return Promise.resolve({ done: false, value: read });
          }
          if (stopped || window.exhausted) return Promise.resolve({ done: true, value: undefined });
          return rows.next();
        },
        return: () => {
          stopped = true;
          return Promise.resolve({ done: true, value: undefined });
        },
      };
      return { [Symbol.asyncIterator]: () => iterator };
    };
    const base = {
      sourceFile,
      sheet,
      sheets,
      where: `${sourceFile}, sheet "${sheet}"`,
      rejected: rejectedLayouts(dataset, attempts, layout),
      rowBatches: body(),
      // The workbook generator is suspended on this sheet; the sheets after it are never parsed.
      close: async () => {
        await rows.return?.();
        await workbook.return(undefined);
      },
    };
    return layout.periodAxis === 'columns' ? { ...base, periodAxis: 'columns', layout, header: header as AcrossHeader } : { ...base, periodAxis: 'rows', layout, header: header as DownHeader };
  }
  throw noTableError(sourceFile, dataset, rejectedLayouts(dataset, attempts), sheets);
}

function headerWindow(layout: WorkbookLayout): number {
  return layout.header.searchRows + (layout.periodAxis === 'columns' ? Math.max(...layout.periods.map((p) => p.offset)) : 0);
}

interface Window {
  rows: SheetRow[];
  /** The rows after the window in the last array read: the body goes on with them. */
  rest: readonly SheetRow[];
  /** True when the sheet ended within the window. */
  exhausted: boolean;
}

/** The rows numbered up to `lastRow`, plus the one row past it that had to be read to know they ended. */
async function readWindow(batches: AsyncIterator<readonly SheetRow[]>, lastRow: number): Promise<Window> {
  const window: SheetRow[] = [];
  for (;;) {
    const next = await batches.next();
    if (next.done) return { rows: window, rest: [], exhausted: true };
    const batch = next.value;
    for (let i = 0; i < batch.length; i++) {
      const row = batch[i]!;
      window.push(row);
      // Rows numbered out of order (a damaged or crafted sheet) must not make the window endless.
      if (row.rowNumber > lastRow || window.length > lastRow) return { rows: window, rest: batch.slice(i + 1), exhausted: false };
    }
  }
}

function rejectedLayouts(dataset: WorkbookDataset, attempts: LayoutAttempt[], chosen?: WorkbookLayout): LayoutAttempt[] {
  return dataset.layouts
    .filter((layout) => layout !== chosen)
    .flatMap((layout) => {
      const tried = attempts.filter((attempt) => attempt.layout === layout.name);
      return tried.length > 0 ? tried : [{ layout: layout.name, failed: `no sheet name matches /${layout.sheet.namePattern}/i` }];
    });
}

function noTableError(sourceFile: string, dataset: WorkbookDataset, attempts: LayoutAttempt[], sheets: string[]): NoTableError {
  const several = dataset.layouts.length > 1;
  const describe = (attempt: LayoutAttempt): string =>
    `${several ? `layout "${attempt.layout}": ` : ''}${attempt.sheet ? `${several ? '' : `${sourceFile}, `}sheet "${attempt.sheet}": ` : ''}${attempt.failed}`;
  const lead = several ? `${sourceFile}: no layout of ${dataset.name} matches: ` : attempts[0]?.sheet ? '' : `${sourceFile}: `;
  return new NoTableError(
    `${lead}${attempts.map(describe).join('; ')} (sheets: ${sheets.map((s) => `"${s}"`).join(', ')})`,
    attempts,
    `${HINT_INSPECT}: sheet.namePattern finds the sheet, header.searchRows bounds where the header may sit`,
  );
}

/** The header row: the first with enough period labels (and the declared label); the period rows below give each column its fields. */
function findAcrossHeader(window: SheetRow[], layout: PeriodsAcrossLayout, where: string): AcrossHeader | string {
  const [first, ...below] = layout.periods;
  const parser = periodParsers[first!.parse];
  const label = first!.label === undefined ? undefined : new RegExp(first!.label, 'i');
  for (const row of window) {
    if (row.rowNumber > layout.header.searchRows) break;
    const columns: number[] = [];
    row.cells.forEach((cell, column) => {
      if (parser.parse(cell) !== null) columns.push(column);
    });
    if (columns.length < layout.header.minPeriods) continue;
    const firstPeriodColumn = columns[0]!;
    if (label && !hasLabel(row, firstPeriodColumn, label)) continue;
    // Every non-empty header cell right of the first period must be a period too: a stray label means the layout moved.
    row.cells.forEach((cell, column) => {
      if (column > firstPeriodColumn && cellText(cell) !== '' && !columns.includes(column)) {
        throw new DataError(`${where}, cell ${cellRef(column, row.rowNumber)}: header label "${cellText(cell)}" is not a ${parser.noun} like "${parser.example}"`, { hint: HINT_INSPECT });
      }
    });
    const periods = columns.map((column) => ({ column, label: cellText(row.cells[column] ?? null), fields: { [first!.field]: parser.parse(row.cells[column] ?? null)! } }));
    const placeholders: string[] = [];
    for (const periodRow of below) readPeriodRow(window, row.rowNumber, periodRow, periods, where, placeholders);
    return { rowNumber: row.rowNumber, lastRowNumber: row.rowNumber + Math.max(0, ...below.map((p) => p.offset)), firstPeriodColumn, periods, placeholders };
  }
  const labelled = label ? ` labelled /${first!.label}/i` : '';
  return `no header row${labelled} with at least ${layout.header.minPeriods} ${parser.noun}${layout.header.minPeriods === 1 ? '' : 's'} (like "${parser.example}") in rows 1-${layout.header.searchRows}`;
}

export function firstText(row: SheetRow): string {
  for (const cell of row.cells) {
    const text = cellText(cell);
    if (text !== '') return text;
  }
  return '';
}

function hasLabel(row: SheetRow, beforeColumn: number, label: RegExp): boolean {
  return row.cells.slice(0, beforeColumn).some((cell) => label.test(cellText(cell)));
}

function readPeriodRow(window: SheetRow[], headerRow: number, spec: PeriodsAcrossLayout['periods'][number], periods: PeriodColumn[], where: string, placeholders: string[]): void {
  const rowNumber = headerRow + spec.offset;
  const row = window.find((r) => r.rowNumber === rowNumber);
  const parser = periodParsers[spec.parse];
  if (spec.label !== undefined && !(row && hasLabel(row, periods[0]!.column, new RegExp(spec.label, 'i')))) {
    throw new DataError(`${where}, row ${rowNumber}: expected the ${spec.field} row labelled /${spec.label}/i ${spec.offset} below the header`, { hint: HINT_INSPECT });
  }
  const values = periods.map((period) => parser.parse(row?.cells[period.column] ?? null));
  // Placeholders can only trail the run of readable periods: the first unreadable cell after the last readable one.
  const runEnd = spec.placeholders === 'trailing' ? values.findLastIndex((value) => value !== null) + 1 : periods.length;
  for (const [i, period] of periods.entries()) {
    const cell = row?.cells[period.column] ?? null;
    if (i >= runEnd) {
      placeholders.push(`${where}, cell ${cellRef(period.column, rowNumber)}: column "${period.label}" is not a period of this edition (${spec.field} "${cellText(cell)}" is not a ${parser.noun}); left out`);
      continue;
    }
    const value = values[i];
    if (value === null || value === undefined) {
      throw new DataError(`${where}, cell ${cellRef(period.column, rowNumber)}: "${cellText(cell)}" is not a ${parser.noun} like "${parser.example}" (${spec.field} below header "${period.label}")`, { hint: HINT_INSPECT });
    }
    period.fields[spec.field] = value;
  }
  periods.splice(runEnd);
}

/** The header row: the first whose cells match every period column's header pattern. */
function findDownHeader(window: SheetRow[], layout: PeriodsDownLayout): DownHeader | string {
  const patterns = [...layout.periods.map((period) => period.header), ...(layout.header.requires ?? [])].map((pattern) => new RegExp(pattern, 'i'));
  for (const row of window) {
    if (row.rowNumber > layout.header.searchRows) break;
    const labels = new Map<number, string>();
    row.cells.forEach((cell, column) => {
      const text = stripNotes(cellText(cell));
      if (text !== '') labels.set(column, text);
    });
    const columns = patterns.map((pattern) => [...labels].find(([, text]) => pattern.test(text))?.[0]);
    if (columns.some((column) => column === undefined)) continue;
    const periods = layout.periods.map((period, i) => ({ field: period.field, column: columns[i]!, parse: period.parse }));
    const titlePattern = layout.blocks && new RegExp(layout.blocks.title, 'i');
    const title = titlePattern && window.filter((r) => r.rowNumber < row.rowNumber).map((r) => firstText(r)).findLast((text) => titlePattern.test(text));
    return { rowNumber: row.rowNumber, lastRowNumber: row.rowNumber, labels, periods, ...(title ? { title } : {}) };
  }
  return `no header row with columns matching ${patterns.map(String).join(' and ')} in rows 1-${layout.header.searchRows}`;
}

/** The edition: from the raw layer's folder, else a year in the sheet name, else the year of the first period. */
export function resolveEdition(input: WorkbookInput, sheet: string, firstPeriod: Record<string, PeriodValue> | undefined): number | undefined {
  if (input.edition !== undefined) return input.edition;
  const inName = /\b(19|20)\d{2}\b/.exec(sheet);
  if (inName) return Number(inName[0]);
  const dated = Object.values(firstPeriod ?? {}).find((value): value is Date => value instanceof Date);
  return dated?.getUTCFullYear();
}
