import { DataError } from '../../core/errors.js';
import type { Row, Value } from '../../core/table.js';
import { HINT_INSPECT, firstText, resolveEdition, type FoundTable, type WorkbookInput } from './find-table.js';
import { cellRef, cellText, readFigure, stripNotes } from './labels.js';
import { LABEL_CELL, type RowHooks } from './row-rules.js';
import { periodKey, periodParsers, type PeriodValue } from './period-parsers.js';
import type { Cell } from '../workbook/workbook.js';

export type DownTable = Extract<FoundTable, { periodAxis: 'rows' }>;

export interface ValueColumn {
  column: number;
  label: string;
  /** The header cell, e.g. `C6`. */
  cell: string;
  set: Readonly<Record<string, string>>;
}

/** A body row that names a period. */
interface PeriodRow {
  rowNumber: number;
  cells: readonly Cell[];
  fields: Record<string, PeriodValue>;
  /** The title of the stacked table the row is in (with `blocks`). */
  block: string | undefined;
}

/**
 * The edition and the value columns it selects. The edition is needed first because a value column's
 * header may name it (`Total deaths, England and Wales ({edition})`), so this reads one period row ahead.
 */
export async function openDownBody(table: DownTable, input: WorkbookInput): Promise<{ edition: number; valueColumns: ValueColumn[]; periodRows: AsyncGenerator<PeriodRow> }> {
  const periodRows = readPeriodRows(table);
  const first = await periodRows.next();
  const edition = resolveEdition(input, table.sheet, first.done ? undefined : first.value.fields);
  if (edition === undefined) {
    throw new DataError(`${table.where}: cannot tell the edition year (no year in the sheet name and no period rows)`, { hint: 'read it from the raw layer (etl extract) or pass a workbook with figures' });
  }
  const valueColumns = findValueColumns(table, edition);
  const replayed = (async function* () {
    if (!first.done) yield first.value;
    yield* periodRows;
  })();
  return { edition, valueColumns, periodRows: replayed };
}

/** Streams one output row per (period row, value column): the unpivot of a weeks-down table. */
export async function* readDownRows(table: DownTable, input: WorkbookInput, hooks?: RowHooks): AsyncGenerator<Row> {
  const { edition, valueColumns, periodRows } = await openDownBody(table, input);
  const markers = new Set(table.layout.value.markers.map((marker) => marker.toLowerCase()));
  const seen = new Set<string>();
  for await (const { rowNumber, cells, fields, block } of periodRows) {
    const key = periodKey([block, ...Object.values(fields)]);
    if (seen.has(key)) throw new DataError(`${table.where}, row ${rowNumber}: period ${periodKey(Object.values(fields))} repeats an earlier row`, { hint: HINT_INSPECT });
    seen.add(key);
    const blockField = table.layout.blocks ? { [table.layout.blocks.field]: block ?? null } : {};
    for (const { column, set, cell } of valueColumns) {
      const figure = readFigure(cells[column] ?? null, markers);
      if (figure.kind === 'unexpected') {
        throw new DataError(`${table.where}, cell ${cellRef(column, rowNumber)}: "${figure.text}" is neither a number nor a known marker (${[...markers].join(' ')})`, {
          hint: 'add the marker to value.markers of the dataset declaration if it means "not available"',
        });
      }
      const value = figure.kind === 'number' ? figure.value : null;
      const row: Record<string, Value> = { edition, ...fields, ...table.layout.set, ...blockField, ...set, [table.layout.value.field]: value, source_file: table.sourceFile, [LABEL_CELL]: cell };
      if (!hooks) {
        delete row[LABEL_CELL];
        yield row;
        continue;
      }
      hooks.sheetRow(row, edition);
      const out = hooks.row(row);
      if (out) yield out;
    }
  }
}

/**
 * Body rows with a period; blank rows are skipped, and rows from `stopAt` on are notes. With `blocks`, a
 * title row starts the next stacked table and its repeated header row is skipped.
 */
async function* readPeriodRows(table: DownTable): AsyncGenerator<PeriodRow> {
  const stopAt = new RegExp(table.layout.stopAt, 'i');
  const title = table.layout.blocks && new RegExp(table.layout.blocks.title, 'i');
  const isHeader = (cells: readonly Cell[]): boolean => [...table.header.labels].every(([column, label]) => stripNotes(cellText(cells[column] ?? null)) === label);
  let block = table.header.title;
  for await (const batch of table.rowBatches) {
    for (const row of batch) {
      const text = firstText(row);
      if (text === '') continue;
      if (title?.test(text)) {
        block = text;
        continue;
      }
      if (title && isHeader(row.cells)) continue;
      if (stopAt.test(text)) return;
      const fields: Record<string, PeriodValue> = {};
      for (const { field, column, parse } of table.header.periods) {
        const cell = row.cells[column] ?? null;
        const value = periodParsers[parse].parse(cell);
        if (value === null) {
          throw new DataError(`${table.where}, cell ${cellRef(column, row.rowNumber)}: "${cellText(cell)}" is not a ${periodParsers[parse].noun} like "${periodParsers[parse].example}" (${field})`, { hint: HINT_INSPECT });
        }
        fields[field] = value;
      }
      yield { rowNumber: row.rowNumber, cells: row.cells, fields, block };
    }
  }
}

function findValueColumns(table: DownTable, edition: number): ValueColumn[] {
  const { header, layout, where } = table;
  const columns: ValueColumn[] = [];
  const taken = new Set(header.periods.map((period) => period.column));
  for (const value of layout.values) {
    const source = value.header.replaceAll('{edition}', String(edition));
    const pattern = new RegExp(source, 'i');
    const found = [...header.labels].filter(([column, label]) => !taken.has(column) && pattern.test(label));
    for (const [column, label] of found) {
      taken.add(column);
      const set = Object.fromEntries(Object.entries(value.set).map(([field, text]) => [field, text.replaceAll('{header}', label)]));
      columns.push({ column, label, cell: cellRef(column, header.rowNumber), set });
    }
    if (found.length === 0 && !value.optional) {
      throw new DataError(`${where}, row ${header.rowNumber}: no column header matches /${source}/i (headers: ${[...header.labels.values()].map((l) => `"${l}"`).join(', ')})`, { hint: HINT_INSPECT });
    }
  }
  return columns;
}
